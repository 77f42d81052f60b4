"""A Django project's life against a PostgreSQL server (or RedDB's PG-wire): makemigrations
and migrate for an app, a second migration that changes it (AlterField, AddField with a
default, RenameField, AddIndex, a new model with a foreign key), then the ORM's everyday
queries, and a flush that resets the sequences. Prints what it saw as JSON. Used by
PythonClientTests; run by hand as
    python3 django_migrations.py PORT DATABASE USER
"""
import json
import os
import sys
import tempfile
import threading
import time
from decimal import Decimal

port, database, user = int(sys.argv[1]), sys.argv[2], sys.argv[3]
root = tempfile.mkdtemp(prefix="reddb-django-")
app = os.path.join(root, "shop")
os.makedirs(os.path.join(app, "migrations"))
open(os.path.join(app, "__init__.py"), "w").close()
open(os.path.join(app, "migrations", "__init__.py"), "w").close()
sys.path.insert(0, root)

FIRST = '''
from django.db import models

class Customer(models.Model):
    name = models.CharField(max_length=50, db_index=True)
    email = models.EmailField(unique=True)
    joined = models.DateTimeField(auto_now_add=True)

class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    total = models.DecimalField(max_digits=10, decimal_places=2)
    paid = models.BooleanField(default=False)
'''

SECOND = '''
from django.db import models

class Customer(models.Model):
    full_name = models.CharField(max_length=50, db_index=True)
    email = models.EmailField(unique=True, max_length=320)
    joined = models.DateTimeField(auto_now_add=True)
    vip = models.BooleanField(default=False)

class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    total = models.DecimalField(max_digits=12, decimal_places=2)
    paid = models.BooleanField(default=False)
    note = models.TextField(null=True)

    class Meta:
        indexes = [models.Index(fields=["paid", "total"], name="order_paid_total")]

class Tag(models.Model):
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, related_name="tags")
    label = models.SlugField()
'''


def write_models(text):
    with open(os.path.join(app, "models.py"), "w") as f:
        f.write(text)


write_models(FIRST)
import django
from django.conf import settings

settings.configure(DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "NAME": database, "USER": user,
                                          "HOST": "127.0.0.1", "PORT": port}},
                   INSTALLED_APPS=["shop"], USE_TZ=True, DEFAULT_AUTO_FIELD="django.db.models.BigAutoField")
django.setup()
from django.core.management import call_command
from django.db import connection, transaction

out = {}
call_command("makemigrations", "shop", verbosity=0)
call_command("migrate", verbosity=0)
from shop.models import Customer, Order

ada = Customer.objects.create(name="Ada", email="ada@x.io")
bob = Customer.objects.create(name="Bob", email="bob@x.io")
Order.objects.create(customer=ada, total=Decimal("10.50"))
Order.objects.create(customer=ada, total=Decimal("2.25"), paid=True)
Order.objects.create(customer=bob, total=Decimal("7.00"))
out["first_ids"] = [c.id for c in Customer.objects.order_by("id")]

# The second version of the models: Django asks whether name was renamed; answer yes.
write_models(SECOND)
import importlib
import shop.models
from django.apps import apps
apps.all_models["shop"].clear()
apps.clear_cache()
importlib.reload(shop.models)
from django.db.migrations import questioner
questioner.NonInteractiveMigrationQuestioner.ask_rename = lambda self, model_name, old, new, field: True
call_command("makemigrations", "shop", verbosity=0, interactive=False)
call_command("migrate", verbosity=0)
from shop.models import Customer, Order, Tag
from django.db.models import Count, F, Sum

out["renamed"] = list(Customer.objects.order_by("id").values_list("full_name", "vip"))
carol = Customer.objects.create(full_name="Carol", email="carol." + "x" * 300 + "@x.io", vip=True)
order = Order.objects.create(customer=carol, total=Decimal("99999999.99"), note="big")
Tag.objects.create(order=order, label="rush")
Tag.objects.create(order=order, label="gift")
out["carol_id"] = carol.id
# normalize(): RedDB keeps a NUMERIC's value, not its scale (7.00 reads back as 7).
out["spent"] = [[name[:5], str(spent.normalize())] for name, spent in
                Customer.objects.annotate(spent=Sum("orders__total")).order_by("id").values_list("full_name", "spent")]
out["tag_counts"] = list(Order.objects.annotate(n=Count("tags")).filter(n__gt=0).values_list("note", "n"))
# Four threads (a connection each) increment one order's total in atomic blocks, each reading
# first: under READ COMMITTED (PostgreSQL's default) every block commits, none is lost.
bump_errors = []


def bump(times):
    try:
        for _ in range(times):
            with transaction.atomic():
                Order.objects.filter(pk=order.id).exists()
                Order.objects.filter(pk=order.id).update(total=F("total") + 1)
    except Exception as error:
        bump_errors.append(repr(error))
    finally:
        connection.close()


threads = [threading.Thread(target=bump, args=(10,)) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
out["bump_errors"] = bump_errors
out["bumped"] = str(Order.objects.get(pk=order.id).total.normalize())
# Four threads get_or_create one customer, each inside an outer atomic block (so that
# get_or_create's own block is a savepoint): the first INSERT holds the key until its block
# commits, the others' INSERTs wait for it, fail with IntegrityError, roll back to their
# savepoint and get the row. One creates, none errs.
race_created, race_errors = [], []
race_start = threading.Barrier(4, timeout=30)


def get_or_create_racing():
    try:
        with transaction.atomic():
            race_start.wait()
            _, created = Customer.objects.get_or_create(email="race@x.io", defaults={"full_name": "Race"})
            race_created.append(created)
            time.sleep(0.05)  # holds the block (and the key) open while the others arrive
    except Exception as error:
        race_errors.append(repr(error))
    finally:
        connection.close()


threads = [threading.Thread(target=get_or_create_racing) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
out["race"] = [sorted(race_created), race_errors, Customer.objects.filter(email="race@x.io").count()]
Customer.objects.filter(email="race@x.io").delete()
# select_for_update(skip_locked=True, of=("self",)) sends FOR UPDATE OF "shop_order" SKIP LOCKED.
with transaction.atomic():
    out["locked"] = [str(o.total.normalize()) for o in Order.objects.select_for_update(skip_locked=True, of=("self",))
                     .select_related("customer").filter(paid=False).order_by("id")]
Order.objects.filter(paid=False).update(paid=True)
out["paid"] = Order.objects.filter(paid=True).count()
ada.delete()
out["after_delete"] = [Customer.objects.count(), Order.objects.count(), Tag.objects.count()]
order.delete()
out["tags_orphaned"] = list(Tag.objects.order_by("label").values_list("label", "order_id"))
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_get_serial_sequence('shop_customer', 'id')")
    out["sequence"] = cursor.fetchone()[0]
call_command("flush", verbosity=0, interactive=False, reset_sequences=True)
out["after_flush"] = Customer.objects.create(full_name="Dan", email="dan@x.io").id
connection.close()
print(json.dumps(out, sort_keys=True))
