import AITestSupport
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import PostgresNIO
import RedClient
import RedCore
import RedProto
import Testing

/// The AI features through the real `red server`, its providers pointed at a fake
/// OpenAI/Anthropic server: HTTP `/ai/*` and `ASK … STREAM`, gRPC `Embeddings`/`Ask`/
/// `AskStream`, PG-wire and RedWire running `ASK` and `SEARCH SIMILAR TEXT`.
@Suite(.serialized) struct AISurfaceTests {
    static func withServer(_ body: (ServerProcess, FakeAIProvider) async throws -> Void) async throws {
        let fake = FakeAIProvider()
        try await fake.start()
        defer { fake.stop() }
        let server = try ServerProcess(environment: fake.environment)
        defer { server.remove() }
        try await body(server, fake)
    }

    static func shop(_ server: ServerProcess) async throws {
        let r = try await HTTPClientTests.call(server, "POST", "/query", body: """
            CREATE TABLE orders (id INT, customer TEXT, status TEXT); \
            INSERT INTO orders VALUES (1, 'alice', 'shipped ORD-2041'), (2, 'bob', 'pending')
            """)
        #expect(r.status == 200, "\(r.body)")
    }

    @Test func httpEmbeddingsPromptAskAndCredentials() async throws {
        try await Self.withServer { server, fake in
            try await Self.shop(server)
            var r = try await HTTPClientTests.call(server, "POST", "/ai/embeddings",
                                                   body: #"{"inputs": ["red apple", "green pear"], "dimensions": 4, "save": {"collection": "fruit", "include_content": true}}"#)
            #expect(r.status == 200, "\(r.body)")
            #expect(r.json["count"] == .integer(2) && r.json["provider"] == .string("openai"))
            guard case .array(let saved)? = r.json["saved"] else { Issue.record("no saved"); return }
            #expect(saved.count == 2)
            r = try await HTTPClientTests.call(server, "POST", "/query", body: "SELECT content FROM fruit ORDER BY rid")
            #expect(r.body.contains("red apple") && r.body.contains("green pear"))
            r = try await HTTPClientTests.call(server, "POST", "/ai/embeddings",
                                               body: #"{"source_query": "SELECT rid, status FROM orders", "source_field": "status"}"#)
            #expect(r.json["count"] == .integer(2), "\(r.body)")
            r = try await HTTPClientTests.call(server, "POST", "/ai/embeddings", body: #"{"input": "x", "provider": "anthropic"}"#)
            #expect(r.status == 400)
            r = try await HTTPClientTests.call(server, "POST", "/ai/embeddings", body: #"{"input": "x", "inputs": ["y"]}"#)
            #expect(r.status == 400)
            r = try await HTTPClientTests.call(server, "POST", "/ai/prompt", body: #"{"prompt": "[^1] a: hello", "save": {"collection": "answers"}}"#)
            #expect(r.status == 200, "\(r.body)")
            #expect(r.json["outputs"]?.text.contains("hello") == true)
            r = try await HTTPClientTests.call(server, "POST", "/ai/ask", body: #"{"question": "What is the status of order ORD-2041?", "limit": 5}"#)
            #expect(r.status == 200, "\(r.body)")
            #expect(r.json["answer"]?.text.contains("ORD-2041") == true && r.json["mode"] == .string("strict"))
            // A custom provider URL needs an admin's allowance first.
            let custom = #"{"input": "x", "provider": "\#(fake.baseURL)"}"#
            r = try await HTTPClientTests.call(server, "POST", "/ai/embeddings", body: custom)
            #expect(r.status == 403, "\(r.body)")
            r = try await HTTPClientTests.call(server, "POST", "/ai/credentials", body: #"{"provider": "\#(fake.baseURL)"}"#)
            #expect(r.status == 200, "\(r.body)")
            r = try await HTTPClientTests.call(server, "POST", "/ai/embeddings", body: custom)
            #expect(r.status == 200, "\(r.body)")
            r = try await HTTPClientTests.call(server, "POST", "/ai/credentials", body: #"{"provider": "openai", "api_key": "sk-x"}"#)
            #expect(r.status == 400 && r.body.contains("REDDB_OPENAI_API_KEY"))
            r = try await HTTPClientTests.call(server, "POST", "/ai/credentials", body: #"{"provider": "ollama", "api_base": "http://127.0.0.1:1/v1", "default": true}"#)
            #expect(r.status == 200 && r.json["default_model"] == .string("llama3"), "\(r.body)")
            // The default is now an unreachable ollama: ASK says so as a provider failure.
            r = try await HTTPClientTests.call(server, "POST", "/ai/ask", body: #"{"question": "status of ORD-2041"}"#)
            #expect(r.status == 502, "\(r.body)")
            r = try await HTTPClientTests.call(server, "GET", "/metrics")
            #expect(r.body.contains(#"reddb_ai_provider_requests_total{provider="openai",model="text-embedding-3-small",status="ok"}"#), "\(r.body)")
            #expect(r.body.contains(#"provider="ollama",model="llama3",status="transport_error""#))
            #expect(r.body.contains("reddb_ai_provider_request_duration_ms"))
        }
    }

    @Test func httpAskStreamIsServerSentEvents() async throws {
        try await Self.withServer { server, _ in
            try await Self.shop(server)
            var r = try await HTTPClientTests.call(server, "POST", "/query", body: "ASK 'status of ORD-2041' STREAM")
            #expect(r.status == 200 && r.contentType == "text/event-stream")
            let events = r.body.split(separator: "\n").filter { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) }
            #expect(events.first == "sources" && events.last == "validation" && events.dropFirst().dropLast().allSatisfy { $0 == "answer_token" })
            #expect(events.count > 3)
            r = try await HTTPClientTests.call(server, "POST", "/query", body: "ASK 'what is the?' STREAM")
            #expect(r.status == 200 && r.body.hasPrefix("event: error\n"))
        }
    }

    @Test func grpcEmbeddingsAskAndAskStream() async throws {
        try await Self.withServer { server, _ in
            try await Self.shop(server)
            try await GRPCServerTests.withClient(server) { db, _ in
                let embedded = try await db.embeddings(.with { $0.payloadJson = #"{"input": "hello world"}"# })
                #expect(try JSONValue.parse(embedded.payload)["count"] == .integer(1))
                let reply = try await db.ask(.with { $0.question = "status of ORD-2041"; $0.limit = 5 })
                #expect(reply.answer.contains("ORD-2041") && reply.citations.map(\.marker) == [1] && reply.validation.ok)
                #expect(reply.citations.first?.urn == "reddb:orders/1" && reply.provider == "openai" && reply.mode == "strict")
                let kinds = try await db.askStream(.with { $0.question = "status of ORD-2041" }) { response in
                    var kinds: [String] = []
                    for try await event in response.messages {
                        switch event.event {
                        case .sources?: kinds.append("sources")
                        case .answerToken?: kinds.append("token")
                        case .validation?: kinds.append("validation")
                        case .error?: kinds.append("error")
                        case nil: kinds.append("nil")
                        }
                    }
                    return kinds
                }
                #expect(kinds.first == "sources" && kinds.last == "validation" && kinds.contains("token"))
                await #expect(throws: RPCError.self) { _ = try await db.ask(.with { $0.question = "the of" }) }
            }
        }
    }

    @Test func pgWireAndRedWireRunAskAndSearchSimilarText() async throws {
        try await Self.withServer { server, _ in
            try await Self.shop(server)
            try await PostgresClientTests.withConnection(server) { conn in
                let rows = try await conn.query("ASK \("status of ORD-2041") LIMIT 3", logger: PostgresClientTests.logger)
                var answers: [String] = []
                for try await row in rows { answers.append(try row.decode((String, String?, String).self).0) }
                #expect(answers.count == 1 && answers[0].contains("ORD-2041"))
            }
            let db = try await RedClient.connect("red://127.0.0.1:\(server.wirePort)")
            try await db.execute("CREATE VECTOR docs DIM 16")
            for text in ["red apple pie", "blue whale song"] {
                try await db.execute("INSERT INTO docs VECTOR (dense, content) VALUES ($1, $2)", [.vector(FakeAIProvider.embedding(text)), .text(text)])
            }
            let hits = try await db.query("SEARCH SIMILAR TEXT 'whale' COLLECTION docs LIMIT 1")
            #expect(hits.rows.first?.first == .integer(2))
            let ask = try await db.query("ASK $1", [.text("status of ORD-2041")])
            #expect(ask.columns.first?.name == "answer")
            try await db.close()
        }
    }
}

extension AISurfaceTests {
    /// A replica answers an ASK from its own copy, and its audit row is written on the primary.
    @Test func anAskOnAReplicaIsAuditedOnThePrimary() async throws {
        let fake = FakeAIProvider()
        try await fake.start()
        defer { fake.stop() }
        let credentials = ["REDDB_USERNAME": "root", "REDDB_PASSWORD": "root-pw"]
        let primary = try ServerProcess(arguments: ["--role", "primary"], environment: fake.environment.merging(credentials) { $1 })
        defer { primary.remove() }
        var r = try await HTTPClientTests.call(primary, "POST", "/auth/login", body: #"{"username":"root","password":"root-pw"}"#)
        guard case .string(let token)? = r.json["token"] else { Issue.record("no token: \(r.body)"); return }
        r = try await HTTPClientTests.call(primary, "POST", "/query", body: "CREATE TABLE orders (id INT, status TEXT); INSERT INTO orders VALUES (1, 'shipped ORD-2041')", token: token)
        #expect(r.status == 200, "\(r.body)")
        let replica = try ServerProcess(arguments: ["--role", "replica", "--primary-addr", "grpc://root:root-pw@127.0.0.1:\(primary.grpcPort)"],
                                        environment: fake.environment)
        defer { replica.remove() }
        r = try await HTTPClientTests.call(replica, "POST", "/auth/login", body: #"{"username":"root","password":"root-pw"}"#)
        guard case .string(let replicaToken)? = r.json["token"] else { Issue.record("no token on the replica: \(r.body)"); return }
        try await ReplicationServerTests.waitFor(replica, "SELECT count(*) FROM orders", "1", token: replicaToken)
        r = try await HTTPClientTests.call(replica, "POST", "/ai/ask", body: #"{"question": "status of ORD-2041"}"#, token: replicaToken)
        #expect(r.status == 200 && r.json["answer"]?.text.contains("ORD-2041") == true, "\(r.body)")
        r = try await HTTPClientTests.call(primary, "POST", "/query", body: #"SELECT "user", question FROM red_ask_audit"#, token: token)
        #expect(r.body.contains("status of ORD-2041") && r.body.contains("root"), "\(r.body)")
        try await ReplicationServerTests.waitFor(replica, "SELECT count(*) FROM red_ask_audit", "1", token: replicaToken)
    }
}

extension AISurfaceTests {
    /// Malformed bodies on the new routes get a 4xx with a message, and the server keeps serving.
    @Test func malformedAIExportAndContextBodiesAreRefusedClearly() async throws {
        try await Self.withServer { server, _ in
            let bad: [(String, String)] = [
                ("/ai/embeddings", "not json"),
                ("/ai/embeddings", "[1, 2]"),
                ("/ai/embeddings", #"{"inputs": [1, 2]}"#),
                ("/ai/embeddings", #"{"inputs": []}"#),
                ("/ai/embeddings", #"{"input": "x", "dimensions": -3}"#),
                ("/ai/embeddings", #"{"input": "x", "max_inputs": 99999999}"#),
                ("/ai/embeddings", #"{"inputs": ["a", "b", "c"], "max_inputs": 2}"#),
                ("/ai/embeddings", #"{"source_query": "SELECT 1", "source_mode": "sideways"}"#),
                ("/ai/embeddings", #"{"input": "x", "provider": "nonesuch"}"#),
                ("/ai/embeddings", #"{"input": "x", "save": {"collection": "../x"}}"#),
                ("/ai/prompt", #"{"prompts": [{"a": 1}]}"#),
                ("/ai/prompt", #"{"prompt": "x", "temperature": 9}"#),
                ("/ai/prompt", #"{"prompt": "x", "max_output_tokens": "lots"}"#),
                ("/ai/ask", #"{"question": 7}"#),
                ("/ai/ask", #"{"question": "status of ORD-1", "limit": "ten"}"#),
                ("/ai/ask", #"{"question": "status of ORD-1", "depth": 99}"#),
                ("/ai/credentials", #"{"provider": "openai", "alias": "no spaces allowed"}"#),
                ("/ai/credentials", #"{"provider": "openai", "api_base": "ftp://x"}"#),
                ("/export", #"{"name": ""}"#),
                ("/export", #"{"name": 5}"#),
                ("/context", #"{"query": ""}"#),
                ("/context", #"{"query": "x", "depth": -1}"#),
                ("/multimodal/search", #"{"query": "x", "fuzzy": true}"#),
            ]
            for (path, body) in bad {
                let r = try await HTTPClientTests.call(server, "POST", path, body: body)
                #expect((400..<500).contains(r.status) && r.json["message"] != nil, "\(path) \(body) → \(r.status) \(r.body)")
            }
            let alive = try await HTTPClientTests.call(server, "POST", "/query", body: "SELECT 1")
            #expect(alive.status == 200)
        }
    }
}
