import RedCore

/// RedDB's door to AI providers: embeddings and prompts with settings resolved
/// (`AISettings`), batching, and provider failures turned into `RedError`s.
///
/// One per database; `RedDB` gives it a configuration reader over `red_config`. Every
/// surface reaches it the same way — SQL (`SEARCH SIMILAR TEXT`, `ASK`, `AUTO EMBED`), HTTP
/// `/ai/*`, gRPC `Embeddings`/`AiPrompt`/`Ask`.
public final class AIService: Sendable {
    public let settings: AISettings
    public let transport: AITransport
    let answerCache = AskAnswerCache()
    let costLedger = AskCostLedger()

    /// Most inputs in one embeddings request (`max_inputs` may lower it).
    public static let maxInputs = 2048
    /// Longest text sent for embedding or as a prompt, in bytes.
    public static let maxTextBytes = 1 << 20
    /// Largest `dimensions` asked of a provider (matches the vector column limit).
    public static let maxDimensions = Limits.maxVectorDimensions

    public init(settings: AISettings, transport: AITransport = AITransport()) {
        self.settings = settings
        self.transport = transport
    }

    /// What to embed and with whom.
    public struct EmbeddingRequest: Sendable {
        public var texts: [String]
        public var provider: String?
        public var model: String?
        public var dimensions: Int?
        /// Credential alias (`REDDB_<P>_API_KEY_<ALIAS>`).
        public var credential: String?
        public init(texts: [String], provider: String? = nil, model: String? = nil, dimensions: Int? = nil, credential: String? = nil) {
            self.texts = texts
            self.provider = provider
            self.model = model
            self.dimensions = dimensions
            self.credential = credential
        }
    }

    public struct EmbeddingResult: Sendable {
        public var provider: AIProvider
        public var model: String
        /// One per input, in order; an empty input gets an empty vector.
        public var vectors: [[Float]]
        public var promptTokens: Int?
        public var totalTokens: Int?
    }

    /// Embeds texts, in sub-batches the provider accepts (2048 for OpenAI, 256 for others).
    public func embed(_ request: EmbeddingRequest) async throws -> EmbeddingResult {
        guard request.texts.count <= Self.maxInputs else {
            throw RedError(.limitExceeded, "at most \(Self.maxInputs) texts are embedded at once, got \(request.texts.count)")
        }
        if let d = request.dimensions, !(1...Self.maxDimensions).contains(d) {
            throw RedError(.invalidArgument, "dimensions must be between 1 and \(Self.maxDimensions)")
        }
        for text in request.texts where text.utf8.count > Self.maxTextBytes {
            throw RedError(.limitExceeded, "a text to embed is limited to \(Self.maxTextBytes) bytes")
        }
        let provider = try await settings.provider(request.provider)
        let model = try settings.embeddingModel(provider, explicit: request.model)
        if provider.wire == .local {
            throw RedError(.invalidArgument, "the local provider has no built-in embedding models; use ollama or an OpenAI-compatible URL")
        }
        let call = ProviderCall(provider: provider, model: model, baseURL: try await settings.baseURL(provider, alias: request.credential),
                                apiKey: try await settings.apiKey(provider, alias: request.credential))
        let batchSize = provider.token == "openai" ? 2048 : 256
        var vectors = [[Float]](repeating: [], count: request.texts.count)
        let positions = request.texts.indices.filter { !request.texts[$0].isBlank }
        var result = EmbeddingResult(provider: provider, model: model, vectors: [], promptTokens: nil, totalTokens: nil)
        var start = 0
        while start < positions.count {
            let batch = Array(positions[start..<min(positions.count, start + batchSize)])
            start += batch.count
            let reply: EmbeddingReply
            do {
                reply = try await transport.embed(batch.map { request.texts[$0] }, dimensions: request.dimensions, call: call)
            } catch let failure as AIProviderFailure {
                throw failure.redError
            }
            guard reply.vectors.count == batch.count else {
                throw RedError(.aiProviderFailed, "\(provider.token) returned \(reply.vectors.count) embeddings for \(batch.count) inputs")
            }
            for (position, vector) in zip(batch, reply.vectors) { vectors[position] = vector }
            if let t = reply.promptTokens { result.promptTokens = (result.promptTokens ?? 0) + t }
            if let t = reply.totalTokens { result.totalTokens = (result.totalTokens ?? 0) + t }
        }
        result.vectors = vectors
        return result
    }

    /// What to ask and of whom.
    public struct PromptRequest: Sendable {
        public var prompt: String
        public var provider: String?
        public var model: String?
        public var options: PromptOptions
        public var credential: String?
        public init(prompt: String, provider: String? = nil, model: String? = nil, options: PromptOptions = PromptOptions(), credential: String? = nil) {
            self.prompt = prompt
            self.provider = provider
            self.model = model
            self.options = options
            self.credential = credential
        }
    }

    public struct PromptResult: Sendable {
        public var provider: AIProvider
        public var model: String
        public var reply: PromptReply
    }

    /// Sends one prompt; `token`, when given, receives the answer piece by piece.
    public func prompt(_ request: PromptRequest, token: (@Sendable (String) async throws -> Void)? = nil) async throws -> PromptResult {
        let provider = try await settings.provider(request.provider)
        do {
            return try await prompt(request, provider: provider, token: token)
        } catch let failure as AIProviderFailure {
            throw failure.redError
        }
    }

    /// One provider's attempt, failing with `AIProviderFailure` so a caller (the ASK ladder)
    /// can tell a retryable failure from one to give up on.
    func prompt(_ request: PromptRequest, provider: AIProvider, token: (@Sendable (String) async throws -> Void)?) async throws -> PromptResult {
        guard request.prompt.utf8.count <= Self.maxTextBytes else {
            throw RedError(.limitExceeded, "a prompt is limited to \(Self.maxTextBytes) bytes")
        }
        let model = try await settings.promptModel(provider, explicit: request.model)
        let call = ProviderCall(provider: provider, model: model, baseURL: try await settings.baseURL(provider, alias: request.credential),
                                apiKey: try await settings.apiKey(provider, alias: request.credential))
        let reply: PromptReply
        if let token {
            reply = try await transport.promptStreaming(request.prompt, options: request.options, call: call, token: token)
        } else {
            reply = try await transport.prompt(request.prompt, options: request.options, call: call)
        }
        return PromptResult(provider: provider, model: model, reply: reply)
    }
}
