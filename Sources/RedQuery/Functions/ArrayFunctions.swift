import Foundation
import RedCore

/// PostgreSQL's array functions and operators over RedDB's arrays, which are JSON arrays
/// (`ARRAY` columns, `ARRAY[…]`, `array_agg`, `'{…}'::int[]`).
///
/// An array operand may also be text in PostgreSQL's `{…}` form (or JSON), as a PG-wire
/// parameter or a text column holding one arrives; a vector counts as an array of floats.
/// Positions count from 1. Multi-dimensional arrays are nested arrays: `array_length(a, 2)`
/// looks at the first element's length, as a rectangular PostgreSQL array would have it.
///
/// | function | PostgreSQL's result |
/// |---|---|
/// | `array_length(a, d)`, `array_upper(a, d)`, `array_lower(a, d)`, `array_ndims(a)`, `array_dims(a)` | sizes; NULL for an empty array or a missing dimension |
/// | `cardinality(a)` | every element, all dimensions (0 when empty) |
/// | `array_to_string(a, sep [, null_text])`, `string_to_array(s, sep [, null_text])` | joined / split text |
/// | `array_append`, `array_prepend`, `array_cat`, `a \|\| b` | a new array |
/// | `array_position(a, x [, from])`, `array_positions(a, x)` | where `x` is (`IS NOT DISTINCT FROM`) |
/// | `array_remove(a, x)`, `array_replace(a, x, y)` | every `x` removed / replaced |
/// | `a && b` | whether they share a non-NULL element (`__array_overlap`) |
/// | `a @> b`, `b <@ a` | every element of `b` is in `a` (`__array_contains`, when either side is an array) |
/// | `a[i:j]` | the slice, bounds inclusive and optional (`__array_slice`) |
/// | `x op ANY/ALL (a)` | `Evaluation.quantified` over `elements(of:)` |
enum ArrayFunctions {
    static let functions: [ScalarFunction] = {
        func make(_ name: String, _ arity: ClosedRange<Int>, acceptsNull: Bool = false,
                  _ body: @escaping @Sendable ([Value]) throws -> Value) -> ScalarFunction {
            ScalarFunction(name: name, arity: arity, acceptsNull: acceptsNull, isDeterministicWithinStatement: true) { a, _ in try body(a) }
        }
        return [
            make("array_length", 2...2) { a in try dimension(try items(a[0], "array_length"), a[1]).map { .integer(Int64($0.count)) } ?? .null },
            make("array_upper", 2...2) { a in try dimension(try items(a[0], "array_upper"), a[1]).map { .integer(Int64($0.count)) } ?? .null },
            make("array_lower", 2...2) { a in try dimension(try items(a[0], "array_lower"), a[1]).map { _ in .integer(1) } ?? .null },
            make("array_ndims", 1...1) { a in
                let sizes = shape(try items(a[0], "array_ndims"))
                return sizes.isEmpty ? .null : .integer(Int64(sizes.count))
            },
            make("array_dims", 1...1) { a in
                let sizes = shape(try items(a[0], "array_dims"))
                return sizes.isEmpty ? .null : .text(sizes.map { "[1:\($0)]" }.joined())
            },
            make("cardinality", 1...1) { a in .integer(Int64(flattened(try items(a[0], "cardinality")).count)) },
            make("array_to_string", 2...3, acceptsNull: true) { a in
                guard !a[0].isNull, !a[1].isNull else { return .null }
                let nullText = a.count > 2 && !a[2].isNull ? text(a[2]) : nil
                var parts: [String] = []
                for item in flattened(try items(a[0], "array_to_string")) {
                    if case .null = item {
                        if let nullText { parts.append(nullText) }
                    } else {
                        parts.append(elementText(item))
                    }
                }
                return .text(parts.joined(separator: text(a[1])))
            },
            make("string_to_array", 2...3, acceptsNull: true) { a in
                guard !a[0].isNull else { return .null }
                let subject = text(a[0])
                let nullText = a.count > 2 && !a[2].isNull ? text(a[2]) : nil
                var pieces: [JSONValue] = []
                func add(_ piece: Substring) throws {
                    guard pieces.count < maxElements else {
                        throw RedError(.limitExceeded, "string_to_array would make more than \(maxElements) elements")
                    }
                    pieces.append(piece == nullText?[...] ? .null : .string(String(piece)))
                }
                if subject.isEmpty {
                } else if a[1].isNull {
                    for character in subject { try add(String(character)[...]) }
                } else if text(a[1]).isEmpty {
                    try add(subject[...])
                } else {
                    let separator = text(a[1])
                    var rest = subject[...]
                    while let found = rest.range(of: separator) {
                        try add(rest[..<found.lowerBound])
                        rest = rest[found.upperBound...]
                    }
                    try add(rest)
                }
                return try array(pieces)
            },
            make("array_append", 2...2, acceptsNull: true) { a in
                try array((a[0].isNull ? [] : try items(a[0], "array_append")) + [element(a[1])])
            },
            make("array_prepend", 2...2, acceptsNull: true) { a in
                try array([element(a[0])] + (a[1].isNull ? [] : try items(a[1], "array_prepend")))
            },
            make("array_cat", 2...2, acceptsNull: true) { a in try concatenate(a[0], a[1]) },
            // `array || other` (`otherOnRight`) or `other || array` when `other`'s type is only known
            // now: an array (or NULL) concatenates, any other value is an element.
            make("__array_join", 3...3, acceptsNull: true) { a in
                let onRight = a[2] == .boolean(true)
                let isArray: Bool = { if case .json(.array) = a[1] { return true }; return a[1].isNull }()
                if isArray { return try onRight ? concatenate(a[0], a[1]) : concatenate(a[1], a[0]) }
                let list = a[0].isNull ? [] : try items(a[0], "||")
                return try array(onRight ? list + [element(a[1])] : [element(a[1])] + list)
            },
            make("array_position", 2...3, acceptsNull: true) { a in
                guard !a[0].isNull else { return .null }
                let list = try items(a[0], "array_position")
                var start = 1
                if a.count > 2 {
                    guard case .integer(let from) = a[2] else { throw RedError(.invalidArgument, "initial position must not be null") }
                    start = Int(clamping: max(from, 1))
                }
                guard start <= list.count else { return .null }
                for i in (start - 1)..<list.count where try same(list[i], a[1]) { return .integer(Int64(i + 1)) }
                return .null
            },
            make("array_positions", 2...2, acceptsNull: true) { a in
                guard !a[0].isNull else { return .null }
                return try array(try items(a[0], "array_positions").enumerated().compactMap { i, item in try same(item, a[1]) ? .integer(Int64(i + 1)) : nil })
            },
            make("array_remove", 2...2, acceptsNull: true) { a in
                guard !a[0].isNull else { return .null }
                return try array(try items(a[0], "array_remove").filter { try !same($0, a[1]) })
            },
            make("array_replace", 3...3, acceptsNull: true) { a in
                guard !a[0].isNull else { return .null }
                return try array(try items(a[0], "array_replace").map { try same($0, a[1]) ? element(a[2]) : $0 })
            },
            make("__array_overlap", 2...2) { a in
                let left = flattened(try items(a[0], "&&")), right = flattened(try items(a[1], "&&"))
                for l in left where l != .null {
                    for r in right where r != .null {
                        if try same(l, Value(json: r)) { return .boolean(true) }
                    }
                }
                return .boolean(false)
            },
            make("__array_contains", 2...2) { a in
                let container = flattened(try items(a[0], "@>"))
                for wanted in flattened(try items(a[1], "@>")) {
                    if wanted == .null { return .boolean(false) }
                    let value = Value(json: wanted)
                    guard try container.contains(where: { try $0 != .null && same($0, value) }) else { return .boolean(false) }
                }
                return .boolean(true)
            },
            make("__array_slice", 3...3) { a in
                let list = try items(a[0], "a slice")
                guard case .integer(let low) = a[1], case .integer(let high) = a[2] else {
                    throw RedError(.datatypeMismatch, "array subscript must have type integer")
                }
                let from = max(low, 1), to = min(high, Int64(list.count))
                guard from <= to else { return try array([]) }
                return try array(Array(list[Int(from - 1)..<Int(to)]))
            },
            // An element picked by a subscript, NULL when it is itself an array (`a[1]` of a 2-D array).
            make("__array_element", 1...1) { a in
                if case .json(.array) = a[0] { return .null }
                return a[0]
            },
            // ARRAY[ARRAY[…], …]: every element an array, all of one shape (2202E otherwise).
            make(multidimensional, 1...1) { a in
                let rows = try items(a[0], "a multidimensional array")
                guard rows.allSatisfy({ if case .array = $0 { return true }; return false }) else {
                    throw RedError(.invalidArgument, "multidimensional arrays must have array expressions with matching dimensions", condition: "2202E")
                }
                try PostgresArrayText.checkRectangular(rows)
                return a[0]
            },
            // (operand, element type, PostgreSQL's element name): a declared one
            // (`'{1.555}'::numeric(4,2)[]`) is applied to every element as its cast would be.
            make("__array_cast", 2...3) { a in
                guard case .text(let name) = a[1], let type = DataType(rawValue: name) else {
                    throw RedError(.internalError, "__array_cast needs an element type name")
                }
                let declared: DeclaredType? = if a.count == 3, case .text(let surfaceName) = a[2] { DeclaredType(surfaceName: surfaceName) } else { nil }
                let elements = try items(a[0], "a cast to \(name)[]")
                try PostgresArrayText.checkRectangular(elements)
                return try array(try cast(elements, to: type, declared: declared))
            },
        ]
    }()

    /// The function the parser wraps ARRAY[ARRAY[…], …] in.
    static let multidimensional = "__array_rows"

    /// Most elements `string_to_array` makes (54000 beyond): each costs tens of bytes here, so a
    /// 256 MiB text split into characters would otherwise take gigabytes.
    static let maxElements = 10_000_000

    /// An array operand's elements: a JSON array; text in PostgreSQL's `{…}` form or JSON; a
    /// vector. Anything else is 42804 naming `what` (the function or operator).
    static func items(_ value: Value, _ what: String) throws -> [JSONValue] {
        switch value {
        case .json(.array(let items)): return items
        case .vector(let floats): return floats.map { .float(NumberFormatting.widened($0)) }
        case .text(let s):
            if s.trimmingSpaces().hasPrefix("["), case .json(.array(let items)) = try DataType.json.coerce(value) { return items }
            return try PostgresArrayText.parse(s)
        default:
            throw RedError(.datatypeMismatch, "\(what) needs an array, not \(value.kindName)")
        }
    }

    /// The elements as SQL values for `x op ANY/ALL (array)` (nil: the array is NULL), every
    /// dimension's, as PostgreSQL compares with each element of a multi-dimensional array.
    /// Text elements take `like`'s type, as an untyped `'{…}'` literal's would in PostgreSQL.
    static func elements(of value: Value, like subject: Value, _ what: String) throws -> [Value]? {
        if value.isNull { return nil }
        let target = subject.isNull ? nil : DataType.of(subject)
        return try flattened(try items(value, what)).map { item in
            let element = Value(json: item)
            if case .text = element, let target, target != .text { return try target.coerce(element) }
            return element
        }
    }

    /// A value as an array element. What JSON holds exactly stays JSON (numbers, text,
    /// booleans); timestamps, dates, UUIDs and intervals are kept as their text, as a `T[]`
    /// column keeps them, so the array reads back as the values it was made of
    /// (`(array_agg(ts))[1]` is a timestamp) and PG-wire sends it as `timestamp[]`, `date[]` ….
    static func element(_ v: Value) -> JSONValue { v.arrayElementJSON }

    /// A new array value (JSON nesting checked).
    static func array(_ items: [JSONValue]) throws -> Value {
        .json(try JSONValue.checkedNesting(.array(items)))
    }

    /// `a || b` and `array_cat`: NULL is an empty array; an array's elements follow the other's.
    static func concatenate(_ a: Value, _ b: Value) throws -> Value {
        if a.isNull && b.isNull { return .null }
        return try array((a.isNull ? [] : try items(a, "array_cat")) + (b.isNull ? [] : try items(b, "array_cat")))
    }

    /// Elements cast to `type` (nested arrays element by element). Values JSON cannot hold
    /// exactly (timestamps, dates, uuids, numerics, bytes) are kept as their text, checked.
    static func cast(_ list: [JSONValue], to type: DataType, declared: DeclaredType? = nil) throws -> [JSONValue] {
        try list.map { item in
            switch item {
            case .null: return .null
            case .array(let inner): return .array(try cast(inner, to: type, declared: declared))
            default:
                let source: Value = { if case .string(let s) = item { return .text(s) }; return Value(json: item) }()
                var converted = try Evaluation.cast(source, to: type)
                if let declared { converted = try declared.fit(converted, explicit: true) }
                return converted.arrayElementJSON
            }
        }
    }

    /// The elements at dimension `d` (1: the array itself; 2: its first element's …), nil when
    /// there is no such dimension or it is empty.
    static func dimension(_ list: [JSONValue], _ d: Value) throws -> [JSONValue]? {
        guard case .integer(var depth) = d else { throw RedError(.datatypeMismatch, "array dimension must be an integer") }
        var level = list
        while depth > 1 {
            guard case .array(let inner)? = level.first else { return nil }
            level = inner
            depth -= 1
        }
        return depth == 1 && !level.isEmpty ? level : nil
    }

    /// The length of each dimension, following first elements (empty for an empty array).
    static func shape(_ list: [JSONValue]) -> [Int] {
        var sizes: [Int] = []
        var level = list
        while !level.isEmpty, sizes.count < PostgresArrayText.maxDimensions {
            sizes.append(level.count)
            guard case .array(let inner) = level[0] else { break }
            level = inner
        }
        return sizes
    }

    static func flattened(_ list: [JSONValue]) -> [JSONValue] {
        list.flatMap { item -> [JSONValue] in
            if case .array(let inner) = item { return flattened(inner) }
            return [item]
        }
    }

    /// An element as `array_to_string` writes it (strings unquoted, booleans `t`/`f`).
    static func elementText(_ item: JSONValue) -> String {
        switch item {
        case .string(let s): return s
        case .bool(let b): return b ? "t" : "f"
        case .float(let d): return d.isNaN ? "NaN" : d.isInfinite ? (d > 0 ? "Infinity" : "-Infinity") : NumberFormatting.shortest(d)
        default: return item.text
        }
    }

    /// `IS NOT DISTINCT FROM` between an element and a value.
    static func same(_ item: JSONValue, _ value: Value) throws -> Bool {
        let element = Value(json: item)
        if element.isNull || value.isNull { return element.isNull && value.isNull }
        return (try? Evaluation.compare("=", element, value)) == .boolean(true)
    }

    private static func text(_ v: Value) -> String { if case .text(let s) = v { return s }; return v.displayText }
}
