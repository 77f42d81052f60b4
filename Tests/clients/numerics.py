"""NUMERIC through psycopg 3, as an application sends and reads it.

Usage: numerics.py PORT DBNAME USER. Prints one JSON line of what came back, which
PythonClientTests compares with what PostgreSQL 15 gives for the same script: Decimal
parameters in text and binary, values read back with every digit and their scale in both
result formats, PostgreSQL's result scales, and the errors for values that do not fit.
"""
import json
import sys
from decimal import Decimal

import psycopg

port, dbname, user = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
with psycopg.connect(host="127.0.0.1", port=port, dbname=dbname, user=user, autocommit=True) as conn:
    conn.execute("DROP TABLE IF EXISTS py_numerics")
    conn.execute("CREATE TABLE py_numerics (id INT PRIMARY KEY, rate NUMERIC(20,8), wei NUMERIC(36,18), plain NUMERIC)")
    conn.execute("INSERT INTO py_numerics VALUES (%s, %s, %s, %s)",
                 (1, Decimal("1.5"), Decimal("123456789012345678.123456789012345678"), Decimal("-0.000001")))
    conn.execute("INSERT INTO py_numerics VALUES (%b, %b, %b, %b)",
                 (2, Decimal("0.123456785"), Decimal("-1.000000000000000001"), Decimal("1234567890.50")))
    conn.execute("INSERT INTO py_numerics VALUES (3, 2, 0, 10)")
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            cur.execute("SELECT id, rate, wei, plain FROM py_numerics ORDER BY id")
            out["rows_binary" if binary else "rows_text"] = [[str(v) for v in row] for row in cur.fetchall()]
            cur.execute("SELECT sum(rate), avg(id), sum(wei), max(plain), 1 / 3.0, 10 / 4.0, 1.5 * 2, round(2.5), sum(id)"
                        " FROM py_numerics")
            out["computed_binary" if binary else "computed_text"] = [str(v) for v in cur.fetchone()]
    cur = conn.execute("SELECT id FROM py_numerics WHERE wei = %s", (Decimal("-1.000000000000000001"),))
    out["found"] = [r[0] for r in cur.fetchall()]
    errors = []
    for sql, params in [("INSERT INTO py_numerics (id, rate) VALUES (9, %s)", (Decimal("1000000000000"),)),
                        ("SELECT 1 / %s::numeric", (Decimal("0"),))]:
        try:
            conn.execute(sql, params)
            errors.append(None)
        except psycopg.Error as e:
            errors.append(e.sqlstate)
    out["errors"] = errors
    conn.execute("DROP TABLE py_numerics")
print(json.dumps(out, sort_keys=True))
