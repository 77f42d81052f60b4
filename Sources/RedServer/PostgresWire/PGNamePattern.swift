import RedCore

/// The name pattern psql puts in its catalog queries (`relname OPERATOR(pg_catalog.~)
/// '^(users)$'`), matched without a regular-expression engine.
///
/// Why not `Regex`: the pattern is client text, and Swift's engine backtracks and recurses,
/// so `(a|a)*b` took exponential time on a 60-character name and deep nesting overflowed
/// the stack. What psql makes of `\d PATTERN` is far smaller: literal characters (regex
/// specials escaped with `\`), `.` for its `?`, `.*` for its `*`, and `|` between
/// alternatives, inside `^(` … `)$`. Exactly that is accepted, matched by dynamic
/// programming in time proportional to the pattern's length times the name's; any other
/// regular-expression syntax is a 0A000 error naming what is supported.
struct PGNamePattern: Sendable {
    enum Element: Equatable, Sendable {
        case literal(Character)
        case anyOne
        case anyRun
    }

    /// Longest pattern accepted (psql's for one name is a few dozen characters).
    static let maxLength = 1_024

    let alternatives: [[Element]]

    init(_ pattern: String) throws {
        guard pattern.count <= Self.maxLength else {
            throw RedError(.limitExceeded, "name pattern longer than \(Self.maxLength) characters")
        }
        var body = Substring(pattern)
        if body.hasPrefix("^("), body.hasSuffix(")$") { body = body.dropFirst(2).dropLast(2) }
        var alternatives: [[Element]] = [[]]
        var characters = body.makeIterator()
        while let c = characters.next() {
            switch c {
            case "\\":
                guard let escaped = characters.next() else { throw Self.unsupported(pattern) }
                alternatives[alternatives.count - 1].append(.literal(escaped))
            case ".":
                alternatives[alternatives.count - 1].append(.anyOne)
            case "*":
                // Only as psql writes it, `.*`: the `.` just appended becomes a run.
                guard alternatives[alternatives.count - 1].last == .anyOne else { throw Self.unsupported(pattern) }
                alternatives[alternatives.count - 1][alternatives[alternatives.count - 1].count - 1] = .anyRun
            case "|":
                alternatives.append([])
            case "(", ")", "[", "]", "{", "}", "+", "?", "^", "$":
                throw Self.unsupported(pattern)
            default:
                alternatives[alternatives.count - 1].append(.literal(c))
            }
        }
        self.alternatives = alternatives
    }

    static func unsupported(_ pattern: String) -> RedError {
        RedError(.featureNotSupported, "name pattern \"\(pattern)\": only letters, * and ? (and | between names) are supported here")
    }

    func matches(_ name: String) -> Bool {
        let text = Array(name)
        return alternatives.contains { Self.matches(text, $0) }
    }

    /// Whole-name match: `reachable[j]` says whether the elements so far can consume exactly
    /// the first `j` characters.
    static func matches(_ text: [Character], _ elements: [Element]) -> Bool {
        var reachable = [Bool](repeating: false, count: text.count + 1)
        reachable[0] = true
        for element in elements {
            var next = [Bool](repeating: false, count: text.count + 1)
            switch element {
            case .anyRun:
                var any = false
                for j in 0...text.count {
                    any = any || reachable[j]
                    next[j] = any
                }
            case .anyOne:
                for j in 0..<text.count where reachable[j] { next[j + 1] = true }
            case .literal(let c):
                for j in 0..<text.count where reachable[j] && text[j] == c { next[j + 1] = true }
            }
            reachable = next
        }
        return reachable[text.count]
    }
}
