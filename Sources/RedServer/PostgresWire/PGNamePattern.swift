import RedCore

/// The name pattern psql puts in its catalog queries (`relname OPERATOR(pg_catalog.~)
/// '^(users)$'`), matched without a regular-expression engine.
///
/// Why not `Regex`: the pattern is client text, and Swift's engine backtracks and recurses,
/// so `(a|a)*b` took exponential time on a 60-character name and deep nesting overflowed
/// the stack. What psql makes of `\d PATTERN` is far smaller: its `*` becomes `.*` and its
/// `?` `.`, other regular-expression characters pass through, all inside `^(` … `)$`. This
/// accepts literal characters (`\`-escaped where special), `.`, bracket sets (`[0-9_]`,
/// `[^x]`), each optionally followed by `*` or `+`, and `|` between alternatives, matched by
/// dynamic programming in time proportional to the pattern's length times the name's. Any
/// other syntax (groups, `{n}`, `?` as a quantifier) is a 0A000 error saying what is supported.
struct PGNamePattern: Sendable {
    enum Atom: Equatable, Sendable {
        case literal(Character)
        case any
        case set(ranges: [ClosedRange<Character>], negated: Bool)

        func matches(_ c: Character) -> Bool {
            switch self {
            case .literal(let l): return l == c
            case .any: return true
            case .set(let ranges, let negated): return ranges.contains { $0.contains(c) } != negated
            }
        }
    }

    enum Repeat: Sendable { case once, zeroOrMore, oneOrMore }

    struct Element: Sendable {
        var atom: Atom
        var repeats: Repeat
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
        var characters = Array(body)[...]
        while let c = characters.popFirst() {
            let atom: Atom
            switch c {
            case "\\":
                guard let escaped = characters.popFirst() else { throw Self.unsupported(pattern) }
                atom = .literal(escaped)
            case ".":
                atom = .any
            case "[":
                atom = try Self.bracketSet(&characters, pattern: pattern)
            case "*", "+":
                guard let last = alternatives[alternatives.count - 1].last, last.repeats == .once else { throw Self.unsupported(pattern) }
                alternatives[alternatives.count - 1][alternatives[alternatives.count - 1].count - 1].repeats = c == "*" ? .zeroOrMore : .oneOrMore
                continue
            case "|":
                alternatives.append([])
                continue
            case "(", ")", "]", "{", "}", "?", "^", "$":
                throw Self.unsupported(pattern)
            default:
                atom = .literal(c)
            }
            alternatives[alternatives.count - 1].append(Element(atom: atom, repeats: .once))
        }
        self.alternatives = alternatives
    }

    /// `[…]` after its opening bracket: characters and `a-z` ranges, `^` first to negate.
    private static func bracketSet(_ characters: inout ArraySlice<Character>, pattern: String) throws -> Atom {
        var negated = false
        if characters.first == "^" { negated = true; characters.removeFirst() }
        var ranges: [ClosedRange<Character>] = []
        while let c = characters.popFirst() {
            if c == "]", !ranges.isEmpty { return .set(ranges: ranges, negated: negated) }
            var low = c
            if c == "\\" {
                guard let escaped = characters.popFirst() else { throw unsupported(pattern) }
                low = escaped
            }
            if characters.count >= 2, characters.first == "-", characters.dropFirst().first != "]" {
                characters.removeFirst()
                let high = characters.removeFirst()
                guard low <= high else { throw unsupported(pattern) }
                ranges.append(low...high)
            } else {
                ranges.append(low...low)
            }
        }
        throw unsupported(pattern)  // never closed
    }

    static func unsupported(_ pattern: String) -> RedError {
        RedError(.featureNotSupported,
                 "name pattern \"\(pattern)\": only characters, ., [sets], * and + after them, and | between alternatives are supported here")
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
            if element.repeats != .zeroOrMore {
                for j in 0..<text.count where reachable[j] && element.atom.matches(text[j]) { next[j + 1] = true }
            } else {
                next = reachable
            }
            if element.repeats != .once {
                // Then any number more: extend every reachable end by matching characters.
                for j in 0..<text.count where next[j] && element.atom.matches(text[j]) { next[j + 1] = true }
            }
            reachable = next
        }
        return reachable[text.count]
    }
}
