import RedCore

/// PostgreSQL 15's MERGE (run by `MergeExecution`).
extension Parser {
    /// `MERGE INTO target [[AS] alias] USING source ON condition WHEN … [WHEN …]`.
    mutating func parseMerge() throws -> Statement {
        try expectKeyword("merge")
        try expectKeyword("into")
        let target = try parseRelationName(what: "table name")
        var alias: String?
        if acceptKeyword("as") {
            alias = try parseIdentifier(what: "alias")
        } else if !isKeyword("using") {
            alias = try parseIdentifier(what: "alias")
        }
        try expectKeyword("using")
        let source = try parseTablePrimary()
        let sourceName: String
        switch source {
        case .table(let name, let sourceAlias): sourceName = sourceAlias ?? name
        case .subquery(_, let sourceAlias, _): sourceName = sourceAlias
        default: throw error("MERGE's USING takes a table or a subquery with an alias")
        }
        try expectKeyword("on")
        let condition = try parseExpression()
        var clauses: [MergeClause] = []
        while acceptKeyword("when") {
            let matched = !acceptKeyword("not")
            try expectKeyword("matched")
            let clauseCondition = acceptKeyword("and") ? try parseExpression() : nil
            try expectKeyword("then")
            let action: MergeClause.Action
            if acceptKeyword("do") {
                try expectKeyword("nothing")
                action = .nothing
            } else if matched, acceptKeyword("update") {
                try expectKeyword("set")
                action = .update(try parseAssignments())
            } else if matched, acceptKeyword("delete") {
                action = .delete
            } else if !matched, acceptKeyword("insert") {
                let columns = isSymbol("(") ? try parseNameList() : nil
                if acceptKeyword("default") {
                    try expectKeyword("values")
                    action = .insert(columns: columns, values: nil)
                } else {
                    try expectKeyword("values")
                    action = .insert(columns: columns, values: try parseValuesRow())
                }
            } else {
                throw unexpected(expected: matched ? "UPDATE, DELETE or DO NOTHING" : "INSERT or DO NOTHING")
            }
            clauses.append(MergeClause(matched: matched, condition: clauseCondition, action: action))
        }
        guard !clauses.isEmpty else { throw unexpected(expected: "WHEN") }
        return .merge(MergeStatement(target: target, alias: alias, source: source, sourceName: sourceName, condition: condition, clauses: clauses))
    }
}
