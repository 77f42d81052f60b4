import RedCore

/// The AI providers RedDB can call, as `USING`, `provider` fields and `REDDB_AI_PROVIDER` name them.
///
/// Each provider speaks one of three HTTP dialects (`Wire`): the OpenAI-compatible one
/// (`/embeddings`, `/chat/completions`), which most hosted and local servers offer;
/// Anthropic's Messages API; and Hugging Face's inference API. Any `http(s)://…` token is a
/// custom OpenAI-compatible server at that base URL.
///
/// Invariant: no silent substitution. A provider that cannot do what is asked (Anthropic
/// has no embeddings; `local` models are not built in) fails with a clear error rather than
/// being quietly replaced by another.
public struct AIProvider: Sendable, Hashable, CustomStringConvertible {
    public enum Wire: String, Sendable { case openAICompatible = "openai", anthropic, huggingFace = "huggingface", local }

    /// What the provider's models can be asked to do; the ASK pipeline adapts to it.
    public struct Capabilities: Sendable, Hashable {
        /// Follows instructions to cite `[^N]` markers reliably (strict mode needs it).
        public var citations: Bool
        public var seed: Bool
        public var temperatureZero: Bool
        public var streaming: Bool
    }

    /// The canonical token (`openai`), or the base URL of a custom server.
    public let token: String
    public let defaultBaseURL: String
    public let defaultPromptModel: String
    /// nil: the provider has no embeddings API.
    public let defaultEmbeddingModel: String?
    public let wire: Wire
    /// Keyless providers (a local Ollama) send no Authorization header unless a key is set.
    public let needsKey: Bool
    public let capabilities: Capabilities

    public var description: String { token }

    /// The name used in environment variables: `REDDB_<NAME>_API_KEY`.
    public var environmentName: String {
        wire == .openAICompatible && isCustom ? "CUSTOM" : token.uppercased()
    }

    public var isCustom: Bool { token.hasPrefix("http://") || token.hasPrefix("https://") }

    static let openAIStyle = Capabilities(citations: true, seed: true, temperatureZero: true, streaming: true)

    public static let builtIn: [AIProvider] = [
        AIProvider(token: "openai", defaultBaseURL: "https://api.openai.com/v1", defaultPromptModel: "gpt-4.1-mini",
                   defaultEmbeddingModel: "text-embedding-3-small", wire: .openAICompatible, needsKey: true, capabilities: openAIStyle),
        AIProvider(token: "anthropic", defaultBaseURL: "https://api.anthropic.com/v1", defaultPromptModel: "claude-3-5-haiku-latest",
                   defaultEmbeddingModel: nil, wire: .anthropic, needsKey: true,
                   capabilities: Capabilities(citations: true, seed: false, temperatureZero: true, streaming: true)),
        AIProvider(token: "groq", defaultBaseURL: "https://api.groq.com/openai/v1", defaultPromptModel: "llama-3.3-70b-versatile",
                   defaultEmbeddingModel: "text-embedding-3-small", wire: .openAICompatible, needsKey: true, capabilities: openAIStyle),
        AIProvider(token: "openrouter", defaultBaseURL: "https://openrouter.ai/api/v1", defaultPromptModel: "auto",
                   defaultEmbeddingModel: "text-embedding-3-small", wire: .openAICompatible, needsKey: true, capabilities: openAIStyle),
        AIProvider(token: "together", defaultBaseURL: "https://api.together.xyz/v1", defaultPromptModel: "meta-llama/Meta-Llama-3-8B-Instruct",
                   defaultEmbeddingModel: "text-embedding-3-small", wire: .openAICompatible, needsKey: true, capabilities: openAIStyle),
        AIProvider(token: "venice", defaultBaseURL: "https://api.venice.ai/api/v1", defaultPromptModel: "llama-3.3-70b",
                   defaultEmbeddingModel: "text-embedding-3-small", wire: .openAICompatible, needsKey: true, capabilities: openAIStyle),
        AIProvider(token: "ollama", defaultBaseURL: "http://localhost:11434/v1", defaultPromptModel: "llama3",
                   defaultEmbeddingModel: "nomic-embed-text", wire: .openAICompatible, needsKey: false,
                   capabilities: Capabilities(citations: false, seed: true, temperatureZero: true, streaming: true)),
        AIProvider(token: "deepseek", defaultBaseURL: "https://api.deepseek.com/v1", defaultPromptModel: "deepseek-chat",
                   defaultEmbeddingModel: "text-embedding-3-small", wire: .openAICompatible, needsKey: true, capabilities: openAIStyle),
        AIProvider(token: "huggingface", defaultBaseURL: "https://api-inference.huggingface.co",
                   defaultPromptModel: "mistralai/Mistral-7B-Instruct-v0.3", defaultEmbeddingModel: "sentence-transformers/all-MiniLM-L6-v2",
                   wire: .huggingFace, needsKey: true, capabilities: Capabilities(citations: false, seed: false, temperatureZero: true, streaming: false)),
        AIProvider(token: "local", defaultBaseURL: "local", defaultPromptModel: "sentence-transformers/all-MiniLM-L6-v2",
                   defaultEmbeddingModel: "sentence-transformers/all-MiniLM-L6-v2", wire: .local, needsKey: false,
                   capabilities: Capabilities(citations: false, seed: false, temperatureZero: false, streaming: false)),
    ]

    static let aliases = ["open_router": "openrouter", "deep_seek": "deepseek", "hf": "huggingface"]

    /// The provider a name means: a token, an alias, or an `http(s)://` base URL.
    ///
    /// ```swift
    /// let p = try AIProvider.named("OpenAI")   // p.token == "openai"
    /// ```
    public static func named(_ name: String) throws -> AIProvider {
        let trimmed = name.trimmingSpaces()
        let lower = trimmed.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            guard trimmed.count <= maxBaseURLBytes else { throw RedError(.invalidArgument, "an AI provider URL is limited to \(maxBaseURLBytes) bytes") }
            let base = trimmed.hasSuffix("/") ? String(trimmed.dropLast()) : trimmed
            return AIProvider(token: base, defaultBaseURL: base, defaultPromptModel: "gpt-4.1-mini", defaultEmbeddingModel: "text-embedding-3-small",
                              wire: .openAICompatible, needsKey: true,
                              capabilities: Capabilities(citations: false, seed: false, temperatureZero: true, streaming: false))
        }
        let token = aliases[lower] ?? lower
        guard let provider = builtIn.first(where: { $0.token == token }) else {
            throw RedError(.invalidArgument, "unknown AI provider '\(trimmed)'; use one of \(builtIn.map(\.token).joined(separator: ", ")) or an http(s):// URL")
        }
        return provider
    }

    /// Longest custom base URL accepted.
    public static let maxBaseURLBytes = 2048
}
