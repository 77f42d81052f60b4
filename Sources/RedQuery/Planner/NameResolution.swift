import RedCore

/// Name resolution: what a name in an expression refers to — a column of this query's scope
/// (a FULL JOIN … USING column being COALESCE of its copies), a JSON path in one, a document
/// field, a whole row, or a column of an enclosing query (a correlated reference).
extension Planner {
    /// Resolves a dotted name: qualified column, column, JSON path in a column, or a document field;
    /// then the enclosing scopes (outer references).
    func resolve(_ path: [String], _ scope: Scope) throws -> BoundExpr {
        var depth = 0
        var current: Scope? = scope
        while let s = current {
            if let local = try resolveLocal(path, s) {
                if path.count == 1, case .column(let i) = local, !s.columns[i].coalescedWith.isEmpty {
                    return try mergedColumn(i, in: s, depth: depth, from: scope)
                }
                if depth == 0 {
                    local.referencedColumns(into: &s.used)
                    return local
                }
                guard case .column(let i) = local else {
                    throw RedError(.featureNotSupported, "a correlated reference to a document field (\(path.joined(separator: "."))) is not supported yet")
                }
                return reference(i, in: s, depth: depth, from: scope)
            }
            if s.barrier { break }
            current = s.parent
            depth += 1
        }
        if path.count == 1, let row = try wholeRow(path[0], scope) { return row }
        throw RedError(.undefinedColumn, "column \"\(path.joined(separator: "."))\" does not exist")
    }

    /// Position `i` of `s`, the scope `depth` levels out from `scope`, where a name was found.
    func reference(_ i: Int, in s: Scope, depth: Int, from scope: Scope) -> BoundExpr {
        s.used.insert(i)
        if depth == 0 { return .column(i) }
        // Every scope between the reference and `s` encloses a subquery that depends on `s`'s row.
        var walker = scope.parent
        for _ in 1..<depth {
            walker?.passedThrough = true
            walker = walker?.parent
        }
        s.captured.insert(i)
        return .outer(depth: depth, index: i)
    }

    /// A FULL JOIN … USING column by its bare name (or in `*`): the copy of whichever side has
    /// the row (`ScopeColumn.coalescedWith`).
    func mergedColumn(_ i: Int, in s: Scope, depth: Int = 0, from scope: Scope) throws -> BoundExpr {
        let copies = ([i] + s.columns[i].coalescedWith).map { reference($0, in: s, depth: depth, from: scope) }
        return .function(try ScalarFunction.lookup("coalesce", argumentCount: copies.count), copies)
    }

    /// `t` alone where no column is called `t` but a FROM item is: PostgreSQL's whole-row
    /// reference, here its row as a JSON object of its visible columns — what
    /// `row_to_json(t)`, `to_jsonb(t)` and `json_agg(t)` make of it. (PostgreSQL would print
    /// `SELECT t FROM t` as a record, `(1,x)`; here it is that JSON.)
    func wholeRow(_ name: String, _ scope: Scope) throws -> BoundExpr? {
        var current: Scope? = scope
        while let s = current {
            let columns = s.columns.filter { $0.qualifier == name && !$0.hidden && !$0.mergedAway }
            if !columns.isEmpty {
                var arguments: [BoundExpr] = []
                for column in columns {
                    arguments.append(.constant(.text(column.name)))
                    arguments.append(try resolve([name, column.name], scope))
                }
                return .function(try ScalarFunction.lookup("json_build_object", argumentCount: arguments.count), arguments)
            }
            if s.barrier { break }
            current = s.parent
        }
        return nil
    }

    func resolveLocal(_ path: [String], _ scope: Scope) throws -> BoundExpr? {
        func matches(_ name: String, qualifier: String?) -> [Int] {
            scope.columns.indices.filter { i in
                scope.columns[i].name == name && (qualifier == nil || scope.columns[i].qualifier == qualifier)
            }
        }
        func unique(_ candidates: [Int], _ shown: String) throws -> Int? {
            if candidates.count > 1 {
                let visible = candidates.filter { scope.columns[$0].inStar }
                if visible.count == 1 { return visible[0] }
                throw RedError(.ambiguousColumn, "column reference \"\(shown)\" is ambiguous")
            }
            return candidates.first
        }
        if path.count >= 2, let i = try unique(matches(path[1], qualifier: path[0]), path[0] + "." + path[1]) {
            return path.count == 2 ? .column(i) : .documentField(column: i, path: Array(path.dropFirst(2)))
        }
        // `schema.table.column` (`pg_catalog.pg_class.relname`): schemas are not kept, the table decides.
        if path.count == 3, let i = try unique(matches(path[2], qualifier: path[1]), path.joined(separator: ".")) {
            return .column(i)
        }
        if let i = try unique(matches(path[0], qualifier: nil), path[0]) {
            return path.count == 1 ? .column(i) : .documentField(column: i, path: Array(path.dropFirst()))
        }
        let bodies = scope.columns.indices.filter { scope.columns[$0].isDocumentBody }
        if path.count >= 2, let body = bodies.first(where: { scope.columns[$0].qualifier == path[0] }) {
            return .documentField(column: body, path: Array(path.dropFirst()))
        }
        if bodies.count == 1 { return .documentField(column: bodies[0], path: path) }
        if bodies.count > 1 { throw RedError(.ambiguousColumn, "field \"\(path.joined(separator: "."))\" could belong to several documents; qualify it") }
        return nil
    }
}
