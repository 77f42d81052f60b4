import RedCore

/// CREATE, DROP and ALTER FUNCTION, PostgreSQL's grammar (`FunctionCatalog` says what they do).
extension Parser {
    /// After `CREATE [OR REPLACE] FUNCTION`. The options come in any order, as PostgreSQL
    /// takes them; what cannot be honoured is refused here, by name, rather than ignored.
    mutating func parseCreateFunction(orReplace: Bool) throws -> Statement {
        let name = try parseFunctionName()
        let declared = try parseFunctionArguments(defaults: true)
        let arguments = declared.filter { $0.mode != "out" }
        let outputs = declared.filter { $0.mode != nil }
        var returnType: String?, returnsSet = false, tableColumns: [FunctionSpec.Argument] = []
        var saidReturns = false, language: String?, body: String?, volatility: String?, strict: Bool?
        func once<T>(_ value: T?, _ what: String) throws {
            if value != nil { throw RedError(.syntaxError, "conflicting or redundant options (\(what))") }
        }
        while !isSymbol(";"), current.kind != .end {
            if acceptKeyword("returns") {
                if acceptKeyword("null") {  // RETURNS NULL ON NULL INPUT
                    try expectKeyword("on"); try expectKeyword("null"); try expectKeyword("input")
                    try once(strict, "STRICT")
                    strict = true
                    continue
                }
                guard !saidReturns else { throw RedError(.syntaxError, "conflicting or redundant options (RETURNS)") }
                saidReturns = true
                if acceptKeyword("table") {
                    returnsSet = true
                    tableColumns = try parseFunctionArguments(defaults: false, columns: true)
                    guard !tableColumns.isEmpty else { throw unexpected(expected: "a column of RETURNS TABLE") }
                } else {
                    returnsSet = acceptKeyword("setof")
                    returnType = try parseFunctionType()
                }
            } else if acceptKeyword("language") {
                try once(language, "LANGUAGE")
                if case .string(let s) = current.kind { advance(); language = s.lowercased() } else { language = try parseAnyName() }
            } else if acceptKeyword("as") {
                try once(body, "AS")
                guard case .string(let text) = current.kind else { throw unexpected(expected: "the function's body, in quotes or dollar quotes") }
                advance()
                if acceptSymbol(",") { throw RedError(.featureNotSupported, "functions in object files (AS 'file', 'symbol') are not supported; write LANGUAGE sql") }
                body = text
            } else if acceptKeyword("return") {
                try once(body, "AS")
                let start = current.offset
                _ = try parseExpression()
                body = "SELECT " + String(decoding: bytes[start..<min(current.offset, bytes.count)], as: UTF8.self).trimmingSpaces()
            } else if isKeyword("begin") && isKeyword("atomic", ahead: 1) {
                throw RedError(.featureNotSupported, "BEGIN ATOMIC function bodies are not supported yet; write AS $$ SELECT … $$ or RETURN expression")
            } else if let kind = ["immutable": "i", "stable": "s", "volatile": "v"].first(where: { isKeyword($0.key) }) {
                advance()
                try once(volatility, "volatility")
                volatility = kind.value
            } else if acceptKeyword("strict") {
                try once(strict, "STRICT")
                strict = true
            } else if acceptKeyword("called") {  // CALLED ON NULL INPUT
                try expectKeyword("on"); try expectKeyword("null"); try expectKeyword("input")
                try once(strict, "STRICT")
                strict = false
            } else if acceptKeyword("not") || isKeyword("leakproof") {
                try expectKeyword("leakproof")  // who may see a function's errors: no row security here to leak past
            } else if acceptKeyword("external") || isKeyword("security") {
                try expectKeyword("security")
                guard acceptKeyword("invoker") || acceptKeyword("definer") else { throw unexpected(expected: "INVOKER or DEFINER") }
            } else if acceptKeyword("parallel") {
                guard acceptKeyword("safe") || acceptKeyword("unsafe") || acceptKeyword("restricted") else { throw unexpected(expected: "SAFE, UNSAFE or RESTRICTED") }
            } else if acceptKeyword("cost") || acceptKeyword("rows") {
                _ = try parseNumberLiteral("a number")  // planner estimates: nothing here uses them
            } else if isKeyword("set") || isKeyword("window") || isKeyword("transform") || isKeyword("support") {
                throw RedError(.featureNotSupported, "CREATE FUNCTION … \(isKeyword("set") ? "SET configuration" : describe(current).uppercased()) is not supported")
            } else {
                throw unexpected(expected: "a function option (RETURNS, LANGUAGE, AS, IMMUTABLE, STRICT …)")
            }
        }
        if !outputs.isEmpty {
            // OUT and INOUT parameters are the result's columns: one of them is the result itself,
            // several make a record (rows of them with RETURNS SETOF record).
            guard tableColumns.isEmpty else { throw RedError(.invalidFunctionDefinition, "OUT parameters cannot be combined with RETURNS TABLE") }
            let single = outputs.count == 1 ? outputs[0].type : "record"
            let referenced = [returnType ?? "", single].contains { $0.hasSuffix(FunctionCatalog.typeReferenceSuffix) }  // compared once resolved
            if saidReturns, !referenced, let returnType, try FunctionCatalog.identity(ofType: returnType) != (try FunctionCatalog.identity(ofType: single)) {
                throw RedError(.invalidFunctionDefinition, "function result type must be \(single) because of OUT parameters")
            }
            saidReturns = true
            returnType = single
            tableColumns = outputs.enumerated().map { i, output in
                var column = output
                column.name = output.name ?? "column\(i + 1)"
                return column
            }
        }
        guard saidReturns else { throw RedError(.invalidFunctionDefinition, "function result type must be specified") }
        guard let body else { throw RedError(.invalidFunctionDefinition, "no function body specified") }
        guard let language else { throw RedError(.syntaxError, "no language specified") }
        var spec = FunctionSpec(name: name, arguments: arguments, returnType: returnType, returnsSet: returnsSet, tableColumns: tableColumns,
                                language: language, body: body, volatility: volatility ?? "v", strict: strict ?? false)
        if !outputs.isEmpty { spec.parameterModes = declared.map { $0.mode == nil ? "i" : $0.mode == "out" ? "o" : "b" } }
        return .createFunction(spec, orReplace: orReplace)
    }

    /// A function's name: `public.f` is `f` (functions, like types, belong to no schema).
    mutating func parseFunctionName() throws -> String {
        let name = try parseRelationName(what: "function name")
        if name.hasPrefix("public.") { return String(name.dropFirst(7)) }
        if name.contains(".") { throw RedError(.featureNotSupported, "functions belong to no schema here; write \(name.split(separator: ".").last!) or public.\(name.split(separator: ".").last!)") }
        return name
    }

    /// `( [IN | OUT | INOUT] [name] type [DEFAULT expr | = expr], … )`, each argument with its
    /// mode (nil for IN). With `columns` (RETURNS TABLE) every item is `name type`. VARIADIC
    /// arguments are refused.
    mutating func parseFunctionArguments(defaults: Bool, columns: Bool = false) throws -> [FunctionSpec.Argument] {
        try expectSymbol("(")
        var out: [FunctionSpec.Argument] = []
        if acceptSymbol(")") { return out }
        repeat {
            var mode: String?
            if !columns {
                if isKeyword("variadic"), !isArgumentEnd(ahead: 1) {
                    throw RedError(.featureNotSupported, "VARIADIC arguments are not supported yet; take an array")
                }
                for word in ["in", "out", "inout"] where isKeyword(word) && !isArgumentEnd(ahead: 1) {
                    advance()
                    mode = word == "in" ? nil : word
                    break
                }
            }
            var name: String?
            if columns || startsNamedArgument() { name = try parseAnyName() }
            let type = try parseFunctionType()
            var defaultSQL: String?
            if defaults, acceptKeyword("default") || acceptSymbol("=") {
                guard mode != "out" else { throw RedError(.invalidFunctionDefinition, "only input parameters can have default values") }
                defaultSQL = try parseDefaultText()
            } else if defaults, mode != "out", let previous = out.last(where: { $0.mode != "out" }), previous.defaultSQL != nil {
                throw RedError(.invalidFunctionDefinition, "input parameters after one with a default value must also have defaults")
            }
            out.append(.init(name: name, type: type, defaultSQL: defaultSQL, mode: mode))
        } while acceptSymbol(",")
        try expectSymbol(")")
        let names = out.compactMap(\.name)
        if Set(names).count != names.count { throw RedError(.invalidFunctionDefinition, "parameter name \"\(names.first { n in names.filter { $0 == n }.count > 1 }!)\" used more than once") }
        guard out.count <= FunctionCatalog.maxArguments else { throw RedError(.limitExceeded, "functions cannot have more than \(FunctionCatalog.maxArguments) arguments") }
        return out
    }

    /// Whether the token `ahead` ends an argument (`,`, `)`, a default): so the one before it
    /// was a type, not a name.
    private func isArgumentEnd(ahead: Int) -> Bool {
        isSymbol(",", ahead: ahead) || isSymbol(")", ahead: ahead) || isSymbol("=", ahead: ahead) || isKeyword("default", ahead: ahead)
    }

    /// Whether the argument at hand starts with a name: `a int`, not `int`, `double precision`
    /// or `character varying(3)`.
    private func startsNamedArgument() -> Bool {
        guard case .identifier(let first, let quoted) = current.kind else { return false }
        if isArgumentEnd(ahead: 1) || isSymbol("(", ahead: 1) || isSymbol("[", ahead: 1) || isSymbol(".", ahead: 1) { return false }
        guard !quoted, case .identifier(let second, _) = peekToken(1).kind else { return true }
        let twoWordTypes: [String: Set<String>] = ["double": ["precision"], "character": ["varying"], "char": ["varying"], "bit": ["varying"],
                                                   "timestamp": ["with", "without"], "time": ["with", "without"]]
        return !(twoWordTypes[first]?.contains(second) ?? false)
    }

    /// A type as written (`numeric(10,2)`, `text[]`, `public.mood`), checked to parse.
    mutating func parseFunctionType() throws -> String {
        // `table.column%TYPE` (or `schema.table.column%TYPE`): a column's type, which CREATE
        // FUNCTION resolves (`FunctionDDL.resolvingTypeReferences`) as PostgreSQL converts it.
        for parts in [2, 3] {
            let percent = 2 * parts - 1
            guard isSymbol("%", ahead: percent), isKeyword("type", ahead: percent + 1) else { continue }
            var names: [String] = []
            for k in 0..<parts {
                guard case .identifier(let name, _) = peekToken(2 * k).kind, k == parts - 1 || isSymbol(".", ahead: 2 * k + 1) else { break }
                names.append(name)
            }
            guard names.count == parts else { continue }
            for _ in 0...(percent + 1) { advance() }
            return names.joined(separator: ".") + FunctionCatalog.typeReferenceSuffix
        }
        let start = current.offset
        _ = try parseTypeNameWithArguments()
        let written = String(decoding: bytes[start..<min(current.offset, bytes.count)], as: UTF8.self)
        return Self.withoutComments(written).trimmingSpaces()
    }

    /// `name [( [[mode] [name] type, …] )]` as DROP / ALTER FUNCTION name a function.
    mutating func parseFunctionReference() throws -> FunctionReference {
        let name = try parseFunctionName()
        guard isSymbol("(") else { return FunctionReference(name: name, argumentTypes: nil) }
        let arguments = try parseFunctionArguments(defaults: false)
        return FunctionReference(name: name, argumentTypes: arguments.filter { $0.mode != "out" }.map(\.type))  // OUT ones name no function, as in PostgreSQL
    }

    /// After `DROP FUNCTION`.
    mutating func parseDropFunctions() throws -> Statement {
        let ifExists = try parseIfExists()
        var references: [FunctionReference] = []
        repeat { references.append(try parseFunctionReference()) } while acceptSymbol(",")
        let cascade = acceptKeyword("cascade")
        if !cascade { _ = acceptKeyword("restrict") }
        return .dropFunctions(references, ifExists: ifExists, cascade: cascade)
    }

    /// After `ALTER FUNCTION`: `RENAME TO name` or `OWNER TO role`.
    mutating func parseAlterFunction() throws -> Statement {
        let reference = try parseFunctionReference()
        if acceptKeyword("rename") {
            try expectKeyword("to")
            return .alterFunction(reference, renameTo: try parseIdentifier(what: "function name"))
        }
        if acceptKeyword("owner") {
            try expectKeyword("to")
            _ = try parseIdentifier(what: "role name")
            return .alterFunction(reference, renameTo: nil)
        }
        throw RedError(.featureNotSupported, "ALTER FUNCTION supports RENAME TO and OWNER TO; to change anything else, CREATE OR REPLACE it")
    }
}
