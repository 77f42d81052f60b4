import RedCore

/// The SQL/JSON path functions and operators over `JSONPath`:
/// `jsonb_path_exists(target, path [, vars [, silent]])`, `jsonb_path_match`,
/// `jsonb_path_query` (a set-returning function, `JSONFunctions.tableFunctions`),
/// `jsonb_path_query_array`, `jsonb_path_query_first` (and their `_tz` names), `j @? path`
/// (exists, silent) and `j @@ path` (match, silent), and the `::jsonpath` cast, which checks a
/// path and gives it as PostgreSQL writes it. A path arrives as text; parsed paths are kept
/// like to_char's templates. `silent` turns the errors `JSONPathEvaluation.isSuppressible`
/// names into NULL (no rows for `jsonb_path_query`).
enum JSONPathFunctions {
    static let paths = TemplateCache<JSONPath> { try JSONPath(parsing: $0) }

    /// What each function gives, whatever its arguments (PG-wire describes the column by it).
    static let resultTypes: [String: DataType] = {
        var types: [String: DataType] = [existsOperator: .boolean, matchOperator: .boolean, castName: .text]
        for suffix in ["", "_tz"] {
            types["jsonb_path_exists" + suffix] = .boolean
            types["jsonb_path_match" + suffix] = .boolean
            types["jsonb_path_query_array" + suffix] = .json
            types["jsonb_path_query_first" + suffix] = .json
        }
        return types
    }()

    static let castName = "__jsonpath"
    static let existsOperator = "__jsonpath_exists"
    static let matchOperator = "__jsonpath_match"

    /// The items `arguments` (path, then optionally vars and silent) select in `document`;
    /// nil when a silent call met an error it suppresses.
    /// `context`: the statement's, whose cancellation a long evaluation checks.
    static func items(_ document: JSONValue, _ arguments: [Value], silent forced: Bool = false, _ context: ExecutionContext) throws -> [JSONValue]? {
        let path = try paths.template(try text(arguments[0]))
        let variables = arguments.count > 1 ? try JSONOperators.document(arguments[1]) : nil
        let silent = forced || (arguments.count > 2 && arguments[2] == .boolean(true))
        var evaluation = try JSONPathEvaluation(path, document: document, variables: variables, checkCancelled: context.checkCancelled)
        do {
            return try evaluation.run()
        } catch where silent && JSONPathEvaluation.isSuppressible(error) {
            return nil
        }
    }

    private static func text(_ value: Value) throws -> String {
        guard case .text(let s) = value else { throw RedError(.datatypeMismatch, "a jsonpath must be text, got \(value.kindName)") }
        return s
    }

    private static func function(_ name: String, _ arity: ClosedRange<Int>,
                                 _ body: @escaping @Sendable (JSONValue, [Value], ExecutionContext) throws -> Value) -> ScalarFunction {
        ScalarFunction(name: name, arity: arity, acceptsNull: false, isDeterministicWithinStatement: true) { a, context in
            try body(try JSONOperators.document(a[0]), Array(a.dropFirst()), context)
        }
    }

    /// `jsonb_path_match`'s answer: the path's single boolean (or null) item.
    private static func match(_ found: [JSONValue]?, silent: Bool) throws -> Value {
        guard let found else { return .null }
        if found.count == 1, case .bool(let b) = found[0] { return .boolean(b) }
        if found.count == 1, case .null = found[0] { return .null }
        if silent { return .null }
        throw JSONPathEvaluation.error("22038", "single boolean result is expected")
    }

    static let functions: [ScalarFunction] = {
        var out: [ScalarFunction] = []
        for suffix in ["", "_tz"] {
            out.append(function("jsonb_path_exists" + suffix, 2...4) { document, rest, context in
                try items(document, rest, context).map { .boolean(!$0.isEmpty) } ?? .null
            })
            out.append(function("jsonb_path_match" + suffix, 2...4) { document, rest, context in
                try match(try items(document, rest, context), silent: rest.count > 2 && rest[2] == .boolean(true))
            })
            out.append(function("jsonb_path_query_array" + suffix, 2...4) { document, rest, context in
                try items(document, rest, context).map { .json(.array($0)) } ?? .null
            })
            out.append(function("jsonb_path_query_first" + suffix, 2...4) { document, rest, context in
                try items(document, rest, context).flatMap { $0.first.map(Value.json) } ?? .null
            })
        }
        out.append(function(existsOperator, 2...2) { document, rest, context in
            try items(document, rest, silent: true, context).map { .boolean(!$0.isEmpty) } ?? .null
        })
        out.append(function(matchOperator, 2...2) { document, rest, context in
            try match(try items(document, rest, silent: true, context), silent: true)
        })
        out.append(ScalarFunction(name: castName, arity: 1...1, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
            .text(try paths.template(try text(a[0])).description)
        })
        return out
    }()
}
