import RedCore

/// PostgreSQL's integer types for the integer expressions of a select list: what PG-wire
/// describes them as (`int2`, `int4` or `int8`), where RedDB computes every integer in 64
/// bits.
///
/// Clients decode by the description: sqlx and PostgresNIO refuse an `int8` column for a
/// 32-bit integer, sqlx's checked queries pick the Rust type from it, and node-postgres hands
/// `int8` back as a string. So `SELECT a + b` over two `INTEGER` columns must come back as
/// `int4`, as in PostgreSQL: a literal that fits 32 bits is `int4` (a larger one `int8`), a
/// column has its declared width, an operator gives the wider of its operands, `length` and
/// its kin are `int4`, `min`/`max` keep their argument's width, and `count`, `sum` and the
/// ranking window functions are `int8`.
///
/// A value described as `int4` must fit it: where the plan cannot be sure (arithmetic,
/// `abs`, the bitwise operators), the expression is checked as a cast to `int4` is, so a
/// result past the width is PostgreSQL's `integer out of range` (22003) rather than a wrong
/// number on the wire. (PostgreSQL checks every intermediate result; RedDB, computing in 64
/// bits, checks the one that leaves.)
enum IntegerWidth: Int, Comparable, Sendable {
    case int2 = 2, int4 = 4, int8 = 8

    static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    init(surfaceName: String?) {
        switch surfaceName.flatMap(DeclaredType.init(surfaceName:))?.kind {
        case .int2: self = .int2
        case .int4: self = .int4
        default: self = .int8
        }
    }

    /// The declaration a narrower width is described and checked by (nil for `int8`).
    var declared: DeclaredType? {
        switch self {
        case .int2: return DeclaredType(kind: .int2)
        case .int4: return DeclaredType(kind: .int4)
        case .int8: return nil
        }
    }

    /// Functions PostgreSQL types `integer` whose results never pass it (lengths, positions, counts of elements).
    static let int4Functions: Set<String> = [
        "length", "char_length", "character_length", "octet_length", "bit_length", "strpos", "position", "ascii",
        "array_length", "array_upper", "array_lower", "array_ndims", "cardinality", "array_position",
        "regexp_count", "regexp_instr", "width_bucket", "num_nulls", "num_nonnulls",
    ]
}

extension Planner {
    /// The width PostgreSQL gives the integer expression `e`, and whether its values surely
    /// fit it (false where 64-bit arithmetic could pass it).
    func integerWidth(_ e: BoundExpr, _ ctx: BindingContext) -> (width: IntegerWidth, fits: Bool) {
        /// The widest of several operands; NULLs take the others' width.
        func widest(_ operands: [BoundExpr]) -> (width: IntegerWidth, fits: Bool) {
            var result: (width: IntegerWidth, fits: Bool)?
            for operand in operands {
                if case .constant(.null) = operand { continue }
                let w = integerWidth(operand, ctx)
                result = (max(result?.width ?? w.width, w.width), (result?.fits ?? true) && w.fits)
            }
            return result ?? (.int8, true)
        }
        switch e {
        case .constant(.integer(let v)):
            return (Int32(exactly: v) != nil ? .int4 : .int8, true)
        case .column(let i) where i >= WindowState.sentinelBase:
            guard let windows = ctx.windows, i - WindowState.sentinelBase < windows.calls.count else { return (.int8, true) }
            let call = windows.calls[i - WindowState.sentinelBase]
            switch call.function {
            case .ntile: return (.int4, true)
            case .lag, .lead, .firstValue, .lastValue, .nthValue:
                // The default of lag/lead must fit the argument's width too.
                return widest(Array(call.arguments.prefix(1)) + (call.arguments.count > 2 ? [call.arguments[2]] : []))
            case .aggregate(let kind, _): return aggregateWidth(kind, call.arguments, ctx)
            default: return (.int8, true)
            }
        case .column(let i):
            guard let aggregation = ctx.aggregation else {
                return (IntegerWidth(surfaceName: i < ctx.scope.columns.count ? ctx.scope.columns[i].surfaceType : nil), true)
            }
            let input = BindingContext(scope: aggregation.inputScope)
            if i < aggregation.boundKeys.count { return integerWidth(aggregation.boundKeys[i], input) }
            let k = i - aggregation.boundKeys.count
            guard k < aggregation.calls.count else { return (.int8, true) }
            return aggregateWidth(aggregation.calls[k].kind, aggregation.calls[k].arguments, input)
        case .outer(let depth, let i):
            var scope: Scope? = ctx.scope
            for _ in 0..<depth { scope = scope?.parent }
            guard let scope, i < scope.columns.count else { return (.int8, true) }
            return (IntegerWidth(surfaceName: scope.columns[i].surfaceType), true)
        case .scalarSubquery(let subquery):
            return (IntegerWidth(surfaceName: subquery.plan.columns.first?.surfaceType), true)
        case .arithmetic(_, let a, let b):
            return (widest([a, b]).width, false)
        case .negate(let a):
            return (integerWidth(a, ctx).width, false)
        case .caseWhen(_, let branches, let otherwise):
            return widest(branches.map(\.1) + (otherwise.map { [$0] } ?? []))
        case .function(let f, let arguments):
            switch f.name {
            case DeclaredCast.name: return (IntegerWidth(surfaceName: DeclaredCast.declared(by: e)), true)
            case "coalesce", "greatest", "least": return widest(arguments)
            case "nullif": return arguments.first.map { integerWidth($0, ctx) } ?? (.int8, true)
            case "abs", "__bit_not", "__bit_shift_left", "__bit_shift_right": return (widest(Array(arguments.prefix(1))).width, false)
            case "__bit_and", "__bit_or", "__bit_xor", "mod", "gcd", "lcm": return (widest(arguments).width, false)
            case _ where IntegerWidth.int4Functions.contains(f.name): return (.int4, true)
            default: return (.int8, true)
            }
        default:
            return (.int8, true)
        }
    }

    /// An aggregate's width: `min`, `max` and the like keep their argument's, `grouping` is
    /// `int4`, `count` and `sum` are `int8`.
    private func aggregateWidth(_ kind: AggregateKind, _ arguments: [BoundExpr], _ ctx: BindingContext) -> (width: IntegerWidth, fits: Bool) {
        switch kind {
        case .min, .max, .first, .last, .bitAnd, .bitOr, .bitXor:
            return arguments.first.map { integerWidth($0, ctx) } ?? (.int8, true)
        case .grouping: return (.int4, true)
        default: return (.int8, true)
        }
    }
}
