import RedCore

/// A join whose right input reads the left row: `FROM t, unnest(t.tags)`, `FROM t, LATERAL
/// (SELECT … WHERE x = t.id)`, `t LEFT JOIN LATERAL (…) ON true`.
///
/// The right input was planned with the left input's columns as its nearest outer scope, so
/// it is opened afresh for every left row with that row appended to the outer rows (its
/// `.outer(depth: 1, …)` references). `leftSkip` drops the leading columns of the left row
/// that the right input's scope did not include: in `a, (b, f(b.x))` flattened into one
/// inner join, the left row is `a ++ b` while `f` was bound against `b` alone.
/// Inner and cross joins emit every combined row that passes `condition`; a LEFT join also
/// emits a left row that matched nothing, padded with NULLs.
final class LateralJoinNode: PlanNode, @unchecked Sendable {
    let left: PlanNode, right: PlanNode
    let kind: JoinKind
    let condition: BoundExpr?
    let leftSkip: Int
    let columns: [ScopeColumn]

    init(left: PlanNode, right: PlanNode, kind: JoinKind, condition: BoundExpr?, leftSkip: Int) {
        self.left = left; self.right = right; self.kind = kind; self.condition = condition; self.leftSkip = leftSkip
        self.columns = left.columns + right.columns
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let eval = context.evaluation(outerRows)
        let leftSource = try left.open(context, outerRows: outerRows)
        let right = self.right, kind = self.kind, condition = self.condition, leftSkip = self.leftSkip
        let rightWidth = right.columns.count
        var current: [Value]?
        var rightSource: RowIterator?
        var currentMatched = false
        return ClosureIterator {
            while true {
                if current == nil {
                    guard let row = try leftSource.next() else { return nil }
                    // Counted, not checked at each row: the first check declines a statement run
                    // on an event loop.
                    try context.countScanned()
                    current = row
                    currentMatched = false
                    rightSource = try right.open(context, outerRows: outerRows + [Array(row.dropFirst(leftSkip))])
                }
                let row = current!
                while let inner = try rightSource!.next() {
                    let combined = row + inner
                    if let condition, try Evaluation.truth(try eval.evaluate(condition, combined)) != true { continue }
                    currentMatched = true
                    return combined
                }
                current = nil
                if !currentMatched, kind == .left { return row + [Value](repeating: .null, count: rightWidth) }
            }
        }
    }

    func explain(_ depth: Int) -> [String] {
        [line(depth, "Nested Loop\(kind == .left ? " Left Join" : "") (lateral)")] + left.explain(depth + 1) + right.explain(depth + 1)
    }
}

/// A FROM item planned as a possible lateral one (`Planner.lateralLeaf`) that turned out not
/// to read the items before it: its references to enclosing queries count one level for the
/// left row it was planned under, so it is opened with an empty row in that place and can
/// join like any other input, opened once.
final class OuterRowPlaceholderNode: PlanNode, @unchecked Sendable {
    let inner: PlanNode
    var columns: [ScopeColumn] { inner.columns }

    init(_ inner: PlanNode) { self.inner = inner }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        try inner.open(context, outerRows: outerRows + [[]])
    }

    func explain(_ depth: Int) -> [String] { inner.explain(depth) }
}
