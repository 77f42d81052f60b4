import RedCore

/// An array's text as PostgreSQL's `array_out` writes it (`{1,2}`, `{a,"b c",NULL}`,
/// `{{1,2},{3,4}}`): what `CAST(array AS text)` and `array::text` give, and how PL/pgSQL's
/// RAISE prints an array.
///
/// Arrays are kept as JSON arrays, so without this a cast to text wrote the JSON (`[1,null]`).
/// The binder routes a cast of an expression it knows to be an array here (`bindCast`); each
/// element is written as its own type prints it (`arrayElementJSON` keeps timestamps, dates and
/// the like as their PostgreSQL text, numerics with their scale, booleans as `t`/`f`), and
/// quoted as array_out quotes (`PostgresArrayText`, which PG-wire's results use too).
enum ArrayTextCast {
    static let function = ScalarFunction(name: "__array_text", arity: 1...1, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
        guard case .json(.array(let items)) = a[0] else { return try DataType.text.coerce(a[0]) }
        return .text(text(items))
    }

    /// What RAISE prints of a value that is no array or JSON (`Planner.bindRaiseText`):
    /// booleans as `t`/`f` as bool's output function writes them, anything else its text.
    static let raiseText = ScalarFunction(name: "__raise_text", arity: 1...1, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
        if case .boolean(let b) = a[0] { return .text(b ? "t" : "f") }
        return .text(a[0].displayText)
    }

    static func text(_ items: [JSONValue]) -> String { PostgresArrayText.render(items, element: elementText) }

    static func elementText(_ item: JSONValue) -> String {
        switch item {
        case .string(let s): return s
        case .bool(let b): return b ? "t" : "f"
        case .integer(let i): return String(i)
        case .float(let d): return NumberFormatting.shortest(d)
        case .decimal(let d): return d.text
        default: return item.jsonbText  // a jsonb[]'s documents
        }
    }
}
