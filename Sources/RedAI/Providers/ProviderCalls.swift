import RedCore

/// The two things RedDB asks of a provider — embed texts, answer a prompt — in each wire dialect.
///
/// - OpenAI-compatible: `POST {base}/embeddings` `{model, input, dimensions?, encoding_format:"float"}`
///   (vectors re-ordered by `index`); `POST {base}/chat/completions` with the whole prompt as
///   one user message, `temperature?`, `seed?`, `max_tokens?`; streaming adds
///   `stream: true, stream_options: {include_usage: true}` and concatenates
///   `choices[0].delta.content`.
/// - Anthropic: `POST {base}/messages` with `x-api-key` and `anthropic-version: 2023-06-01`,
///   `max_tokens` (given or 512); the answer is the `content[].text` parts joined by blank lines.
/// - Hugging Face: one `POST {base}/pipeline/feature-extraction/{model}` per input; generation
///   `POST {base}/models/{model}` `{inputs, parameters:{temperature?, max_new_tokens}}`.
public struct ProviderCall: Sendable {
    public let provider: AIProvider
    public let model: String
    public let baseURL: String
    public let apiKey: String

    public init(provider: AIProvider, model: String, baseURL: String, apiKey: String) {
        self.provider = provider
        self.model = model
        self.baseURL = baseURL
        self.apiKey = apiKey
    }

    var bearer: [(String, String)] { apiKey.isEmpty ? [] : [("Authorization", "Bearer \(apiKey)")] }
}

/// What a prompt call returns.
public struct PromptReply: Sendable, Equatable {
    public var text: String
    public var promptTokens: Int?
    public var completionTokens: Int?
    public var finishReason: String?
}

/// What an embeddings call returns.
public struct EmbeddingReply: Sendable, Equatable {
    public var vectors: [[Float]]
    public var promptTokens: Int?
    public var totalTokens: Int?
}

/// Options of one prompt.
public struct PromptOptions: Sendable, Equatable {
    public var temperature: Double?
    public var seed: UInt64?
    public var maxTokens: Int?
    public init(temperature: Double? = nil, seed: UInt64? = nil, maxTokens: Int? = nil) {
        self.temperature = temperature
        self.seed = seed
        self.maxTokens = maxTokens
    }
}

extension AITransport {
    func embed(_ texts: [String], dimensions: Int?, call: ProviderCall) async throws -> EmbeddingReply {
        switch call.provider.wire {
        case .local:
            throw AIProviderFailure(provider: "local", status: 400, message: "local embedding models are not built into this server; use ollama or an OpenAI-compatible URL")
        case .anthropic:
            throw AIProviderFailure(provider: "anthropic", status: 400, message: "anthropic has no embeddings API")
        case .huggingFace:
            var vectors: [[Float]] = []
            for text in texts {
                let reply = try await postJSON("\(call.baseURL)/pipeline/feature-extraction/\(try Self.modelPath(call))", headers: call.bearer,
                                               body: .object([("inputs", .string(text))]), timeoutSeconds: policy.embeddingTimeoutSeconds,
                                               call: call)
                vectors.append(try Self.floats(reply, provider: call.provider.token))
            }
            return EmbeddingReply(vectors: vectors)
        case .openAICompatible:
            var body: [(String, JSONValue)] = [("model", .string(call.model)),
                                               ("input", texts.count == 1 ? .string(texts[0]) : .array(texts.map { .string($0) }))]
            if let dimensions { body.append(("dimensions", .integer(Int64(dimensions)))) }
            body.append(("encoding_format", .string("float")))
            let reply = try await postJSON("\(call.baseURL)/embeddings", headers: call.bearer, body: .object(body),
                                           timeoutSeconds: policy.embeddingTimeoutSeconds, call: call)
            guard case .array(let data)? = reply["data"] else {
                throw AIProviderFailure(provider: call.provider.token, status: 200, message: "the embeddings reply has no data array")
            }
            var indexed: [(Int, [Float])] = []
            for (position, item) in data.enumerated() {
                let index: Int
                if case .integer(let i)? = item["index"] { index = Int(i) } else { index = position }
                indexed.append((index, try Self.floats(item["embedding"] ?? .null, provider: call.provider.token)))
            }
            indexed.sort { $0.0 < $1.0 }
            return EmbeddingReply(vectors: indexed.map(\.1), promptTokens: reply["usage"]?["prompt_tokens"]?.intValue,
                                  totalTokens: reply["usage"]?["total_tokens"]?.intValue)
        }
    }

    func prompt(_ text: String, options: PromptOptions, call: ProviderCall) async throws -> PromptReply {
        switch call.provider.wire {
        case .local:
            throw AIProviderFailure(provider: "local", status: 400, message: "local models are not built into this server; use ollama or an OpenAI-compatible URL")
        case .anthropic:
            let reply = try await postJSON("\(call.baseURL)/messages", headers: anthropicHeaders(call), body: anthropicBody(text, options: options, call: call),
                                           timeoutSeconds: policy.promptTimeoutSeconds, call: call)
            var parts: [String] = []
            if case .array(let content)? = reply["content"] {
                for part in content { if case .string(let s)? = part["text"] { parts.append(s) } }
            }
            return PromptReply(text: parts.joined(separator: "\n\n"), promptTokens: reply["usage"]?["input_tokens"]?.intValue,
                               completionTokens: reply["usage"]?["output_tokens"]?.intValue, finishReason: reply["stop_reason"]?.stringValue)
        case .huggingFace:
            var parameters: [(String, JSONValue)] = []
            if let t = options.temperature { parameters.append(("temperature", .float(t))) }
            parameters.append(("max_new_tokens", .integer(Int64(options.maxTokens ?? 512))))
            let reply = try await postJSON("\(call.baseURL)/models/\(try Self.modelPath(call))", headers: call.bearer,
                                           body: .object([("inputs", .string(text)), ("parameters", .object(parameters))]),
                                           timeoutSeconds: policy.promptTimeoutSeconds, call: call)
            let first: JSONValue? = if case .array(let items) = reply { items.first } else { reply }
            guard case .string(let generated)? = first?["generated_text"] else {
                throw AIProviderFailure(provider: call.provider.token, status: 200, message: "the reply has no generated_text")
            }
            return PromptReply(text: generated)
        case .openAICompatible:
            let reply = try await postJSON("\(call.baseURL)/chat/completions", headers: call.bearer, body: chatBody(text, options: options, call: call, stream: false),
                                           timeoutSeconds: policy.promptTimeoutSeconds, call: call)
            let choice: JSONValue? = if case .array(let choices)? = reply["choices"] { choices.first } else { nil }
            guard let message = choice?["message"]?["content"] else {
                throw AIProviderFailure(provider: call.provider.token, status: 200, message: "the reply has no choices[0].message.content")
            }
            return PromptReply(text: Self.contentText(message), promptTokens: reply["usage"]?["prompt_tokens"]?.intValue,
                               completionTokens: reply["usage"]?["completion_tokens"]?.intValue, finishReason: choice?["finish_reason"]?.stringValue)
        }
    }

    /// A streamed prompt: `token` gets each piece of the answer as it arrives; the reply holds
    /// the whole text and the usage the provider reported at the end.
    func promptStreaming(_ text: String, options: PromptOptions, call: ProviderCall, token: (String) async throws -> Void) async throws -> PromptReply {
        guard call.provider.wire == .openAICompatible else {
            let reply = try await prompt(text, options: options, call: call)
            try await token(reply.text)
            return reply
        }
        var reply = PromptReply(text: "")
        try await postStreaming("\(call.baseURL)/chat/completions", headers: call.bearer, body: chatBody(text, options: options, call: call, stream: true),
                                timeoutSeconds: policy.promptTimeoutSeconds, call: call) { event in
            if let usage = event["usage"], usage != .null {
                reply.promptTokens = usage["prompt_tokens"]?.intValue
                reply.completionTokens = usage["completion_tokens"]?.intValue
            }
            guard case .array(let choices)? = event["choices"], let choice = choices.first else { return }
            if let reason = choice["finish_reason"]?.stringValue { reply.finishReason = reason }
            if case .string(let piece)? = choice["delta"]?["content"], !piece.isEmpty {
                reply.text += piece
                try await token(piece)
            }
        }
        return reply
    }

    private func chatBody(_ text: String, options: PromptOptions, call: ProviderCall, stream: Bool) -> JSONValue {
        var body: [(String, JSONValue)] = [("model", .string(call.model)),
                                           ("messages", .array([.object([("role", .string("user")), ("content", .string(text))])]))]
        if let t = options.temperature { body.append(("temperature", .float(t))) }
        if let seed = options.seed { body.append(("seed", .integer(Int64(bitPattern: seed)))) }
        if let max = options.maxTokens { body.append(("max_tokens", .integer(Int64(max)))) }
        if stream {
            body.append(("stream", .bool(true)))
            body.append(("stream_options", .object([("include_usage", .bool(true))])))
        }
        return .object(body)
    }

    private func anthropicHeaders(_ call: ProviderCall) -> [(String, String)] {
        [("x-api-key", call.apiKey), ("anthropic-version", "2023-06-01")]
    }

    private func anthropicBody(_ text: String, options: PromptOptions, call: ProviderCall) -> JSONValue {
        var body: [(String, JSONValue)] = [("model", .string(call.model)), ("max_tokens", .integer(Int64(options.maxTokens ?? 512))),
                                           ("messages", .array([.object([("role", .string("user")), ("content", .string(text))])]))]
        if let t = options.temperature { body.append(("temperature", .float(t))) }
        return .object(body)
    }

    /// A Hugging Face model id as URL path segments (`org/name`), each percent-encoded; `.`
    /// and `..` segments are refused so a model name cannot reach another path of the host.
    static func modelPath(_ call: ProviderCall) throws -> String {
        let segments = call.model.split(separator: "/", omittingEmptySubsequences: false)
        guard !segments.isEmpty, segments.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            throw AIProviderFailure(provider: call.provider.token, status: 400, message: "invalid model name '\(call.model)'")
        }
        return segments.map { segment in
            segment.utf8.map { byte -> String in
                let safe = byte.isASCIIAlphanumeric || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
                return safe ? String(UnicodeScalar(byte)) : "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }.joined()
        }.joined(separator: "/")
    }

    /// A message's content: a string, or parts whose `text` fields are joined.
    static func contentText(_ content: JSONValue) -> String {
        switch content {
        case .string(let s): return s
        case .array(let parts): return parts.compactMap { $0["text"]?.stringValue }.joined()
        default: return ""
        }
    }

    static func floats(_ json: JSONValue, provider: String) throws -> [Float] {
        guard case .array(let items) = json, !items.isEmpty else {
            throw AIProviderFailure(provider: provider, status: 200, message: "an embedding is not a non-empty array of numbers")
        }
        var out: [Float] = []
        out.reserveCapacity(items.count)
        for item in items {
            switch item {
            case .float(let d): out.append(Float(d))
            case .decimal(let n): out.append(Float(n.doubleValue))
            case .integer(let i): out.append(Float(i))
            default: throw AIProviderFailure(provider: provider, status: 200, message: "an embedding holds a value that is not a number")
            }
        }
        return out
    }
}

extension JSONValue {
    var intValue: Int? {
        switch self {
        case .integer(let i): return Int(i)
        case .float(let d) where d.isFinite && d.rounded() == d && abs(d) < 1e15: return Int(d)
        default: return nil
        }
    }

    var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}
