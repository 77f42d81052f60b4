import RedCore

/// Set-returning functions in a select list: `SELECT id, unnest(tags) FROM t`,
/// `SELECT generate_series(1, 3)`.
///
/// PostgreSQL runs such calls for each input row and emits one output row per value; several
/// calls in one select list advance together, the shorter ones padded with NULL, and a row
/// whose calls all return nothing emits nothing. That is exactly a lateral cross join with
/// the calls zipped side by side, so the planner rewrites the query into one: each call
/// becomes a hidden column of a `__project_set` item joined after the FROM clause
/// (`ZipNode`, `Planner.lateralLeaf`), and the select list reads those columns. A bare call
/// keeps PostgreSQL's output name (`unnest`, `generate_series`).
///
/// Not with aggregates or GROUP BY in the same select (PostgreSQL would run the calls after
/// grouping): that is 0A000, with the advice to call them in FROM. In WHERE and other clauses
/// they are refused by the binder, as in PostgreSQL.
enum SetReturningCalls {
    static let names: Set<String> = Set(["unnest", "generate_series", "regexp_split_to_table", "generate_subscripts", "regexp_matches"])
        .union(JSONFunctions.tableFunctions.keys)

    /// `select` with its select-list calls moved into FROM; nil when it has none.
    /// `isSurfaceFunction` tells which other names are a surface's set-returning functions
    /// (`SurfaceCatalog.tableFunction`).
    static func movedIntoFrom(_ select: Select, isSurfaceFunction: (String) -> Bool = { _ in false }) throws -> Select? {
        func isCall(_ call: FunctionCall) -> Bool { isSetReturning(call) || (call.over == nil && isSurfaceFunction(call.name)) }
        // Looked for without recursion first: a select item may be a chain thousands of links long.
        guard select.items.contains(where: { containsCall($0.expr, where: isCall) }) else { return nil }
        var calls: [FunctionCall] = []
        var items = select.items
        for i in items.indices {
            let original = items[i].expr
            items[i].expr = try replacing(original, &calls, isCall)
            if items[i].alias == nil, case .function(let call) = original, isCall(call) { items[i].alias = call.name }
        }
        guard !calls.isEmpty else { return nil }
        if !select.groupBy.isEmpty || select.having != nil || select.items.contains(where: { $0.expr.containsAggregate })
            || select.items.contains(where: { containsCall($0.expr, where: { $0.over != nil }) }) {
            // PostgreSQL groups and computes windows before it expands the calls.
            throw RedError(.featureNotSupported, "set-returning functions (\(calls[0].name)) in the select list of a query with aggregates, GROUP BY or window functions are not supported; call them in FROM")
        }
        let source = TableRef.function(FunctionCall(name: "__project_set", arguments: calls.map(Expr.function), distinct: false, star: false),
                                       alias: alias, columns: calls.indices.map(column))
        var moved = select
        moved.items = items
        moved.from = select.from.map { .join($0, source, .cross, on: nil) } ?? source
        return moved
    }

    static let alias = "__project_set"
    static func column(_ i: Int) -> String { "__call\(i)" }

    static func isSetReturning(_ call: FunctionCall) -> Bool { call.over == nil && names.contains(call.name) }

    /// `e` with each set-returning call replaced by a reference to its column, the calls
    /// appended to `calls` (subqueries keep theirs: they are planned on their own).
    static func replacing(_ e: Expr, _ calls: inout [FunctionCall], _ isCall: (FunctionCall) -> Bool) throws -> Expr {
        if case .function(let call) = e, isCall(call) {
            if call.arguments.contains(where: { containsCall($0, where: isCall) }) {
                throw RedError(.featureNotSupported, "set-returning function calls cannot be nested (\(call.name))")
            }
            calls.append(call)
            return .column([alias, column(calls.count - 1)])
        }
        guard containsCall(e, where: isCall) else { return e }
        return try e.mappingChildren { try replacing($0, &calls, isCall) }
    }

    /// Whether `e` holds a set-returning call (or one `predicate` picks) outside subqueries,
    /// walked with a work list rather than recursion.
    static func containsCall(_ e: Expr, where predicate: (FunctionCall) -> Bool = isSetReturning) -> Bool {
        var pending = [e]
        while let next = pending.popLast() {
            if case .function(let call) = next, predicate(call) { return true }
            _ = next.mappingChildren { child in
                pending.append(child)
                return child
            }
        }
        return false
    }
}

extension Expr {
    /// This expression with `transform` applied to each direct child expression (not inside
    /// subqueries, which are queries of their own, nor window specifications).
    func mappingChildren(_ transform: (Expr) throws -> Expr) rethrows -> Expr {
        switch self {
        case .literal, .column, .parameter, .star, .exists, .subquery: return self
        case .unary(let op, let e): return .unary(op, try transform(e))
        case .binary(let op, let a, let b): return .binary(op, try transform(a), try transform(b))
        case .isNull(let e, let n): return .isNull(try transform(e), negated: n)
        case .isDistinctFrom(let a, let b, let n): return .isDistinctFrom(try transform(a), try transform(b), negated: n)
        case .between(let a, let b, let c, let n): return .between(try transform(a), try transform(b), try transform(c), negated: n)
        case .inList(let e, let items, let n): return .inList(try transform(e), try items.map(transform), negated: n)
        case .inSubquery(let e, let q, let n): return .inSubquery(try transform(e), q, negated: n)
        case .quantified(let op, let e, let all, let source):
            if case .subquery = source { return .quantified(op, try transform(e), all: all, source) }
            return .quantified(op, try transform(e), all: all, try transform(source))
        case .like(let a, let b, let ci, let n): return .like(try transform(a), try transform(b), caseInsensitive: ci, negated: n)
        case .caseWhen(let operand, let branches, let otherwise):
            return .caseWhen(operand: try operand.map(transform),
                             branches: try branches.map { WhenBranch(condition: try transform($0.condition), result: try transform($0.result)) },
                             otherwise: try otherwise.map(transform))
        case .cast(let e, let type): return .cast(try transform(e), type)
        case .function(var call):
            call.arguments = try call.arguments.map(transform)
            call.filter = try call.filter.map(transform)
            return .function(call)
        case .array(let items): return .array(try items.map(transform))
        }
    }
}
