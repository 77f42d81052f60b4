import RedAI
import RedCore
import RedEngine
import RedQuery

/// `ASK` on a session: the statement's clauses become an `AskRequest`, retrieval runs as this
/// session's caller would query (`SessionAskRetriever`), and the answer is one row.
///
/// Result columns, in order: `answer, answer_tokens, provider, model, mode, retry_count,
/// prompt_tokens, completion_tokens, cost_usd, cache_hit, sources_count, sources_flat,
/// citations, validation` (the last three JSON; `answer_tokens` a JSON array with `STREAM`,
/// else NULL). `EXPLAIN ASK` returns one column `plan` (JSON) without asking the language
/// model (the question may still be embedded, for the vector bucket). A client's cancel and
/// the statement timeout stop an ASK while it waits on a provider.
extension Session {
    /// The columns of an ASK's one row.
    public static var askColumns: [ResultColumn] { AskStatement.resultColumns }

    /// Whether `sql` is one `ASK … STREAM` statement (servers then stream its answer).
    public func isStreamedAsk(_ sql: String) -> Bool {
        guard let statements = try? database.statementCache.statements(for: sql), statements.count == 1,
              case .ask(let ask) = statements[0].0 else { return false }
        return ask.stream && !ask.explain
    }

    /// Runs `sql`, one `ASK` statement, telling `events` its sources as soon as they are chosen
    /// and its answer piece by piece as the provider writes it; returns the ASK's row.
    ///
    /// ```swift
    /// let row = try await session.executeAsk("ASK 'status of ORD-2041?' STREAM") { event in
    ///     if case .token(let piece) = event { print(piece, terminator: "") }
    /// }
    /// ```
    public func executeAsk(_ sql: String, parameters: [Value] = [], events: @escaping AskEvents) async throws -> QueryResult {
        try await asRequest {
            let statements = try parse(sql)
            guard statements.count == 1, case .ask(let ask) = statements[0].0, !ask.explain else {
                throw RedError(.invalidArgument, "executeAsk runs one ASK statement")
            }
            if case .failed = state {
                throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
            }
            return try await runAsk(ask, parameters: parameters, events: events)
        }
    }

    func runAsk(_ ask: AskStatement, parameters: [Value], events: AskEvents? = nil) async throws -> QueryResult {
        let request = try askRequest(ask, parameters: parameters)
        let pipeline = AskPipeline(ai: database.ai, retriever: SessionAskRetriever(database: database, access: access))
        if ask.explain {
            let plan = try await whileNotCancelled { try await pipeline.explain(request) }
            return QueryResult(columns: AskStatement.explainColumns, rows: [[.json(plan)]], statementType: "explain", commandTag: "EXPLAIN")
        }
        let answer = try await whileNotCancelled { try await pipeline.ask(request, events: events) }
        let tokens: Value = ask.stream ? .json(.array(answer.tokens.map { .string($0) })) : .null
        let row: [Value] = [
            .text(answer.answer), tokens, .text(answer.provider), .text(answer.model), .text(answer.mode),
            .integer(Int64(answer.retryCount)), .integer(Int64(answer.promptTokens)), .integer(Int64(answer.completionTokens)),
            .float(answer.costUSD), .boolean(answer.cacheHit), .integer(Int64(answer.sources.count)),
            .json(answer.sourcesJSON), .json(answer.citationsJSON), .json(answer.validation.json),
        ]
        return QueryResult(columns: Self.askColumns, rows: [row], statementType: "ask", commandTag: "SELECT 1")
    }

    func askRequest(_ ask: AskStatement, parameters: [Value]) throws -> AskRequest {
        func value(_ expr: Expr?, _ clause: String) throws -> Value? {
            switch expr {
            case nil: return nil
            case .literal(let v)?: return v
            case .parameter(let n)?:
                guard n >= 1, n <= parameters.count else { throw RedError(.invalidParameters, "ASK $\(n) parameter was not bound before execution") }
                return parameters[n - 1]
            default: throw RedError(.syntaxError, "ASK \(clause) takes a literal or a parameter")
            }
        }
        func integer(_ expr: Expr?, _ clause: String, _ range: ClosedRange<Int64>) throws -> Int64? {
            guard let v = try value(expr, clause), !v.isNull else { return nil }
            guard case .integer(let i) = try DataType.integer.coerce(v), range.contains(i) else {
                throw RedError(.invalidArgument, "ASK \(clause) must be an integer between \(range.lowerBound) and \(range.upperBound)")
            }
            return i
        }
        func float(_ expr: Expr?, _ clause: String) throws -> Double? {
            guard let v = try value(expr, clause), !v.isNull else { return nil }
            guard case .float(let d) = try DataType.float.coerce(v), d.isFinite else { throw RedError(.invalidArgument, "ASK \(clause) must be a number") }
            return d
        }
        guard let q = try value(ask.question, "question"), case .text(let question) = try DataType.text.coerce(q), !question.isBlank else {
            throw RedError(.invalidArgument, "ASK needs a question")
        }
        guard question.utf8.count <= AskRequest.maxQuestionBytes else {
            throw RedError(.limitExceeded, "an ASK question is limited to \(AskRequest.maxQuestionBytes) bytes")
        }
        var request = AskRequest(question: question)
        request.providers = ask.providers
        request.model = ask.model
        request.depth = Int(try integer(ask.depth, "DEPTH", 1...Int64(AskPipeline.maxDepth)) ?? 2)
        request.limit = Int(try integer(ask.limit, "LIMIT", 1...Int64(AskPipeline.maxLimit)) ?? 20)
        request.minScore = try float(ask.minScore, "MIN_SCORE") ?? 0
        request.collection = ask.collection
        if let t = try float(ask.temperature, "TEMPERATURE") {
            guard (0...2).contains(t) else { throw RedError(.invalidArgument, "ASK TEMPERATURE must be between 0 and 2") }
            request.temperature = t
        }
        if let seed = try integer(ask.seed, "SEED", 0...Int64.max) { request.seed = UInt64(seed) }
        request.strict = ask.strict
        if case .ttlMilliseconds(let ms)? = ask.cache { request.cacheTTLMilliseconds = ms }
        if case .bypass? = ask.cache { request.bypassCache = true }
        request.explain = ask.explain
        request.user = callerName
        request.role = callerRole
        return request
    }
}

extension AskRequest {
    /// Longest question accepted.
    public static let maxQuestionBytes = 16 << 10
}

/// Retrieval for ASK through ordinary statements on a session with the caller's access, so an
/// ASK reads nothing its caller could not. Audit rows are written by the database itself.
struct SessionAskRetriever: AskRetriever {
    let database: Database
    let access: SessionAccess

    /// Most rows of one collection the literal scan reads.
    static let maxLiteralScanRows = 20_000

    func session() -> Session {
        let s = database.session()
        s.access = access
        return s
    }

    func collections() async throws -> [AskCollection] {
        try await session().collections().map { info in
            AskCollection(name: info.name, model: info.schema.model.rawValue, columns: info.schema.columns.map(\.name))
        }
    }

    func textHits(_ question: String, collections: [String], limit: Int) async throws -> [AskSource] {
        guard !collections.isEmpty else { return [] }
        let sql = "SEARCH TEXT $1 " + collections.map { "COLLECTION \(Session.identifier($0))" }.joined(separator: " ") + " LIMIT \(limit)"
        let result: QueryResult
        do {
            result = try await session().execute(sql, parameters: [.text(question)])
        } catch let error as RedError where error.code == .invalidArgument {
            return []  // no searchable words
        }
        return result.rows.compactMap { row in
            guard case .integer(let id) = row[0], case .text(let collection) = row[2], case .text(let kind) = row[3] else { return nil }
            let sourceKind: AskSource.Kind = kind == "node" ? .graphNode : kind == "edge" ? .graphEdge : .textHit
            return AskSource(kind: sourceKind, collection: collection, id: String(id), score: row[1].doubleValue)
        }
    }

    func vectorHits(_ vector: [Float], collections: [String], limit: Int, minScore: Double) async throws -> [AskSource] {
        var hits: [AskSource] = []
        for name in collections {
            let result = try await session().execute("SEARCH SIMILAR $1 COLLECTION \(Session.identifier(name)) LIMIT \(limit) MIN_SCORE $2",
                                                     parameters: [.vector(vector), .float(minScore)])
            for row in result.rows {
                guard case .integer(let id) = row[0] else { continue }
                hits.append(AskSource(kind: .vectorHit, collection: name, id: String(id), score: row[1].doubleValue))
            }
        }
        hits.sort { ($0.score ?? 0) != ($1.score ?? 0) ? ($0.score ?? 0) > ($1.score ?? 0) : ($0.collection, $0.id) < ($1.collection, $1.id) }
        return Array(hits.prefix(limit))
    }

    func graphHits(seeds: [AskSource], depth: Int, limit: Int) async throws -> [AskSource] {
        var hits: [AskSource] = []
        var seen = Set(seeds.map { "\($0.collection)/\($0.id)" })
        for seed in seeds where seed.kind == .graphNode {
            let result = try await session().execute(
                "GRAPH NEIGHBORHOOD \(Session.identifier(seed.collection)) FROM $1 DEPTH \(depth) DIRECTION both", parameters: [.text(seed.id)])
            for row in result.rows {
                guard case .integer(let id) = row[0], seen.insert("\(seed.collection)/\(id)").inserted else { continue }
                let d = row[3].doubleValue.map { Int($0) } ?? 1
                hits.append(AskSource(kind: .graphNode, collection: seed.collection, id: String(id), score: 1.0 / Double(1 + d), depth: d))
                if hits.count >= limit { return hits }
            }
        }
        return hits
    }

    func literalRows(_ literals: [String], collections: [String], hintedColumns: [String], limit: Int) async throws -> [AskSource] {
        var hits: [AskSource] = []
        let infos = try await session().collections()
        for name in collections {
            guard let info = infos.first(where: { $0.name == name }), info.schema.model == .table || info.schema.model == .document else { continue }
            let result = try await session().execute("SELECT rid, * FROM \(Session.identifier(name)) LIMIT \(Self.maxLiteralScanRows)")
            let names = result.columns.map(\.name)
            let order = names.indices.dropFirst().sorted { (hintedColumns.contains(names[$0]) ? 0 : 1) < (hintedColumns.contains(names[$1]) ? 0 : 1) }
            for row in result.rows {
                guard case .integer(let rid) = row[0] else { continue }
                search: for literal in literals {
                    for i in order where !row[i].isNull && row[i].displayText.contains(literal) {
                        hits.append(AskSource(kind: .row, collection: name, id: String(rid), score: 1.0, matchedLiteral: literal, matchedColumn: names[i]))
                        break search
                    }
                }
                if hits.count >= limit { return hits }
            }
        }
        return hits
    }

    func withContent(_ sources: [AskSource]) async throws -> [AskSource] {
        var out = sources
        for i in out.indices {
            guard let rid = Int64(out[i].id) else { continue }
            let result = try await session().execute("SELECT * FROM \(Session.identifier(out[i].collection)) WHERE rid = $1", parameters: [.integer(rid)])
            guard let row = result.rows.first else { continue }
            // Not a vector's numbers: they say nothing to a reader and would fill the budget.
            let object = JSONValue.object(zip(result.columns, row).filter { !$0.1.isNull && $0.0.name != "dense" }.map { ($0.0.name, $0.1.jsonValue) })
            var text = object.text
            if text.utf8.count > AskSource.maxContentBytes {
                text = String(decoding: text.utf8.prefix(AskSource.maxContentBytes), as: UTF8.self) + "…"
            }
            out[i].content = text
        }
        return out
    }

    /// `red_ask_audit`, on this database — or, on a replica, on its primary: a replica never
    /// writes, and an ASK without its audit row is refused (no audit gap).
    func recordAudit(_ row: [(String, Value)], retentionDays: Int) async throws {
        guard case .standby(let reason, _) = access else { return try await database.recordAskAudit(row, retentionDays: retentionDays) }
        guard let forward = database.askAuditForwarder.withLock({ $0 }) else {
            throw RedError(.aiProviderFailed, "ask_primary_sync_unavailable: \(reason), and the audit row cannot be sent to a primary")
        }
        do {
            try await forward(.object(row.map { ($0.0, $0.1.jsonValue) }))
        } catch {
            throw RedError(.aiProviderFailed, "ask_primary_sync_unavailable: \((error as? RedError)?.message ?? "\(error)")")
        }
    }
}

extension Database {
    /// Appends one row to `red_ask_audit` (created on first use); rows older than
    /// `retentionDays` are purged as rows are added. Column values as the ASK pipeline gives them.
    public func recordAskAudit(_ row: [(String, Value)], retentionDays: Int = 90) async throws {
        let allowed = Set(SessionAskRetriever.auditColumns)
        guard row.allSatisfy({ allowed.contains($0.0) }) else {
            throw RedError(.invalidArgument, "an ASK audit row has the columns \(SessionAskRetriever.auditColumns.joined(separator: ", "))")
        }
        typealias Retriever = SessionAskRetriever
        let nowNanoseconds = options.clock.nowMilliseconds() * 1_000_000
        let columns = ["ts"] + row.map(\.0)
        let values: [Value] = [.integer(nowNanoseconds)] + row.map(\.1)
        let sql = "INSERT INTO \(Retriever.auditCollection) (" + columns.map { Session.identifier($0) }.joined(separator: ", ") + ") VALUES ("
            + values.indices.map { "$\($0 + 1)" }.joined(separator: ", ") + ")"
        try await session().withTransaction { s in
            try await s.execute("""
                CREATE TABLE IF NOT EXISTS \(Retriever.auditCollection) (ts BIGINT, "user" TEXT, role TEXT, question TEXT, sources_urns JSON,
                provider TEXT, model TEXT, prompt_tokens BIGINT, completion_tokens BIGINT, cost_usd FLOAT, answer_hash TEXT, citations JSON,
                cache_hit BOOLEAN, mode TEXT, validation_ok BOOLEAN, retry_count BIGINT, errors TEXT, answer TEXT)
                """)
            try await s.execute(sql, parameters: values)
            try await s.execute("DELETE FROM \(Retriever.auditCollection) WHERE ts < $1", parameters: [.integer(nowNanoseconds - Int64(max(1, retentionDays)) * 86_400 * 1_000_000_000)])
        }
    }

}

extension SessionAskRetriever {
    static let auditCollection = "red_ask_audit"
    static let auditColumns = ["user", "role", "question", "sources_urns", "provider", "model", "prompt_tokens", "completion_tokens", "cost_usd",
                               "answer_hash", "citations", "cache_hit", "mode", "validation_ok", "retry_count", "errors", "answer"]
}
