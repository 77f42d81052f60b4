import RedCore

/// Calls of SQL functions (`FunctionCatalog`), replaced by their bodies as the binder meets
/// them: scalar calls in expressions (`inlinedCall`), calls in FROM (`inlinedRows`).
extension Planner {
    /// `call` as its function's body, to bind in its place; nil when no SQL function has its
    /// name (a built-in function of the name comes first, as PostgreSQL's pg_catalog does).
    func inlinedCall(_ call: FunctionCall, _ ctx: BindingContext) throws -> Expr? {
        guard let (function, arguments) = try resolveFunction(call, ctx) else { return nil }
        if function.returnsSet {
            throw RedError(.featureNotSupported, "function \(function.name) returns rows: call it in FROM (SELECT * FROM \(function.name)(…))")
        }
        return try withInlining(function) {
            let body = try FunctionCatalog.bodyQuery(function)
            let typed = try zip(arguments, function.arguments).map { try FunctionCatalog.cast($0, to: $1.type) }
            if let direct = try directSubstitution(function, body, typed) {
                return try FunctionCatalog.cast(direct, to: function.returnType ?? "text")
            }
            var query = try parametersAsColumns(function, body)
            if query.limit == nil { query.limit = .literal(.integer(1)) }  // a scalar function gives its first row
            var wrapper = argumentRow(function, typed)
            wrapper.items = [SelectItem(expr: try FunctionCatalog.cast(.subquery(query), to: function.returnType ?? "text"), alias: nil)]
            return .subquery(Query(body: .select(wrapper)))
        }
    }

    /// `f(args) [AS alias (names)]` in FROM as a query giving the function's rows (one row for
    /// a scalar function); nil when no SQL function has the name.
    func inlinedRows(_ call: FunctionCall, alias: String?, outer: Scope?) throws -> Query? {
        let ctx = BindingContext(scope: Scope([], parent: outer), aggregatesForbiddenIn: "FROM")
        guard let (function, arguments) = try resolveFunction(call, ctx) else { return nil }
        return try withInlining(function) {
            var body = try parametersAsColumns(function, try FunctionCatalog.bodyQuery(function))
            if !function.returnsSet, body.limit == nil { body.limit = .literal(.integer(1)) }
            let columns = try resultColumns(function)
            let bodyAlias = "__\(function.name)_rows"
            var query = argumentRow(function, try zip(arguments, function.arguments).map { try FunctionCatalog.cast($0, to: $1.type) })
            query.from = .join(query.from!, .lateral(.subquery(body, alias: bodyAlias, columns: columns.map(\.name))), .cross, on: nil)
            query.items = try columns.map { column in
                let value = Expr.column([bodyAlias, column.name])
                return SelectItem(expr: try column.type.map { try FunctionCatalog.cast(value, to: $0) } ?? value, alias: column.name)
            }
            return Query(body: .select(query))
        }
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
            var query = argumentRow(function, try function.arguments.map { try FunctionCatalog.cast(.literal(.null), to: $0.type) })
            query.from = .join(query.from!, .lateral(.subquery(body, alias: "__body", columns: [])), .cross, on: nil)
            query.items = [SelectItem(expr: .star(qualifier: "__body"), alias: nil)]
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
    /// name. Of several, the one whose argument types the arguments' types match best.
    private func resolveFunction(_ call: FunctionCall, _ ctx: BindingContext) throws -> (FunctionSpec, [Expr])? {
        let overloads = try FunctionCatalog.overloads(of: call.name, context.transaction)
        guard !overloads.isEmpty else { return nil }
        if call.star || call.distinct || call.filter != nil || !call.orderBy.isEmpty || call.over != nil {
            throw RedError(.invalidOperation, "\(call.name) is not an aggregate or window function: DISTINCT, *, FILTER, ORDER BY and OVER do not apply")
        }
        let given = call.arguments.count
        let fitting = overloads.filter { f in given <= f.arguments.count && given >= f.arguments.prefix { $0.defaultSQL == nil }.count }
        var chosen = fitting.first
        if fitting.count > 1 {
            let types = try call.arguments.map { argument -> String? in
                if case .literal(.text) = argument { return nil }  // an untyped literal fits any type
                return staticType(try bind(argument, ctx), ctx).rawValue
            }
            let scored = try fitting.map { f -> (FunctionSpec, Int) in
                let identities = try FunctionCatalog.signature(f.arguments.map(\.type))
                return (f, zip(types, identities).filter { $0 != nil && $0 == $1 }.count)
            }
            let best = scored.map(\.1).max()!
            let winners = scored.filter { $0.1 == best }
            guard winners.count == 1 else {
                throw RedError(.ambiguousFunction, "function \(call.name)(\(call.arguments.count) arguments) is not unique; add explicit casts")
            }
            chosen = winners[0].0
        }
        guard let function = chosen else {
            throw RedError(.undefinedFunction, "function \(call.name) does not take \(given) argument\(given == 1 ? "" : "s"): \(overloads.map { FunctionCatalog.described($0.name, $0.arguments.map(\.type)) }.joined(separator: ", "))")
        }
        guard function.language == "sql" else {
            throw RedError(.featureNotSupported, "function \(function.name) is in LANGUAGE \(function.language), which is not supported")
        }
        var arguments = call.arguments
        for argument in function.arguments.dropFirst(given) {
            var parser = try Parser(argument.defaultSQL!)
            arguments.append(try parser.parseExpression())
        }
        return (function, arguments)
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
        defer { inliningFunctions.removeLast() }
        return try body()
    }

    /// A body of one expression without FROM, with the arguments in the parameters' places;
    /// nil when that would not do: a subquery in it (a name there could mean a column of its
    /// tables), STRICT, or an argument that is more than a name or a constant and would be
    /// evaluated more than once.
    private func directSubstitution(_ function: FunctionSpec, _ body: Query, _ arguments: [Expr]) throws -> Expr? {
        guard !function.strict, body.with.isEmpty, body.orderBy.isEmpty, body.limit == nil, body.offset == nil, body.locking.isEmpty,
              case .select(let select) = body.body, select.from == nil, select.whereClause == nil, select.groupBy.isEmpty,
              select.having == nil, !select.distinct, select.distinctOn.isEmpty, select.items.count == 1, select.into == nil else { return nil }
        let expression = select.items[0].expr
        var uses = [Int](repeating: 0, count: arguments.count), nested = false
        _ = expression.replacing { e in
            switch e {
            case .subquery, .exists, .inSubquery: nested = true
            default: if let i = parameterIndex(e, function) { uses[i] += 1 }
            }
            return nil
        }
        guard !nested else { return nil }
        for (i, count) in uses.enumerated() where count > 1 && !Self.isPlain(arguments[i]) { return nil }
        return try expression.replacing { e in
            if case .parameter(let n) = e, n > arguments.count { throw RedError(.undefinedParameter, "there is no parameter $\(n)") }
            return parameterIndex(e, function).map { arguments[$0] }
        }
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

    /// A name or a constant, perhaps cast: evaluating it twice costs little and changes nothing.
    private static func isPlain(_ e: Expr) -> Bool {
        switch e {
        case .literal, .column, .parameter: return true
        case .cast(let inner, _): return isPlain(inner)
        case .function(let call) where call.name == DeclaredCast.name || call.name == Parser.surfaceCast: return call.arguments.first.map(isPlain) ?? true
        default: return false
        }
    }

    /// The name of parameter `i`'s column in the argument row: its own, or `$n`.
    private static func argumentColumn(_ function: FunctionSpec, _ i: Int) -> String { function.arguments[i].name ?? "$\(i + 1)" }

    /// `body` with `$n` read from the argument row (`f.name`); names stay, found there by scope.
    /// (A `$n` past the arguments is 42P02, never the calling statement's parameter.)
    private func parametersAsColumns(_ function: FunctionSpec, _ body: Query) throws -> Query {
        try body.replacingExpressions { e in
            guard case .parameter(let n) = e else { return nil }
            guard n >= 1, n <= function.arguments.count else { throw RedError(.undefinedParameter, "there is no parameter $\(n)") }
            return .column([function.name, Self.argumentColumn(function, n - 1)])
        }
    }

    /// `SELECT … FROM (SELECT arg AS name, …) AS f [WHERE name IS NOT NULL AND …]`: the select
    /// list left for the caller; STRICT's test in WHERE, so a NULL argument gives no row.
    private func argumentRow(_ function: FunctionSpec, _ arguments: [Expr]) -> Select {
        var row = Select()
        row.items = arguments.enumerated().map { SelectItem(expr: $1, alias: Self.argumentColumn(function, $0)) }
        if row.items.isEmpty { row.items = [SelectItem(expr: .literal(.null), alias: "__no_arguments")] }
        var outer = Select()
        outer.from = .subquery(Query(body: .select(row)), alias: function.name, columns: [])
        if function.strict {
            outer.whereClause = arguments.indices.map { Expr.isNull(.column([function.name, Self.argumentColumn(function, $0)]), negated: true) }
                .reduce(nil) { (all: Expr?, next: Expr) -> Expr? in all.map { .binary("and", $0, next) } ?? next }
        }
        return outer
    }
}
