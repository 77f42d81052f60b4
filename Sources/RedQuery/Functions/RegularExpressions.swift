#if canImport(Glibc)
import Glibc
#endif
import RedCore
import Synchronization

/// PostgreSQL's POSIX regular expressions: `~ ~* !~ !~*`, `regexp_match`, `regexp_like`,
/// `regexp_matches` (rows: `RegexpMatchesNode`), `regexp_instr`, `regexp_replace`, `regexp_split_to_array` (and `regexp_split_to_table`, which the planner
/// makes `unnest(regexp_split_to_array(…))`, as PostgreSQL defines it), `regexp_count`,
/// `regexp_substr`.
///
/// Matching is glibc's POSIX engine (`regcomp`/`regexec`, extended syntax) in the C.UTF-8
/// locale, so `.` and bracket expressions take whole code points. Without back-references
/// that engine never backtracks exponentially — a hostile pattern cannot pin a core the way
/// a backtracking engine lets `(a+)+$` do — so back-references are refused (0A000), as are
/// PostgreSQL's ARE-only forms glibc would silently read differently: lazy quantifiers
/// (`*?`), lookaround and embedded options (`(?=`, `(?i)`). What differs only in spelling
/// is translated: `\d \s \w` (and upper-case negations), `\y \Y \m \M \A \Z`, `(?:…)`.
/// Repetition counts stop at 255 and patterns at 32 KiB, PostgreSQL's and our limits.
enum RegularExpressions {
    static let maxPatternBytes = 32 * 1024
    static let maxRepetition = 255

    static let functions: [ScalarFunction] = {
        func make(_ name: String, _ arity: ClosedRange<Int>, _ body: @escaping @Sendable ([Value]) throws -> Value) -> ScalarFunction {
            ScalarFunction(name: name, arity: arity, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in try body(a) }
        }
        return [
            make("__regex_match", 2...2) { a in .boolean(try compiled(text(a[1]), caseInsensitive: false).matches(text(a[0]))) },
            make("__regex_match_ci", 2...2) { a in .boolean(try compiled(text(a[1]), caseInsensitive: true).matches(text(a[0]))) },
            make("regexp_like", 2...3) { a in
                let flags = try Flags(a.count > 2 ? text(a[2]) : "", allowsGlobal: false)
                return .boolean(try compiled(text(a[1]), caseInsensitive: flags.caseInsensitive).matches(text(a[0])))
            },
            make("regexp_match", 2...3) { a in
                let flags = try Flags(a.count > 2 ? text(a[2]) : "", allowsGlobal: false)
                let pattern = try compiled(text(a[1]), caseInsensitive: flags.caseInsensitive)
                let subject = Array(text(a[0]).utf8)
                guard let groups = pattern.firstMatch(in: subject, from: 0, notAtStart: false) else { return .null }
                let wanted = groups.count > 1 ? Array(groups.dropFirst()) : groups
                return .json(.array(wanted.map { range in
                    range.map { .string(String(decoding: subject[$0], as: UTF8.self)) } ?? .null
                }))
            },
            make("regexp_replace", 3...4) { a in
                let flags = try Flags(a.count > 3 ? text(a[3]) : "", allowsGlobal: true)
                let pattern = try compiled(text(a[1]), caseInsensitive: flags.caseInsensitive)
                return .text(try replace(text(a[0]), pattern, with: text(a[2]), global: flags.global))
            },
            make("regexp_split_to_array", 2...3) { a in
                let flags = try Flags(a.count > 2 ? text(a[2]) : "", allowsGlobal: false)
                let subject = Array(text(a[0]).utf8)
                let pattern = try compiled(text(a[1]), caseInsensitive: flags.caseInsensitive)
                return .json(.array(try split(subject, pattern).map { .string(String(decoding: subject[$0], as: UTF8.self)) }))
            },
            make("regexp_count", 2...4) { a in
                let flags = try Flags(a.count > 3 ? text(a[3]) : "", allowsGlobal: false)
                let subject = Array(text(a[0]).utf8)
                let from = try byteOffset(ofCharacter: a.count > 2 ? a[2] : .integer(1), in: subject)
                let pattern = try compiled(text(a[1]), caseInsensitive: flags.caseInsensitive)
                var count: Int64 = 0
                forEachMatch(subject, pattern, from: from) { _ in count += 1; return true }
                return .integer(count)
            },
            make("regexp_substr", 2...6) { a in
                let flags = try Flags(a.count > 4 ? text(a[4]) : "", allowsGlobal: false)
                let subject = Array(text(a[0]).utf8)
                let from = try byteOffset(ofCharacter: a.count > 2 ? a[2] : .integer(1), in: subject)
                let n = try positive(a.count > 3 ? a[3] : .integer(1), "n")
                let group = try positive(a.count > 5 ? a[5] : .integer(0), "subexpr", allowingZero: true)
                let pattern = try compiled(text(a[1]), caseInsensitive: flags.caseInsensitive)
                let wanted = nthMatch(subject, pattern, from: from, n)
                guard let wanted, group < wanted.count, let range = wanted[group] else { return .null }
                return .text(String(decoding: subject[range], as: UTF8.self))
            },
            make("regexp_instr", 2...7) { a in
                let flags = try Flags(a.count > 5 ? text(a[5]) : "", allowsGlobal: false)
                let subject = Array(text(a[0]).utf8)
                let from = try byteOffset(ofCharacter: a.count > 2 ? a[2] : .integer(1), in: subject)
                let n = try positive(a.count > 3 ? a[3] : .integer(1), "n")
                let endOption = try positive(a.count > 4 ? a[4] : .integer(0), "endoption", allowingZero: true)
                guard endOption <= 1 else { throw RedError(.invalidArgument, "invalid value for parameter \"endoption\": \(endOption)") }
                let group = try positive(a.count > 6 ? a[6] : .integer(0), "subexpr", allowingZero: true)
                let pattern = try compiled(text(a[1]), caseInsensitive: flags.caseInsensitive)
                let wanted = nthMatch(subject, pattern, from: from, n)
                guard let wanted, group < wanted.count, let range = wanted[group] else { return .integer(0) }
                // 1-based character positions: where the match starts, or just after it ends.
                let offset = endOption == 0 ? range.lowerBound : range.upperBound
                return .integer(Int64(subject[..<offset].count { $0 & 0xC0 != 0x80 }) + 1)
            },
        ]
    }()

    /// `substring(s FROM pattern)`: the part of the first match the pattern's first group
    /// took (the whole match when it has no group), NULL when nothing matches.
    static func substringMatch(_ s: String, _ pattern: String) throws -> Value {
        let subject = Array(s.utf8)
        guard let groups = try compiled(pattern, caseInsensitive: false).firstMatch(in: subject, from: 0, notAtStart: false) else { return .null }
        guard let range = groups.count > 1 ? groups[1] : groups[0] else { return .null }
        return .text(String(decoding: subject[range], as: UTF8.self))
    }

    /// The `n`-th match from byte `from` on (1-based): the whole match, then its groups.
    static func nthMatch(_ subject: [UInt8], _ pattern: Pattern, from: Int, _ n: Int) -> [Range<Int>?]? {
        var seen = 0
        var wanted: [Range<Int>?]?
        forEachMatch(subject, pattern, from: from) { groups in
            seen += 1
            if seen == n { wanted = groups }
            return seen < n
        }
        return wanted
    }

    /// regexp_matches' rows for (string, pattern[, flags]): each match's groups as a JSON
    /// array of strings (NULL for a group that took no part), or the whole match when the
    /// pattern has no groups; every match with `g`, else the first.
    static func matchGroups(_ a: [Value]) throws -> [JSONValue] {
        let flags = try Flags(a.count > 2 ? text(a[2]) : "", allowsGlobal: true)
        let subject = Array(text(a[0]).utf8)
        let pattern = try compiled(text(a[1]), caseInsensitive: flags.caseInsensitive)
        var rows: [JSONValue] = []
        var bytes = 0
        forEachMatch(subject, pattern, from: 0) { groups in
            let wanted = groups.count > 1 ? Array(groups.dropFirst()) : groups
            rows.append(.array(wanted.map { range in range.map { .string(String(decoding: subject[$0], as: UTF8.self)) } ?? .null }))
            bytes += wanted.reduce(16) { $0 + ($1?.count ?? 0) }
            return flags.global && rows.count <= ArrayFunctions.maxElements && bytes <= Limits.maxValueBytes
        }
        guard rows.count <= ArrayFunctions.maxElements, bytes <= Limits.maxValueBytes else {
            throw RedError(.limitExceeded, "regexp_matches would return more than \(ArrayFunctions.maxElements) rows or \(Limits.maxValueBytes) bytes")
        }
        return rows
    }

    /// Calls `visit` with every match from byte `from` on (the whole match, then its groups)
    /// until it returns false: after an empty match the search goes on one character later,
    /// as PostgreSQL's does. Nothing is kept, so counting matches takes no memory.
    static func forEachMatch(_ subject: [UInt8], _ pattern: Pattern, from: Int, _ visit: ([Range<Int>?]) -> Bool) {
        var position = from
        while position <= subject.count, let groups = pattern.firstMatch(in: subject, from: position, notAtStart: position > 0),
              let whole = groups[0], visit(groups) {
            position = whole.isEmpty ? nextCharacter(after: whole.lowerBound, in: subject) : whole.upperBound
        }
    }

    /// The pieces of `subject` between matches of `pattern` (PostgreSQL's rule: a match
    /// counts unless it is empty at the start or end of the subject or right after the
    /// previous match; no match at all gives the whole subject).
    static func split(_ subject: [UInt8], _ pattern: Pattern) throws -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var pieceStart = 0, previousEnd = 0
        forEachMatch(subject, pattern, from: 0) { groups in
            guard let whole = groups[0], whole.lowerBound < subject.count, whole.upperBound > previousEnd else { return true }
            pieces.append(pieceStart..<whole.lowerBound)
            pieceStart = whole.upperBound
            previousEnd = whole.upperBound
            return pieces.count < ArrayFunctions.maxElements
        }
        guard pieces.count < ArrayFunctions.maxElements else {
            throw RedError(.limitExceeded, "regexp_split_to_array would make more than \(ArrayFunctions.maxElements) elements")
        }
        pieces.append(pieceStart..<subject.count)
        return pieces
    }

    /// The byte after the character starting at `offset` (past the end: one more).
    static func nextCharacter(after offset: Int, in subject: [UInt8]) -> Int {
        guard offset < subject.count else { return subject.count + 1 }
        var next = offset + 1
        while next < subject.count, subject[next] & 0xC0 == 0x80 { next += 1 }
        return next
    }

    /// The byte offset of 1-based character `position` (past the end: the end).
    static func byteOffset(ofCharacter position: Value, in subject: [UInt8]) throws -> Int {
        var remaining = try positive(position, "start") - 1
        var offset = 0
        while remaining > 0, offset < subject.count {
            offset = nextCharacter(after: offset, in: subject)
            remaining -= 1
        }
        return min(offset, subject.count)
    }

    static func positive(_ value: Value, _ name: String, allowingZero: Bool = false) throws -> Int {
        guard case .integer(let n) = try DataType.integer.coerce(value), n >= (allowingZero ? 0 : 1), n <= Int64(Int32.max) else {
            throw RedError(.invalidArgument, "invalid value for parameter \"\(name)\": \(value.displayText)")
        }
        return Int(n)
    }

    private static func text(_ v: Value) -> String { if case .text(let s) = v { return s }; return v.displayText }

    /// PostgreSQL's option letters: `g` (every match, replace only), `i` / `c` (case).
    struct Flags {
        var global = false
        var caseInsensitive = false
        init(_ letters: String, allowsGlobal: Bool) throws {
            for letter in letters {
                switch letter {
                case "g" where allowsGlobal: global = true
                case "i": caseInsensitive = true
                case "c": caseInsensitive = false
                default: throw RedError(.invalidArgument, "invalid regular expression option: \"\(letter)\"")
                }
            }
        }
    }

    /// `subject` with the first (or every) match replaced; in `replacement`, `\1`…`\9` are
    /// groups, `\&` the whole match and `\\` a backslash.
    static func replace(_ subject: String, _ pattern: Pattern, with replacement: String, global: Bool) throws -> String {
        let bytes = Array(subject.utf8), template = Array(replacement.utf8)
        var out: [UInt8] = []
        var position = 0
        while position <= bytes.count, let groups = pattern.firstMatch(in: bytes, from: position, notAtStart: position > 0) {
            guard let whole = groups[0] else { break }
            out.append(contentsOf: bytes[position..<whole.lowerBound])
            var i = 0
            while i < template.count {
                let c = template[i]
                if c == UInt8(ascii: "\\"), i + 1 < template.count {
                    let next = template[i + 1]
                    if next >= UInt8(ascii: "1"), next <= UInt8(ascii: "9") {
                        let g = Int(next - UInt8(ascii: "0"))
                        if g < groups.count, let range = groups[g] { out.append(contentsOf: bytes[range]) }
                        i += 2; continue
                    }
                    if next == UInt8(ascii: "&") { out.append(contentsOf: bytes[whole]); i += 2; continue }
                    if next == UInt8(ascii: "\\") { out.append(next); i += 2; continue }
                }
                out.append(c)
                i += 1
            }
            guard out.count <= Limits.maxValueBytes else { throw RedError(.limitExceeded, "regexp_replace() result exceeds \(Limits.maxValueBytes) bytes") }
            if whole.isEmpty {
                // An empty match: copy one whole character and go on after it.
                guard whole.upperBound < bytes.count else { position = bytes.count + 1; break }
                var next = whole.upperBound + 1
                while next < bytes.count, bytes[next] & 0xC0 == 0x80 { next += 1 }
                out.append(contentsOf: bytes[whole.upperBound..<next])
                position = next
            } else {
                position = whole.upperBound
            }
            if !global { break }
        }
        if position < bytes.count { out.append(contentsOf: bytes[position...]) }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Compiled patterns

    /// One compiled pattern; `regfree` when the last user lets go.
    final class Pattern: @unchecked Sendable {
        // regexec only reads the compiled pattern (glibc locks what it shares), so one compiled
        // pattern serves concurrent statements.
        private var regex = regex_t()
        /// `^.*(P)` without positions: whether P matches anywhere, decided in one linear pass.
        /// (glibc's own search tries every start and runs on from each, which is quadratic
        /// in the subject when matches fail late: 40,000 characters of `ab` against `(ab)*c`
        /// took seconds.)
        private var anywhere = regex_t()
        /// For each ERE group, in order, whether it is a PostgreSQL capture (not `(?:…)`).
        let capturing: [Bool]

        init(translated: String, capturing: [Bool], caseInsensitive: Bool) throws {
            self.capturing = capturing
            let flags = REG_EXTENDED | (caseInsensitive ? REG_ICASE : 0)
            let status = RegularExpressions.inUTF8Locale { regcomp(&regex, translated, flags) }
            guard status == 0 else {
                var message = [CChar](repeating: 0, count: 256)
                regerror(status, &regex, &message, message.count)
                throw RedError(.invalidArgument, "invalid regular expression: \(String(cString: message))", condition: "2201B")
            }
            let wrapped = RegularExpressions.inUTF8Locale { regcomp(&anywhere, "^.*(" + translated + ")", flags | REG_NOSUB) }
            guard wrapped == 0 else {
                regfree(&regex)
                throw RedError(.invalidArgument, "invalid regular expression", condition: "2201B")
            }
        }

        deinit {
            regfree(&regex)
            regfree(&anywhere)
        }

        /// Whether `subject` has a match, in one pass.
        func matches(_ subject: String) -> Bool { matches(Array(subject.utf8), from: 0) }

        /// From `from` on, `^` and word boundaries there read as at the subject's start, so
        /// past 0 this may say yes where the match with positions then finds none — never no
        /// where there is one.
        private func matches(_ subject: [UInt8], from: Int) -> Bool {
            // glibc anchors `^` at the buffer's start, not at rm_so: the buffer starts at `from`.
            var bounds = regmatch_t(rm_so: 0, rm_eo: regoff_t(subject.count - from))
            let storage = subject.isEmpty ? [UInt8(0)] : subject
            return storage.withUnsafeBufferPointer { buffer in
                let base = UnsafeRawPointer(buffer.baseAddress! + min(from, subject.count)).assumingMemoryBound(to: CChar.self)
                return RegularExpressions.inUTF8Locale {
                    regexec(&anywhere, base, 0, &bounds, REG_STARTEND)
                } == 0
            }
        }

        /// The first match at or after byte `from`: the whole match, then each capture group
        /// (nil when it took no part).
        func firstMatch(in subject: [UInt8], from: Int, notAtStart: Bool) -> [Range<Int>?]? {
            // Positions cost more to find (see `anywhere`); most subjects have no match at all.
            guard matches(subject, from: from) else { return nil }
            var slots = [regmatch_t](repeating: regmatch_t(rm_so: -1, rm_eo: -1), count: capturing.count + 1)
            slots[0].rm_so = regoff_t(from)
            slots[0].rm_eo = regoff_t(subject.count)
            // REG_STARTEND reads exactly the given bytes: no terminator needed, NULs allowed (an
            // empty subject still needs a real address).
            let storage = subject.isEmpty ? [UInt8(0)] : subject
            let status: Int32 = storage.withUnsafeBufferPointer { buffer in
                let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
                return RegularExpressions.inUTF8Locale {
                    regexec(&regex, base, slots.count, &slots, REG_STARTEND | (notAtStart ? REG_NOTBOL : 0))
                }
            }
            guard status == 0 else { return nil }
            var groups: [Range<Int>?] = [Int(slots[0].rm_so)..<Int(slots[0].rm_eo)]
            for (i, isCapture) in capturing.enumerated() where isCapture {
                let slot = slots[i + 1]
                groups.append(slot.rm_so >= 0 && slot.rm_eo >= slot.rm_so ? Int(slot.rm_so)..<Int(slot.rm_eo) : nil)
            }
            return groups
        }
    }

    /// Compiled patterns by text and case rule, so a pattern in a WHERE clause is compiled
    /// once, not per row. Bounded; an evicted pattern is freed once no statement holds it.
    private static let cache = Mutex<[String: Pattern]>([:])
    private static let cacheEntries = 256

    static func compiled(_ pattern: String, caseInsensitive: Bool) throws -> Pattern {
        let key = (caseInsensitive ? "i:" : "c:") + pattern
        if let hit = cache.withLock({ $0[key] }) { return hit }
        let (translated, capturing) = try translate(pattern)
        let compiled = try Pattern(translated: translated, capturing: capturing, caseInsensitive: caseInsensitive)
        cache.withLock { entries in
            if entries.count >= cacheEntries { entries.removeAll(keepingCapacity: true) }
            entries[key] = compiled
        }
        return compiled
    }

    /// The C.UTF-8 locale, made once; nil where the C library has none (bytes are then matched one by one).
    nonisolated(unsafe) private static let utf8Locale: locale_t? = newlocale(Int32(1) << LC_CTYPE, "C.UTF-8", nil)

    /// Runs `body` with this thread in C.UTF-8 (regcomp and regexec read the thread's locale).
    static func inUTF8Locale<T>(_ body: () -> T) -> T {
        guard let locale = utf8Locale else { return body() }
        let previous = uselocale(locale)
        defer { uselocale(previous) }
        return body()
    }

    // MARK: Translation

    static func unsupported(_ what: String) -> RedError {
        RedError(.featureNotSupported, "regular expressions do not support \(what) yet")
    }

    static func invalid(_ what: String) -> RedError {
        RedError(.invalidArgument, "invalid regular expression: \(what)", condition: "2201B")
    }

    /// PostgreSQL's ARE spelling as POSIX extended syntax, and which groups capture.
    static func translate(_ pattern: String) throws -> (String, [Bool]) {
        guard pattern.utf8.count <= maxPatternBytes else {
            throw RedError(.limitExceeded, "regular expression exceeds \(maxPatternBytes) bytes")
        }
        let p = Array(pattern.unicodeScalars)
        var out = String.UnicodeScalarView()
        var capturing: [Bool] = []
        var i = 0
        func emit(_ s: String) { out.append(contentsOf: s.unicodeScalars) }
        while i < p.count {
            let c = p[i]
            switch c {
            case "\\":
                guard i + 1 < p.count else { throw invalid("trailing backslash (\\)") }
                let e = p[i + 1]
                i += 2
                switch e {
                case "d": emit("[0-9]")
                case "D": emit("[^0-9]")
                case "s": emit("[[:space:]]")
                case "S": emit("[^[:space:]]")
                case "w": emit("[[:alnum:]_]")
                case "W": emit("[^[:alnum:]_]")
                case "y": emit("\\b")
                case "Y": emit("\\B")
                case "m": emit("\\<")
                case "M": emit("\\>")
                case "A": emit("^")
                case "Z": emit("$")
                case "t": emit("\t")
                case "n": emit("\n")
                case "r": emit("\r")
                case "1"..."9": throw unsupported("back-references (\\\(e))")
                default:
                    guard e.properties.isAlphabetic == false, !("0"..."9").contains(e) else { throw invalid("invalid escape \\\(e)") }
                    out.append("\\"); out.append(e)
                }
                continue
            case "[":
                i = try translateBracket(p, from: i, into: &out)
                continue
            case "(":
                if i + 1 < p.count, p[i + 1] == "?" {
                    guard i + 2 < p.count, p[i + 2] == ":" else { throw unsupported("lookaround or embedded options (?…)") }
                    capturing.append(false)
                    emit("(")
                    i += 3
                    continue
                }
                capturing.append(true)
            case "*", "+", "?", "}":
                if i + 1 < p.count, p[i + 1] == "?" { throw unsupported("non-greedy quantifiers (\(c)?)") }
            case "{":
                var j = i + 1
                var digits = ""
                while j < p.count, ("0"..."9").contains(p[j]) || p[j] == "," { digits.unicodeScalars.append(p[j]); j += 1 }
                if j < p.count, p[j] == "}" {
                    for bound in digits.split(separator: ",") where (Int(bound) ?? Int.max) > maxRepetition {
                        throw invalid("invalid repetition count(s): counts are at most \(maxRepetition)")
                    }
                    if j + 1 < p.count, p[j + 1] == "?" { throw unsupported("non-greedy quantifiers ({…}?)") }
                }
            default:
                break
            }
            out.append(c)
            i += 1
        }
        return (String(out), capturing)
    }

    /// A bracket expression from `p[start]` (`[`) to its `]`, where ARE lets a backslash
    /// escape and name classes; returns the index after it.
    static func translateBracket(_ p: [Unicode.Scalar], from start: Int, into out: inout String.UnicodeScalarView) throws -> Int {
        var i = start + 1
        out.append("[")
        if i < p.count, p[i] == "^" { out.append("^"); i += 1 }
        if i < p.count, p[i] == "]" { out.append("]"); i += 1 }
        while i < p.count {
            let c = p[i]
            if c == "]" { out.append("]"); return i + 1 }
            if c == "[", i + 1 < p.count, [":", ".", "="].contains(p[i + 1]) {
                // [:class:], [.x.], [=x=]: copied to their closing pair.
                let kind = p[i + 1]
                var j = i + 2
                while j + 1 < p.count, !(p[j] == kind && p[j + 1] == "]") { j += 1 }
                guard j + 1 < p.count else { throw invalid("unterminated bracket expression") }
                out.append(contentsOf: p[i...(j + 1)])
                i = j + 2
                continue
            }
            if c == "\\", i + 1 < p.count {
                let e = p[i + 1]
                i += 2
                switch e {
                case "d": out.append(contentsOf: "0-9".unicodeScalars)
                case "s": out.append(contentsOf: "[:space:]".unicodeScalars)
                case "w": out.append(contentsOf: "[:alnum:]_".unicodeScalars)
                case "t": out.append("\t")
                case "n": out.append("\n")
                case "D", "S", "W": throw unsupported("\\\(e) inside brackets")
                default:
                    guard e.properties.isAlphabetic == false else { throw invalid("invalid escape \\\(e)") }
                    // A literal character: as a collating element, so ] - ^ \ mean themselves.
                    out.append(contentsOf: "[.".unicodeScalars); out.append(e); out.append(contentsOf: ".]".unicodeScalars)
                }
                continue
            }
            out.append(c)
            i += 1
        }
        throw invalid("brackets [] not balanced")
    }
}
