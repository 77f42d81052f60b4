import RedCore

/// SQL's `SIMILAR TO` patterns, matched as PostgreSQL matches them: the parser writes
/// `a SIMILAR TO p [ESCAPE e]` as `a ~ similar_to_escape(p [, e])`, and this file turns the
/// SQL pattern into a POSIX one anchored at both ends: `%` is `.*`, `_` is `.`, `.` `^` `$`
/// and a backslash that is not the escape are literal, a bracket expression is copied as
/// written, `(` opens a non-capturing group, and the escape character (`\` unless ESCAPE
/// names another, none for ESCAPE '') makes the next character literal. Alternation and
/// the quantifiers `* + ? {m,n}` are the regular expression's own.
///
/// The escape-double-quote markers of the SQL-standard `SUBSTRING(… SIMILAR …)` are refused
/// (0A000): PostgreSQL matches the part before them lazily, which the POSIX engine here
/// (leftmost-longest) cannot do.
enum SimilarToPatterns {
    static let functions: [ScalarFunction] = [
        ScalarFunction(name: "similar_to_escape", arity: 1...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
            .text(try translate(text(a[0]), escape: a.count > 1 ? text(a[1]) : "\\"))
        },
    ]

    private static func text(_ v: Value) -> String { if case .text(let s) = v { return s }; return v.displayText }

    static func translate(_ pattern: String, escape: String) throws -> String {
        guard escape.unicodeScalars.count <= 1 else {
            throw RedError(.invalidArgument, "invalid escape string: it must be empty or one character", condition: "22025")
        }
        let escapeCharacter = escape.unicodeScalars.first
        let s = Array(pattern.unicodeScalars)
        var out = String.UnicodeScalarView()
        out.append(contentsOf: "^(?:".unicodeScalars)
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == escapeCharacter {
                guard i + 1 < s.count else {
                    throw RedError(.invalidArgument, "invalid escape sequence: the pattern ends with the escape character", condition: "22025")
                }
                let next = s[i + 1]
                if next == "\"" {
                    throw RedError(.featureNotSupported, "SIMILAR TO patterns with escape-double-quote markers are not supported")
                }
                out.append("\\")
                out.append(next)
                i += 2
                continue
            }
            switch c {
            case "%": out.append(contentsOf: ".*".unicodeScalars)
            case "_": out.append(".")
            case ".", "^", "$", "\\": out.append("\\"); out.append(c)
            case "(": out.append(contentsOf: "(?:".unicodeScalars)
            case "[":
                // A bracket expression, copied to its closing `]` (a `]` first inside is a member).
                var j = i + 1
                if j < s.count, s[j] == "^" { j += 1 }
                if j < s.count, s[j] == "]" { j += 1 }
                while j < s.count, s[j] != "]" { j += 1 }
                let end = min(j, s.count - 1)
                out.append(contentsOf: s[i...end])
                i = end + 1
                continue
            default: out.append(c)
            }
            i += 1
        }
        out.append(contentsOf: ")$".unicodeScalars)
        return String(out)
    }
}
