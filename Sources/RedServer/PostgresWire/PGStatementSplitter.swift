import Foundation

/// Splits a simple-query string into statements at top-level `;`, the way
/// PostgreSQL's own lexer does: semicolons inside '…' and E'…' strings, "…"
/// identifiers, $tag$…$tag$ bodies, -- line comments and nested /* */
/// comments do not split. The wire layer needs this before the RQL parser
/// sees anything, because some statements (SET, SHOW of settings, COPY,
/// catalog queries) are answered by the wire layer itself.
enum PGStatementSplitter {
    static func split(_ sql: String) -> [String] {
        let bytes = Array(sql.utf8)
        var statements: [String] = []
        var start = 0
        var i = 0
        func peek(_ offset: Int) -> UInt8? { i + offset < bytes.count ? bytes[i + offset] : nil }
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                // E'…' strings may escape the quote with a backslash.
                let escapes = c == UInt8(ascii: "'") && i > 0 && (bytes[i - 1] | 0x20) == UInt8(ascii: "e")
                i += 1
                while i < bytes.count {
                    if escapes, bytes[i] == UInt8(ascii: "\\") { i += 2; continue }
                    if bytes[i] == c {
                        if peek(1) == c { i += 2; continue }  // doubled quote
                        break
                    }
                    i += 1
                }
                i += 1
            case UInt8(ascii: "-") where peek(1) == UInt8(ascii: "-"):
                while i < bytes.count, bytes[i] != 0x0A { i += 1 }
            case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "*"):
                var depth = 0
                while i < bytes.count {
                    if bytes[i] == UInt8(ascii: "/"), peek(1) == UInt8(ascii: "*") { depth += 1; i += 2; continue }
                    if bytes[i] == UInt8(ascii: "*"), peek(1) == UInt8(ascii: "/") {
                        depth -= 1; i += 2
                        if depth == 0 { break }
                        continue
                    }
                    i += 1
                }
            case UInt8(ascii: "$"):
                // $tag$ … $tag$ (tag may be empty); a bare $1 parameter is not a quote.
                var j = i + 1
                while j < bytes.count, bytes[j] == UInt8(ascii: "_") || (bytes[j] | 0x20) >= UInt8(ascii: "a") && (bytes[j] | 0x20) <= UInt8(ascii: "z") { j += 1 }
                if j < bytes.count, bytes[j] == UInt8(ascii: "$") {
                    let tag = bytes[i...j]
                    var k = j + 1
                    var closed = false
                    // Compared in place, failing at the first differing byte (a copy of the tag at
                    // every position made a long unclosed tag quadratic).
                    while k + tag.count <= bytes.count {
                        if bytes[k] == UInt8(ascii: "$"), bytes[k..<(k + tag.count)].elementsEqual(tag) { closed = true; break }
                        k += 1
                    }
                    i = closed ? k + tag.count : bytes.count
                } else {
                    i += 1
                }
            case UInt8(ascii: ";"):
                append(bytes[start..<i], to: &statements)
                i += 1
                start = i
            default:
                i += 1
            }
        }
        if start < bytes.count { append(bytes[start..<bytes.count], to: &statements) }
        return statements
    }

    private static func append(_ slice: ArraySlice<UInt8>, to statements: inout [String]) {
        let text = String(decoding: slice, as: UTF8.self)
        if !isBlank(text) { statements.append(text.trimmingCharacters()) }
    }

    /// True when the text holds only whitespace and comments.
    static func isBlank(_ text: String) -> Bool {
        var rest = Substring(text)
        while true {
            rest = rest.drop { $0.isWhitespace }
            if rest.hasPrefix("--") {
                rest = rest.drop { $0 != "\n" }
            } else if rest.hasPrefix("/*") {
                guard let end = rest.range(of: "*/") else { return true }
                rest = rest[end.upperBound...]
            } else {
                return rest.isEmpty
            }
        }
    }
}

extension String {
    func trimmingCharacters() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}
