"""pgvector-python over psycopg 3, as retrieval code (LangChain's PGVector, LlamaIndex) uses it.

Usage: pgvector_client.py PORT DBNAME USER. Registers pgvector's types (which looks `vector` up
in pg_type), stores NumPy embeddings in text and binary format, and reads the nearest ones back
in both formats. Prints one JSON line of what came back; PythonClientTests holds the line
PostgreSQL 15 with pgvector gives for the same script.
"""
import json
import sys

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

port, dbname, user = sys.argv[1], sys.argv[2], sys.argv[3]


def components(embedding):
    """pgvector-python gives NumPy arrays or its own Vector, by version and format."""
    values = embedding.tolist() if hasattr(embedding, "tolist") else embedding.to_list()
    return [float(v) for v in values]


out = {}
with psycopg.connect(host="127.0.0.1", port=port, dbname=dbname, user=user, autocommit=True) as conn:
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)
    conn.execute("DROP TABLE IF EXISTS py_items")
    conn.execute("CREATE TABLE py_items (id bigserial PRIMARY KEY, content text, embedding vector(3))")
    for content, embedding in [("a", np.array([1, 2, 3])), ("b", np.array([4, 5, 6]))]:
        conn.execute("INSERT INTO py_items (content, embedding) VALUES (%s, %s)", (content, embedding))
    conn.execute("INSERT INTO py_items (content, embedding) VALUES (%b, %b)", ("c", np.array([1, 1, 1], dtype=np.float32)))
    conn.execute("INSERT INTO py_items (content, embedding) VALUES (%t, %t)", ("d", np.array([0.5, 0.25, 0.125])))
    query = np.array([3, 1, 2])
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            cur.execute("SELECT content, embedding FROM py_items ORDER BY embedding <-> %s LIMIT 2", (query,))
            out["nearest_binary" if binary else "nearest_text"] = [[c, components(e)] for c, e in cur.fetchall()]
    cur = conn.execute("SELECT content FROM py_items ORDER BY embedding <=> %s LIMIT 2", (np.array([1, 2, 3]),))
    out["nearest_cosine"] = [r[0] for r in cur.fetchall()]
    cur = conn.execute("SELECT round((embedding <-> %s)::numeric, 4)::text, embedding <#> %s FROM py_items WHERE content = 'd'",
                       (query, query))
    out["distances"] = list(cur.fetchone())
    cur = conn.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'py_items'::regclass AND attname = 'embedding'")
    out["column_type"] = cur.fetchone()[0]
    try:
        conn.execute("INSERT INTO py_items (content, embedding) VALUES (%s, %s)", ("e", np.array([1, 2])))
    except psycopg.Error as error:
        # RedDB's message adds the column it was writing: "… (column "embedding" of relation "py_items")".
        out["wrong_dimensions"] = [error.sqlstate, str(error).strip().split(" (column ")[0]]
print(json.dumps(out, sort_keys=True))
