"""Reads a database's schema the way Django and SQLAlchemy do, and prints what they found as
JSON: the introspection queries of two ORMs, run unmodified against a PostgreSQL server (or
RedDB's PG-wire). Used by PythonClientTests; run by hand as
    python3 orm_introspection.py PORT DATABASE USER
"""
import json
import sys

port, database, user = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = {}

import django
from django.conf import settings

settings.configure(DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "NAME": database, "USER": user,
                                          "HOST": "127.0.0.1", "PORT": port}}, INSTALLED_APPS=[])
django.setup()
from django.db import connection

with connection.cursor() as cursor:
    introspection = connection.introspection
    out["django_tables"] = sorted([t.name, t.type] for t in introspection.get_table_list(cursor))
    out["django_columns"] = [[d.name, d.null_ok] for d in introspection.get_table_description(cursor, "orders")]
    out["django_relations"] = {k: list(v) for k, v in introspection.get_relations(cursor, "orders").items()}
    constraints = introspection.get_constraints(cursor, "orders")
    out["django_constraints"] = {name: {"columns": c["columns"], "primary_key": c["primary_key"], "unique": c["unique"],
                                        "foreign_key": list(c["foreign_key"]) if c["foreign_key"] else None, "index": c["index"],
                                        "check": c["check"]} for name, c in constraints.items()}
    out["django_primary_key"] = introspection.get_primary_key_column(cursor, "orders")
connection.close()

from sqlalchemy import create_engine, inspect

engine = create_engine(f"postgresql+psycopg://{user}@127.0.0.1:{port}/{database}")
inspector = inspect(engine)
out["sqlalchemy_tables"] = sorted(inspector.get_table_names())
out["sqlalchemy_views"] = sorted(inspector.get_view_names())
out["sqlalchemy_columns"] = [[c["name"], str(c["type"]), c["nullable"]] for c in inspector.get_columns("orders")]
out["sqlalchemy_primary_key"] = inspector.get_pk_constraint("orders")["constrained_columns"]
out["sqlalchemy_foreign_keys"] = [[fk["name"], fk["constrained_columns"], fk["referred_table"], fk["referred_columns"],
                                   fk["options"].get("ondelete")] for fk in inspector.get_foreign_keys("orders")]
out["sqlalchemy_indexes"] = sorted([ix["name"], ix["column_names"], ix["unique"]] for ix in inspector.get_indexes("orders"))
out["sqlalchemy_unique"] = [[u["name"], u["column_names"]] for u in inspector.get_unique_constraints("customers")]
out["sqlalchemy_checks"] = [c["name"] for c in inspector.get_check_constraints("customers")]
engine.dispose()
print(json.dumps(out, sort_keys=True))
