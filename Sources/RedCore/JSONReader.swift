/// Reads one JSON document member by member, building only the values the caller asks for.
///
/// Why: a client wants a few members of a reply envelope (a query result's columns and
/// values) out of many it ignores (statistics, echoes of the query, empty graph sections).
/// `JSONValue.parse` builds every string, array and object first: for a `SELECT 1` over
/// RedWire that was about an eighth of the client's CPU. What is skipped here is checked as
/// strictly as `JSONValue.parse` checks it, in the same order, so a document is accepted or
/// refused (with the same error) exactly as the full parse would.
///
/// Duplicate keys: `members` reports every occurrence in order; a caller that keeps the last
/// sees what `JSONValue`'s subscript sees.
///
/// ```swift
/// var reader = JSONReader(utf8: bytes)
/// var count = 0
/// _ = try reader.members { reader, key in
///     if key == "count", case .integer(let n) = try reader.value() { count = Int(n) } else { try reader.skip() }
/// }
/// try reader.end()
/// ```
public struct JSONReader {
    private var parser: JSONParser
    /// The nesting level of the next value, as `JSONParser.parseValue(depth:)` counts it.
    private var depth = 0

    public init(utf8: [UInt8]) { parser = JSONParser(bytes: utf8) }

    /// The next value, built.
    public mutating func value() throws -> JSONValue { try parser.parseValue(depth: depth) }

    /// Passes over the next value, checking it without building it.
    public mutating func skip() throws {
        switch nextByte {
        case UInt8(ascii: "{"): _ = try members { reader, _ in try reader.skip() }
        case UInt8(ascii: "["): _ = try elements { reader in try reader.skip() }
        default: _ = try parser.parseValue(depth: depth)  // a scalar (or the error for what is missing)
        }
    }

    /// When the next value is an object, calls `body` for each member with its key, the reader
    /// standing at the member's value, which `body` must read or skip exactly once; returns true.
    /// Any other value is skipped and the answer is false.
    public mutating func members(_ body: (inout JSONReader, String) throws -> Void) throws -> Bool {
        guard depth <= JSONValue.maxDepth else { throw parser.error("nesting deeper than \(JSONValue.maxDepth) levels") }
        guard nextByte == UInt8(ascii: "{") else { try skip(); return false }
        parser.index += 1
        depth += 1
        defer { depth -= 1 }
        parser.skipSpace()
        if at(UInt8(ascii: "}")) { parser.index += 1; return true }
        while true {
            parser.skipSpace()
            guard at(UInt8(ascii: "\"")) else { throw parser.error("expected a string key") }
            let key = try parser.parseString()
            parser.skipSpace()
            guard at(UInt8(ascii: ":")) else { throw parser.error("expected ':'") }
            parser.index += 1
            try body(&self, key)
            parser.skipSpace()
            guard parser.index < parser.bytes.count else { throw parser.error("unterminated object") }
            if at(UInt8(ascii: ",")) { parser.index += 1; continue }
            if at(UInt8(ascii: "}")) { parser.index += 1; return true }
            throw parser.error("expected ',' or '}'")
        }
    }

    /// When the next value is an array, calls `body` for each element, which it must read or
    /// skip exactly once; returns true. Any other value is skipped and the answer is false.
    public mutating func elements(_ body: (inout JSONReader) throws -> Void) throws -> Bool {
        guard depth <= JSONValue.maxDepth else { throw parser.error("nesting deeper than \(JSONValue.maxDepth) levels") }
        guard nextByte == UInt8(ascii: "[") else { try skip(); return false }
        parser.index += 1
        depth += 1
        defer { depth -= 1 }
        parser.skipSpace()
        if at(UInt8(ascii: "]")) { parser.index += 1; return true }
        while true {
            try body(&self)
            parser.skipSpace()
            guard parser.index < parser.bytes.count else { throw parser.error("unterminated array") }
            if at(UInt8(ascii: ",")) { parser.index += 1; continue }
            if at(UInt8(ascii: "]")) { parser.index += 1; return true }
            throw parser.error("expected ',' or ']'")
        }
    }

    /// Checks that nothing but white space follows the document.
    public mutating func end() throws {
        parser.skipSpace()
        guard parser.index == parser.bytes.count else { throw parser.error("unexpected text after the JSON value") }
    }

    /// The first byte of the next value (after white space), or nil at the end: `{`, `[`, `"`
    /// or the start of a literal or number, for a caller that reads different kinds differently.
    public var nextByte: UInt8? {
        mutating get {
            parser.skipSpace()
            return parser.index < parser.bytes.count ? parser.bytes[parser.index] : nil
        }
    }

    private func at(_ byte: UInt8) -> Bool { parser.index < parser.bytes.count && parser.bytes[parser.index] == byte }
}
