import RedCore
import RedEngine

/// CREATE, DROP and ALTER FUNCTION (`FunctionCatalog` describes SQL functions).
extension DDLExecutor {
    func createFunction(_ written: FunctionSpec, orReplace: Bool) throws -> QueryResult {
        let (spec, typeNotices) = try resolvingTypeReferences(written)
        guard spec.language == "sql" || spec.language == "plpgsql" else {
            throw RedError(.featureNotSupported, "language \"\(spec.language)\" is not supported; LANGUAGE sql and plpgsql functions are")
        }
        if spec.language == "plpgsql" { try checkPLpgSQL(spec) }
        if spec.language == "sql", spec.returnType?.lowercased() == "trigger" {
            throw RedError(.invalidFunctionDefinition, "SQL functions cannot return type trigger")
        }
        guard spec.body.utf8.count <= FunctionCatalog.maxBodyBytes else {
            throw RedError(.limitExceeded, "a function's body is at most \(FunctionCatalog.maxBodyBytes) bytes")
        }
        try refuseBuiltInName(spec.name)
        let signature = try FunctionCatalog.signature(spec.arguments.map(\.type))
        var functions = try FunctionCatalog.overloads(of: spec.name, tx)
        if let i = try functions.firstIndex(where: { try FunctionCatalog.signature($0.arguments.map(\.type)) == signature }) {
            guard orReplace else {
                throw RedError(.duplicateFunction, "function \(FunctionCatalog.described(spec.name, spec.arguments.map(\.type))) already exists with same argument types")
            }
            for (old, new) in zip(functions[i].arguments, spec.arguments) where old.name != nil && old.name != new.name {
                throw RedError(.invalidFunctionDefinition, "cannot change name of input parameter \"\(old.name!)\" (DROP FUNCTION \(FunctionCatalog.described(spec.name, spec.arguments.map(\.type))) first)")
            }
            if spec.arguments.filter({ $0.defaultSQL != nil }).count < functions[i].arguments.filter({ $0.defaultSQL != nil }).count {
                throw RedError(.invalidFunctionDefinition, "cannot remove parameter defaults from existing function")
            }
            guard functions[i].returnsSet == spec.returnsSet, try sameResult(functions[i], spec) else {
                throw RedError(.invalidFunctionDefinition, "cannot change return type of existing function (DROP FUNCTION \(FunctionCatalog.described(spec.name, spec.arguments.map(\.type))) first)")
            }
            var replaced = spec
            replaced.comment = functions[i].comment
            functions[i] = replaced
        } else {
            guard functions.count < FunctionCatalog.maxOverloads else {
                throw RedError(.limitExceeded, "a name has at most \(FunctionCatalog.maxOverloads) functions")
            }
            functions.append(spec)
        }
        try checkDefaults(spec)
        try FunctionCatalog.store(spec.name, functions, tx)
        if spec.language == "sql" {
            _ = try FunctionCatalog.bodyQuery(spec)  // one query, whatever check_function_bodies says
            if context.surfaceCatalog?.checksFunctionBodies ?? true { try checkBody(spec) }
        }
        var result = QueryResult.message("function '\(spec.name)' created", type: "create", tag: "CREATE FUNCTION")
        result.notices = typeNotices
        return result
    }

    /// `table.column%TYPE` in a parameter or the result: the column's type as declared, as
    /// PostgreSQL converts it when the function is made (with a NOTICE saying so). A later
    /// change of the column's type leaves the function as it was, in PostgreSQL too.
    func resolvingTypeReferences(_ spec: FunctionSpec) throws -> (FunctionSpec, [String]) {
        var spec = spec, notices: [String] = [], resolved: [String: String] = [:]
        // An INOUT parameter is an argument and a result column, and one OUT parameter the result
        // type too: one notice for each written reference, as PostgreSQL gives.
        func resolve(_ type: String) throws -> String {
            if let known = resolved[type] { return known }
            let text = try resolvedType(type, &notices)
            resolved[type] = text
            return text
        }
        for k in spec.arguments.indices { spec.arguments[k].type = try resolve(spec.arguments[k].type) }
        for k in spec.tableColumns.indices { spec.tableColumns[k].type = try resolve(spec.tableColumns[k].type) }
        if let returnType = spec.returnType { spec.returnType = try resolve(returnType) }
        return (spec, notices)
    }

    /// `type`, or for `table.column%TYPE` the column's type, with a notice saying so.
    private func resolvedType(_ type: String, _ notices: inout [String]) throws -> String {
        guard type.hasSuffix(FunctionCatalog.typeReferenceSuffix) else { return type }
        let reference = String(type.dropLast(FunctionCatalog.typeReferenceSuffix.count))
        let text = try columnTypeText(reference)
        notices.append("type reference \(reference)%TYPE converted to \(text)")
        return text
    }

    /// `table.column`'s type as PostgreSQL names it without modifiers (`integer`, `character
    /// varying`: a parameter's type keeps no length), or a domain's or enum type's name; 42P01 or
    /// 42703 when there is no such table or column.
    private func columnTypeText(_ reference: String) throws -> String {
        let parts = reference.split(separator: ".").map(String.init)
        let table = parts.dropLast().joined(separator: "."), name = parts.last ?? ""
        guard let handle = try store.open(tx, table) else {
            throw RedError(.undefinedCollection, "relation \"\(table)\" does not exist", condition: "42P01")
        }
        guard let column = handle.schema.columns.first(where: { $0.name == name }) else {
            throw RedError(.undefinedColumn, "column \"\(name)\" of relation \"\(table)\" does not exist")
        }
        if let domain = column.domain { return domain }
        if let enumType = column.enumType { return enumType }
        if let element = column.arrayElement { return (column.elementDeclared?.baseFormatted ?? element.postgresFormattedName) + "[]" }
        return column.declared?.baseFormatted ?? column.type.postgresFormattedName
    }

    /// Each default must be a value of its argument's type computed from constants and calls:
    /// it is evaluated in the calling statement, so a column (42703), `$n` (42P02), a subquery
    /// (0A000) or an aggregate (42803) there would read the caller's, as PostgreSQL refuses.
    private func checkDefaults(_ spec: FunctionSpec) throws {
        let planner = Planner(context: context)
        for argument in spec.arguments {
            guard let sql = argument.defaultSQL else { continue }
            var parser = try Parser(sql)
            let expression = try parser.parseExpression()
            _ = try expression.replacing { e in
                switch e {
                case .parameter(let n): throw RedError(.undefinedParameter, "there is no parameter $\(n)")
                case .subquery, .exists, .inSubquery: throw RedError(.featureNotSupported, "cannot use subquery in DEFAULT expression")
                default: return nil
                }
            }
            let ctx = BindingContext(scope: Scope([], parent: nil), aggregatesForbiddenIn: "DEFAULT expressions")
            _ = try planner.bind(try FunctionCatalog.cast(expression, to: argument.type), ctx)
        }
    }

    /// A PL/pgSQL function: its body parses (as PostgreSQL's validator checks it; names in it are
    /// looked up when it runs), and it returns one value or nothing.
    private func checkPLpgSQL(_ spec: FunctionSpec) throws {
        if spec.returnType?.lowercased() == "trigger" {
            guard spec.arguments.isEmpty, !spec.returnsSet else {
                throw RedError(.invalidFunctionDefinition, "trigger functions cannot have declared arguments",
                               hint: "The arguments of the trigger can be accessed through TG_NARGS and TG_ARGV instead.")
            }
        }
        let block = try PLpgSQLParser.parse(spec.body)
        // What PostgreSQL checks when it compiles the body: RETURN's forms against the result.
        let void = spec.returnType?.lowercased() == "void"
        for statement in block.allStatements {
            switch statement {
            case .returnStatement(.some) where spec.returnsSet:
                throw RedError(.datatypeMismatch, "RETURN cannot have a parameter in function returning set", hint: "Use RETURN NEXT or RETURN QUERY.")
            case .returnStatement(.some) where void:
                throw RedError(.datatypeMismatch, "RETURN cannot have a parameter in function returning void")
            case .returnStatement(.some) where !spec.tableColumns.isEmpty:
                throw RedError(.datatypeMismatch, "RETURN cannot have a parameter in function with OUT parameters")
            case .returnStatement(nil) where !spec.returnsSet && !void && spec.tableColumns.isEmpty:
                throw RedError(.syntaxError, "missing expression at or near \";\" (RETURN needs a value in a function returning \(spec.returnType ?? "a value"))")
            case .returnNext, .returnQuery:
                guard spec.returnsSet else { throw RedError(.datatypeMismatch, "cannot use RETURN NEXT or RETURN QUERY in a non-SETOF function") }
            default: break
            }
        }
    }

    /// 42723 for a built-in function's or aggregate's name: a SQL function of it would never be called.
    private func refuseBuiltInName(_ name: String) throws {
        if ScalarFunction.isBuiltIn(name) || AggregateKind.isAggregate(name) {
            throw RedError(.duplicateFunction, "function \(name) is built in; a SQL function of that name would never be called")
        }
    }

    private func sameResult(_ a: FunctionSpec, _ b: FunctionSpec) throws -> Bool {
        let resultTypes = { (f: FunctionSpec) in try FunctionCatalog.signature(f.tableColumns.isEmpty ? [f.returnType ?? ""] : f.tableColumns.map(\.type)) }
        return try resultTypes(a) == resultTypes(b)
    }

    /// Binds a call of the new function with NULLs of its argument types, so a body that reads
    /// a table or column that does not exist, or returns more than the result, fails now, as
    /// PostgreSQL's check_function_bodies does, rather than at its first call.
    private func checkBody(_ spec: FunctionSpec) throws {
        let query = try FunctionCatalog.bodyQuery(spec)
        if case .select(let select) = query.body, select.into != nil {
            throw RedError(.featureNotSupported, "SELECT … INTO is not allowed in a SQL function's body")
        }
        let planner = Planner(context: context)
        if try planner.rowTypeTable(spec) != nil, !spec.returnsSet {
            throw RedError(.featureNotSupported, "a function returning one row of a table is not supported yet; declare RETURNS SETOF \(spec.returnType ?? "") or RETURNS TABLE (…)")
        }
        let given = try planner.bodyColumnCount(spec)
        if spec.returnType?.lowercased() == "void" { return }  // whatever the body gives, the call gives nothing
        let expected = try planner.resultColumns(spec).count
        guard given == expected else {
            throw RedError(.invalidFunctionDefinition, expected == 1
                ? "return type mismatch in function declared to return \(spec.returnType ?? ""): its final statement must return exactly one column, not \(given)"
                : "return type mismatch in function declared to return a table of \(expected) columns: its final statement returns \(given)")
        }
    }

    func dropFunctions(_ references: [FunctionReference], ifExists: Bool, cascade: Bool) throws -> QueryResult {
        var notices: [String] = []
        for reference in references {
            guard let (functions, index) = try lookUpFunction(reference, ifExists: ifExists) else {
                notices.append("function \(described(reference)) does not exist, skipping")
                continue
            }
            if cascade, functions[index].arguments.isEmpty { notices += try dropTriggers(calling: reference.name) }
            let users = try FunctionCatalog.users(of: reference.name, tx, store, triggerFunction: functions[index].arguments.isEmpty)
            if !users.isEmpty {
                let described = FunctionCatalog.described(reference.name, functions[index].arguments.map(\.type))
                throw RedError(.dependentObjectsStillExist, "cannot drop function \(described) because other objects depend on it"
                               + (cascade ? " (CASCADE drops only the triggers that call it here: drop or change the others first)" : ""),
                               detail: users.map { "\($0) depends on function \(described)" }.joined(separator: "\n"))
            }
            var remaining = functions
            remaining.remove(at: index)
            try FunctionCatalog.store(reference.name, remaining, tx)
        }
        return .message("function dropped", type: "drop", tag: "DROP FUNCTION", notices: notices)
    }

    func alterFunction(_ reference: FunctionReference, renameTo newName: String?) throws -> QueryResult {
        guard let (functions, index) = try lookUpFunction(reference, ifExists: false) else { throw RedError(.undefinedFunction, "function \(described(reference)) does not exist") }
        let done = QueryResult.message("function '\(reference.name)' altered", type: "alter", tag: "ALTER FUNCTION")
        guard let newName, newName != reference.name else { return done }
        var function = functions[index]
        let users = try FunctionCatalog.users(of: reference.name, tx, store, triggerFunction: function.arguments.isEmpty)
        if !users.isEmpty {
            // They call it by name (PostgreSQL's by OID), so they would lose it.
            throw RedError(.dependentObjectsStillExist, "cannot rename function \(reference.name) while other objects call it by name",
                           detail: users.map { "\($0) calls function \(reference.name)" }.joined(separator: "\n"))
        }
        let signature = try FunctionCatalog.signature(function.arguments.map(\.type))
        var others = try FunctionCatalog.overloads(of: newName, tx)
        if try others.contains(where: { try FunctionCatalog.signature($0.arguments.map(\.type)) == signature }) {
            throw RedError(.duplicateFunction, "function \(FunctionCatalog.described(newName, function.arguments.map(\.type))) already exists in schema \"public\"")
        }
        try refuseBuiltInName(newName)
        var remaining = functions
        remaining.remove(at: index)
        try FunctionCatalog.store(reference.name, remaining, tx)
        function.name = newName
        others.append(function)
        try FunctionCatalog.store(newName, others, tx)
        return done
    }

    /// The functions of the reference's name and the position of the one it means: by its
    /// argument types when given, else the only one of the name (42725 when there are several).
    /// nil when there is none and `ifExists` (else 42883).
    func lookUpFunction(_ reference: FunctionReference, ifExists: Bool) throws -> ([FunctionSpec], Int)? {
        let functions = try FunctionCatalog.overloads(of: reference.name, tx)
        let index: Int?
        if let written = reference.argumentTypes {
            var resolvedQuietly: [String] = []  // DROP and ALTER name the function; PostgreSQL says nothing of the conversion
            let types = try written.map { try resolvedType($0, &resolvedQuietly) }
            let signature = try FunctionCatalog.signature(types)
            index = try functions.firstIndex { try FunctionCatalog.signature($0.arguments.map(\.type)) == signature }
        } else {
            guard functions.count <= 1 else { throw RedError(.ambiguousFunction, "function name \"\(reference.name)\" is not unique (name its argument types)") }
            index = functions.isEmpty ? nil : 0
        }
        guard let index else {
            if ifExists { return nil }
            throw RedError(.undefinedFunction, "function \(described(reference)) does not exist")
        }
        return (functions, index)
    }

    private func described(_ reference: FunctionReference) -> String {
        reference.argumentTypes.map { FunctionCatalog.described(reference.name, $0) } ?? reference.name
    }
}
