import RedCore

/// ALTER, DROP and COMMENT ON: the statements that change, remove or describe what CREATE
/// made (ParserDDL.swift).
extension Parser {
    /// `COMMENT ON {TABLE t | COLUMN t.c | INDEX i | SEQUENCE s} IS 'text' | NULL`, names
    /// qualified by `public` or not (Django's `db_comment`, Alembic, pg_dump).
    mutating func parseComment() throws -> Statement {
        try expectKeyword("comment")
        try expectKeyword("on")
        let target: CommentTarget
        if acceptKeyword("table") {
            target = .table(try parseRelationName(what: "table name"))
        } else if acceptKeyword("column") {
            var table = try parseIdentifier(what: "table name")
            try expectSymbol(".")
            var column = try parseAnyName()
            if acceptSymbol(".") {  // schema.table.column
                let schema = table
                (table, column) = (column, try parseAnyName())
                table = "\(schema).\(table)"
            }
            target = .column(table: table, column: column)
        } else if acceptKeyword("index") {
            target = .index(try parseRelationName(what: "index name"))
        } else if acceptKeyword("sequence") {
            target = .sequence(try parseRelationName(what: "sequence name"))
        } else if acceptKeyword("extension") {
            target = .notKept("extension \(try parseAnyName())")
        } else if acceptKeyword("schema") {
            target = .schema(try parseIdentifier(what: "schema name"))
        } else if acceptKeyword("function") {
            target = .function(try parseFunctionReference())
        } else {
            guard case .identifier(let word, _) = current.kind else { throw unexpected(expected: "TABLE, COLUMN, INDEX, SEQUENCE or FUNCTION") }
            let what = word.uppercased()
            throw RedError(.featureNotSupported, "COMMENT ON \(what) is not supported; comments go on tables, columns, indexes, sequences and functions")
        }
        try expectKeyword("is")
        if acceptKeyword("null") { return .comment(on: target, text: nil) }
        guard case .string(let text) = current.kind else { throw unexpected(expected: "a string or NULL after IS") }
        advance()
        return .comment(on: target, text: text.isEmpty ? nil : text)
    }

    /// 0A000 for statements about databases: a server holds one, reached under any database
    /// name (tools such as Rails' `db:create` read 0A000 as "cannot create", not as bad SQL).
    static func oneDatabase(_ statement: String, hint: String = "Connect with any database name to reach it.") -> RedError {
        RedError(.featureNotSupported, "\(statement) is not supported: a RedDB server holds one database",
                 detail: "Every database name a client connects with reaches that database.", hint: hint)
    }

    mutating func parseDrop() throws -> Statement {
        try expectKeyword("drop")
        if isKeyword("database") { throw Self.oneDatabase("DROP DATABASE", hint: "To remove the data, stop the server and delete its .rdb file.") }
        if acceptKeyword("materialized") {
            try expectKeyword("view")
            let ifExists = try parseIfExists()
            var names: [String] = []
            repeat { names.append(try parseRelationName(what: "materialized view name")) } while acceptSymbol(",")
            _ = acceptKeyword("cascade") || acceptKeyword("restrict")
            return .dropMaterializedView(names: names, ifExists: ifExists)
        }
        if acceptKeyword("sequence") { return try parseDropSequence() }
        if acceptKeyword("function") { return try parseDropFunctions() }
        if acceptKeyword("trigger") { return try parseDropTrigger() }
        if acceptKeyword("schema") {
            let ifExists = try parseIfExists()
            var names: [String] = []
            repeat { names.append(try parseIdentifier(what: "schema name")) } while acceptSymbol(",")
            let cascade = acceptKeyword("cascade")
            if !cascade { _ = acceptKeyword("restrict") }
            return .dropSchemas(names: names, ifExists: ifExists, cascade: cascade)
        }
        if acceptKeyword("index") {
            _ = acceptKeyword("concurrently")  // a drop takes no lock that blocks others here anyway
            let ifExists = try parseIfExists()
            let name = try parseRelationName(what: "index name")
            let table = acceptKeyword("on") ? try parseRelationName(what: "table name") : nil
            return .dropIndex(name: name, table: table, ifExists: ifExists)
        }
        if acceptKeyword("extension") {
            let ifExists = try parseIfExists()
            var names: [String] = []
            repeat { names.append(try parseAnyName()) } while acceptSymbol(",")
            if !acceptKeyword("cascade") { _ = acceptKeyword("restrict") }
            return .dropExtensions(names: names, ifExists: ifExists)
        }
        if acceptKeyword("domain") { return try parseDropDomain() }
        if acceptKeyword("type") {
            let (names, ifExists, cascade) = try parseTypesToDrop()
            return .dropType(names: names, ifExists: ifExists, cascade: cascade)
        }
        if acceptKeyword("view") {
            let ifExists = try parseIfExists()
            let name = try parseRelationName(what: "view name")
            let cascade = acceptKeyword("cascade")
            if !cascade { _ = acceptKeyword("restrict") }
            return .dropView(name: name, ifExists: ifExists, cascade: cascade)
        }
        var kind = "table"
        if acceptKeyword("table") { kind = "table" }
        else if acceptKeyword("document") { kind = "document" }
        else if acceptKeyword("kv") { kind = "kv" }
        else if acceptKeyword("vector") { kind = "vector" }
        else if acceptKeyword("graph") { kind = "graph" }
        else if acceptKeyword("collection") { kind = "collection" }
        else { throw unexpected(expected: "TABLE, INDEX, VIEW, DOCUMENT, KV, VECTOR, GRAPH or COLLECTION") }
        let ifExists = try parseIfExists()
        var names: [String] = []
        repeat { names.append(try parseRelationName(what: "name")) } while acceptSymbol(",")
        let cascade = acceptKeyword("cascade")
        if !cascade { _ = acceptKeyword("restrict") }
        return .dropTable(names: names, ifExists: ifExists, kind: kind, cascade: cascade)
    }

    /// `ALTER {TABLE | VIEW | MATERIALIZED VIEW | SEQUENCE | SCHEMA | TYPE | DOMAIN} [IF EXISTS] name
    /// OWNER TO role` (pg_dump writes one per object); nil, nothing consumed, for any other ALTER.
    mutating func parseAlterOwner() throws -> Statement? {
        let start = position
        var kind = ""
        for candidate in ["table", "view", "sequence", "schema", "type", "domain", "materialized"] where acceptKeyword(candidate) {
            kind = candidate == "materialized" && acceptKeyword("view") ? "materialized view" : candidate
            break
        }
        guard !kind.isEmpty, kind != "materialized" else { position = start; return nil }
        let ifExists = try parseIfExists()
        acceptOnly()
        guard let name = try? parseRelationName(what: "\(kind) name"), acceptKeyword("owner") else { position = start; return nil }
        try expectKeyword("to")
        let role = try parseIdentifier(what: "role name")
        return .alterOwner(kind: kind, name: name, ifExists: ifExists, role: role)
    }

    mutating func parseAlter() throws -> Statement {
        try expectKeyword("alter")
        if isKeyword("database") { throw Self.oneDatabase("ALTER DATABASE", hint: "Session settings go in SET, or in the connection's options.") }
        if let owner = try parseAlterOwner() { return owner }
        if acceptKeyword("domain") { return try parseAlterDomain() }
        if acceptKeyword("function") { return try parseAlterFunction() }
        if acceptKeyword("trigger") { return try parseAlterTrigger() }
        if acceptKeyword("sequence") { return try parseAlterSequence() }
        if acceptKeyword("schema") {
            let name = try parseIdentifier(what: "schema name")
            try expectKeyword("rename")
            try expectKeyword("to")
            return .renameSchema(name: name, to: try parseIdentifier(what: "schema name"))
        }
        if acceptKeyword("type") {
            let name = try parseEnumTypeName()
            if acceptKeyword("rename") {
                if isKeyword("value") { throw RedError(.featureNotSupported, "ALTER TYPE … RENAME VALUE is not supported") }
                try expectKeyword("to")
                return .alterEnumType(name: name, .rename(try parseIdentifier(what: "type name")))
            }
            try expectKeyword("add")
            try expectKeyword("value")
            let ifNotExists = try parseIfNotExists()
            guard case .string(let label) = current.kind else { throw unexpected(expected: "an enum label in quotes") }
            advance()
            var neighbour: String?
            var before = false
            if isKeyword("before") || isKeyword("after") {
                before = acceptKeyword("before")
                if !before { advance() }
                guard case .string(let other) = current.kind else { throw unexpected(expected: "an enum label in quotes") }
                advance()
                neighbour = other
            }
            return .alterEnumType(name: name, .addValue(label, ifNotExists: ifNotExists, neighbour: neighbour, before: before))
        }
        if acceptKeyword("index") {
            let ifExists = try parseIfExists()
            let name = try parseRelationName(what: "index name")
            guard acceptKeyword("rename") else {
                throw RedError(.featureNotSupported, "ALTER INDEX supports RENAME TO only (storage parameters and tablespaces do not apply)")
            }
            try expectKeyword("to")
            return .renameIndex(name: name, ifExists: ifExists, to: try parseIdentifier(what: "index name"))
        }
        try expectKeyword("table")
        let ifExists = try parseIfExists()
        acceptOnly()
        let name = try parseRelationName(what: "table name")
        var actions: [AlterAction] = []
        repeat {
            if acceptKeyword("add") {
                var constraintName: String?
                if acceptKeyword("constraint") { constraintName = try parseIdentifier(what: "constraint name") }
                if isKeyword("primary") || (isKeyword("unique") && (isSymbol("(", ahead: 1) || isKeyword("nulls", ahead: 1))) {
                    actions.append(.addConstraint(try parseKeyConstraint(name: constraintName)))
                    continue
                }
                if isKeyword("check") {
                    actions.append(.addCheck(CheckSpec(name: constraintName, sql: try parseCheckExpression())))
                    if acceptKeyword("not") { try expectKeyword("valid") }  // checked now anyway, as VALIDATE CONSTRAINT would
                    continue
                }
                if isKeyword("foreign") && isKeyword("key", ahead: 1) {
                    actions.append(.addForeignKey(try parseForeignKey(name: constraintName)))
                    if acceptKeyword("not") { try expectKeyword("valid") }  // checked now anyway, as VALIDATE CONSTRAINT would
                    continue
                }
                if constraintName != nil { throw unexpected(expected: "PRIMARY KEY, UNIQUE, CHECK or FOREIGN KEY") }
                _ = acceptKeyword("column")
                let ifNotExists = try parseIfNotExists()
                actions.append(.addColumn(try parseColumnSpec(), ifNotExists: ifNotExists))
            } else if acceptKeyword("drop") {
                if acceptKeyword("constraint") {
                    let ifExists = try parseIfExists()
                    actions.append(.dropConstraint(try parseIdentifier(what: "constraint name"), ifExists: ifExists))
                    _ = acceptKeyword("cascade") || acceptKeyword("restrict")
                    continue
                }
                _ = acceptKeyword("column")
                let ifExists = try parseIfExists()
                actions.append(.dropColumn(try parseAnyName(), ifExists: ifExists))
            } else if acceptKeyword("rename") {
                if acceptKeyword("constraint") {
                    let old = try parseIdentifier(what: "constraint name")
                    try expectKeyword("to")
                    actions.append(.renameConstraint(old, to: try parseIdentifier(what: "constraint name")))
                } else if acceptKeyword("to") {
                    actions.append(.renameTable(to: try parseIdentifier(what: "table name")))
                } else {
                    _ = acceptKeyword("column")
                    let old = try parseAnyName()
                    try expectKeyword("to")
                    actions.append(.renameColumn(old, to: try parseAnyName()))
                }
            } else if acceptKeyword("alter") {
                _ = acceptKeyword("column")
                actions.append(try parseAlterColumn())
            } else if acceptKeyword("validate") {
                try expectKeyword("constraint")
                actions.append(.validateConstraint(try parseIdentifier(what: "constraint name")))
            } else if acceptKeyword("set") {
                if acceptKeyword("append_only") {
                    try expectSymbol("=")
                    actions.append(.setAppendOnly(try parseBooleanWord()))
                } else if acceptSymbol("(") {
                    try expectKeyword("fillfactor")
                    try expectSymbol("=")
                    guard let factor = fillFactorToken, (10...100).contains(factor) else {
                        throw RedError(.invalidArgument, "value for option \"fillfactor\" must be between 10 and 100")
                    }
                    advance()
                    try expectSymbol(")")
                    actions.append(.setFillFactor)
                } else if isKeyword("schema") {
                    throw RedError(.featureNotSupported, "ALTER TABLE … SET SCHEMA is not supported; create the table in the other schema and copy its rows (INSERT INTO s.t SELECT * FROM t)")
                } else {
                    throw unexpected(expected: "APPEND_ONLY or (fillfactor = …)")
                }
            } else if isKeyword("enable") || isKeyword("disable") {
                let enable = isKeyword("enable")
                advance()
                guard let action = try parseTriggerSwitch(enable: enable) else {
                    throw RedError(.featureNotSupported, "ALTER TABLE … \(enable ? "ENABLE" : "DISABLE") supports TRIGGER only (rules and row security do not exist here)")
                }
                actions.append(action)
            } else if acceptKeyword("reset") {
                try expectSymbol("(")
                try expectKeyword("fillfactor")
                try expectSymbol(")")
                actions.append(.setFillFactor)
            } else {
                throw unexpected(expected: "ADD, DROP, ALTER, RENAME, SET, ENABLE, DISABLE or VALIDATE")
            }
        } while acceptSymbol(",")
        return .alterTable(name: name, ifExists: ifExists, actions: actions)
    }
}
