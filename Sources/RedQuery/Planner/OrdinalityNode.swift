import RedCore

/// `f(…) WITH ORDINALITY`: the function's rows, each with its number (from 1) appended.
final class OrdinalityNode: PlanNode, @unchecked Sendable {
    let input: PlanNode
    let columns: [ScopeColumn]

    init(_ input: PlanNode, column: ScopeColumn) {
        self.input = input
        self.columns = input.columns + [column]
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let source = try input.open(context, outerRows: outerRows)
        var number: Int64 = 0
        return ClosureIterator {
            guard var row = try source.next() else { return nil }
            number += 1
            row.append(.integer(number))
            return row
        }
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "Ordinality")] + input.explain(depth + 1) }
}
