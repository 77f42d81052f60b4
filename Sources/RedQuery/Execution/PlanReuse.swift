import RedCore
import Synchronization

/// Running a query again with the plan made for an earlier execution of the same statement,
/// instead of planning it each time (PostgreSQL's cached plans for prepared statements).
///
/// Why: planning a short query is about half of what executing it costs here (name
/// resolution, binding, access-path choice, column pruning: ~20 µs of a primary-key lookup
/// over PG-wire), and OLTP clients send the same few statements over and over — psycopg,
/// PostgresNIO and JDBC through the extended protocol, RedWire and gRPC through Prepare.
///
/// What a plan depends on, and how reuse stays right:
/// - **The statement.** A memo (`PlanMemo`) belongs to one parsed statement: the statement
///   cache's entry for a one-statement text, or one prepared statement. Parameters are
///   never read while planning (`$n` stays `.parameter(n)` in the plan and is evaluated when
///   the plan runs), so one plan serves every set of values.
/// - **The definitions it was planned against** (tables, their schemas and indexes, views,
///   enum types): a plan is kept with the definitions version
///   (`StorageEngine.definitionState`) of the snapshot that planned it, and used only by a
///   snapshot that sees exactly that version. The session decides that, as it does for
///   statement descriptions: no uncommitted DDL in the transaction, a snapshot taken after
///   the latest definition change, and no temporary tables (which hide permanent ones).
/// - **The search path** (`Transaction.searchPath`): which schema an unqualified name
///   resolved to. A plan is kept with the path it was made under and used only under the same.
/// - **The surface** (PG-wire's catalog relations, functions and casts): a plan is kept with
///   its surface's type, and a plan that bound anything the surface supplied is not kept at
///   all, since those functions may read the connection's own settings.
/// - **Nothing of one execution.** Only plans made solely of nodes audited to keep no state
///   between executions are kept (`isReusable`): their `open` reads the node and the
///   context, and everything an execution changes lives in the iterators it returns. Plans
///   with subqueries (`SubqueryPlan.cache` holds one statement's rows), materialized CTEs,
///   row locking, set-returning functions, surface relations, vector searches or sequences
///   are planned afresh each time. A kept plan is shared by sessions running concurrently,
///   which that same property makes safe.
public final class PlanMemo: Sendable {
    private struct Kept {
        var definitions: UInt64
        var surface: ObjectIdentifier?
        var searchPath: [String]?
        /// Nil: the statement's plan cannot be reused at this version (planned each time).
        var plan: ReusableQueryPlan?
    }

    private let kept = Mutex<Kept?>(nil)
    /// How many executions ran a kept plan (tests check that reuse happens at all).
    private let reuses = Atomic<Int>(0)

    public init() {}

    var reuseCount: Int { reuses.load(ordering: .relaxed) }

    /// What was decided for this version and surface: the plan to reuse, `.some(nil)` when
    /// the plan was found not reusable, nil when nothing is known yet.
    func lookup(definitions: UInt64, surface: ObjectIdentifier?, searchPath: [String]?) -> ReusableQueryPlan?? {
        kept.withLock { kept in
            guard let kept, kept.definitions == definitions, kept.surface == surface, kept.searchPath == searchPath else { return nil }
            if kept.plan != nil { reuses.add(1, ordering: .relaxed) }
            return .some(kept.plan)
        }
    }

    /// Remembers the plan made against `definitions` (nil: not reusable), replacing whatever
    /// was kept for an older version or another surface.
    func keep(_ plan: ReusableQueryPlan?, definitions: UInt64, surface: ObjectIdentifier?, searchPath: [String]?) {
        kept.withLock { $0 = Kept(definitions: definitions, surface: surface, searchPath: searchPath, plan: plan) }
    }
}

/// A query plan that may run again (see `PlanMemo`), with how many parameters it reads.
final class ReusableQueryPlan: Sendable {
    let plan: PlanNode
    let parameterCount: Int

    init(plan: PlanNode, parameterCount: Int) {
        self.plan = plan
        self.parameterCount = parameterCount
    }
}

enum PlanReuse {
    /// Whether every node of `node` is one whose executions share nothing but the node
    /// itself, and every expression in it is free of subqueries. Unknown node types are not.
    static func isReusable(_ node: PlanNode) -> Bool {
        switch node {
        case let scan as TableScanNode:
            if case .vectorOrder = scan.access { return false }
            return reusable(scan.filter) && reusable(scan.access)
        case let filter as FilterNode: return isReusable(filter.input) && reusable(filter.predicate)
        case let project as ProjectNode: return isReusable(project.input) && project.expressions.allSatisfy(reusable)
        case let values as ValuesNode: return values.rows.allSatisfy { $0.allSatisfy(reusable) }
        case let limit as LimitNode: return isReusable(limit.input) && reusable(limit.limit) && reusable(limit.offset)
        case let sort as SortNode:
            return isReusable(sort.input) && sort.keys.allSatisfy { reusable($0.expr) }
                && reusable(sort.topN?.limit) && reusable(sort.topN?.offset)
        case let distinct as DistinctNode: return isReusable(distinct.input)
        case let trim as TrimNode: return isReusable(trim.input)
        case let alias as AliasNode: return isReusable(alias.input)
        case let aggregate as AggregateNode:
            return isReusable(aggregate.input) && aggregate.groupKeys.allSatisfy(reusable)
                && aggregate.aggregates.allSatisfy { call in
                    call.arguments.allSatisfy(reusable) && reusable(call.filter) && call.orderBy.allSatisfy { reusable($0.expr) }
                }
        case let join as HashJoinNode:
            return isReusable(join.left) && isReusable(join.right) && join.leftKeys.allSatisfy(reusable)
                && join.rightKeys.allSatisfy(reusable) && reusable(join.residual)
        case let join as NestedLoopJoinNode:
            return isReusable(join.left) && isReusable(join.right) && reusable(join.condition)
        case let join as IndexNestedLoopJoinNode:
            return isReusable(join.left) && isReusable(join.right) && reusable(join.leftKey) && reusable(join.residual)
        case let set as SetOperationNode: return isReusable(set.left) && isReusable(set.right)
        default: return false
        }
    }

    private static func reusable(_ access: AccessPath) -> Bool {
        switch access {
        case .fullScan, .indexOrder: return true
        case .indexEquality(_, let values): return values.allSatisfy(reusable)
        case .indexRange(_, let lower, let upper): return reusable(lower?.0) && reusable(upper?.0)
        case .vectorOrder: return false
        }
    }

    /// Whether an expression is free of subqueries (and so of state one execution leaves).
    static func isReusable(_ e: BoundExpr) -> Bool { reusable(e) }

    private static func reusable(_ e: BoundExpr?) -> Bool {
        guard let e else { return true }
        switch e {
        case .constant, .column, .outer, .documentField, .parameter: return true
        case .inSubquery, .exists, .scalarSubquery, .quantified(_, _, _, .subquery): return false
        case .quantified(_, let a, _, .array(let b)): return reusable(a) && reusable(b)
        case .negate(let a), .not(let a), .isNull(let a, _), .cast(let a, _): return reusable(a)
        case .and(let a, let b), .or(let a, let b), .arithmetic(_, let a, let b), .concat(let a, let b),
             .comparison(_, let a, let b), .distinctFrom(let a, let b, _), .like(let a, let b, _, _):
            return reusable(a) && reusable(b)
        case .between(let a, let b, let c, _): return reusable(a) && reusable(b) && reusable(c)
        case .inList(let a, let items, _): return reusable(a) && items.allSatisfy(reusable)
        case .caseWhen(let operand, let branches, let otherwise):
            return reusable(operand) && branches.allSatisfy { reusable($0.0) && reusable($0.1) } && reusable(otherwise)
        case .function(_, let arguments), .array(let arguments): return arguments.allSatisfy(reusable)
        }
    }
}
