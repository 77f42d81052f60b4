import RedAI
import RedCore
import RedDB

/// The AI endpoints' JSON bodies, shared by HTTP (`POST /ai/embeddings`, `/ai/prompt`,
/// `/ai/ask`, `/ai/credentials`) and gRPC (`Embeddings`, `AiPrompt`, `AiCredentials`, whose
/// payload is the same body), so both answer alike.
///
/// Inputs come from exactly one of `input` (a string), `inputs`/`prompts` (strings) or
/// `source_query` (SQL run as the caller): in `row` mode (default) each row gives one input
/// from `source_field` (its `rid` is kept as `source_row_id`), in `result` mode the whole
/// result as JSON is one input. At most `max_inputs` (default 256, at most 2048) inputs.
extension CollectionOperations {
    static let defaultMaxInputs = 256

    /// `/ai/embeddings` → `{ok, provider, model, count, embeddings, saved, prompt_tokens?, total_tokens?}`.
    func embeddings(_ body: JSONValue) async throws -> JSONValue {
        guard case .object = body else { throw RedError(.invalidArgument, "an embeddings request must be a JSON object") }
        let inputs = try await aiInputs(body, single: "input", many: "inputs")
        var dimensions: Int?
        if let d = body["dimensions"] {
            guard case .integer(let n) = d, n > 0, n <= Int64(AIService.maxDimensions) else {
                throw RedError(.invalidArgument, "dimensions must be an integer between 1 and \(AIService.maxDimensions)")
            }
            dimensions = Int(n)
        }
        let credential = try Self.optionalText(body, "credential")
        let save = try Self.saveTarget(body)
        if save != nil { try checkMayWrite("saving embeddings") }  // before the provider is paid
        let result = try await database.ai.embed(.init(texts: inputs.map(\.text), provider: try Self.optionalText(body, "provider"),
                                                       model: try Self.optionalText(body, "model"), dimensions: dimensions, credential: credential))
        var saved: [JSONValue] = []
        if let save {
            saved = try await saveEmbeddings(result, inputs: inputs, save: save, credential: credential)
        }
        var reply: [(String, JSONValue)] = [
            ("ok", .bool(true)), ("provider", .string(result.provider.token)), ("model", .string(result.model)),
            ("count", .integer(Int64(result.vectors.count))),
            ("embeddings", .array(result.vectors.map { .array($0.map { .float(Double($0)) }) })), ("saved", .array(saved)),
        ]
        if let t = result.promptTokens { reply.append(("prompt_tokens", .integer(Int64(t)))) }
        if let t = result.totalTokens { reply.append(("total_tokens", .integer(Int64(t)))) }
        return .object(reply)
    }

    /// `/ai/prompt` → `{ok, provider, model, count, outputs:[{index, text, prompt_tokens?, completion_tokens?, finish_reason?}], saved}`.
    func prompt(_ body: JSONValue) async throws -> JSONValue {
        guard case .object = body else { throw RedError(.invalidArgument, "a prompt request must be a JSON object") }
        let template = try Self.optionalText(body, "prompt_template")
        var inputs = try await aiInputs(body, single: "prompt", many: "prompts")
        if let template {
            // Sized before expanding: a template repeating {{value}} thousands of times around a
            // long input would otherwise build gigabytes before the prompt's size is checked.
            let placeholders = template.components(separatedBy: "{{value}}").count - 1
            for input in inputs where template.utf8.count + placeholders * input.text.utf8.count > AIService.maxTextBytes {
                throw RedError(.limitExceeded, "the expanded prompt would exceed \(AIService.maxTextBytes) bytes")
            }
            inputs = inputs.map { var i = $0; i.text = template.replacingOccurrences(of: "{{value}}", with: i.text); return i }
        }
        var options = PromptOptions()
        if let t = body["temperature"] {
            guard let d = t.number, (0...2).contains(d) else { throw RedError(.invalidArgument, "temperature must be a number between 0 and 2") }
            options.temperature = d
        }
        if let m = body["max_output_tokens"] {
            guard case .integer(let n) = m, n > 0, n <= 1_000_000 else { throw RedError(.invalidArgument, "max_output_tokens must be a positive integer") }
            options.maxTokens = Int(n)
        }
        let provider = try Self.optionalText(body, "provider"), model = try Self.optionalText(body, "model")
        let credential = try Self.optionalText(body, "credential")
        let save = try Self.saveTarget(body)
        if save != nil { try checkMayWrite("saving prompt outputs") }
        var outputs: [JSONValue] = []
        var providerName = "", modelName = ""
        var replies: [(AIInput, PromptReply)] = []
        for (index, input) in inputs.enumerated() {
            let result = try await database.ai.prompt(.init(prompt: input.text, provider: provider, model: model, options: options, credential: credential))
            providerName = result.provider.token
            modelName = result.model
            replies.append((input, result.reply))
            var output: [(String, JSONValue)] = [("index", .integer(Int64(index))), ("text", .string(result.reply.text))]
            if let t = result.reply.promptTokens { output.append(("prompt_tokens", .integer(Int64(t)))) }
            if let t = result.reply.completionTokens { output.append(("completion_tokens", .integer(Int64(t)))) }
            if let r = result.reply.finishReason { output.append(("finish_reason", .string(r))) }
            outputs.append(.object(output))
        }
        var saved: [JSONValue] = []
        if let save {
            saved = try await session().withTransaction { s in
                var saved: [JSONValue] = []
                for (index, (input, reply)) in replies.enumerated() {
                    var document: [(String, JSONValue)] = [(save.promptField, .string(input.text)), (save.responseField, .string(reply.text)),
                                                           ("_ai_provider", .string(providerName)), ("_ai_model", .string(modelName))]
                    if case .object(let extra)? = save.metadata { document += extra }
                    let id = try await s.insertDocument(.object(document), into: save.collection)
                    saved.append(.object([("index", .integer(Int64(index))), ("id", .integer(id))]))
                }
                return saved
            }
        }
        return .object([("ok", .bool(true)), ("provider", .string(providerName)), ("model", .string(modelName)),
                        ("count", .integer(Int64(outputs.count))), ("outputs", .array(outputs)), ("saved", .array(saved))])
    }

    /// `/ai/ask` and gRPC `Ask`: the ASK pipeline (not upstream's legacy context dump) →
    /// the ASK envelope `{ok, answer, provider, model, mode, retry_count, prompt_tokens,
    /// completion_tokens, cost_usd, cache_hit, sources_flat, citations, validation}`.
    func ask(_ body: JSONValue) async throws -> JSONValue {
        let (sql, parameters) = try AskJSONRequest.statement(body)
        return AskJSONRequest.envelope(try await session().execute(sql, parameters: parameters))
    }

    /// `/ai/credentials` (admin): `{provider, alias?, api_base?, default?, model?}`.
    /// - `api_base` is kept as an admin setting (`Database.setAISettings`), out of SQL's reach,
    ///   since it decides where the provider's key is sent;
    /// - a `provider` that is an `http(s)://` URL is added to the allowed custom providers;
    /// - `default: true` makes it the default provider (and `model`, else its default, the
    ///   default model) in `red_config`.
    /// API keys are refused: without a vault they would be readable by anyone who can read the
    /// database; the reply says which environment variable to set instead.
    func credentials(_ body: JSONValue) async throws -> JSONValue {
        guard case .object = body, case .string(let name)? = body["provider"] else {
            throw RedError(.invalidArgument, "a credentials request needs provider")
        }
        let provider = try AIProvider.named(name)
        let alias = (try Self.optionalText(body, "alias") ?? "default").lowercased()
        guard alias.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }), alias.count <= 64 else {
            throw RedError(.invalidArgument, "alias must be 1 to 64 letters, digits, '_' or '-'")
        }
        if body["api_key"] != nil || body["key"] != nil {
            throw RedError(.invalidArgument, "this server has no vault to keep API keys in; set REDDB_\(provider.environmentName)_API_KEY"
                           + (alias == "default" ? "" : "_\(alias.uppercased().replacingOccurrences(of: "-", with: "_"))") + " in its environment")
        }
        let base = try Self.optionalText(body, "api_base") ?? Self.optionalText(body, "base_url")
        let makeDefault = body["default"] == .bool(true)
        guard base != nil || makeDefault || provider.isCustom else { throw RedError(.invalidArgument, "give api_base, or default: true") }
        var protectedWrites: [(key: String, value: String?)] = []
        if provider.isCustom {
            var allowed: [JSONValue] = []
            if let list = try database.aiSetting("ai.allowed_urls"), case .array(let items) = try JSONValue.parse(list) { allowed = items }
            if !allowed.contains(.string(provider.defaultBaseURL)) {
                guard allowed.count < Self.maxAllowedURLs else { throw RedError(.limitExceeded, "at most \(Self.maxAllowedURLs) custom AI provider URLs") }
                allowed.append(.string(provider.defaultBaseURL))
            }
            protectedWrites.append(("ai.allowed_urls", JSONValue.array(allowed).text))
        }
        if let base {
            guard !provider.isCustom else { throw RedError(.invalidArgument, "a custom provider's URL is its base; give api_base for a named provider") }
            guard base.hasPrefix("http://") || base.hasPrefix("https://"), base.utf8.count <= AIProvider.maxBaseURLBytes else {
                throw RedError(.invalidArgument, "api_base must be an http(s):// URL")
            }
            protectedWrites.append(("red.config.ai.\(provider.token).\(alias).base_url", base))
        }
        if !protectedWrites.isEmpty { try await database.setAISettings(protectedWrites) }
        var configWrites: [(String, String)] = []
        var defaultModel: String?
        if makeDefault {
            defaultModel = try Self.optionalText(body, "model") ?? provider.defaultPromptModel
            configWrites.append(("red.config.ai.default.provider", provider.token))
            configWrites.append(("red.config.ai.default.model", defaultModel!))
            try await session().withTransaction { s in
                for (key, value) in configWrites { try await s.execute("KV PUT red_config.\(Session.literal(key)) = $1", parameters: [.json(.string(value))]) }
            }
        }
        var reply: [(String, JSONValue)] = [("ok", .bool(true)), ("provider", .string(provider.token)), ("alias", .string(alias)),
                                            ("saved", .array((protectedWrites.map(\.key) + configWrites.map(\.0)).map { .object([("key", .string($0))]) }))]
        if let base { reply.append(("api_base", .string(base))) }
        if let defaultModel { reply += [("is_default", .bool(true)), ("default_model", .string(defaultModel))] }
        return .object(reply)
    }

    /// Most custom provider URLs an admin may allow.
    static let maxAllowedURLs = 64

    // MARK: Inputs and saving

    /// Fails now, before a provider is called, if the caller's sessions may not write.
    func checkMayWrite(_ what: String) throws {
        if let refusal = session().access.writeRefusal(what) { throw refusal }
    }

    struct AIInput {
        var text: String
        var sourceRowID: Int64?
    }

    struct SaveTarget {
        var collection: String
        var includeContent: Bool
        var metadata: JSONValue?
        var promptField: String
        var responseField: String
    }

    private func aiInputs(_ body: JSONValue, single: String, many: String) async throws -> [AIInput] {
        let maxInputs: Int
        switch body["max_inputs"] {
        case nil: maxInputs = Self.defaultMaxInputs
        case .integer(let n)? where n > 0 && n <= Int64(AIService.maxInputs): maxInputs = Int(n)
        default: throw RedError(.invalidArgument, "max_inputs must be an integer between 1 and \(AIService.maxInputs)")
        }
        let given = [single, many, "source_query"].filter { body[$0] != nil }
        guard given.count == 1 else { throw RedError(.invalidArgument, "give exactly one of \(single), \(many) or source_query") }
        var inputs: [AIInput]
        switch given[0] {
        case single:
            guard case .string(let s)? = body[single] else { throw RedError(.invalidArgument, "\(single) must be a string") }
            inputs = [AIInput(text: s)]
        case many:
            guard case .array(let items)? = body[many], !items.isEmpty else { throw RedError(.invalidArgument, "\(many) must be a non-empty array of strings") }
            inputs = try items.map {
                guard case .string(let s) = $0 else { throw RedError(.invalidArgument, "\(many) must hold only strings") }
                return AIInput(text: s)
            }
        default:
            guard case .string(let sql)? = body["source_query"] else { throw RedError(.invalidArgument, "source_query must be a SQL string") }
            let result = try await session().execute(sql)
            switch try Self.optionalText(body, "source_mode") ?? "row" {
            case "result":
                inputs = [AIInput(text: JSONValue.array(result.rows.map { row in
                    .object(zip(result.columns, row).map { ($0.0.name, $0.1.jsonValue) })
                }).text)]
            case "row":
                guard let field = try Self.optionalText(body, "source_field") else { throw RedError(.invalidArgument, "source_mode row needs source_field") }
                guard let column = result.columns.firstIndex(where: { $0.name == field }) else {
                    throw RedError(.undefinedColumn, "source_query has no column \(field)")
                }
                let rid = result.columns.firstIndex { $0.name == "rid" }
                inputs = result.rows.filter { !$0[column].isNull }.map { row in
                    var id: Int64?
                    if let rid, case .integer(let n) = row[rid] { id = n }
                    return AIInput(text: row[column].displayText, sourceRowID: id)
                }
            default: throw RedError(.invalidArgument, "source_mode must be row or result")
            }
        }
        guard !inputs.isEmpty else { throw RedError(.invalidArgument, "there is nothing to send: no inputs") }
        guard inputs.count <= maxInputs else { throw RedError(.limitExceeded, "\(inputs.count) inputs is more than max_inputs (\(maxInputs))") }
        return inputs
    }

    private static func saveTarget(_ body: JSONValue) throws -> SaveTarget? {
        let save = body["save"]
        let collection = try save.flatMap { try optionalText($0, "collection") } ?? optionalText(body, "save_collection")
        guard let collection else {
            if save != nil { throw RedError(.invalidArgument, "save needs collection") }
            return nil
        }
        try validateName(collection)
        let include = save?["include_content"] ?? body["save_include_content"]
        return SaveTarget(collection: collection, includeContent: include == .bool(true), metadata: save?["metadata"] ?? body["save_metadata"],
                          promptField: try save.flatMap { try optionalText($0, "prompt_field") } ?? "prompt",
                          responseField: try save.flatMap { try optionalText($0, "response_field") } ?? "response")
    }

    private func saveEmbeddings(_ result: AIService.EmbeddingResult, inputs: [AIInput], save: SaveTarget, credential: String?) async throws -> [JSONValue] {
        guard let dimension = result.vectors.first(where: { !$0.isEmpty })?.count else { return [] }
        let name = Session.identifier(save.collection)
        return try await session().withTransaction { s in
            try await s.execute("CREATE VECTOR IF NOT EXISTS \(name) DIM \(dimension)")
            var saved: [JSONValue] = []
            for (index, (vector, input)) in zip(result.vectors, inputs).enumerated() where !vector.isEmpty {
                var metadata: [(String, JSONValue)] = [("_ai_provider", .string(result.provider.token)), ("_ai_model", .string(result.model))]
                if let credential { metadata.append(("_ai_credential", .string(credential))) }
                if let id = input.sourceRowID { metadata.append(("_source_row_id", .integer(id))) }
                if case .object(let extra)? = save.metadata { metadata += extra }
                let r = try await s.execute("INSERT INTO \(name) VECTOR (dense, content, metadata) VALUES ($1, $2, $3) RETURNING rid",
                                            parameters: [.vector(vector), save.includeContent ? .text(input.text) : .null, .json(.object(metadata))])
                guard case .integer(let rid)? = r.rows.first?.first else { throw RedError(.internalError, "the insert returned no rid") }
                var item: [(String, JSONValue)] = [("index", .integer(Int64(index))), ("id", .integer(rid))]
                if let id = input.sourceRowID { item.append(("source_row_id", .integer(id))) }
                saved.append(.object(item))
            }
            return saved
        }
    }

    static func optionalText(_ body: JSONValue, _ field: String) throws -> String? {
        switch body[field] {
        case nil, .null?: return nil
        case .string(let s)?: return s.isBlank ? nil : s
        default: throw RedError(.invalidArgument, "\(field) must be a string")
        }
    }
}

