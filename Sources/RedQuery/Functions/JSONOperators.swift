import RedCore

/// PostgreSQL's jsonb operators over RedDB's JSON values:
///
/// | operator | meaning | function |
/// |---|---|---|
/// | `j -> 'k'`, `j -> 2` | member / element as JSON (negative index from the end) | `__json_get` |
/// | `j ->> 'k'` | the same as text (a JSON string unquoted; JSON null is NULL) | `__json_get_text` |
/// | `j #> '{a,0}'` | the value at a path (text-array literal or `ARRAY[…]`) | `__json_path` |
/// | `j #>> '{a,0}'` | that value as text | `__json_path_text` |
/// | `a @> b`, `b <@ a` | containment, with jsonb's rules | `__json_contains` |
/// | `a \|\| b` | objects merged (right wins), arrays concatenated, scalars wrapped | `concatenate` |
/// | `j - 'k'`, `j - 2` | key (or matching string elements) / element removed | `delete` |
///
/// `->` on text works as it does in PostgreSQL after an implicit cast: the text is parsed as
/// JSON first (a text column holding documents needs no cast).
enum JSONOperators {
    static let functions: [ScalarFunction] = {
        func make(_ name: String, _ body: @escaping @Sendable (JSONValue, Value) throws -> Value) -> ScalarFunction {
            ScalarFunction(name: name, arity: 2...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
                try body(try document(a[0]), a[1])
            }
        }
        return [
            make("__json_get") { j, key in member(j, key).map { Value.json($0) } ?? .null },
            make("__json_get_text") { j, key in member(j, key).map { text($0) } ?? .null },
            make("__json_path") { j, path in try walk(j, path: try pathElements(path)).map { Value.json($0) } ?? .null },
            make("__json_path_text") { j, path in try walk(j, path: try pathElements(path)).map { text($0) } ?? .null },
            make("__json_contains") { j, other in .boolean(contains(j, try document(other), topLevel: true)) },
            // `(record).field`: a field of a composite value, which RedDB keeps as a JSON object
            // (`information_schema._pg_expandarray`'s `(x, n)`), as the field's own value.
            ScalarFunction(name: fieldSelection, arity: 2...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
                guard case .json(.object(let fields)) = a[0], case .text(let name) = a[1] else {
                    throw RedError(.invalidOperation, "column notation .\(a[1].displayText) applied to type \(DataType.of(a[0]).postgresName), which is not a composite type")
                }
                guard let field = fields.first(where: { $0.0 == name })?.1 else {
                    throw RedError(.undefinedColumn, "column \"\(name)\" not found in data type record")
                }
                return Value(json: field)
            },
            ScalarFunction(name: "__array_subscript", arity: 2...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
                guard case .integer(let index) = a[1] else {
                    throw RedError(.datatypeMismatch, "array subscript must have type integer")
                }
                guard case .json(.array(let items)) = try DataType.array.coerce(a[0]), index >= 1, index <= Int64(items.count) else { return .null }
                return Value(json: items[Int(index - 1)])
            },
        ]
    }()

    /// The function `(expression).field` parses into.
    static let fieldSelection = "__field"

    /// A JSON operand: JSON as it is, text parsed as JSON (22P02 when it is not).
    static func document(_ v: Value) throws -> JSONValue {
        if case .json(let j) = v { return j }
        guard case .json(let j) = try DataType.json.coerce(v) else { return v.jsonValue }
        return j
    }

    /// `j -> key`: a text key reads an object member, an integer an array element (from the
    /// end when negative); anything else is NULL, as in PostgreSQL.
    static func member(_ j: JSONValue, _ key: Value) -> JSONValue? {
        switch (j, key) {
        case (.object, .text(let k)): return j[k]
        case (.array(let items), .integer(let i)):
            let index = i < 0 ? Int64(items.count) + i : i
            return index >= 0 && index < Int64(items.count) ? items[Int(index)] : nil
        default: return nil
        }
    }

    /// `->>`: strings without quotes, JSON null as SQL NULL, the rest as jsonb's text
    /// (`{"x": [1, 2]}`, as PostgreSQL writes a jsonb) or, for the `json_` functions, compactly
    /// (PostgreSQL gives a json's text as written).
    static func text(_ j: JSONValue, jsonb: Bool = true) -> Value {
        switch j {
        case .null: return .null
        case .string(let s): return .text(s)
        case .object, .array: return .text(jsonb ? j.jsonbText : j.text)
        default: return .text(j.text)
        }
    }

    /// Path steps from `'{a,b,0}'` (PostgreSQL's text-array literal) or a JSON array.
    static func pathElements(_ path: Value) throws -> [String] {
        switch path {
        case .json(.array(let items)):
            return items.map { if case .string(let s) = $0 { return s }; return $0.text }
        case .text(let s):
            return try TextArrayLiteral.parse(s)
        default:
            throw RedError(.datatypeMismatch, "a JSON path is a text array such as '{a,0}'")
        }
    }

    /// Each step a member key, or an array index (negative from the end) when the node is an array.
    static func walk(_ j: JSONValue, path: [String]) throws -> JSONValue? {
        var node = j
        for step in path {
            switch node {
            case .object: guard let next = node[step] else { return nil }; node = next
            case .array(let items):
                guard let i = Int(step) else { return nil }
                let index = i < 0 ? items.count + i : i
                guard index >= 0, index < items.count else { return nil }
                node = items[index]
            default: return nil
            }
        }
        return node
    }

    /// jsonb containment: every member of an object `b` is contained in the same member of
    /// `a`; every element of an array `b` is contained in some element of `a`; scalars are
    /// equal. At the top level only, an array contains a scalar it has as an element.
    static func contains(_ a: JSONValue, _ b: JSONValue, topLevel: Bool = false) -> Bool {
        switch (a, b) {
        case (.object, .object(let wanted)):
            return wanted.allSatisfy { key, value in a[key].map { contains($0, value) } ?? false }
        case (.array(let items), .array(let wanted)):
            return wanted.allSatisfy { w in items.contains { contains($0, w) } }
        case (.array(let items), _) where topLevel:
            if case .object = b { return false }
            return items.contains { $0 == b }
        case (.object, _), (.array, _), (_, .object), (_, .array):
            return false
        default:
            return a == b
        }
    }

    /// `a || b` for two JSON values (jsonb's rules).
    static func concatenate(_ a: JSONValue, _ b: JSONValue) throws -> JSONValue {
        switch (a, b) {
        case (.object(let left), .object(let right)):
            var merged = left.filter { key, _ in !right.contains { $0.0 == key } }
            merged.append(contentsOf: right)
            return .object(merged)
        case (.array(let x), .array(let y)): return try JSONValue.checkedNesting(.array(x + y))
        case (.array(let x), _): return try JSONValue.checkedNesting(.array(x + [b]))
        case (_, .array(let y)): return try JSONValue.checkedNesting(.array([a] + y))
        default: return try JSONValue.checkedNesting(.array([a, b]))
        }
    }

    /// `j - key`: an object without that key, an array without its string elements equal to
    /// it; `j - n` an array without element n (negative from the end).
    static func delete(_ j: JSONValue, _ key: Value) throws -> JSONValue {
        switch (j, key) {
        case (.object(let members), .text(let k)): return .object(members.filter { $0.0 != k })
        case (.array(let items), .text(let k)): return .array(items.filter { $0 != .string(k) })
        case (.array(var items), .integer(let i)):
            let index = i < 0 ? Int64(items.count) + i : i
            if index >= 0, index < Int64(items.count) { items.remove(at: Int(index)) }
            return .array(items)
        case (.object, .integer): throw RedError(.invalidArgument, "cannot delete from object using integer index")
        case (_, .text), (_, .integer): throw RedError(.invalidArgument, "cannot delete from scalar")
        default: throw RedError(.undefinedFunction, "operator does not exist: jsonb - \(key.kindName)")
        }
    }
}

/// PostgreSQL's text-array literal `{a,"b c",NULL}` as its elements (NULL elements refused:
/// a JSON path cannot have one).
enum TextArrayLiteral {
    static func parse(_ literal: String) throws -> [String] {
        let malformed = RedError(.invalidTextRepresentation, "malformed array literal: \"\(literal)\"")
        var scalars = Array(literal.trimmingSpaces().unicodeScalars)
        guard scalars.first == "{", scalars.last == "}" else { throw malformed }
        scalars = Array(scalars.dropFirst().dropLast())
        if scalars.allSatisfy({ $0 == " " }) { return [] }
        var elements: [String] = []
        var current = String.UnicodeScalarView()
        var quoted = false, wasQuoted = false, escaped = false
        for s in scalars {
            if escaped { current.append(s); escaped = false; continue }
            switch s {
            case "\\": escaped = true
            case "\"": quoted.toggle(); wasQuoted = true
            case "," where !quoted:
                elements.append(try element(current, wasQuoted))
                current = String.UnicodeScalarView(); wasQuoted = false
            case "{", "}" where !quoted: throw malformed
            default: current.append(s)
            }
        }
        guard !quoted, !escaped else { throw malformed }
        elements.append(try element(current, wasQuoted))
        return elements
    }

    private static func element(_ scalars: String.UnicodeScalarView, _ quoted: Bool) throws -> String {
        let text = quoted ? String(scalars) : String(scalars).trimmingSpaces()
        if !quoted, text.uppercased() == "NULL" { throw RedError(.invalidArgument, "path element must not be null", condition: "22004") }
        return text
    }
}

/// `x::text` of a JSON value, as PostgreSQL writes it: a `jsonb` in its canonical text
/// (`{"a": 1, "b": [1, 2]}`, keys shortest first), a `json` compactly (PostgreSQL keeps a json
/// value's text as written, which RedDB does not), and a JSON string quoted either way —
/// `->>` is what unwraps one.
enum JSONTextCast {
    static let function = ScalarFunction(name: "__json_text", arity: 2...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
        guard case .json(let value) = a[0] else { return try DataType.text.coerce(a[0]) }
        return .text(a[1] == .boolean(true) ? value.jsonbText : value.text)
    }
}
