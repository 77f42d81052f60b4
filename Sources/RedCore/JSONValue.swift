/// A parsed JSON document: the payload of `Value.json` and of document bodies.
///
/// Objects keep their keys in the order written (as PostgreSQL's `json` does),
/// so a document reads back exactly as it was inserted. Numbers keep what their text says, as
/// PostgreSQL's jsonb keeps them (a numeric): `1` is `.integer`; a number a double holds as
/// written is `.float` (`1.5`, `0.25`, `1e3` is 1000); any other — one a double would round
/// (`0.1000000000000000055511151231257827`, an integer past Int64) or whose written scale it
/// would lose (`1.50`) — is `.decimal`, exact. Only a number of more than 36 significant digits
/// (or a scale past 36) becomes the nearest double.
///
/// Parsing is bounded: `maxDepth` nesting levels and the caller's byte limit.
/// Malformed input throws `invalidTextRepresentation` naming the byte offset.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case integer(Int64)
    case float(Double)
    case decimal(Numeric)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// Nesting limit for parsed documents (objects and arrays).
    public static let maxDepth = 128

    /// `value` if it nests at most `maxDepth` levels, else 54000. For documents a statement
    /// builds (`json_build_array`, `json_agg`, `ARRAY[…]` …): a recursive query wrapping one
    /// level per step could otherwise nest one as deep as it liked, and writing, hashing or
    /// freeing it recurses per level; a parsed document never gets that deep.
    public static func checkedNesting(_ value: JSONValue) throws -> JSONValue {
        // As deep as a parsed document may be (the parser's levels count from 0 to `maxDepth`).
        guard value.nestsWithin(maxDepth + 1) else {
            throw RedError(.limitExceeded, "JSON value nests deeper than \(maxDepth) levels")
        }
        return value
    }

    /// Whether no object or array lies deeper than `levels` (recursing at most that far).
    func nestsWithin(_ levels: Int) -> Bool {
        switch self {
        case .array(let items): return levels > 0 && items.allSatisfy { $0.nestsWithin(levels - 1) }
        case .object(let members): return levels > 0 && members.allSatisfy { $0.1.nestsWithin(levels - 1) }
        default: return true
        }
    }

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.integer(a), .integer(b)): return a == b
        case let (.float(a), .float(b)): return a == b
        case let (.integer(a), .float(b)), let (.float(b), .integer(a)): return Double(a) == b
        // Exact numbers compare exactly (`1.50` is `1.5`, as numerics are); beside a double, as doubles.
        case let (.decimal(a), .decimal(b)): return Numeric.compare(a, b) == 0
        case let (.decimal(a), .integer(b)), let (.integer(b), .decimal(a)): return Numeric.compare(a, b) == 0
        case let (.decimal(a), .float(b)), let (.float(b), .decimal(a)): return a.doubleValue == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(b)
        case .integer(let i): hasher.combine(Double(i))
        case .float(let d): hasher.combine(d)
        case .decimal(let n): hasher.combine(n.doubleValue)  // equal numbers are equal doubles
        case .string(let s): hasher.combine(s)
        case .array(let a): hasher.combine(a)
        case .object(let o): for (k, v) in o { hasher.combine(k); hasher.combine(v) }
        }
    }

    /// The member `key` of an object, or nil.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.0 == key })?.1
    }

    /// An integer or float as a Double, or nil for anything else.
    public var number: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .float(let d): return d
        case .decimal(let n): return n.doubleValue
        default: return nil
        }
    }

    /// Compact JSON text, keys in stored order.
    public var text: String { String(decoding: utf8, as: UTF8.self) }

    /// The JSON text as UTF-8 bytes: what a reply's payload carries. Written as bytes (appending
    /// to a `String` cost more per piece than the writing itself) and used by `text` too.
    public var utf8: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        write(to: &out)
        return out
    }

    /// Appends the compact JSON text to `out` (what `utf8` returns), for writers that build a
    /// larger document around it without making it a `JSONValue` first.
    public func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .integer(let i): out.append(contentsOf: String(i).utf8)
        case .float(let d): out.append(contentsOf: (d.isFinite ? NumberFormatting.shortest(d) : "null").utf8)
        case .decimal(let n): out.append(contentsOf: n.text.utf8)
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// PostgreSQL's text form of a `jsonb` value (`jsonb_out`, what psql shows and drivers
    /// receive): `", "` between items and `": "` after keys; an object's keys shortest first,
    /// then by their bytes, each once with its last value — the order jsonb keeps them in.
    public var jsonbText: String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        writeJSONB(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private func writeJSONB(to out: inout [UInt8]) {
        switch self {
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(contentsOf: ", ".utf8) }
                item.writeJSONB(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            var last: [String: Int] = [:]
            for (i, (key, _)) in members.enumerated() { last[key] = i }
            let kept = members.indices.filter { last[members[$0].0] == $0 }.sorted { a, b in
                let (x, y) = (members[a].0.utf8, members[b].0.utf8)
                return x.count != y.count ? x.count < y.count : x.lexicographicallyPrecedes(y)
            }
            out.append(UInt8(ascii: "{"))
            for (i, index) in kept.enumerated() {
                if i > 0 { out.append(contentsOf: ", ".utf8) }
                JSONValue.writeString(members[index].0, to: &out)
                out.append(contentsOf: ": ".utf8)
                members[index].1.writeJSONB(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        default:
            write(to: &out)
        }
    }

    /// Appends `s` as a JSON string literal, quoted and escaped.
    public static func writeString(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { writeString(utf8: $0, to: &out) }
    }

    /// Runs of bytes that need no escape are copied whole, straight from the string's storage.
    /// UTF-8 continuation and lead bytes are ≥ 0x80, so a multi-byte character is never split.
    private static func writeString(utf8 bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var run = 0
        for i in bytes.indices {
            let byte = bytes[i]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<i]))
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
            case UInt8(ascii: "\n"): out.append(contentsOf: "\\n".utf8)
            case UInt8(ascii: "\r"): out.append(contentsOf: "\\r".utf8)
            case UInt8(ascii: "\t"): out.append(contentsOf: "\\t".utf8)
            default:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            }
            run = i + 1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...]))
        out.append(UInt8(ascii: "\""))
    }

    /// Parses one JSON document; trailing non-space text is an error.
    public static func parse(_ text: String) throws -> JSONValue {
        try parse(utf8: Array(text.utf8))
    }

    /// Parses one JSON document from its UTF-8 bytes (a reply's payload, without first making it a `String`).
    public static func parse(utf8: [UInt8]) throws -> JSONValue {
        var parser = JSONParser(bytes: utf8)
        let value = try parser.parseValue(depth: 0)
        parser.skipSpace()
        guard parser.index == parser.bytes.count else { throw parser.error("unexpected text after the JSON value") }
        return value
    }
}

/// Recursive-descent JSON parser over UTF-8 bytes; every read is bounds-checked.
struct JSONParser {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func error(_ message: String) -> RedError {
        RedError(.invalidTextRepresentation, "invalid JSON at byte \(index): \(message)")
    }

    mutating func skipSpace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
            index += 1
        }
    }

    mutating func parseValue(depth: Int) throws -> JSONValue {
        guard depth <= JSONValue.maxDepth else { throw error("nesting deeper than \(JSONValue.maxDepth) levels") }
        skipSpace()
        guard index < bytes.count else { throw error("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var members: [(String, JSONValue)] = []
            var positions: [String: Int]?
            var replaced: Set<Int> = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let key = try parseString()
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
                index += 1
                let value = try parseValue(depth: depth + 1)
                // A repeated key keeps its last value, moved to the end. Found by scanning while
                // the object is small; past 16 members through an index (scanning made an object
                // of many keys quadratic), with replaced members dropped at the end.
                if positions == nil, members.count >= 16 {
                    positions = Dictionary(members.enumerated().map { ($0.element.0, $0.offset) }, uniquingKeysWith: { $1 })
                }
                if positions != nil {
                    if let old = positions![key] { replaced.insert(old) }
                    positions![key] = members.count
                } else if let existing = members.firstIndex(where: { $0.0 == key }) {
                    members.remove(at: existing)
                }
                members.append((key, value))
                skipSpace()
                guard index < bytes.count else { throw error("unterminated object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    if !replaced.isEmpty { members = members.indices.filter { !replaced.contains($0) }.map { members[$0] } }
                    return .object(members)
                }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            index += 1
            var items: [JSONValue] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
            while true {
                items.append(try parseValue(depth: depth + 1))
                skipSpace()
                guard index < bytes.count else { throw error("unterminated array") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        default:
            return try parseNumber()
        }
    }

    mutating func expectWord(_ word: StaticString) throws {
        let w = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard index + w.count <= bytes.count, bytes[index..<index + w.count].elementsEqual(w) else { throw error("unknown literal") }
        index += w.count
    }

    /// Where a number's digits end, before any exponent.
    func mantissaEnd(_ range: Range<Int>) -> Int {
        range.first { bytes[$0] == UInt8(ascii: "e") || bytes[$0] == UInt8(ascii: "E") } ?? range.upperBound
    }

    /// The digits in `range` (a number's, before its exponent), leading zeros not counted.
    func significantDigits(_ range: Range<Int>) -> Int {
        var count = 0
        for i in range where bytes[i] >= 0x30 && bytes[i] <= 0x39 {
            if count > 0 || bytes[i] != 0x30 { count += 1 }
        }
        return count
    }

    mutating func parseNumber() throws -> JSONValue {
        let start = index
        var isFloat = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        var digits = 0
        while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1; digits += 1 }
        guard digits > 0 else { throw error("unexpected character") }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isFloat = true
            index += 1
            var fraction = 0
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1; fraction += 1 }
            guard fraction > 0 else { throw error("digits expected after '.'") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isFloat = true
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            var exponent = 0
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1; exponent += 1 }
            guard exponent > 0 else { throw error("digits expected in exponent") }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if !isFloat, let i = Int64(text) { return .integer(i) }
        let double = Double(text)
        // Most numbers are a double's shortest digits as written (`1.5`, `0.25`, `1e3`): up to
        // 15 significant digits not ending in a zero always are. The rest are checked, and kept
        // exact (`.decimal`) when a double would change their value or their scale.
        let digitsEnd = mantissaEnd(start..<index)
        if let double, double.isFinite, significantDigits(start..<digitsEnd) <= 15, bytes[digitsEnd - 1] != UInt8(ascii: "0") {
            return .float(double)
        }
        if let exact = JSONValue.exactNumber(text) {
            if let double, let back = try? Numeric.parse(NumberFormatting.shortest(double)), back.isIdentical(to: exact) { return .float(double) }
            return .decimal(exact)
        }
        guard let double, double.isFinite else { throw error("number out of range") }
        return .float(double)
    }

    mutating func parseString() throws -> String {
        index += 1  // opening quote
        var runStart = index
        var result = ""
        while true {
            guard index < bytes.count else { throw error("unterminated string") }
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                // Most strings have no escape: one decode of their bytes.
                let run = String(decoding: bytes[runStart..<index], as: UTF8.self)
                index += 1
                if result.isEmpty { return run }
                result += run
                return result
            }
            if b < 0x20 { throw error("control character in string") }
            if b == UInt8(ascii: "\\") {
                result += String(decoding: bytes[runStart..<index], as: UTF8.self)
                index += 1
                guard index < bytes.count else { throw error("unterminated escape") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): result += "\""
                case UInt8(ascii: "\\"): result += "\\"
                case UInt8(ascii: "/"): result += "/"
                case UInt8(ascii: "b"): result += "\u{08}"
                case UInt8(ascii: "f"): result += "\u{0C}"
                case UInt8(ascii: "n"): result += "\n"
                case UInt8(ascii: "r"): result += "\r"
                case UInt8(ascii: "t"): result += "\t"
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                    result.unicodeScalars.append(scalar)
                default: throw error("invalid escape")
                }
                runStart = index
                continue
            }
            index += 1
        }
    }

    mutating func hex4() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let digit: UInt32
            switch c {
            case 0x30...0x39: digit = UInt32(c - 0x30)
            case 0x41...0x46: digit = UInt32(c - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(c - 0x61 + 10)
            default: throw error("invalid hex digit")
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }
}

extension JSONValue {
    /// A JSON number's text as an exact `Numeric`, when one holds it without rounding: once the
    /// exponent is applied, at most `Numeric.maxDigits` digits in all and after the point. Nil
    /// otherwise.
    static func exactNumber(_ text: String) -> Numeric? {
        let parts = text.split(whereSeparator: { $0 == "e" || $0 == "E" })
        let mantissa = parts[0].drop { $0 == "-" }
        let exponent = parts.count > 1 ? Int(parts[1]) ?? Int.max : 0
        guard abs(exponent) <= 1000 else { return nil }
        let digits = mantissa.filter { $0 != "." }
        let significant = digits.drop { $0 == "0" }.count
        let fraction = mantissa.firstIndex(of: ".").map { mantissa.distance(from: $0, to: mantissa.endIndex) - 1 } ?? 0
        let scale = fraction - exponent
        guard significant + max(-scale, 0) <= Numeric.maxDigits, scale <= Numeric.maxDigits else { return nil }
        return try? Numeric.parse(text)
    }
}
