import RedCore

/// `unnest(a [, b …])` in FROM: one row per element, PostgreSQL's table function. With several
/// arrays, row i holds each one's i-th element (NULL where an array is shorter); a NULL array
/// counts as empty. Nested (multi-dimensional) arrays are read in storage order, every element
/// of every dimension, as PostgreSQL does. Arguments are evaluated once per execution; one
/// that reads an earlier FROM item (`FROM t, unnest(t.tags)`) makes this a lateral item,
/// opened again for each of that item's rows (`LateralJoinNode`). Element types are only
/// known at run time, so the columns are untyped.
final class UnnestNode: PlanNode, @unchecked Sendable {
    let arguments: [BoundExpr]
    let columns: [ScopeColumn]

    init(arguments: [BoundExpr], columns: [ScopeColumn]) {
        self.arguments = arguments
        self.columns = columns
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let eval = context.evaluation(outerRows)
        let lists = try arguments.map { argument -> [JSONValue] in
            let value = try eval.evaluate(argument, [])
            return value.isNull ? [] : ArrayFunctions.flattened(try ArrayFunctions.items(value, "unnest"))
        }
        let count = lists.map(\.count).max() ?? 0
        var index = 0
        return ClosureIterator {
            guard index < count else { return nil }
            if index & 4095 == 4095 { try context.checkCancelled() }
            defer { index += 1 }
            return lists.map { index < $0.count ? Value(json: $0[index]) : .null }
        }
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "Function Scan on unnest")] }
}
