/// PostgreSQL's text form of an array, `{1,2,"a b",NULL,{3,4}}`, read into the JSON array
/// RedDB keeps array values as, and written back out (`render`).
///
/// Arrays are JSON arrays inside RedDB (an `ARRAY` column, `ARRAY[…]`, `array_agg`), so an
/// array that arrives in PostgreSQL's spelling — a `'{…}'::int[]` literal, a text value
/// stored into an `ARRAY` column, a PG-wire parameter sent as text — is read here.
///
/// Reading follows PostgreSQL's `array_in`: elements are separated by commas; whitespace
/// around an element is dropped; an element may be double-quoted, and a backslash takes the
/// next character literally, quoted or not; an unquoted `NULL` (any case) is SQL NULL; braces
/// nest (at most `maxDimensions` deep, PostgreSQL's limit). Every element comes back as a
/// JSON string (or null): its type is the reader's to apply (`Element`). The `[1:3]={…}`
/// bounds decoration is refused, since arrays here always start at 1. Errors are 22P02
/// `malformed array literal`, as PostgreSQL's.
public enum PostgresArrayText {
    /// PostgreSQL's MAXDIM.
    public static let maxDimensions = 6

    /// The elements of `text`, as strings and nulls (nested arrays for inner braces). With
    /// `numbers`, an unquoted element that is a number in JSON's spelling is that number: for
    /// an `ARRAY` column, whose element type is not recorded, so that `'{1,2}'` stores what
    /// `ARRAY[1,2]` does.
    public static func parse(_ text: String, numbers: Bool = false) throws -> [JSONValue] {
        var reader = Reader(bytes: Array(text.utf8), text: text, numbers: numbers)
        reader.skipSpace()
        guard reader.peek == UInt8(ascii: "{") else {
            throw reader.malformed(reader.peek == UInt8(ascii: "[") ? "dimension bounds are not supported; arrays start at 1"
                                                                    : "array value must start with \"{\"")
        }
        let items = try reader.array(depth: 1)
        reader.skipSpace()
        guard reader.atEnd else { throw reader.malformed("junk after closing right brace") }
        do { try checkRectangular(items) } catch { throw reader.malformed("multidimensional arrays must have sub-arrays with matching dimensions") }
        return items
    }

    private struct Reader {
        let bytes: [UInt8]
        let text: String
        let numbers: Bool
        var index = 0

        var atEnd: Bool { index >= bytes.count }
        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        func malformed(_ detail: String) -> RedError {
            let shown = text.count > 200 ? String(text.prefix(200)) + "…" : text
            var error = RedError(.invalidTextRepresentation, "malformed array literal: \"\(shown)\"")
            error.detail = detail
            return error
        }

        static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (0x09...0x0D).contains(b) }

        mutating func skipSpace() {
            while let b = peek, Self.isSpace(b) { index += 1 }
        }

        /// After the opening brace's position: the elements up to and including the closing brace.
        mutating func array(depth: Int) throws -> [JSONValue] {
            guard depth <= PostgresArrayText.maxDimensions else {
                throw malformed("number of array dimensions exceeds the maximum allowed (\(PostgresArrayText.maxDimensions))")
            }
            index += 1  // "{"
            var items: [JSONValue] = []
            skipSpace()
            if peek == UInt8(ascii: "}") {
                index += 1
                return items
            }
            while true {
                skipSpace()
                guard let b = peek else { throw malformed("unexpected end of input") }
                if b == UInt8(ascii: "{") {
                    items.append(.array(try array(depth: depth + 1)))
                } else {
                    items.append(try element())
                }
                skipSpace()
                guard let separator = peek else { throw malformed("unexpected end of input") }
                index += 1
                if separator == UInt8(ascii: "}") { return items }
                guard separator == UInt8(ascii: ",") else { throw malformed("unexpected \"\(Character(Unicode.Scalar(separator)))\" character") }
            }
        }

        /// One scalar element: quoted, or unquoted up to a comma or closing brace.
        mutating func element() throws -> JSONValue {
            var out: [UInt8] = []
            if peek == UInt8(ascii: "\"") {
                index += 1
                while true {
                    guard let b = peek else { throw malformed("unexpected end of input") }
                    index += 1
                    if b == UInt8(ascii: "\"") { break }
                    if b == UInt8(ascii: "\\") {
                        guard let next = peek else { throw malformed("unexpected end of input") }
                        out.append(next)
                        index += 1
                    } else {
                        out.append(b)
                    }
                }
                return .string(String(decoding: out, as: UTF8.self))
            }
            var escaped = false
            /// Where the element ends once trailing whitespace is dropped (escaped spaces stay).
            var keep = 0
            while let b = peek, b != UInt8(ascii: ","), b != UInt8(ascii: "}") {
                if b == UInt8(ascii: "{") || b == UInt8(ascii: "\"") { throw malformed("unexpected \"\(Character(Unicode.Scalar(b)))\" character") }
                index += 1
                if b == UInt8(ascii: "\\") {
                    guard let next = peek else { throw malformed("unexpected end of input") }
                    out.append(next)
                    index += 1
                    escaped = true
                    keep = out.count
                } else {
                    out.append(b)
                    if !Self.isSpace(b) { keep = out.count }
                }
            }
            out.removeSubrange(keep...)
            guard !out.isEmpty || escaped else { throw malformed("unexpected \"\(peek.map { String(Character(Unicode.Scalar($0))) } ?? "end")\" character") }
            let value = String(decoding: out, as: UTF8.self)
            if !escaped, value.lowercased() == "null" { return .null }
            if numbers, !escaped, let number = Self.number(value) { return number }
            return .string(value)
        }

        /// `text` as a JSON number (`-12`, `2.5`, `1e3`), nil for anything else; kept as JSON
        /// keeps one written so (`1.50` exactly, with its scale), else the nearest double.
        static func number(_ text: String) -> JSONValue? {
            if let integer = Int64(text) { return .integer(integer) }
            guard text.utf8.allSatisfy({ (0x30...0x39).contains($0) || [0x2B, 0x2D, 0x2E, 0x45, 0x65].contains($0) }),
                  text.utf8.contains(where: { (0x30...0x39).contains($0) }), let double = Double(text), double.isFinite else { return nil }
            if let parsed = try? JSONValue.parse(text), parsed.number != nil { return parsed }
            return .float(double)
        }
    }

    /// Throws 2202E unless nested arrays form a rectangle (every inner array at one depth the
    /// same length, no array beside a scalar): a PostgreSQL array has one length per dimension.
    public static func checkRectangular(_ items: [JSONValue]) throws {
        /// The lengths below a list's own: nil for scalars (NULLs fit either).
        func innerShape(_ list: [JSONValue]) throws -> [Int]? {
            var common: [Int]?? = .none  // .none: nothing seen yet
            for item in list {
                let this: [Int]?
                switch item {
                case .null: continue
                case .array(let nested): this = [nested.count] + (try innerShape(nested) ?? [])
                default: this = nil
                }
                if case .some(let seen) = common, seen != this { throw mismatch }
                common = .some(this)
            }
            return common ?? nil
        }
        _ = try innerShape(items)
    }

    private static var mismatch: RedError {
        RedError(.invalidArgument, "multidimensional arrays must have array expressions with matching dimensions", condition: "2202E")
    }
}

extension PostgresArrayText {
    /// An array's text as `array_out` writes it: `{1,2}`, `{a,"b c",NULL}`, `{{1,2},{3,4}}`.
    /// `element` writes one element (its type's output text); it is quoted where array_out
    /// quotes: empty, `NULL`, or holding braces, a comma, a quote, a backslash or white space.
    /// Shared by PG-wire's result encoding and the query layer's `CAST(array AS text)`.
    public static func render(_ items: [JSONValue], element: (JSONValue) -> String) -> String {
        var out = "{"
        for (i, item) in items.enumerated() {
            if i > 0 { out += "," }
            switch item {
            case .null: out += "NULL"
            case .array(let inner): out += render(inner, element: element)
            default: out += quoted(element(item))
            }
        }
        return out + "}"
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
