import RedCore

/// An expression with every name resolved to a row position.
///
/// Rows are `[Value]`; `column(i)` reads position `i` of the current row,
/// `outer(depth, i)` a row of an enclosing query (correlated subqueries:
/// depth 1 is the nearest), `documentField` a JSON path inside a document
/// body column. Evaluation follows SQL three-valued logic: NULL is unknown.
/// Where `x op ANY|ALL (…)` finds the values it compares `x` with.
enum QuantifiedSource: Sendable {
    /// The first column of every row.
    case subquery(SubqueryPlan)
    /// The elements of an array value.
    case array(BoundExpr)
}

indirect enum BoundExpr: Sendable {
    case constant(Value)
    case column(Int)
    case outer(depth: Int, index: Int)
    case documentField(column: Int, path: [String])
    case parameter(Int)
    case negate(BoundExpr)
    case not(BoundExpr)
    case and(BoundExpr, BoundExpr)
    case or(BoundExpr, BoundExpr)
    case arithmetic(String, BoundExpr, BoundExpr)
    case concat(BoundExpr, BoundExpr)
    case comparison(String, BoundExpr, BoundExpr)
    case isNull(BoundExpr, negated: Bool)
    case distinctFrom(BoundExpr, BoundExpr, negated: Bool)
    case between(BoundExpr, BoundExpr, BoundExpr, negated: Bool)
    case inList(BoundExpr, [BoundExpr], negated: Bool)
    case inSubquery(BoundExpr, SubqueryPlan, negated: Bool)
    /// `x op ANY|ALL (…)`: compared with each value of a subquery's column or of an array.
    case quantified(String, BoundExpr, all: Bool, QuantifiedSource)
    case exists(SubqueryPlan, negated: Bool)
    case scalarSubquery(SubqueryPlan)
    case like(BoundExpr, BoundExpr, caseInsensitive: Bool, negated: Bool)
    case caseWhen(operand: BoundExpr?, branches: [(BoundExpr, BoundExpr)], otherwise: BoundExpr?)
    case cast(BoundExpr, DataType)
    case function(ScalarFunction, [BoundExpr])
    case array([BoundExpr])

    /// Row positions of the current row this expression reads (not outer rows, not subqueries' own).
    func referencedColumns(into set: inout Set<Int>) {
        switch self {
        case .column(let i): set.insert(i)
        case .documentField(let c, _): set.insert(c)
        case .constant, .outer, .parameter: break
        case .negate(let e), .not(let e), .isNull(let e, _), .cast(let e, _): e.referencedColumns(into: &set)
        case .and(let a, let b), .or(let a, let b), .arithmetic(_, let a, let b), .concat(let a, let b),
             .comparison(_, let a, let b), .distinctFrom(let a, let b, _), .like(let a, let b, _, _):
            a.referencedColumns(into: &set); b.referencedColumns(into: &set)
        case .between(let a, let b, let c, _):
            a.referencedColumns(into: &set); b.referencedColumns(into: &set); c.referencedColumns(into: &set)
        case .inList(let e, let items, _):
            e.referencedColumns(into: &set); for i in items { i.referencedColumns(into: &set) }
        case .inSubquery(let e, let plan, _), .quantified(_, let e, _, .subquery(let plan)):
            e.referencedColumns(into: &set); set.formUnion(plan.outerColumns)
        case .quantified(_, let e, _, .array(let array)):
            e.referencedColumns(into: &set); array.referencedColumns(into: &set)
        case .exists(let plan, _), .scalarSubquery(let plan): set.formUnion(plan.outerColumns)
        case .caseWhen(let operand, let branches, let otherwise):
            operand?.referencedColumns(into: &set)
            for (c, r) in branches { c.referencedColumns(into: &set); r.referencedColumns(into: &set) }
            otherwise?.referencedColumns(into: &set)
        case .function(_, let args), .array(let args): for a in args { a.referencedColumns(into: &set) }
        }
    }

    var referencedColumns: Set<Int> {
        var set = Set<Int>()
        referencedColumns(into: &set)
        return set
    }

    /// True when the value cannot change between rows of one execution (no column, no subquery reads).
    var isRowIndependent: Bool {
        switch self {
        case .constant, .parameter, .outer: return true
        case .negate(let e), .cast(let e, _): return e.isRowIndependent
        case .arithmetic(_, let a, let b), .concat(let a, let b): return a.isRowIndependent && b.isRowIndependent
        case .function(let f, let args): return f.isDeterministicWithinStatement && args.allSatisfy(\.isRowIndependent)
        default: return false
        }
    }

    /// An uncorrelated scalar subquery: its value is computed once and kept for the statement
    /// (`SubqueryPlan.cache`), so a scan may look it up in an index.
    var isOncePerStatement: Bool {
        if case .scalarSubquery(let plan) = self { return plan.isCacheable }
        return false
    }

    /// Shifts current-row positions by `-offset` (used when a predicate moves onto one join input).
    func rebased(by offset: Int) -> BoundExpr {
        if offset == 0 { return self }
        return mapColumns { .column($0 - offset) }
    }

    func mapColumns(_ transform: (Int) -> BoundExpr) -> BoundExpr {
        func m(_ e: BoundExpr) -> BoundExpr { e.mapColumns(transform) }
        switch self {
        case .column(let i): return transform(i)
        case .documentField(let c, let path):
            if case .column(let n) = transform(c) { return .documentField(column: n, path: path) }
            return self
        case .constant, .outer, .parameter: return self
        case .negate(let e): return .negate(m(e))
        case .not(let e): return .not(m(e))
        case .and(let a, let b): return .and(m(a), m(b))
        case .or(let a, let b): return .or(m(a), m(b))
        case .arithmetic(let op, let a, let b): return .arithmetic(op, m(a), m(b))
        case .concat(let a, let b): return .concat(m(a), m(b))
        case .comparison(let op, let a, let b): return .comparison(op, m(a), m(b))
        case .isNull(let e, let n): return .isNull(m(e), negated: n)
        case .distinctFrom(let a, let b, let n): return .distinctFrom(m(a), m(b), negated: n)
        case .between(let a, let b, let c, let n): return .between(m(a), m(b), m(c), negated: n)
        case .inList(let e, let items, let n): return .inList(m(e), items.map(m), negated: n)
        case .inSubquery(let e, let plan, let n): return .inSubquery(m(e), plan.remapped(transform), negated: n)
        case .quantified(let op, let e, let all, .subquery(let plan)): return .quantified(op, m(e), all: all, .subquery(plan.remapped(transform)))
        case .quantified(let op, let e, let all, .array(let array)): return .quantified(op, m(e), all: all, .array(m(array)))
        case .exists(let plan, let n): return .exists(plan.remapped(transform), negated: n)
        case .scalarSubquery(let plan): return .scalarSubquery(plan.remapped(transform))
        case .like(let a, let b, let ci, let n): return .like(m(a), m(b), caseInsensitive: ci, negated: n)
        case .caseWhen(let operand, let branches, let otherwise):
            return .caseWhen(operand: operand.map(m), branches: branches.map { (m($0.0), m($0.1)) }, otherwise: otherwise.map(m))
        case .cast(let e, let t): return .cast(m(e), t)
        case .function(let f, let args): return .function(f, args.map(m))
        case .array(let items): return .array(items.map(m))
        }
    }

    var isConstant: Bool { if case .constant = self { return true } else { return false } }

    var isNullConstant: Bool { if case .constant(.null) = self { return true } else { return false } }

    /// Splits a predicate into its AND-ed parts.
    var conjuncts: [BoundExpr] {
        if case .and(let a, let b) = self { return a.conjuncts + b.conjuncts }
        return [self]
    }
}

/// A subquery inside an expression: its plan, bound with the enclosing row as
/// outer scope. Uncorrelated subqueries run once per statement and are cached.
final class SubqueryPlan: @unchecked Sendable {
    let plan: PlanNode
    /// Positions of the enclosing row the subquery reads (empty: uncorrelated).
    let outerColumns: Set<Int>
    /// Rebinding for pushed-down predicates: maps the enclosing row's positions.
    let outerMap: [Int: Int]?
    /// Whether it reads a row further out than the enclosing one (`SELECT (SELECT (SELECT t.x))
    /// FROM t`: the middle subquery reads nothing of its own enclosing row, yet changes with t).
    let readsFurtherOut: Bool
    var cache: [[Value]]?
    /// Its first column as a hash set, for `IN` (`SubqueryMembership`; nil when not hashable).
    var membership: SubqueryMembership?
    var membershipBuilt = false
    /// For a correlated EXISTS of the right shape, its keys as a hash set (`CorrelatedExistence`).
    var existence: CorrelatedExistence?
    var existenceBuilt = false
    /// Its rows may be kept for the whole statement: it reads no enclosing row at all.
    var isCacheable: Bool { outerColumns.isEmpty && !readsFurtherOut }

    init(plan: PlanNode, outerColumns: Set<Int>, outerMap: [Int: Int]? = nil, readsFurtherOut: Bool = false) {
        self.plan = plan
        self.outerColumns = outerColumns
        self.outerMap = outerMap
        self.readsFurtherOut = readsFurtherOut
    }

    func remapped(_ transform: (Int) -> BoundExpr) -> SubqueryPlan {
        guard !outerColumns.isEmpty else { return self }
        var map: [Int: Int] = [:]
        for c in outerColumns {
            let original = outerMap?[c] ?? c
            if case .column(let n) = transform(c) { map[n] = original }
        }
        return SubqueryPlan(plan: plan, outerColumns: Set(map.keys), outerMap: map, readsFurtherOut: readsFurtherOut)
    }
}
