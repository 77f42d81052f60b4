import RedCore

/// `ASK`: a question answered by an AI provider from the database's own rows (RAG).
///
/// ```
/// [EXPLAIN] ASK ('question' | $n) { USING (provider | 'p1,p2') | MODEL 'm' | DEPTH n | LIMIT n
///     | MIN_SCORE f | COLLECTION c | TEMPERATURE f | SEED n | STRICT (ON|OFF) | STREAM
///     | CACHE TTL 'duration' | NOCACHE }
/// ```
/// Clauses come in any order, each at most once. The pipeline itself is in RedAI and RedDB;
/// the parser only checks the shape.
extension Parser {
    /// At `ASK`.
    mutating func parseAsk(explain: Bool) throws -> Statement {
        try expectKeyword("ask")
        let question = try parseTextOrParameter("the question, in quotes or as a parameter")
        var ask = AskStatement(question: question)
        ask.explain = explain
        var seen: Set<String> = []
        func once(_ clause: String) throws {
            guard seen.insert(clause).inserted else { throw RedError(.syntaxError, "ASK \(clause) clause specified more than once") }
        }
        while case .identifier(let word, false) = current.kind {
            switch word {
            case "using":
                try once("USING"); advance()
                ask.providers = try parseProviderList()
            case "model":
                try once("MODEL"); advance()
                ask.model = try parseStringLiteral("a model name")
            case "depth":
                try once("DEPTH"); advance()
                ask.depth = try parseSearchNumber("a depth")
            case "limit":
                try once("LIMIT"); advance()
                ask.limit = try parseSearchNumber("a limit")
            case "min_score":
                try once("MIN_SCORE"); advance()
                ask.minScore = try parseSearchNumber("a minimum score")
            case "collection":
                try once("COLLECTION"); advance()
                ask.collection = try parseIdentifier(what: "collection name")
            case "temperature":
                try once("TEMPERATURE"); advance()
                ask.temperature = try parseSearchNumber("a temperature")
            case "seed":
                try once("SEED"); advance()
                ask.seed = try parseSearchNumber("a seed")
            case "strict":
                try once("STRICT"); advance()
                if acceptKeyword("on") || acceptKeyword("true") { ask.strict = true }
                else if acceptKeyword("off") || acceptKeyword("false") { ask.strict = false }
                else { throw unexpected(expected: "ON or OFF") }
            case "stream":
                try once("STREAM"); advance()
                ask.stream = true
            case "cache":
                try once("cache"); advance()
                try expectKeyword("ttl")
                if case .string(let text) = current.kind {
                    advance()
                    ask.cache = .ttlMilliseconds(try Self.durationMilliseconds(text))
                } else {
                    ask.cache = .ttlMilliseconds(try parseDurationMilliseconds())
                }
            case "nocache":
                try once("cache"); advance()
                ask.cache = .bypass
            default:
                throw unexpected(expected: "an ASK clause (USING, MODEL, DEPTH, LIMIT, MIN_SCORE, COLLECTION, TEMPERATURE, SEED, STRICT, STREAM, CACHE TTL, NOCACHE)")
            }
        }
        return .ask(ask)
    }

    /// `openai`, `'openai'`, `'groq,openai'` or `'http://host/v1'`.
    mutating func parseProviderList() throws -> [String] {
        switch current.kind {
        case .string(let s):
            advance()
            let names = s.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
            guard !names.isEmpty, names.count <= AskStatement.maxProviders else {
                throw RedError(.syntaxError, "USING takes 1 to \(AskStatement.maxProviders) providers")
            }
            return names
        case .identifier(let s, _):
            advance()
            return [s]
        default:
            throw unexpected(expected: "a provider name")
        }
    }

    /// One provider: `openai` or `'http://host/v1'`.
    mutating func parseProviderName() throws -> String {
        let names = try parseProviderList()
        guard names.count == 1 else { throw RedError(.syntaxError, "USING here takes one provider") }
        return names[0]
    }

    /// `'5m'`, `'30 seconds'`, `'1500ms'`: a number and an optional unit (seconds by default).
    static func durationMilliseconds(_ text: String) throws -> Int64 {
        guard let ms = DurationText.milliseconds(text) else {
            throw RedError(.syntaxError, "invalid duration '\(text)'; write e.g. '30s', '5m' or '1h'")
        }
        return ms
    }

    mutating func parseStringLiteral(_ what: String) throws -> String {
        guard case .string(let s) = current.kind else { throw unexpected(expected: what + " in quotes") }
        advance()
        return s
    }
}
