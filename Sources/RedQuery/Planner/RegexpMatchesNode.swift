import RedCore

/// `regexp_matches(string, pattern [, flags])`, PostgreSQL's set-returning match: one row per
/// match — every match with the `g` flag, else only the first, and no row when nothing
/// matches — each row the match's capture groups as a `text[]` (the whole match when the
/// pattern has no groups; NULL for a group that took no part). In a select list it is
/// planned through `SetReturningCalls`, so `SELECT regexp_matches(s, p, 'g') FROM t` gives
/// a row per match per row, as in PostgreSQL. Arguments are evaluated once per open, which
/// is once per outer row when they read an earlier FROM item (lateral).
final class RegexpMatchesNode: PlanNode, @unchecked Sendable {
    let arguments: [BoundExpr]
    let columns: [ScopeColumn]

    init(arguments: [BoundExpr], column: ScopeColumn) {
        self.arguments = arguments
        self.columns = [column]
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let eval = context.evaluation(outerRows)
        let values = try arguments.map { try eval.evaluate($0, []) }
        // Strict, as PostgreSQL's: a NULL argument yields no rows.
        let matches = values.contains(where: \.isNull) ? [] : try RegularExpressions.matchGroups(values)
        try context.checkMaterialized(matches.count, "regexp_matches")
        var index = 0
        return ClosureIterator {
            guard index < matches.count else { return nil }
            if index & 4095 == 4095 { try context.checkCancelled() }
            defer { index += 1 }
            return [.json(matches[index])]
        }
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "Function Scan on regexp_matches")] }
}
