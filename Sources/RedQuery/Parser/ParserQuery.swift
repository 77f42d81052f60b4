import RedCore

/// SELECT, set operations, CTEs, VALUES and FROM items.
extension Parser {
    /// The wrapper `f(…) WITH ORDINALITY` parses into (a FROM function of one argument, the call).
    static let withOrdinality = "__with_ordinality"

    mutating func parseQuery() throws -> Query {
        try enter()
        defer { leave() }
        var ctes: [CommonTableExpression] = []
        if acceptKeyword("with") {
            let recursive = acceptKeyword("recursive")
            repeat {
                guard case .query(let cte) = try parseWithItem(recursive: recursive) else {
                    throw error("a data-modifying statement in WITH must be at the top level")
                }
                ctes.append(cte)
            } while acceptSymbol(",")
        }
        var query = Query(with: ctes, body: try parseSetExpression(precedence: 0))
        if acceptKeyword("order") {
            try expectKeyword("by")
            query.orderBy = try parseOrderItems()
        }
        while true {
            if acceptKeyword("limit") {
                if acceptKeyword("all") { continue }
                query.limit = try parseExpression()
            } else if acceptKeyword("offset") {
                query.offset = try parseExpression()
                _ = acceptKeyword("rows") || acceptKeyword("row")
            } else if acceptKeyword("fetch") {
                _ = acceptKeyword("first") || acceptKeyword("next")
                query.limit = isKeyword("row") || isKeyword("rows") ? .literal(.integer(1)) : try parseExpression()
                _ = acceptKeyword("rows") || acceptKeyword("row")
                if acceptKeyword("with") {
                    try expectKeyword("ties")
                    guard !query.orderBy.isEmpty else { throw RedError(.syntaxError, "WITH TIES cannot be specified without ORDER BY clause") }
                    query.withTies = true
                } else {
                    try expectKeyword("only")
                }
            } else if isKeyword("for"), ["update", "share", "no", "key"].contains(where: { isKeyword($0, ahead: 1) }) {
                query.locking.append(try parseLockingClause())
            } else {
                break
            }
        }
        return query
    }

    /// `(expression | DEFAULT, …)`: one row of VALUES (DEFAULT as the `__default` call).
    mutating func parseValuesRow() throws -> [Expr] {
        try expectSymbol("(")
        var row: [Expr] = []
        repeat {
            row.append(acceptKeyword("default") ? .function(FunctionCall(name: "__default", arguments: [], distinct: false, star: false)) : try parseExpression())
        } while acceptSymbol(",")
        try expectSymbol(")")
        return row
    }

    /// `name [(columns)] AS [[NOT] MATERIALIZED] (query | INSERT | UPDATE | DELETE …)`.
    mutating func parseWithItem(recursive: Bool) throws -> WithItem {
        let name = try parseIdentifier(what: "CTE name")
        var columns: [String] = []
        if isSymbol("(") { columns = try parseNameList() }
        try expectKeyword("as")
        _ = acceptKeyword("not")
        _ = acceptKeyword("materialized")
        try expectSymbol("(")
        if ["insert", "update", "delete"].contains(where: { isKeyword($0) }) {
            let statement = try parseStatement()
            try expectSymbol(")")
            return .modifying(name: name, columns: columns, statement)
        }
        let query = try parseQuery()
        try expectSymbol(")")
        return .query(CommonTableExpression(name: name, columns: columns, query: query, recursive: recursive))
    }

    /// A statement starting with WITH that a `Query` cannot hold: one whose main statement is
    /// INSERT, UPDATE or DELETE, or one with a data-modifying item. Nil (nothing consumed) for
    /// a plain `WITH … SELECT`, which `parseQuery` reads.
    mutating func parseWithClauseStatement() throws -> Statement? {
        let start = self
        try expectKeyword("with")
        let recursive = acceptKeyword("recursive")
        var items: [WithItem] = []
        repeat { items.append(try parseWithItem(recursive: recursive)) } while acceptSymbol(",")
        let modifying = items.contains { if case .modifying = $0 { return true }; return false }
        let main: Statement
        if ["insert", "update", "delete"].contains(where: { isKeyword($0) }) {
            main = try parseStatement()
        } else if modifying {
            main = .query(try parseQuery())
        } else {
            self = start
            return nil
        }
        return .withClause(items: items, main)
    }

    /// `FOR UPDATE | NO KEY UPDATE | SHARE | KEY SHARE [OF name, …] [NOWAIT | SKIP LOCKED]`.
    mutating func parseLockingClause() throws -> LockingClause {
        try expectKeyword("for")
        let strength: LockingClause.Strength
        if acceptKeyword("update") {
            strength = .update
        } else if acceptKeyword("share") {
            strength = .share
        } else if acceptKeyword("no") {
            try expectKeyword("key")
            try expectKeyword("update")
            strength = .noKeyUpdate
        } else {
            try expectKeyword("key")
            try expectKeyword("share")
            strength = .keyShare
        }
        var clause = LockingClause(strength: strength)
        if acceptKeyword("of") {
            repeat {
                var name = try parseIdentifier(what: "table name")
                if acceptSymbol(".") { name = try parseIdentifier(what: "table name") }  // public.t
                clause.tables.append(name)
            } while acceptSymbol(",")
        }
        if acceptKeyword("nowait") {
            clause.waitPolicy = .noWait
        } else if acceptKeyword("skip") {
            try expectKeyword("locked")
            clause.waitPolicy = .skipLocked
        }
        return clause
    }

    /// UNION/EXCEPT bind looser than INTERSECT, all left-associative.
    mutating func parseSetExpression(precedence: Int) throws -> QueryBody {
        var left = try parseSetPrimary()
        var links = 0
        defer { treeDepth -= links }
        while true {
            let op: SetOperator
            if isKeyword("union") { op = .union } else if isKeyword("except") { op = .except } else if isKeyword("intersect") { op = .intersect } else { break }
            let opPrecedence = op == .intersect ? 2 : 1
            guard opPrecedence > precedence else { break }
            advance()
            var all = false
            if acceptKeyword("all") { all = true } else { _ = acceptKeyword("distinct") }
            let right = try parseSetExpression(precedence: opPrecedence)
            left = .setOperation(op, all: all, left, right)
            try lengthenChain(&links)
        }
        return left
    }

    /// At `TABLE name` (a query), not `TABLE` of another statement.
    var isTableQuery: Bool {
        guard isKeyword("table"), case .identifier = peekToken(1).kind else { return false }
        return true
    }

    mutating func parseSetPrimary() throws -> QueryBody {
        if acceptSymbol("(") {
            let inner = try parseQuery()
            try expectSymbol(")")
            if inner.with.isEmpty, inner.orderBy.isEmpty, inner.limit == nil, inner.offset == nil { return inner.body }
            return .nested(inner)
        }
        if acceptKeyword("values") {
            var rows: [[Expr]] = []
            repeat { rows.append(try parseValuesRow()) } while acceptSymbol(",")
            return .values(rows)
        }
        if isTableQuery {  // `TABLE name`: SQL's short form of `SELECT * FROM name`
            advance()
            var select = Select()
            select.from = try parseFromList()
            select.items = [SelectItem(expr: .star(qualifier: nil))]
            return .select(select)
        }
        if isKeyword("from") {  // RedDB's FROM-first form: FROM t [WHERE …] [RETURN items]
            advance()
            var select = Select()
            select.from = try parseFromList()
            if acceptKeyword("where") { select.whereClause = try parseExpression() }
            if acceptKeyword("return") { select.items = try parseSelectItems() } else { select.items = [SelectItem(expr: .star(qualifier: nil))] }
            return .select(select)
        }
        try expectKeyword("select")
        var select = Select()
        if acceptKeyword("distinct") {
            if acceptKeyword("on") {
                try expectSymbol("(")
                repeat { select.distinctOn.append(try parseExpression()) } while acceptSymbol(",")
                try expectSymbol(")")
            } else {
                select.distinct = true
            }
        } else {
            _ = acceptKeyword("all")
        }
        if !isKeyword("from"), current.kind != .end, !isSymbol(")"), !isSymbol(";") {
            select.items = try parseSelectItems()
        }
        if acceptKeyword("into") {
            // PostgreSQL's `SELECT … INTO [[GLOBAL | LOCAL] TEMP | UNLOGGED] [TABLE] name`.
            if isKeyword("global") || isKeyword("local"), isKeyword("temp", ahead: 1) || isKeyword("temporary", ahead: 1) { advance() }
            if acceptKeyword("temporary") || acceptKeyword("temp") { select.intoTemporary = true } else { _ = acceptKeyword("unlogged") }
            _ = acceptKeyword("table")
            select.into = try parseRelationName(what: "table name")
        }
        if acceptKeyword("from") { select.from = try parseFromList() }
        if acceptKeyword("where") { select.whereClause = try parseExpression() }
        if acceptKeyword("group") {
            try expectKeyword("by")
            try keepingLiterals { parser in
                (select.groupBy, select.groupingSets) = try parser.parseGroupBy()
            }
        }
        if acceptKeyword("having") { select.having = try parseExpression() }
        if acceptKeyword("window") {
            repeat {
                let name = try parseIdentifier(what: "window name")
                try expectKeyword("as")
                select.windows[name] = try parseWindowSpec()
            } while acceptSymbol(",")
        }
        return .select(select)
    }

    mutating func parseSelectItems() throws -> [SelectItem] {
        var items: [SelectItem] = []
        repeat {
            if acceptSymbol("*") {
                items.append(SelectItem(expr: .star(qualifier: nil)))
                continue
            }
            if case .identifier(let q, _) = current.kind, isSymbol(".", ahead: 1), isSymbol("*", ahead: 2) {
                advance(); advance(); advance()
                items.append(SelectItem(expr: .star(qualifier: q)))
                continue
            }
            let expr = try parseExpression()
            var alias: String?
            if acceptKeyword("as") {
                alias = try parseAnyName()
            } else if case .identifier(let s, let quoted) = current.kind, quoted || !Self.reserved.contains(s) {
                try refuseTrailingJunk()
                alias = s
                advance()
            }
            items.append(SelectItem(expr: expr, alias: alias))
        } while acceptSymbol(",")
        return items
    }

    mutating func parseOrderItems() throws -> [OrderItem] {
        var items: [OrderItem] = []
        repeat {
            let expr = try keepingLiterals { try $0.parseExpression() }
            var descending = false
            if acceptKeyword("desc") { descending = true } else { _ = acceptKeyword("asc") }
            var nullsFirst: Bool?
            if acceptKeyword("nulls") {
                if acceptKeyword("first") { nullsFirst = true } else { try expectKeyword("last"); nullsFirst = false }
            }
            items.append(OrderItem(expr: expr, descending: descending, nullsFirst: nullsFirst))
        } while acceptSymbol(",")
        return items
    }

    mutating func parseFromList() throws -> TableRef {
        var ref = try parseJoinedTable()
        var links = 0
        defer { treeDepth -= links }
        while acceptSymbol(",") {
            ref = .join(ref, try parseJoinedTable(), .cross, on: nil)
            try lengthenChain(&links)
        }
        return ref
    }

    mutating func parseJoinedTable() throws -> TableRef {
        var left = try parseTablePrimary()
        var links = 0
        defer { treeDepth -= links }
        while true {
            try lengthenChain(&links)  // counted before the join is parsed: every way round the loop adds one
            var kind: JoinKind
            if acceptKeyword("cross") { try expectKeyword("join"); kind = .cross }
            else if acceptKeyword("join") { kind = .inner }
            else if acceptKeyword("inner") { try expectKeyword("join"); kind = .inner }
            else if acceptKeyword("left") { _ = acceptKeyword("outer"); try expectKeyword("join"); kind = .left }
            else if acceptKeyword("right") { _ = acceptKeyword("outer"); try expectKeyword("join"); kind = .right }
            else if acceptKeyword("full") { _ = acceptKeyword("outer"); try expectKeyword("join"); kind = .full }
            else if acceptKeyword("natural") {
                // NATURAL [INNER|LEFT|RIGHT] JOIN = USING every column name both sides share.
                var naturalKind = JoinKind.inner
                if acceptKeyword("left") { naturalKind = .left } else if acceptKeyword("right") { naturalKind = .right }
                else if acceptKeyword("full") { naturalKind = .full } else { _ = acceptKeyword("inner") }
                _ = acceptKeyword("outer")
                try expectKeyword("join")
                left = .joinUsing(left, try parseTablePrimary(), naturalKind, columns: [])
                continue
            }
            else { break }
            let right = try parseTablePrimary()
            var condition: Expr?
            if kind != .cross {
                if acceptKeyword("using") {
                    left = .joinUsing(left, right, kind, columns: try parseNameList())
                    continue
                }
                try expectKeyword("on")
                condition = try parseExpression()
            }
            left = .join(left, right, kind, on: condition)
        }
        return left
    }

    mutating func parseOptionalAlias() throws -> String? {
        if acceptKeyword("as") { return try parseIdentifier(what: "alias") }
        if case .identifier(let s, let quoted) = current.kind, quoted || (!Self.reserved.contains(s) && s != "return" && s != "limit") {
            try refuseTrailingJunk()
            advance()
            return s
        }
        return nil
    }

    mutating func parseTablePrimary() throws -> TableRef {
        // `LATERAL (subquery)` may read the FROM items before it; function calls may without the
        // keyword, as in PostgreSQL (`Planner.lateralLeaf`).
        if isKeyword("lateral"), isSymbol("(", ahead: 1) || isSymbol("(", ahead: 2) {
            advance()
            let inner = try parseTablePrimary()
            if case .subquery = inner { return .lateral(inner) }
            return inner
        }
        if isSymbol("("), (isKeyword("vector", ahead: 1) && isKeyword("search", ahead: 2)) || (isKeyword("search", ahead: 1) && isKeyword("similar", ahead: 2)) {
            advance()
            guard case .vectorSearch(let search) = isKeyword("vector") ? try parseVectorSearch() : try parseSearchSimilar() else {
                throw unexpected(expected: "VECTOR SEARCH")
            }
            try expectSymbol(")")
            return .vectorSearch(search, alias: try parseOptionalAlias())
        }
        if isSymbol("("), (isKeyword("search", ahead: 1) && (isKeyword("text", ahead: 2) || isKeyword("hybrid", ahead: 2)
                                                       || isKeyword("context", ahead: 2) || isKeyword("multimodal", ahead: 2))) || isKeyword("graph", ahead: 1) {
            advance()
            let command = isKeyword("graph") ? try parseGraphCommand() : try parseSearchSimilar()
            try expectSymbol(")")
            return .command(command, alias: try parseOptionalAlias())
        }
        if acceptSymbol("(") {
            if isKeyword("select") || isKeyword("with") || isKeyword("values") || isSymbol("(") || isTableQuery {
                let query = try parseQuery()
                try expectSymbol(")")
                guard let alias = try parseOptionalAlias() else { throw error("subquery in FROM must have an alias") }
                let columns = isSymbol("(") ? try parseNameList() : []
                return .subquery(query, alias: alias, columns: columns)
            }
            let inner = try parseFromList()
            try expectSymbol(")")
            // `(a JOIN b) AS j [(names)]`: the join's columns under one name, as PostgreSQL has it.
            guard let alias = try parseOptionalAlias() else { return inner }
            let columns = isSymbol("(") ? try parseNameList() : []
            var select = Select()
            select.items = [SelectItem(expr: .star(qualifier: nil), alias: nil)]
            select.from = inner
            return .subquery(Query(body: .select(select)), alias: alias, columns: columns)
        }
        if case .identifier(let s, false) = current.kind, ["any", "_any", "all", "universal", "entity", "mixed"].contains(s),
           !isSymbol(".", ahead: 1) {
            advance()
            return .any(alias: try parseOptionalAlias())
        }
        if acceptSymbol("*") { return .any(alias: try parseOptionalAlias()) }
        var name = try parseIdentifier(what: "table name")
        if ["pg_catalog", "public"].contains(name), isSymbol("."), case .identifier = peekToken(1).kind, isSymbol("(", ahead: 2) {
            // `pg_catalog.f(…)`: the function itself, as in expressions.
            advance()
            name = try parseIdentifier(what: "function name")
        }
        if isSymbol("("), case .function(var call) = try parseFunctionCall(name: name) {
            if isKeyword("with"), isKeyword("ordinality", ahead: 1) {
                // `f(…) WITH ORDINALITY`: the planner appends each row's number (`OrdinalityNode`).
                advance(); advance()
                call = FunctionCall(name: Self.withOrdinality, arguments: [.function(call)], distinct: false, star: false)
            }
            if Self.recordFunctions.contains(call.name) {
                return try parseRecordFunction(call, alias: isKeyword("as") && isSymbol("(", ahead: 1) ? nil : try parseOptionalAlias())
            }
            let alias = try parseOptionalAlias()
            let columns = alias != nil && isSymbol("(") ? try parseNameList() : []
            return .function(call, alias: alias, columns: columns)
        }
        if acceptSymbol(".") {  // schema-qualified: public.t, pg_catalog.pg_class
            let inner = try parseIdentifier(what: "table name")
            let alias = isKeyword("tablesample") ? nil : try parseOptionalAlias()
            return try parseTableSample(.qualifiedTable(schema: name, name: inner, alias: alias), shown: alias ?? inner)
        }
        let alias = isKeyword("tablesample") ? nil : try parseOptionalAlias()
        return try parseTableSample(.table(name, alias: alias), shown: alias ?? name)
    }

    /// `TABLESAMPLE method (percent) [REPEATABLE (seed)]` after a table (`TableSample`), or the
    /// table itself when none follows.
    mutating func parseTableSample(_ table: TableRef, shown name: String) throws -> TableRef {
        guard acceptKeyword("tablesample") else { return table }
        let method = try parseIdentifier(what: "a sampling method")
        guard TableSample.methods.contains(method) else {
            throw RedError(.undefinedObject, "tablesample method \(method) does not exist (BERNOULLI and SYSTEM do)")
        }
        try expectSymbol("(")
        let percent = try parseExpression()
        try expectSymbol(")")
        var seed = Expr.literal(.null), repeatable = false
        if acceptKeyword("repeatable") {
            try expectSymbol("(")
            seed = try parseExpression()
            try expectSymbol(")")
            repeatable = true
        }
        var select = Select()
        select.items = [SelectItem(expr: .star(qualifier: nil), alias: nil)]
        select.from = table
        select.whereClause = .function(FunctionCall(name: TableSample.functionName, arguments: [.literal(.text(method)), percent, seed, .literal(.boolean(repeatable)), .column([name])],
                                                    distinct: false, star: false))
        return .subquery(Query(body: .select(select)), alias: name, columns: [])
    }
}
