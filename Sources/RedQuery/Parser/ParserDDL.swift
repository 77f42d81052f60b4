import RedCore

/// CREATE: tables with their column types and constraints,
/// indexes, views and collections.
extension Parser {
    mutating func parseCreate() throws -> Statement {
        try expectKeyword("create")
        var orReplace = false
        if acceptKeyword("or") { try expectKeyword("replace"); orReplace = true }
        if acceptKeyword("table") { return try parseCreateTable() }
        if isKeyword("database") { throw Self.oneDatabase("CREATE DATABASE") }
        if isKeyword("global") || isKeyword("local") || isKeyword("temp") || isKeyword("temporary") {
            // PostgreSQL ignores GLOBAL and LOCAL (the standard's temporary tables differ).
            if !acceptKeyword("global") { _ = acceptKeyword("local") }
            guard acceptKeyword("temp") || acceptKeyword("temporary") else { throw unexpected(expected: "TEMPORARY") }
            guard acceptKeyword("table") else {
                if isKeyword("view") || isKeyword("sequence") || (isKeyword("recursive") && isKeyword("view", ahead: 1)) {
                    throw RedError(.featureNotSupported, "temporary views and sequences are not supported; only temporary tables are")
                }
                throw unexpected(expected: "TABLE")
            }
            return try parseCreateTable(temporary: true)
        }
        if acceptKeyword("unlogged") {
            // PostgreSQL's tables without WAL: here every table is logged, which only makes it safer.
            try expectKeyword("table")
            return try parseCreateTable()
        }
        if acceptKeyword("domain") { return try parseCreateDomain() }
        if acceptKeyword("function") { return try parseCreateFunction(orReplace: orReplace) }
        if acceptKeyword("trigger") { return try parseCreateTrigger(orReplace: orReplace) }
        if isKeyword("constraint") && isKeyword("trigger", ahead: 1) {
            throw RedError(.featureNotSupported, "CREATE CONSTRAINT TRIGGER is not supported; write CREATE TRIGGER")
        }
        if isKeyword("procedure") || isKeyword("aggregate") {
            throw RedError(.featureNotSupported, "CREATE \(describe(current).uppercased()) is not supported yet; LANGUAGE sql functions are (CREATE FUNCTION)")
        }
        if acceptKeyword("type") {
            let name = try parseEnumTypeName()
            try expectKeyword("as")
            guard acceptKeyword("enum") else {
                throw RedError(.featureNotSupported, "CREATE TYPE supports enum types only (CREATE TYPE \(name) AS ENUM ('a', 'b'))")
            }
            try expectSymbol("(")
            var labels: [String] = []
            if !isSymbol(")") {
                repeat {
                    guard case .string(let label) = current.kind else { throw unexpected(expected: "an enum label in quotes") }
                    advance()
                    labels.append(label)
                } while acceptSymbol(",")
            }
            try expectSymbol(")")
            return .createEnumType(name: name, labels: labels)
        }
        if acceptKeyword("extension") {
            // CREATE EXTENSION [IF NOT EXISTS] name [WITH] [SCHEMA s] [VERSION v] [CASCADE]
            let ifNotExists = try parseIfNotExists()
            let name = try parseAnyName()
            _ = acceptKeyword("with")
            while true {
                if acceptKeyword("schema") { _ = try parseAnyName(); continue }
                if acceptKeyword("version") {
                    if case .string = current.kind { advance() } else { _ = try parseAnyName() }
                    continue
                }
                if acceptKeyword("cascade") { continue }
                break
            }
            return .createExtension(name: name, ifNotExists: ifNotExists)
        }
        if acceptKeyword("schema") {
            let ifNotExists = try parseIfNotExists()
            // `CREATE SCHEMA AUTHORIZATION role` names the schema after the role.
            if acceptKeyword("authorization") {
                let role = try parseIdentifier(what: "role name")
                return .createSchema(name: role, ifNotExists: ifNotExists, owner: role)
            }
            let name = try parseIdentifier(what: "schema name")
            let owner = acceptKeyword("authorization") ? try parseIdentifier(what: "role name") : nil
            if isKeyword("create") || isKeyword("grant") {
                throw RedError(.featureNotSupported, "CREATE SCHEMA with schema elements is not supported; create the schema, then its objects with schema-qualified names")
            }
            return .createSchema(name: name, ifNotExists: ifNotExists, owner: owner)
        }
        if acceptKeyword("sequence") { return try parseCreateSequence() }
        if acceptKeyword("document") || acceptKeyword("collection") {
            let ifNotExists = try parseIfNotExists()
            return .createCollection(name: try parseIdentifier(what: "collection name"), model: .document, ifNotExists: ifNotExists)
        }
        if acceptKeyword("kv") {
            let ifNotExists = try parseIfNotExists()
            return .createCollection(name: try parseIdentifier(what: "collection name"), model: .kv, ifNotExists: ifNotExists)
        }
        if acceptKeyword("vector") { return try parseCreateVector() }
        if acceptKeyword("graph") {
            let ifNotExists = try parseIfNotExists()
            return .createCollection(name: try parseIdentifier(what: "graph name"), model: .node, ifNotExists: ifNotExists)
        }
        if acceptKeyword("materialized") {
            // CREATE MATERIALIZED VIEW [IF NOT EXISTS] name [(columns)] AS query [WITH [NO] DATA]:
            // CREATE TABLE AS that keeps its query's text for REFRESH.
            guard !orReplace else { throw unexpected(expected: "VIEW (CREATE OR REPLACE MATERIALIZED VIEW does not exist)") }
            try expectKeyword("view")
            let ifNotExists = try parseIfNotExists()
            let name = try parseRelationName(what: "materialized view name")
            let names = isSymbol("(") ? try parseNameList() : nil
            try expectKeyword("as")
            let start = current.offset
            let query = try parseQuery()
            let body = String(decoding: bytes[start..<min(current.offset, bytes.count)], as: UTF8.self).trimmingSpaces()
            var withData = true
            if acceptKeyword("with") {
                withData = !acceptKeyword("no")
                try expectKeyword("data")
            }
            return .createTableAs(CreateTableAs(name: name, ifNotExists: ifNotExists, columnNames: names, query: query, withData: withData,
                                                materializedText: body))
        }
        if acceptKeyword("view") {
            let ifNotExists = try parseIfNotExists()
            let name = try parseRelationName(what: "view name")
            let columns = isSymbol("(") ? try parseNameList() : []
            try expectKeyword("as")
            let start = current.offset
            let query = try parseQuery()
            let body = String(decoding: bytes[start..<min(current.offset, bytes.count)], as: UTF8.self).trimmingSpaces()
            return .createView(name: name, orReplace: orReplace, ifNotExists: ifNotExists, columns: columns, query: query, text: body)
        }
        let unique = acceptKeyword("unique")
        if acceptKeyword("index") {
            // CONCURRENTLY changes how nothing is built: building the index never blocks readers or
            // writers beyond its own transaction. It is kept to refuse a transaction block, as PostgreSQL does.
            let concurrently = isKeyword("concurrently") && !isKeyword("on", ahead: 1)
            if concurrently { advance() }
            let ifNotExists = try parseIfNotExists()
            let name = isKeyword("on") && !ifNotExists ? nil : try parseRelationName(what: "index name")
            try expectKeyword("on")
            acceptOnly()
            let table = try parseRelationName(what: "table name")
            var method = "btree"
            if acceptKeyword("using") { method = try parseAnyName() }
            if method == "hnsw" || method == "ivfflat" {
                throw RedError(.featureNotSupported,
                               "index method \(method) (pgvector's approximate search) is not supported: vector searches here are exact, comparing every row; leave the index out")
            }
            if ["gin", "gist", "spgist"].contains(method) {
                throw RedError(.featureNotSupported,
                               "index method \(method) is not supported: its operators (@>, ?, &&, full-text and trigram matches) run without an index here; a B-tree index serves equality, ranges and ORDER BY")
            }
            // A BRIN index summarizes ranges of a large table's pages, for range scans; a
            // B-tree serves the same queries (taking more room), so one is built instead.
            if method == "brin" { method = "btree" }
            try expectSymbol("(")
            var keys: [IndexKeySpec] = []
            repeat {
                keys.append(try parseIndexKey())
                if acceptKeyword("collate") { _ = try parseAnyName() }
                // An operator class (`varchar_pattern_ops`, Django's for LIKE): accepted; the
                // B-tree serves equality and ranges whichever is named.
                if case .identifier = current.kind, !isKeyword("asc"), !isKeyword("desc"), !isKeyword("nulls") { advance() }
                _ = acceptKeyword("asc") || acceptKeyword("desc")
                if acceptKeyword("nulls") { _ = acceptKeyword("first") || acceptKeyword("last") }
            } while acceptSymbol(",")
            try expectSymbol(")")
            if acceptKeyword("using") { method = try parseAnyName() }
            // A covering index's INCLUDE columns: accepted and not stored (they let PostgreSQL
            // answer from the index alone; here the row is read, with the same results).
            if acceptKeyword("include") { _ = try parseNameList() }
            var nullsNotDistinct = false
            if acceptKeyword("nulls") {
                nullsNotDistinct = acceptKeyword("not")
                try expectKeyword("distinct")
                if !unique { nullsNotDistinct = false }  // accepted on any index, as PostgreSQL does; it means something on unique ones
            }
            if acceptKeyword("with") {
                // Storage parameters (`WITH (fillfactor = 70)`): RedDB's B+tree manages its own pages.
                try expectSymbol("(")
                repeat {
                    try expectKeyword("fillfactor")
                    try expectSymbol("=")
                    guard let factor = fillFactorToken, (10...100).contains(factor) else {
                        throw RedError(.invalidArgument, "value for option \"fillfactor\" must be between 10 and 100")
                    }
                    advance()
                } while acceptSymbol(",")
                try expectSymbol(")")
            }
            guard ["btree", "hash"].contains(method) else {
                throw error("unknown index method '\(method.uppercased())', expected BTREE or HASH")
            }
            let predicate = acceptKeyword("where") ? try parseExpressionText() : nil
            return .createIndex(name: name, table: table, keys: keys, unique: unique, method: method, ifNotExists: ifNotExists,
                                predicate: predicate, concurrently: concurrently, nullsNotDistinct: nullsNotDistinct)
        }
        throw unexpected(expected: "TABLE, INDEX, VIEW, DOCUMENT, KV, VECTOR or GRAPH")
    }

    /// One part of CREATE INDEX's key list, as PostgreSQL allows it: a column name, a function
    /// call (`lower(email)`), or any expression in parentheses (`(a + b)`).
    mutating func parseIndexKey() throws -> IndexKeySpec {
        if acceptSymbol("(") {
            let text = try parseExpressionText()
            try expectSymbol(")")
            return .expression(text)
        }
        if case .identifier = current.kind, isSymbol("(", ahead: 1) || isSymbol(".", ahead: 1) {
            return .expression(try parseExpressionText())
        }
        return .column(try parseAnyName())
    }

    /// An expression, as the text it was written with (what CHECK constraints and index
    /// definitions keep).
    mutating func parseExpressionText() throws -> String {
        let start = current.offset
        _ = try parseExpression()
        return String(decoding: bytes[start..<min(current.offset, bytes.count)], as: UTF8.self).trimmingSpaces()
    }

    /// `CREATE [TEMP] TABLE …`, after TABLE: a temporary one wrapped in `createTemporary`.
    mutating func parseCreateTable(temporary: Bool = false) throws -> Statement {
        let ifNotExists = try parseIfNotExists()
        var temporary = temporary
        var name = try parseRelationName(what: "table name")
        if name.hasPrefix("pg_temp.") {  // PostgreSQL's other way to make one
            name.removeFirst("pg_temp.".count)
            temporary = true
        }
        if isKeyword("as") || isKeyword("on") || startsColumnNamesBeforeAs() {
            return try parseCreateTableAs(name, ifNotExists: ifNotExists, temporary: temporary)
        }
        try expectSymbol("(")
        var columns: [ColumnSpec] = []
        var keys: [KeySpec] = []
        var checks: [CheckSpec] = []
        var foreignKeys: [ForeignKeySpec] = []
        var likes: [TableLike] = []
        repeat {
            if acceptKeyword("like") {
                likes.append(try parseTableLike(position: columns.count))
                continue
            }
            // A table constraint may be named: CONSTRAINT name PRIMARY KEY | UNIQUE | CHECK | FOREIGN KEY.
            let constraintName = acceptKeyword("constraint") ? try parseIdentifier(what: "constraint name") : nil
            if isKeyword("foreign") && isKeyword("key", ahead: 1) {
                foreignKeys.append(try parseForeignKey(name: constraintName))
                continue
            }
            if constraintName != nil, !isKeyword("primary"), !isKeyword("unique"), !isKeyword("check") {
                throw unexpected(expected: "PRIMARY KEY, UNIQUE, CHECK or FOREIGN KEY")
            }
            if isKeyword("check") {
                checks.append(CheckSpec(name: constraintName, sql: try parseCheckExpression()))
                continue
            }
            if isKeyword("primary") || isKeyword("unique") {
                keys.append(try parseKeyConstraint(name: constraintName))
                continue
            }
            var column = try parseColumnSpec()
            if let references = column.references {
                foreignKeys.append(references)
                column.references = nil
            }
            columns.append(column)
        } while acceptSymbol(",")
        try expectSymbol(")")
        // With LIKE the table's columns are known only when it runs; the keys are checked then.
        for fk in foreignKeys where likes.isEmpty {
            for column in fk.columns where !columns.contains(where: { $0.name == column }) {
                throw RedError(.undefinedColumn, "column \"\(column)\" referenced in foreign key constraint does not exist")
            }
        }
        // One unnamed column: a column constraint, as if written on the column (its index keeps
        // the names it always had). Anything else stays a table constraint.
        keys = try keys.filter { key in
            for column in key.columns where likes.isEmpty && !columns.contains(where: { $0.name == column }) {
                throw RedError(.undefinedColumn, "column \"\(column)\" named in key does not exist")
            }
            guard key.name == nil, key.columns.count == 1, let i = columns.firstIndex(where: { $0.name == key.columns[0] }) else { return true }
            if key.primary {
                columns[i].primaryKey = true
                columns[i].notNull = true
            } else {
                columns[i].unique = true
            }
            return false
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
                    } else if acceptKeyword("fillfactor") {
                        // PostgreSQL's page fill hint: RedDB's B+tree manages its own page fill, so it is accepted and has no effect.
                        try expectSymbol("=")
                        guard let factor = fillFactorToken else { throw unexpected(expected: "a fill factor between 10 and 100") }
                        guard (10...100).contains(factor) else {
                            throw RedError(.invalidArgument, "value \(factor) out of bounds for option \"fillfactor\": valid values are between 10 and 100")
                        }
                        advance()
                    } else {
                        throw error("unsupported CREATE TABLE option \"\(describe(current))\", expected TTL, APPEND_ONLY or FILLFACTOR")
                    }
                } while parenthesised && acceptSymbol(",")
                if parenthesised { try expectSymbol(")") }
            } else {
                break
            }
        }
        let onCommit = try parseOnCommit(temporary: temporary)
        let create = Statement.createTable(name: name, ifNotExists: ifNotExists, columns: columns, keys: keys, checks: checks,
                                           foreignKeys: foreignKeys, appendOnly: appendOnly, ttlMilliseconds: ttl, likes: likes)
        return temporary ? .createTemporary(create, onCommit: onCommit) : create
    }

    /// `[ON COMMIT {PRESERVE ROWS | DELETE ROWS | DROP}]`: 42P16 on a table that is not temporary.
    mutating func parseOnCommit(temporary: Bool) throws -> TemporaryOnCommit {
        guard acceptKeyword("on") else { return .preserveRows }
        try expectKeyword("commit")
        guard temporary else { throw RedError(.invalidTableDefinition, "ON COMMIT can only be used on temporary tables") }
        if acceptKeyword("drop") { return .drop }
        if acceptKeyword("preserve") {
            try expectKeyword("rows")
            return .preserveRows
        }
        guard acceptKeyword("delete") else { throw unexpected(expected: "PRESERVE ROWS, DELETE ROWS or DROP") }
        try expectKeyword("rows")
        return .deleteRows
    }

    /// `LIKE source [{INCLUDING | EXCLUDING} {DEFAULTS | CONSTRAINTS | INDEXES | IDENTITY |
    /// GENERATED | COMMENTS | STATISTICS | STORAGE | COMPRESSION | ALL}]…`, after LIKE.
    mutating func parseTableLike(position: Int) throws -> TableLike {
        var like = TableLike(table: try parseRelationName(what: "table name"), position: position)
        while isKeyword("including") || isKeyword("excluding") {
            let including = acceptKeyword("including")
            if !including { advance() }
            let parts: [TableLike.Part]
            if acceptKeyword("all") { parts = TableLike.Part.allCases } else {
                guard case .identifier(let word, false) = current.kind, let part = TableLike.Part(rawValue: word) else {
                    throw unexpected(expected: "DEFAULTS, CONSTRAINTS, INDEXES, IDENTITY, GENERATED, COMMENTS, STATISTICS, STORAGE, COMPRESSION or ALL")
                }
                advance()
                parts = [part]
            }
            if including { like.including.formUnion(parts) } else { like.including.subtract(parts) }
        }
        return like
    }

    /// At `(`: whether a list of bare names follows, closed and then `AS` (CREATE TABLE AS's
    /// column names), rather than column definitions.
    func startsColumnNamesBeforeAs() -> Bool {
        guard isSymbol("(") else { return false }
        var ahead = 1
        while true {
            guard case .identifier = peekToken(ahead).kind else { return false }
            if isSymbol(")", ahead: ahead + 1) { return isKeyword("as", ahead: ahead + 2) || isKeyword("on", ahead: ahead + 2) }
            guard isSymbol(",", ahead: ahead + 1) else { return false }
            ahead += 2
        }
    }

    /// `CREATE TABLE t [(names…)] [ON COMMIT …] AS query [WITH [NO] DATA]`, after the name.
    mutating func parseCreateTableAs(_ name: String, ifNotExists: Bool, temporary: Bool) throws -> Statement {
        let names = isSymbol("(") ? try parseNameList() : nil
        let onCommit = try parseOnCommit(temporary: temporary)
        try expectKeyword("as")
        let query = try parseQuery()
        var withData = true
        if acceptKeyword("with") {
            withData = !acceptKeyword("no")
            try expectKeyword("data")
        }
        let create = Statement.createTableAs(CreateTableAs(name: name, ifNotExists: ifNotExists, columnNames: names, query: query, withData: withData))
        return temporary ? .createTemporary(create, onCommit: onCommit) : create
    }

    /// The fill factor at the current token: a number, or its text (`fillfactor='90'`, as pg_dump writes it).
    var fillFactorToken: Int64? {
        switch current.kind {
        case .integer(let n): return n
        case .string(let s): return Int64(s)
        default: return nil
        }
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

    mutating func parseTypeName() throws -> DataType { try parseTypeNameWithArguments().type }

    /// A type name as a column or cast declares it.
    struct ParsedTypeName {
        var type: DataType
        /// The string literals among its modifiers (`ENUM('a', 'b')`).
        var strings: [String] = []
        /// For an array (`INT[]`, `TEXT[][]`, where `type` is `.array`): its elements' type.
        var element: DataType?
        /// Widths, lengths, precision and scale (`integer`, `varchar(20)`, `numeric(10,2)`);
        /// for an array, those of its elements, which are not kept.
        var declared: DeclaredType?
        /// A name that is no built-in type (an enum type's or a domain's, `type` being
        /// `.enumeration`), or one of RedDB's own type names (`email`), which a domain or enum
        /// type of that name overrides (`type` is then the built-in one, used otherwise).
        var namedType: String?
    }

    /// After `timestamp` or `time`: `WITH TIME ZONE` (a timestamp becomes `timestamptz`) or
    /// `WITHOUT TIME ZONE`, if written.
    mutating func parseTimeZoneClause(_ name: inout String) throws {
        guard name == "timestamp" || name == "time" else { return }
        if acceptKeyword("with") {
            try expectKeyword("time"); try expectKeyword("zone")
            if name == "timestamp" { name = "timestamptz" }
        } else if acceptKeyword("without") {
            try expectKeyword("time"); try expectKeyword("zone")
        }
    }

    /// `interval`'s fields, at the word after it: `hour`, `day to second` (lower-case), or nil.
    /// A pair the grammar does not allow (`year to day`), or a precision after a field other
    /// than `second` (`hour(2)`), is a syntax error there, as in PostgreSQL.
    mutating func parseIntervalFields() throws -> String? {
        guard case .identifier(let first, false) = current.kind, DeclaredType.intervalRanges[first.lowercased()] != nil else { return nil }
        advance()
        var fields = first.lowercased()
        if isKeyword("to") {
            advance()
            guard case .identifier(let last, false) = current.kind,
                  DeclaredType.intervalRanges["\(fields) to \(last.lowercased())"] != nil else { throw unexpected(expected: "an interval field") }
            advance()
            fields += " to \(last.lowercased())"
        }
        if isSymbol("("), !fields.hasSuffix("second") { throw unexpected() }
        return fields
    }

    mutating func parseTypeNameWithArguments() throws -> ParsedTypeName {
        let typeToken = current
        var name = try parseAnyName()
        // PostgreSQL's schema-qualified built-in names (`pg_catalog.int8`, `"pg_catalog"."int8"`).
        // And `public.mood`, an enum type as pg_dump names it.
        if name == "pg_catalog" || name == "public", acceptSymbol(".") { name = try parseAnyName() }
        if name == "double", acceptKeyword("precision") { name = "double precision" }
        if name == "character", acceptKeyword("varying") { name = "character varying" }
        try parseTimeZoneClause(&name)
        if name == "password" || name == "secret" {
            throw RedError(.featureNotSupported, "\(name.uppercased()) columns are not supported yet (they need a password hash and a key vault)")
        }
        guard let type = DataType(sqlName: name) else {
            // Perhaps an enum type (`CREATE TYPE mood AS ENUM …`): resolved when the statement runs.
            if case .identifier = typeToken.kind, !isSymbol("("), !isSymbol("[") {
                return ParsedTypeName(type: .enumeration, namedType: name)
            }
            throw RedError(.undefinedObject, "type \"\(name)\" does not exist (at \(SyntaxError.make("", at: typeToken.offset, in: bytes).message.dropFirst(16).dropLast(2)))")
        }
        var parsed = ParsedTypeName(type: type)
        if !DataType.isPostgresTypeName(name), case .identifier = typeToken.kind, !isSymbol("("), !isSymbol("[") {
            parsed.namedType = name  // RedDB's type, unless a domain or enum type takes the name (`resolveNamedType`)
        }
        let intervalFields = name == "interval" ? try parseIntervalFields() : nil
        var modifiers: [Int64] = []
        if acceptSymbol("(") {  // VARCHAR(20), DECIMAL(10,2): the declaration; ENUM('a','b'): the variants
            var nesting = 1
            while nesting > 0 {
                if current.kind == .end { throw unexpected(expected: ")") }
                if isSymbol("(") { nesting += 1 }
                if isSymbol(")") { nesting -= 1 }
                switch current.kind {
                case .string(let s): parsed.strings.append(s)
                case .integer(let n) where nesting == 1: modifiers.append(n)
                case .symbol("-") where nesting == 1:
                    if case .integer(let n) = peekToken(1).kind { modifiers.append(-n); advance() }
                default: break
                }
                advance()
            }
            // `timestamp(6) without time zone` (Rails' and pg_dump's spelling): the zone after the precision.
            try parseTimeZoneClause(&name)
        }
        parsed.declared = type == .enumeration ? nil : try DeclaredType(sqlName: name, modifiers: modifiers, intervalFields: intervalFields)
        var dimensions = 0
        while acceptSymbol("[") {
            // `INT[3]`: the size is accepted and not enforced, as in PostgreSQL.
            if case .integer = current.kind { advance() }
            try expectSymbol("]")
            dimensions += 1
        }
        if dimensions > 0 {
            parsed.element = type
            parsed.type = .array
        }
        return parsed
    }

    static let integerWidths = ["smallint": "smallint", "int2": "smallint", "smallserial": "smallint", "integer": "integer", "int": "integer",
                                "int4": "integer", "serial": "integer", "serial4": "integer", "bigint": "bigint", "int8": "bigint",
                                "bigserial": "bigint", "serial8": "bigint"]

    mutating func parseColumnSpec() throws -> ColumnSpec {
        let name = try parseAnyName()
        var serial = false
        var integerWidth: String?
        if case .identifier(let typeName, false) = current.kind {
            serial = ["serial", "bigserial", "smallserial", "serial4", "serial8"].contains(typeName)
            integerWidth = Self.integerWidths[typeName]
        }
        let parsed = try parseTypeNameWithArguments()
        let (type, strings, element) = (parsed.type, parsed.strings, parsed.element)
        var spec = ColumnSpec(name: name, type: type)
        spec.serial = serial
        spec.integerWidth = element == nil ? integerWidth : nil
        spec.declared = element == nil ? parsed.declared : nil
        spec.namedType = parsed.namedType
        // Elements of a scalar type are converted on write and described as `T[]`; JSON[] and the
        // like keep their elements as given.
        spec.arrayElement = element.flatMap { [.any, .array, .json, .vector].contains($0) ? nil : $0 }
        if spec.arrayElement != nil { spec.elementDeclared = parsed.declared?.forArrayElements }
        if type == .enumeration, parsed.namedType == nil {
            guard !strings.isEmpty else { throw error("ENUM needs its variants: ENUM('a', 'b', …)") }
            spec.enumVariants = strings
        }
        var constraintName: String?  // CONSTRAINT name before a column constraint names a CHECK
        while true {
            if acceptKeyword("constraint") {
                constraintName = try parseIdentifier(what: "constraint name")
                continue
            }
            if isKeyword("references") {
                guard spec.references == nil else { throw error("a column may have one REFERENCES constraint") }
                spec.references = try parseReferences(name: constraintName, columns: [name])
                constraintName = nil
                continue
            }
            if isKeyword("check") {
                spec.checks.append(CheckSpec(name: constraintName, sql: try parseCheckExpression()))
                constraintName = nil
                continue
            }
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
                if acceptKeyword("nulls") {  // a single column's NULLS NOT DISTINCT: at most one NULL
                    if acceptKeyword("not") {
                        throw RedError(.featureNotSupported, "write a column's UNIQUE NULLS NOT DISTINCT as a table constraint: UNIQUE NULLS NOT DISTINCT (\(name))")
                    }
                    try expectKeyword("distinct")
                }
            } else if isKeyword("generated"), isKeyword("always", ahead: 1), isKeyword("as", ahead: 2), isSymbol("(", ahead: 3) {
                for _ in 0..<4 { advance() }
                guard spec.generatedSQL == nil else { throw RedError(.syntaxError, "multiple generation clauses specified for column \"\(name)\"") }
                spec.generatedSQL = try parseExpressionText()
                try expectSymbol(")")
                if acceptKeyword("virtual") { throw RedError(.featureNotSupported, "virtual generated columns are not supported; use STORED") }
                try expectKeyword("stored")
            } else if acceptKeyword("generated") {
                guard spec.identity == nil else { throw RedError(.syntaxError, "multiple identity specifications for column \"\(name)\"") }
                (spec.identity, spec.identityOptions) = try parseIdentityColumn()
                spec.notNull = true
            } else if acceptKeyword("default") {
                _ = acceptSymbol("=")
                spec.defaultSQL = try parseDefaultText()
            } else if acceptKeyword("collate") {
                try parseCollation()
            } else {
                break
            }
        }
        return spec
    }

    /// After COLLATE: text compares byte by byte, which is what C, POSIX and the default
    /// collation mean here (as `x COLLATE "C"` in an expression); another would sort otherwise.
    mutating func parseCollation() throws {
        var collation = try parseAnyName()
        if collation == "pg_catalog", acceptSymbol(".") { collation = try parseAnyName() }
        guard ["default", "c", "posix", "ucs_basic"].contains(collation.lowercased()) else {
            throw RedError(.featureNotSupported, "collation \"\(collation)\" is not supported (text compares byte by byte, as COLLATE \"C\")")
        }
    }

    /// A DEFAULT expression as the text kept for it: as written, except that `nextval('s')`
    /// is kept as PostgreSQL shows it, `nextval('s'::regclass)` (what `\d` and pg_dump print).
    mutating func parseDefaultText() throws -> String {
        let start = current.offset
        let expression = try parseExpression(minimumPrecedence: Precedence.additive)
        if case .function(let call) = expression, call.name == "nextval", call.arguments.count == 1, case .literal(.text(let sequence)) = call.arguments[0] {
            return "nextval('\(sequence.replacingOccurrences(of: "'", with: "''"))'::regclass)"
        }
        return String(decoding: bytes[start..<min(current.offset, bytes.count)], as: UTF8.self).trimmingSpaces()
    }

    /// `FOREIGN KEY (columns…) REFERENCES …`, after an optional `CONSTRAINT name`.
    mutating func parseForeignKey(name: String?) throws -> ForeignKeySpec {
        try expectKeyword("foreign")
        try expectKeyword("key")
        let columns = try parseNameList()
        guard Set(columns).count == columns.count else { throw RedError(.duplicateColumn, "column appears twice in foreign key constraint") }
        return try parseReferences(name: name, columns: columns)
    }

    /// `REFERENCES table [(columns…)]` and its options, in any order: `MATCH FULL|SIMPLE`,
    /// `ON DELETE|UPDATE action`, `[NOT] DEFERRABLE`, `INITIALLY IMMEDIATE|DEFERRED`.
    mutating func parseReferences(name: String?, columns: [String]) throws -> ForeignKeySpec {
        try expectKeyword("references")
        let table = try parseRelationName(what: "table name")
        let referenced = isSymbol("(") ? try parseNameList() : nil
        var spec = ForeignKeySpec(name: name, columns: columns, table: table, referencedColumns: referenced)
        var notDeferrable = false
        while true {
            if acceptKeyword("match") {
                if acceptKeyword("full") { spec.matchFull = true }
                else if acceptKeyword("simple") { spec.matchFull = false }
                else if acceptKeyword("partial") { throw RedError(.featureNotSupported, "MATCH PARTIAL not yet implemented") }
                else { throw unexpected(expected: "FULL, PARTIAL or SIMPLE") }
            } else if isKeyword("on") && (isKeyword("delete", ahead: 1) || isKeyword("update", ahead: 1)) {
                advance()
                let onDelete = acceptKeyword("delete")
                if !onDelete { try expectKeyword("update") }
                let action = try parseReferentialAction()
                if onDelete { spec.onDelete = action } else { spec.onUpdate = action }
            } else if isKeyword("not") && isKeyword("deferrable", ahead: 1) {
                advance()
                advance()
                notDeferrable = true
            } else if acceptKeyword("deferrable") {
                spec.deferrable = true
            } else if acceptKeyword("initially") {
                if acceptKeyword("immediate") { continue }
                try expectKeyword("deferred")
                spec.initiallyDeferred = true
            } else {
                if notDeferrable, spec.deferrable || spec.initiallyDeferred {
                    throw RedError(.syntaxError, spec.initiallyDeferred ? "constraint declared INITIALLY DEFERRED must be DEFERRABLE"
                                                                        : "conflicting constraint properties")
                }
                if spec.initiallyDeferred { spec.deferrable = true }
                return spec
            }
        }
    }

    mutating func parseReferentialAction() throws -> ForeignKeySpec.Action {
        if acceptKeyword("cascade") { return .cascade }
        if acceptKeyword("restrict") { return .restrict }
        if acceptKeyword("no") { try expectKeyword("action"); return .noAction }
        try expectKeyword("set")
        let action: ForeignKeySpec.Action
        if acceptKeyword("null") { action = .setNull } else { try expectKeyword("default"); action = .setDefault }
        if isSymbol("(") { throw RedError(.featureNotSupported, "a column list for SET NULL / SET DEFAULT is not supported yet") }
        return action
    }

    /// `PRIMARY KEY (columns…)` or `UNIQUE (columns…)`, after an optional `CONSTRAINT name`.
    mutating func parseKeyConstraint(name: String?) throws -> KeySpec {
        let primary = acceptKeyword("primary")
        if primary { try expectKeyword("key") } else { try expectKeyword("unique") }
        var nullsNotDistinct = false
        if !primary, acceptKeyword("nulls") {
            nullsNotDistinct = acceptKeyword("not")
            try expectKeyword("distinct")
        }
        let columns = try parseNameList()
        guard Set(columns).count == columns.count else {
            throw RedError(.duplicateColumn, "column appears twice in \(primary ? "primary key" : "unique") constraint")
        }
        var key = KeySpec(name: name, columns: columns, primary: primary)
        key.nullsNotDistinct = nullsNotDistinct
        return key
    }

    /// `CHECK (expression)`: the expression's text as written, which the table keeps.
    mutating func parseCheckExpression() throws -> String {
        try expectKeyword("check")
        try expectSymbol("(")
        let sql = try parseExpressionText()
        try expectSymbol(")")
        if acceptKeyword("no") { try expectKeyword("inherit") }  // PostgreSQL's NO INHERIT: no inheritance here, so no effect
        return sql
    }
}
