import RedCore

/// PostgreSQL's SQL/JSON path language (`jsonpath`), parsed: `$.items[*] ? (@.price > 10)`.
///
/// A path is an expression over JSON items: `$` the document, `@` the item a filter is
/// looking at, `$name` a variable, literals, accessors (`.key`, `."key"`, `.*`, `[n]`,
/// `[a to b, c]`, `[last]`, `[*]`, `.**`, `.**{1 to last}`), filters (`? (predicate)`),
/// item methods (`.type()`, `.size()`, `.double()`, `.ceiling()`, `.floor()`, `.abs()`) and
/// arithmetic (`+ - * / %`, unary `+ -`). A predicate compares (`== != <> < <= > >=`),
/// combines (`&& || !`), tests (`exists (path)`, `like_regex "re" flag "i"`, `starts with
/// "s"`, `(p) is unknown`); a whole path may be one, and then gives a boolean. `lax` (the
/// default) or `strict` before the path sets how structural mismatches are treated
/// (`JSONPathEvaluation`). What is not built: `.datetime()`, `.keyvalue()` and the
/// PostgreSQL 16 methods (0A000).
///
/// `description` writes a path as PostgreSQL shows a `jsonpath` value: keys quoted, no spaces
/// but around operators, brackets where an operand binds no tighter than its operator and
/// around an operator at the top.
struct JSONPath: Sendable, CustomStringConvertible {
    indirect enum Node: Sendable {
        case root, current, last
        case variable(String)
        case literal(JSONValue)
        case member(Node, String)
        case anyMember(Node)
        case anyElement(Node)
        /// `[a, b to c]`: each subscript, with its upper bound when it is a range.
        case elements(Node, [(Node, Node?)])
        /// `.**{from to through}`; nil levels: every depth. `Int.max` stands for `last`.
        case descendants(Node, from: Int?, through: Int?)
        case filter(Node, Node)
        case method(Node, String)
        case unary(String, Node)
        case binary(String, Node, Node)
        // Predicates
        case comparison(String, Node, Node)
        case and(Node, Node)
        case or(Node, Node)
        case not(Node)
        case exists(Node)
        case isUnknown(Node)
        case likeRegex(Node, pattern: String, flags: String)
        case startsWith(Node, Node)

        var isPredicate: Bool {
            switch self {
            case .comparison, .and, .or, .not, .exists, .isUnknown, .likeRegex, .startsWith: return true
            default: return false
            }
        }
    }

    let strict: Bool
    let root: Node

    /// Longest path text, and deepest tree, accepted (a hostile path cannot exhaust the stack
    /// of the evaluation and printing, which recurse through it).
    static let maxTextBytes = 64 * 1024
    static let maxDepth = 512
    static let methods: Set<String> = ["type", "size", "double", "ceiling", "floor", "abs"]
    static let unbuiltMethods: Set<String> = ["keyvalue", "datetime", "bigint", "boolean", "date", "decimal", "integer", "number",
                                              "string", "time", "time_tz", "timestamp", "timestamp_tz"]

    init(parsing text: String) throws {
        guard text.utf8.count <= Self.maxTextBytes else {
            throw RedError(.limitExceeded, "a jsonpath is limited to \(Self.maxTextBytes) bytes")
        }
        var parser = JSONPathParser(tokens: try JSONPathLexer.tokens(text))
        (strict, root) = try parser.parsePath()
    }

    static func syntaxError(_ detail: String) -> RedError {
        RedError(.syntaxError, "syntax error in jsonpath: \(detail)")
    }

    // MARK: Printing

    /// An operator at the top is bracketed, one in a filter not, as PostgreSQL writes them.
    var description: String { (strict ? "strict " : "") + Self.text(root, brackets: true) }

    private static func priority(_ node: Node) -> Int {
        switch node {
        case .or: return 0
        case .and: return 1
        case .comparison, .likeRegex, .startsWith: return 2
        case .binary(let op, _, _): return op == "+" || op == "-" ? 3 : 4
        case .unary: return 5
        default: return 6
        }
    }

    private static func quoted(_ s: String) -> String { JSONValue.string(s).text }

    private static func text(_ node: Node, brackets: Bool) -> String {
        func operand(_ child: Node, of parent: Node) -> String { text(child, brackets: priority(child) <= priority(parent)) }
        func wrapped(_ s: String) -> String { brackets ? "(" + s + ")" : s }
        /// An accessor's base, bracketed when it is an operator (`($.a + 1).type()`).
        func chained(_ base: Node) -> String { text(base, brackets: priority(base) < 6) }
        switch node {
        case .root: return "$"
        case .current: return "@"
        case .last: return "last"
        case .variable(let name): return "$" + quoted(name)
        case .literal(let value): return value.text
        case .member(let base, let key): return chained(base) + "." + quoted(key)
        case .anyMember(let base): return chained(base) + ".*"
        case .anyElement(let base): return chained(base) + "[*]"
        case .elements(let base, let subscripts):
            let list = subscripts.map { low, high in text(low, brackets: false) + (high.map { " to " + text($0, brackets: false) } ?? "") }
            return chained(base) + "[" + list.joined(separator: ",") + "]"
        case .descendants(let base, let from, let through):
            func level(_ n: Int) -> String { n == .max ? "last" : String(n) }
            var levels = ""
            if let from, let through { levels = from == through ? "{\(level(from))}" : "{\(level(from)) to \(level(through))}" }
            return chained(base) + ".**" + levels
        case .filter(let base, let predicate): return chained(base) + "?(" + text(predicate, brackets: false) + ")"
        case .method(let base, let name): return chained(base) + "." + name + "()"
        case .unary(let op, let operand): return wrapped(op + text(operand, brackets: priority(operand) <= priority(node)))
        case .binary(let op, let l, let r), .comparison(let op, let l, let r):
            return wrapped(operand(l, of: node) + " " + op + " " + operand(r, of: node))
        case .and(let l, let r): return wrapped(operand(l, of: node) + " && " + operand(r, of: node))
        case .or(let l, let r): return wrapped(operand(l, of: node) + " || " + operand(r, of: node))
        case .not(let p): return "!(" + text(p, brackets: false) + ")"
        case .exists(let p): return "exists (" + text(p, brackets: false) + ")"
        case .isUnknown(let p): return "(" + text(p, brackets: false) + ") is unknown"
        case .likeRegex(let subject, let pattern, let flags):
            return wrapped(operand(subject, of: node) + " like_regex " + quoted(pattern) + (flags.isEmpty ? "" : " flag " + quoted(flags)))
        case .startsWith(let subject, let prefix):
            return wrapped(operand(subject, of: node) + " starts with " + operand(prefix, of: node))
        }
    }
}

/// The words, names, strings, numbers and symbols of a path.
enum JSONPathToken: Equatable {
    case word(String)  // keys, keywords and method names
    case variable(String)
    case string(String)
    case number(String)
    case symbol(String)
}

enum JSONPathLexer {
    static let symbols = ["==", "!=", "<>", "<=", ">=", "&&", "||", "**", "<", ">", "!", "$", "@", ".", "*", "[", "]", ",", "(", ")",
                          "?", "{", "}", "+", "-", "/", "%"]

    static func tokens(_ text: String) throws -> [JSONPathToken] {
        let s = Array(text.unicodeScalars)
        var i = 0
        var out: [JSONPathToken] = []
        func isWordStart(_ c: Unicode.Scalar) -> Bool { c == "_" || c.properties.isAlphabetic }
        func isWordPart(_ c: Unicode.Scalar) -> Bool { isWordStart(c) || ("0"..."9").contains(c) }
        func word() -> String {
            var w = ""
            while i < s.count, isWordPart(s[i]) { w.unicodeScalars.append(s[i]); i += 1 }
            return w
        }
        while i < s.count {
            let c = s[i]
            if c.properties.isWhitespace { i += 1; continue }
            if c == "\"" {
                out.append(.string(try string()))
            } else if ("0"..."9").contains(c) {
                var n = ""
                while i < s.count, ("0"..."9").contains(s[i]) || s[i] == "." || s[i] == "e" || s[i] == "E"
                    || ((s[i] == "+" || s[i] == "-") && (s[i - 1] == "e" || s[i - 1] == "E")) {
                    // A dot followed by a letter is an accessor (`$.a[0].b` never reaches here, `1.type()` does).
                    if s[i] == ".", i + 1 < s.count, !("0"..."9").contains(s[i + 1]) { break }
                    n.unicodeScalars.append(s[i]); i += 1
                }
                out.append(.number(n))
            } else if c == "$", i + 1 < s.count, isWordStart(s[i + 1]) || s[i + 1] == "\"" {
                i += 1
                out.append(.variable(s[i] == "\"" ? try string() : word()))
            } else if isWordStart(c) {
                out.append(.word(word()))
            } else if let symbol = symbols.first(where: { matches($0, at: i, in: s) }) {
                out.append(.symbol(symbol))
                i += symbol.unicodeScalars.count
            } else {
                throw JSONPath.syntaxError("unexpected character \"\(Character(c))\"")
            }
        }
        return out

        /// A double-quoted string with JSON's escapes, `i` on its opening quote.
        func string() throws -> String {
            i += 1
            var text = ""
            while i < s.count, s[i] != "\"" {
                if s[i] == "\\" {
                    i += 1
                    guard i < s.count else { break }
                    switch s[i] {
                    case "n": text += "\n"
                    case "t": text += "\t"
                    case "r": text += "\r"
                    case "b": text += "\u{8}"
                    case "f": text += "\u{C}"
                    case "v": text += "\u{B}"
                    case "u":
                        guard i + 4 < s.count, let code = UInt32(String(String.UnicodeScalarView(s[(i + 1)...(i + 4)])), radix: 16),
                              let scalar = Unicode.Scalar(code) else { throw JSONPath.syntaxError("invalid Unicode escape") }
                        text.unicodeScalars.append(scalar)
                        i += 4
                    default: text.unicodeScalars.append(s[i])
                    }
                } else {
                    text.unicodeScalars.append(s[i])
                }
                i += 1
            }
            guard i < s.count else { throw JSONPath.syntaxError("unterminated quoted string") }
            i += 1
            return text
        }
    }

    private static func matches(_ symbol: String, at i: Int, in s: [Unicode.Scalar]) -> Bool {
        let scalars = Array(symbol.unicodeScalars)
        guard i + scalars.count <= s.count else { return false }
        return Array(s[i..<(i + scalars.count)]) == scalars
    }
}
