import RedCore

/// Index choice for a single-table scan.
///
/// A predicate can use an index when it constrains the index's first column
/// with a value fixed for the whole scan (a literal, a parameter or an outer
/// row's column, and for `=` an uncorrelated scalar subquery, run once per statement
/// — the job-queue form `WHERE id = (SELECT id … FOR UPDATE SKIP LOCKED LIMIT 1)`):
/// `=` and `IN` give point lookups, `< <= > >= BETWEEN` a range.
/// Preference: unique equality, equality, range, then a full scan. Every
/// predicate stays in the scan's filter, so the choice never changes results.
extension TableScanNode {
    func addPredicates(_ predicates: [BoundExpr]) {
        guard !predicates.isEmpty else { return }
        let all = (filter.map { [$0] } ?? []) + predicates
        filter = all.dropFirst().reduce(all[0]) { .and($0, $1) }
        chooseAccess(all.flatMap(\.conjuncts))
    }

    /// Position of the index's first column in this scan's rows, if the collection is a table.
    /// nil too for an index an operator marked not to read through (`servesReads`), and for an
    /// expression or partial index, which holds other values than its columns', or not every row.
    func firstColumnPosition(ofIndex i: Int) -> Int? {
        guard handle.schema.model == .table, handle.schema.indexes[i].servesReads, handle.schema.indexes[i].isPlain else { return nil }
        let id = handle.schema.indexes[i].columnIDs[0]
        return handle.schema.columns.firstIndex { $0.id == id }
    }

    /// An index's leading key as this scan's predicates name it.
    enum LeadingKey {
        case column(Int)
        case expression(BoundExpr)

        func matches(_ e: BoundExpr) -> Bool {
            switch self {
            case .column(let position): if case .column(position) = e { return true } else { return false }
            case .expression(let key): return e.isSame(as: key)
            }
        }
    }

    /// The leading key of index `i` when a query with `conjuncts` may read through it: a plain
    /// index's first column; an expression index's first expression, when its type is known
    /// (lookups coerce to it, as the stored values were); and a partial index only when the
    /// conjuncts include every conjunct of its predicate, so no row they select lacks an entry.
    func leadingKey(ofIndex i: Int, conjuncts: [BoundExpr]) -> LeadingKey? {
        let index = handle.schema.indexes[i]
        if index.isPlain { return firstColumnPosition(ofIndex: i).map(LeadingKey.column) }
        guard handle.schema.model == .table, index.servesReads, let program = handle.indexPrograms[i] as? SQLIndexProgram,
              program.predicateConjuncts.allSatisfy({ p in conjuncts.contains { $0.isSame(as: p) } }) else { return nil }
        switch program.keys[0] {
        case .column(let id): return handle.schema.columns.firstIndex { $0.id == id }.map(LeadingKey.column)
        case .expression(let expr, let type): return type == .any ? nil : .expression(expr)
        }
    }

    func chooseAccess(_ conjuncts: [BoundExpr]) {
        var best: (score: Int, path: AccessPath)?
        for i in handle.schema.indexes.indices {
            guard let key = leadingKey(ofIndex: i, conjuncts: conjuncts) else { continue }
            let unique = handle.schema.indexes[i].unique && handle.schema.indexes[i].columnIDs.count == 1
            var lower: (BoundExpr, inclusive: Bool)?
            var upper: (BoundExpr, inclusive: Bool)?
            for c in conjuncts {
                switch c {
                case .comparison(let op, let a, let b):
                    var op = op
                    var value: BoundExpr
                    if key.matches(a), b.isRowIndependent || (op == "=" && b.isOncePerStatement) { value = b }
                    else if key.matches(b), a.isRowIndependent || (op == "=" && a.isOncePerStatement) {
                        value = a
                        op = ["<": ">", "<=": ">=", ">": "<", ">=": "<="][op] ?? op
                    } else { continue }
                    switch op {
                    case "=":
                        let score = unique ? 4 : 3
                        if best == nil || best!.score < score { best = (score, .indexEquality(index: i, values: [value])) }
                    case ">": lower = (value, false)
                    case ">=": lower = (value, true)
                    case "<": upper = (value, false)
                    case "<=": upper = (value, true)
                    default: break
                    }
                case .inList(let e, let items, negated: false) where key.matches(e) && items.allSatisfy(\.isRowIndependent):
                    if best == nil || best!.score < 3 { best = (3, .indexEquality(index: i, values: items)) }
                case .between(let e, let lo, let hi, negated: false) where key.matches(e) && lo.isRowIndependent && hi.isRowIndependent:
                    lower = (lo, true); upper = (hi, true)
                default: continue
                }
            }
            if lower != nil || upper != nil, best == nil || best!.score < 2 {
                best = (2, .indexRange(index: i, lower: lower, upper: upper))
            }
        }
        if let best { access = best.path }
    }

    /// Serves `ORDER BY column [DESC] LIMIT n` from an index when nothing better was chosen.
    /// Returns true when rows will come out in the requested order. A partial index serves
    /// when the scan's WHERE includes its predicate: a job queue's `CREATE INDEX … (id) WHERE
    /// status = 'queued'` then hands `WHERE status = 'queued' ORDER BY id LIMIT 1` its first
    /// queued job without passing the finished ones.
    func provideOrder(columnPosition: Int, descending: Bool) -> Bool {
        let conjuncts = filter?.conjuncts ?? []
        let indexes = handle.schema.indexes.indices
        // A partial index first: it holds only rows the query wants.
        for i in indexes.filter({ handle.schema.indexes[$0].predicate != nil }) + indexes.filter({ handle.schema.indexes[$0].predicate == nil }) {
            guard case .column(columnPosition)? = leadingKey(ofIndex: i, conjuncts: conjuncts) else { continue }
            switch access {
            case .fullScan:
                access = .indexOrder(index: i, descending: descending)
                return true
            case .indexRange(let r, _, _) where r == i && !descending:
                return true
            case .indexEquality(let e, let values) where e == i && values.count == 1:
                return true
            default:
                continue
            }
        }
        return false
    }
}
