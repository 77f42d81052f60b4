import AsyncHTTPClient
import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import RedClient
import RedCore
import RedDB
import RedProto
import RedWire
import Testing

/// Vector items and similarity search (and RedClient's graph helpers) through every surface of the real `red server`:
/// RedClient (RedWire's VectorSearch message, and the `VECTOR SEARCH` statement over gRPC
/// and HTTP), HTTP's `/vectors` and `/similar`, gRPC's vector rpcs, PG-wire with the query
/// vector as a bound parameter, and malformed requests on each.
@Suite(.serialized) struct VectorSurfaceTests {
    /// Five points on a line: the nearest to (0, 0) are in rid order, at distances 1…5.
    static let points: [[Float]] = (1...5).map { [Float($0), 0] }

    @Test func redClientSearchesAlikeOverEveryTransport() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let setup = try await RedClient.connect("red://127.0.0.1:\(server.wirePort)")
        try await setup.execute("CREATE VECTOR line DIM 2 METRIC L2")
        for (i, point) in Self.points.enumerated() {
            let rid = try await setup.insertVector(point, content: "p\(i + 1)", metadata: .object([("odd", .bool(i % 2 == 0))]), into: "line")
            #expect(rid == Int64(i + 1))
        }
        try await setup.close()
        var answers: [[String]] = []
        for url in RedClientTests.urls(server) {
            let db = try await RedClient.connect(url)
            let near = try await db.vectorSearch("line", vector: [0, 0], k: 3)
            #expect(near.columns.map(\.name) == ["entity_id", "score", "distance", "collection", "created_at", "updated_at", "dimension", "content", "metadata"],
                    "\(url)")
            let odd = try await db.vectorSearch("line", vector: [10, 0], k: 10, filter: "odd = true AND content <> 'p1'", includeVectors: true)
            let far = try await db.vectorSearch("line", vector: [0, 0], metric: .innerProduct, threshold: -2)
            answers.append([near.rows.map { "\($0[0].displayText):\($0[2].displayText)" }.joined(separator: " "),
                            odd.rows.map { "\($0[0].displayText) \($0[9].displayText)" }.joined(separator: ","),
                            "\(far.rows.count)"])
            let mismatch = await RedClientTests.code { _ = try await db.vectorSearch("line", vector: [1, 2, 3]) }
            #expect(mismatch == .invalidArgument, "\(url)")
            let badFilter = await RedClientTests.code { _ = try await db.vectorSearch("line", vector: [1, 2], filter: "odd = true; DROP VECTOR line") }
            #expect(badFilter == .syntaxError, "\(url)")
            try await db.close()
        }
        #expect(answers.first == ["1:1 2:2 3:3", "5 [5,0],3 [3,0]", "5"])
        #expect(Set(answers.map { $0 }).count == 1, "\(answers)")
        // The malformed filter never ran: the collection is still there.
        let check = try await RedClient.connect("red://127.0.0.1:\(server.wirePort)")
        #expect(try await check.query("SELECT count(*) FROM line").rows[0][0] == .integer(5))
        try await check.close()
    }

    @Test func redClientGraphHelpersAlikeOverEveryTransport() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let setup = try await RedClient.connect("red://127.0.0.1:\(server.wirePort)")
        for name in ["a", "b", "c", "d"] { try await setup.insertNode(label: name, type: "city", properties: .object([("name", .string(name))]), into: "roads") }
        try await setup.insertEdge(label: "road", from: .text("a"), to: .text("b"), weight: 1, into: "roads")
        try await setup.insertEdge(label: "road", from: .integer(2), to: .integer(3), weight: 1, into: "roads")
        try await setup.insertEdge(label: "toll", from: .text("a"), to: .text("c"), weight: 5, into: "roads")
        try await setup.close()
        var answers: [[String]] = []
        for url in RedClientTests.urls(server) {
            let db = try await RedClient.connect(url)
            let all = try await db.graphTraverse(from: "a", in: "roads")
            let roads = try await db.graphTraverse(from: "a", depthFirst: true, maxDepth: 1, edgeLabels: ["road"])
            let back = try await db.graphTraverse(from: "c", direction: .incoming)
            let path = try await db.graphShortestPath(from: "a", to: "c", algorithm: "dijkstra")
            answers.append([all.rows.map { "\($0[1].displayText)@\($0[3].displayText)" }.joined(separator: " "),
                            roads.rows.map { $0[1].displayText }.joined(separator: " "),
                            back.rows.map { $0[1].displayText }.joined(separator: " "),
                            "\(path.rows[0][4].displayText) \(path.rows[0][5].displayText)"])
            let missing = await RedClientTests.code { _ = try await db.graphTraverse(from: "nowhere") }
            #expect(missing == .undefinedObject, "\(url)")
            try await db.close()
        }
        #expect(answers.first == ["a@0 b@1 c@1", "a b", "c b a", "2 2"], "\(answers)")
        #expect(Set(answers).count == 1, "\(answers)")
    }

    @Test func httpVectorAndSimilarRoutes() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        var r = try await HTTPClientTests.call(server, "POST", "/collections", body: #"{"name":"docs","model":"vector","dimension":3}"#)
        #expect(r.status == 201, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/collections", body: #"{"name":"bad","model":"vector","dimension":0}"#)
        #expect(r.status == 400, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/collections/docs/vectors", body: #"{"dense":[1,0,0],"content":"x","metadata":{"tag":"a"}}"#)
        #expect(r.status == 201 && r.json["rid"] == .integer(1), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/collections/docs/bulk/vectors",
                                           body: #"{"items":[{"embedding":[0,1,0]},{"dense":[0.6,0.8,0],"metadata":{"tag":"b"}}]}"#)
        #expect(r.status == 201 && r.json["count"] == .integer(2), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/collections/docs/similar", body: #"{"vector":[1,0,0],"k":2}"#)
        #expect(r.status == 200, "\(r.body)")
        guard case .array(let hits)? = r.json["results"] else { Issue.record("no results: \(r.body)"); return }
        #expect(hits.map { $0["entity_id"] } == [.integer(1), .integer(3)])
        #expect(hits.first?["score"] == .float(1) || hits.first?["score"] == .integer(1))
        r = try await HTTPClientTests.call(server, "POST", "/collections/docs/ivf/search",
                                           body: #"{"reference":{"collection":"docs","id":2},"filter":"tag IS NULL","include_vectors":true}"#)
        guard case .array(let byReference)? = r.json["results"] else { Issue.record("no results: \(r.body)"); return }
        #expect(byReference.map { $0["entity_id"] } == [.integer(2)] && byReference.first?["dense"] == .array([.integer(0), .integer(1), .integer(0)]),
                "\(r.body)")
        // Bad requests: a clear 4xx, never a crash.
        for (body, status, code) in [(#"{"vector":[1,0]}"#, 400, "22023"), (#"{"vector":"x"}"#, 400, "22P02"), (#"{"k":3}"#, 400, "22023"),
                                     (#"{"vector":[1,0,0],"filter":"1 = 1) OR (1 = 1"}"#, 400, "42601"),
                                     (#"{"vector":[1,0,0],"metric":"manhattan"}"#, 400, "22023"),
                                     (#"{"vector":[1,0,0],"k":1000000}"#, 413, "54000"), (#"[1,2,3]"#, 400, "22023")] {
            let reply = try await HTTPClientTests.call(server, "POST", "/collections/docs/similar", body: body)
            #expect(reply.status == status && reply.json["sqlstate"] == .string(code), "\(body) → \(reply.status) \(reply.body)")
        }
        // A trailing comment in the filter cannot swallow the clauses after it: k still applies.
        r = try await HTTPClientTests.call(server, "POST", "/collections/docs/similar", body: #"{"vector":[1,0,0],"filter":"true --","k":1}"#)
        #expect(r.json["count"] == .integer(1), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/collections/nowhere/similar", body: #"{"vector":[1]}"#)
        #expect(r.status == 404, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/collections/docs/vectors", body: #"{"dense":[1,2,3,4]}"#)
        #expect(r.status == 400, "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/collections/docs/schema")
        #expect(r.json["dimension"] == .integer(3) && r.json["metric"] == .string("cosine") && r.json["entity_count"] == .integer(3)
                && r.json["model"] == .string("vector"), "\(r.body)")
    }

    /// `--vector-cache-mib`: 0 turns the in-memory copies off (searches read the records and
    /// answer the same); a negative size is refused before the server starts.
    @Test func vectorCacheFlag() async throws {
        let refused = try RedClientCLITests.red(["server", "--path", NSTemporaryDirectory() + "vc-\(UUID().uuidString).rdb", "--vector-cache-mib=-1"])
        #expect(refused.status != 0 && refused.err.contains("vector cache size"), "\(refused)")
        for arguments in [["--vector-cache-mib", "0"], ["--vector-cache-mib", "1"]] {
            let server = try ServerProcess(arguments: arguments)
            defer { server.remove() }
            var r = try await HTTPClientTests.call(server, "POST", "/collections", body: #"{"name":"docs","model":"vector","dimension":2}"#)
            #expect(r.status == 201, "\(r.body)")
            r = try await HTTPClientTests.call(server, "POST", "/collections/docs/bulk/vectors", body: #"{"items":[{"dense":[1,0]},{"dense":[0,1]},{"dense":[1,1]}]}"#)
            for _ in 0..<2 {
                r = try await HTTPClientTests.call(server, "POST", "/collections/docs/similar", body: #"{"vector":[1,0.1],"k":2}"#)
                guard case .array(let hits)? = r.json["results"] else { Issue.record("no results: \(r.body)"); return }
                #expect(hits.map { $0["entity_id"] } == [.integer(1), .integer(3)], "\(arguments): \(r.body)")
            }
        }
    }

    @Test func grpcVectorRpcs() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await GRPCServerTests.withClient(server) { db, _ in
            _ = try await db.query(GRPCServerTests.query("CREATE VECTOR emb DIM 2 METRIC INNER_PRODUCT"))
            let one = try await db.createVector(.with { $0.collection = "emb"; $0.payloadJson = #"{"dense":[1,1],"content":"diag"}"# })
            #expect(one.ok && one.id == 1)
            let bulk = try await db.bulkCreateVectors(.with { $0.collection = "emb"; $0.payloadJson = [#"{"dense":[2,0]}"#, #"{"dense":[0,3]}"#] })
            #expect(bulk.count == 2 && bulk.items.map(\.id) == [2, 3])
            for similar in [true, false] {
                let request = Reddb_V1_JsonCreateRequest.with { $0.collection = "emb"; $0.payloadJson = #"{"vector":[0,1],"k":2}"# }
                let reply = similar ? try await db.similar(request) : try await db.ivfSearch(request)
                let payload = try JSONValue.parse(reply.payload)
                guard case .array(let hits)? = payload["results"] else { Issue.record("no results: \(reply.payload)"); return }
                #expect(hits.map { $0["entity_id"] } == [.integer(3), .integer(1)] && payload["count"] == .integer(2))
            }
            let mismatch = await GRPCServerTests.code {
                _ = try await db.similar(.with { $0.collection = "emb"; $0.payloadJson = #"{"vector":[0,1,2]}"# })
            }
            #expect(mismatch?.0 == .invalidArgument)
            let missing = await GRPCServerTests.code {
                _ = try await db.createVector(.with { $0.collection = "emb"; $0.payloadJson = #"{"content":"no vector"}"# })
            }
            #expect(missing?.0 == .invalidArgument)
        }
    }

    @Test func pgWireBindsTheQueryVectorAsText() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await PostgresClientTests.withConnection(server) { conn in
            // The first insert creates the collection; the extended protocol describes its RETURNING first.
            let first = try await conn.query("INSERT INTO fresh VECTOR (dense, content) VALUES (\("[1,2]"), \("x")) RETURNING rid, content",
                                             logger: PostgresClientTests.logger)
            var created: [String] = []
            for try await (rid, content) in first.decode((Int64, String).self) { created.append("\(rid) \(content)") }
            #expect(created == ["1 x"])
            let node = try await conn.query("INSERT INTO freshgraph NODE (label) VALUES (\("n")) RETURNING rid, kind", logger: PostgresClientTests.logger)
            var nodes: [String] = []
            for try await (rid, kind) in node.decode((Int64, String).self) { nodes.append("\(rid) \(kind)") }
            #expect(nodes == ["1 node"])
            _ = try await conn.query("CREATE VECTOR pg DIM 3", logger: PostgresClientTests.logger)
            _ = try await conn.query("INSERT INTO pg VECTOR (dense, content) VALUES (\("[1,0,0]"), \("x")), (\("[0,1,0]"), \("y"))",
                                     logger: PostgresClientTests.logger)
            let rows = try await conn.query("SELECT entity_id, content, score FROM (VECTOR SEARCH pg SIMILAR TO \("[0,0.9,0.1]") LIMIT \(1)) s",
                                            logger: PostgresClientTests.logger)
            var seen: [String] = []
            for try await (id, content, score) in rows.decode((Int64, String, Double).self) {
                seen.append("\(id) \(content) \(score > 0.99)")
            }
            #expect(seen == ["2 y true"])
            // Vectors travel as pgvector's `vector` type (binary here: PostgresNIO asks for binary); as text after a cast.
            let dense = try await conn.query("SELECT dense::text, dense FROM pg ORDER BY rid", logger: PostgresClientTests.logger)
            var vectors: [String] = []
            for try await row in dense {
                let cells = Array(row)
                vectors.append(try cells[0].decode(String.self))
                #expect(cells[1].dataType.rawValue == 16_300)
                var bytes = cells[1].bytes ?? ByteBuffer()
                #expect(bytes.readInteger(as: Int16.self) == 3 && bytes.readInteger(as: Int16.self) == 0 && bytes.readableBytes == 12)
            }
            #expect(vectors == ["[1,0,0]", "[0,1,0]"])
        }
    }

    @Test func redWireVectorSearchFramesAndMalformedOnes() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try RedWireServerTests.connect(server)
        func send(_ kind: MessageKind, _ id: UInt64, _ text: String) -> Frame? { RedWireServerTests.request(socket, kind, id, text) }
        #expect(send(.query, 3, "CREATE VECTOR v DIM 2")?.kind == .result)
        #expect(send(.query, 4, "INSERT INTO v VECTOR (dense) VALUES ([1, 0]), ([0, 1])")?.kind == .result)
        let hit = try #require(send(.vectorSearch, 5, #"{"collection":"v","vector":[0.1,0.9],"k":1}"#))
        #expect(hit.kind == .result && hit.correlationID == 5, "\(RedWireServerTests.text(hit))")
        let envelope = try JSONValue.parse(RedWireServerTests.text(hit))
        #expect(envelope["record_count"] == .integer(1))
        for (id, body) in [(6, ""), (7, "{"), (8, #"{"vector":[1,0]}"#), (9, #"{"collection":"v"}"#), (10, #"{"collection":"v","vector":[1,0],"filter":"x IN"}"#),
                           (11, #"{"collection":"nope","vector":[1,0]}"#), (12, String(repeating: "[", count: 100_000))] {
            let reply = send(.vectorSearch, UInt64(id), body)
            #expect(reply?.kind == .error && reply?.correlationID == UInt64(id), "\(body.prefix(40)) → \(RedWireServerTests.text(reply))")
        }
        // Still usable after every error.
        #expect(send(.vectorSearch, 13, #"{"collection":"v","vector":[1,0],"k":5}"#)?.kind == .result)
    }

    /// Random mutations of valid VectorSearch and GraphTraverse bodies (fields dropped, values
    /// of every JSON type, huge and negative numbers, deep nesting, raw noise): each gets one
    /// Result or Error frame with its correlation id, and the connection and server stay up.
    @Test func mutatedSearchAndTraverseFramesNeverHurtTheServer() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try RedWireServerTests.connect(server)
        #expect(RedWireServerTests.request(socket, .query, 3, "INSERT INTO fv VECTOR (dense) VALUES ([1, 0]), ([0, 1])")?.kind == .result)
        #expect(RedWireServerTests.request(socket, .query, 4, "INSERT INTO fg NODE (label) VALUES ('a'), ('b')")?.kind == .result)
        var generator = SystemRandomNumberGenerator()
        let values = ["null", "true", "-1", "0", "3", "99999999999999999999", "1e400", "-1e-400", "\"\"", "\"a\"", "\"fv\"", "\"fg\"", "[]", "[1,0]",
                      "[1,0,0]", "[\"x\"]", "{}", "{\"collection\":\"fv\",\"id\":1}", String(repeating: "[", count: 300) + String(repeating: "]", count: 300),
                      "\"'; DROP VECTOR fv; --\"", "\"1) OR (1\"", "[1e38,1e38,1e38,1e38,1e38,1e38,1e38,1e38]"]
        let searchFields = ["collection", "vector", "dense", "reference", "k", "limit", "metric", "threshold", "filter", "include_vectors"]
        let traverseFields = ["source", "collection", "strategy", "max_depth", "depth", "direction", "edge_labels"]
        for id in UInt64(10)..<UInt64(310) {
            let kind: MessageKind = id % 2 == 0 ? .vectorSearch : .graphTraverse
            let fields = kind == .vectorSearch ? searchFields : traverseFields
            var members = kind == .vectorSearch ? ["\"collection\":\"fv\"", "\"vector\":[1,0]"] : ["\"source\":\"a\""]
            for _ in 0..<Int.random(in: 0...4, using: &generator) {
                members.append("\"\(fields.randomElement(using: &generator)!)\":\(values.randomElement(using: &generator)!)")
            }
            if Bool.random(using: &generator) { members.shuffle(using: &generator); members.removeLast() }
            var body = Array("{\(members.joined(separator: ","))}".utf8)
            if id % 17 == 0 { body = (0..<Int.random(in: 1...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) } }
            let reply = RedWireServerTests.request(socket, Frame(kind, correlationID: id, payload: body))
            #expect(reply?.correlationID == id && (reply?.kind == .result || reply?.kind == .error), "\(String(decoding: body, as: UTF8.self))")
        }
        #expect(RedWireServerTests.request(socket, .query, 400, "SELECT count(*) FROM fv")?.kind == .result)
        #expect(server.process.isRunning)
    }
}
