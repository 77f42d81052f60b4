import RedCore

/// Recursive-descent parser for RQL statements.
///
/// Grammar: PostgreSQL's SELECT/INSERT/UPDATE/DELETE/DDL subset listed in
/// docs/rql.md, plus RedDB's extensions (`INSERT … DOCUMENT`, `KV PUT/GET/
/// DELETE`, `WITH TTL`, `WITH EXPIRES AT`, `APPEND ONLY`, `FROM ANY`).
/// Limits: input bytes, identifier length and nesting depth (`ParserLimits`);
/// every error is a 42601 `RedError` naming line, column and the offending
/// token. The parser never traps on any input: all token reads are bounded by
/// the trailing `.end` token.
public struct Parser {
    let text: String
    let bytes: [UInt8]
    var tokens: [Token]
    var position = 0
    var depth = 0
    /// How deep the tree being built is: `depth` plus one per operator a chain such as
    /// `a + b + c …` or `x = 1 OR x = 2 …` has applied so far (a loop, not a recursion,
    /// builds those, but binding and evaluating their left-deep trees recurse per level).
    var treeDepth = 0
    let limits: ParserLimits
    /// Highest parameter number seen.
    public internal(set) var parameterCount = 0
    /// Expression literals become parameter slots (`parseAutoParameterized`).
    var autoParameterize = false
    /// The literals turned into slots so far, in slot order.
    var autoLiterals: [Value] = []
    /// Inside `VECTOR SEARCH … WHERE`: `field CONTAINS 'text'` is an operator there.
    var allowsContainsOperator = false

    /// Words that end an expression or a FROM item, so they are never taken as a bare alias.
    static let reserved: Set<String> = [
        "select", "from", "where", "group", "having", "order", "limit", "offset", "union", "intersect", "except",
        "all", "distinct", "as", "on", "join", "inner", "left", "right", "full", "cross", "outer", "and", "or",
        "not", "null", "true", "false", "case", "when", "then", "else", "end", "in", "is", "between", "like",
        "ilike", "exists", "with", "values", "insert", "update", "delete", "set", "into", "returning", "create",
        "drop", "alter", "table", "by", "asc", "desc", "using", "over", "partition", "window", "natural", "for",
        "fetch", "default", "unique", "primary", "check", "references", "collate",
    ]

    public init(_ text: String, limits: ParserLimits = ParserLimits()) throws {
        self.text = text
        self.bytes = Array(text.utf8)
        self.limits = limits
        self.tokens = try Lexer.tokenize(text, limits: limits)
    }

    /// Parses every `;`-separated statement of the text (empty statements are skipped).
    public static func parseScript(_ text: String, limits: ParserLimits = ParserLimits()) throws -> [(Statement, String)] {
        var parser = try Parser(text, limits: limits)
        var statements: [(Statement, String)] = []
        while true {
            while parser.acceptSymbol(";") {}
            if parser.current.kind == .end { break }
            let start = parser.current.offset
            let statement = try parser.parseStatement()
            let end = parser.current.offset
            let source = String(decoding: parser.bytes[start..<min(end, parser.bytes.count)], as: UTF8.self)
            statements.append((statement, source.trimmingSpaces()))
            if parser.current.kind == .end { break }
            guard parser.acceptSymbol(";") else { throw parser.unexpected() }
        }
        return statements
    }

    /// The highest `$n` (or count of `?`) in `text`: how many parameters a client must bind.
    public static func parameterCount(in text: String, limits: ParserLimits = ParserLimits()) throws -> Int {
        try Lexer.tokenize(text, limits: limits).reduce(0) { highest, token in
            if case .parameter(let n) = token.kind { return max(highest, n) }
            return highest
        }
    }

    // MARK: Token helpers

    var current: Token { tokens[position] }
    func peekToken(_ ahead: Int) -> Token { tokens[min(position + ahead, tokens.count - 1)] }

    mutating func advance() { if position < tokens.count - 1 { position += 1 } }

    func describe(_ token: Token) -> String {
        switch token.kind {
        case .identifier(let s, let quoted): return quoted ? "\"\(s)\"" : (Self.reserved.contains(s) ? s.uppercased() : s)
        case .string(let s): return "'\(s)'"
        case .integer(let i): return String(i)
        case .float(let d): return NumberFormatting.shortest(d)
        case .decimal(let d): return d.text
        case .parameter(let n): return "$\(n)"
        case .json: return "JSON literal"
        case .symbol(let s): return s
        case .end: return "EOF"
        }
    }

    func error(_ message: String, at token: Token? = nil) -> RedError {
        SyntaxError.make(message, at: (token ?? current).offset, in: bytes)
    }

    func unexpected(expected: String? = nil) -> RedError {
        error("Unexpected token: \(describe(current))" + (expected.map { " (expected: \($0))" } ?? ""))
    }

    /// True when the current token is the unquoted keyword `word`.
    /// PostgreSQL's table lock modes, weakest first.
    static let lockModes = ["ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE", "SHARE ROW EXCLUSIVE",
                            "EXCLUSIVE", "ACCESS EXCLUSIVE"]

    func isKeyword(_ word: String, ahead: Int = 0) -> Bool {
        if case .identifier(let s, false) = peekToken(ahead).kind { return s == word }
        return false
    }

    mutating func acceptKeyword(_ word: String) -> Bool {
        if isKeyword(word) { advance(); return true }
        return false
    }

    mutating func expectKeyword(_ word: String) throws {
        guard acceptKeyword(word) else { throw unexpected(expected: word.uppercased()) }
    }

    func isSymbol(_ s: String, ahead: Int = 0) -> Bool { peekToken(ahead).kind == .symbol(s) }

    mutating func acceptSymbol(_ s: String) -> Bool {
        if isSymbol(s) { advance(); return true }
        return false
    }

    mutating func expectSymbol(_ s: String) throws {
        guard acceptSymbol(s) else { throw unexpected(expected: s) }
    }

    /// Letters glued to a number (`SELECT 12abc`, `0x1G`) would become a bare alias; PostgreSQL
    /// refuses them, so that a mistyped literal never silently means something else.
    func refuseTrailingJunk() throws {
        guard position > 0, current.offset > 0, case .identifier(_, quoted: false) = current.kind else { return }
        switch tokens[position - 1].kind {
        case .integer, .float, .decimal:
            let before = bytes[current.offset - 1]
            guard Lexer.isDigit(before) || before == UInt8(ascii: ".") || before == UInt8(ascii: "_") else { return }
            var end = current.offset
            while end < bytes.count, Lexer.isIdentPart(bytes[end]) { end += 1 }
            let shown = String(decoding: bytes[tokens[position - 1].offset..<end], as: UTF8.self)
            throw error("trailing junk after numeric literal at or near \"\(shown)\"", at: tokens[position - 1])
        default:
            return
        }
    }

    /// An identifier usable as a name: quoted, or unquoted and not reserved.
    mutating func parseIdentifier(what: String = "identifier") throws -> String {
        if case .identifier(let s, let quoted) = current.kind, quoted || !Self.reserved.contains(s) {
            advance()
            return s
        }
        throw unexpected(expected: what)
    }

    /// The name of a table, index, view or sequence, optionally schema-qualified: `app.t` stays
    /// `app.t`, the relation's own name in schema `app`, and `public.t` stays too, so that it is
    /// not looked up along the search path (ORMs, migration tools and pg_dump write it; every
    /// exact lookup reads it as `t`: `SchemaCatalog.canonical`). Whether the schema exists is
    /// the executor's to check.
    mutating func parseRelationName(what: String) throws -> String {
        let name = try parseIdentifier(what: what)
        guard isSymbol("."), case .identifier = peekToken(1).kind else { return name }
        advance()
        let inner = try parseIdentifier(what: what)
        // `pg_temp.t` stays qualified: it names the session's temporary table only
        // (`TemporaryNamespace.qualifier`; CREATE TABLE pg_temp.t makes one).
        if name == "pg_temp" { return "pg_temp." + inner }
        return "\(name).\(inner)"
    }

    /// An enum type's name: types are not kept per schema, so `public.mood` is `mood` (and a
    /// name in another schema is refused where it is looked up).
    mutating func parseEnumTypeName() throws -> String {
        let name = try parseRelationName(what: "type name")
        return name.hasPrefix("public.") ? String(name.dropFirst(7)) : name
    }

    /// `ONLY` before a table name (pg_dump writes `ALTER TABLE ONLY public.t`): tables have no
    /// inheritance children here, so it changes nothing. `only` followed by a name is the
    /// keyword; alone it is a table called `only`.
    mutating func acceptOnly() {
        if isKeyword("only"), case .identifier = peekToken(1).kind { advance() }
    }

    /// A column name in a definition list: reserved words are accepted too.
    mutating func parseAnyName() throws -> String {
        if case .identifier(let s, _) = current.kind { advance(); return s }
        throw unexpected(expected: "name")
    }

    mutating func enter() throws {
        depth += 1
        treeDepth += 1
        guard depth <= limits.maxDepth else { throw error("recursion depth limit exceeded (max_depth = \(limits.maxDepth))") }
        try checkTreeDepth()
    }

    mutating func leave() { depth -= 1; treeDepth -= 1 }

    /// One more link in a left-deep chain (operators, set operations, joins): the caller
    /// subtracts its `links` from `treeDepth` when the chain ends.
    mutating func lengthenChain(_ links: inout Int) throws {
        links += 1
        treeDepth += 1
        try checkTreeDepth()
    }

    func checkTreeDepth() throws {
        guard treeDepth <= limits.maxExpressionDepth else {
            throw error("expression too deeply nested: more than \(limits.maxExpressionDepth) operators in a chain (max_expression_depth); use IN (…) for long lists")
        }
    }

    mutating func parseIntegerLiteral(_ what: String) throws -> Int64 {
        var negative = false
        if acceptSymbol("-") { negative = true }
        guard case .integer(let i) = current.kind else { throw unexpected(expected: what) }
        advance()
        return negative ? -i : i
    }

    mutating func parseNumberLiteral(_ what: String) throws -> Double {
        switch current.kind {
        case .integer(let i): advance(); return Double(i)
        case .float(let d): advance(); return d
        case .decimal(let d): advance(); return d.doubleValue
        default: throw unexpected(expected: what)
        }
    }

    /// `n [unit]` with unit ms/s/m/h/d (and their long forms); default seconds.
    mutating func parseDurationMilliseconds() throws -> Int64 {
        let startToken = current
        let amount = try parseNumberLiteral("a duration")
        var scale: Double = 1000
        if case .identifier(let unit, false) = current.kind, let s = Self.durationScale(unit) {
            scale = s
            advance()
        }
        let ms = amount * scale
        guard ms.isFinite, ms >= 0, ms < 9e15, ms == ms.rounded() else {
            throw error("TTL must be a non-negative whole number of milliseconds", at: startToken)
        }
        return Int64(ms)
    }

    static func durationScale(_ unit: String) -> Double? { DurationText.millisecondsPerUnit(unit) }

    // MARK: Statements

    public mutating func parseStatement() throws -> Statement {
        if isKeyword("with"), let statement = try parseWithClauseStatement() { return statement }
        if isKeyword("select") || isKeyword("with") || isKeyword("values") || isSymbol("(") || isKeyword("from") || isTableQuery {
            var query = try parseQuery()
            if case .select(var select) = query.body, let table = select.into {
                var table = table, temporary = select.intoTemporary
                if table.hasPrefix("pg_temp.") {  // SELECT … INTO pg_temp.t
                    table.removeFirst("pg_temp.".count)
                    temporary = true
                }
                select.into = nil
                select.intoTemporary = false
                query.body = .select(select)
                let create = Statement.createTableAs(CreateTableAs(name: table, ifNotExists: false, columnNames: nil, query: query, withData: true))
                return temporary ? .createTemporary(create, onCommit: .preserveRows) : create
            }
            return .query(query)
        }
        guard case .identifier(let word, false) = current.kind else { throw unexpected(expected: "a statement") }
        switch word {
        case "insert": return try parseInsert()
        case "merge": return try parseMerge()
        case "update": return try parseUpdate()
        case "delete": return try parseDelete()
        case "create": return try parseCreate()
        case "do" where peekToken(1).kind != .end:
            return try parseDo()
        case "drop": return try parseDrop()
        case "alter": return try parseAlter()
        case "set" where isKeyword("constraints", ahead: 1):
            advance()
            advance()
            var names: [String]?
            if !acceptKeyword("all") {
                var list: [String] = []
                repeat { list.append(try parseIdentifier(what: "constraint name")) } while acceptSymbol(",")
                names = list
            }
            let deferred = acceptKeyword("deferred")
            if !deferred { try expectKeyword("immediate") }
            return .setConstraints(names: names, deferred: deferred)
        case "comment" where isKeyword("on", ahead: 1):
            return try parseComment()
        case "truncate":
            advance()
            _ = acceptKeyword("table") || acceptKeyword("vector") || acceptKeyword("graph") || acceptKeyword("document") || acceptKeyword("kv") || acceptKeyword("collection")
            var names: [String] = []
            repeat {
                acceptOnly()
                names.append(try parseRelationName(what: "table name"))
            } while acceptSymbol(",")
            var restartIdentity = false
            if acceptKeyword("restart") {
                try expectKeyword("identity")
                restartIdentity = true
            } else if acceptKeyword("continue") {
                try expectKeyword("identity")
            }
            let cascade = acceptKeyword("cascade")
            if !cascade { _ = acceptKeyword("restrict") }
            return .truncate(names: names, cascade: cascade, restartIdentity: restartIdentity)
        case "begin", "start":
            advance()
            _ = acceptKeyword("transaction") || acceptKeyword("work")
            // Transaction modes (PostgreSQL's; see `IsolationLevel` for what each level runs as).
            var readOnly = false
            var isolation: IsolationLevel?
            while true {
                if acceptKeyword("isolation") {
                    try expectKeyword("level")
                    if acceptKeyword("serializable") || acceptKeyword("snapshot") {
                        isolation = .repeatableRead
                    } else if acceptKeyword("repeatable") {
                        try expectKeyword("read")
                        isolation = .repeatableRead
                    } else if acceptKeyword("read") {
                        guard acceptKeyword("committed") || acceptKeyword("uncommitted") else { throw unexpected(expected: "COMMITTED or UNCOMMITTED") }
                        isolation = .readCommitted
                    } else {
                        throw unexpected(expected: "an isolation level")
                    }
                } else if acceptKeyword("read") {
                    if acceptKeyword("only") { readOnly = true } else { try expectKeyword("write"); readOnly = false }
                } else if acceptKeyword("not") {
                    try expectKeyword("deferrable")
                } else if acceptKeyword("deferrable") {
                } else {
                    break
                }
                _ = acceptSymbol(",")
            }
            return .begin(readOnly: readOnly, isolation: isolation)
        case "commit", "end":
            advance()
            _ = acceptKeyword("transaction") || acceptKeyword("work")
            return .commit
        case "rollback", "abort":
            advance()
            _ = acceptKeyword("transaction") || acceptKeyword("work")
            if acceptKeyword("to") {
                _ = acceptKeyword("savepoint")
                return .rollbackToSavepoint(try parseIdentifier(what: "savepoint name"))
            }
            return .rollback
        case "savepoint":
            advance()
            return .savepoint(try parseIdentifier(what: "savepoint name"))
        case "release":
            advance()
            _ = acceptKeyword("savepoint")
            return .releaseSavepoint(try parseIdentifier(what: "savepoint name"))
        case "explain":
            advance()
            if acceptSymbol("(") {
                // PostgreSQL's option list (ANALYZE, VERBOSE, COSTS OFF, BUFFERS, TIMING, SUMMARY, SETTINGS,
                // WAL, FORMAT TEXT): accepted, the plan printed as always; another FORMAT is refused.
                repeat {
                    guard case .identifier(let option, _) = current.kind else { throw unexpected(expected: "an EXPLAIN option") }
                    advance()
                    if option.lowercased() == "format" {
                        guard case .identifier(let format, _) = current.kind else { throw unexpected(expected: "TEXT, JSON, XML or YAML") }
                        guard format.lowercased() == "text" else {
                            throw RedError(.featureNotSupported, "EXPLAIN (FORMAT \(format.uppercased())) is not supported; the plan is text")
                        }
                        advance()
                    } else if case .identifier(let value, _) = current.kind, ["on", "off", "true", "false"].contains(value.lowercased()) {
                        advance()
                    } else if case .integer = current.kind {
                        advance()
                    }
                } while acceptSymbol(",")
                try expectSymbol(")")
            }
            _ = acceptKeyword("analyze")
            _ = acceptKeyword("verbose")
            if isKeyword("ask") { return try parseAsk(explain: true) }
            return .explain(try parseStatement())
        case "ask": return try parseAsk(explain: false)
        case "kv": return try parseKV()
        case "match": return try parseMatch()
        case "vector" where isKeyword("search", ahead: 1): return try parseVectorSearch()
        case "search": return try parseSearchSimilar()
        case "graph": return try parseGraphCommand()
        case "reindex":
            // REINDEX [(VERBOSE)] {INDEX | TABLE | SCHEMA | DATABASE | SYSTEM} [CONCURRENTLY] name;
            // CONCURRENTLY is accepted and means the same here (one transaction, readers never wait).
            advance()
            var concurrently = false
            if acceptSymbol("(") {  // (VERBOSE [bool], CONCURRENTLY [bool]): nothing to tune here
                repeat {
                    let isConcurrently = acceptKeyword("concurrently")
                    guard isConcurrently || acceptKeyword("verbose") else { throw unexpected(expected: "VERBOSE or CONCURRENTLY") }
                    let off = acceptKeyword("false") || acceptKeyword("off")
                    if !off { _ = acceptKeyword("true") || acceptKeyword("on") }
                    if isConcurrently { concurrently = !off }
                } while acceptSymbol(",")
                guard acceptSymbol(")") else { throw unexpected(expected: ")") }
            }
            func outsideBlock(_ form: String) -> String? {
                concurrently = acceptKeyword("concurrently") || concurrently
                return concurrently ? "REINDEX CONCURRENTLY" : form.isEmpty ? nil : form
            }
            if acceptKeyword("index") {
                let form = outsideBlock("")
                return .reindex(index: try parseIdentifier(), table: nil, outsideBlock: form)
            }
            if acceptKeyword("table") {
                let form = outsideBlock("")
                return .reindex(index: nil, table: try parseIdentifier(), outsideBlock: form)
            }
            if acceptKeyword("schema") {
                let form = outsideBlock("REINDEX SCHEMA")
                _ = try parseIdentifier()  // every index is rebuilt as it is written: nothing to do
                return .reindex(index: nil, table: nil, outsideBlock: form)
            }
            if acceptKeyword("database") {
                let form = outsideBlock("REINDEX DATABASE")
                if case .identifier = current.kind { _ = try parseIdentifier() }
                return .reindex(index: nil, table: nil, outsideBlock: form)
            }
            if acceptKeyword("system") {  // the system catalogs: none has an index here
                if case .identifier = current.kind { _ = try parseIdentifier() }
                return .reindex(index: "", table: nil, outsideBlock: concurrently ? "REINDEX CONCURRENTLY" : "REINDEX SYSTEM")
            }
            throw unexpected(expected: "INDEX, TABLE, SCHEMA, DATABASE or SYSTEM after REINDEX")
        case "grant", "revoke":
            // Upstream's per-object grants become IAM policies, which RedDB does not have yet.
            throw RedError(.featureNotSupported, "\(word.uppercased()) is not supported: what a user may do is decided by the role it has (read, write or admin; docs/server.md, \"Roles\"), not per object")
        case "refresh":
            // REFRESH MATERIALIZED VIEW [CONCURRENTLY] name [WITH [NO] DATA]
            advance()
            try expectKeyword("materialized")
            try expectKeyword("view")
            _ = acceptKeyword("concurrently")  // readers see the old rows until the refresh commits either way
            let name = try parseRelationName(what: "materialized view name")
            var withData = true
            if acceptKeyword("with") {
                withData = !acceptKeyword("no")
                try expectKeyword("data")
            }
            return .refreshMaterializedView(name: name, withData: withData)
        case "lock":
            // LOCK [TABLE] [ONLY] name [*], … [IN mode MODE] [NOWAIT]; without a mode, ACCESS EXCLUSIVE.
            advance()
            _ = acceptKeyword("table")
            var names: [String] = []
            repeat {
                acceptOnly()
                names.append(try parseRelationName(what: "table name"))
                _ = acceptSymbol("*")
            } while acceptSymbol(",")
            var mode = "ACCESS EXCLUSIVE"
            if acceptKeyword("in") {
                var words: [String] = []
                while !isKeyword("mode"), case .identifier(let word, false) = current.kind, words.count < 3 {
                    words.append(word.uppercased())
                    advance()
                }
                try expectKeyword("mode")
                mode = words.joined(separator: " ")
                guard Self.lockModes.contains(mode) else { throw error("unrecognized lock mode \"\(mode.lowercased())\"") }
            }
            _ = acceptKeyword("nowait")
            return .lockTable(names: names, mode: mode)
        case "vacuum", "analyze", "analyse":
            // VACUUM [FULL] [FREEZE] [VERBOSE] [ANALYZE] [table] and ANALYZE [table]: RedDB keeps no
            // planner statistics, so ANALYZE only reclaims expired items like VACUUM.
            let tag = word == "vacuum" ? "VACUUM" : "ANALYZE"
            advance()
            while acceptKeyword("full") || acceptKeyword("freeze") || acceptKeyword("verbose") || acceptKeyword("analyze") || acceptKeyword("analyse") {}
            if case .identifier = current.kind { return .vacuum(table: try parseIdentifier(), tag: tag) }
            return .vacuum(table: nil, tag: tag)
        case "checkpoint":
            advance()
            return .checkpoint
        case "cluster":
            // CLUSTER [VERBOSE] [table [USING index]]: PostgreSQL rewrites the table in an index's
            // order once, which changes no result; RedDB keeps rows in key order, and answers it
            // as VACUUM of the table (expired items reclaimed).
            advance()
            _ = acceptKeyword("verbose")
            guard case .identifier = current.kind else { return .vacuum(table: nil, tag: "CLUSTER") }
            let table = try parseIdentifier()
            if acceptKeyword("using") { _ = try parseIdentifier(what: "index name") }
            return .vacuum(table: table, tag: "CLUSTER")
        case "show":
            advance()
            let what = try parseAnyName()
            if what == "columns" {
                guard acceptKeyword("from") || acceptKeyword("in") else { throw unexpected(expected: "FROM after SHOW COLUMNS") }
                return .showColumns(try parseIdentifier())
            }
            return .show(what)
        default:
            throw unexpected(expected: "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, BEGIN, COMMIT, ROLLBACK, EXPLAIN, KV, VECTOR SEARCH, SEARCH, GRAPH, ASK")
        }
    }

    mutating func parseReturning() throws -> [SelectItem]? {
        guard acceptKeyword("returning") else { return nil }
        return try parseSelectItems()
    }

    mutating func parseInsert() throws -> Statement {
        try expectKeyword("insert")
        try expectKeyword("into")
        let table = try parseRelationName(what: "table name")
        var model = InsertModel.row
        if acceptKeyword("document") { model = .document } else if acceptKeyword("kv") { model = .kv }
        else if acceptKeyword("vector") { model = .vector } else if acceptKeyword("node") { model = .node }
        else if acceptKeyword("edge") { model = .edge }
        var columns: [String]?
        if isSymbol("("), !isKeyword("select", ahead: 1), !isKeyword("with", ahead: 1) {
            advance()
            var names: [String] = []
            repeat { names.append(try parseAnyName()) } while acceptSymbol(",")
            try expectSymbol(")")
            columns = names
        }
        var overriding: IdentityGeneration?
        if acceptKeyword("overriding") {
            if acceptKeyword("system") { overriding = .always } else {
                try expectKeyword("user")
                overriding = .byDefault
            }
            try expectKeyword("value")
        }
        let source: Query
        if acceptKeyword("default") {
            try expectKeyword("values")
            source = Query(body: .values([[]]))
        } else if isKeyword("values") || isKeyword("select") || isKeyword("with") || isSymbol("(") {
            source = try parseQuery()
        } else {
            throw unexpected(expected: "VALUES or SELECT")
        }
        var statement = InsertStatement(table: table, model: model, columns: columns, source: source)
        statement.overriding = overriding
        while isKeyword("with") {
            advance()
            if acceptKeyword("ttl") {
                statement.ttlMilliseconds = try parseDurationMilliseconds()
            } else if acceptKeyword("expires") {
                try expectKeyword("at")
                statement.expiresAt = try parseExpression()
            } else if acceptKeyword("metadata") {
                try expectSymbol("(")
                if !isSymbol(")") {
                    repeat {
                        let key: String
                        if case .string(let s) = current.kind { key = s.lowercased(); advance() } else { key = try parseAnyName() }
                        try expectSymbol("=")
                        statement.metadata.append((key, try parseExpression()))
                    } while acceptSymbol(",")
                }
                try expectSymbol(")")
            } else if acceptKeyword("auto") {
                try expectKeyword("embed")
                guard statement.autoEmbed == nil else { throw error("AUTO EMBED given twice") }
                var embed = AutoEmbed(fields: try parseNameList())
                while true {
                    if acceptKeyword("using") { embed.provider = try parseProviderName() }
                    else if acceptKeyword("model") { embed.model = try parseStringLiteral("a model name") }
                    else { break }
                }
                statement.autoEmbed = embed
            } else {
                throw unexpected(expected: "TTL, EXPIRES AT, METADATA or AUTO EMBED")
            }
        }
        if acceptKeyword("on") {
            guard acceptKeyword("conflict") else { throw unexpected(expected: "CONFLICT") }
            var columns: [String] = []
            var constraint: String?
            if isSymbol("(") {
                columns = try parseNameList()
            } else if acceptKeyword("on") {
                try expectKeyword("constraint")
                constraint = try parseIdentifier(what: "constraint name")
            }
            guard acceptKeyword("do") else { throw unexpected(expected: "DO") }
            if acceptKeyword("nothing") {
                statement.onConflict = OnConflict(columns: columns, action: .nothing, constraint: constraint)
            } else {
                try expectKeyword("update")
                try expectKeyword("set")
                let assignments = try parseAssignments()
                let condition = acceptKeyword("where") ? try parseExpression() : nil
                statement.onConflict = OnConflict(columns: columns, action: .update(assignments, whereClause: condition), constraint: constraint)
            }
        }
        statement.returning = try parseReturning()
        return .insert(statement)
    }

    mutating func parseUpdate() throws -> Statement {
        try expectKeyword("update")
        let table = try parseRelationName(what: "table name")
        _ = acceptKeyword("rows") || acceptKeyword("documents") || acceptKeyword("kv")
        var alias: String?
        if acceptKeyword("as") { alias = try parseIdentifier() } else if case .identifier(let s, _) = current.kind, !Self.reserved.contains(s) { alias = s; advance() }
        try expectKeyword("set")
        let assignments = try parseAssignments()
        let from = acceptKeyword("from") ? try parseFromList() : nil
        let whereClause = acceptKeyword("where") ? try parseExpression() : nil
        return .update(table: table, alias: alias, assignments: assignments, from: from, whereClause: whereClause, returning: try parseReturning())
    }

    /// `col [op]= expr | DEFAULT {, …}` (UPDATE … SET and ON CONFLICT DO UPDATE SET).
    mutating func parseAssignments() throws -> [Assignment] {
        var assignments: [Assignment] = []
        repeat {
            var column = try parseAnyName()
            if acceptSymbol(".") { column = try parseAnyName() }
            var op = "="
            if case .symbol(let s) = current.kind, ["+", "-", "*", "/", "%"].contains(s), isSymbol("=", ahead: 1) {
                op = s + "="
                advance()
            }
            try expectSymbol("=")
            let value: Expr = acceptKeyword("default") ? .function(FunctionCall(name: "__default", arguments: [], distinct: false, star: false)) : try parseExpression()
            assignments.append(Assignment(column: column, op: op, value: value))
        } while acceptSymbol(",")
        return assignments
    }

    mutating func parseDelete() throws -> Statement {
        try expectKeyword("delete")
        try expectKeyword("from")
        let table = try parseRelationName(what: "table name")
        var alias: String?
        if acceptKeyword("as") { alias = try parseIdentifier() } else if case .identifier(let s, _) = current.kind, !Self.reserved.contains(s) { alias = s; advance() }
        let using = acceptKeyword("using") ? try parseFromList() : nil
        let whereClause = acceptKeyword("where") ? try parseExpression() : nil
        return .delete(table: table, alias: alias, using: using, whereClause: whereClause, returning: try parseReturning())
    }

    mutating func parseIfNotExists() throws -> Bool {
        guard acceptKeyword("if") else { return false }
        try expectKeyword("not")
        try expectKeyword("exists")
        return true
    }

    mutating func parseIfExists() throws -> Bool {
        guard acceptKeyword("if") else { return false }
        try expectKeyword("exists")
        return true
    }

}
