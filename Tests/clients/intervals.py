"""Intervals through psycopg 3, as an application sends and reads them.

Usage: intervals.py PORT DBNAME USER. Prints one JSON line of what came back, which
PythonClientTests compares with what PostgreSQL 15 gives for the same script.
"""
import datetime
import json
import sys

import psycopg

port, dbname, user = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
with psycopg.connect(host="127.0.0.1", port=port, dbname=dbname, user=user, autocommit=True) as conn:
    conn.execute("DROP TABLE IF EXISTS py_intervals")
    conn.execute("CREATE TABLE py_intervals (id INT PRIMARY KEY, length INTERVAL)")
    # timedelta parameters in text (%s) and binary (%b) format
    conn.execute("INSERT INTO py_intervals VALUES (%s, %s)", (1, datetime.timedelta(days=1, hours=2, microseconds=500)))
    conn.execute("INSERT INTO py_intervals VALUES (%b, %b)", (2, datetime.timedelta(minutes=-90)))
    conn.execute("INSERT INTO py_intervals VALUES (3, '1 mon 2 days')")
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            cur.execute("SELECT id, length FROM py_intervals ORDER BY id")
            rows = cur.fetchall()
            out["rows_binary" if binary else "rows_text"] = [[i, str(v), type(v).__name__] for i, v in rows]
    cur = conn.execute("SELECT id FROM py_intervals WHERE length > %s ORDER BY id", (datetime.timedelta(hours=1),))
    out["longer_than_an_hour"] = [r[0] for r in cur.fetchall()]
    cur = conn.execute("SELECT timestamp '2024-01-31 10:00' + %s, timestamp '2024-03-01' - timestamp '2024-01-01 12:00'",
                       (datetime.timedelta(days=1, seconds=30),))
    moved, between = cur.fetchone()
    out["arithmetic"] = [moved.isoformat(), str(between)]
    cur = conn.execute("SELECT sum(length), avg(length) FROM py_intervals WHERE id < 3")
    out["aggregates"] = [str(v) for v in cur.fetchone()]
    # Binary COPY with the types PostgreSQL gives the columns (INT is int4 there)
    with conn.cursor() as cur:
        with cur.copy("COPY py_intervals (id, length) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "interval"])
            copy.write_row((4, datetime.timedelta(days=2, seconds=5)))
        cur.execute("SELECT length FROM py_intervals WHERE id = 4")
        out["copied"] = str(cur.fetchone()[0])
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            # EXTRACT is numeric (a Decimal), date_part double precision (a float)
            cur.execute("SELECT extract(year FROM date '2024-05-01'), extract(day FROM interval '3 days'), date_part('year', date '2024-05-01')")
            out["extract_binary" if binary else "extract_text"] = [repr(v) for v in cur.fetchone()]
    conn.execute("DROP TABLE py_intervals")
print(json.dumps(out, sort_keys=True))
