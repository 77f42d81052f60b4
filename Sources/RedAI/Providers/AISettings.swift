import RedCore

/// Where provider, model, base URL and API key come from, in upstream's order of precedence.
///
/// - provider: `REDDB_AI_PROVIDER` → config `red.config.ai.default.provider` → `openai`;
/// - prompt model: explicit → `REDDB_AI_MODEL` → `REDDB_<P>_PROMPT_MODEL` →
///   config `red.config.ai.default.model` → the provider's default;
/// - embedding model: explicit → `REDDB_<P>_EMBEDDING_MODEL` → `REDDB_OPENAI_EMBEDDING_MODEL`
///   → the provider's default;
/// - base URL: `REDDB_<P>_API_BASE` → the admin setting `red.config.ai.<p>.<alias>.base_url`
///   → default;
/// - API key: keyless providers take `REDDB_<P>_API_KEY` or nothing; others
///   `REDDB_<P>_API_KEY_<ALIAS>` (with an alias) or `REDDB_<P>_API_KEY`, then config
///   `red.config.ai.<p>.<alias>.key`, else an error saying which variable to set.
///
/// Where a key is sent is never up to a mere writer: base URLs come from the environment or
/// from admin settings (`protected`, kept where SQL cannot write: `/ai/credentials`), and a
/// custom `http(s)://` provider is refused unless its URL is in `REDDB_AI_ALLOWED_URLS` or
/// the admin list `ai.allowed_urls`. (Upstream reads base URLs from `red_config`, which any
/// writer may change — so any writer could send the server's key to a host of their choice.)
/// Everything else is read from the `red_config` KV collection through `config`, so that
/// this target needs no engine. A key in `red_config` is readable by anyone who may read that
/// collection (there is no vault); environment variables are the recommended place.
public struct AISettings: Sendable {
    /// Reads one `red_config` key (nil when absent).
    public typealias ConfigLookup = @Sendable (String) async throws -> String?

    public let environment: [String: String]
    let config: ConfigLookup
    let protected: ConfigLookup

    public init(environment: [String: String], config: @escaping ConfigLookup = { _ in nil }, protected: @escaping ConfigLookup = { _ in nil }) {
        self.environment = environment
        self.config = config
        self.protected = protected
    }

    /// The `red_config` value of `key`.
    public func configValue(_ key: String) async throws -> String? { try await config(key) }

    /// The provider a name means, refusing custom URLs no admin allowed.
    public func resolve(_ name: String) async throws -> AIProvider {
        let provider = try AIProvider.named(name)
        guard provider.isCustom else { return provider }
        var allowed = (env("REDDB_AI_ALLOWED_URLS") ?? "").split(separator: ",").map { Self.withoutTrailingSlash(String($0).trimmingSpaces()) }
        if let list = try await protected("ai.allowed_urls"), case .array(let items)? = try? JSONValue.parse(list) {
            allowed += items.compactMap { if case .string(let s) = $0 { Self.withoutTrailingSlash(s) } else { nil } }
        }
        guard allowed.contains(provider.defaultBaseURL) else {
            throw RedError(.insufficientPrivilege, "the AI provider URL \(provider.defaultBaseURL) is not allowed; an admin allows it with "
                           + "POST /ai/credentials {\"provider\": \"\(provider.defaultBaseURL)\"} or REDDB_AI_ALLOWED_URLS")
        }
        return provider
    }

    func env(_ name: String) -> String? {
        guard let value = environment[name]?.trimmingSpaces(), !value.isEmpty else { return nil }
        return value
    }

    public func defaultProvider() async throws -> AIProvider {
        if let name = env("REDDB_AI_PROVIDER") { return try await resolve(name) }
        if let name = try await config("red.config.ai.default.provider") { return try await resolve(name) }
        return try AIProvider.named("openai")
    }

    /// The provider `name` means, or the default one.
    public func provider(_ name: String?) async throws -> AIProvider {
        guard let name, !name.isBlank else { return try await defaultProvider() }
        return try await resolve(name)
    }

    public func promptModel(_ provider: AIProvider, explicit: String?) async throws -> String {
        if let explicit, !explicit.isBlank { return explicit }
        if let model = env("REDDB_AI_MODEL") ?? env("REDDB_\(provider.environmentName)_PROMPT_MODEL") { return model }
        if let model = try await config("red.config.ai.default.model"), try await defaultProvider() == provider { return model }
        return provider.defaultPromptModel
    }

    public func embeddingModel(_ provider: AIProvider, explicit: String?) throws -> String {
        if let explicit, !explicit.isBlank { return explicit }
        if provider.wire == .anthropic {
            throw RedError(.invalidArgument, "anthropic has no embeddings API; use openai (or another provider with embeddings)")
        }
        if let model = env("REDDB_\(provider.environmentName)_EMBEDDING_MODEL") ?? env("REDDB_OPENAI_EMBEDDING_MODEL") { return model }
        return provider.defaultEmbeddingModel ?? "text-embedding-3-small"
    }

    public func baseURL(_ provider: AIProvider, alias: String?) async throws -> String {
        if provider.isCustom { return provider.defaultBaseURL }
        if let base = env("REDDB_\(provider.environmentName)_API_BASE") { return Self.withoutTrailingSlash(base) }
        if let base = try await protected("red.config.ai.\(provider.token).\(Self.configAlias(alias)).base_url") { return Self.withoutTrailingSlash(base) }
        return provider.defaultBaseURL
    }

    /// The key to send, or "" for a keyless provider without one.
    public func apiKey(_ provider: AIProvider, alias: String?) async throws -> String {
        let name = provider.environmentName
        if !provider.needsKey { return env("REDDB_\(name)_API_KEY") ?? "" }
        if let alias, !alias.isBlank {
            if let key = env("REDDB_\(name)_API_KEY_\(Self.environmentAlias(alias))") { return key }
        } else if let key = env("REDDB_\(name)_API_KEY") {
            return key
        }
        if let key = try await config("red.config.ai.\(provider.token).\(Self.configAlias(alias)).key") { return key }
        if let alias, !alias.isBlank {
            throw RedError(.invalidArgument, "missing \(provider.token) API key for credential '\(alias)'. Set REDDB_\(name)_API_KEY_\(Self.environmentAlias(alias))")
        }
        throw RedError(.invalidArgument, "missing \(provider.token) API key. Set REDDB_\(name)_API_KEY or provide credential alias")
    }

    /// `prod-eu` → `PROD_EU`: upper case, runs of other characters become one `_`.
    static func environmentAlias(_ alias: String) -> String {
        var out = ""
        for scalar in alias.unicodeScalars {
            if scalar.isASCII, scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                out.unicodeScalars.append(scalar)
            } else if !out.hasSuffix("_") {
                out += "_"
            }
        }
        return out.uppercased()
    }

    static func configAlias(_ alias: String?) -> String {
        guard let alias, !alias.isBlank else { return "default" }
        return alias.lowercased()
    }

    static func withoutTrailingSlash(_ url: String) -> String { url.hasSuffix("/") ? String(url.dropLast()) : url }
}
