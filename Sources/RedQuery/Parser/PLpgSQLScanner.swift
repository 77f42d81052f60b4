import RedCore

/// The tokens of a PL/pgSQL body, with where each lies in the text.
///
/// Why a scanner of its own rather than the SQL lexer: PL/pgSQL has tokens SQL does not
/// (`:=`, `..` in `FOR i IN 1..10`, `<<label>>`), and the SQL inside a body is handed on as
/// text, so all that matters here is where words, strings, comments and brackets begin and
/// end. Strings (`'…'`, `E'…'`, `$tag$…$tag$`) and quoted identifiers are skipped whole, so
/// a `;` or `END` inside them never ends a statement.
struct PLpgSQLScanner {
    struct Token: Equatable {
        enum Kind: Equatable {
            /// A word, lower-cased unless quoted (quoted words are never keywords).
            case word(String, quoted: Bool)
            case literal
            case symbol(String)
            case end
        }
        var kind: Kind
        /// Byte range in the body.
        var start: Int
        var end: Int
    }

    static let twoCharacterSymbols: Set<String> = [":=", "..", "<<", ">>", "::", "<=", ">=", "<>", "!=", "||", "=>"]

    static func scan(_ bytes: [UInt8]) throws -> [Token] {
        var tokens: [Token] = []
        var i = 0
        func at(_ k: Int) -> UInt8? { k < bytes.count ? bytes[k] : nil }
        func failure(_ what: String) -> RedError { RedError(.syntaxError, "\(what) in PL/pgSQL body") }
        /// The index after a quoted run that opened at `open` with `quote` (doubled quotes stay
        /// inside; with `backslashes`, `\x` too).
        func endOfQuoted(_ open: Int, _ quote: UInt8, backslashes: Bool) throws -> Int {
            var k = open + 1
            while true {
                guard let d = at(k) else { throw failure("unterminated quoted string") }
                if backslashes, d == UInt8(ascii: "\\") { k += 2; continue }
                k += 1
                if d == quote {
                    if at(k) == quote { k += 1; continue }
                    return k
                }
            }
        }
        while let c = at(i) {
            if c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D || c == 0x0C { i += 1; continue }
            if c == UInt8(ascii: "-"), at(i + 1) == UInt8(ascii: "-") {
                while let d = at(i), d != 0x0A { i += 1 }
                continue
            }
            if c == UInt8(ascii: "/"), at(i + 1) == UInt8(ascii: "*") {
                var depth = 0
                repeat {
                    guard let d = at(i) else { throw failure("unterminated /* comment") }
                    if d == UInt8(ascii: "/"), at(i + 1) == UInt8(ascii: "*") { depth += 1; i += 2 }
                    else if d == UInt8(ascii: "*"), at(i + 1) == UInt8(ascii: "/") { depth -= 1; i += 2 }
                    else { i += 1 }
                } while depth > 0
                continue
            }
            let start = i
            if Lexer.isIdentStart(c) {
                if c == UInt8(ascii: "e") || c == UInt8(ascii: "E"), at(i + 1) == UInt8(ascii: "'") {
                    i = try endOfQuoted(i + 1, UInt8(ascii: "'"), backslashes: true)
                    tokens.append(Token(kind: .literal, start: start, end: i))
                    continue
                }
                while let d = at(i), Lexer.isIdentPart(d) { i += 1 }
                let word = String(decoding: bytes[start..<i], as: UTF8.self).lowercased()
                tokens.append(Token(kind: .word(word, quoted: false), start: start, end: i))
                continue
            }
            if Lexer.isDigit(c) {
                while let d = at(i), Lexer.isDigit(d) { i += 1 }
                // `1.5` is a number; `1..10` is 1, `..`, 10.
                if at(i) == UInt8(ascii: "."), let d = at(i + 1), Lexer.isDigit(d) {
                    i += 1
                    while let d = at(i), Lexer.isDigit(d) { i += 1 }
                }
                if let e = at(i), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
                    var k = i + 1
                    if let sign = at(k), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { k += 1 }
                    if let d = at(k), Lexer.isDigit(d) {
                        i = k
                        while let d = at(i), Lexer.isDigit(d) { i += 1 }
                    }
                }
                tokens.append(Token(kind: .literal, start: start, end: i))
                continue
            }
            switch c {
            case UInt8(ascii: "'"):
                i = try endOfQuoted(i, c, backslashes: false)
                tokens.append(Token(kind: .literal, start: start, end: i))
                continue
            case UInt8(ascii: "\""):
                i = try endOfQuoted(i, c, backslashes: false)
                let inner = String(decoding: bytes[(start + 1)..<(i - 1)], as: UTF8.self).replacingOccurrences(of: "\"\"", with: "\"")
                tokens.append(Token(kind: .word(inner, quoted: true), start: start, end: i))
                continue
            case UInt8(ascii: "$"):
                var k = i + 1
                while let d = at(k), Lexer.isIdentPart(d), d != UInt8(ascii: "$") { k += 1 }
                if at(k) == UInt8(ascii: "$"), k == i + 1 || !Lexer.isDigit(bytes[i + 1]) {
                    let tag = bytes[i...k]
                    var m = k + 1
                    // The closing tag starts at a `$`; compared in place, so a long tag costs no copies.
                    while m + tag.count <= bytes.count, !(bytes[m] == UInt8(ascii: "$") && bytes[m..<(m + tag.count)].elementsEqual(tag)) { m += 1 }
                    guard m + tag.count <= bytes.count else { throw failure("unterminated dollar-quoted string") }
                    i = m + tag.count
                    tokens.append(Token(kind: .literal, start: start, end: i))
                    continue
                }
                i += 1
                while let d = at(i), Lexer.isDigit(d) { i += 1 }
                tokens.append(Token(kind: .literal, start: start, end: i))  // `$1`: a parameter, passed on as written
                continue
            default:
                break
            }
            if let d = at(i + 1) {
                let pair = String(decoding: [c, d], as: UTF8.self)
                if Self.twoCharacterSymbols.contains(pair) {
                    i += 2
                    tokens.append(Token(kind: .symbol(pair), start: start, end: i))
                    continue
                }
            }
            i += 1
            tokens.append(Token(kind: .symbol(String(decoding: [c], as: UTF8.self)), start: start, end: i))
        }
        tokens.append(Token(kind: .end, start: bytes.count, end: bytes.count))
        return tokens
    }
}
