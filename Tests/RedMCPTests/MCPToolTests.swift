import Testing
import RedCore
import RedDB
@testable import RedMCP

/// Every tool, called as `tools/call` calls it, on an in-memory database.
@Suite struct MCPToolTests {
    let server: RedMCPServer

    init() async throws {
        server = RedMCPServer(database: try await Database.inMemory())
    }

    /// The tool's JSON result; fails the test when the call fails.
    @discardableResult
    func call(_ name: String, _ arguments: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue {
        let (text, isError) = await server.call(name, try JSONValue.parse(arguments))
        #expect(!isError, "\(name) failed: \(text)", sourceLocation: sourceLocation)
        return try JSONValue.parse(text)
    }

    /// The error text of a call that must fail.
    func failure(_ name: String, _ arguments: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let (text, isError) = await server.call(name, try JSONValue.parse(arguments))
        #expect(isError, "\(name) should have failed, gave \(text)", sourceLocation: sourceLocation)
        return text
    }

    @Test func catalogHasEveryToolOnceWithAnObjectSchema() {
        let names = server.toolNames()
        #expect(Set(names).count == names.count)
        for required in ["reddb_query", "reddb_collections", "reddb_scan", "reddb_insert_row", "reddb_insert_document", "reddb_insert_vector",
                         "reddb_insert_node", "reddb_insert_edge", "reddb_update", "reddb_delete", "reddb_kv_get", "reddb_kv_set",
                         "reddb_search_vector", "reddb_search_text", "reddb_health", "reddb_create_collection", "reddb_drop_collection",
                         "reddb_graph_traverse", "reddb_graph_shortest_path", "reddb_graph_centrality", "reddb.ask"] {
            #expect(names.contains(required), "missing \(required)")
        }
        for tool in server.tools {
            #expect(tool.inputSchema["type"] == .string("object"))
            #expect(tool.inputSchema["additionalProperties"] == .bool(false))
            guard case .object(let properties)? = tool.inputSchema["properties"], case .array(let required)? = tool.inputSchema["required"] else {
                Issue.record("\(tool.name): no properties/required"); continue
            }
            for case .string(let r) in required { #expect(properties.contains { $0.0 == r }, "\(tool.name) requires \(r), which it does not describe") }
        }
    }

    @Test func queryBindsParametersAndAnswersLikeHTTP() async throws {
        try await call("reddb_query", #"{"sql": "CREATE TABLE t (id INT PRIMARY KEY, name TEXT)"}"#)
        let insert = try await call("reddb_query", #"{"sql": "INSERT INTO t VALUES ($1, $2), (2, 'b')", "params": [1, "a"]}"#)
        #expect(insert["affected_rows"] == .integer(2))
        let select = try await call("reddb_query", #"{"sql": "SELECT name FROM t WHERE id = $1", "params": [1]}"#)
        #expect(select["record_count"] == .integer(1))
        #expect(select["result"]?["records"] == .array([.object([("edges", .object([])), ("nodes", .object([])), ("paths", .array([])),
                                                                 ("values", .object([("name", .string("a"))])), ("vector_results", .array([]))])]))
        let capped = try await call("reddb_query", #"{"sql": "SELECT * FROM generate_series(1, 5) AS g", "max_rows": 3}"#)
        #expect(capped["record_count"] == .integer(3) && capped["total_rows"] == .integer(5) && capped["truncated"] == .bool(true))
        #expect(try await call("reddb_query", #"{"sql": "SELECT 1", "max_rows": 3}"#)["truncated"] == nil)
        #expect(try await failure("reddb_query", #"{"sql": "SELEC 1"}"#).contains("42601"))
        #expect(try await failure("reddb_query", #"{"sql": "SELECT 1", "params": 3}"#).contains("params must be an array"))
        #expect(try await failure("reddb_query", #"{}"#).contains("missing argument 'sql'"))
    }

    @Test func aTransactionDoesNotOutliveItsCall() async throws {
        try await call("reddb_query", #"{"sql": "CREATE TABLE t (id INT)"}"#)
        try await call("reddb_query", #"{"sql": "BEGIN"}"#)
        try await call("reddb_query", #"{"sql": "INSERT INTO t VALUES (1)"}"#)
        let count = try await call("reddb_query", #"{"sql": "SELECT count(*) AS n FROM t"}"#)
        // The INSERT ran in its own call, so it committed; the lone BEGIN was rolled back, not left open.
        #expect(count["result"]?["records"]?[0]?["values"]?["n"] == .integer(1))
    }

    @Test func rowsDocumentsScansAndDeletes() async throws {
        try await call("reddb_query", #"{"sql": "CREATE TABLE people (name TEXT, age INT)"}"#)
        let row = try await call("reddb_insert_row", #"{"collection": "people", "data": {"name": "Ada", "age": 36}}"#)
        #expect(row["kind"] == .string("row"))
        guard case .integer(let rid)? = row["rid"] else { Issue.record("no rid: \(row)"); return }
        try await call("reddb_insert_row", #"{"collection": "people", "data": {"name": "Bob"}}"#)
        let page = try await call("reddb_scan", #"{"collection": "people", "limit": 1, "offset": 1}"#)
        #expect(page["total"] == .integer(2))
        #expect(page["items"]?[0]?["name"] == .string("Bob"))
        let doc = try await call("reddb_insert_document", #"{"collection": "notes", "body": {"title": "hi", "tags": ["a"]}}"#)
        #expect(doc["kind"] == .string("document"))
        #expect(try await call("reddb_scan", #"{"collection": "notes"}"#)["items"]?[0]?["body"]?["title"] == .string("hi"))
        #expect(try await call("reddb_delete", "{\"collection\": \"people\", \"id\": \(rid)}") == .object([("deleted", .bool(true)), ("id", .integer(rid))]))
        #expect(try await call("reddb_delete", "{\"collection\": \"people\", \"id\": \(rid)}")["deleted"] == .bool(false))
        #expect(try await failure("reddb_insert_row", #"{"collection": "people", "data": {}}"#).contains("at least one column"))
        #expect(try await failure("reddb_insert_row", #"{"collection": "people", "data": {"nope": 1}}"#).contains("nope"))
        #expect(try await failure("reddb_scan", #"{"collection": "people", "limit": 0}"#).contains("from 1 to 1000"))
        let collections = try await call("reddb_collections", "{}")
        #expect(collections == .array([.object([("name", .string("notes")), ("model", .string("document"))]),
                                       .object([("name", .string("people")), ("model", .string("table"))])])
                || collections == .array([.object([("name", .string("people")), ("model", .string("table"))]),
                                          .object([("name", .string("notes")), ("model", .string("document"))])]))
    }

    @Test func updateBindsValuesAndChecksItsFilter() async throws {
        try await call("reddb_query", #"{"sql": "CREATE TABLE t (id INT, status TEXT)"}"#)
        try await call("reddb_query", #"{"sql": "INSERT INTO t VALUES (1, 'open'), (2, 'open'), (3, 'done')"}"#)
        let updated = try await call("reddb_update", #"{"collection": "t", "set": {"status": "it's closed"}, "where_filter": "id < 3 -- trailing comment"}"#)
        #expect(updated == .object([("ok", .bool(true)), ("affected_rows", .integer(2))]))
        let rows = try await call("reddb_query", #"{"sql": "SELECT count(*) AS n FROM t WHERE status = 'it''s closed'"}"#)
        #expect(rows["result"]?["records"]?[0]?["values"]?["n"] == .integer(2))
        // A filter is one expression: a second statement is refused, and nothing changes.
        _ = try await failure("reddb_update", #"{"collection": "t", "set": {"status": "x"}, "where_filter": "1 = 1); DROP TABLE t; --"}"#)
        _ = try await failure("reddb_update", #"{"collection": "t", "set": {"status": "x"}, "where_filter": "true; DROP TABLE t"}"#)
        #expect(try await call("reddb_query", #"{"sql": "SELECT count(*) AS n FROM t WHERE status = 'x'"}"#)["result"]?["records"]?[0]?["values"]?["n"] == .integer(0))
        #expect(try await failure("reddb_update", #"{"collection": "t", "set": {}}"#).contains("at least one field"))
    }

    @Test func keyValues() async throws {
        let set = try await call("reddb_kv_set", #"{"collection": "settings", "key": "a:b", "value": {"theme": "dark"}}"#)
        #expect(set["created"] == .bool(true))
        #expect(try await call("reddb_kv_set", #"{"collection": "settings", "key": "a:b", "value": 2}"#)["created"] == .bool(false))
        #expect(try await call("reddb_kv_get", #"{"collection": "settings", "key": "a:b"}"#)
                == .object([("found", .bool(true)), ("key", .string("a:b")), ("value", .integer(2)), ("kind", .string("kv"))]))
        #expect(try await call("reddb_kv_get", #"{"collection": "settings", "key": "x'y"}"#) == .object([("found", .bool(false)), ("key", .string("x'y"))]))
        try await call("reddb_kv_set", #"{"collection": "settings", "key": "tmp", "value": "v", "ttl_ms": 60000}"#)
        #expect(try await failure("reddb_kv_set", #"{"collection": "settings", "key": "tmp", "value": "v", "ttl_ms": 0}"#).contains("ttl_ms"))
        #expect(try await failure("reddb_kv_set", #"{"collection": "settings", "key": "k"}"#).contains("missing argument 'value'"))
    }

    @Test func vectorsAndTextSearch() async throws {
        try await call("reddb_create_collection", #"{"name": "docs", "model": "vector", "dimension": 3}"#)
        let cat = try await call("reddb_insert_vector", #"{"collection": "docs", "dense": [0.1, 0.9, 0.2], "content": "a small cat", "metadata": {"kind": "pet"}}"#)
        try await call("reddb_insert_vector", #"{"collection": "docs", "dense": [-0.8, -0.1, -0.1], "content": "a fast car"}"#)
        let hits = try await call("reddb_search_vector", #"{"collection": "docs", "vector": [0.2, 0.8, 0.1], "k": 5}"#)
        // The car points the other way: its cosine is below min_score 0, so only the cat is left.
        #expect(hits["count"] == .integer(1))
        #expect(hits["results"]?[0]?["rid"] == cat["rid"])
        #expect(hits["results"]?[0]?["metadata"] == .object([("kind", .string("pet"))]))
        #expect(try await call("reddb_search_vector", #"{"collection": "docs", "vector": [0.2, 0.8, 0.1], "min_score": 0.99}"#)["count"] == .integer(0))
        #expect(try await failure("reddb_search_vector", #"{"collection": "docs", "vector": []}"#).contains("non-empty array"))
        #expect(try await failure("reddb_insert_vector", #"{"collection": "docs", "dense": [1, "x", 2]}"#).contains("finite numbers"))
        let text = try await call("reddb_search_text", #"{"query": "cat", "collections": ["docs"]}"#)
        #expect(text["count"] == .integer(1))
        #expect(text["results"]?[0]?["collection"] == .string("docs"))
        #expect(try await failure("reddb_create_collection", #"{"name": "v2", "model": "vector"}"#).contains("dimension"))
        #expect(try await failure("reddb_create_collection", #"{"name": "d2", "dimension": 3}"#).contains("for vector collections"))
        #expect(try await call("reddb_drop_collection", #"{"name": "docs"}"#) == .object([("ok", .bool(true)), ("dropped", .string("docs"))]))
    }

    @Test func graphs() async throws {
        let alice = try await call("reddb_insert_node", #"{"collection": "social", "label": "alice", "node_type": "user", "properties": {"age": 30}}"#)
        let bob = try await call("reddb_insert_node", #"{"collection": "social", "label": "bob"}"#)
        try await call("reddb_insert_node", #"{"collection": "social", "label": "carol"}"#)
        guard case .integer(let a)? = alice["rid"], case .integer(let b)? = bob["rid"] else { Issue.record("no rids"); return }
        let edge = try await call("reddb_insert_edge", "{\"collection\": \"social\", \"label\": \"knows\", \"from\": \(a), \"to\": \(b), \"weight\": 2.5}")
        #expect(edge["kind"] == .string("edge"))
        let walk = try await call("reddb_graph_traverse", #"{"source": "alice", "collection": "social"}"#)
        #expect(walk["visit_count"] == .integer(2))
        #expect(walk["visits"]?[1]?["label"] == .string("bob"))
        let path = try await call("reddb_graph_shortest_path", #"{"source": "alice", "target": "bob", "algorithm": "dijkstra"}"#)
        #expect(path["found"] == .bool(true))
        #expect(path["total_weight"]?.number == 2.5)
        #expect(try await call("reddb_graph_shortest_path", #"{"source": "bob", "target": "carol"}"#)["found"] == .bool(false))
        let centrality = try await call("reddb_graph_centrality", #"{"algorithm": "degree"}"#)
        #expect(centrality["count"] == .integer(3))
        #expect(try await call("reddb_graph_components", #"{"mode": "weakly_connected"}"#)["count"] == .integer(2))
        _ = try await call("reddb_graph_clustering", "{}")
        #expect(try await failure("reddb_graph_centrality", #"{"algorithm": "magic"}"#).contains("algorithm must be one of"))
        #expect(try await failure("reddb_insert_node", #"{"collection": "social", "label": "x", "properties": {"label": "y"}}"#).contains("not as a property"))
    }

    @Test func askChecksItsOptionsBeforeAskingAnyone() async throws {
        #expect(try await failure("reddb.ask", #"{"question": "why?", "options": {"colour": "red"}}"#).contains("unknown argument 'options.colour'"))
        #expect(try await failure("reddb.ask", #"{"question": "why?", "options": {"limit": 500}}"#).contains("'options.limit' must be from 1 to 200"))
        #expect(try await failure("reddb.ask", #"{"question": "why?", "options": {"cache": {"ttl": "5m"}, "nocache": true}}"#).contains("not both"))
        #expect(try await failure("reddb.ask", #"{"question": ""}"#).contains("non-empty string"))
        let body = try GraphAndAskTools.askBody(try ToolArguments(JSONValue.parse(#"{"question": "q", "options": {"using": "groq,openai", "depth": 1, "cache": {"ttl": "5m"}}}"#),
                                                                  allowed: ["question", "options"]))
        let (sql, parameters) = try AskJSONRequest.statement(body)
        #expect(sql == "ASK $1 USING 'groq,openai' DEPTH $2 STRICT ON CACHE TTL '5m'")
        #expect(parameters == [.text("q"), .integer(1)])
    }

    @Test func aReadOnlyServerListsOnlyReadingToolsAndRefusesWrites() async throws {
        let database = try await Database.inMemory()
        _ = try await database.session().execute("CREATE TABLE t (id INT)")
        let reader = RedMCPServer(database: database, readOnly: true)
        #expect(reader.toolNames().contains("reddb_query") && reader.toolNames().contains("reddb_scan"))
        #expect(!reader.toolNames().contains("reddb_insert_row") && !reader.toolNames().contains("reddb_drop_collection"))
        let (refused, isError) = await reader.call("reddb_query", try JSONValue.parse(#"{"sql": "INSERT INTO t VALUES (1)"}"#))
        #expect(isError && refused.contains("42501"), "\(refused)")
        let (read, readFailed) = await reader.call("reddb_query", try JSONValue.parse(#"{"sql": "SELECT count(*) FROM t"}"#))
        #expect(!readFailed, "\(read)")
        #expect(await reader.call("reddb_insert_row", try JSONValue.parse(#"{"collection": "t", "data": {"id": 1}}"#)).isError)
    }

    @Test func unknownToolsAndArgumentsAreToolErrors() async throws {
        let (text, isError) = await server.call("reddb_nope", .null)
        #expect(isError && text.contains("unknown tool"))
        #expect(try await failure("reddb_collections", #"{"x": 1}"#).contains("unknown argument 'x'"))
        let health = try await call("reddb_health", "{}")
        #expect(health["ok"] == .bool(true) && health["version"] == .string(RedDB.version))
    }
}

extension JSONValue {
    /// Element `index` of an array, or nil.
    subscript(_ index: Int) -> JSONValue? {
        guard case .array(let items) = self, items.indices.contains(index) else { return nil }
        return items[index]
    }
}
