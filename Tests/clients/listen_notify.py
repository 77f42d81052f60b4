"""LISTEN/NOTIFY between two psycopg 3 connections, as applications use them for cache
invalidation and job queues: NOTIFY and pg_notify (bound parameters too), delivery while the
listener waits, at COMMIT and never after ROLLBACK, repeats folded, a listener inside a
transaction served after it ends, LISTEN/UNLISTEN taking effect at commit, a connection's
own notifications, and the errors of bad channels and payloads.

Usage: listen_notify.py PORT DBNAME USER. Prints one JSON line of what came back, which
PythonClientTests compares with what PostgreSQL 15 gives for the same script.
"""
import json
import sys
import time

import psycopg

port, dbname, user = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def connect():
    return psycopg.connect(host="127.0.0.1", port=port, user=user, dbname=dbname, autocommit=True)


listener, sender = connect(), connect()
out = []


def received(label):
    """What the listener gets within 0.3 s: channel, payload, and whether the sender (or itself) sent it."""
    got = [[n.channel, n.payload, n.pid == sender.info.backend_pid, n.pid == listener.info.backend_pid]
           for n in listener.notifies(timeout=0.3, stop_after=50)]
    out.append([label, got])


def run(conn, statement, label=None):
    try:
        conn.execute(statement)
        out.append([label or statement, "ok"])
    except psycopg.Error as error:
        out.append([label or statement, error.sqlstate])


listener.execute("LISTEN jobs")
listener.execute('LISTEN "Mixed"')
sender.execute("NOTIFY jobs, 'one'")
sender.execute("NOTIFY Jobs")
sender.execute("SELECT pg_notify('jobs', 'two')")
sender.execute("SELECT pg_notify('Mixed', 'm')")
sender.execute("NOTIFY other, 'not listened'")
received("autocommit")

with sender.transaction():
    for statement in ["NOTIFY jobs, 'tx1'", "NOTIFY jobs, 'tx1'", "NOTIFY jobs, 'tx2'", "SELECT pg_notify('jobs', 'tx1')"]:
        sender.execute(statement)
    received("before commit")
received("after commit")
try:
    with sender.transaction():
        sender.execute("NOTIFY jobs, 'rolled back'")
        raise RuntimeError("abandon")
except RuntimeError:
    pass
received("after rollback")

# A listener inside a transaction gets them after it ends.
listener.execute("BEGIN")
sender.execute("NOTIFY jobs, 'while busy'")
time.sleep(0.2)
out.append(["in tx", [n.payload for n in listener.notifies(timeout=0.2, stop_after=5)]])
listener.execute("COMMIT")
received("after listener commit")

# LISTEN takes effect when its block commits.
listener.execute("BEGIN")
listener.execute("LISTEN later")
listener.execute("ROLLBACK")
sender.execute("NOTIFY later, 'x'")
received("listen rolled back")
listener.execute("BEGIN")
listener.execute("LISTEN later")
listener.execute("COMMIT")
sender.execute("NOTIFY later, 'y'")
received("listen committed")
listener.execute("UNLISTEN jobs")
sender.execute("NOTIFY jobs, 'after unlisten'")
sender.execute("NOTIFY later, 'z'")
received("unlisten jobs")
listener.execute("UNLISTEN *")
sender.execute("NOTIFY later, 'gone'")
received("unlisten all")

listener.execute("LISTEN self")
listener.execute("NOTIFY self, 'me'")
received("self")
run(sender, "SELECT pg_notify('self', 'fail'), 1/0")
received("failed statement")
run(sender, "NOTIFY self, '" + "x" * 8000 + "'", "payload of 8000 bytes")
for statement in ["SELECT pg_notify('', 'x')", "SELECT pg_notify('" + "c" * 64 + "', 'x')", "NOTIFY self, notquoted",
                  "LISTEN", "SELECT pg_notify(NULL, 'x')"]:
    run(sender, statement)

# Prepared and never executed: nothing is sent.
sender.pgconn.prepare(b"p1", b"SELECT pg_notify('self', 'prepared only')")
received("prepared only")
sender.execute("SELECT pg_notify('self', %s)", ("bound",))
received("bound parameter")
print(json.dumps(out))
