import Crypto
import RedCore

/// What retrieval needs from the database; RedDB implements it over the caller's session, so
/// an ASK sees exactly what its caller may read.
public protocol AskRetriever: Sendable {
    /// Collections the caller can see.
    func collections() async throws -> [AskCollection]
    /// BM25 hits for `question` in `collections`, best first.
    func textHits(_ question: String, collections: [String], limit: Int) async throws -> [AskSource]
    /// Nearest items to `vector` in the vector collections among `collections`, best first.
    func vectorHits(_ vector: [Float], collections: [String], limit: Int, minScore: Double) async throws -> [AskSource]
    /// Graph nodes and edges within `depth` hops of the graph items among `seeds`.
    func graphHits(seeds: [AskSource], depth: Int, limit: Int) async throws -> [AskSource]
    /// Rows of `collections` whose values contain a literal, `hintedColumns` looked at first.
    func literalRows(_ literals: [String], collections: [String], hintedColumns: [String], limit: Int) async throws -> [AskSource]
    /// The same sources with `content` filled in.
    func withContent(_ sources: [AskSource]) async throws -> [AskSource]
    /// Appends one row to the audit collection `red_ask_audit`, dropping rows older than
    /// `retentionDays`.
    func recordAudit(_ row: [(String, Value)], retentionDays: Int) async throws
}

public struct AskCollection: Sendable {
    public var name: String
    /// `table`, `document`, `kv`, `vector`, `graph`.
    public var model: String
    public var columns: [String]
    public init(name: String, model: String, columns: [String]) {
        self.name = name
        self.model = model
        self.columns = columns
    }
}

/// What a streamed ASK reports before its answer is complete.
public enum AskEvent: Sendable {
    /// The sources the answer may cite, before the provider is called.
    case sources([AskSource])
    /// A piece of the answer, as the provider produced it.
    case token(String)
    /// The answer so far failed strict citation checks; a second answer follows and replaces it.
    case retry([AskValidation.Item])
}

public typealias AskEvents = @Sendable (AskEvent) async throws -> Void

/// One ASK's settings, from the statement's clauses.
public struct AskRequest: Sendable {
    public var question: String
    public var providers: [String] = []
    public var model: String?
    public var depth = 2
    public var limit = 20
    public var minScore = 0.0
    public var collection: String?
    public var temperature: Double?
    public var seed: UInt64?
    public var strict = true
    public var cacheTTLMilliseconds: Int64?
    /// `NOCACHE`: not even `ask.cache.enabled` caches this one.
    public var bypassCache = false
    public var explain = false
    /// Who asks, for the audit row and the cache key.
    public var user = ""
    public var role = ""
    public init(question: String) { self.question = question }
}

/// The answer row of an ASK.
public struct AskAnswer: Sendable {
    public var answer: String
    public var provider: String
    public var model: String
    public var mode: String
    public var retryCount: Int
    public var promptTokens: Int
    public var completionTokens: Int
    public var costUSD: Double
    public var cacheHit: Bool
    public var sources: [AskSource]
    public var citations: [AskCitation]
    public var validation: AskValidation

    public var sourcesJSON: JSONValue { .array(sources.map(\.json)) }
    public var citationsJSON: JSONValue { .array(citations.map { $0.json(sources: sources) }) }

    /// Answer pieces for a stream: words with their following spaces, in order.
    public var tokens: [String] { Self.tokens(of: answer) }

    public static func tokens(of answer: String) -> [String] {
        var out: [String] = [], current = ""
        for ch in answer {
            current.append(ch)
            if ch == " " || ch == "\n" { out.append(current); current = "" }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}

/// `ASK`: retrieval, fusion, a grounded prompt, a provider ladder, citation checks, audit.
///
/// Steps (spec ops §4.7, with row contents given to the model, which upstream omits):
/// 1. tokens of the question (`AskTokens`); none → error;
/// 2. candidate collections: those whose name (or a singular/plural of it) or a column is a
///    keyword, with their `<name>_embeddings` (AUTO EMBED) collections; `COLLECTION c` pins
///    one; when nothing matches, every collection the caller sees;
/// 3. buckets: literal rows, BM25, vectors (the question embedded by the default provider, when
///    it can embed; any failure leaves the bucket empty), graph neighbourhoods of graph hits;
/// 4. Reciprocal Rank Fusion, `LIMIT` sources, contents attached;
/// 5. cost guard: prompt and sources sizes against `maxPromptTokens`/`maxSourcesBytes`;
/// 6. for each provider of the ladder: cached answer, or a call at the deterministic
///    temperature and seed; strict mode retries once with a note when citations are unsound
///    and then fails (422); retryable failures move to the next provider;
/// 7. an audit row for every outcome, cache hits and give-ups included.
public struct AskPipeline: Sendable {
    public let ai: AIService
    public let retriever: any AskRetriever

    /// Estimated (bytes / 4) prompt tokens allowed: upstream's 8,192 cannot hold the row
    /// contents we send (48 KiB of prompt is about 12,000).
    public static let maxLimit = 200
    public static let maxDepth = 5

    public init(ai: AIService, retriever: any AskRetriever) {
        self.ai = ai
        self.retriever = retriever
    }

    /// The retrieval result an EXPLAIN ASK reports and the call uses.
    public struct Retrieval: Sendable {
        public var tokens: AskTokens
        public var candidates: [String]
        public var hintedColumns: [String]
        public var bucketSizes: [String: Int]
        public var vectorNote: String?
        public var sources: [AskSource]
    }

    public func retrieve(_ request: AskRequest) async throws -> Retrieval {
        let tokens = AskTokens(question: request.question)
        guard !tokens.isEmpty else {
            throw RedError(.invalidArgument, "ASK question yielded no usable tokens; ask about names, ids or words that appear in your data")
        }
        let visible = try await retriever.collections().filter { !$0.name.hasPrefix("red_") }
        var candidates: [AskCollection]
        if let pinned = request.collection {
            guard let c = visible.first(where: { $0.name == pinned }) else {
                throw RedError(.undefinedCollection, "collection \"\(pinned)\" does not exist")
            }
            candidates = [c]
        } else {
            let keywords = Set(tokens.keywords)
            candidates = visible.filter { c in
                Self.nameForms(c.name).contains { keywords.contains($0) } || c.columns.contains { keywords.contains($0.lowercased()) }
            }
            if candidates.isEmpty { candidates = visible }
            // A table's AUTO EMBED vectors go with it.
            let names = Set(candidates.map(\.name))
            candidates += visible.filter { c in !names.contains(c.name) && c.name.hasSuffix("_embeddings") && names.contains(String(c.name.dropLast(11))) }
        }
        candidates.sort { $0.name < $1.name }
        let names = candidates.map(\.name)
        let keywordSet = Set(tokens.keywords)
        let hinted = Array(Set(candidates.flatMap(\.columns).filter { keywordSet.contains($0.lowercased()) })).sorted()
        let limit = request.limit

        let literal = tokens.literals.isEmpty ? [] : try await retriever.literalRows(tokens.literals, collections: names, hintedColumns: hinted, limit: limit)
        let text = try await retriever.textHits(request.question, collections: names, limit: limit)
        var vectorNote: String?
        var vector: [AskSource] = []
        let vectorCollections = candidates.filter { $0.model == "vector" }.map(\.name)
        if !vectorCollections.isEmpty {
            do {
                let embedded = try await ai.embed(.init(texts: [request.question]))
                vector = try await retriever.vectorHits(embedded.vectors[0], collections: vectorCollections, limit: limit, minScore: request.minScore)
            } catch {
                vectorNote = "vector bucket empty: \((error as? RedError)?.message ?? "\(error)")"
            }
        }
        let graphSeeds = (text + literal).filter { $0.kind == .graphNode || $0.kind == .graphEdge }
        let graph = graphSeeds.isEmpty ? [] : try await retriever.graphHits(seeds: graphSeeds, depth: request.depth, limit: limit)
        let fused = AskSource.fuse([literal, text, vector, graph], limit: limit)
        return Retrieval(tokens: tokens, candidates: names, hintedColumns: hinted,
                         bucketSizes: ["literal": literal.count, "bm25": text.count, "vector": vector.count, "graph": graph.count],
                         vectorNote: vectorNote, sources: try await retriever.withContent(fused))
    }

    /// `EXPLAIN ASK`: what would be sent, without calling a provider.
    public func explain(_ request: AskRequest) async throws -> JSONValue {
        let retrieval = try await retrieve(request)
        let (prompt, kept) = AskPrompt.render(question: request.question, candidates: retrieval.candidates, sources: retrieval.sources)
        let ladder = try await providerLadder(request)
        var plan: [(String, JSONValue)] = [
            ("tokens", .object([("literals", .array(retrieval.tokens.literals.map { .string($0) })), ("keywords", .array(retrieval.tokens.keywords.map { .string($0) }))])),
            ("candidate_collections", .array(retrieval.candidates.map { .string($0) })),
            ("hinted_columns", .array(retrieval.hintedColumns.map { .string($0) })),
            ("buckets", .object(retrieval.bucketSizes.sorted { $0.key < $1.key }.map { ($0.key, .integer(Int64($0.value))) })),
            ("sources_flat", .array(kept.map(\.json))),
            ("prompt_bytes", .integer(Int64(prompt.utf8.count))),
            ("prompt_tokens_estimate", .integer(Int64((prompt.utf8.count + 3) / 4))),
            ("providers", .array(ladder.map { .string($0.token) })),
            ("mode", .string(request.strict ? "strict" : "lenient")),
            ("temperature", .float(request.temperature ?? 0)),
            ("seed", .string(String(request.seed ?? Self.seed(question: request.question, fingerprint: AskSource.fingerprint(kept))))),
        ]
        if let note = retrieval.vectorNote { plan.append(("vector_note", .string(note))) }
        return .object(plan)
    }

    /// `USING 'a,b'`, else config `ask.providers.fallback` (a JSON array or comma-separated
    /// text), else the default provider.
    func providerLadder(_ request: AskRequest) async throws -> [AIProvider] {
        var ladder: [AIProvider] = []
        if !request.providers.isEmpty {
            for name in request.providers { ladder.append(try await ai.settings.resolve(name)) }
            return ladder
        }
        if let configured = try await ai.settings.configValue("ask.providers.fallback") {
            var names: [String]
            if case .array(let items)? = try? JSONValue.parse(configured) {
                names = items.compactMap { if case .string(let s) = $0 { s } else { nil } }
            } else {
                names = configured.split(separator: ",").map { String($0).trimmingSpaces() }
            }
            names = names.filter { !$0.isEmpty }
            if !names.isEmpty {
                guard names.count <= 8 else { throw RedError(.invalidArgument, "ask.providers.fallback names at most 8 providers") }
                for name in names { ladder.append(try await ai.settings.resolve(name)) }
                return ladder
            }
        }
        return [try await ai.settings.defaultProvider()]
    }

    /// Runs an ASK to its answer. With `events`, a streamed ASK: the sources as soon as they
    /// are chosen, then the answer's pieces as the provider produces them (a `retry` event
    /// before a strict retry's pieces, which replace the first answer's).
    public func ask(_ request: AskRequest, events: AskEvents? = nil) async throws -> AskAnswer {
        let knobs = try await AskSettings.load(ai.settings)
        var request = request
        if request.cacheTTLMilliseconds == nil, !request.bypassCache { request.cacheTTLMilliseconds = knobs.defaultCacheTTLMilliseconds }
        if request.temperature == nil { request.temperature = knobs.defaultTemperature }
        let retrieval = try await retrieve(request)
        let (firstPrompt, sources) = AskPrompt.render(question: request.question, candidates: retrieval.candidates, sources: retrieval.sources)
        let promptTokens = (firstPrompt.utf8.count + 3) / 4
        guard promptTokens <= knobs.maxPromptTokens else {
            throw RedError(.limitExceeded, "quota_exceeded:payload:prompt_tokens:\(promptTokens) > \(knobs.maxPromptTokens)")
        }
        let sourcesBytes = JSONValue.array(sources.map(\.json)).utf8.count
        guard sourcesBytes <= knobs.maxSourcesBytes else {
            throw RedError(.limitExceeded, "quota_exceeded:payload:sources_bytes:\(sourcesBytes) > \(knobs.maxSourcesBytes)")
        }
        let tenant = "tenant:<default>"
        if let cap = knobs.dailyCostCapUSD {
            let planned = Double(promptTokens + knobs.maxCompletionTokens) / 1e6
            let spent = ai.costLedger.spent(tenant)
            guard spent + planned <= cap else {
                throw RedError(.limitExceeded, "quota_exceeded:rate:daily_cost_cap_usd:spent \(spent) + planned \(planned) > \(cap)")
            }
        }
        let fingerprint = AskSource.fingerprint(sources)
        let ladder = try await providerLadder(request)
        try await events?(.sources(sources))
        var failures: [String] = []
        for provider in ladder {
            let effectiveStrict = request.strict && provider.capabilities.citations
            let temperature: Double? = provider.capabilities.temperatureZero ? (request.temperature ?? 0) : request.temperature
            let seed: UInt64? = provider.capabilities.seed ? (request.seed ?? Self.seed(question: request.question, fingerprint: fingerprint)) : nil
            let model = try await ai.settings.promptModel(provider, explicit: request.model)
            let cacheKey = Self.cacheKey(request, provider: provider.token, model: model, temperature: temperature, seed: seed, fingerprint: fingerprint)
            if let ttl = request.cacheTTLMilliseconds, ttl > 0, var cached = ai.answerCache.get(cacheKey) {
                cached.cacheHit = true
                try await audit(request, cached, error: nil, knobs: knobs)
                for token in cached.tokens { try await events?(.token(token)) }
                return cached
            }
            do {
                var answer = try await call(provider: provider, model: model, prompt: firstPrompt, request: request, sources: sources,
                                            candidates: retrieval.candidates, strict: effectiveStrict, temperature: temperature, seed: seed,
                                            events: events, knobs: knobs)
                ai.costLedger.add(answer.costUSD, tenant: tenant)
                if request.strict && !provider.capabilities.citations {
                    answer.validation.warnings.append(.init(kind: "mode_fallback", detail: "\(provider.token) does not cite reliably; the answer was checked leniently"))
                }
                if let ttl = request.cacheTTLMilliseconds, ttl > 0 { ai.answerCache.put(cacheKey, answer, ttlMilliseconds: ttl) }
                try await audit(request, answer, error: nil, knobs: knobs)
                return answer
            } catch let failure as AIProviderFailure where failure.worthRetrying {
                failures.append("\(provider.token): \(failure)")
            } catch let error as RedError where error.code == .answerValidationFailed {
                throw error  // already audited with the rejected answer
            } catch let failure as AIProviderFailure {
                try? await auditFailure(request, provider: provider.token, model: model, message: failure.description, knobs: knobs)
                throw failure.redError
            } catch {
                try? await auditFailure(request, provider: provider.token, model: model, message: (error as? RedError)?.message ?? "\(error)", knobs: knobs)
                throw error
            }
        }
        let message = "ask_provider_failover_exhausted: " + failures.joined(separator: "; ")
        try? await auditFailure(request, provider: ladder.map(\.token).joined(separator: ","), model: request.model ?? "", message: message, knobs: knobs)
        throw RedError(.aiProviderFailed, message)
    }

    private func call(provider: AIProvider, model: String, prompt: String, request: AskRequest, sources firstSources: [AskSource], candidates: [String],
                      strict: Bool, temperature: Double?, seed: UInt64?, events: AskEvents?, knobs: AskSettings) async throws -> AskAnswer {
        let options = PromptOptions(temperature: temperature, seed: seed, maxTokens: knobs.maxCompletionTokens)
        var sources = firstSources
        var token: (@Sendable (String) async throws -> Void)?
        if let events {
            token = { @Sendable piece in try await events(.token(piece)) }
        }
        var result = try await ai.prompt(AIService.PromptRequest(prompt: prompt, model: model, options: options), provider: provider, token: token)
        var (citations, validation) = AskCitationParser.parse(result.reply.text, sourceCount: sources.count)
        var retries = 0
        var promptTokens = result.reply.promptTokens ?? (prompt.utf8.count + 3) / 4
        var completionTokens = result.reply.completionTokens ?? (result.reply.text.utf8.count + 3) / 4
        if strict, !validation.structuralWarnings.isEmpty {
            retries = 1
            let note = AskPrompt.retryNote(sourceCount: sources.count, problems: validation.structuralWarnings)
            // The note takes room: the retry may hold fewer sources, and its answer is checked against those.
            let (retryPrompt, retrySources) = AskPrompt.render(question: request.question, candidates: candidates, sources: sources, retryNote: note)
            sources = retrySources
            try await events?(.retry(validation.structuralWarnings))
            result = try await ai.prompt(AIService.PromptRequest(prompt: retryPrompt, model: model, options: options), provider: provider, token: token)
            (citations, validation) = AskCitationParser.parse(result.reply.text, sourceCount: sources.count)
            promptTokens += result.reply.promptTokens ?? (retryPrompt.utf8.count + 3) / 4
            completionTokens += result.reply.completionTokens ?? (result.reply.text.utf8.count + 3) / 4
            if !validation.structuralWarnings.isEmpty {
                validation.errors = validation.structuralWarnings
                let failed = AskAnswer(answer: result.reply.text, provider: provider.token, model: model, mode: "strict", retryCount: retries,
                                       promptTokens: promptTokens, completionTokens: completionTokens,
                                       costUSD: Double(promptTokens + completionTokens) / 1e6, cacheHit: false, sources: sources,
                                       citations: citations, validation: validation)
                ai.costLedger.add(failed.costUSD, tenant: "tenant:<default>")
                try await audit(request, failed, error: "citation validation failed after retry", knobs: knobs)
                throw RedError(.answerValidationFailed, "ASK citation validation failed after retry",
                               detail: validation.errors.map { "[\($0.kind)] \($0.detail)" }.joined(separator: "; "))
            }
        }
        return AskAnswer(answer: result.reply.text, provider: provider.token, model: model, mode: strict ? "strict" : "lenient", retryCount: retries,
                         promptTokens: promptTokens, completionTokens: completionTokens, costUSD: Double(promptTokens + completionTokens) / 1e6,
                         cacheHit: false, sources: sources, citations: citations, validation: validation)
    }

    /// First 8 bytes (little-endian) of SHA-256(question ‖ 0x1F ‖ fingerprint).
    static func seed(question: String, fingerprint: String) -> UInt64 {
        let digest = Array(SHA256.hash(data: Array(question.utf8) + [0x1F] + Array(fingerprint.utf8)))
        return digest.prefix(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func cacheKey(_ r: AskRequest, provider: String, model: String, temperature: Double?, seed: UInt64?, fingerprint: String) -> String {
        let parts = [r.user, r.role, r.question, r.strict ? "strict" : "lenient", provider, model, temperature.map { "\($0)" } ?? "none", seed.map { "\($0)" } ?? "none", fingerprint]
        return SHA256.hash(data: Array(parts.joined(separator: "\u{1F}").utf8)).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// `orders` also answers to `order`, `categories` to `category`.
    static func nameForms(_ name: String) -> [String] {
        let n = name.lowercased()
        var forms = [n, n + "s"]
        if n.hasSuffix("ies") { forms.append(String(n.dropLast(3)) + "y") }
        if n.hasSuffix("es") { forms.append(String(n.dropLast(2))) }
        if n.hasSuffix("s") { forms.append(String(n.dropLast())) }
        return forms
    }

    private func audit(_ r: AskRequest, _ a: AskAnswer, error: String?, knobs: AskSettings) async throws {
        try await retriever.recordAudit([
            ("user", .text(r.user)), ("role", .text(r.role)), ("question", .text(r.question)),
            ("sources_urns", .json(.array(a.sources.map { .string($0.urn) }))), ("provider", .text(a.provider)), ("model", .text(a.model)),
            ("prompt_tokens", .integer(Int64(a.promptTokens))), ("completion_tokens", .integer(Int64(a.completionTokens))),
            ("cost_usd", .float(a.costUSD)),
            ("answer_hash", .text(SHA256.hash(data: Array(a.answer.utf8)).map { String($0, radix: 16).leftPadded(to: 2) }.joined())),
            ("citations", .json(.array(a.citations.map { .integer(Int64($0.marker)) }))), ("cache_hit", .boolean(a.cacheHit)),
            ("mode", .text(a.mode)), ("validation_ok", .boolean(a.validation.ok)), ("retry_count", .integer(Int64(a.retryCount))),
            ("errors", error.map { .text($0) } ?? .null), ("answer", knobs.includeAnswerInAudit ? .text(a.answer) : .null),
        ], retentionDays: knobs.auditRetentionDays)
    }

    private func auditFailure(_ r: AskRequest, provider: String, model: String, message: String, knobs: AskSettings) async throws {
        try await retriever.recordAudit([
            ("user", .text(r.user)), ("role", .text(r.role)), ("question", .text(r.question)), ("sources_urns", .json(.array([]))),
            ("provider", .text(provider)), ("model", .text(model)), ("prompt_tokens", .integer(0)), ("completion_tokens", .integer(0)),
            ("cost_usd", .float(0)), ("answer_hash", .null), ("citations", .json(.array([]))), ("cache_hit", .boolean(false)),
            ("mode", .text(r.strict ? "strict" : "lenient")), ("validation_ok", .boolean(false)), ("retry_count", .integer(0)),
            ("errors", .text(message)),
        ], retentionDays: knobs.auditRetentionDays)
    }
}
