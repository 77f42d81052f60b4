import RedCore

/// An array's text as PostgreSQL's `array_out` writes it (`{1,2}`, `{a,"b c",NULL}`,
/// `{{1,2},{3,4}}`): what `CAST(array AS text)` and `array::text` give, and how PL/pgSQL's
/// RAISE prints an array.
///
/// Arrays are kept as JSON arrays, so without this a cast to text wrote the JSON (`[1,null]`).
/// The binder routes a cast of an expression it knows to be an array here (`bindCast`); each
/// element is written as its own type prints it (`arrayElementJSON` keeps timestamps, dates and
/// the like as their PostgreSQL text, numerics with their scale, booleans as `t`/`f`), and is
/// quoted where array_out quotes: empty, `NULL`, or holding braces, a comma, a quote, a
/// backslash or white space.
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

    static func text(_ items: [JSONValue]) -> String {
        var out = "{"
        for (i, item) in items.enumerated() {
            if i > 0 { out += "," }
            switch item {
            case .null: out += "NULL"
            case .array(let inner): out += text(inner)
            default: out += quoted(elementText(item))
            }
        }
        return out + "}"
    }

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

    static func quoted(_ text: String) -> String {
        let plain = !text.isEmpty && text.uppercased() != "NULL"
            && !text.unicodeScalars.contains { "{},\"\\".unicodeScalars.contains($0) || $0.properties.isWhitespace }
        guard !plain else { return text }
        var out = "\""
        for character in text {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out + "\""
    }
}
