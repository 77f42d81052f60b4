import RedCore

/// The rows a recursive term reads: the previous iteration's new rows.
final class WorkingTableNode: PlanNode, @unchecked Sendable {
    let columns: [ScopeColumn]
    var rows: [[Value]] = []
    init(columns: [ScopeColumn]) { self.columns = columns }
    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator { ArrayIterator(rows) }
    func explain(_ depth: Int) -> [String] { [line(depth, "WorkTable Scan")] }
}

/// `WITH RECURSIVE name AS (anchor UNION [ALL] step)`, evaluated as PostgreSQL does:
/// the anchor's rows seed the working table; the step runs over the working table
/// and its new rows (with UNION: rows not produced before) become the next working
/// table, until a step produces nothing. Bounded by the operator row limit and
/// `maxIterations`, so a runaway recursion fails with 54000 instead of running forever, and
/// cancellable (statement timeout, Cancel) every 4,096 rows and every 1,024 iterations.
final class RecursiveUnionNode: PlanNode, @unchecked Sendable {
    let anchor: PlanNode
    let step: PlanNode
    let working: WorkingTableNode
    let all: Bool
    var columns: [ScopeColumn] { anchor.columns }

    static let maxIterations = 1_000_000

    init(anchor: PlanNode, step: PlanNode, working: WorkingTableNode, all: Bool) {
        self.anchor = anchor; self.step = step; self.working = working; self.all = all
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        var result: [[Value]] = []
        var seen = Set<[Value]>()
        func accept(_ rows: RowIterator) throws -> [[Value]] {
            var fresh: [[Value]] = []
            while let row = try rows.next() {
                if all || seen.insert(row).inserted {
                    fresh.append(row)
                    result.append(row)
                    try context.checkMaterialized(result.count, "WITH RECURSIVE")
                    if result.count & 4095 == 0 { try context.checkCancelled() }
                }
            }
            return fresh
        }
        var frontier = try accept(try anchor.open(context, outerRows: outerRows))
        var iterations = 0
        while !frontier.isEmpty {
            iterations += 1
            guard iterations <= Self.maxIterations else {
                throw RedError(.limitExceeded, "WITH RECURSIVE did not finish within \(Self.maxIterations) iterations")
            }
            if iterations & 1023 == 0 { try context.checkCancelled() }  // iterations of a few rows each
            working.rows = frontier
            frontier = try accept(try step.open(context, outerRows: outerRows))
        }
        working.rows = []
        return ArrayIterator(result)
    }

    func explain(_ depth: Int) -> [String] {
        [line(depth, "Recursive Union\(all ? " All" : "")")] + anchor.explain(depth + 1) + step.explain(depth + 1)
    }
}
