import RedCore
import RedEngine

/// The types of expressions as the plan knows them before running: what PG-wire's Describe
/// reports for a statement's columns, so each must be exactly the type its values will have
/// (`.any` where only the values can tell).
extension Planner {
    static func staticType(_ e: BoundExpr) -> DataType {
        switch e {
        case .constant(let v):
            switch v {
            case .integer: return .integer
            case .float: return .float
            case .decimal: return .decimal
            case .text: return .text
            case .boolean: return .boolean
            case .json: return .json
            case .timestamp: return .timestamp
            case .date: return .date
            case .interval: return .duration
            default: return .any
            }
        case .cast(_, let t): return t
        case .comparison, .and, .or, .not, .isNull, .distinctFrom, .between, .inList, .inSubquery, .quantified, .exists, .like: return .boolean
        case .concat: return .text
        case .array: return .array
        case .function(let f, let arguments) where f.name == DeclaredCast.name: return arguments.first.map(staticType) ?? .any
        case .function(let f, _): return ScalarFunction.resultTypes[f.name] ?? .any
        default: return .any
        }
    }

    /// What an aggregate of `argument`s gives, for the aggregates whose type follows from their
    /// argument's alone (as a GROUP BY's or a window's column); nil for the rest.
    static func aggregateType(_ kind: AggregateKind, argument: DataType) -> DataType? {
        let numeric: Set<DataType> = [.integer, .float, .decimal]
        switch kind {
        case .count, .countStar: return .integer
        case .sum: return numeric.contains(argument) || argument == .duration ? argument : .any
        case .avg: return argument == .decimal || argument == .duration ? argument : (argument == .integer ? .decimal : (argument == .float ? .float : .any))
        case .stddevPop, .stddevSamp, .varPop, .varSamp: return .float
        case .regrCount: return .integer
        case _ where kind.isBivariate: return .float
        case .min, .max, .first, .last: return argument
        case .stringAgg: return .text
        case .arrayAgg: return .array
        case .jsonAgg, .jsonObjectAgg: return .json
        case .grouping: return .integer
        case .boolAnd, .boolOr: return .boolean
        case .bitAnd, .bitOr, .bitXor: return argument == .integer ? .integer : nil
        default: return nil
        }
    }

    /// Whether a percentile's fraction argument is an array (`ARRAY[0.25, 0.5]`, folded to a
    /// constant, or any array-typed expression): the aggregate then gives an array.
    static func isFractionArray(_ e: BoundExpr, _ scope: Scope) -> Bool {
        if case .constant(.json(.array)) = e { return true }
        return staticType(e) == .array || type(of: e, scope: scope, aggregation: nil).valueType == .array
    }

    /// The elements' type of an array expression when the plan knows it before running, so
    /// PG-wire can describe it as `T[]`; nil when only the values could tell. Known only where
    /// the values are sure to fit: a `T[]` column or a cast to `T[]` (elements converted on the
    /// way in), and arrays built from values an array keeps exactly (integers, floats, booleans,
    /// text, numerics; timestamps, dates, UUIDs and intervals as their text): `ARRAY[…]` of one
    /// type, `array_agg` of a typed scalar. Every operand of an
    /// operation on arrays must agree, or the answer is nil.
    static func elementType(of e: BoundExpr, scope: Scope, aggregation: AggregationState?) -> DataType? {
        // Element types an array keeps exactly: as JSON (numbers, text, booleans; numerics as
        // numbers) or as their text (`ArrayFunctions.element`).
        func faithful(_ t: DataType) -> DataType? { [.integer, .float, .boolean, .text, .decimal, .timestamp, .date, .uuid, .duration].contains(t) ? t : nil }
        /// The one element type every non-NULL operand has (`scalars`: operands that are elements).
        func agreed(_ arrays: [BoundExpr], scalars: [BoundExpr] = []) -> DataType? {
            /// NULL, and the empty array `'{}'`, fit any element type.
            func isNull(_ e: BoundExpr) -> Bool {
                switch e {
                case .constant(.null), .constant(.json(.array([]))), .constant(.text("{}")): return true
                case .cast(let inner, .array): return isNull(inner)
                default: return false
                }
            }
            let fromArrays = arrays.filter { !isNull($0) }.map { elementType(of: $0, scope: scope, aggregation: aggregation) }
            let fromScalars = scalars.filter { !isNull($0) }.map { faithful(Self.type(of: $0, scope: scope, aggregation: aggregation).valueType) }
            let all = fromArrays + fromScalars
            guard let first = all.first, let type = first else { return nil }
            if all.allSatisfy({ $0 == type }) { return type }
            // Numbers of different kinds meet in the widest, as PostgreSQL's ARRAY[1, 2.5] is
            // numeric[] and ARRAY[1, 2.5::float8] double precision[].
            let kinds = Set(all.compactMap { $0 })
            guard all.allSatisfy({ $0 != nil }), kinds.isSubset(of: [.integer, .decimal, .float]) else { return nil }
            return kinds.contains(.float) ? .float : .decimal
        }
        switch e {
        case .column(let i):
            guard let aggregation else { return i < scope.columns.count ? scope.columns[i].element : nil }
            let keys = aggregation.groupKeys.count
            if i < keys { return elementType(of: aggregation.boundKeys[i], scope: aggregation.inputScope, aggregation: nil) }
            guard i - keys < aggregation.calls.count else { return nil }
            let call = aggregation.calls[i - keys]
            if call.kind == .percentileCont || call.kind == .percentileDisc, let fractions = call.arguments.first,
               Self.isFractionArray(fractions, aggregation.inputScope) {
                guard call.kind == .percentileDisc, let order = call.orderBy.first else { return .float }
                return faithful(Self.type(of: order.expr, scope: aggregation.inputScope, aggregation: nil).valueType)
            }
            guard call.kind == .arrayAgg, let argument = call.arguments.first else { return nil }
            // Of scalars only: arrays of arrays may be ragged, which a PostgreSQL array cannot be.
            return faithful(Self.type(of: argument, scope: aggregation.inputScope, aggregation: nil).valueType)
        case .cast(let inner, .array):
            return elementType(of: inner, scope: scope, aggregation: aggregation)
        case .scalarSubquery(let subquery):
            return subquery.plan.columns.first?.element
        case .function(let f, let arguments):
            switch f.name {
            case "__array_cast":
                if arguments.count >= 2, case .constant(.text(let name)) = arguments[1], let type = DataType(rawValue: name), ![.any, .array, .json, .vector].contains(type) {
                    return type
                }
                return nil
            case "string_to_array", "regexp_split_to_array", "regexp_match": return .text
            case "array_positions": return .integer
            case "array_append": return arguments.count == 2 ? agreed([arguments[0]], scalars: [arguments[1]]) : nil
            case "array_prepend": return arguments.count == 2 ? agreed([arguments[1]], scalars: [arguments[0]]) : nil
            case "array_remove", "array_replace": return arguments.first.flatMap { agreed([$0], scalars: Array(arguments.dropFirst())) }
            case "array_cat", "coalesce", "nullif": return agreed(arguments)
            case "__array_slice": return arguments.first.flatMap { agreed([$0]) }  // `a[2:3]` is an array of a's elements
            case ArrayFunctions.multidimensional:
                // ARRAY[ARRAY[…], …], checked rectangular when built: a multidimensional T[].
                guard case .array(let rows)? = arguments.first else { return nil }
                return agreed(rows)
            default: return nil
            }
        case .array(let items):
            // NULL elements take the others' type, as PostgreSQL resolves ARRAY[NULL, 'a'];
            // nested lists (`[[1,2],[3]]`, JSON) may be ragged, so they stay unknown.
            return agreed([], scalars: items)
        default:
            return nil
        }
    }

    /// The type a bound expression will produce, as far as the plan knows it before running
    /// (`.any` when it depends on data). Surfaces report it before any row exists (PG-wire
    /// Describe), so it must never promise a type the values might not have.
    static func type(of e: BoundExpr, scope: Scope, aggregation: AggregationState?, parameters: [Int: DataType] = [:],
                     windows: WindowState? = nil) -> DataType {
        let numeric: Set<DataType> = [.integer, .float, .decimal]
        /// The same scope's types, for operands.
        func operand(_ e: BoundExpr) -> DataType { type(of: e, scope: scope, aggregation: aggregation, parameters: parameters, windows: windows) }
        switch e {
        case .column(let i) where i >= WindowState.sentinelBase:
            // A window function's result (`Binder.bindWindow`); its arguments are bound in this scope.
            guard let windows, i - WindowState.sentinelBase < windows.calls.count else { return .any }
            let call = windows.calls[i - WindowState.sentinelBase]
            let argument = call.arguments.first.map { operand($0).valueType } ?? .any
            switch call.function {
            case .rowNumber, .rank, .denseRank, .ntile: return .integer
            case .percentRank, .cumeDist: return .float
            case .lag, .lead, .firstValue, .lastValue, .nthValue: return argument
            case .aggregate(let kind, _): return aggregateType(kind, argument: argument) ?? .any
            }
        case .column(let i):
            guard let aggregation else { return i < scope.columns.count ? scope.columns[i].type : .any }
            let keys = aggregation.groupKeys.count
            if i < keys { return type(of: aggregation.boundKeys[i], scope: aggregation.inputScope, aggregation: nil, parameters: parameters) }
            guard i - keys < aggregation.calls.count else { return .any }
            let call = aggregation.calls[i - keys]
            let argument = call.arguments.first.map {
                type(of: $0, scope: aggregation.inputScope, aggregation: nil, parameters: parameters).valueType
            } ?? .any
            if let known = aggregateType(call.kind, argument: argument) { return known }
            switch call.kind {
            case .percentileCont, .percentileDisc, .mode:
                // An array of fractions gives an array of percentiles.
                if call.arguments.first.map({ Self.isFractionArray($0, aggregation.inputScope) }) == true { return .array }
                if call.kind == .percentileCont { return .float }
                return call.orderBy.first.map { type(of: $0.expr, scope: aggregation.inputScope, aggregation: nil, parameters: parameters).valueType } ?? .any
            default: return .any
            }
        case .parameter(let n):
            return parameters[n] ?? .any
        case .arithmetic(let op, let a, let b):
            let ta = operand(a).valueType
            let tb = operand(b).valueType
            if let temporal = temporalArithmeticType(op, ta, tb, numeric: numeric) { return temporal }
            guard numeric.contains(ta), numeric.contains(tb) else { return .any }
            if ta == .float || tb == .float { return .float }
            if ta == .decimal || tb == .decimal { return .decimal }
            return .integer
        case .negate(let inner):
            let t = operand(inner)
            return numeric.contains(t.valueType) || t.valueType == .duration ? t : .any
        case .caseWhen(_, let branches, let otherwise):
            // One type for every result (NULLs aside), as PostgreSQL resolves CASE; else unknown.
            let results = branches.map(\.1) + [otherwise ?? .constant(.null)]
            let types = Set(results.filter { if case .constant(.null) = $0 { return false }; return true }
                .map { operand($0) })
            guard types.count == 1, let only = types.first else { return .any }
            return only
        case .concat(let a, let b):
            // Two JSON values concatenate as JSON (jsonb's `||`); anything else as text.
            let ta = operand(a).valueType
            let tb = operand(b).valueType
            if ta == .json, tb == .json { return .json }
            return [.json, .any].contains(ta) && [.json, .any].contains(tb) ? .any : .text
        case .function(let f, let arguments) where ScalarFunction.resultTypes[f.name] == nil:
            // NULL constants take no part (`coalesce(x, NULL)` is x's type).
            let types = arguments.map { argument -> DataType? in
                if case .constant(.null) = argument { return nil }
                return operand(argument).valueType
            }
            return functionType(f.name, types) ?? staticType(e)
        case .scalarSubquery(let subquery):
            // Its one column's type, as the subquery's plan gives it (an array only with its elements' type).
            guard let column = subquery.plan.columns.first else { return .any }
            if column.type == .array { return column.element == nil ? .any : .array }
            return column.type.valueType
        default:
            return staticType(e)
        }
    }

    /// The result type of a library function whose type follows from its arguments', as its
    /// implementation (`ScalarFunction.library`) gives values; nil when the values could tell
    /// only. Drivers that describe a statement before running it decode by this, so it must be
    /// exactly the values' type: `round(x, n)` of an integer is left unknown (a negative `n`
    /// gives a float), and so are `greatest` and `coalesce` over operands of different types
    /// (the chosen operand keeps its own).
    /// `arguments`: their types, nil for a NULL constant.
    static func functionType(_ name: String, _ arguments: [DataType?]) -> DataType? {
        let first = (arguments.first ?? nil) ?? .any
        switch name {
        case "abs", "floor", "ceil", "ceiling", "trunc", "truncate", "round":
            // `round(i, n)` of an integer with a negative n is a float; `trunc(i, n)` stays an integer.
            if first == .integer { return arguments.count == 1 || name == "trunc" || name == "truncate" ? .integer : nil }
            return first == .decimal || first == .float ? first : nil
        case "sign":
            return first == .integer ? .integer : ([.float, .decimal].contains(first) ? .float : nil)
        case "sqrt", "cbrt", "power", "pow", Parser.powerOperator, "exp", "ln", "log", "log10", "pi", "random", "sin", "cos", "tan", "asin", "acos",
             "atan", "atan2", "cot", "degrees", "radians":
            return .float
        case "mod":
            return arguments.count == 2 && arguments.allSatisfy({ $0 == DataType.integer }) ? .integer : nil
        case "length", "char_length", "character_length", "octet_length", "bit_length", "strpos", "position", "instr":
            return .integer
        case "coalesce", "ifnull", "nvl", "greatest", "least":
            // Every operand but NULLs of one known type (each value keeps its own type).
            let types = Set(arguments.compactMap { $0 })
            guard types.count == 1, let only = types.first, only != .any else { return nil }
            return only
        case "nullif":
            return first == .any ? nil : first
        case "current_date": return .date
        case "gen_random_uuid", "uuid_generate_v4": return .uuid
        case "date_trunc": return arguments.count == 2 && [DataType.timestamp, .date].contains(arguments[1]) ? .timestamp : nil
        default: return nil
        }
    }

    /// The declared type of an expression when it is known before execution (`.any` otherwise).
    func staticType(_ e: BoundExpr, _ ctx: BindingContext) -> DataType {
        if case .column(let i) = e {
            // Above an aggregation, a group key's or an aggregate's type (`j || '{…}'` after GROUP BY j).
            guard ctx.aggregation == nil else { return Self.type(of: e, scope: ctx.scope, aggregation: ctx.aggregation, parameters: parameterTypes).valueType }
            if i < ctx.scope.columns.count { return ctx.scope.columns[i].type.valueType }
        }
        if case .outer(let depth, let i) = e {  // an enclosing query's column
            var scope: Scope? = ctx.scope
            for _ in 0..<depth { scope = scope?.parent }
            if let scope, i < scope.columns.count { return scope.columns[i].type.valueType }
        }
        if case .arithmetic(let op, let a, let b) = e {
            let ta = staticType(a, ctx), tb = staticType(b, ctx)
            let numeric: Set<DataType> = [.integer, .float, .decimal]
            if let temporal = Self.temporalArithmeticType(op, ta, tb, numeric: numeric) { return temporal }
            guard numeric.contains(ta), numeric.contains(tb) else { return .any }
            if ta == .float || tb == .float { return .float }
            if ta == .decimal || tb == .decimal { return .decimal }
            return .integer
        }
        if case .negate(let inner) = e { return staticType(inner, ctx) }
        if case .concat(let a, let b) = e, staticType(a, ctx) == .json, staticType(b, ctx) == .json { return .json }  // jsonb || jsonb
        return Planner.staticType(e)
    }

    /// The type of date, timestamp and interval arithmetic (`timestamp - timestamp` is an
    /// interval, `date + interval` a timestamp …), nil for other operands.
    static func temporalArithmeticType(_ op: String, _ a: DataType, _ b: DataType, numeric: Set<DataType>) -> DataType? {
        let moments: Set<DataType> = [.timestamp, .date]
        switch (a, b) {
        case (.duration, .duration): return op == "+" || op == "-" ? .duration : nil
        case (.duration, _) where numeric.contains(b), (_, .duration) where numeric.contains(a): return op == "*" || op == "/" ? .duration : nil
        case (_, .duration) where moments.contains(a), (.duration, _) where moments.contains(b): return op == "+" || op == "-" ? .timestamp : nil
        case (.timestamp, .timestamp), (.timestamp, .date), (.date, .timestamp): return op == "-" ? .duration : nil
        // A date and a number of days: a date; two dates: the days between them.
        case (.date, .integer): return op == "+" || op == "-" ? .date : nil
        case (.integer, .date): return op == "+" ? .date : nil
        case (.date, .date): return op == "-" ? .integer : nil
        default: return nil
        }
    }
}
