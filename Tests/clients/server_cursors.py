"""SQL cursors as applications use them: DECLARE/FETCH/MOVE/CLOSE typed by hand, psycopg 3's
server-side cursors (DECLARE with bound parameters, the cursor Described as a portal, FETCH
in text and binary, scroll, WITH HOLD) and psycopg2's named cursors (Django's and
SQLAlchemy's streaming results).

Usage: server_cursors.py PORT DBNAME USER. Prints one JSON line of what came back, which
PythonClientTests compares with what PostgreSQL 15 gives for the same script.
"""
import json
import sys

import psycopg
import psycopg2

port, dbname, user = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = {"statements": []}
conn = psycopg.connect(host="127.0.0.1", port=port, dbname=dbname, user=user, autocommit=True)
conn.execute("DROP TABLE IF EXISTS cursor_items")
conn.execute("CREATE TABLE cursor_items (id int PRIMARY KEY, v text)")
conn.execute("INSERT INTO cursor_items SELECT g, 'v' || g FROM generate_series(1, 10) g")


def run(statement):
    """The statement's command tag and rows, or its SQLSTATE."""
    try:
        cur = conn.execute(statement)
        rows = [list(r) for r in cur.fetchall()] if cur.description else None
        out["statements"].append([statement, cur.statusmessage, rows])
    except psycopg.Error as error:
        out["statements"].append([statement, error.sqlstate])


for statement in [
    "DECLARE outside CURSOR FOR SELECT id FROM cursor_items",
    "BEGIN",
    "DECLARE c SCROLL CURSOR FOR SELECT id, v FROM cursor_items ORDER BY id",
    "FETCH c", "FETCH NEXT FROM c", "FETCH 3 FROM c", "FETCH PRIOR FROM c", "FETCH BACKWARD 2 FROM c",
    "FETCH ABSOLUTE 5 FROM c", "FETCH RELATIVE 0 FROM c", "FETCH RELATIVE -2 IN c", "FETCH LAST FROM c",
    "FETCH NEXT FROM c", "FETCH PRIOR FROM c", "FETCH FIRST FROM c", "FETCH ABSOLUTE -3 FROM c", "FETCH ABSOLUTE 0 FROM c",
    "FETCH FORWARD ALL FROM c", "FETCH BACKWARD ALL FROM c", "MOVE FORWARD 4 FROM c", "FETCH c", "MOVE ABSOLUTE 100 IN c",
    "MOVE BACKWARD 3 FROM c", "FETCH -1 FROM c", "FETCH FORWARD -1 FROM c", "FETCH FORWARD 0 FROM c", "FETCH ALL c",
    "MOVE ALL IN c", "DECLARE c CURSOR FOR SELECT 1", "FETCH 2 FROM nosuch", "FETCH c",
    "ROLLBACK",
    "BEGIN", "DECLARE n NO SCROLL CURSOR FOR SELECT id FROM cursor_items ORDER BY id", "FETCH 2 FROM n", "FETCH PRIOR FROM n", "ROLLBACK",
    "BEGIN", "DECLARE h CURSOR WITH HOLD FOR SELECT id FROM cursor_items ORDER BY id", "ROLLBACK", "FETCH h",
    "BEGIN", "DECLARE h CURSOR WITH HOLD FOR SELECT id FROM cursor_items ORDER BY id",
    "DECLARE w CURSOR WITHOUT HOLD FOR SELECT 1", "FETCH 2 FROM h", "COMMIT",
    "FETCH 2 FROM h", "FETCH w", "CLOSE h", "CLOSE h",
    "DECLARE h2 CURSOR WITH HOLD FOR VALUES (1, 'a'), (2, 'b')", "FETCH ALL FROM h2", "CLOSE ALL", "FETCH h2",
    "BEGIN", "DECLARE y CURSOR FOR SELECT id FROM cursor_items", "SELECT 1/0", "FETCH y", "ROLLBACK",
    "BEGIN", 'DECLARE "MixedCase" CURSOR FOR SELECT 1 AS one', 'FETCH "MixedCase"', "FETCH mixedcase", "ROLLBACK",
]:
    run(statement)

with conn.transaction():
    with conn.cursor(name="server_side") as cur:
        cur.execute("SELECT id, v FROM cursor_items WHERE id > %s ORDER BY id", (6,))
        out["psycopg_description"] = [[d.name, d.type_code] for d in cur.description]
        out["psycopg_fetchmany"] = [list(r) for r in cur.fetchmany(2)]
        out["psycopg_rest"] = [list(r) for r in cur.fetchall()]
        cur.scroll(0, mode="absolute")
        out["psycopg_scrolled"] = list(cur.fetchone())
with conn.transaction():
    with conn.cursor(name="binary_side", binary=True) as cur:
        cur.execute("SELECT id, v FROM cursor_items WHERE id <= %s ORDER BY id", (2,))
        out["psycopg_binary"] = [list(r) for r in cur]
with conn.cursor(name="held", withhold=True) as cur:
    cur.itersize = 2
    cur.execute("SELECT id FROM cursor_items ORDER BY id LIMIT 3")
    out["psycopg_with_hold"] = [r[0] for r in cur]
conn.close()

legacy = psycopg2.connect(host="127.0.0.1", port=port, dbname=dbname, user=user)
cur = legacy.cursor("named")
cur.itersize = 4
cur.execute("SELECT id FROM cursor_items WHERE v <> %s ORDER BY id", ("v3",))
out["psycopg2_named"] = [r[0] for r in cur]
legacy.commit()
legacy.close()
print(json.dumps(out, sort_keys=True))
