import Testing
import RedCore

/// `JSONReader` must accept and refuse exactly what `JSONValue.parse` does, with the same
/// error, while building only what it is asked for.
@Suite struct JSONReaderTests {
    /// What the full parse says about `bytes`: its value, or its error.
    static func parsed(_ bytes: [UInt8]) -> String {
        do { return "\(try JSONValue.parse(utf8: bytes))" } catch { return "error: \(error)" }
    }

    /// What the reader says when it skips the whole document, or builds it through `members`
    /// and `elements` (so every nesting path of the reader is walked).
    static func skipped(_ bytes: [UInt8]) -> String? {
        do {
            var reader = JSONReader(utf8: bytes)
            try reader.skip()
            try reader.end()
            return nil
        } catch { return "error: \(error)" }
    }

    static func rebuilt(_ bytes: [UInt8]) -> String {
        func build(_ reader: inout JSONReader) throws -> JSONValue {
            switch reader.nextByte {
            case UInt8(ascii: "{"):
                var members: [(String, JSONValue)] = []
                _ = try reader.members { reader, key in
                    let value = try build(&reader)
                    members.removeAll { $0.0 == key }
                    members.append((key, value))
                }
                return .object(members)
            case UInt8(ascii: "["):
                var items: [JSONValue] = []
                _ = try reader.elements { reader in items.append(try build(&reader)) }
                return .array(items)
            default:
                return try reader.value()
            }
        }
        do {
            var reader = JSONReader(utf8: bytes)
            let built = try build(&reader)
            try reader.end()
            return "\(built)"
        } catch { return "error: \(error)" }
    }

    static let documents: [String] = [
        #"{"a":1,"b":[true,false,null],"c":{"d":"e\u00e9\n","f":-1.5e3},"a":2}"#,
        #" [ 1 , { "x" : [ ] , "y" : { } } , "\ud83d\ude00" ] "#,
        #"{"stats":{"rows":0},"records":[{"values":{"?column?":1}}],"query":"SELECT 1"}"#,
        "\"plain\"", "12", "-0.5", "true", "null", "{}", "[]",
    ]

    /// Every prefix and many one-byte changes of each document, plus nesting past the limit.
    static var corpus: [[UInt8]] {
        var out: [[UInt8]] = []
        for text in documents {
            let bytes = Array(text.utf8)
            out.append(bytes)
            for end in 0..<bytes.count { out.append(Array(bytes[..<end])) }
            for at in bytes.indices {
                for replacement in Array("}]\",:x1 \\{[".utf8) {
                    var changed = bytes
                    changed[at] = replacement
                    out.append(changed)
                }
            }
            out.append(bytes + Array(" x".utf8))
        }
        for depth in [JSONValue.maxDepth, JSONValue.maxDepth + 1, JSONValue.maxDepth + 2] {
            out.append(Array((String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).utf8))
            out.append(Array((String(repeating: "{\"k\":", count: depth) + "0" + String(repeating: "}", count: depth)).utf8))
            out.append(Array(String(repeating: "[", count: depth).utf8))
            out.append(Array(("{\"skip\":" + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}").utf8))
        }
        return out
    }

    @Test func skippingAcceptsAndRefusesAsTheFullParse() {
        for bytes in Self.corpus {
            let full = Self.parsed(bytes)
            let skip = Self.skipped(bytes)
            #expect(skip == (full.hasPrefix("error: ") ? full : nil), "\(String(decoding: bytes, as: UTF8.self))")
        }
    }

    @Test func readingMemberByMemberBuildsWhatTheFullParseBuilds() {
        for bytes in Self.corpus {
            #expect(Self.rebuilt(bytes) == Self.parsed(bytes), "\(String(decoding: bytes, as: UTF8.self))")
        }
    }

    @Test func aValueOfAnotherKindIsSkippedAndReported() throws {
        var reader = JSONReader(utf8: Array(#"[{"a":1}, 5, "s", [2]]"#.utf8))
        var kinds: [String] = []
        _ = try reader.elements { reader in
            if try reader.members({ reader, _ in try reader.skip() }) { kinds.append("object") }
            else { kinds.append("other") }
        }
        try reader.end()
        #expect(kinds == ["object", "other", "other", "other"])
    }
}
