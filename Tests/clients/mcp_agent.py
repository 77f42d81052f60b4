"""An AI agent's view of `red mcp`, through the official MCP Python SDK (`mcp`).

Usage: python3 mcp_agent.py RED_BINARY DATABASE_PATH   (stdio: starts `RED_BINARY mcp --path …`)
       python3 mcp_agent.py http://HOST:PORT/mcp         (Streamable HTTP: `red server`'s /mcp)

Connects as the SDK connects to any MCP server, initializes, lists the tools and calls a few,
then prints one JSON object of what it saw (MCPClientTests compares it). Exits non-zero on any
protocol failure.
"""
import contextlib
import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def attr(obj, snake, camel):
    """SDK 2 names fields in snake_case, SDK 1 as the protocol does."""
    return getattr(obj, snake) if hasattr(obj, snake) else getattr(obj, camel)


def text_of(result):
    return "".join(item.text for item in result.content if getattr(item, "type", "") == "text")


@contextlib.asynccontextmanager
async def connect(target, path):
    if target.startswith("http"):
        from mcp.client import streamable_http
        client = getattr(streamable_http, "streamable_http_client", None) or streamable_http.streamablehttp_client
        async with client(target) as streams:
            yield streams[0], streams[1]
    else:
        params = StdioServerParameters(command=target, args=["mcp", "--path", path])
        async with stdio_client(params) as (read, write):
            yield read, write


async def main(target, path):
    seen = {}
    async with connect(target, path) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            seen["server"] = attr(init, "server_info", "serverInfo").name
            seen["protocol"] = attr(init, "protocol_version", "protocolVersion")
            tools = await session.list_tools()
            seen["tools"] = sorted(tool.name for tool in tools.tools)
            created = await session.call_tool("reddb_query", {"sql": "CREATE TABLE books (title TEXT, year INT)"})
            seen["create_error"] = attr(created, "is_error", "isError")
            for title, year in [("Dune", 1965), ("Neuromancer", 1984)]:
                inserted = await session.call_tool("reddb_insert_row", {"collection": "books", "data": {"title": title, "year": year}})
                seen.setdefault("inserted", []).append(json.loads(text_of(inserted))["kind"])
            query = await session.call_tool("reddb_query", {"sql": "SELECT title FROM books WHERE year > $1", "params": [1970]})
            seen["titles"] = [r["values"]["title"] for r in json.loads(text_of(query))["result"]["records"]]
            await session.call_tool("reddb_kv_set", {"collection": "prefs", "key": "theme", "value": "dark"})
            got = await session.call_tool("reddb_kv_get", {"collection": "prefs", "key": "theme"})
            seen["kv"] = json.loads(text_of(got))
            failed = await session.call_tool("reddb_query", {"sql": "SELECT * FROM nowhere"})
            seen["failure"] = {"isError": attr(failed, "is_error", "isError"), "text": text_of(failed)}
    print(json.dumps(seen, sort_keys=True))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""))
