import AITestSupport
import Foundation
import RedAI
import RedCore
import RedDB
import Testing

/// SQL that reaches AI providers, against a fake OpenAI/Anthropic server.
@Suite(.serialized) struct AISQLTests {
    static func database(_ fake: FakeAIProvider, extra: [String: String] = [:]) async throws -> Database {
        var options = DatabaseOptions()
        options.aiEnvironment = fake.environment.merging(extra) { $1 }
        return try await Database.inMemory(options: options)
    }

    static func withFake<T>(_ body: (FakeAIProvider) async throws -> T) async throws -> T {
        let fake = FakeAIProvider()
        try await fake.start()
        defer { fake.stop() }
        return try await body(fake)
    }

    @Test func embeddingsComeBackInInputOrderWithUsage() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake)
            let result = try await db.ai.embed(.init(texts: ["red apple", "", "green pear"], dimensions: 8))
            #expect(result.vectors.count == 3)
            #expect(result.vectors[0] == FakeAIProvider.embedding("red apple", dimensions: 8))
            #expect(result.vectors[1].isEmpty)  // blank inputs are not sent
            #expect(result.vectors[2] == FakeAIProvider.embedding("green pear", dimensions: 8))
            #expect(result.model == "text-embedding-3-small")
            #expect(fake.recorded.last?.body["input"] == .array([.string("red apple"), .string("green pear")]))
        }
    }

    @Test func aProviderErrorCarriesItsStatusAndMessage() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake, extra: ["REDDB_OPENAI_API_KEY": "wrong"])
            await #expect(throws: RedError(.aiProviderFailed, "openai returned HTTP 401: Incorrect API key provided")) {
                _ = try await db.ai.embed(.init(texts: ["x"]))
            }
            await #expect(throws: RedError.self) { _ = try await db.ai.embed(.init(texts: ["x"], provider: "anthropic")) }
        }
    }

    @Test func searchSimilarTextEmbedsTheQueryAndRanksByMeaning() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake)
            let s = db.session()
            try await s.execute("CREATE VECTOR docs DIM 16 METRIC cosine")
            for text in ["red apple pie", "green pear tart", "blue whale song"] {
                try await s.execute("INSERT INTO docs VECTOR (dense, content) VALUES ($1, $2)",
                                    parameters: [.vector(FakeAIProvider.embedding(text)), .text(text)])
            }
            let r = try await s.execute("SEARCH SIMILAR TEXT 'apple pie recipe' COLLECTION docs LIMIT 2 USING openai")
            #expect(r.rows.count == 2)
            #expect(r.rows[0][0] == .integer(1))
            let v = try await s.execute("SELECT content FROM (VECTOR SEARCH docs SIMILAR TO $1 LIMIT 1) AS hits", parameters: [.text("whale song")])
            #expect(v.rows == [[.text("blue whale song")]])
            // Inside a transaction too, and the transaction stays usable.
            try await s.execute("BEGIN")
            _ = try await s.execute("SEARCH SIMILAR TEXT 'pear' COLLECTION docs")
            try await s.execute("INSERT INTO docs VECTOR (dense, content) VALUES ($1, 'x')", parameters: [.vector(FakeAIProvider.embedding("x"))])
            try await s.execute("COMMIT")
            // A statement describes without calling the provider.
            let calls = fake.recorded.count
            let d = try await s.describe("SEARCH SIMILAR TEXT $1 COLLECTION docs")
            #expect(d.parameterTypes == [.text])
            _ = try await s.describe("SELECT * FROM (VECTOR SEARCH docs SIMILAR TO 'never embedded') AS h")
            #expect(fake.recorded.count == calls)
        }
    }

    static func shop(_ s: Session) async throws {
        try await s.execute("CREATE TABLE orders (id INT, customer TEXT, status TEXT, total FLOAT)")
        try await s.execute("""
            INSERT INTO orders VALUES (1, 'alice', 'shipped ORD-2041 yesterday', 10.5), (2, 'bob', 'pending', 99.0), (3, 'carol', 'cancelled', 5.0)
            """)
    }

    @Test func askAnswersFromRetrievedRowsWithCitationsAndAudit() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake)
            let s = db.session()
            try await Self.shop(s)
            let r = try await s.execute("ASK 'What is the status of order ORD-2041?'")
            #expect(r.columns.map(\.name) == Session.askColumns.map(\.name))
            let row = r.rows[0]
            guard case .text(let answer) = row[0], case .json(let sources) = row[11], case .json(let citations) = row[12], case .json(let validation) = row[13] else {
                Issue.record("unexpected row \(row)"); return
            }
            #expect(answer.contains("ORD-2041") && answer.hasSuffix("[^1]."))
            #expect(row[2] == .text("openai") && row[4] == .text("strict") && row[9] == .boolean(false))
            guard case .array(let list) = sources, let first = list.first else { Issue.record("no sources"); return }
            #expect(first["kind"] == .string("row") && first["urn"] == .string("reddb:orders/1") && first["matched_literal"] == .string("ORD-2041"))
            #expect(citations == .array([.object([("marker", .integer(1)), ("span", .array([.integer(Int64(answer.utf8.count - 5)), .integer(Int64(answer.utf8.count - 1))])),
                                                  ("source_index", .integer(0)), ("urn", .string("reddb:orders/1"))])]))
            #expect(validation["ok"] == .bool(true))
            // The prompt held the row's content; temperature 0 and a seed were sent.
            let chat = try #require(fake.recorded.last(where: { $0.path == "chat" }))
            #expect(chat.body["temperature"] == .float(0) && chat.body["seed"] != nil)
            let audit = try await s.execute("SELECT question, provider, validation_ok, cache_hit FROM red_ask_audit")
            #expect(audit.rows == [[.text("What is the status of order ORD-2041?"), .text("openai"), .boolean(true), .boolean(false)]])
        }
    }

    @Test func strictModeRetriesOnceThenFailsWithValidationError() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake)
            let s = db.session()
            try await Self.shop(s)
            let retried = try await s.execute("ASK 'status of ORD-2041' MODEL 'cites-badly-once'")
            #expect(retried.rows[0][5] == .integer(1))  // retry_count
            await #expect(throws: RedError(.answerValidationFailed, "ASK citation validation failed after retry")) {
                try await s.execute("ASK 'status of ORD-2041' MODEL 'cites-out-of-range'")
            }
            // Lenient mode keeps the answer and reports the warning.
            let lenient = try await s.execute("ASK 'status of ORD-2041' MODEL 'cites-out-of-range' STRICT OFF")
            guard case .json(let validation) = lenient.rows[0][13] else { Issue.record("no validation"); return }
            #expect(validation["warnings"]?.text.contains("out_of_range") == true)
            let failures = try await s.execute("SELECT count(*) FROM red_ask_audit WHERE validation_ok = false")
            #expect(failures.rows == [[.integer(1)]])
        }
    }

    @Test func theProviderLadderSkipsAProviderThatIsDown() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake)
            let s = db.session()
            try await Self.shop(s)
            let r = try await s.execute("ASK 'status of ORD-2041' USING 'groq,openai'")
            #expect(r.rows[0][2] == .text("openai"))
            // The same ladder from configuration.
            try await s.execute(#"KV PUT red_config.'ask.providers.fallback' = '["groq", "openai"]'"#)
            #expect(try await s.execute("ASK 'status of ORD-2041'").rows[0][2] == .text("openai"))
            try await s.execute("KV DELETE red_config.'ask.providers.fallback'")
            await #expect(throws: RedError.self) { try await s.execute("ASK 'status of ORD-2041' USING groq") }
            do {
                try await s.execute("ASK 'status of ORD-2041' USING 'groq'")
            } catch let error as RedError {
                #expect(error.code == .aiProviderFailed && error.message.hasPrefix("ask_provider_failover_exhausted: groq:"))
            }
        }
    }

    @Test func anthropicAnswersThroughTheMessagesApi() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake)
            let s = db.session()
            try await Self.shop(s)
            let r = try await s.execute("ASK 'status of ORD-2041' USING anthropic")
            #expect(r.rows[0][2] == .text("anthropic") && r.rows[0][3] == .text("claude-3-5-haiku-latest"))
            #expect(fake.recorded.last?.path == "messages" && fake.recorded.last?.body["seed"] == nil)
        }
    }

    @Test func cachedAnswersAreReusedUntilTheSourcesChange() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake)
            let s = db.session()
            try await Self.shop(s)
            let ask = "ASK 'status of ORD-2041' CACHE TTL '5m'"
            #expect(try await s.execute(ask).rows[0][9] == .boolean(false))
            let chats = fake.recorded.filter { $0.path == "chat" }.count
            #expect(try await s.execute(ask).rows[0][9] == .boolean(true))
            #expect(fake.recorded.filter { $0.path == "chat" }.count == chats)
            try await s.execute("UPDATE orders SET total = 11 WHERE id = 1")
            #expect(try await s.execute(ask).rows[0][9] == .boolean(false))
            #expect(try await s.execute("ASK 'status of ORD-2041' NOCACHE").rows[0][9] == .boolean(false))
        }
    }

    @Test func explainAskShowsThePlanWithoutCallingTheProvider() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake)
            let s = db.session()
            try await Self.shop(s)
            let r = try await s.execute("EXPLAIN ASK 'which orders are pending?' LIMIT 5")
            guard case .json(let plan) = r.rows[0][0] else { Issue.record("no plan"); return }
            #expect(plan["candidate_collections"] == .array([.string("orders")]))
            #expect(plan["providers"] == .array([.string("openai")]))
            #expect(fake.recorded.filter { $0.path == "chat" }.isEmpty)
        }
    }

    @Test func askClausesAreCheckedAndParametersBound() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake)
            let s = db.session()
            try await Self.shop(s)
            await #expect(throws: RedError.self) { try await s.execute("ASK 'x' CACHE TTL '1m' NOCACHE") }
            await #expect(throws: RedError.self) { try await s.execute("ASK 'x' LIMIT 0") }
            await #expect(throws: RedError(.invalidArgument, "ASK question yielded no usable tokens; ask about names, ids or words that appear in your data")) {
                try await s.execute("ASK 'what is the?'")
            }
            let r = try await s.execute("ASK $1 LIMIT $2", parameters: [.text("status of ORD-2041"), .integer(3)])
            #expect(r.rows.count == 1)
        }
    }
}

extension AISQLTests {
    @Test func autoEmbedStoresVectorsOfTheInsertedRowsInTheSameTransaction() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake)
            let s = db.session()
            try await s.execute("CREATE TABLE articles (id INT, title TEXT, body TEXT)")
            try await s.execute("""
                INSERT INTO articles VALUES (1, 'Whales', 'blue whale song'), (2, 'Pies', 'red apple pie'), (3, NULL, NULL)
                WITH AUTO EMBED (title, body) USING openai
                """)
            let stored = try await s.execute("SELECT content, metadata FROM articles_embeddings ORDER BY rid")
            #expect(stored.rows.map { $0[0] } == [.text("Whales blue whale song"), .text("Pies red apple pie")])
            #expect(stored.rows[0][1].displayText.contains("\"_source_row_id\":1"))
            let hit = try await s.execute("SEARCH SIMILAR TEXT 'whale song' COLLECTION articles_embeddings LIMIT 1")
            #expect(hit.rows.first?.first == .integer(1))
            #expect(fake.recorded.filter { $0.path == "embeddings" }.count == 2)  // one batch for the INSERT, one for the search
            // A failing provider fails the INSERT: no rows, no vectors.
            let broken = try await Self.database(fake, extra: ["REDDB_OPENAI_API_KEY": "wrong"])
            let b = broken.session()
            try await b.execute("CREATE TABLE notes (t TEXT)")
            await #expect(throws: RedError.self) { try await b.execute("INSERT INTO notes VALUES ('x') WITH AUTO EMBED (t)") }
            #expect(try await b.execute("SELECT count(*) FROM notes").rows == [[.integer(0)]])
            await #expect(throws: RedError.self) { try await s.execute("INSERT INTO articles VALUES (4, 'a', 'b') WITH AUTO EMBED (nope)") }
        }
    }
}

extension AISQLTests {
    @Test func askRetrievesVectorHitsAndGraphNeighbours() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake)
            let s = db.session()
            try await s.execute("CREATE VECTOR docs DIM 16")
            for text in ["blue whale song", "red apple pie"] {
                try await s.execute("INSERT INTO docs VECTOR (dense, content) VALUES ($1, $2)", parameters: [.vector(FakeAIProvider.embedding(text)), .text(text)])
            }
            try await s.execute("INSERT INTO social NODE (label, node_type) VALUES ('alice', 'user'), ('bob', 'user'), ('acme', 'company')")
            try await s.execute("INSERT INTO social EDGE (label, from, to) VALUES ('knows', 'alice', 'bob'), ('works_at', 'bob', 'acme')")
            let r = try await s.execute("EXPLAIN ASK 'which docs mention the whale song?'")
            guard case .json(let plan) = r.rows[0][0], case .array(let sources)? = plan["sources_flat"] else { Issue.record("no plan"); return }
            #expect(plan["buckets"]?["vector"] == .integer(2), "\(plan.text)")  // both docs, best first
            #expect(sources.first?["urn"] == .string("reddb:docs/1") && sources.first?["content"]?.text.contains("blue whale song") == true, "\(plan.text)")
            let g = try await s.execute("EXPLAIN ASK 'who is alice in social?' DEPTH 2")
            guard case .json(let graphPlan) = g.rows[0][0], case .array(let graphSources)? = graphPlan["sources_flat"] else { Issue.record("no plan"); return }
            let labels = graphSources.compactMap { $0["content"]?.text }
            #expect(labels.contains { $0.contains("alice") } && labels.contains { $0.contains("bob") } && labels.contains { $0.contains("acme") }, "\(graphPlan.text)")
        }
    }
}

extension AISQLTests {
    @Test func askLooksInATablesAutoEmbedVectorsToo() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake)
            let s = db.session()
            try await s.execute("CREATE TABLE articles (id INT, title TEXT)")
            try await s.execute("INSERT INTO articles VALUES (1, 'blue whale song') WITH AUTO EMBED (title)")
            let r = try await s.execute("EXPLAIN ASK 'articles about whales'")
            guard case .json(let plan) = r.rows[0][0] else { Issue.record("no plan"); return }
            #expect(plan["candidate_collections"] == .array([.string("articles"), .string("articles_embeddings")]), "\(plan.text)")
            #expect(plan["buckets"]?["vector"] == .integer(1), "\(plan.text)")
        }
    }
}

extension AISQLTests {
    final class EventLog: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String] = []
        func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
    }

    @Test func aStreamedAskReportsSourcesThenPiecesAsTheProviderWritesThem() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake)
            let s = db.session()
            try await Self.shop(s)
            #expect(s.isStreamedAsk("ASK 'x' STREAM") && !s.isStreamedAsk("ASK 'x'") && !s.isStreamedAsk("SELECT 1"))
            let log = EventLog()
            let row = try await s.executeAsk("ASK 'status of ORD-2041' STREAM MODEL 'cites-badly-once'") { event in
                switch event {
                case .sources(let sources): log.add("sources:\(sources.count)")
                case .token(let piece): log.add("token:" + piece)
                case .retry: log.add("retry")
                }
            }
            let events = log.all
            #expect(events.first?.hasPrefix("sources:") == true)
            let retry = try #require(events.firstIndex(of: "retry"))
            #expect(events[1..<retry].joined() == "token:Badlytoken: citedtoken: [^0].")
            #expect(events[(retry + 1)...].map { $0.dropFirst(6) }.joined().hasSuffix("[^1]."))
            #expect(fake.recorded.last(where: { $0.path == "chat" })?.body["stream"] == .bool(true))
            #expect(row.rows[0][5] == .integer(1))
        }
    }
}

extension AISQLTests {
    @Test func onlyAdminsDecideWhereProviderKeysGo() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake, extra: ["REDDB_CUSTOM_API_KEY": "test-key", "REDDB_DEEPSEEK_API_KEY": "k"])
            let s = db.session()
            try await s.execute("CREATE VECTOR docs DIM 16")
            // A custom URL is refused until an admin allows it.
            await #expect(throws: RedError.self) { try await s.execute("SEARCH SIMILAR TEXT 'x' COLLECTION docs USING '\(fake.baseURL)'") }
            try await db.setAISettings([(key: "ai.allowed_urls", value: JSONValue.array([.string(fake.baseURL)]).text)])
            _ = try await s.execute("SEARCH SIMILAR TEXT 'x' COLLECTION docs USING '\(fake.baseURL)'")
            // A writer's red_config cannot move a provider's base URL; the admin setting can.
            let deepseek = try AIProvider.named("deepseek")
            try await s.execute("KV PUT red_config.'red.config.ai.deepseek.default.base_url' = 'http://attacker.example/v1'")
            #expect(try await db.ai.settings.baseURL(deepseek, alias: nil) == "https://api.deepseek.com/v1")
            try await db.setAISettings([(key: "red.config.ai.deepseek.default.base_url", value: fake.baseURL)])
            #expect(try await db.ai.settings.baseURL(deepseek, alias: nil) == fake.baseURL)
        }
    }

    @Test func manyTextSearchesInOneStatementAreAllEmbedded() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake)
            let s = db.session()
            try await s.execute("CREATE VECTOR docs DIM 16")
            for text in ["red apple", "blue whale", "green pear"] {
                try await s.execute("INSERT INTO docs VECTOR (dense, content) VALUES ($1, $2)", parameters: [.vector(FakeAIProvider.embedding(text)), .text(text)])
            }
            let r = try await s.execute("""
                SELECT content FROM (VECTOR SEARCH docs SIMILAR TO 'red apple' LIMIT 1) a
                UNION ALL SELECT content FROM (VECTOR SEARCH docs SIMILAR TO 'blue whale' LIMIT 1) b
                UNION ALL SELECT content FROM (VECTOR SEARCH docs SIMILAR TO 'green pear' LIMIT 1) c
                """)
            #expect(r.rows == [[.text("red apple")], [.text("blue whale")], [.text("green pear")]])
        }
    }
}

extension AISQLTests {
    @Test func theStatementTimeoutStopsAnAskWaitingOnItsProvider() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake)
            let s = db.session()
            try await Self.shop(s)
            s.statementTimeoutMilliseconds = 300
            do {
                try await s.execute("ASK 'status of ORD-2041' MODEL 'slow'")
                Issue.record("the ASK was not stopped")
            } catch let error as RedError {
                #expect(error.code == .queryCanceled)
            }
        }
    }
}

extension AISQLTests {
    @Test func askKnobsComeFromRedConfig() async throws {
        try await Self.withFake { fake in
            let db = try await Self.database(fake)
            let s = db.session()
            try await Self.shop(s)
            func put(_ key: String, _ value: String) async throws {
                try await s.execute("KV PUT red_config.'\(key)' = $1", parameters: [.text(value)])
            }
            try await put("ask.cache.enabled", "true")
            try await put("ask.cache.default_ttl", "5m")
            try await put("ask.audit.include_answer", "true")
            #expect(try await s.execute("ASK 'status of ORD-2041'").rows[0][9] == .boolean(false))
            #expect(try await s.execute("ASK 'status of ORD-2041'").rows[0][9] == .boolean(true))  // cached by default now
            #expect(try await s.execute("ASK 'status of ORD-2041' NOCACHE").rows[0][9] == .boolean(false))
            let answers = try await s.execute("SELECT answer FROM red_ask_audit WHERE answer IS NOT NULL")
            #expect(answers.rows.count == 3)
            try await put("ask.max_prompt_tokens", "10")
            await #expect(throws: RedError.self) { try await s.execute("ASK 'status of ORD-2041' NOCACHE") }
            try await put("ask.max_prompt_tokens", "many")
            do {
                try await s.execute("ASK 'status of ORD-2041' NOCACHE")
                Issue.record("a malformed knob was ignored")
            } catch let error as RedError {
                #expect(error.message.contains("ask.max_prompt_tokens"))
            }
            try await s.execute("KV DELETE red_config.'ask.max_prompt_tokens'")
            try await put("ask.daily_cost_cap_usd", "0.0000001")
            do {
                try await s.execute("ASK 'status of ORD-2041' NOCACHE")
                Issue.record("the daily cap did not hold")
            } catch let error as RedError {
                #expect(error.code == .limitExceeded && error.message.hasPrefix("quota_exceeded:rate:daily_cost_cap_usd"))
            }
        }
    }
}
