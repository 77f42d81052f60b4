import RedCore

/// A path's predicates, true, false or unknown as PostgreSQL reckons them (`JSONPathEvaluation`).
extension JSONPathEvaluation {
    mutating func truth(_ node: JSONPath.Node, current: JSONValue?, last: Int?) throws -> Truth {
        switch node {
        case .and(let l, let r):
            let a = try truth(l, current: current, last: last)
            if a == .no { return .no }
            let b = try truth(r, current: current, last: last)
            if b == .no { return .no }
            return a == .unknown || b == .unknown ? .unknown : .yes
        case .or(let l, let r):
            let a = try truth(l, current: current, last: last)
            if a == .yes { return .yes }
            let b = try truth(r, current: current, last: last)
            if b == .yes { return .yes }
            return a == .unknown || b == .unknown ? .unknown : .no
        case .not(let p):
            switch try truth(p, current: current, last: last) {
            case .yes: return .no
            case .no: return .yes
            case .unknown: return .unknown
            }
        case .isUnknown(let p):
            return try truth(p, current: current, last: last) == .unknown ? .yes : .no
        case .exists(let path):
            guard let found = try operand(path, current: current, last: last, unwrapping: false) else { return .unknown }
            return found.isEmpty ? .no : .yes
        case .comparison(let op, let l, let r):
            guard let left = try operand(l, current: current, last: last), let right = try operand(r, current: current, last: last) else { return .unknown }
            var tally = Tally(lax: lax)
            for a in left {
                try tick(right.count)
                for b in right where tally.settles(Self.compare(op, a, b)) { return tally.answer }
            }
            return tally.answer
        case .likeRegex(let subject, let pattern, let flags):
            guard let subjects = try operand(subject, current: current, last: last) else { return .unknown }
            let compiled = try Self.regex(pattern, flags: flags)
            var tally = Tally(lax: lax)
            for item in subjects {
                let result: Truth = if case .string(let s) = item { compiled.matches(s) ? .yes : .no } else { .unknown }
                if tally.settles(result) { break }
            }
            return tally.answer
        case .startsWith(let subject, let prefix):
            guard let subjects = try operand(subject, current: current, last: last),
                  let prefixes = try operand(prefix, current: current, last: last),
                  prefixes.count == 1, case .string(let start) = prefixes[0] else { return .unknown }
            var tally = Tally(lax: lax)
            for item in subjects {
                let result: Truth = if case .string(let s) = item { s.utf8.starts(with: start.utf8) ? .yes : .no } else { .unknown }
                if tally.settles(result) { break }
            }
            return tally.answer
        default:
            throw RedError(.internalError, "a jsonpath expression is not a predicate")
        }
    }

    /// A predicate's operand: its items (arrays unwrapped in lax mode), nil where evaluating it
    /// failed in a way that makes the predicate unknown. Other errors (a missing variable) fail.
    private mutating func operand(_ node: JSONPath.Node, current: JSONValue?, last: Int?, unwrapping: Bool = true) throws -> [JSONValue]? {
        do {
            let found = try items(node, current: current, last: last)
            return unwrapping ? try unwrapped(found) : found
        } catch where Self.isSuppressible(error) {
            return nil
        }
    }

    /// A predicate over several items (or pairs): true when one is, in PostgreSQL's order —
    /// lax mode answers at the first true, strict mode at the first unknown and otherwise looks
    /// at them all; unknown when none was true and one was unknown.
    struct Tally {
        let lax: Bool
        private var found = false, unknown = false

        init(lax: Bool) { self.lax = lax }

        /// Counts one result; true when it settles the answer.
        mutating func settles(_ result: Truth) -> Bool {
            switch result {
            case .yes: found = true; return lax
            case .unknown: unknown = true; return !lax
            case .no: return false
            }
        }

        var answer: Truth {
            if !lax, unknown { return .unknown }
            return found ? .yes : (unknown ? .unknown : .no)
        }
    }

    /// Scalars of one kind compare (numbers by value, strings by code point, false before
    /// true); null equals only null and differs from everything else; anything else, and
    /// objects and arrays, is unknown.
    static func compare(_ op: String, _ a: JSONValue, _ b: JSONValue) -> Truth {
        let order: Int
        switch (a, b) {
        case (.null, .null): order = 0
        case (.null, _), (_, .null): return op == "!=" ? .yes : .no
        case (.bool(let x), .bool(let y)): order = x == y ? 0 : (x ? 1 : -1)
        case (.string(let x), .string(let y)):
            order = x.utf8.elementsEqual(y.utf8) ? 0 : (x.utf8.lexicographicallyPrecedes(y.utf8) ? -1 : 1)
        default:
            guard let x = number(a), let y = number(b) else { return .unknown }
            order = Numeric.compare(x, y)
        }
        let result: Bool
        switch op {
        case "==": result = order == 0
        case "!=": result = order != 0
        case "<": result = order < 0
        case "<=": result = order <= 0
        case ">": result = order > 0
        default: result = order >= 0
        }
        return result ? .yes : .no
    }

    /// `like_regex`'s pattern with its flags: `i` ignores case, `q` takes the pattern literally.
    static func regex(_ pattern: String, flags: String) throws -> RegularExpressions.Pattern {
        var text = pattern
        if flags.contains("q") {
            text = String(pattern.flatMap { "\\^$.|?*+()[]{}".contains($0) ? ["\\", $0] : [$0] })
        }
        return try RegularExpressions.compiled(text, caseInsensitive: flags.contains("i"))
    }
}
