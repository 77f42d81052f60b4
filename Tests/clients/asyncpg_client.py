"""An application on asyncpg, which types every parameter by what Describe reports, sends
and reads binary, and looks up any type it has no codec for with its own catalog query
(`$1::oid[]`, recursive CTEs over pg_type).

Usage: asyncpg_client.py PORT DBNAME USER. Prints one JSON line of what came back, which
PythonClientTests compares with what PostgreSQL 15 gives for the same script.
"""
import asyncio
import datetime
import decimal
import json
import sys
import uuid

import asyncpg

port, dbname, user = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def plain(value):
    """A JSON-friendly spelling of what asyncpg returned, with its Python type."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (asyncpg.Record, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return f"{type(value).__name__}:{value}"


async def main():
    out = {}
    conn = await asyncpg.connect(host="127.0.0.1", port=port, user=user, database=dbname)
    await conn.execute("DROP TABLE IF EXISTS apg_items")
    await conn.execute(
        "CREATE TABLE apg_items (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2), tags text[],"
        " meta jsonb, born date, at timestamptz, u uuid, b bytea, f float8, ok boolean, span interval)")
    # Every parameter encoded in binary by the type Describe gave it.
    out["insert"] = await conn.execute(
        "INSERT INTO apg_items (name, price, tags, meta, born, at, u, b, f, ok, span)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        "a", decimal.Decimal("12.50"), ["x", "y"], json.dumps({"k": 1}), datetime.date(2020, 1, 2),
        datetime.datetime(2021, 3, 4, 5, 6, 7, tzinfo=datetime.timezone.utc), uuid.UUID(int=5), b"\x00\x01",
        1.5, True, datetime.timedelta(days=1, seconds=5))
    row = await conn.fetchrow("SELECT * FROM apg_items WHERE id = $1", 1)
    out["row"] = {k: plain(v) for k, v in row.items() if k != "meta"}
    await conn.executemany("INSERT INTO apg_items (name, price) VALUES ($1, $2)",
                           [("b", decimal.Decimal("1.00")), ("c", None)])
    out["copy_in"] = await conn.copy_records_to_table("apg_items", records=[("d", decimal.Decimal("3.3"))],
                                                      columns=["name", "price"])
    async with conn.transaction():
        await conn.execute("INSERT INTO apg_items (name) VALUES ('kept')")
    try:
        async with conn.transaction():
            await conn.execute("INSERT INTO apg_items (name) VALUES ('rolled back')")
            raise RuntimeError("abandon")
    except RuntimeError:
        pass
    out["names"] = [r["name"] for r in await conn.fetch("SELECT name FROM apg_items ORDER BY id")]
    async with conn.transaction():
        cursor = await conn.cursor("SELECT id FROM apg_items ORDER BY id")
        out["cursor_first_two"] = [r["id"] for r in await cursor.fetch(2)]
        out["cursor_iterated"] = [r["id"] async for r in conn.cursor("SELECT id FROM apg_items ORDER BY id", prefetch=2)]
    statement = await conn.prepare("SELECT name, price FROM apg_items WHERE id > $1 AND tags = $2 ORDER BY id")
    out["prepared_parameters"] = [t.name for t in statement.get_parameters()]
    out["prepared_columns"] = [[a.name, a.type.name] for a in statement.get_attributes()]
    out["updated"] = await conn.execute("UPDATE apg_items SET tags = $1, at = $2 WHERE name = $3",
                                        ["p", None, "q"], datetime.datetime(2022, 1, 1, tzinfo=datetime.timezone.utc), "b")
    out["tags"] = plain(await conn.fetchval("SELECT tags FROM apg_items WHERE name = 'b'"))
    # Arrays as parameters and results: asyncpg introspects the types it has no codec for.
    out["any_int_array"] = [r["id"] for r in await conn.fetch("SELECT id FROM apg_items WHERE id = ANY($1::int[]) ORDER BY id", [1, 3])]
    out["text_array_parameter"] = plain(await conn.fetchval("SELECT $1::text[]", ["a", None]))
    out["bigint_array"] = plain(await conn.fetchval("SELECT ARRAY[1, 2, 3]::bigint[]"))
    out["numeric_array"] = plain(await conn.fetchval("SELECT ARRAY[1.5, 2.25]::numeric[]"))
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    out["jsonb_codec"] = await conn.fetchval("SELECT meta FROM apg_items WHERE id = 1")
    out["timestamptz_parameter"] = plain(await conn.fetchval(
        "SELECT count(*) FROM apg_items WHERE at < $1", datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)))
    try:
        await conn.execute("INSERT INTO apg_items (id, name) VALUES (1, 'again')")
    except asyncpg.UniqueViolationError as error:
        out["duplicate"] = error.sqlstate
    await conn.close()
    pool = await asyncpg.create_pool(host="127.0.0.1", port=port, user=user, database=dbname, min_size=2, max_size=4)
    async with pool.acquire() as pooled:
        out["pool"] = await pooled.fetchval("SELECT count(*) FROM apg_items")
    await pool.close()
    print(json.dumps(out, sort_keys=True))


asyncio.run(main())
