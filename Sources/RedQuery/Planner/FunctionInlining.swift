import RedCore

/// Calls of SQL functions (`FunctionCatalog`), replaced by their bodies as the binder meets
/// them: scalar calls in expressions (`bindSQLFunctionCall`), calls in FROM (`planSQLFunctionRows`).
extension Planner {
    /// `call` bound as its function's body; nil when no SQL function has its name (a built-in
    /// function of the name comes first, as PostgreSQL's pg_catalog does). The body is bound
    /// with the function on the inlining stack, so a call of itself anywhere in it (a default
    /// included) is refused rather than expanded without end.
    func bindSQLFunctionCall(_ call: FunctionCall, _ ctx: BindingContext) throws -> BoundExpr? {
        guard let (function, arguments) = try resolveFunction(call, ctx) else { return nil }
        if function.returnType?.lowercased() == "trigger" {
            throw RedError(.featureNotSupported, "trigger functions can only be called as triggers")
        }
        if function.returnsSet {
            throw RedError(.featureNotSupported, "function \(function.name) returns rows: call it in FROM (SELECT * FROM \(function.name)(…))")
        }
        if function.tableColumns.count > 1 {
            throw RedError(.featureNotSupported, "function \(function.name) returns a record of \(function.tableColumns.count) columns, which is not supported as a value yet: call it in FROM (SELECT * FROM \(function.name)(…))")
        }
        if function.language == "plpgsql" { return try bindPLpgSQLCall(function, arguments, ctx) }
        return try withInlining(function) { try bind(try inlinedValue(function, arguments), ctx) }
    }

    /// `f(args) [AS alias (names)]` in FROM, planned as a query giving the function's rows (one
    /// row for a scalar function: NULL when its body gives none); nil when no SQL function has
    /// the name. A function of one column of a base type names it by the alias, as in PostgreSQL.
    func planSQLFunctionRows(_ call: FunctionCall, alias: String?, names: [String], outer: Scope?) throws -> PlanNode? {
        let ctx = BindingContext(scope: Scope([], parent: outer), aggregatesForbiddenIn: "functions in FROM")
        guard let (function, arguments) = try resolveFunction(call, ctx) else { return nil }
        if function.language == "plpgsql" {
            // Rows, or the one row of its OUT parameters.
            if function.returnsSet || !function.tableColumns.isEmpty { return try planPLpgSQLRows(function, arguments, alias: alias, names: names, ctx) }
            // One value: the row of `SELECT f(…) AS name`.
            var select = Select()
            select.items = [SelectItem(expr: .function(call), alias: names.first ?? alias ?? function.name)]
            _ = arguments
            return try planQuery(Query(body: .select(select)), outer: outer)
        }
        return try withInlining(function) {
            let columns = try resultColumns(function)
            var query: Query
            if function.returnsSet || columns.count > 1 {
                var body = try parametersAsColumns(function, try FunctionCatalog.bodyQuery(function))
                let bodyAlias = "$rows"
                var select = try argumentRow(function, arguments)
                var join = JoinKind.cross, on: Expr?
                if !function.returnsSet {
                    // One record (OUT parameters): the body's first row, or NULLs for none or for
                    // a NULL argument of a STRICT function.
                    if body.limit == nil { body.limit = .literal(.integer(1)) }
                    var first = Select()
                    first.items = [SelectItem(expr: .star(qualifier: nil), alias: nil)]
                    first.from = .subquery(body, alias: "$body", columns: [])
                    first.whereClause = select.whereClause
                    select.whereClause = nil
                    body = Query(body: .select(first))
                    (join, on) = (.left, .literal(.boolean(true)))
                }
                select.from = .join(select.from!, .lateral(.subquery(body, alias: bodyAlias, columns: columns.map(\.name))), join, on: on)
                select.items = try columns.map { column in
                    let value = Expr.column([bodyAlias, column.name])
                    return SelectItem(expr: try column.type.map { try FunctionCatalog.cast(value, to: $0) } ?? value, alias: column.name)
                }
                query = Query(body: .select(select))
            } else {
                var select = Select()
                select.items = [SelectItem(expr: try inlinedValue(function, arguments), alias: columns[0].name)]
                query = Query(body: .select(select))
            }
            let rowTable = try rowTypeTable(function)
            let baseType = function.tableColumns.isEmpty && rowTable == nil
            let named = names.isEmpty && baseType ? alias.map { [$0] } ?? [] : names
            return try planLeaf(.subquery(query, alias: alias ?? function.name, columns: named), outer: outer)
        }
    }

    /// The value of a call of scalar `function`: its body with the arguments in the parameters'
    /// places where that is safe (`directSubstitution`), else a subquery over the argument row
    /// (`argumentRow`), cast to the declared result. `RETURNS void` runs the body and gives NULL.
    private func inlinedValue(_ function: FunctionSpec, _ arguments: [Expr]) throws -> Expr {
        let body = try FunctionCatalog.bodyQuery(function)
        let returnType = function.returnType ?? "text"
        let void = returnType.lowercased() == "void"
        let typed = try zip(arguments, function.arguments).map { try FunctionCatalog.cast($0, to: $1.type) }
        if !void, let direct = try directSubstitution(function, body, typed) {
            return try FunctionCatalog.cast(direct, to: returnType)
        }
        if let i = arguments.firstIndex(where: Self.containsAggregateOrWindow) {
            throw RedError(.featureNotSupported, "argument \(i + 1) of SQL function \(function.name) holds an aggregate or window call, which its body cannot take here; compute it in a subquery first")
        }
        var query = try parametersAsColumns(function, body)
        if query.limit == nil { query.limit = .literal(.integer(1)) }  // a scalar function gives its first row
        var wrapper = try argumentRow(function, arguments)
        if void {
            // Nothing to return, but the body runs (its calls may notify, lock or set): its first
            // row's first column is read, then dropped.
            var run = Select()
            run.items = [SelectItem(expr: .literal(.null), alias: nil)]
            run.from = .subquery(query, alias: "$void", columns: ["$c"])
            run.whereClause = .isNull(.isNull(.column(["$void", "$c"]), negated: false), negated: true)
            wrapper.items = [SelectItem(expr: .subquery(Query(body: .select(run))), alias: nil)]
        } else {
            wrapper.items = [SelectItem(expr: try FunctionCatalog.cast(.subquery(query), to: returnType), alias: nil)]
        }
        return .subquery(Query(body: .select(wrapper)))
    }

    /// The columns of the rows `function` gives, each with the type its values are cast to:
    /// RETURNS TABLE's; a table's (`RETURNS SETOF orders`, its columns' own types); else one
    /// named after the function, as PostgreSQL names it.
    func resultColumns(_ function: FunctionSpec) throws -> [(name: String, type: String?)] {
        if !function.tableColumns.isEmpty { return function.tableColumns.map { ($0.name ?? function.name, $0.type) } }
        if let rowType = try rowTypeTable(function) {
            return try planLeaf(.table(rowType, alias: nil), outer: nil).columns.filter(\.inStar).map { ($0.name, nil) }
        }
        return [(function.name, function.returnType ?? "text")]
    }

    /// The table whose rows `RETURNS SETOF name` gives: a name that is no type but a table's.
    func rowTypeTable(_ function: FunctionSpec) throws -> String? {
        guard let text = function.returnType else { return nil }
        var parser = try Parser("value \(text)")
        guard let named = try parser.parseColumnSpec().namedType,
              try EnumTypeCatalog.labels(of: named, context.transaction) == nil,
              try DomainCatalog.definition(of: named, context.transaction) == nil,
              try context.store.open(context.transaction, named) != nil else { return nil }
        return named
    }

    /// How many columns `function`'s body gives, bound with NULL arguments of their types: what
    /// CREATE FUNCTION checks against the declared result. Binding it also checks that its
    /// tables and columns exist.
    func bodyColumnCount(_ function: FunctionSpec) throws -> Int {
        try withInlining(function) {
            let body = try parametersAsColumns(function, try FunctionCatalog.bodyQuery(function))
            var query = try argumentRow(function, function.arguments.map { _ in .literal(.null) })
            query.whereClause = nil
            query.from = .join(query.from!, .lateral(.subquery(body, alias: "$rows", columns: [])), .cross, on: nil)
            query.items = [SelectItem(expr: .star(qualifier: "$rows"), alias: nil)]
            return try planQuery(Query(body: .select(query)), outer: nil).columns.count
        }
    }

    /// The arguments' PostgreSQL type names, as a message about a call names them (`unknown` for
    /// an untyped literal or NULL).
    func argumentTypeNames(_ arguments: [Expr], _ ctx: BindingContext) throws -> String {
        try arguments.map { argument -> String in
            if case .literal(let value) = argument, value.isNull || { if case .text = value { return true } else { return false } }() { return "unknown" }
            var bound = try bind(argument, ctx)
            return Self.postgresTypeName(outputColumn(&bound, named: "", ctx)) ?? "unknown"
        }.joined(separator: ", ")
    }

    /// The function `call` names and its arguments (defaults filled in); nil when none has the
    /// name. Of several, the one whose argument types the arguments' types match best; each
    /// argument must be of its parameter's type or one PostgreSQL casts to it implicitly
    /// (`integer` to `numeric`, an untyped literal to anything), else 42883 as there.
    private func resolveFunction(_ call: FunctionCall, _ ctx: BindingContext) throws -> (FunctionSpec, [Expr])? {
        let overloads = try FunctionCatalog.overloads(of: call.name, context.transaction)
        guard !overloads.isEmpty else { return nil }
        if call.star || call.distinct || call.filter != nil || !call.orderBy.isEmpty || call.over != nil {
            throw RedError(.invalidOperation, "\(call.name) is not an aggregate or window function: DISTINCT, *, FILTER, ORDER BY and OVER do not apply")
        }
        let given = call.arguments.count
        let fitting = overloads.filter { f in given <= f.arguments.count && given >= f.arguments.prefix { $0.defaultSQL == nil }.count }
        guard !fitting.isEmpty else {
            throw RedError(.undefinedFunction, "function \(call.name) does not take \(given) argument\(given == 1 ? "" : "s"): \(overloads.map { FunctionCatalog.described($0.name, $0.arguments.map(\.type)) }.joined(separator: ", "))")
        }
        try countInlining()
        inliningNesting += 1
        defer { inliningNesting -= 1 }
        let types = try call.arguments.map { argument -> DataType? in
            switch argument {
            case .literal(let value) where value.isNull: return nil
            case .literal(.text): return nil  // an untyped literal fits any type
            default:
                let type = staticType(try bind(argument, ctx), ctx)
                return type == .any ? nil : type
            }
        }
        let scored = try fitting.compactMap { f -> (FunctionSpec, Int)? in
            let identities = try FunctionCatalog.signature(f.arguments.map(\.type))
            var exact = 0
            for (type, identity) in zip(types, identities) {
                guard let type else { continue }
                if type.rawValue == identity { exact += 1 } else if !Self.castsImplicitly(type, to: identity) { return nil }
            }
            return (f, exact)
        }
        guard let best = scored.map(\.1).max() else {
            throw RedError(.undefinedFunction, "function \(call.name)(\(try argumentTypeNames(call.arguments, ctx))) does not exist",
                           detail: "No function matches the given name and argument types. You might need to add explicit type casts.")
        }
        let winners = scored.filter { $0.1 == best }
        guard winners.count == 1 else {
            throw RedError(.ambiguousFunction, "function \(call.name)(\(try argumentTypeNames(call.arguments, ctx))) is not unique; add explicit type casts")
        }
        let function = winners[0].0
        guard function.language == "sql" else {
            guard function.language == "plpgsql" else {
                throw RedError(.featureNotSupported, "function \(function.name) is in LANGUAGE \(function.language), which is not supported")
            }
            // Called, not inlined: the arguments are the caller's expressions as they are.
            var arguments = call.arguments
            for argument in function.arguments.dropFirst(given) {
                var parser = try Parser(argument.defaultSQL!)
                arguments.append(try parser.parseExpression())
            }
            return (function, arguments)
        }
        // The caller's arguments are bound as the caller's: with the inlining stack as it is here,
        // so `f(f(1))` is no recursion (the function's own defaults are bound as its body is).
        var arguments = call.arguments.map { argument -> Expr in
            var id: Int64
            repeat { id = Int64.random(in: 1...Int64.max) } while argumentMarkers[id] != nil
            argumentMarkers[id] = inliningFunctions.count
            return .function(FunctionCall(name: Self.argumentMarker, arguments: [argument, .literal(.integer(id))], distinct: false, star: false))
        }
        for argument in function.arguments.dropFirst(given) {
            var parser = try Parser(argument.defaultSQL!)
            arguments.append(try parser.parseExpression())
        }
        return (function, arguments)
    }

    /// Whether PostgreSQL passes a value of `type` to a parameter of type `identity`
    /// (`FunctionCatalog.identity`) without an explicit cast: numbers widen, a date becomes a
    /// timestamp, and enum types and domains take what their base type would.
    private static func castsImplicitly(_ type: DataType, to identity: String) -> Bool {
        guard let target = DataType(rawValue: identity) else { return true }  // an enum type's or a domain's name, an array: checked by the cast
        switch (type, target) {
        case (.integer, .decimal), (.integer, .float), (.decimal, .float), (.date, .timestamp): return true
        default: return false
        }
    }

    /// Runs `body` with `function` on the stack of functions being inlined: one reached again
    /// (recursion) or a stack past `maxInliningDepth` is refused.
    private func withInlining<T>(_ function: FunctionSpec, _ body: () throws -> T) throws -> T {
        if inliningFunctions.contains(function.name) {
            throw RedError(.featureNotSupported, "SQL function \(function.name) calls itself (through \(inliningFunctions.joined(separator: " → "))); recursive SQL functions are not supported")
        }
        guard inliningFunctions.count < FunctionCatalog.maxInliningDepth else {
            throw RedError(.limitExceeded, "SQL functions call each other more than \(FunctionCatalog.maxInliningDepth) deep")
        }
        inliningFunctions.append(function.name)
        inliningNesting += 1
        defer {
            inliningFunctions.removeLast()
            inliningNesting -= 1
        }
        return try body()
    }

    /// Counts a call resolved: one top-level call whose expansion nests or repeats calls of SQL
    /// functions past `maxInlinedCalls` (which could otherwise grow exponentially) is refused.
    private func countInlining() throws {
        if inliningNesting == 0 { inlinedCalls = 0 }  // a call of the statement's own: a budget of its own
        inlinedCalls += 1
        guard inlinedCalls <= FunctionCatalog.maxInlinedCalls else {
            throw RedError(.limitExceeded, "a statement may inline at most \(FunctionCatalog.maxInlinedCalls) calls of SQL functions")
        }
    }

    /// A body of one expression without FROM, with the arguments in the parameters' places
    /// (STRICT: inside `CASE WHEN arg IS NULL … THEN NULL ELSE … END`); nil when that would not
    /// do: a subquery in it (a name there could mean a column of its tables), an aggregate,
    /// window or set-returning call in it (it must see the body's one row, not the caller's),
    /// or an argument that would be evaluated more often than once and is more than a name, a
    /// constant or an aggregate's result.
    private func directSubstitution(_ function: FunctionSpec, _ body: Query, _ arguments: [Expr]) throws -> Expr? {
        guard body.with.isEmpty, body.orderBy.isEmpty, body.limit == nil, body.offset == nil, body.locking.isEmpty,
              case .select(let select) = body.body, select.from == nil, select.whereClause == nil, select.groupBy.isEmpty,
              select.having == nil, !select.distinct, select.distinctOn.isEmpty, select.items.count == 1, select.into == nil else { return nil }
        let expression = select.items[0].expr
        guard !Self.containsAggregateOrWindow(expression) else { return nil }
        var uses = [Int](repeating: function.strict ? 1 : 0, count: arguments.count), nested = false
        _ = expression.replacing { e in
            switch e {
            case .subquery, .exists, .inSubquery: nested = true
            case .function(let call) where SetReturningCalls.isSetReturning(call): nested = true
            default:
                if let i = parameterIndex(e, function) {
                    uses[i] += 1
                } else if case .column = e {
                    nested = true  // a name that is no parameter: the argument row says it does not exist
                }
            }
            return nil
        }
        guard !nested else { return nil }
        for (i, count) in uses.enumerated() where count > 1 && !Self.isPlain(arguments[i]) && !Self.containsAggregateOrWindow(arguments[i]) { return nil }
        let substituted = try expression.replacing { e in
            if case .parameter(let n) = e, n > arguments.count { throw RedError(.undefinedParameter, "there is no parameter $\(n)") }
            return parameterIndex(e, function).map { arguments[$0] }
        }
        guard function.strict, !arguments.isEmpty else { return substituted }
        let anyNull = arguments.map { Expr.isNull($0, negated: false) }.dropFirst().reduce(Expr.isNull(arguments[0], negated: false)) { .binary("or", $0, $1) }
        return .caseWhen(operand: nil, branches: [WhenBranch(condition: anyNull, result: .literal(.null))], otherwise: substituted)
    }

    /// Whether `e` calls an aggregate or a window function outside any subquery of it.
    static func containsAggregateOrWindow(_ e: Expr) -> Bool {
        var found = false
        _ = e.replacing { node in
            switch node {
            case .subquery, .exists, .inSubquery: return node  // their own query's, not this one's
            case .function(let call) where call.over != nil || AggregateKind.isAggregate(call.name):
                found = true
                return node
            default: return nil
            }
        }
        return found
    }

    /// The argument a body's expression stands for: `$n`, or a parameter's name, bare or after
    /// the function's name.
    private func parameterIndex(_ e: Expr, _ function: FunctionSpec) -> Int? {
        switch e {
        case .parameter(let n) where n >= 1 && n <= function.arguments.count: return n - 1
        case .column(let path) where path.count == 1 || (path.count == 2 && path[0] == function.name):
            return function.arguments.firstIndex { $0.name == path.last }
        default: return nil
        }
    }

    /// Wraps a caller's argument in an inlined body: `bindArgument` binds what it wraps with the
    /// inlining stack cut back to the caller's depth (its second argument).
    static let argumentMarker = "__sql_function_argument"

    /// A caller's argument (`argumentMarker`), bound where the caller's call stood. Only a
    /// wrapper this planner made is one (`argumentMarkers`): written in a body, it names no function.
    func bindArgument(_ call: FunctionCall, _ ctx: BindingContext) throws -> BoundExpr {
        guard call.arguments.count == 2, case .literal(.integer(let id)) = call.arguments[1], let depth = argumentMarkers[id],
              depth <= inliningFunctions.count else {
            throw RedError(.undefinedFunction, "function \(call.name) does not exist")
        }
        let stack = inliningFunctions
        inliningFunctions = Array(stack.prefix(depth))
        defer { inliningFunctions = stack }
        return try bind(call.arguments[0], ctx)
    }

    /// A name or a constant, perhaps cast: evaluating it twice costs little and changes nothing.
    private static func isPlain(_ e: Expr) -> Bool {
        switch e {
        case .literal, .column, .parameter: return true
        case .function(let call) where call.name == argumentMarker: return call.arguments.first.map(isPlain) ?? true
        case .cast(let inner, _): return isPlain(inner)
        case .function(let call) where call.name == DeclaredCast.name || call.name == Parser.surfaceCast: return call.arguments.first.map(isPlain) ?? true
        default: return false
        }
    }

    /// Where the argument row keeps the arguments: a name no user's FROM item takes, so that a
    /// table of the body named as the function cannot catch `$n`.
    static let argumentsAlias = "$args"

    /// `body` with `$n` read from the argument row; parameters' names are found by scope.
    /// (A `$n` past the arguments is 42P02, never the calling statement's parameter.)
    private func parametersAsColumns(_ function: FunctionSpec, _ body: Query) throws -> Query {
        try body.replacingExpressions { e in
            guard case .parameter(let n) = e else { return nil }
            guard n >= 1, n <= function.arguments.count else { throw RedError(.undefinedParameter, "there is no parameter $\(n)") }
            return .column([Self.argumentsAlias, "$\(n)"])
        }
    }

    /// `SELECT … FROM (SELECT arg AS "$1", …) AS "$args" [, LATERAL (SELECT "$1" AS name, …) AS f]
    /// [WHERE "$1" IS NOT NULL AND …]`, the select list left for the caller: each argument cast
    /// to its type and evaluated once; named ones readable by name and as `f.name`; STRICT's
    /// test in WHERE, so a NULL argument gives no row.
    private func argumentRow(_ function: FunctionSpec, _ arguments: [Expr]) throws -> Select {
        var row = Select()
        row.items = try zip(arguments, function.arguments).enumerated().map { i, pair in
            SelectItem(expr: try FunctionCatalog.cast(pair.0, to: pair.1.type), alias: "$\(i + 1)")
        }
        if row.items.isEmpty { row.items = [SelectItem(expr: .literal(.null), alias: "$0")] }
        var outer = Select()
        outer.isolatesNames = true  // the body sees the arguments, not the caller's columns
        outer.from = .subquery(Query(body: .select(row)), alias: Self.argumentsAlias, columns: [])
        var named = Select()
        named.items = function.arguments.enumerated().compactMap { i, argument in
            argument.name.map { SelectItem(expr: .column([Self.argumentsAlias, "$\(i + 1)"]), alias: $0) }
        }
        if !named.items.isEmpty {
            outer.from = .join(outer.from!, .lateral(.subquery(Query(body: .select(named)), alias: function.name, columns: [])), .cross, on: nil)
        }
        if function.strict {
            outer.whereClause = arguments.indices.map { Expr.isNull(.column([Self.argumentsAlias, "$\($0 + 1)"]), negated: true) }
                .reduce(nil) { (all: Expr?, next: Expr) -> Expr? in all.map { .binary("and", $0, next) } ?? next }
        }
        return outer
    }
}
