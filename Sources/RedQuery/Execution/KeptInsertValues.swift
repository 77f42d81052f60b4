import RedCore

/// An INSERT's VALUES list bound once and kept for the statement's next run: a prepared
/// INSERT an application runs again and again, a trigger's `INSERT INTO audit VALUES (TG_OP,
/// NEW.id, now())` run for every row. Binding the cells (name resolution, casts, functions) is
/// most of such a statement's planning.
///
/// Kept in the statement's `PlanMemo` under its rules (the definitions version, search path and
/// surface the cells were bound under; nothing a surface supplied; no subqueries), as a node
/// that only holds the cells: it is never run as a plan.
final class BoundValuesNode: PlanNode, @unchecked Sendable {
    /// The rows' cells; nil for DEFAULT.
    let rows: [[BoundExpr?]]
    var columns: [ScopeColumn] { [] }

    init(_ rows: [[BoundExpr?]]) { self.rows = rows }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        throw RedError(.internalError, "an INSERT's kept VALUES list is not a plan to run")
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "Values (kept)")] }
}

extension DMLExecutor {
    /// Most cells of a VALUES list kept between runs: the statements that run again with
    /// VALUES are single rows, not bulk loads.
    static let maxKeptCells = 1_024

    enum KeptValues: Equatable {
        case kept(BoundValuesNode)
        /// Bound before, and found not reusable at this version: bind each time, keep nothing.
        case notReusable
        /// Nothing known (or no memo): bind, and keep the cells if they may be reused.
        case unknown

        static func == (a: KeptValues, b: KeptValues) -> Bool {
            switch (a, b) {
            case (.kept(let x), .kept(let y)): return x === y
            case (.notReusable, .notReusable), (.unknown, .unknown): return true
            default: return false
            }
        }
    }

    /// What an earlier run of this statement kept of its VALUES list, for the definitions,
    /// search path and surface this run sees.
    func keptValues() -> KeptValues {
        guard let (memo, definitions) = planMemo else { return .notReusable }
        switch memo.lookup(definitions: definitions, surface: context.surfaceKey, searchPath: tx.searchPath) {
        case .some(.some(let kept)): return (kept.plan as? BoundValuesNode).map { .kept($0) } ?? .notReusable
        case .some(.none): return .notReusable
        case .none: return .unknown
        }
    }

    func keepValues(_ rows: [[BoundExpr?]], _ planner: Planner) {
        guard let (memo, definitions) = planMemo else { return }
        let reusable = !planner.bindsSurfaceFunctions && rows.allSatisfy { $0.allSatisfy { $0.map(PlanReuse.isReusable) ?? true } }
        memo.keep(reusable ? ReusableQueryPlan(plan: BoundValuesNode(rows), parameterCount: planner.parameterCount) : nil,
                  definitions: definitions, surface: context.surfaceKey, searchPath: tx.searchPath)
    }
}
