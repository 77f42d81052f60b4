@_exported import RedEngine
