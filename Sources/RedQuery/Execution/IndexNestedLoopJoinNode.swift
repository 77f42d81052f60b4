import RedCore

/// An inner join that looks each outer row's key up in an index of the inner table,
/// instead of building a hash table over the whole inner table.
///
/// The planner picks it when the outer side is already narrowed by an index (a key, an
/// `IN` list or a range) and the inner table has an index whose first column is the join
/// key: a handful of index probes then replace a scan of the inner table, which is what
/// makes `… JOIN orders o ON o.user_id = u.id WHERE u.id BETWEEN $1 AND $2` cost a few
/// lookups rather than a pass over every order. The inner scan keeps its own filter (the
/// predicates pushed to it); `residual` rechecks every join equality on the joined row, so
/// the results are exactly the hash join's, in the same order (outer order, then the
/// inner rows of one key in row-id order).
final class IndexNestedLoopJoinNode: PlanNode, @unchecked Sendable {
    let left: PlanNode
    let right: TableScanNode
    /// Index of `right`'s table probed with each outer key.
    let index: Int
    /// The outer side's key, bound against the outer row.
    let leftKey: BoundExpr
    /// Every join equality, bound against the joined row.
    let residual: BoundExpr?
    let columns: [ScopeColumn]

    init(left: PlanNode, right: TableScanNode, index: Int, leftKey: BoundExpr, residual: BoundExpr?) {
        self.left = left; self.right = right; self.index = index; self.leftKey = leftKey; self.residual = residual
        self.columns = left.columns + right.columns
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let eval = context.evaluation(outerRows)
        let leftSource = try left.open(context, outerRows: outerRows)
        let right = self.right, index = self.index, leftKey = self.leftKey, residual = self.residual
        var current: [Value]?
        var inner: TableRowIterator?
        return ClosureIterator {
            while true {
                if let row = current, let matches = inner {
                    if let match = try matches.next() {
                        var combined = row
                        combined.append(contentsOf: match)
                        if let residual, try Evaluation.truth(try eval.evaluate(residual, combined)) != true { continue }
                        return combined
                    }
                    current = nil
                    inner = nil
                }
                guard let row = try leftSource.next() else { return nil }
                let key = try eval.evaluate(leftKey, row)
                if key.isNull { continue }
                current = row
                inner = try right.openRows(context, outerRows: outerRows, probe: (index, key))
            }
        }
    }

    func explain(_ depth: Int) -> [String] {
        let name = right.handle.schema.indexes[index].name
        let filtered = right.filter == nil ? "" : " (filtered)"
        return [line(depth, "Nested Loop (index lookup)")] + left.explain(depth + 1)
            + [line(depth + 1, "Index Scan using \(name) on \(right.label) (= outer key)\(filtered)")]
    }
}

extension Planner {
    /// An index nested-loop join of `left` with the table scan `right`, when it beats a hash
    /// join for sure: `left` is narrowed by an index, `right` is not, and an equality key of
    /// `right` is a bare column leading one of its table's indexes (a unique one preferred).
    /// `leftKeys` are bound to `left`'s row, `rightKeys` to `right`'s.
    func indexNestedLoopJoin(left: PlanNode, right: PlanNode, leftKeys: [BoundExpr], rightKeys: [BoundExpr]) -> PlanNode? {
        guard let scan = right as? TableScanNode, case .fullScan = scan.access, Self.isIndexNarrowed(left) else { return nil }
        let schema = scan.handle.schema
        var best: (key: Int, index: Int, unique: Bool)?
        for (k, rightKey) in rightKeys.enumerated() {
            guard case .column(let position) = rightKey else { continue }
            for i in schema.indexes.indices where scan.firstColumnPosition(ofIndex: i) == position {
                let unique = schema.indexes[i].unique && schema.indexes[i].columnIDs.count == 1
                if best == nil || (unique && !best!.unique) { best = (k, i, unique) }
            }
        }
        guard let best else { return nil }
        let leftWidth = left.columns.count
        let equalities = zip(leftKeys, rightKeys).map { BoundExpr.comparison("=", $0, $1.rebased(by: -leftWidth)) }
        return IndexNestedLoopJoinNode(left: left, right: scan, index: best.index, leftKey: leftKeys[best.key],
                                       residual: Self.conjunction(equalities))
    }

    /// Whether `plan` reads only what an index lookup or range gave it (no full scan).
    static func isIndexNarrowed(_ plan: PlanNode) -> Bool {
        switch plan {
        case let scan as TableScanNode:
            switch scan.access {
            case .indexEquality, .indexRange: return true
            case .fullScan, .indexOrder, .vectorOrder: return false
            }
        case let filter as FilterNode: return isIndexNarrowed(filter.input)
        case let join as IndexNestedLoopJoinNode: return isIndexNarrowed(join.left)
        default: return false
        }
    }
}
