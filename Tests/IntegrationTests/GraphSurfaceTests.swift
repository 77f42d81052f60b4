import AsyncHTTPClient
import Foundation
import GRPCCore
import NIOCore
import PostgresNIO
import RedClient
import RedCore
import RedDB
import RedProto
import RedWire
import Testing

/// Graph nodes, edges and commands through every surface of the real `red server`: HTTP's
/// `/collections/{c}/nodes|edges` and `/graph/…`, gRPC's graph rpcs, RedWire's GraphTraverse
/// message, PG-wire (the statements, with parameters), and malformed requests on each.
@Suite(.serialized) struct GraphSurfaceTests {
    @Test func httpNodesEdgesAndCommands() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        var r = try await HTTPClientTests.call(server, "POST", "/collections/city/nodes", body: #"{"label":"a","properties":{"pop":10}}"#)
        #expect(r.status == 201 && r.json["rid"] == .integer(1), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/collections/city/bulk/nodes", body: #"{"items":[{"label":"b"},{"label":"c","node_type":"port"}]}"#)
        #expect(r.status == 201 && r.json["count"] == .integer(2), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/collections/city/edges", body: #"{"label":"road","from":"a","to":"b","weight":2}"#)
        #expect(r.status == 201, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/collections/city/bulk/edges",
                                           body: #"{"items":[{"label":"road","from":2,"to":3,"weight":2},{"label":"ferry","from":"a","to":"c","weight":9}]}"#)
        #expect(r.status == 201 && r.json["count"] == .integer(2), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/graph/traverse", body: #"{"source":"a","collection":"city","edge_labels":["road"]}"#)
        guard case .array(let visits)? = r.json["results"] else { Issue.record("no results: \(r.body)"); return }
        #expect(visits.map { $0["label"] } == [.string("a"), .string("b"), .string("c")] && visits.map { $0["depth"] } == [.integer(0), .integer(1), .integer(2)])
        r = try await HTTPClientTests.call(server, "POST", "/graph/neighborhood", body: #"{"source":1,"max_depth":1}"#)
        #expect(r.json["count"] == .integer(3), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/graph/shortest-path", body: #"{"source":"a","target":"c","algorithm":"dijkstra"}"#)
        guard case .array(let paths)? = r.json["results"], let path = paths.first else { Issue.record("no path: \(r.body)"); return }
        #expect(path["total_weight"] == .integer(4) || path["total_weight"] == .float(4), "\(r.body)")
        #expect(path["path"] == .array([.integer(1), .integer(2), .integer(3)]), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/graph/analytics/centrality", body: #"{"collection":"city","algorithm":"pagerank","limit":1}"#)
        #expect(r.json["count"] == .integer(1), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/graph/analytics/pagerank/personalized", body: #"{"source":"b","limit":1}"#)
        #expect(r.json["count"] == .integer(1), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/graph/analytics/hits", body: "{}")
        #expect(r.json["count"] == .integer(3), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/graph/analytics/topological-sort", body: "{}")
        guard case .array(let order)? = r.json["results"] else { Issue.record("no order: \(r.body)"); return }
        #expect(order.map { $0["label"] } == [.string("a"), .string("b"), .string("c")], "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/graph/analytics/properties", body: #"{"node":"a"}"#)
        guard case .array(let properties)? = r.json["results"] else { Issue.record("no properties: \(r.body)"); return }
        #expect(properties.first?["properties"] == .object([("pop", .integer(10))]) && properties.first?["out_degree"] == .integer(2), "\(r.body)")
        for (path, body, status) in [("/graph/traverse", #"{"collection":"city"}"#, 400), ("/graph/analytics/astrology", "{}", 404),
                                     ("/graph/analytics/components", #"{"mode":"sideways"}"#, 400), ("/graph/analytics/centrality", #"{"limit":-1}"#, 400), ("/graph/traverse", #"{"source":"zzz"}"#, 404),
                                     ("/graph/traverse", #"{"source":"a","direction":"up"}"#, 400),
                                     ("/graph/traverse", #"{"source":"a","edge_labels":["x') OR ('1"]}"#, 200),
                                     ("/graph/shortest-path", #"{"source":"a"}"#, 400), ("/collections/city/edges", #"{"label":"road","from":"a","to":"nope"}"#, 404),
                                     ("/collections/city/nodes", #"{"node_type":"x"}"#, 400), ("/collections/city/bulk/unicorns", #"{"items":[{}]}"#, 400)] {
            let reply = try await HTTPClientTests.call(server, "POST", path, body: body)
            #expect(reply.status == status, "\(path) \(body) → \(reply.status) \(reply.body)")
        }
    }

    @Test func grpcGraphRpcs() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await GRPCServerTests.withClient(server) { db, _ in
            let a = try await db.createNode(.with { $0.collection = "g"; $0.payloadJson = #"{"label":"a"}"# })
            let nodes = try await db.bulkCreateNodes(.with { $0.collection = "g"; $0.payloadJson = [#"{"label":"b"}"#, #"{"label":"c"}"#] })
            #expect(a.id == 1 && nodes.items.map(\.id) == [2, 3])
            _ = try await db.createEdge(.with { $0.collection = "g"; $0.payloadJson = #"{"label":"e","from":"a","to":"b"}"# })
            let edges = try await db.bulkCreateEdges(.with { $0.collection = "g"; $0.payloadJson = [#"{"label":"e","from":"b","to":"c"}"#] })
            #expect(edges.count == 1)
            let traversal = try JSONValue.parse(try await db.graphTraverse(.with { $0.payloadJson = #"{"source":"a","strategy":"dfs"}"# }).payload)
            #expect(traversal["count"] == .integer(3))
            let neighborhood = try JSONValue.parse(try await db.graphNeighborhood(.with { $0.payloadJson = #"{"source":"c","direction":"incoming","depth":1}"# }).payload)
            #expect(neighborhood["count"] == .integer(2))
            let path = try JSONValue.parse(try await db.graphShortestPath(.with { $0.payloadJson = #"{"source":"a","target":"c"}"# }).payload)
            guard case .array(let rows)? = path["results"] else { Issue.record("no results"); return }
            #expect(rows.first?["hop_count"] == .integer(2))
            let components = try JSONValue.parse(try await db.graphComponents(.with { $0.payloadJson = #"{"collection":"g"}"# }).payload)
            #expect(components["count"] == .integer(1))
            let cycles = try JSONValue.parse(try await db.graphCycles(.with { $0.payloadJson = "{}" }).payload)
            #expect(cycles["count"] == .integer(0))
            let empty = Reddb_V1_JsonPayloadRequest.with { $0.payloadJson = "{}" }
            let centrality = try JSONValue.parse(try await db.graphCentrality(empty).payload)
            let community = try JSONValue.parse(try await db.graphCommunity(empty).payload)
            let clustering = try JSONValue.parse(try await db.graphClustering(empty).payload)
            let order = try JSONValue.parse(try await db.graphTopologicalSort(empty).payload)
            #expect(centrality["count"] == .integer(3) && community["count"] == .integer(1) && clustering["count"] == .integer(4)
                    && order["count"] == .integer(3))
            let hits = try JSONValue.parse(try await db.graphHits(.with { $0.payloadJson = #"{"collection":"g","limit":1}"# }).payload)
            #expect(hits["count"] == .integer(1))
            let personal = try JSONValue.parse(try await db.graphPersonalizedPagerank(.with { $0.payloadJson = #"{"source":"c"}"# }).payload)
            guard case .array(let ranked)? = personal["results"] else { Issue.record("no results"); return }
            #expect(ranked.first?["label"] == .string("c"))
            let missing = await GRPCServerTests.code { _ = try await db.graphTraverse(.with { $0.payloadJson = #"{"source":"nobody"}"# }) }
            #expect(missing?.0 == .notFound)
            let bad = await GRPCServerTests.code { _ = try await db.createEdge(.with { $0.collection = "g"; $0.payloadJson = #"{"label":"e"}"# }) }
            #expect(bad?.0 == .invalidArgument)
        }
    }

    /// Graph projections and analytics jobs: saved and stepped over HTTP, read and stepped over
    /// gRPC, used by a graph request; steps out of order and readers' changes refused.
    @Test func projectionsAndJobsOverHTTPAndGRPC() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        var r = try await HTTPClientTests.call(server, "POST", "/query", body: """
            INSERT INTO g NODE (label, node_type) VALUES ('a', 'user'), ('b', 'user'), ('x', 'company');
            INSERT INTO g EDGE (label, from, to) VALUES ('knows', 'a', 'b'), ('works_at', 'a', 'x'), ('works_at', 'b', 'x')
            """)
        #expect(r.status == 200, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/graph/projections", body: #"{"name":"users","source":"g","node_types":["user"]}"#)
        #expect(r.status == 200 && r.json["projection"]?["status"] == .string("declared"), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/graph/analytics/properties", body: #"{"projection":"users"}"#)
        #expect(r.body.contains(#""node_count":2"#) && r.body.contains(#""edge_count":1"#), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/graph/analytics/properties", body: #"{"projection":"users","collection":"g"}"#)
        #expect(r.status == 400, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/graph/projections/users/materialize")
        #expect(r.json["projection"]?["node_count"] == .integer(2) && r.json["projection"]?["status"] == .string("materialized"), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/graph/projections/users/explode")
        #expect(r.status == 404, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/graph/projections", body: #"{"name":"bad","source":"nowhere"}"#)
        #expect(r.status == 404, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/graph/jobs", body: #"{"name":"rank","kind":"pagerank","projection":"users","parameters":{"limit":5}}"#)
        #expect(r.json["job"]?["status"] == .string("declared"), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/graph/jobs/complete", body: #"{"name":"rank"}"#)
        #expect(r.status == 409 && r.json["code"] == .string("object_not_in_prerequisite_state"), "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/graph/jobs/queue", body: #"{"name":"rank"}"#)
        #expect(r.json["job"]?["status"] == .string("queued"), "\(r.body)")

        try await GRPCServerTests.withClient(server) { db, _ in
            func payload(_ reply: Reddb_V1_PayloadReply) throws -> JSONValue { try JSONValue.parse(reply.payload) }
            #expect(try payload(try await db.graphProjections(Reddb_V1_Empty())).text.contains(#""name":"users""#))
            let declared = try payload(try await db.declaredGraphProjections(Reddb_V1_Empty()))
            #expect(declared.text.contains(#""node_types":["user"]"#) && !declared.text.contains("status"), "\(declared.text)")
            #expect(try payload(try await db.operationalGraphProjections(Reddb_V1_Empty())).text.contains(#""status":"materialized""#))
            #expect(try payload(try await db.graphProjectionStatuses(Reddb_V1_Empty())).text.contains(#"{"name":"users","status":"materialized"}"#))
            #expect(try payload(try await db.graphProjectionAttention(Reddb_V1_Empty()))["projections"] == .array([]))
            _ = try await db.markGraphProjectionStale(.with { $0.name = "users" })
            #expect(try payload(try await db.graphProjectionAttention(Reddb_V1_Empty())).text.contains(#""status":"stale""#))
            _ = try await db.markGraphProjectionMaterializing(.with { $0.name = "users" })
            _ = try await db.failGraphProjection(.with { $0.name = "users" })
            let saved = try payload(try await db.saveGraphProjection(.with { $0.name = "all"; $0.source = "g"; $0.edgeLabels = ["knows"] }))
            #expect(saved["projection"]?["edge_labels"] == .array([.string("knows")]))
            let materialized = try payload(try await db.materializeGraphProjection(.with { $0.name = "all" }))
            #expect(materialized["projection"]?["edge_count"] == .integer(1) && materialized["projection"]?["node_count"] == .integer(3))
            let unknown = await GRPCServerTests.code { _ = try await db.materializeGraphProjection(.with { $0.name = "nope" }) }
            #expect(unknown?.0 == .notFound)

            let job = Reddb_V1_JsonPayloadRequest.with { $0.payloadJson = #"{"name":"rank"}"# }
            _ = try await db.startAnalyticsJob(job)
            let done = try payload(try await db.completeAnalyticsJob(.with { $0.payloadJson = #"{"name":"rank","result":{"rows":2}}"# }))
            #expect(done["job"]?["status"] == .string("completed") && done["job"]?["result"] == .object([("rows", .integer(2))]))
            _ = try await db.markAnalyticsJobStale(job)
            #expect(try payload(try await db.analyticsJobAttention(Reddb_V1_Empty())).text.contains(#""status":"stale""#))
            _ = try await db.queueAnalyticsJob(job)
            _ = try await db.failAnalyticsJob(.with { $0.payloadJson = #"{"name":"rank","error":"worker lost"}"# })
            #expect(try payload(try await db.analyticsJobStatuses(Reddb_V1_Empty())).text.contains(#"{"name":"rank","status":"failed"}"#))
            #expect(try payload(try await db.operationalAnalyticsJobs(Reddb_V1_Empty())).text.contains(#""error":"worker lost""#))
            #expect(try payload(try await db.declaredAnalyticsJobs(Reddb_V1_Empty())).text.contains(#""kind":"pagerank""#))
            #expect(try payload(try await db.analyticsJobs(Reddb_V1_Empty())).text.contains(#""projection":"users""#))
            _ = try await db.saveAnalyticsJob(.with { $0.payloadJson = #"{"name":"count","kind":"properties"}"# })
            let outOfOrder = await GRPCServerTests.code { _ = try await db.completeAnalyticsJob(.with { $0.payloadJson = #"{"name":"count"}"# }) }
            #expect(outOfOrder?.0 == .failedPrecondition)
            let badKind = await GRPCServerTests.code { _ = try await db.saveAnalyticsJob(.with { $0.payloadJson = #"{"name":"x","kind":"tarot"}"# }) }
            #expect(badKind?.0 == .invalidArgument)
        }
        r = try await HTTPClientTests.call(server, "GET", "/graph/jobs")
        #expect(r.body.contains(#""name":"count""#) && r.body.contains(#""name":"rank""#), "\(r.body)")
        r = try await HTTPClientTests.call(server, "GET", "/graph/projections")
        #expect(r.body.contains(#""name":"all""#) && r.body.contains(#""status":"failed""#), "\(r.body)")
    }

    @Test func redWireGraphTraverseAndPGWire() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await PostgresClientTests.withConnection(server) { conn in
            _ = try await conn.query("INSERT INTO net NODE (label) VALUES ('x'), ('y'), ('z')", logger: PostgresClientTests.logger)
            _ = try await conn.query("INSERT INTO net EDGE (label, from, to) VALUES ('link', \("x"), \("y")), ('link', \("y"), \("z"))", logger: PostgresClientTests.logger)
            let rows = try await conn.query("GRAPH TRAVERSE net FROM \("x") DEPTH \(1)", logger: PostgresClientTests.logger)
            var labels: [String] = []
            for try await (id, label) in rows.decode((Int64, String).self, context: .default) { labels.append("\(id) \(label)") }
            #expect(labels == ["1 x", "2 y"])
        }
        let socket = try RedWireServerTests.connect(server)
        func send(_ id: UInt64, _ text: String) -> Frame? { RedWireServerTests.request(socket, .graphTraverse, id, text) }
        let reply = try #require(send(3, #"{"source":"x","collection":"net"}"#))
        #expect(reply.kind == .result && reply.correlationID == 3, "\(RedWireServerTests.text(reply))")
        #expect(try JSONValue.parse(RedWireServerTests.text(reply))["record_count"] == .integer(3))
        for (id, body) in [(4, ""), (5, "[]"), (6, #"{"collection":"net"}"#), (7, #"{"source":"x","max_depth":-1}"#), (8, #"{"source":"x","strategy":"sideways"}"#),
                           (9, #"{"source":"nobody"}"#), (10, String(repeating: "{\"a\":", count: 50_000))] {
            let answer = send(UInt64(id), body)
            #expect(answer?.kind == .error && answer?.correlationID == UInt64(id), "\(body.prefix(30)) → \(RedWireServerTests.text(answer))")
        }
        #expect(send(11, #"{"source":"z","direction":"incoming"}"#)?.kind == .result)
    }

    @Test func textSearchOverHTTPAndGRPC() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        var r = try await HTTPClientTests.call(server, "POST", "/query", body: #"INSERT INTO kb DOCUMENT VALUES ({"title": "Graph databases", "body": "nodes and edges"})"#)
        #expect(r.status == 200, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/query", body: "INSERT INTO kb DOCUMENT VALUES ({\"title\": \"Vector search\"})")
        for path in ["/text/search", "/search"] {
            r = try await HTTPClientTests.call(server, "POST", path, body: #"{"query":"graph edges","collections":["kb"],"limit":5}"#)
            guard case .array(let hits)? = r.json["results"] else { Issue.record("no results: \(r.body)"); return }
            #expect(hits.map { $0["entity_id"] } == [.integer(1)] && hits.first?["kind"] == .string("document"), "\(r.body)")
        }
        r = try await HTTPClientTests.call(server, "POST", "/text/search", body: #"{"query":"serch","fuzzy":true}"#)
        #expect(r.json["count"] == .integer(1), "\(r.body)")
        for body in [#"{}"#, #"{"query":"x","collections":"kb"}"#, #"{"query":"x","limit":-1}"#, #"{"query":"..."}"#, #"{"query":"x","fuzzy":"yes"}"#] {
            let reply = try await HTTPClientTests.call(server, "POST", "/text/search", body: body)
            #expect(reply.status == 400, "\(body) → \(reply.status) \(reply.body)")
        }
        _ = try await HTTPClientTests.call(server, "POST", "/query", body: "INSERT INTO hv VECTOR (dense, content) VALUES ([1, 0], 'red apple'), ([0, 1], 'green pear')")
        r = try await HTTPClientTests.call(server, "POST", "/hybrid/search", body: #"{"collection":"hv","vector":[0,1],"query":"pear","limit":1}"#)
        guard case .array(let fused)? = r.json["results"] else { Issue.record("no results: \(r.body)"); return }
        #expect(fused.map { $0["entity_id"] } == [.integer(2)], "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/hybrid/search", body: #"{"collection":"hv"}"#)
        #expect(r.status == 400, "\(r.body)")
        try await GRPCServerTests.withClient(server) { db, _ in
            let hybrid = try JSONValue.parse(try await db.hybridSearch(.with { $0.payloadJson = #"{"collection":"hv","query":"apple"}"# }).payload)
            #expect(hybrid["count"] == .integer(1))
            for call in [true, false] {
                let request = Reddb_V1_JsonPayloadRequest.with { $0.payloadJson = #"{"query":"vector","collection":"kb"}"# }
                let payload = try JSONValue.parse((call ? try await db.textSearch(request) : try await db.search(request)).payload)
                #expect(payload["count"] == .integer(1))
            }
            let missing = await GRPCServerTests.code { _ = try await db.textSearch(.with { $0.payloadJson = #"{"query":"x","collection":"nowhere"}"# }) }
            #expect(missing?.0 == .notFound)
        }
    }
}

extension GraphSurfaceTests {
    /// `SEARCH CONTEXT` and `SEARCH MULTIMODAL` over HTTP (`/context`, `/multimodal/search`) and gRPC.
    @Test func contextAndMultimodalSearchOverHttpAndGrpc() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        var r = try await HTTPClientTests.call(server, "POST", "/query", body: """
            CREATE TABLE customers (id INT, email TEXT); INSERT INTO customers VALUES (1, 'ana@example.com'); \
            INSERT INTO people NODE (label) VALUES ('ana@example.com'), ('acme'); \
            INSERT INTO people EDGE (label, from, to) VALUES ('works_at', 'ana@example.com', 'acme')
            """)
        #expect(r.status == 200, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/context", body: #"{"query": "ana@example.com", "depth": 1}"#)
        #expect(r.status == 200, "\(r.body)")
        #expect(r.json["summary"]?["total"] == .integer(4) && r.json["summary"]?["graph_node"] == .integer(2), "\(r.body)")
        #expect(r.json["tables"] == .array([.object([("collection", .string("customers")), ("entity_id", .integer(1)), ("score", .float(1)),
                                                     ("discovery", .string("exact"))])]))
        r = try await HTTPClientTests.call(server, "POST", "/context", body: #"{"query": 5}"#)
        #expect(r.status == 400)
        r = try await HTTPClientTests.call(server, "POST", "/multimodal/search", body: #"{"query": "acme"}"#)
        #expect(r.json["count"] == .integer(1), "\(r.body)")
        try await GRPCServerTests.withClient(server) { db, _ in
            let reply = try await db.contextSearch(.with { $0.payloadJson = #"{"query": "acme", "depth": 0}"# })
            #expect(try JSONValue.parse(reply.payload)["summary"]?["total"] == .integer(1))
            let multimodal = try await db.multimodalSearch(.with { $0.payloadJson = #"{"query": "ana"}"# })
            #expect(try JSONValue.parse(multimodal.payload)["count"] == .integer(2))
        }
    }
}
