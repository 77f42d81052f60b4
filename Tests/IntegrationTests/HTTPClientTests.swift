import AsyncHTTPClient
import Foundation
import NIOCore
import RedCore
import Testing

/// The real `red server`'s HTTP/JSON API, driven by AsyncHTTPClient: every route and its errors.
@Suite(.serialized) struct HTTPClientTests {
    struct Reply {
        let status: Int
        let body: String
        let contentType: String?
        var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
    }

    /// `reddb_event_loop_statements_total{surface, outcome}` from the server's /metrics (0 when absent).
    static func eventLoopStatements(_ server: ServerProcess, surface: String, outcome: String) async throws -> Int {
        let metrics = try await call(server, "GET", "/metrics").body
        let line = metrics.split(separator: "\n").first {
            $0.hasPrefix("reddb_event_loop_statements_total") && $0.contains(#"surface="\#(surface)""#) && $0.contains(#"outcome="\#(outcome)""#)
        }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
    }

    static func call(_ server: ServerProcess, _ method: String, _ path: String, body: String? = nil, token: String? = nil,
                     headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.httpPort)\(path)")
        request.method = .RAW(value: method)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: Int(response.status.code), body: String(buffer: bytes), contentType: response.headers.first(name: "content-type"))
    }

    @Test func queryRouteRunsSQLWithParametersAndReportsErrors() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        var r = try await Self.call(server, "POST", "/query", body: "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT)")
        #expect(r.status == 200)
        r = try await Self.call(server, "POST", "/query", body: #"{"query": "INSERT INTO t VALUES ($1, $2), ($3, $4)", "params": [1, "Ada", 2, null]}"#)
        #expect(r.json["affected_rows"] == .integer(2))
        r = try await Self.call(server, "POST", "/query", body: #"{"query": "SELECT id, name FROM t WHERE id = $1", "params": [1]}"#)
        #expect(r.status == 200)
        #expect(r.json["record_count"] == .integer(1))
        #expect(r.json["result"]?["records"] == .array([.object([("edges", .object([])), ("nodes", .object([])), ("paths", .array([])),
                                                                 ("values", .object([("id", .integer(1)), ("name", .string("Ada"))])),
                                                                 ("vector_results", .array([]))])]))
        r = try await Self.call(server, "POST", "/query/explain", body: "SELECT * FROM t WHERE id = 1")
        #expect(r.status == 200)
        // Errors: the envelope with code and SQLSTATE, and a 4xx status.
        r = try await Self.call(server, "POST", "/query", body: "SELECT * FROM missing")
        #expect(r.status == 404)
        #expect(r.json["ok"] == .bool(false))
        #expect(r.json["sqlstate"] == .string("42P01"))
        r = try await Self.call(server, "POST", "/query", body: "SELEC 1")
        #expect(r.status == 400)
        #expect(r.json["sqlstate"] == .string("42601"))
        r = try await Self.call(server, "POST", "/query", body: #"{"query": "SELECT 1", "params": 5}"#)
        #expect(r.status == 400)
        #expect(r.json["code"] == .string("invalid_parameters"))
        r = try await Self.call(server, "POST", "/query", body: #"{"sql": "SELECT 1"}"#)
        #expect(r.status == 400)
        r = try await Self.call(server, "POST", "/query", body: "")
        #expect(r.status == 400)
        r = try await Self.call(server, "POST", "/query", body: "INSERT INTO t VALUES (1, 'dup')")
        #expect(r.status == 409)
        #expect(r.json["sqlstate"] == .string("23505"))
        // Bodies over the limit (1 MiB by default) get 413.
        r = try await Self.call(server, "POST", "/query", body: "SELECT '" + String(repeating: "x", count: 2 << 20) + "'")
        #expect(r.status == 413)
        r = try await Self.call(server, "GET", "/no/such/route")
        #expect(r.status == 404)
        #expect(r.json["ok"] == .bool(false))
        r = try await Self.call(server, "DELETE", "/query")
        #expect(r.status == 405)
        #expect(r.json["ok"] == .bool(false))
    }

    @Test func healthMetricsAndOpenAPI() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        for path in ["/health", "/ready", "/health/live", "/health/ready", "/health/startup"] {
            let r = try await Self.call(server, "GET", path)
            #expect(r.status == 200, "\(path)")
        }
        #expect(try await Self.call(server, "GET", "/health").json["state"] == .string("healthy"))
        #expect(try await Self.call(server, "GET", "/health/live").json["status"] == .string("alive"))
        _ = try await Self.call(server, "POST", "/query", body: "SELECT 1")
        let metrics = try await Self.call(server, "GET", "/metrics")
        #expect(metrics.contentType?.hasPrefix("text/plain") == true)
        for family in ["reddb_queries_total", "reddb_connections_active", "reddb_statement_duration_seconds", "reddb_wal_current_lsn",
                       "reddb_cache_hit_ratio", "reddb_commit_fsync_latency_seconds", "reddb_errors_total"] where family != "reddb_errors_total" {
            #expect(metrics.body.contains(family), "\(family) missing from /metrics")
        }
        let openAPI = try await Self.call(server, "GET", "/openapi.json")
        guard case .object(let paths)? = openAPI.json["paths"] else {
            Issue.record("openapi.json has no paths")
            return
        }
        for path in ["/query", "/health", "/collections/{c}/kvs/{key}", "/collections/{c}/rows", "/collections/{c}/bulk/{kind}", "/config/{key}",
                     "/changes", "/metrics"] {
            #expect(paths.contains { $0.0 == path }, "\(path) missing from openapi.json")
        }
    }

    @Test func collectionsDocumentsAndEntities() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        var r = try await Self.call(server, "POST", "/collections",
                                    body: #"{"name": "users", "columns": [{"name": "id", "type": "BIGINT", "primary_key": true}, {"name": "name", "type": "TEXT"}]}"#)
        #expect(r.status == 201)
        r = try await Self.call(server, "POST", "/collections", body: #"{"name": "users", "model": "document"}"#)
        #expect(r.status == 409)
        r = try await Self.call(server, "POST", "/collections", body: #"{"name": "bad name!"}"#)
        #expect(r.status == 400)
        r = try await Self.call(server, "POST", "/collections/people/documents", body: #"{"body": {"name": "Ada", "age": 36}}"#)
        #expect(r.status == 201)
        guard case .integer(let rid)? = r.json["rid"] else {
            Issue.record("no rid in \(r.body)")
            return
        }
        r = try await Self.call(server, "GET", "/collections/people/entities/\(rid)")
        #expect(r.status == 200)
        #expect(r.json["entity"]?["body"]?["name"] == .string("Ada"))
        r = try await Self.call(server, "PATCH", "/collections/people/entities/\(rid)", body: #"{"fields": {"age": 37}}"#)
        #expect(r.status == 200)
        #expect(r.json["entity"]?["body"]?["age"] == .integer(37))
        r = try await Self.call(server, "GET", "/collections")
        var names: [JSONValue] = []
        if case .array(let items)? = r.json["collections"] { names = items.compactMap { $0["name"] } }
        #expect(names.contains(.string("people")) && names.contains(.string("users")))
        r = try await Self.call(server, "GET", "/collections/people/schema")
        #expect(r.json["model"] == .string("document"))
        #expect(r.json["entity_count"] == .integer(1))
        _ = try await Self.call(server, "POST", "/query", body: #"{"query": "CREATE TABLE priced (p INT CONSTRAINT positive CHECK (p > 0))"}"#)
        r = try await Self.call(server, "GET", "/collections/priced/schema")
        #expect(r.json["checks"] == .array([.object([("expression", .string("p > 0")), ("name", .string("positive"))])]), "\(r.body)")
        r = try await Self.call(server, "GET", "/collections/people/scan?limit=10")
        #expect(r.json["total"] == .integer(1))
        r = try await Self.call(server, "DELETE", "/collections/people/entities/\(rid)")
        #expect(r.status == 200)
        r = try await Self.call(server, "GET", "/collections/people/entities/\(rid)")
        #expect(r.status == 404)
        r = try await Self.call(server, "GET", "/collections/people/entities/abc")
        #expect(r.status == 400)
        r = try await Self.call(server, "DELETE", "/collections/people")
        #expect(r.json["dropped"] == .string("people"))
        r = try await Self.call(server, "GET", "/collections/people/schema")
        #expect(r.status == 404)
    }

    /// The row and bulk routes of the spec's catalogue: rows into a table, items in order, the
    /// first failing item stops the rest with its own status (the ones before it stay).
    @Test func rowAndBulkRoutes() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        var r = try await Self.call(server, "POST", "/collections",
                                    body: #"{"name": "users", "columns": [{"name": "id", "type": "BIGINT", "primary_key": true}, {"name": "name", "type": "TEXT"}]}"#)
        #expect(r.status == 201)
        r = try await Self.call(server, "POST", "/collections/users/rows", body: #"{"fields": {"id": 1, "name": "Ada"}}"#)
        #expect(r.status == 201)
        #expect(r.json["entity"]?["name"] == .string("Ada"))
        #expect(r.json["rid"] != nil && r.json["rid"] == r.json["id"])
        r = try await Self.call(server, "POST", "/collections/users/bulk/rows",
                                body: #"{"items": [{"id": 2, "name": "Bob"}, {"fields": {"id": 3, "name": "Cy"}}]}"#)
        #expect(r.status == 201)
        #expect(r.json["count"] == .integer(2))
        if case .array(let items)? = r.json["items"] { #expect(items.map { $0["entity"]?["name"] } == [.string("Bob"), .string("Cy")]) }
        // Item 1 repeats id 2: 409, item 0 stays, item 2 is not tried.
        r = try await Self.call(server, "POST", "/collections/users/bulk/rows",
                                body: #"{"items": [{"id": 4, "name": "Di"}, {"id": 2, "name": "again"}, {"id": 5, "name": "Ed"}]}"#)
        #expect(r.status == 409)
        #expect(r.json["message"].map { "\($0)".contains("bulk item 1 failed") } == true)
        r = try await Self.call(server, "POST", "/query", body: "SELECT id FROM users ORDER BY id")
        if case .array(let records)? = r.json["result"]?["records"] {
            #expect(records.compactMap { $0["values"]?["id"] } == [1, 2, 3, 4].map { JSONValue.integer($0) })
        } else {
            Issue.record("no records in \(r.body)")
        }
        r = try await Self.call(server, "POST", "/collections/notes/bulk/documents", body: #"{"items": [{"title": "a"}, {"body": {"title": "b"}}]}"#)
        #expect(r.status == 201 && r.json["count"] == .integer(2))
        r = try await Self.call(server, "POST", "/collections/users/bulk/rows", body: #"{"items": []}"#)
        #expect(r.status == 400)
        r = try await Self.call(server, "POST", "/collections/users/bulk/rows", body: #"{"rows": []}"#)
        #expect(r.status == 400)
        r = try await Self.call(server, "POST", "/collections/g/bulk/nodes", body: #"{"items": [{"label": "x"}]}"#)
        #expect(r.status == 201)
        r = try await Self.call(server, "POST", "/collections/g/bulk/unicorns", body: #"{"items": [{"label": "x"}]}"#)
        #expect(r.status == 400)
    }

    @Test func keyValueRoutes() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        var r = try await Self.call(server, "PUT", "/collections/cache/kvs/user%3A1", body: #"{"value": {"name": "Ada"}}"#)
        #expect(r.status == 201)
        #expect(r.json["created"] == .bool(true))
        r = try await Self.call(server, "PUT", "/collections/cache/kvs/user%3A1", body: #"{"value": 42}"#)
        #expect(r.status == 200)
        r = try await Self.call(server, "GET", "/collections/cache/kvs/user%3A1")
        #expect(r.json["key"] == .string("user:1"))
        #expect(r.json["value"] == .integer(42))
        r = try await Self.call(server, "DELETE", "/collections/cache/kvs/user%3A1")
        #expect(r.json["deleted"] == .bool(true))
        r = try await Self.call(server, "GET", "/collections/cache/kvs/user%3A1")
        #expect(r.status == 404)
        #expect(r.json["error"] == .string("key not found: user:1"))
        r = try await Self.call(server, "DELETE", "/collections/cache/kvs/user%3A1")
        #expect(r.status == 404)
        r = try await Self.call(server, "PUT", "/collections/cache/kvs/k", body: "not json")
        #expect(r.status == 400)
    }

    /// The key watch is a snapshot of server-sent events: a key's or a prefix's changes after
    /// `since_lsn` (nothing by default: from now), in commit order, `limit` at a time.
    @Test func keyWatchIsAServerSentEventSnapshot() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        for (method, path, body) in [("PUT", "/collections/cache/kvs/session.a", #"{"value": 1}"#),
                                     ("PUT", "/collections/cache/kvs/session.a", #"{"value": 2}"#),
                                     ("PUT", "/collections/cache/kvs/other", #"{"value": 9}"#),
                                     ("DELETE", "/collections/cache/kvs/session.a", nil),
                                     ("PUT", "/collections/cache/kvs/session.b", #"{"value": "x"}"#)] {
            #expect(try await Self.call(server, method, path, body: body).status < 300)
        }
        func events(_ path: String) async throws -> [JSONValue] {
            let r = try await Self.call(server, "GET", path)
            #expect(r.status == 200 && r.contentType == "text/event-stream", "\(path): \(r.body)")
            return r.body.components(separatedBy: "\n\n").filter { !$0.isEmpty }.compactMap { block in
                #expect(block.hasPrefix("event: kv\ndata: "))
                return try? JSONValue.parse(String(block.dropFirst("event: kv\ndata: ".count)))
            }
        }
        let prefix = try await events("/collections/cache/kvs/session.*/watch?since_lsn=0")
        #expect(prefix.map { $0["key"] } == ["session.a", "session.a", "session.a", "session.b"].map { JSONValue.string($0) })
        #expect(prefix.map { $0["op"] } == ["insert", "update", "delete", "insert"].map { JSONValue.string($0) })
        #expect(prefix.map { $0["after"] } == [.integer(1), .integer(2), .null, .string("x")])
        #expect(prefix.map { $0["before"] } == [.null, .integer(1), .integer(2), .null])
        #expect(try await events("/collections/cache/kv/session.a/watch?since_lsn=0").count == 3)
        // limit: the next call goes on from the last event's lsn.
        let first = try await events("/collections/cache/kvs/session.*/watch?since_lsn=0&limit=1")
        #expect(first.count == 1 && first.first?["op"] == .string("insert"))
        guard case .integer(let lsn)? = first.first?["lsn"] else {
            Issue.record("no lsn")
            return
        }
        let rest = try await events("/collections/cache/kvs/session.*/watch?since_lsn=\(lsn)")
        #expect(rest.map { $0["op"] } == ["update", "delete", "insert"].map { JSONValue.string($0) })
        #expect(try await events("/collections/cache/kvs/session.*/watch").isEmpty)  // from now
        #expect(try await Self.call(server, "GET", "/collections/cache/kvs/session.a/watch?limit=0").status == 400)
        let whoAmI = try await Self.call(server, "GET", "/auth/whoami")
        #expect(whoAmI.json["authenticated"] == .bool(false) && whoAmI.json["username"] == .string("anonymous"))
    }

    @Test func indexRetentionAndReplicationRoutes() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        _ = try await Self.call(server, "POST", "/query", body: "CREATE TABLE t (id BIGINT PRIMARY KEY, email TEXT UNIQUE, score BIGINT)")
        _ = try await Self.call(server, "POST", "/query", body: "CREATE INDEX t_score ON t (score)")
        var r = try await Self.call(server, "GET", "/collections/t/indexes")
        #expect(r.status == 200)
        guard case .array(let indexes)? = r.json["indexes"] else {
            Issue.record("no indexes in \(r.body)")
            return
        }
        #expect(indexes.count == 3)
        #expect(indexes.allSatisfy { $0["status"] == .string("ready") })
        let score = indexes.first { $0["name"] == .string("t_score") }
        #expect(score?["columns"] == .array([.string("score")]) && score?["unique"] == .bool(false))
        #expect(indexes.contains { $0["columns"] == .array([.string("email")]) && $0["unique"] == .bool(true) })
        #expect(try await Self.call(server, "GET", "/collections/nope/indexes").status == 404)
        r = try await Self.call(server, "GET", "/indexes")
        if case .array(let all)? = r.json["indexes"] {
            #expect(all.filter { $0["collection"] == .string("t") }.count == 3)
        } else {
            Issue.record("no indexes in \(r.body)")
        }
        r = try await Self.call(server, "GET", "/catalog/readiness")
        #expect(r.json["ready"] == .bool(true) && r.json["indexes"]?["total"] == .integer(3), "\(r.body)")
        r = try await Self.call(server, "GET", "/catalog/attention")
        #expect(r.json["collections"] == .array([]) && r.json["indexes_needing_attention"] == .integer(0), "\(r.body)")
        _ = try await Self.call(server, "POST", "/query", body: "INSERT INTO t SELECT g, 'u' || g, g % 7 FROM generate_series(1, 200) AS g")
        r = try await Self.call(server, "GET", "/catalog/consistency?structure=true")
        #expect(r.json["consistent"] == .bool(true) && r.json["btree"]?["ok"] == .bool(true), "\(r.body)")
        #expect(r.body.contains(#""collection":"t","consistent":true"#) && r.body.contains(#""entries":200"#) && r.body.contains(#""rows":200"#), "\(r.body)")
        #expect(try await Self.call(server, "GET", "/catalog/consistency?structure=maybe").status == 400)
        r = try await Self.call(server, "POST", "/retention/apply")
        #expect(r.status == 200)
        #expect(r.json["message"].map { "\($0)".contains("vacuum reclaimed") } == true)
        r = try await Self.call(server, "GET", "/replication/status")
        #expect(r.json["role"] == .string("standalone"))
        if case .integer(let lsn)? = r.json["current_lsn"] { #expect(lsn > 0) } else { Issue.record("no current_lsn in \(r.body)") }
    }

    @Test func configTree() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        var r = try await Self.call(server, "GET", "/config")
        #expect(r.json["config"] == .object([]))
        r = try await Self.call(server, "POST", "/config", body: #"{"app": {"name": "shop", "limits": {"rps": 100}}}"#)
        #expect(r.json["imported"] == .integer(2))
        r = try await Self.call(server, "PUT", "/config/app.debug", body: #"{"value": true}"#)
        #expect(r.json["set"] == .integer(1))
        r = try await Self.call(server, "GET", "/config/app.limits.rps")
        #expect(r.json["value"] == .integer(100))
        r = try await Self.call(server, "GET", "/config/app.limits")
        #expect(r.json["value"] == .object([("rps", .integer(100))]))
        r = try await Self.call(server, "GET", "/config")
        #expect(r.json["config"]?["app"]?["debug"] == .bool(true))
        r = try await Self.call(server, "DELETE", "/config/app.limits")
        #expect(r.json["deleted"] == .string("app.limits"))
        r = try await Self.call(server, "GET", "/config/app.limits.rps")
        #expect(r.status == 404)
        r = try await Self.call(server, "PUT", "/config/bad..key", body: "1")
        #expect(r.status == 400)
    }

    @Test func changeFeedListsCommittedChangesInLSNOrder() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        _ = try await Self.call(server, "POST", "/query", body: "CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)")
        _ = try await Self.call(server, "POST", "/query", body: "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        _ = try await Self.call(server, "POST", "/query", body: "UPDATE t SET v = 'c' WHERE id = 2")
        _ = try await Self.call(server, "POST", "/query", body: "BEGIN; INSERT INTO t VALUES (3, 'x'); ROLLBACK")
        _ = try await Self.call(server, "PUT", "/collections/cache/kvs/k", body: #"{"value": 1}"#)
        _ = try await Self.call(server, "POST", "/query", body: "DELETE FROM t WHERE id = 1")
        var r = try await Self.call(server, "GET", "/changes?since_lsn=0")
        #expect(r.status == 200)
        guard case .array(let events)? = r.json["events"] else {
            Issue.record("no events in \(r.body)")
            return
        }
        let summary = events.map { e -> String in
            let id: String
            if case .integer(let rid)? = e["rid"] { id = String(rid) } else if case .string(let key)? = e["key"] { id = key } else { id = "?" }
            if case .string(let op)? = e["operation"], case .string(let c)? = e["collection"] { return "\(op) \(c) \(id)" }
            return "?"
        }
        #expect(summary == ["insert t 1", "insert t 2", "update t 2", "insert cache k", "delete t 1"])
        let kv = events.first { $0["key"] == .string("k") }
        #expect(kv?["before"] == .null && kv?["after"] == .integer(1), "\(String(describing: kv))")
        let lsns = events.compactMap { if case .integer(let l)? = $0["lsn"] { l } else { nil } }
        #expect(lsns == lsns.sorted())
        // Paging: the cursor returns only later commits, and a commit is never split.
        r = try await Self.call(server, "GET", "/changes?since_lsn=0&limit=1")
        guard case .array(let first)? = r.json["events"], case .integer(let cursor)? = r.json["next_lsn"] else {
            Issue.record("bad page \(r.body)")
            return
        }
        #expect(first.count == 2)  // the first commit inserted two rows
        r = try await Self.call(server, "GET", "/changes?since_lsn=\(cursor)")
        if case .array(let rest)? = r.json["events"] { #expect(rest.count == 3) }
        r = try await Self.call(server, "GET", "/changes?since_lsn=abc")
        #expect(r.status == 400)
        // A position past Int64.max stopped the server (the cursor overflowed into the reply).
        r = try await Self.call(server, "GET", "/changes?since_lsn=9223372036854775808")
        #expect(r.status == 200 || r.status == 400, "\(r.status) \(r.body)")
        #expect(try await Self.call(server, "GET", "/health").status == 200)
    }
}

extension JSONValue {
    /// The member `key` of an object (nil for other values or a missing key).
    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }
}
