import RedCore

/// A correlated `EXISTS (SELECT … FROM t WHERE t.a = outer.x AND …)` answered from a hash set
/// of the `t.a` values that pass the rest of the WHERE, collected in one scan of `t` the first
/// time the statement asks, as PostgreSQL's hashed semi-join does. Evaluated row by row, each
/// enclosing row scanned `t` again: `EXISTS`/`NOT EXISTS` over 50,000 rows on each side took
/// 48–55 s (PostgreSQL 20–26 ms).
///
/// Taken only when the subquery has that shape exactly: a projection over a scan of one
/// collection (whole, or through an index on constants), whose filter holds one `inner =
/// outer column` conjunct of the enclosing row and otherwise reads no enclosing row and runs
/// no subquery. The set holds values of one
/// hashable kind (`SubqueryMembership.hashedKinds`); an enclosing value of another kind, or
/// inner values of mixed kinds, are left to the scan per row, with its conversions and errors.
/// (An index on `t.a` serves the per-row path already: the scan then reads no other rows.)
struct CorrelatedExistence {
    /// The enclosing row's column the subquery compares with.
    let outerColumn: Int
    /// The inner side's values among the rows passing the rest of the filter (NULLs left out).
    let keys: SubqueryMembership

    /// The pieces of a subquery of that shape: its scan, the inner side of the equality, the
    /// enclosing column, and the rest of the filter.
    static func shape(of subquery: SubqueryPlan) -> (scan: TableScanNode, inner: BoundExpr, outerColumn: Int, rest: [BoundExpr])? {
        guard subquery.outerMap == nil, !subquery.readsFurtherOut, subquery.outerColumns.count == 1,
              let project = subquery.plan as? ProjectNode, let scan = project.input as? TableScanNode,
              !readsEnclosingRow(scan.access), let filter = scan.filter, !filter.containsSubquery else { return nil }
        var found: (inner: BoundExpr, outerColumn: Int)?
        var rest: [BoundExpr] = []
        for conjunct in filter.conjuncts {
            if found == nil, case .comparison("=", let a, let b) = conjunct {
                if case .outer(1, let i) = b, !a.readsEnclosingRow { found = (a, i); continue }
                if case .outer(1, let i) = a, !b.readsEnclosingRow { found = (b, i); continue }
            }
            guard !conjunct.readsEnclosingRow else { return nil }
            rest.append(conjunct)
        }
        guard let found, subquery.outerColumns == [found.outerColumn] else { return nil }
        return (scan, found.inner, found.outerColumn, rest)
    }

    /// Whether an access path depends on the enclosing row: an index probed with its value is
    /// the per-row path's own fast way (and the set could not be built without a row).
    static func readsEnclosingRow(_ access: AccessPath) -> Bool {
        switch access {
        case .fullScan, .indexOrder: return false
        case .indexEquality(_, let values): return values.contains { $0.readsEnclosingRow }
        case .indexRange(_, let lower, let upper): return (lower?.0.readsEnclosingRow ?? false) || (upper?.0.readsEnclosingRow ?? false)
        case .vectorOrder: return true
        }
    }

    /// Whether the subquery finds a row for the enclosing `row`; nil when the scan must tell.
    func exists(for row: [Value]) -> Bool? {
        guard outerColumn < row.count else { return nil }
        // IN's answer, with NULL (no `=` was true) read as no row found.
        return keys.membership(row[outerColumn], negated: false).map { $0 == .boolean(true) }
    }
}

extension Evaluation {
    /// `EXISTS (subquery)` for `row` from the subquery's `CorrelatedExistence`, built the first
    /// time; nil when the subquery does not have its shape or the value needs the scan.
    func correlatedExistence(_ subquery: SubqueryPlan, _ row: [Value]) throws -> Bool? {
        if !subquery.existenceBuilt {
            subquery.existenceBuilt = true
            subquery.existence = try buildExistence(subquery)
        }
        return subquery.existence?.exists(for: row)
    }

    private func buildExistence(_ subquery: SubqueryPlan) throws -> CorrelatedExistence? {
        guard let (scan, inner, outerColumn, rest) = CorrelatedExistence.shape(of: subquery) else { return nil }
        let candidates = TableScanNode(handle: scan.handle, qualifier: scan.handle.name)
        candidates.filter = rest.isEmpty ? nil : Planner.conjunction(rest)
        candidates.access = scan.access
        candidates.neededColumns = scan.neededColumns
        let iterator = try candidates.open(context, outerRows: outerRows)
        var keys = SubqueryMembership()
        while let candidate = try iterator.next() {
            let v = try evaluate(inner, candidate)
            if v.isNull { continue }
            guard keys.insert(v) else { return nil }
            try context.checkMaterialized(keys.values.count, "the EXISTS subquery's keys")
        }
        return CorrelatedExistence(outerColumn: outerColumn, keys: keys)
    }
}

extension BoundExpr {
    /// Whether evaluating this reads an enclosing row (`.outer`) or runs a subquery (which may).
    var readsEnclosingRow: Bool {
        switch self {
        case .outer, .inSubquery, .exists, .scalarSubquery, .quantified(_, _, _, .subquery): return true
        case .constant, .column, .documentField, .parameter: return false
        case .quantified(_, let e, _, .array(let array)): return e.readsEnclosingRow || array.readsEnclosingRow
        case .negate(let e), .not(let e), .isNull(let e, _), .cast(let e, _): return e.readsEnclosingRow
        case .and(let a, let b), .or(let a, let b), .arithmetic(_, let a, let b), .concat(let a, let b),
             .comparison(_, let a, let b), .distinctFrom(let a, let b, _), .like(let a, let b, _, _):
            return a.readsEnclosingRow || b.readsEnclosingRow
        case .between(let a, let b, let c, _): return a.readsEnclosingRow || b.readsEnclosingRow || c.readsEnclosingRow
        case .inList(let e, let items, _): return e.readsEnclosingRow || items.contains { $0.readsEnclosingRow }
        case .caseWhen(let operand, let branches, let otherwise):
            return (operand?.readsEnclosingRow ?? false) || branches.contains { $0.0.readsEnclosingRow || $0.1.readsEnclosingRow }
                || (otherwise?.readsEnclosingRow ?? false)
        case .function(_, let args), .array(let args): return args.contains { $0.readsEnclosingRow }
        }
    }
}
