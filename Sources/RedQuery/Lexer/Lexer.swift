import RedCore

/// One lexical token and the byte offset where it starts.
public struct Token: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// An identifier or keyword. Unquoted text is folded to lower case (PostgreSQL);
        /// `quoted` identifiers keep their case and are never keywords.
        case identifier(String, quoted: Bool)
        case string(String)
        case integer(Int64)
        case float(Double)
        /// A numeric literal with a point and no exponent, or an integer past bigint: exact, like
        /// PostgreSQL's numeric literals (up to 38 digits; `Numeric`).
        case decimal(Numeric)
        /// `$N` (1-based) or `?` (numbered left to right by the lexer).
        case parameter(Int)
        /// A raw JSON object literal (`{"a": 1}`), verbatim.
        case json(String)
        /// Operators and punctuation: `= <> != < <= > >= + - * / % || ( ) [ ] { } , . ; :: :`.
        case symbol(String)
        case end
    }
    public var kind: Kind
    public var offset: Int
}

/// Parser limits (spec §1.1), each with its unit in its name.
public struct ParserLimits: Sendable {
    /// Longest statement text, in UTF-8 bytes.
    public var maxInputBytes = 1_048_576
    /// Deepest nesting of expressions and subqueries.
    public var maxDepth = 128
    /// Deepest expression tree, counting each operator of a chain like `a + b + c` as a level
    /// (the binder and evaluator recurse once per level; the stack must hold them). A release
    /// server on 8 MiB thread stacks ran chains of 6,000 `+` or `OR` and crashed at 7,000 (on
    /// its event loop and on the shared pool alike); this leaves more than twice that margin.
    public var maxExpressionDepth = 2_500
    /// Longest identifier, in characters.
    public var maxIdentifierChars = 256
    /// Longest JSON object literal, in bytes.
    public var maxJSONLiteralBytes = 16_777_216
    /// The defaults above.
    public init() {}
}

/// Turns RQL text into tokens.
///
/// PostgreSQL lexical rules where upstream differs: `"x"` is a quoted
/// identifier, strings use single quotes with `''` doubled, `::` is the cast
/// operator, `--` and `/* */` (nestable) are comments. From RedDB: `{` followed
/// by `"` or `}` starts a raw JSON object literal scanned to its balanced end.
struct Lexer {
    let bytes: [UInt8]
    let limits: ParserLimits
    var index = 0
    var questionCount = 0
    /// The token before the one being read: whether a `?` is an operator or a placeholder.
    var previous: Token.Kind?
    var sawDollar = false

    init(_ text: String, limits: ParserLimits) {
        self.bytes = Array(text.utf8)
        self.limits = limits
    }

    static func tokenize(_ text: String, limits: ParserLimits) throws -> [Token] {
        var lexer = Lexer(text, limits: limits)
        guard lexer.bytes.count <= limits.maxInputBytes else {
            throw SyntaxError.make("input exceeds maximum size (max_input_bytes = \(limits.maxInputBytes) bytes)", at: 0, in: lexer.bytes)
        }
        var tokens: [Token] = []
        while true {
            let token = try lexer.nextToken()
            tokens.append(token)
            lexer.previous = token.kind
            if token.kind == .end { break }
        }
        if lexer.sawDollar && lexer.questionCount > 0 {
            throw SyntaxError.make("cannot mix `?` and `$N` placeholders in one statement", at: 0, in: lexer.bytes)
        }
        return tokens
    }

    func error(_ message: String, at offset: Int) -> RedError { SyntaxError.make(message, at: offset, in: bytes) }

    func peek(_ ahead: Int = 0) -> UInt8? { index + ahead < bytes.count ? bytes[index + ahead] : nil }

    mutating func skipTrivia() throws {
        while let c = peek() {
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C {
                index += 1
            } else if c == UInt8(ascii: "-"), peek(1) == UInt8(ascii: "-") {
                while let d = peek(), d != 0x0A { index += 1 }
            } else if c == UInt8(ascii: "/"), peek(1) == UInt8(ascii: "*") {
                let start = index
                var depth = 0
                repeat {
                    guard let d = peek() else { throw error("unterminated /* comment", at: start) }
                    if d == UInt8(ascii: "/"), peek(1) == UInt8(ascii: "*") { depth += 1; index += 2 }
                    else if d == UInt8(ascii: "*"), peek(1) == UInt8(ascii: "/") { depth -= 1; index += 2 }
                    else { index += 1 }
                } while depth > 0
            } else {
                return
            }
        }
    }

    static func isIdentStart(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c >= 0x80 }
    static func isIdentPart(_ c: UInt8) -> Bool { isIdentStart(c) || (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "$") }
    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    mutating func nextToken() throws -> Token {
        try skipTrivia()
        let start = index
        guard let c = peek() else { return Token(kind: .end, offset: index) }
        if Self.isIdentStart(c) {
            if (c == UInt8(ascii: "e") || c == UInt8(ascii: "E")), peek(1) == UInt8(ascii: "'") {
                index += 1
                return Token(kind: .string(try scanString(escapes: true)), offset: start)
            }
            while let d = peek(), Self.isIdentPart(d) { index += 1 }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            guard text.count <= limits.maxIdentifierChars else {
                throw SyntaxError.make("identifier exceeds maximum length (max_identifier_chars = \(limits.maxIdentifierChars))", at: start, in: bytes)
            }
            return Token(kind: .identifier(text.lowercased(), quoted: false), offset: start)
        }
        if Self.isDigit(c) || (c == UInt8(ascii: ".") && peek(1).map(Self.isDigit) == true) { return try scanNumber() }
        switch c {
        case UInt8(ascii: "'"):
            return Token(kind: .string(try scanString(escapes: false)), offset: start)
        case UInt8(ascii: "\""):
            index += 1
            var text: [UInt8] = []
            while true {
                guard let d = peek() else { throw error("unterminated quoted identifier", at: start) }
                index += 1
                if d == UInt8(ascii: "\"") {
                    if peek() == UInt8(ascii: "\"") { text.append(d); index += 1; continue }
                    break
                }
                text.append(d)
            }
            let name = String(decoding: text, as: UTF8.self)
            guard !name.isEmpty else { throw error("zero-length delimited identifier", at: start) }
            guard name.count <= limits.maxIdentifierChars else {
                throw SyntaxError.make("identifier exceeds maximum length (max_identifier_chars = \(limits.maxIdentifierChars))", at: start, in: bytes)
            }
            return Token(kind: .identifier(name, quoted: true), offset: start)
        case UInt8(ascii: "$"):
            if let quoted = try scanDollarQuoted() { return Token(kind: .string(quoted), offset: start) }
            index += 1
            let digitsStart = index
            while let d = peek(), Self.isDigit(d) { index += 1 }
            guard index > digitsStart, let n = Int(String(decoding: bytes[digitsStart..<index], as: UTF8.self)) else {
                throw error("expected a parameter number after '$'", at: start)
            }
            guard n >= 1, n <= 65_535 else { throw error("placeholder index must be between 1 and 65535", at: start) }
            sawDollar = true
            return Token(kind: .parameter(n), offset: start)
        case UInt8(ascii: "?"):
            // jsonb's `?|` and `?&` (`?||` stays a placeholder, then `||`), and `?` itself after
            // an operand, where a placeholder cannot stand (`tags ? 'a'`, but `WHERE ?`, `= ?`).
            if let next = peek(1), next == UInt8(ascii: "|") || next == UInt8(ascii: "&"), peek(2) != next {
                index += 2
                return Token(kind: .symbol(next == UInt8(ascii: "|") ? "?|" : "?&"), offset: start)
            }
            index += 1
            if Self.endsOperand(previous) { return Token(kind: .symbol("?"), offset: start) }
            questionCount += 1
            return Token(kind: .parameter(questionCount), offset: start)
        case UInt8(ascii: "{"):
            var look = index + 1
            while look < bytes.count, bytes[look] == 0x20 || bytes[look] == 0x0A || bytes[look] == 0x09 || bytes[look] == 0x0D { look += 1 }
            if look < bytes.count, bytes[look] == UInt8(ascii: "\"") || bytes[look] == UInt8(ascii: "}") {
                return Token(kind: .json(try scanJSONObject()), offset: start)
            }
            index += 1
            return Token(kind: .symbol("{"), offset: start)
        default:
            break
        }
        // Byte comparisons: this runs for every punctuation token of every statement.
        if c == UInt8(ascii: "#"), peek(1) == UInt8(ascii: ">"), peek(2) == UInt8(ascii: ">") {
            index += 3
            return Token(kind: .symbol("#>>"), offset: start)
        }
        // pgvector's distance operators: `<->` (L2), `<=>` (cosine), `<#>` (negative inner
        // product), `<+>` (L1). No other SQL puts these three bytes together.
        if c == UInt8(ascii: "<"), peek(2) == UInt8(ascii: ">"), let middle = peek(1),
           middle == UInt8(ascii: "-") || middle == UInt8(ascii: "=") || middle == UInt8(ascii: "#") || middle == UInt8(ascii: "+") {
            index += 3
            return Token(kind: .symbol(String(decoding: [c, middle, UInt8(ascii: ">")], as: UTF8.self)), offset: start)
        }
        if c == UInt8(ascii: "!"), peek(1) == UInt8(ascii: "~"), peek(2) == UInt8(ascii: "*") {
            index += 3
            return Token(kind: .symbol("!~*"), offset: start)
        }
        // `||/` (cube root) where an operand starts; after an operand `||` is concatenation.
        if c == UInt8(ascii: "|"), peek(1) == UInt8(ascii: "|"), peek(2) == UInt8(ascii: "/"), peek(3) != UInt8(ascii: "*"), !Self.endsOperand(previous) {
            index += 3
            return Token(kind: .symbol("||/"), offset: start)
        }
        if c == UInt8(ascii: "|"), peek(1) == UInt8(ascii: "/"), peek(2) != UInt8(ascii: "*") {
            index += 2
            return Token(kind: .symbol("|/"), offset: start)
        }
        if let next = peek(1), let pair = Self.twoByteSymbol(c, next) {
            index += 2
            return Token(kind: .symbol(pair), offset: start)
        }
        if Self.oneByteSymbols.contains(c) {
            index += 1
            return Token(kind: .symbol(String(decoding: [c], as: UTF8.self)), offset: start)
        }
        let scalarEnd = min(bytes.count, index + 4)
        let shown = String(decoding: bytes[index..<scalarEnd], as: UTF8.self).first.map(String.init) ?? "?"
        throw error("Unexpected character: '\(shown)'", at: start)
    }

    static let oneByteSymbols = Set("=<>+-*/%()[]{},.;:^~&|#@".utf8)

    /// Whether a token ends an operand, so that a `?` after it is jsonb's key-exists operator:
    /// a literal, a placeholder, `)`, `]`, or a name that is not a keyword an operand follows.
    static func endsOperand(_ kind: Token.Kind?) -> Bool {
        switch kind {
        case .string?, .integer?, .float?, .decimal?, .parameter?, .json?: return true
        case .symbol(let s)?: return s == ")" || s == "]"
        case .identifier(_, true)?: return true
        case .identifier(let word, false)?: return !operandKeywords.contains(word)
        default: return false
        }
    }

    /// Keywords a value follows (`LIMIT ?`, `WHEN ? THEN ?`): a `?` after one is a placeholder.
    static let operandKeywords: Set<String> = [
        "select", "where", "and", "or", "not", "limit", "offset", "values", "set", "then", "else", "when", "in", "like", "ilike",
        "between", "by", "on", "having", "case", "distinct", "all", "any", "some", "to", "escape", "similar", "is", "returning",
        "fetch", "first", "next", "threshold", "min_score", "depth", "seed", "temperature", "expire", "with", "from", "ask",
        "return", "filter", "row", "rows", "interval", "array", "using", "model", "as", "if", "exists", "over", "partition",
    ]

    /// `<>`, `!=` (as `<>`), `<=`, `>=`, `||`, `::`, the JSON operators `#>`, `#-`, `@>`, `<@` and
    /// the array overlap `&&`, the regular-expression ones `~*`, `!~` (`#>>` and `!~*` are matched before this). `->`
    /// and `->>` stay `-` `>` tokens, which graph patterns read; the expression parser joins
    /// them when they touch.
    static func twoByteSymbol(_ first: UInt8, _ second: UInt8) -> String? {
        switch (first, second) {
        case (UInt8(ascii: "<"), UInt8(ascii: ">")), (UInt8(ascii: "!"), UInt8(ascii: "=")): return "<>"
        case (UInt8(ascii: "<"), UInt8(ascii: "=")): return "<="
        case (UInt8(ascii: ">"), UInt8(ascii: "=")): return ">="
        case (UInt8(ascii: "|"), UInt8(ascii: "|")): return "||"
        case (UInt8(ascii: ":"), UInt8(ascii: ":")): return "::"
        case (UInt8(ascii: "#"), UInt8(ascii: ">")): return "#>"
        case (UInt8(ascii: "#"), UInt8(ascii: "-")): return "#-"
        case (UInt8(ascii: "@"), UInt8(ascii: ">")): return "@>"
        case (UInt8(ascii: "@"), UInt8(ascii: "?")): return "@?"
        case (UInt8(ascii: "@"), UInt8(ascii: "@")): return "@@"
        case (UInt8(ascii: "<"), UInt8(ascii: "@")): return "<@"
        case (UInt8(ascii: "~"), UInt8(ascii: "*")): return "~*"
        case (UInt8(ascii: "!"), UInt8(ascii: "~")): return "!~"
        case (UInt8(ascii: "&"), UInt8(ascii: "&")): return "&&"
        default: return nil
        }
    }

    mutating func scanString(escapes: Bool) throws -> String {
        let start = index
        index += 1
        var out: [UInt8] = []
        while true {
            guard let d = peek() else { throw error("Unterminated string", at: start) }
            index += 1
            if d == UInt8(ascii: "'") {
                if peek() == UInt8(ascii: "'") { out.append(d); index += 1; continue }
                break
            }
            if escapes, d == UInt8(ascii: "\\"), let e = peek() {
                index += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                default: out.append(e)
                }
                continue
            }
            out.append(d)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Numbers as PostgreSQL 16 writes them: `42`, `1.5`, `.5`, `1e-3`, `0x1F`, `0o17`,
    /// `0b101`, and `_` between digits (`1_000_000`). Letters glued to a number are left for
    /// the next token (RedDB's `60m`, `time_bucket(5m)`); the parser refuses them where they
    /// would otherwise become an alias (`SELECT 12abc`), as PostgreSQL does.
    mutating func scanNumber() throws -> Token {
        let start = index
        if let radixToken = try scanRadixInteger() { return radixToken }
        var isFloat = false
        scanDigits()
        if peek() == UInt8(ascii: "."), peek(1) != UInt8(ascii: ".") {
            isFloat = true
            index += 1
            scanDigits()
        }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            var look = index + 1
            if look < bytes.count, bytes[look] == UInt8(ascii: "+") || bytes[look] == UInt8(ascii: "-") { look += 1 }
            if look < bytes.count, Self.isDigit(bytes[look]) {
                isFloat = true
                index = look
                scanDigits()
            } else if look > index + 1 || (look < bytes.count && !Self.isIdentPart(bytes[look])) || look >= bytes.count {
                throw error("Invalid float: \(String(decoding: bytes[start..<look], as: UTF8.self))", at: start)
            }
        }
        var text = String(decoding: bytes[start..<index], as: UTF8.self)
        if text.utf8.contains(UInt8(ascii: "_")) { text.removeAll { $0 == "_" } }
        if !isFloat {
            if let i = Int64(text) { return Token(kind: .integer(i), offset: start) }
            // PostgreSQL turns an integer literal too large for bigint into numeric; past 38 digits, a float.
            if let n = try? Numeric.parse(text) { return Token(kind: .decimal(n), offset: start) }
        } else if !text.contains(where: { $0 == "e" || $0 == "E" }), let n = try? Numeric.parse(text) {
            return Token(kind: .decimal(n), offset: start)
        }
        guard let d = Double(text) else { throw error("Invalid number: \(text)", at: start) }
        return Token(kind: .float(d), offset: start)
    }

    /// PostgreSQL's dollar quoting: `$$text$$` or `$tag$text$tag$`, the text taken verbatim
    /// (no escapes, quotes as they are). Nil when the `$` starts a parameter (`$1`) instead.
    mutating func scanDollarQuoted() throws -> String? {
        let start = index
        var look = index + 1
        guard look < bytes.count, bytes[look] == UInt8(ascii: "$") || (Self.isIdentStart(bytes[look])) else { return nil }
        while look < bytes.count, bytes[look] != UInt8(ascii: "$") {
            guard Self.isIdentPart(bytes[look]) else { return nil }
            look += 1
        }
        guard look < bytes.count else { return nil }
        let delimiter = Array(bytes[start...look])
        let bodyStart = look + 1
        var end = bodyStart
        while end + delimiter.count <= bytes.count {
            if bytes[end] == UInt8(ascii: "$"), bytes[end..<(end + delimiter.count)].elementsEqual(delimiter) {
                index = end + delimiter.count
                return String(decoding: bytes[bodyStart..<end], as: UTF8.self)
            }
            end += 1
        }
        throw error("unterminated dollar-quoted string", at: start)
    }

    /// Decimal digits, a single `_` allowed between two of them.
    mutating func scanDigits() {
        while let d = peek() {
            if Self.isDigit(d) { index += 1 } else if d == UInt8(ascii: "_"), index > 0, Self.isDigit(bytes[index - 1]),
                                                    peek(1).map(Self.isDigit) == true { index += 1 } else { return }
        }
    }

    /// `0x…`, `0o…` or `0b…` (a `_` may follow the prefix and separate digits), or nil when the
    /// text is not one. Too large for bigint becomes a float, as a long decimal integer does.
    mutating func scanRadixInteger() throws -> Token? {
        guard peek() == UInt8(ascii: "0"), let marker = peek(1) else { return nil }
        let radix: UInt64
        switch marker | 0x20 {
        case UInt8(ascii: "x"): radix = 16
        case UInt8(ascii: "o"): radix = 8
        case UInt8(ascii: "b"): radix = 2
        default: return nil
        }
        func digit(_ c: UInt8) -> UInt64? {
            let value: UInt64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = UInt64(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = UInt64(c - UInt8(ascii: "A") + 10)
            default: return nil
            }
            return value < radix ? value : nil
        }
        var look = index + 2
        if look < bytes.count, bytes[look] == UInt8(ascii: "_") { look += 1 }
        guard look < bytes.count, digit(bytes[look]) != nil else { return nil }
        let start = index
        var exact: UInt64? = 0
        var approximate = 0.0
        while look < bytes.count {
            if bytes[look] == UInt8(ascii: "_"), look + 1 < bytes.count, digit(bytes[look + 1]) != nil { look += 1; continue }
            guard let d = digit(bytes[look]) else { break }
            approximate = approximate * Double(radix) + Double(d)
            if let e = exact {
                let (shifted, o1) = e.multipliedReportingOverflow(by: radix)
                let (sum, o2) = shifted.addingReportingOverflow(d)
                exact = o1 || o2 ? nil : sum
            }
            look += 1
        }
        index = look
        if let e = exact, let i = Int64(exactly: e) { return Token(kind: .integer(i), offset: start) }
        return Token(kind: .float(approximate), offset: start)
    }

    mutating func scanJSONObject() throws -> String {
        let start = index
        var depth = 0
        var inString = false
        while index < bytes.count {
            let d = bytes[index]
            guard index - start <= limits.maxJSONLiteralBytes else {
                throw error("JSON object literal exceeds \(limits.maxJSONLiteralBytes) bytes", at: start)
            }
            if inString {
                if d == UInt8(ascii: "\\") { index += 2; continue }
                if d == UInt8(ascii: "\"") { inString = false }
            } else if d == UInt8(ascii: "\"") {
                inString = true
            } else if d == UInt8(ascii: "{") || d == UInt8(ascii: "[") {
                depth += 1
            } else if d == UInt8(ascii: "}") || d == UInt8(ascii: "]") {
                depth -= 1
                if depth == 0 {
                    index += 1
                    return String(decoding: bytes[start..<index], as: UTF8.self)
                }
            }
            index += 1
        }
        throw error("unterminated JSON object literal (started at offset \(start))", at: start)
    }
}

/// Builds 42601 errors carrying the 1-based line and column of a byte offset.
enum SyntaxError {
    static func make(_ message: String, at offset: Int, in bytes: [UInt8]) -> RedError {
        var line = 1, column = 1, characters = 0
        for b in bytes.prefix(max(0, min(offset, bytes.count))) {
            if b & 0xC0 != 0x80 { characters += 1 }
            if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        var error = RedError(.syntaxError, "syntax error at \(line):\(column): \(message)")
        error.position = characters + 1
        return error
    }
}
