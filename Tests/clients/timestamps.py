"""Timestamps through psycopg 3, as an application writes and reads them.

Usage: timestamps.py PORT DBNAME USER. Prints one JSON line of what came back, which
PythonClientTests compares with what PostgreSQL 15 gives for the same script: datetime,
aware datetime and time parameters with microseconds, in text and binary, read back equal in
both result formats, found again by equality, and copied in binary.
"""
import datetime
import json
import sys

import psycopg

port, dbname, user = sys.argv[1], sys.argv[2], sys.argv[3]
utc = datetime.timezone.utc
local = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456)
instant = datetime.datetime(2024, 5, 6, 7, 8, 9, 654321, tzinfo=utc)
clock = datetime.time(1, 2, 3, 4)
out = {}
with psycopg.connect(host="127.0.0.1", port=port, dbname=dbname, user=user, autocommit=True) as conn:
    conn.execute("DROP TABLE IF EXISTS py_times")
    conn.execute("CREATE TABLE py_times (id INT PRIMARY KEY, local_at TIMESTAMP, at TIMESTAMPTZ, clock TIME)")
    conn.execute("CREATE INDEX py_times_local ON py_times (local_at)")
    conn.execute("INSERT INTO py_times VALUES (%s, %s, %s, %s)", (1, local, instant, clock))
    conn.execute("INSERT INTO py_times VALUES (%b, %b, %b, %b)",
                 (2, local + datetime.timedelta(microseconds=1), instant - datetime.timedelta(microseconds=1),
                  datetime.time(23, 59, 59, 999999)))
    with conn.cursor().copy("COPY py_times (id, local_at, at, clock) FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.set_types(["int4", "timestamp", "timestamptz", "time"])
        copy.write_row((3, datetime.datetime(1969, 12, 31, 23, 59, 59, 999999), datetime.datetime(1900, 1, 1, 0, 0, 0, 1, tzinfo=utc),
                        datetime.time(0, 0, 0, 1)))
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            cur.execute("SELECT id, local_at, at, clock FROM py_times ORDER BY id")
            rows = cur.fetchall()
            out["rows_binary" if binary else "rows_text"] = [[r[0], r[1].isoformat(), r[2].astimezone(utc).isoformat(), r[3].isoformat()]
                                                             for r in rows]
            out["same_" + ("binary" if binary else "text")] = rows[0][1] == local and rows[0][2] == instant and rows[0][3] == clock
    found = []
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            cur.execute("SELECT id FROM py_times WHERE local_at = %s", (local + datetime.timedelta(microseconds=1),))
            found += [r[0] for r in cur.fetchall()]
            cur.execute("SELECT id FROM py_times WHERE at = %s", (instant,))
            found += [r[0] for r in cur.fetchall()]
    out["found"] = found
    cur = conn.execute("SELECT extract(epoch FROM at), extract(microseconds FROM local_at), local_at - %s FROM py_times WHERE id = 1",
                       (datetime.datetime(2024, 5, 6),))
    out["computed"] = [str(v) for v in cur.fetchone()]
    conn.execute("DROP TABLE py_times")
print(json.dumps(out, sort_keys=True))
