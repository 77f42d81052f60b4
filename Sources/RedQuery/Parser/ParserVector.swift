import RedCore

/// Vector collections: `CREATE VECTOR`, `VECTOR SEARCH` and `SEARCH SIMILAR`.
///
/// ```
/// CREATE VECTOR [IF NOT EXISTS] name DIM n [METRIC (L2|EUCLIDEAN|COSINE|COS|INNER_PRODUCT|IP|DOT)]
/// VECTOR SEARCH coll SIMILAR TO source
///     { WHERE filter | METRIC m | THRESHOLD f | INCLUDE (VECTORS | METADATA) | LIMIT k | K = k }
/// source := expr ('[0.1, 0.2]', $1, (SELECT …)) | 'text' | (coll, id) | coll(id)
/// SEARCH SIMILAR (expr | TEXT expr) COLLECTION c [LIMIT n] [MIN_SCORE f] [USING provider]
/// ```
/// The filter is an ordinary boolean expression over the candidate's columns, where
/// any other name is a field of its metadata, plus `field CONTAINS 'text'` (RedDB's).
/// LIMIT, K, THRESHOLD and MIN_SCORE take literals or parameters.
extension Parser {
    /// After `CREATE VECTOR`.
    mutating func parseCreateVector() throws -> Statement {
        let ifNotExists = try parseIfNotExists()
        let name = try parseIdentifier(what: "vector collection name")
        try expectKeyword("dim")
        let dimensionToken = current
        let dimension = try parseIntegerLiteral("a dimension")
        guard dimension > 0 else { throw error("VECTOR DIM must be a positive integer", at: dimensionToken) }
        guard dimension <= Int64(Limits.maxVectorDimensions) else {
            throw error("VECTOR DIM must be at most \(Limits.maxVectorDimensions)", at: dimensionToken)
        }
        var metric: VectorMetric?
        if acceptKeyword("metric") { metric = try parseVectorMetric() }
        return .createVector(name: name, ifNotExists: ifNotExists, dimension: Int(dimension), metric: metric)
    }

    mutating func parseVectorMetric() throws -> VectorMetric {
        guard case .identifier(let word, _) = current.kind, let metric = VectorMetric(word: word) else {
            throw unexpected(expected: "L2, EUCLIDEAN, COSINE, COS, INNER_PRODUCT, IP or DOT")
        }
        advance()
        return metric
    }

    /// `VECTOR SEARCH …`, at `VECTOR`.
    mutating func parseVectorSearch() throws -> Statement {
        try expectKeyword("vector")
        try expectKeyword("search")
        let collection = try parseIdentifier(what: "vector collection name")
        try expectKeyword("similar")
        try expectKeyword("to")
        var search = VectorSearch(collection: collection, source: try parseVectorSource())
        while true {
            if acceptKeyword("where") {
                guard search.filter == nil else { throw error("WHERE given twice") }
                allowsContainsOperator = true
                defer { allowsContainsOperator = false }
                search.filter = try parseExpression()
            } else if acceptKeyword("metric") {
                search.metric = try parseVectorMetric()
            } else if acceptKeyword("threshold") {
                search.threshold = try parseSearchNumber("a threshold")
            } else if acceptKeyword("include") {
                if acceptKeyword("vectors") { search.includeVectors = true } else if !acceptKeyword("metadata") {
                    throw unexpected(expected: "VECTORS or METADATA")
                }
            } else if acceptKeyword("limit") {
                search.limit = try parseSearchNumber("a limit")
            } else if acceptKeyword("k") {
                try expectSymbol("=")
                search.limit = try parseSearchNumber("a limit")
            } else if acceptKeyword("using") {
                search.embeddingProvider = try parseProviderName()
            } else {
                return .vectorSearch(search)
            }
        }
    }

    /// `SEARCH SIMILAR …` or `SEARCH TEXT …`, at `SEARCH`.
    mutating func parseSearchSimilar() throws -> Statement {
        try expectKeyword("search")
        if acceptKeyword("text") { return try parseTextSearch() }
        if acceptKeyword("hybrid") { return try parseHybridSearch() }
        if acceptKeyword("context") { return try parseContextSearch() }
        if acceptKeyword("multimodal") {
            // Every model's text, as SEARCH TEXT reads it, 25 results by default.
            guard case .textSearch(var search) = try parseTextSearch() else { throw unexpected(expected: "SEARCH MULTIMODAL") }
            guard !search.fuzzy else { throw RedError(.syntaxError, "SEARCH MULTIMODAL takes no FUZZY") }
            if search.limit == nil { search.limit = .literal(.integer(25)) }
            return .textSearch(search)
        }
        guard acceptKeyword("similar") else {
            throw RedError(.featureNotSupported, "SEARCH \(describe(current)) is not available; SEARCH SIMILAR, TEXT, HYBRID, CONTEXT and MULTIMODAL are")
        }
        let source: VectorSearch.Source = acceptKeyword("text") ? .text(try parseExpression(minimumPrecedence: Precedence.additive))
            : .value(try parseExpression(minimumPrecedence: Precedence.additive))
        try expectKeyword("collection")
        var search = VectorSearch(collection: try parseIdentifier(what: "collection name"), source: source)
        search.scoresOnly = true
        search.threshold = .literal(.float(0))
        while true {
            if acceptKeyword("limit") {
                search.limit = try parseSearchNumber("a limit")
            } else if acceptKeyword("min_score") {
                search.threshold = try parseSearchNumber("a minimum score")
            } else if acceptKeyword("using") {
                search.embeddingProvider = try parseProviderName()
            } else {
                return .vectorSearch(search)
            }
        }
    }

    /// After `SEARCH TEXT`: `'q' [(COLLECTION | IN) c] [LIMIT n] [FUZZY]`.
    mutating func parseTextSearch() throws -> Statement {
        let query = try parseTextOrParameter("the text to search for, in quotes")
        var search = TextSearch(query: query, collections: [], limit: nil, fuzzy: false)
        while true {
            if acceptKeyword("collection") || acceptKeyword("in") {
                search.collections.append(try parseIdentifier(what: "collection name"))
            } else if acceptKeyword("limit") {
                search.limit = try parseSearchNumber("a limit")
            } else if acceptKeyword("fuzzy") {
                search.fuzzy = true
            } else {
                return .textSearch(search)
            }
        }
    }

    /// After `SEARCH HYBRID`: `{ (SIMILAR | VECTOR) v | TEXT 'q' } (COLLECTION | IN) c [(LIMIT | K) [=] n]`.
    mutating func parseHybridSearch() throws -> Statement {
        var vector: Expr?, text: Expr?
        while true {
            if acceptKeyword("similar") || acceptKeyword("vector") {
                vector = try parseExpression(minimumPrecedence: Precedence.additive)
            } else if acceptKeyword("text") {
                text = try parseExpression(minimumPrecedence: Precedence.additive)
            } else {
                break
            }
        }
        guard vector != nil || text != nil else { throw error("SEARCH HYBRID requires at least SIMILAR or TEXT") }
        guard acceptKeyword("collection") || acceptKeyword("in") else { throw unexpected(expected: "COLLECTION") }
        var search = HybridSearch(collection: try parseIdentifier(what: "collection name"), vector: vector, text: text, limit: nil)
        if acceptKeyword("limit") || acceptKeyword("k") {
            _ = acceptSymbol("=")
            search.limit = try parseSearchNumber("a limit")
        }
        return .hybridSearch(search)
    }

    mutating func parseVectorSource() throws -> VectorSearch.Source {
        if case .string = current.kind { return .text(try parsePrimary()) }
        // (coll, id): a stored vector by reference.
        if isSymbol("("), case .identifier = peekToken(1).kind, isSymbol(",", ahead: 2) {
            advance()
            let collection = try parseIdentifier(what: "collection name")
            try expectSymbol(",")
            let id = try parseExpression()
            try expectSymbol(")")
            return .reference(collection: collection, id: id)
        }
        // coll(id), unless it is a function this parser knows (then it is an expression).
        if case .identifier(let name, _) = current.kind, isSymbol("(", ahead: 1), !isKeyword("select", ahead: 2),
           ScalarFunction.library[name] == nil {
            advance()
            advance()
            let id = try parseExpression()
            try expectSymbol(")")
            return .reference(collection: name, id: id)
        }
        return .value(try parseExpression(minimumPrecedence: Precedence.additive))
    }

    /// A literal number or a parameter.
    mutating func parseSearchNumber(_ what: String) throws -> Expr {
        switch current.kind {
        case .integer(let i): advance(); return .literal(.integer(i))
        case .float(let d): advance(); return .literal(.float(d))
        case .decimal(let d): advance(); return .literal(.float(d.doubleValue))
        case .parameter(let n):
            advance()
            parameterCount = max(parameterCount, n)
            return .parameter(n)
        case .symbol("-"):
            advance()
            return .literal(.float(-(try parseNumberLiteral(what))))
        default: throw unexpected(expected: what)
        }
    }

    /// Checks `text` as a `VECTOR SEARCH … WHERE` filter given by a request (HTTP, gRPC, RedWire),
    /// before it is placed in the statement: exactly one expression, no parameters, nothing after.
    public static func checkSearchFilter(_ text: String) throws {
        var parser = try Parser(text)
        parser.allowsContainsOperator = true
        _ = try parser.parseExpression()
        guard case .end = parser.current.kind else { throw parser.unexpected(expected: "the end of the filter") }
        guard parser.parameterCount == 0 else { throw RedError(.invalidArgument, "a search filter cannot use parameters ($n)") }
    }
}

extension Parser {
    /// After `SEARCH CONTEXT`: `'q' [FIELD f] [COLLECTION c] { LIMIT n | DEPTH d }`.
    mutating func parseContextSearch() throws -> Statement {
        let query = try parseTextOrParameter("the value to look for, in quotes")
        var search = ContextSearch(query: query)
        while true {
            if acceptKeyword("field") {
                search.field = try parseAnyName()
            } else if acceptKeyword("collection") || acceptKeyword("in") {
                search.collection = try parseIdentifier(what: "collection name")
            } else if acceptKeyword("limit") {
                search.limit = try parseSearchNumber("a limit")
            } else if acceptKeyword("depth") {
                search.depth = try parseSearchNumber("a depth")
            } else {
                return .contextSearch(search)
            }
        }
    }
}

extension Parser {
    /// A command's text argument: a string literal or a `$n` parameter.
    mutating func parseTextOrParameter(_ expected: String) throws -> Expr {
        switch current.kind {
        case .string(let s):
            advance()
            return .literal(.text(s))
        case .parameter(let n):
            advance()
            parameterCount = max(parameterCount, n)
            return .parameter(n)
        default:
            throw unexpected(expected: expected)
        }
    }
}
