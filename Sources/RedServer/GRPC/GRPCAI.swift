import GRPCCore
import RedCore
import RedDB
import RedProto
import RedAI

/// The AI rpcs. `Embeddings`, `AiPrompt` and `AiCredentials` take the JSON body of their HTTP
/// twin (`/ai/embeddings`, `/ai/prompt`, `/ai/credentials`); `Ask` and `AskStream` take
/// `AskRequest` and run the ASK pipeline as the caller; `AskStream` sends its events live.
extension GRPCService {
    func embeddings(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "embeddings") { message, _ in Self.payloadReply(try await operations.embeddings(try Self.payload(message.payloadJson))) }
    }

    func aiPrompt(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "ai_prompt") { message, _ in Self.payloadReply(try await operations.prompt(try Self.payload(message.payloadJson))) }
    }

    func aiCredentials(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .adminOnceAuthenticated, rpc: "ai_credentials") { message, _ in
            Self.payloadReply(try await operations.credentials(try Self.payload(message.payloadJson)))
        }
    }

    func ask(request: ServerRequest<Reddb_V1_AskRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_AskReply> {
        await unary(request, rpc: "ask") { message, _ in Self.askReply(try await operations.ask(Self.askBody(message))) }
    }

    /// Events as they happen: `sources` once retrieval is done, `answer_token` per piece the
    /// provider streams (after a strict retry the second answer's pieces follow: the proto has
    /// no retry event), then `validation` — or one `error` (code = the gRPC status code the
    /// error maps to).
    func askStream(request: ServerRequest<Reddb_V1_AskRequest>, context _: GRPCCore.ServerContext) async throws -> StreamingServerResponse<Reddb_V1_AskStreamEvent> {
        let identity: AuthIdentity
        let statement: (String, [Value])
        do {
            identity = try context.auth.authenticate(token: Self.token(in: request.metadata))
            statement = try AskJSONRequest.statement(Self.askBody(request.message))
        } catch {
            return StreamingServerResponse(error: GRPCStatusMapping.rpcError(error))
        }
        let operations = self.operations
        return StreamingServerResponse { writer in
            do {
                let result = try await RequestCaller.$identity.withValue(identity) {
                    try await operations.session().executeAsk(statement.0, parameters: statement.1) { event in
                        switch event {
                        case .sources(let sources):
                            try await writer.write(.with { $0.sources = .with { $0.sourcesFlatJson = JSONValue.array(sources.map(\.json)).text } })
                        case .token(let piece):
                            try await writer.write(.with { $0.answerToken = .with { $0.text = piece } })
                        case .retry:
                            break  // the proto has no retry event; the second answer's pieces follow
                        }
                    }
                }
                try await writer.write(.with { $0.validation = Self.askReply(AskJSONRequest.envelope(result)).validation })
            } catch {
                let rpc = GRPCStatusMapping.rpcError(error)
                try await writer.write(.with { $0.error = .with { $0.code = UInt32(rpc.code.rawValue); $0.message = rpc.message } })
            }
            return [:]
        }
    }

    /// A replica's ASK audit row. Admin-only once the server has users (upstream lets any
    /// reader append audit rows).
    func submitAskSideEffects(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .adminOnceAuthenticated, rpc: "submit_ask_side_effects") { message, _ in
            if let reason = context.standbyReason { throw RedError(.readOnlyTransaction, "cannot record an ASK audit row: \(reason)") }
            let body = try Self.payload(message.payloadJson)
            guard body["kind"] == .string("ask.side_effects.v1"), case .object(let row)? = body["audit_row"] else {
                throw RedError(.invalidArgument, "SubmitAskSideEffects takes {\"kind\":\"ask.side_effects.v1\",\"audit_row\":{…}}")
            }
            let retention = try await AskSettings.load(context.database.ai.settings).auditRetentionDays
            try await context.database.recordAskAudit(row.map { column, value in
                (column, column == "sources_urns" || column == "citations" ? .json(value) : Value(json: value))
            }, retentionDays: retention)
            return Self.payloadReply(.object([("ok", .bool(true))]))
        }
    }

    static func askBody(_ m: Reddb_V1_AskRequest) -> JSONValue {
        var body: [(String, JSONValue)] = [("question", .string(m.question))]
        if m.hasProvider { body.append(("provider", .string(m.provider))) }
        if m.hasModel { body.append(("model", .string(m.model))) }
        if m.hasDepth { body.append(("depth", .integer(Int64(m.depth)))) }
        if m.hasLimit { body.append(("limit", .integer(Int64(m.limit)))) }
        if m.hasMinScore { body.append(("min_score", .float(Double(m.minScore)))) }
        if m.hasCollection { body.append(("collection", .string(m.collection))) }
        if m.hasTemperature { body.append(("temperature", .float(Double(m.temperature)))) }
        if m.hasSeed { body.append(("seed", .integer(Int64(bitPattern: m.seed)))) }
        if m.hasStrict { body.append(("strict", .bool(m.strict))) }
        return .object(body)
    }

    static func askReply(_ e: JSONValue) -> Reddb_V1_AskReply {
        func text(_ key: String) -> String { if case .string(let s)? = e[key] { s } else { "" } }
        func count(_ key: String) -> UInt32 { if case .integer(let n)? = e[key], n >= 0 { UInt32(clamping: n) } else { 0 } }
        return .with {
            $0.answer = text("answer")
            $0.sourcesFlatJson = e["sources_flat"]?.text ?? "[]"
            if case .array(let citations)? = e["citations"] {
                $0.citations = citations.map { c in
                    .with {
                        if case .integer(let n)? = c["marker"] { $0.marker = UInt32(clamping: n) }
                        if case .string(let urn)? = c["urn"] { $0.urn = urn }
                    }
                }
            }
            if let v = e["validation"] { $0.validation = validation(v) }
            $0.provider = text("provider")
            $0.model = text("model")
            $0.promptTokens = count("prompt_tokens")
            $0.completionTokens = count("completion_tokens")
            if let d = e["cost_usd"]?.number { $0.costUsd = d }
            $0.cacheHit = e["cache_hit"] == .bool(true)
            $0.mode = text("mode")
            $0.retryCount = count("retry_count")
        }
    }

    static func validation(_ v: JSONValue) -> Reddb_V1_Validation {
        func items(_ key: String) -> [Reddb_V1_ValidationItem] {
            guard case .array(let list)? = v[key] else { return [] }
            return list.map { item in
                .with {
                    if case .string(let k)? = item["kind"] { $0.kind = k }
                    if case .string(let d)? = item["detail"] { $0.detail = d }
                }
            }
        }
        return .with {
            $0.ok = v["ok"] == .bool(true)
            $0.warnings = items("warnings")
            $0.errors = items("errors")
        }
    }
}
