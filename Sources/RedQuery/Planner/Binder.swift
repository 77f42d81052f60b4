import RedCore

/// Name scope of one query level; `parent` is the enclosing query's scope
/// (correlated subqueries resolve names there, as `outer` references).
final class Scope: @unchecked Sendable {
    let columns: [ScopeColumn]
    let parent: Scope?
    /// Positions of this scope that inner subqueries read (marks them correlated).
    var captured = Set<Int>()
    /// Whether a name was resolved in a scope further out than this one from inside it: the
    /// subquery this scope encloses then changes with that outer row even if it reads none
    /// of this scope's columns.
    var passedThrough = false
    /// Every position any bound expression reads (table scans skip decoding the rest).
    var used = Set<Int>()
    /// The positions `*` expands to, in order, when it is not simply every visible column
    /// (JOIN … USING lists its merged columns first, once).
    var starOrder: [Int]?
    /// Names are not looked up further out than this scope (an inlined SQL function's body
    /// sees its arguments, never its caller's columns: `Select.isolatesNames`).
    var barrier = false

    init(_ columns: [ScopeColumn], parent: Scope?) {
        self.columns = columns
        self.parent = parent
    }
}

/// Aggregation state while binding the expressions above a GROUP BY.
final class AggregationState {
    let inputScope: Scope
    let groupKeys: [Expr]
    let boundKeys: [BoundExpr]
    var calls: [AggregateCall] = []
    var callASTs: [FunctionCall] = []
    init(inputScope: Scope, groupKeys: [Expr], boundKeys: [BoundExpr]) {
        self.inputScope = inputScope; self.groupKeys = groupKeys; self.boundKeys = boundKeys
    }
}

/// Window calls collected while binding a SELECT list and ORDER BY.
final class WindowState {
    static let sentinelBase = 1_000_000
    var calls: [WindowCall] = []
}

/// Where an expression is being bound, which decides what it may contain.
struct BindingContext {
    var scope: Scope
    var aggregation: AggregationState?
    var windows: WindowState?
    /// Clause name for "not allowed here" errors; nil when aggregates are allowed.
    var aggregatesForbiddenIn: String?
    /// The query's `WINDOW name AS (…)` definitions.
    var namedWindows: [String: WindowSpec] = [:]
}

extension Planner {
    func bind(_ expr: Expr, _ ctx: BindingContext) throws -> BoundExpr {
        if case .column(let path) = expr, path.count == 2, path[1] == "*" { return try bind(.column([path[0]]), ctx) }  // `t.*`: the whole row
        if let aggregation = ctx.aggregation {
            if let k = aggregation.groupKeys.firstIndex(of: expr) { return .column(k) }
            switch expr {
            case .function(let call) where call.over == nil && AggregateKind.isAggregate(call.name):
                return try bindAggregate(call, aggregation)
            case .column(let path):
                let inner = BindingContext(scope: aggregation.inputScope, aggregation: nil, windows: nil, aggregatesForbiddenIn: "GROUP BY")
                let bound = try bind(expr, inner)
                if case .column(let i) = bound, let k = aggregation.boundKeys.firstIndex(where: { if case .column(i) = $0 { return true } else { return false } }) {
                    return .column(k)
                }
                if case .outer = bound { return bound }
                if isRoutineVariable(path, aggregation.inputScope) { return bound }  // a value of the block's, the same for every row
                throw RedError(.groupingError, "column \"\(path.joined(separator: "."))\" must appear in the GROUP BY clause or be used in an aggregate function")
            case .star:
                throw RedError(.groupingError, "SELECT * cannot be combined with GROUP BY or aggregates; name the grouped columns")
            default: break
            }
        }
        switch expr {
        case .literal(let v): return .constant(v)
        case .parameter(let n):
            parameterCount = max(parameterCount, n)
            return .parameter(n)
        case .column(let path):
            do {
                return try resolve(path, ctx.scope)
            } catch let error as RedError where error.code == .undefinedColumn {
                guard let read = routineVariable(path, ctx.scope) else { throw error }
                return try bind(read, ctx)
            }
        case .star: throw RedError(.syntaxError, "* is only allowed in a SELECT list or count(*)")
        case .unary(let op, let e):
            let inner = try bind(e, ctx)
            return op == "not" ? .not(inner) : .negate(inner)
        case .binary(let op, let a, let b):
            return try bindBinary(op, try bind(a, ctx), try bind(b, ctx), ctx)
        case .isNull(let e, let negated): return .isNull(try bind(e, ctx), negated: negated)
        case .isDistinctFrom(let a, let b, let negated): return .distinctFrom(try bind(a, ctx), try bind(b, ctx), negated: negated)
        case .between(let e, let lo, let hi, let negated):
            let (value, low, high) = (try bind(e, ctx), try bind(lo, ctx), try bind(hi, ctx))
            noteParameterTypes([low, high], from: value, ctx)
            let bounds = readingTextAsInstants(readingTextAsTimestamps([low, high], against: value, ctx), against: value, ctx)
            if let labels = EnumOrder.labels(of: value, ctx) {
                return .between(EnumOrder.sortKey(value, labels: labels), EnumOrder.sortKey(bounds[0], labels: labels),
                                EnumOrder.sortKey(bounds[1], labels: labels), negated: negated)
            }
            return .between(value, bounds[0], bounds[1], negated: negated)
        case .inList(let e, let items, let negated):
            let value = try bind(e, ctx)
            var bound = readingTextAsInstants(readingTextAsTimestamps(try items.map { try bind($0, ctx) }, against: value, ctx), against: value, ctx)
            noteParameterTypes(bound, from: value, ctx)
            // `code IN ('ab ', …)` on a char(n) column: the items without trailing spaces, as `=` compares.
            if isBlankPadded(value, ctx) { bound = try bound.map { isBlankPadded($0, ctx) ? $0 : try withoutTrailingSpaces($0) } }
            return .inList(value, bound, negated: negated)
        case .inSubquery(let e, let query, let negated):
            let plan = try planSubquery(query, ctx)
            let width = plan.plan.columns.count
            if width > 1, case .array(let items) = e, items.count == width {
                // `(a, b) IN (SELECT x, y …)`: each row of the subquery as one row value, compared as `(a, b)` is.
                let rows = ProjectNode(plan.plan, [.array((0..<width).map { BoundExpr.column($0) })],
                                       [ScopeColumn(qualifier: nil, name: "row", type: .array)])
                let wrapped = SubqueryPlan(plan: rows, outerColumns: plan.outerColumns, readsFurtherOut: plan.readsFurtherOut)
                return .inSubquery(try bind(e, ctx), wrapped, negated: negated)
            }
            guard width == 1 else { throw RedError(.syntaxError, width > 1 ? "subquery has too many columns" : "subquery has too few columns") }
            return .inSubquery(try bind(e, ctx), plan, negated: negated)
        case .quantified(let op, let e, let all, let source):
            return try bindQuantified(op, e, all: all, source, ctx)
        case .exists(let query, let negated): return .exists(try planSubquery(query, ctx), negated: negated)
        case .subquery(let query):
            let plan = try planSubquery(query, ctx)
            guard plan.plan.columns.count == 1 else { throw RedError(.syntaxError, "subquery must return only one column") }
            return .scalarSubquery(plan)
        case .like(let e, let p, let ci, let negated):
            return .like(try bind(e, ctx), try bind(p, ctx), caseInsensitive: ci, negated: negated)
        case .caseWhen(let operand, let branches, let otherwise):
            let boundBranches = try branches.map { (try bind($0.condition, ctx), try bind($0.result, ctx)) }
            var results = boundBranches.map(\.1) + (try otherwise.map { [try bind($0, ctx)] } ?? [])
            results = try unifyLiterals(results, ctx)
            return .caseWhen(operand: try operand.map { try bind($0, ctx) },
                             branches: zip(boundBranches, results).map { ($0.0, $1) },
                             otherwise: otherwise == nil ? nil : results.last)
        case .cast(let e, let type):
            return try bindCast(e, to: type, ctx)
        case .array(let items): return .array(try items.map { try bind($0, ctx) })
        case .function(let call):
            return try bindFunction(call, ctx)
        }
    }

    /// Binary operators, apart from `bind` so that its frame, one per level of a deep
    /// expression, stays small (a debug build recursing 900 levels came within 8 MiB).
    func bindBinary(_ op: String, _ l: BoundExpr, _ r: BoundExpr, _ ctx: BindingContext) throws -> BoundExpr {
        switch op {
        case "and": return .and(l, r)
        case "or": return .or(l, r)
        case "||":
            if isArrayTyped(l, ctx) || isArrayTyped(r, ctx) { return try bindArrayConcatenation(l, r, ctx) }
            // `jsonb || '{"a": 1}'`: the untyped literal takes the JSON side's type, as in PostgreSQL.
            if staticType(l, ctx) == .json, case .constant(.text(let t)) = r { return .concat(l, .constant(try DataType.json.coerce(.text(t)))) }
            if staticType(r, ctx) == .json, case .constant(.text(let t)) = l { return .concat(.constant(try DataType.json.coerce(.text(t))), r) }
            // An instant is written with the session's offset, as its text is.
            func written(_ e: BoundExpr) -> BoundExpr { isZoned(e, ctx) ? .function(SessionZoneFunctions.instantText, [e]) : e }
            return .concat(written(l), written(r))
        case "+", "-", "*", "/", "%":
            // `$1 + 1` takes the other operand's numeric type, as PostgreSQL resolves unknowns.
            let numeric: Set<DataType> = [.integer, .float, .decimal]
            if case .parameter(let n) = l, numeric.contains(staticType(r, ctx)) { noteParameterType(n, staticType(r, ctx)) }
            if case .parameter(let n) = r, numeric.contains(staticType(l, ctx)) { noteParameterType(n, staticType(l, ctx)) }
            // TIME is held as text, so its arithmetic is chosen here, by the declared types.
            let (leftTime, rightTime) = (isTimeTyped(l, ctx), isTimeTyped(r, ctx))
            if op == "+" || op == "-", leftTime || rightTime {
                let bothTimes = leftTime && rightTime
                if bothTimes, op == "+" { throw RedError(.ambiguousFunction, "operator is not unique: time + time") }
                let call = BoundExpr.function(IntervalArithmetic.timeOfDayFunction, [.constant(.text(op)), l, r])
                // time - time is an interval, date + time a timestamp, time ± interval a time.
                let onDate = op == "+" && (staticType(l, ctx) == .date || staticType(r, ctx) == .date)
                return .cast(call, bothTimes ? .duration : (onDate ? .timestamp : .time))
            }
            if let shifted = sessionZoneShift(op, l, r, ctx) { return shifted }
            // An instant less a wall-clock time, a date or text: that taken as an instant first.
            if op == "-", isZoned(l, ctx), let instant = instantOperand(r, ctx) { return .arithmetic(op, l, instant) }
            if op == "-", isZoned(r, ctx), let instant = instantOperand(l, ctx) { return .arithmetic(op, instant, r) }
            return .arithmetic(op, l, r)
        default:
            if case .array(let left) = l, case .array(let right) = r, left.count == right.count, left.count > 1,
               ["=", "<>", "<", "<=", ">", ">="].contains(op) {
                return try bindRowComparison(op, left, right, ctx)
            }
            try checkComparable(l, r, op, ctx)
            // Text against a `timestamp` reads as one (`readingTextAsTimestamps`).
            if case .constant(.text) = r, case let read = readingTextAsTimestamps([r], against: l, ctx)[0], case .constant(.timestamp) = read {
                return try bindBinary(op, l, read, ctx)
            }
            if case .constant(.text) = l, case let read = readingTextAsTimestamps([l], against: r, ctx)[0], case .constant(.timestamp) = read {
                return try bindBinary(op, read, r, ctx)
            }
            // Text against an instant reads as one on the session's clocks (`readingTextAsInstants`).
            if isZoned(l, ctx), let instant = instantOperand(r, ctx) { return .comparison(op, l, instant) }
            if isZoned(r, ctx), let instant = instantOperand(l, ctx) { return .comparison(op, instant, r) }
            if ["<", "<=", ">", ">="].contains(op), let (x, y) = EnumOrder.comparable(l, r, ctx) { return .comparison(op, x, y) }
            if isBlankPadded(l, ctx) != isBlankPadded(r, ctx) {
                // A `char(n)` column against text compares without trailing spaces, as PostgreSQL's
                // bpchar does: the column's values are stored without them, so the other side drops its own.
                return .comparison(op, isBlankPadded(l, ctx) ? l : try withoutTrailingSpaces(l), isBlankPadded(r, ctx) ? r : try withoutTrailingSpaces(r))
            }
            return .comparison(op, l, r)
        }
    }

    /// A `char(n)` column, selected as it is.
    func isBlankPadded(_ e: BoundExpr, _ ctx: BindingContext) -> Bool {
        guard ctx.aggregation == nil, case .column(let i) = e, i < ctx.scope.columns.count,
              let surfaceType = ctx.scope.columns[i].surfaceType else { return false }
        return DeclaredType(surfaceName: surfaceType)?.kind == .bpchar
    }

    /// `e` with its trailing spaces dropped: folded for a literal, else `rtrim(e, ' ')`.
    func withoutTrailingSpaces(_ e: BoundExpr) throws -> BoundExpr {
        if case .constant(.text(let s)) = e { return .constant(.text(DeclaredType.withoutTrailingSpaces(s))) }
        guard !e.isConstant else { return e }
        return .function(try ScalarFunction.lookup("rtrim", argumentCount: 2), [e, .constant(.text(" "))])
    }

    /// Function calls (scalar, window or misplaced aggregate), apart from `bind` for the same reason.
    func bindFunction(_ call: FunctionCall, _ ctx: BindingContext) throws -> BoundExpr {
        if let over = call.over { return try bindWindow(call, over, ctx) }
        if AggregateKind.isAggregate(call.name) {
            if let clause = ctx.aggregatesForbiddenIn {
                throw RedError(.groupingError, "aggregate functions are not allowed in \(clause)")
            }
            throw RedError(.groupingError, "aggregate function calls cannot be nested")
        }
        if WindowCall.function(named: call.name, star: call.star, distinct: false) != nil, AggregateKind.named(call.name, star: call.star) == nil {
            throw RedError(.syntaxError, "window function \(call.name) requires an OVER clause")
        }
        if call.name == "__default" { throw RedError(.syntaxError, "DEFAULT is not allowed in this context") }
        if SetReturningCalls.isSetReturning(call) {
            throw RedError(.featureNotSupported, "set-returning function \(call.name)() is only allowed in FROM or directly in a select list")
        }
        // `nextval('s'::regclass)` (how PostgreSQL shows a serial's default, and pg_dump writes
        // it): the sequence functions take the name's text, so the cast is dropped.
        if ["nextval", "currval", "setval"].contains(call.name), let first = call.arguments.first,
           case .function(let inner) = first, inner.name == Parser.surfaceCast, inner.arguments.count == 2,
           case .literal(.text("regclass")) = inner.arguments[1] {
            var plain = call
            plain.arguments[0] = inner.arguments[0]
            return try bind(.function(plain), ctx)
        }
        if call.name == Parser.surfaceCast, call.arguments.count == 2, case .literal(.text(let typeName)) = call.arguments[1] {
            if typeName == "jsonpath" {  // checked, and written as PostgreSQL writes a jsonpath
                return .function(try ScalarFunction.lookup(JSONPathFunctions.castName, argumentCount: 1), [try bind(call.arguments[0], ctx)])
            }
            if let labels = try EnumTypeCatalog.labels(of: typeName, context.transaction) {
                // `'ok'::mood`: the text, if it is one of the enum type's labels.
                return .function(try ScalarFunction.lookup(EnumTypeCatalog.castFunction, argumentCount: 3),
                                 [try bind(call.arguments[0], ctx), .constant(.text(typeName)), .constant(.json(.array(labels.map { .string($0) })))])
            }
            if let domain = try DomainCatalog.definition(of: typeName, context.transaction) {
                return try bindDomainCast(call.arguments[0], to: typeName, domain, ctx)
            }
            if let builtin = DataType(sqlName: typeName), !DataType.isPostgresTypeName(typeName) {
                return try bind(.cast(call.arguments[0], builtin), ctx)  // `::email`: RedDB's type, no domain having taken the name
            }
            guard let cast = context.surfaceCatalog?.cast(to: typeName) else {
                throw RedError(.undefinedObject, "type \"\(typeName)\" does not exist")
            }
            return try bindSurfaceFunction(cast, name: typeName, [call.arguments[0]], ctx)
        }
        if let function = context.surfaceCatalog?.function(named: call.name) {
            return try bindSurfaceFunction(function, name: call.name, call.arguments, ctx)
        }
        if call.name == "timezone", call.arguments.count == 2 { return try bindTimeZoneConversion(call.arguments, ctx) }
        if call.name == "pg_typeof", call.arguments.count == 1 { return try bindTypeOf(call.arguments[0], ctx) }
        if call.name == ArrayTextCast.raiseText.name, call.arguments.count == 1 { return try bindRaiseText(call.arguments[0], ctx) }
        if call.name == "date_trunc", call.arguments.count == 3 { return try bindZonedDateTrunc(call.arguments, ctx) }
        if call.name == DeclaredCast.name, call.arguments.count == 2, case .cast(_, .timestamp) = call.arguments[0],
           case .literal(.text(let surfaceName)) = call.arguments[1], DeclaredType.isInstant(surfaceName: surfaceName) {
            nextTimestampCastIsInstant = true  // `::timestamptz`: text with a zone names an instant
        }
        defer { nextTimestampCastIsInstant = false }  // taken by the argument's cast, or by none (a GROUP BY key)
        if call.name == "__subscript", call.arguments.count == 2, case .column(["tg_argv"]) = call.arguments[0],
           context.routineVariables?.byName["tg_nargs"] != nil, isRoutineVariable(["tg_argv"], ctx.scope),
           let read = routineVariable(["tg_argv"], ctx.scope) {
            // A trigger's TG_ARGV counts from 0, as PostgreSQL's does (its lower bound is 0).
            var shifted = call
            shifted.arguments[0] = read
            shifted.arguments[1] = .binary("+", call.arguments[1], .literal(.integer(1)))
            return try bind(.function(shifted), ctx)
        }
        if !ScalarFunction.isBuiltIn(call.name) {
            if call.name == Self.argumentMarker { return try bindArgument(call, ctx) }
            if let bound = try bindSQLFunctionCall(call, ctx) { return bound }
            if !Planner.populateFunctions.contains(call.name) {
                throw RedError(.undefinedFunction, "function \(call.name)(\(try argumentTypeNames(call.arguments, ctx))) does not exist",
                               detail: "No function matches the given name and argument types. You might need to add explicit type casts.")
            }
        }
        var function = try ScalarFunction.lookup(call.name, argumentCount: call.arguments.count)
        var arguments: [BoundExpr] = []
        for (i, argument) in call.arguments.enumerated() {
            // `m[1][2]`: the inner subscript picks a row of a 2-D array, so it is not typed as an element.
            let chained = i == 0 && call.name == "__subscript" && { if case .function(let inner) = argument { return inner.name == "__subscript" }; return false }()
            if chained { subscriptChain += 1 }
            defer { if chained { subscriptChain -= 1 } }
            arguments.append(try bind(argument, ctx))
        }
        if call.name == "__array_cast", case .parameter(let n) = arguments[0], parameterTypes[n] == nil,
           case .constant(.text(let elementName)) = arguments[1], let element = DataType(rawValue: elementName) {
            // `$1::text[]`, `$1::oid[]` (asyncpg's type lookup): Describe reports the array type.
            let surface: String? = if arguments.count == 3, case .constant(.text(let name)) = arguments[2] { "\(name)[]" } else { nil }
            noteParameterType(n, column: .array, element: element, surfaceType: surface)
        }
        if call.name == DeclaredCast.name, case .cast(let operand, let type) = arguments[0], let n = Self.castParameter(operand), parameterTypes[n] == type,
           parameterSurfaceTypes[n] == nil, case .constant(.text(let surface)) = arguments[1] {
            parameterSurfaceTypes[n] = surface  // `$1::int4`, `$1::timestamptz`
        }
        if call.name == DeclaredCast.name, case .constant(.text(let surface)) = arguments[1], let declared = DeclaredType(surfaceName: surface) {
            function = DeclaredCast.applying(declared)
        }
        if call.name == "__json_contains", isArrayTyped(arguments[0], ctx) || isArrayTyped(arguments[1], ctx) {
            // `@>` / `<@` between arrays: every element of the one is in the other, as PostgreSQL's anyarray operators.
            function = try ScalarFunction.lookup("__array_contains", argumentCount: 2)
        }
        if call.name == "__subscript", case .column(let i) = arguments[0], ctx.aggregation == nil, i < ctx.scope.columns.count,
           ctx.scope.columns[i].surfaceType == "name" {
            // A catalog's `name` column: PostgreSQL subscripts it as an array of characters from 0 (`typname[0] = '_'`).
            function = ScalarFunction(name: "__name_character", arity: 2...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
                guard case .text(let name) = a[0], case .integer(let i) = try DataType.integer.coerce(a[1]), i >= 0, i < name.utf8.count else { return .null }
                return .text(String(decoding: [Array(name.utf8)[Int(i)]], as: UTF8.self))
            }
        }
        if call.name == "__subscript", isArrayTyped(arguments[0], ctx) {
            // `tags[1]` on an array counts from 1, as PostgreSQL's arrays do; JSON stays 0-based (jsonb's subscripts).
            function = try ScalarFunction.lookup("__array_subscript", argumentCount: 2)
            if subscriptChain == 0, let element = Self.elementType(of: arguments[0], scope: ctx.scope, aggregation: ctx.aggregation) {
                // Of a `T[]`, a T: converted so (elements of some types are kept as text), and NULL
                // where the subscript reaches an inner array, as PostgreSQL gives for too few subscripts.
                let picked = BoundExpr.function(function, arguments)
                return .cast(.function(try ScalarFunction.lookup("__array_element", argumentCount: 1), [picked]), element)
            }
        }
        if ScalarFunction.textFunctions.contains(call.name), let first = arguments.first,
           [.integer, .float, .decimal, .boolean].contains(staticType(first, ctx)) {
            throw RedError(.undefinedFunction, "function \(call.name)(\(staticType(first, ctx).rawValue)) does not exist")
        }
        if let zoned = try sessionZoneCall(call.name, arguments, ctx) { return zoned }
        if ["coalesce", "greatest", "least", "nullif"].contains(call.name) { arguments = try unifyLiterals(arguments, ctx) }
        if call.name == "round", arguments.count == 1, staticType(arguments[0], ctx) == .float, !arguments[0].isConstant {
            function = ScalarFunction.roundHalfEven
        }
        return .function(function, arguments)
    }

    /// A surface's function or cast (`SurfaceCatalog`), called with the statement's catalog and
    /// typed as the surface declares (PG-wire describes the column by it).
    func bindSurfaceFunction(_ function: SurfaceFunction, name: String, _ arguments: [Expr], _ ctx: BindingContext) throws -> BoundExpr {
        guard function.arity.contains(arguments.count) else {
            throw RedError(.undefinedFunction, "function \(name) does not accept \(arguments.count) argument\(arguments.count == 1 ? "" : "s")")
        }
        let bound = try arguments.map { try bind($0, ctx) }
        bindsSurfaceFunctions = true
        let body = function.body
        let scalar = ScalarFunction(name: name, arity: function.arity, acceptsNull: !function.strict, isDeterministicWithinStatement: true) { values, context in
            try body(values, try context.catalogSnapshot())
        }
        var call = BoundExpr.function(scalar, bound)
        if let element = function.resultElement {
            // Typed the way `'{…}'::T[]` is, so the plan knows the elements (`elementType(of:)`).
            call = .function(try ScalarFunction.lookup("__array_cast", argumentCount: 2), [call, .constant(.text(element.rawValue))])
        }
        return function.resultType == .any ? call : .cast(call, function.resultType)
    }

    /// `a || b` with an array on one side, as PostgreSQL resolves it: the other side is an
    /// array too when it is one, an untyped `'{…}'` literal or a parameter (concatenation);
    /// an element when its type is a scalar one (append / prepend); and when its type is only
    /// known at run time (`COALESCE(tags, '{}')`, a subquery), decided by its value
    /// (`__array_join`: an array or NULL concatenates, anything else is an element).
    func bindArrayConcatenation(_ l: BoundExpr, _ r: BoundExpr, _ ctx: BindingContext) throws -> BoundExpr {
        enum Kind { case array, element, unknown }
        func kind(_ e: BoundExpr) -> Kind {
            if isArrayTyped(e, ctx) { return .array }
            switch e {
            case .parameter: return .array
            case .constant(.text(let t)): return t.trimmingSpaces().hasPrefix("{") ? .array : .element
            case .constant(.null): return .array  // an untyped NULL is an array: `a || NULL` is `a`
            default: break
            }
            let type = staticType(e, ctx)
            return type == .any || type == .json ? .unknown : .element
        }
        let (left, right) = (kind(l), kind(r))
        let name: String
        var arguments = [l, r]
        switch (left, right) {
        case (.array, .array): name = "array_cat"
        case (.array, .element): name = "array_append"
        case (.element, .array): name = "array_prepend"
        case (.array, .unknown):
            name = "__array_join"; arguments.append(.constant(.boolean(true)))
        default:  // (.unknown, .array): one side is always an array here
            name = "__array_join"; arguments = [r, l, .constant(.boolean(false))]
        }
        return .function(try ScalarFunction.lookup(name, argumentCount: arguments.count), arguments)
    }

    /// `x op ANY|ALL (subquery)` or `(array)`.
    func bindQuantified(_ op: String, _ e: Expr, all: Bool, _ source: Expr, _ ctx: BindingContext) throws -> BoundExpr {
        let value = try bind(e, ctx)
        if case .subquery(let query) = source {
            let plan = try planSubquery(query, ctx)
            guard plan.plan.columns.count == 1 else { throw RedError(.syntaxError, "subquery has too many columns") }
            return .quantified(op, value, all: all, .subquery(plan))
        }
        let array = try bind(source, ctx)
        if case .parameter(let n) = array, parameterTypes[n] == nil {
            // `x = ANY($1)`: $1 is an array of x's type (drivers bind a list, typed by Describe).
            // Of an unknown type it stays untyped: text such as '{1,2}' is then read as an array.
            let element = staticType(value, ctx)
            if element != .any {
                noteParameterType(n, .array)
                parameterArrayElements[n] = element
            }
        }
        return .quantified(op, value, all: all, .array(array))
    }

    /// A TIME value by its declared type: a TIME column or a cast to TIME.
    func isTimeTyped(_ e: BoundExpr, _ ctx: BindingContext) -> Bool {
        switch e {
        case .cast(_, .time): return true
        case .column(let i): return ctx.aggregation == nil && i < ctx.scope.columns.count && ctx.scope.columns[i].type == .time
        default: return false
        }
    }

    /// An ARRAY value: a column declared `TEXT[]`/`ARRAY`, an `ARRAY[…]` constructor or a cast to an array.
    func isArrayTyped(_ e: BoundExpr, _ ctx: BindingContext) -> Bool {
        switch e {
        case .array, .cast(_, .array): return true
        case .function(let f, let arguments):
            if ["coalesce", "nullif", "greatest", "least"].contains(f.name) { return arguments.contains { isArrayTyped($0, ctx) } }
            if f.name == "__array_subscript" { return true }  // `m[1]` of `m[1][2]`: a row of the array
            return ScalarFunction.resultTypes[f.name] == .array
        case .column(let i):
            // Above an aggregation a column is a group key or an aggregate (`array_agg(x)`).
            if let aggregation = ctx.aggregation { return Self.type(of: e, scope: ctx.scope, aggregation: aggregation) == .array }
            return i < ctx.scope.columns.count && ctx.scope.columns[i].type == .array
        case .outer(let depth, let i):
            // A correlated reference (`WHERE x = t.tags[1]` in a subquery): the enclosing scope's column.
            var scope: Scope? = ctx.scope
            for _ in 0..<depth { scope = scope?.parent }
            guard let scope, i < scope.columns.count else { return false }
            return scope.columns[i].type == .array
        default: return false
        }
    }

    /// Parameters among `items` take the type of `value` (`x IN ($1, $2)`, `x BETWEEN $1 AND $2`).
    func noteParameterTypes(_ items: [BoundExpr], from value: BoundExpr, _ ctx: BindingContext) {
        let type = staticType(value, ctx)
        for item in items { if case .parameter(let n) = item { noteParameterType(n, like: value, type, ctx) } }
    }

    /// PostgreSQL's rule for comparisons: a text column meets a number only through an explicit cast.
    func checkComparable(_ l: BoundExpr, _ r: BoundExpr, _ op: String, _ ctx: BindingContext) throws {
        let lt = staticType(l, ctx), rt = staticType(r, ctx)
        if case .parameter(let n) = l { noteParameterType(n, like: r, rt, ctx) }
        if case .parameter(let n) = r { noteParameterType(n, like: l, lt, ctx) }
        let numeric: Set<DataType> = [.integer, .float, .decimal]
        if (lt == .text && !l.isConstant && numeric.contains(rt)) || (rt == .text && !r.isConstant && numeric.contains(lt)) {
            throw RedError(.undefinedFunction, "operator does not exist: \(lt.rawValue) \(op) \(rt.rawValue); add an explicit cast")
        }
    }

    /// Untyped text literals among typed alternatives (COALESCE, CASE …) take the others' type
    /// now, as PostgreSQL resolves them, so `COALESCE(1, 'a')` fails with 22P02.
    func unifyLiterals(_ exprs: [BoundExpr], _ ctx: BindingContext) throws -> [BoundExpr] {
        // Beside an array, a text literal is an array in PostgreSQL's spelling (`COALESCE(tags, '{}')`).
        if exprs.contains(where: { isArrayTyped($0, ctx) }) {
            return try exprs.map { e in
                if case .constant(.text(let s)) = e { return .cast(.constant(try DataType.array.coerce(.text(s))), .array) }
                return e
            }
        }
        let typed = exprs.map { staticType($0, ctx) }.filter { ![.any, .text].contains($0) }
        let numeric: Set<DataType> = [.integer, .float, .decimal]
        guard let target = typed.first, typed.allSatisfy({ $0 == target || (numeric.contains($0) && numeric.contains(target)) }) else { return exprs }
        let resolved: DataType = typed.contains(.float) ? .float : (typed.contains(.decimal) ? .decimal : target)
        return try exprs.map { e in
            if case .constant(.text(let s)) = e { return .constant(try resolved.coerce(.text(s))) }
            return e
        }
    }

    func bindAggregate(_ call: FunctionCall, _ aggregation: AggregationState) throws -> BoundExpr {
        guard let kind = AggregateKind.named(call.name, star: call.star) else { throw RedError(.undefinedFunction, "function \(call.name) does not exist") }
        if call.star, call.name != "count" { throw RedError(.syntaxError, "\(call.name)(*) is not valid; only count(*) takes *") }
        let groupCount = aggregation.groupKeys.count
        if let j = aggregation.callASTs.firstIndex(of: call) { return .column(groupCount + j) }
        let inner = BindingContext(scope: aggregation.inputScope, aggregation: nil, windows: nil, aggregatesForbiddenIn: nil)
        var arguments = try call.arguments.map { try bind($0, inner) }
        if kind == .jsonAgg || kind == .jsonObjectAgg {
            // An instant in JSON is written with the session's offset, as `to_json` writes it.
            arguments = arguments.map { isZoned($0, inner) ? .function(SessionZoneFunctions.instantJSONText, [$0]) : $0 }
        }
        if [.sum, .avg, .stddevPop, .stddevSamp, .varPop, .varSamp].contains(kind), let first = arguments.first,
           [.text, .boolean, .timestamp, .date, .json].contains(staticType(first, inner)) {
            throw RedError(.undefinedFunction, "function \(call.name)(\(staticType(first, inner).rawValue)) does not exist")
        }
        if kind == .grouping {
            // Not an aggregate of values: which keys the row's grouping set leaves out.
            guard !call.arguments.isEmpty, call.arguments.count <= 31 else { throw RedError(.undefinedFunction, "grouping takes 1 to 31 grouping expressions") }
            var bound = AggregateCall(kind: .grouping, arguments: [], distinct: false)
            bound.keyIndices = try call.arguments.map { argument in
                guard let k = aggregation.groupKeys.firstIndex(of: argument) else {
                    throw RedError(.groupingError, "arguments to GROUPING must be grouping expressions of the associated query level")
                }
                return k
            }
            aggregation.calls.append(bound)
            aggregation.callASTs.append(call)
            return .column(groupCount + aggregation.calls.count - 1)
        }
        if !call.star, arguments.isEmpty, kind != .mode { throw RedError(.undefinedFunction, "function \(call.name)() needs an argument") }
        if kind.isOrderedSet {
            guard call.orderBy.count == 1, arguments.count == (kind == .mode ? 0 : 1) else {
                throw RedError(.undefinedFunction, "function \(call.name) takes \(kind == .mode ? "no argument" : "one fraction") and one ORDER BY expression in WITHIN GROUP")
            }
        }
        var bound = AggregateCall(kind: kind, arguments: arguments, distinct: call.distinct)
        bound.filter = try call.filter.map { try bind($0, inner) }
        bound.orderBy = try call.orderBy.map { SortKey(expr: try bind($0.expr, inner), descending: $0.descending, nullsFirst: $0.nullsFirst ?? $0.descending) }
        aggregation.calls.append(bound)
        aggregation.callASTs.append(call)
        return .column(groupCount + aggregation.calls.count - 1)
    }

    func bindWindow(_ call: FunctionCall, _ written: WindowSpec, _ ctx: BindingContext) throws -> BoundExpr {
        var spec = written
        if let name = written.reference {
            guard let base = ctx.namedWindows[name] else { throw RedError(.undefinedObject, "window \"\(name)\" does not exist") }
            guard written.partitionBy.isEmpty else { throw RedError(.windowingError, "cannot override PARTITION BY clause of window \"\(name)\"") }
            if !written.orderBy.isEmpty, !base.orderBy.isEmpty { throw RedError(.windowingError, "cannot override ORDER BY clause of window \"\(name)\"") }
            spec = WindowSpec(partitionBy: base.partitionBy, orderBy: written.orderBy.isEmpty ? base.orderBy : written.orderBy,
                              frame: written.frame ?? base.frame)
        }
        if spec.frame?.unit == .groups, spec.orderBy.isEmpty { throw RedError(.windowingError, "GROUPS mode requires an ORDER BY clause") }
        if !call.orderBy.isEmpty {
            throw RedError(.featureNotSupported, "aggregate ORDER BY is not implemented for window functions")
        }
        guard let windows = ctx.windows else {
            throw RedError(.windowingError, "window functions are not allowed in \(ctx.aggregatesForbiddenIn ?? "this context")")
        }
        guard let function = WindowCall.function(named: call.name, star: call.star, distinct: call.distinct) else {
            throw RedError(.undefinedFunction, "function \(call.name) is not a window function")
        }
        if call.filter != nil {
            guard case .aggregate = function else {
                throw RedError(.featureNotSupported, "FILTER is not implemented for non-aggregate window functions")
            }
        }
        var inner = ctx
        inner.windows = nil
        inner.aggregatesForbiddenIn = ctx.aggregation == nil ? "window function arguments" : nil
        let arguments = try call.arguments.map { try bind($0, inner) }
        let partition = try spec.partitionBy.map { try bind($0, inner) }
        let order = try spec.orderBy.map { SortKey(expr: try bind($0.expr, inner), descending: $0.descending, nullsFirst: $0.nullsFirst ?? $0.descending) }
        let filter = try call.filter.map { try bind($0, inner) }
        windows.calls.append(WindowCall(function: function, arguments: arguments, partitionBy: partition, orderBy: order, frame: spec.frame,
                                        filter: filter))
        return .column(WindowState.sentinelBase + windows.calls.count - 1)
    }

    func planSubquery(_ query: Query, _ ctx: BindingContext) throws -> SubqueryPlan {
        let scope = ctx.aggregation.map { postAggregateScope($0, parent: ctx.scope.parent) } ?? ctx.scope
        let saved = (scope.captured, scope.passedThrough)
        scope.captured = []
        scope.passedThrough = false
        defer {
            scope.captured.formUnion(saved.0)
            scope.passedThrough = scope.passedThrough || saved.1
        }
        let plan = try planQuery(query, outer: scope)
        return SubqueryPlan(plan: plan, outerColumns: scope.captured, readsFurtherOut: scope.passedThrough)
    }

    func postAggregateScope(_ aggregation: AggregationState, parent: Scope?) -> Scope {
        var columns: [ScopeColumn] = []
        for key in aggregation.groupKeys {
            if case .column(let path) = key, let last = path.last {
                columns.append(ScopeColumn(qualifier: path.count > 1 ? path[0] : nil, name: last, type: .any))
            } else {
                columns.append(ScopeColumn(qualifier: nil, name: "?column?", type: .any))
            }
        }
        return Scope(columns, parent: aggregation.inputScope.parent)
    }
}

extension Expr {
    /// True when an aggregate call (not a window call) appears outside subqueries.
    var containsAggregate: Bool {
        switch self {
        case .function(let call):
            if call.over == nil, AggregateKind.isAggregate(call.name) { return true }
            return call.arguments.contains(where: \.containsAggregate)
        case .literal, .column, .parameter, .star, .exists, .subquery: return false
        case .unary(_, let e), .isNull(let e, _), .cast(let e, _): return e.containsAggregate
        case .binary(_, let a, let b), .isDistinctFrom(let a, let b, _), .like(let a, let b, _, _): return a.containsAggregate || b.containsAggregate
        case .between(let a, let b, let c, _): return a.containsAggregate || b.containsAggregate || c.containsAggregate
        case .inList(let e, let items, _): return e.containsAggregate || items.contains(where: \.containsAggregate)
        case .inSubquery(let e, _, _): return e.containsAggregate
        case .quantified(_, let e, _, let source): return e.containsAggregate || source.containsAggregate
        case .caseWhen(let o, let branches, let other):
            return (o?.containsAggregate ?? false) || branches.contains { $0.condition.containsAggregate || $0.result.containsAggregate } || (other?.containsAggregate ?? false)
        case .array(let items): return items.contains(where: \.containsAggregate)
        }
    }
}
