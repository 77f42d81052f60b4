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
    let limits: ParserLimits
    /// Highest parameter number seen.
    public internal(set) var parameterCount = 0

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

    /// An identifier usable as a name: quoted, or unquoted and not reserved.
    mutating func parseIdentifier(what: String = "identifier") throws -> String {
        if case .identifier(let s, let quoted) = current.kind, quoted || !Self.reserved.contains(s) {
            advance()
            return s
        }
        throw unexpected(expected: what)
    }

    /// A column name in a definition list: reserved words are accepted too.
    mutating func parseAnyName() throws -> String {
        if case .identifier(let s, _) = current.kind { advance(); return s }
        throw unexpected(expected: "name")
    }

    mutating func enter() throws {
        depth += 1
        guard depth <= limits.maxDepth else { throw error("recursion depth limit exceeded (max_depth = \(limits.maxDepth))") }
    }

    mutating func leave() { depth -= 1 }

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

    static func durationScale(_ unit: String) -> Double? {
        switch unit {
        case "ms", "msec", "millisecond", "milliseconds": return 1
        case "s", "sec", "secs", "second", "seconds": return 1000
        case "m", "min", "mins", "minute", "minutes": return 60_000
        case "h", "hr", "hrs", "hour", "hours": return 3_600_000
        case "d", "day", "days": return 86_400_000
        default: return nil
        }
    }

    // MARK: Statements

    public mutating func parseStatement() throws -> Statement {
        if isKeyword("select") || isKeyword("with") || isKeyword("values") || isSymbol("(") || isKeyword("from") {
            return .query(try parseQuery())
        }
        guard case .identifier(let word, false) = current.kind else { throw unexpected(expected: "a statement") }
        switch word {
        case "insert": return try parseInsert()
        case "update": return try parseUpdate()
        case "delete": return try parseDelete()
        case "create": return try parseCreate()
        case "drop": return try parseDrop()
        case "alter": return try parseAlter()
        case "truncate":
            advance()
            _ = acceptKeyword("table")
            return .truncate(name: try parseIdentifier(what: "table name"))
        case "begin", "start":
            advance()
            _ = acceptKeyword("transaction") || acceptKeyword("work")
            if acceptKeyword("isolation") {
                try expectKeyword("level")
                while case .identifier(let w, false) = current.kind, ["read", "committed", "uncommitted", "repeatable", "snapshot", "serializable"].contains(w) { advance() }
            }
            return .begin
        case "commit", "end":
            advance()
            _ = acceptKeyword("transaction") || acceptKeyword("work")
            return .commit
        case "rollback", "abort":
            advance()
            _ = acceptKeyword("transaction") || acceptKeyword("work")
            return .rollback
        case "explain":
            advance()
            _ = acceptKeyword("analyze")
            return .explain(try parseStatement())
        case "kv": return try parseKV()
        case "vacuum":
            advance()
            _ = acceptKeyword("full")
            if case .identifier = current.kind { return .vacuum(table: try parseIdentifier()) }
            return .vacuum(table: nil)
        case "show":
            advance()
            let what = try parseAnyName()
            return .show(what)
        default:
            throw unexpected(expected: "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, BEGIN, COMMIT, ROLLBACK, EXPLAIN, KV")
        }
    }

    mutating func parseReturning() throws -> [SelectItem]? {
        guard acceptKeyword("returning") else { return nil }
        return try parseSelectItems()
    }

    mutating func parseInsert() throws -> Statement {
        try expectKeyword("insert")
        try expectKeyword("into")
        let table = try parseIdentifier(what: "table name")
        var model = InsertModel.row
        if acceptKeyword("document") { model = .document } else if acceptKeyword("kv") { model = .kv }
        var columns: [String]?
        if isSymbol("("), !isKeyword("select", ahead: 1), !isKeyword("with", ahead: 1) {
            advance()
            var names: [String] = []
            repeat { names.append(try parseAnyName()) } while acceptSymbol(",")
            try expectSymbol(")")
            columns = names
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
            } else {
                throw unexpected(expected: "TTL, EXPIRES AT or METADATA")
            }
        }
        statement.returning = try parseReturning()
        return .insert(statement)
    }

    mutating func parseUpdate() throws -> Statement {
        try expectKeyword("update")
        let table = try parseIdentifier(what: "table name")
        _ = acceptKeyword("rows") || acceptKeyword("documents") || acceptKeyword("kv")
        var alias: String?
        if acceptKeyword("as") { alias = try parseIdentifier() } else if case .identifier(let s, _) = current.kind, !Self.reserved.contains(s) { alias = s; advance() }
        try expectKeyword("set")
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
        let whereClause = acceptKeyword("where") ? try parseExpression() : nil
        return .update(table: table, alias: alias, assignments: assignments, whereClause: whereClause, returning: try parseReturning())
    }

    mutating func parseDelete() throws -> Statement {
        try expectKeyword("delete")
        try expectKeyword("from")
        let table = try parseIdentifier(what: "table name")
        var alias: String?
        if acceptKeyword("as") { alias = try parseIdentifier() } else if case .identifier(let s, _) = current.kind, !Self.reserved.contains(s) { alias = s; advance() }
        let whereClause = acceptKeyword("where") ? try parseExpression() : nil
        return .delete(table: table, alias: alias, whereClause: whereClause, returning: try parseReturning())
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

    mutating func parseCreate() throws -> Statement {
        try expectKeyword("create")
        var orReplace = false
        if acceptKeyword("or") { try expectKeyword("replace"); orReplace = true }
        if acceptKeyword("table") { return try parseCreateTable() }
        if acceptKeyword("document") || acceptKeyword("collection") {
            let ifNotExists = try parseIfNotExists()
            return .createCollection(name: try parseIdentifier(what: "collection name"), model: .document, ifNotExists: ifNotExists)
        }
        if acceptKeyword("kv") {
            let ifNotExists = try parseIfNotExists()
            return .createCollection(name: try parseIdentifier(what: "collection name"), model: .kv, ifNotExists: ifNotExists)
        }
        if acceptKeyword("view") {
            let ifNotExists = try parseIfNotExists()
            let name = try parseIdentifier(what: "view name")
            let columns = isSymbol("(") ? try parseNameList() : []
            try expectKeyword("as")
            let start = current.offset
            let query = try parseQuery()
            let body = String(decoding: bytes[start..<min(current.offset, bytes.count)], as: UTF8.self).trimmingSpaces()
            return .createView(name: name, orReplace: orReplace, ifNotExists: ifNotExists, columns: columns, query: query, text: body)
        }
        let unique = acceptKeyword("unique")
        if acceptKeyword("index") {
            let ifNotExists = try parseIfNotExists()
            let name = try parseIdentifier(what: "index name")
            try expectKeyword("on")
            let table = try parseIdentifier(what: "table name")
            var method = "btree"
            if acceptKeyword("using") { method = try parseAnyName() }
            try expectSymbol("(")
            var columns: [String] = []
            repeat {
                columns.append(try parseAnyName())
                _ = acceptKeyword("asc") || acceptKeyword("desc")
            } while acceptSymbol(",")
            try expectSymbol(")")
            if acceptKeyword("using") { method = try parseAnyName() }
            guard ["btree", "hash"].contains(method) else {
                throw error("unknown index method '\(method.uppercased())', expected BTREE or HASH")
            }
            return .createIndex(name: name, table: table, columns: columns, unique: unique, method: method, ifNotExists: ifNotExists)
        }
        throw unexpected(expected: "TABLE, INDEX, VIEW, DOCUMENT or KV")
    }

    mutating func parseCreateTable() throws -> Statement {
        let ifNotExists = try parseIfNotExists()
        let name = try parseIdentifier(what: "table name")
        try expectSymbol("(")
        var columns: [ColumnSpec] = []
        var tablePrimaryKey: [String] = []
        var tableUnique: [[String]] = []
        repeat {
            if acceptKeyword("primary") {
                try expectKeyword("key")
                tablePrimaryKey = try parseNameList()
                continue
            }
            if acceptKeyword("unique") {
                tableUnique.append(try parseNameList())
                continue
            }
            columns.append(try parseColumnSpec())
        } while acceptSymbol(",")
        try expectSymbol(")")
        for key in tablePrimaryKey {
            guard let i = columns.firstIndex(where: { $0.name == key }) else { throw error("column \"\(key)\" named in key does not exist") }
            guard tablePrimaryKey.count == 1 else { throw RedError(.featureNotSupported, "multi-column PRIMARY KEY is not supported yet; use a UNIQUE INDEX on the columns") }
            columns[i].primaryKey = true
            columns[i].notNull = true
        }
        for group in tableUnique {
            guard group.count == 1 else { throw RedError(.featureNotSupported, "multi-column UNIQUE constraints are not supported yet; use CREATE UNIQUE INDEX") }
            guard let i = columns.firstIndex(where: { $0.name == group[0] }) else { throw error("column \"\(group[0])\" named in key does not exist") }
            columns[i].unique = true
        }
        var appendOnly = false
        var ttl: Int64?
        while true {
            if acceptKeyword("append") {
                try expectKeyword("only")
                appendOnly = true
            } else if acceptKeyword("with") {
                let parenthesised = acceptSymbol("(")
                repeat {
                    if acceptKeyword("ttl") {
                        ttl = try parseDurationMilliseconds()
                    } else if acceptKeyword("append_only") {
                        try expectSymbol("=")
                        appendOnly = try parseBooleanWord()
                    } else {
                        throw error("unsupported CREATE TABLE option \"\(describe(current))\", expected TTL or APPEND_ONLY")
                    }
                } while parenthesised && acceptSymbol(",")
                if parenthesised { try expectSymbol(")") }
            } else {
                break
            }
        }
        return .createTable(name: name, ifNotExists: ifNotExists, columns: columns, appendOnly: appendOnly, ttlMilliseconds: ttl)
    }

    mutating func parseBooleanWord() throws -> Bool {
        if acceptKeyword("true") { return true }
        if acceptKeyword("false") { return false }
        throw unexpected(expected: "TRUE or FALSE")
    }

    mutating func parseNameList() throws -> [String] {
        try expectSymbol("(")
        var names: [String] = []
        repeat { names.append(try parseAnyName()) } while acceptSymbol(",")
        try expectSymbol(")")
        return names
    }

    mutating func parseTypeName() throws -> DataType {
        let typeToken = current
        var name = try parseAnyName()
        if name == "double", acceptKeyword("precision") { name = "double precision" }
        if name == "character", acceptKeyword("varying") { name = "character varying" }
        if name == "timestamp" || name == "time" {
            if acceptKeyword("with") || acceptKeyword("without") { try expectKeyword("time"); try expectKeyword("zone") }
        }
        guard let type = DataType(sqlName: name) else {
            throw RedError(.undefinedObject, "type \"\(name)\" does not exist (at \(SyntaxError.make("", at: typeToken.offset, in: bytes).message.dropFirst(16).dropLast(2)))")
        }
        if acceptSymbol("(") {  // VARCHAR(20), DECIMAL(10,2): the modifiers are accepted and not enforced
            var nesting = 1
            while nesting > 0 {
                if current.kind == .end { throw unexpected(expected: ")") }
                if isSymbol("(") { nesting += 1 }
                if isSymbol(")") { nesting -= 1 }
                advance()
            }
        }
        if acceptSymbol("[") { try expectSymbol("]"); return .json }
        return type
    }

    mutating func parseColumnSpec() throws -> ColumnSpec {
        let name = try parseAnyName()
        var serial = false
        if case .identifier(let typeName, false) = current.kind, ["serial", "bigserial", "smallserial", "serial4", "serial8"].contains(typeName) {
            serial = true
        }
        var spec = ColumnSpec(name: name, type: try parseTypeName())
        spec.serial = serial
        while true {
            if acceptKeyword("not") {
                try expectKeyword("null")
                spec.notNull = true
            } else if acceptKeyword("null") {
                continue
            } else if acceptKeyword("primary") {
                try expectKeyword("key")
                spec.primaryKey = true
                spec.notNull = true
            } else if acceptKeyword("unique") {
                spec.unique = true
            } else if acceptKeyword("default") {
                _ = acceptSymbol("=")
                let start = current.offset
                _ = try parseExpression(minimumPrecedence: Precedence.additive)
                spec.defaultSQL = String(decoding: bytes[start..<min(current.offset, bytes.count)], as: UTF8.self).trimmingSpaces()
            } else {
                break
            }
        }
        return spec
    }

    mutating func parseDrop() throws -> Statement {
        try expectKeyword("drop")
        if acceptKeyword("index") {
            let ifExists = try parseIfExists()
            let name = try parseIdentifier(what: "index name")
            let table = acceptKeyword("on") ? try parseIdentifier(what: "table name") : nil
            return .dropIndex(name: name, table: table, ifExists: ifExists)
        }
        if acceptKeyword("view") {
            let ifExists = try parseIfExists()
            let name = try parseIdentifier(what: "view name")
            let cascade = acceptKeyword("cascade")
            if !cascade { _ = acceptKeyword("restrict") }
            return .dropView(name: name, ifExists: ifExists, cascade: cascade)
        }
        var kind = "table"
        if acceptKeyword("table") { kind = "table" }
        else if acceptKeyword("document") { kind = "document" }
        else if acceptKeyword("kv") { kind = "kv" }
        else if acceptKeyword("collection") { kind = "collection" }
        else { throw unexpected(expected: "TABLE, INDEX, VIEW, DOCUMENT, KV or COLLECTION") }
        let ifExists = try parseIfExists()
        var names: [String] = []
        repeat { names.append(try parseIdentifier(what: "name")) } while acceptSymbol(",")
        let cascade = acceptKeyword("cascade")
        if !cascade { _ = acceptKeyword("restrict") }
        return .dropTable(names: names, ifExists: ifExists, kind: kind, cascade: cascade)
    }

    mutating func parseAlter() throws -> Statement {
        try expectKeyword("alter")
        try expectKeyword("table")
        let ifExists = try parseIfExists()
        let name = try parseIdentifier(what: "table name")
        var actions: [AlterAction] = []
        repeat {
            if acceptKeyword("add") {
                _ = acceptKeyword("column")
                let ifNotExists = try parseIfNotExists()
                actions.append(.addColumn(try parseColumnSpec(), ifNotExists: ifNotExists))
            } else if acceptKeyword("drop") {
                _ = acceptKeyword("column")
                let ifExists = try parseIfExists()
                actions.append(.dropColumn(try parseAnyName(), ifExists: ifExists))
            } else if acceptKeyword("rename") {
                if acceptKeyword("to") {
                    actions.append(.renameTable(to: try parseIdentifier(what: "table name")))
                } else {
                    _ = acceptKeyword("column")
                    let old = try parseAnyName()
                    try expectKeyword("to")
                    actions.append(.renameColumn(old, to: try parseAnyName()))
                }
            } else if acceptKeyword("set") {
                if acceptKeyword("append_only") {
                    try expectSymbol("=")
                    actions.append(.setAppendOnly(try parseBooleanWord()))
                } else {
                    throw unexpected(expected: "APPEND_ONLY")
                }
            } else {
                throw unexpected(expected: "ADD, DROP, RENAME or SET")
            }
        } while acceptSymbol(",")
        return .alterTable(name: name, ifExists: ifExists, actions: actions)
    }

    /// `part {'.' part}` — one part: the key in `kv_default`; more: collection then key.
    mutating func parseKVKey() throws -> (String, String) {
        var parts: [String] = []
        repeat {
            switch current.kind {
            case .identifier(let s, _): parts.append(s); advance()
            case .string(let s): parts.append(s); advance()
            case .integer(let i): parts.append(String(i)); advance()
            default: throw unexpected(expected: "a key")
            }
        } while acceptSymbol(".")
        if isSymbol(":") { throw error("KV keys containing ':' must be quoted as string literals; use 'a:b'") }
        if parts.count == 1 { return ("kv_default", parts[0]) }
        return (parts[0], parts.dropFirst().joined(separator: "."))
    }

    mutating func parseKV() throws -> Statement {
        try expectKeyword("kv")
        if acceptKeyword("put") || acceptKeyword("set") {
            let (collection, key) = try parseKVKey()
            try expectSymbol("=")
            let value = try parseExpression()
            var ttl: Int64?
            var ifNotExists = false
            while true {
                if acceptKeyword("expire") || (isKeyword("with") && isKeyword("ttl", ahead: 1)) {
                    if acceptKeyword("with") { advance() }
                    ttl = try parseDurationMilliseconds()
                } else if isKeyword("if") {
                    ifNotExists = try parseIfNotExists()
                } else {
                    break
                }
            }
            return .kv(.put(collection: collection, key: key, value: value, ttlMilliseconds: ttl, ifNotExists: ifNotExists))
        }
        if acceptKeyword("get") {
            let (collection, key) = try parseKVKey()
            return .kv(.get(collection: collection, key: key))
        }
        if acceptKeyword("delete") || acceptKeyword("del") {
            let (collection, key) = try parseKVKey()
            return .kv(.delete(collection: collection, key: key))
        }
        throw unexpected(expected: "PUT, GET or DELETE")
    }
}
