import RedCore

/// Several row sources side by side: row i holds each source's i-th row, NULLs for a source
/// that has run out, until all have (`SetReturningCalls`: PostgreSQL's lockstep evaluation of
/// several set-returning calls in one select list).
final class ZipNode: PlanNode, @unchecked Sendable {
    let sources: [PlanNode]
    let columns: [ScopeColumn]

    init(_ sources: [PlanNode], columns: [ScopeColumn]) {
        self.sources = sources
        self.columns = columns
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let iterators = try sources.map { try $0.open(context, outerRows: outerRows) }
        let widths = sources.map(\.columns.count)
        var finished = [Bool](repeating: false, count: sources.count)
        return ClosureIterator {
            var row: [Value] = []
            var any = false
            for i in iterators.indices {
                if !finished[i], let next = try iterators[i].next() {
                    row += next
                    any = true
                } else {
                    finished[i] = true
                    row += [Value](repeating: .null, count: widths[i])
                }
            }
            return any ? row : nil
        }
    }

    func explain(_ depth: Int) -> [String] {
        [line(depth, "ProjectSet")] + sources.flatMap { $0.explain(depth + 1) }
    }
}
