import RedStorage
