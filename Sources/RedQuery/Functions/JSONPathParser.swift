import RedCore

/// Recursive descent over a path's tokens, loosest binding first: `||`, `&&`, `!`, the
/// predicates (comparisons, `like_regex`, `starts with`), `+ -`, `* / %`, unary signs, and
/// accessor chains on a primary (`$`, `@`, `$name`, `last`, a literal, a parenthesised path or
/// predicate). A predicate stands where PostgreSQL's grammar allows one: the whole path, a
/// filter, `!( )`, `exists ( )`'s path is an expression.
struct JSONPathParser {
    typealias Node = JSONPath.Node
    let tokens: [JSONPathToken]
    var position = 0
    var depth = 0
    /// Inside a filter (`@` allowed) and inside subscripts (`last` allowed), how deep.
    var filters = 0, subscripts = 0

    init(tokens: [JSONPathToken]) { self.tokens = tokens }

    mutating func parsePath() throws -> (strict: Bool, root: Node) {
        var strict = false
        if case .word(let mode)? = peek, mode == "strict" || mode == "lax", position + 1 < tokens.count {
            strict = mode == "strict"
            position += 1
        }
        guard !tokens.isEmpty else { throw JSONPath.syntaxError("a path is empty") }
        let root = try parseOr()
        if let extra = peek { throw JSONPath.syntaxError("unexpected \(Self.describe(extra)) at the end") }
        return (strict, root)
    }

    // MARK: Tokens

    private var peek: JSONPathToken? { position < tokens.count ? tokens[position] : nil }

    private mutating func accept(_ symbol: String) -> Bool {
        guard peek == .symbol(symbol) else { return false }
        position += 1
        return true
    }

    private mutating func acceptWord(_ word: String) -> Bool {
        guard peek == .word(word) else { return false }
        position += 1
        return true
    }

    private mutating func expect(_ symbol: String) throws {
        guard accept(symbol) else {
            throw JSONPath.syntaxError("expected \"\(symbol)\"" + (peek.map { " at \(Self.describe($0))" } ?? " at the end"))
        }
    }

    private static func describe(_ token: JSONPathToken) -> String {
        switch token {
        case .word(let w): return "\"\(w)\""
        case .variable(let v): return "\"$\(v)\""
        case .string(let s): return "string \"\(s)\""
        case .number(let n): return "\"\(n)\""
        case .symbol(let s): return "\"\(s)\""
        }
    }

    private mutating func nested<T>(_ body: (inout JSONPathParser) throws -> T) throws -> T {
        let start = depth
        defer { depth = start }
        try deepen()
        return try body(&self)
    }

    /// One more level of the tree being built: a nested path, or one more link of a chain of
    /// accessors or operators (each a level the evaluation recurses through). Callers restore
    /// `depth` when their part of the tree is done.
    private mutating func deepen() throws {
        depth += 1
        guard depth <= JSONPath.maxDepth else { throw RedError(.limitExceeded, "a jsonpath may nest at most \(JSONPath.maxDepth) levels (counting each accessor and operator of a chain)") }
    }

    // MARK: Predicates

    private mutating func parseOr() throws -> Node {
        let start = depth
        defer { depth = start }
        var left = try parseAnd()
        while accept("||") {
            try deepen()
            left = .or(try predicate(left), try predicate(try parseAnd()))
        }
        return left
    }

    private mutating func parseAnd() throws -> Node {
        let start = depth
        defer { depth = start }
        var left = try parseNot()
        while accept("&&") {
            try deepen()
            left = .and(try predicate(left), try predicate(try parseNot()))
        }
        return left
    }

    private mutating func parseNot() throws -> Node {
        if accept("!") {
            try expect("(")
            let inner = try nested { try $0.parseOr() }
            try expect(")")
            return .not(try predicate(inner))
        }
        return try parsePredicate()
    }

    /// A predicate operand must be one (`$.a && true` is refused, as in PostgreSQL).
    private func predicate(_ node: Node) throws -> Node {
        guard node.isPredicate else { throw JSONPath.syntaxError("a boolean operator needs predicates on both sides") }
        return node
    }

    private mutating func parsePredicate() throws -> Node {
        if acceptWord("exists") {
            try expect("(")
            let path = try nested { try $0.parseOr() }
            try expect(")")
            return .exists(path)
        }
        let left = try parseAdditive()
        if case .symbol(let op)? = peek, ["==", "!=", "<>", "<", "<=", ">", ">="].contains(op) {
            position += 1
            return .comparison(op == "<>" ? "!=" : op, left, try parseAdditive())
        }
        if acceptWord("like_regex") {
            guard case .string(let pattern)? = peek else { throw JSONPath.syntaxError("like_regex needs a quoted pattern") }
            position += 1
            var flags = ""
            if acceptWord("flag") {
                guard case .string(let f)? = peek else { throw JSONPath.syntaxError("flag needs quoted flags") }
                position += 1
                flags = f
            }
            try Self.checkRegexFlags(flags)
            _ = try JSONPathEvaluation.regex(pattern, flags: flags)  // a bad pattern fails here, not per row
            return .likeRegex(left, pattern: pattern, flags: flags)
        }
        if acceptWord("starts") {
            guard acceptWord("with") else { throw JSONPath.syntaxError("expected \"with\" after \"starts\"") }
            let prefix: Node
            switch peek {
            case .string(let s)?: position += 1; prefix = .literal(.string(s))
            case .variable(let v)?: position += 1; prefix = .variable(v)
            default: throw JSONPath.syntaxError("starts with needs a quoted string or a variable")
            }
            return .startsWith(left, prefix)
        }
        return left
    }

    // MARK: Expressions

    private mutating func parseAdditive() throws -> Node {
        let start = depth
        defer { depth = start }
        var left = try parseMultiplicative()
        while case .symbol(let op)? = peek, op == "+" || op == "-" {
            position += 1
            try deepen()
            left = .binary(op, try expression(left), try expression(try parseMultiplicative()))
        }
        return left
    }

    private mutating func parseMultiplicative() throws -> Node {
        let start = depth
        defer { depth = start }
        var left = try parseUnary()
        while case .symbol(let op)? = peek, ["*", "/", "%"].contains(op) {
            position += 1
            try deepen()
            left = .binary(op, try expression(left), try expression(try parseUnary()))
        }
        return left
    }

    /// An arithmetic operand must not be a predicate.
    private func expression(_ node: Node) throws -> Node {
        guard !node.isPredicate else { throw JSONPath.syntaxError("a predicate cannot be an arithmetic operand") }
        return node
    }

    private mutating func parseUnary() throws -> Node {
        if case .symbol(let op)? = peek, op == "+" || op == "-" {
            position += 1
            return .unary(op, try expression(try nested { try $0.parseUnary() }))
        }
        return try parseAccessors(try parsePrimary())
    }

    private mutating func parsePrimary() throws -> Node {
        guard let token = peek else { throw JSONPath.syntaxError("unexpected end of the path") }
        position += 1
        switch token {
        case .symbol("$"): return .root
        case .symbol("@"):
            guard filters > 0 else { throw RedError(.syntaxError, "@ is not allowed in root expressions") }
            return .current
        case .variable(let name): return .variable(name)
        case .string(let s): return .literal(.string(s))
        case .number(let n):
            guard let number = try? Numeric.parse(n) else { throw JSONPath.syntaxError("invalid number \"\(n)\"") }
            return .literal(.decimal(number))
        case .word("true"): return .literal(.bool(true))
        case .word("false"): return .literal(.bool(false))
        case .word("null"): return .literal(.null)
        case .word("last"):
            guard subscripts > 0 else { throw RedError(.syntaxError, "LAST is allowed only in array subscripts") }
            return .last
        case .symbol("("):
            let inner = try nested { try $0.parseOr() }
            try expect(")")
            if inner.isPredicate, acceptWord("is") {
                guard acceptWord("unknown") else { throw JSONPath.syntaxError("expected \"unknown\" after \"is\"") }
                return .isUnknown(inner)
            }
            return inner
        default:
            throw JSONPath.syntaxError("unexpected \(Self.describe(token))")
        }
    }

    private mutating func parseAccessors(_ base: Node) throws -> Node {
        let start = depth
        defer { depth = start }
        var node = base
        while true {
            if accept(".") {
                node = try parseDotAccessor(node)
            } else if accept("[") {
                if accept("*") {
                    try expect("]")
                    node = .anyElement(node)
                } else {
                    var list: [(Node, Node?)] = []
                    subscripts += 1
                    defer { subscripts -= 1 }
                    repeat {
                        let low = try nested { try $0.parseAdditive() }
                        let high = acceptWord("to") ? try nested { try $0.parseAdditive() } : nil
                        list.append((low, high))
                    } while accept(",")
                    try expect("]")
                    node = .elements(node, list)
                }
            } else if accept("?") {
                try expect("(")
                filters += 1
                defer { filters -= 1 }
                let condition = try nested { try $0.parseOr() }
                try expect(")")
                guard condition.isPredicate else { throw JSONPath.syntaxError("a filter needs a predicate") }
                node = .filter(node, condition)
            } else {
                return node
            }
            try deepen()  // a chain of accessors nests as deeply as it is long
        }
    }

    private mutating func parseDotAccessor(_ base: Node) throws -> Node {
        if accept("*") { return .anyMember(base) }
        if accept("**") {
            guard accept("{") else { return .descendants(base, from: nil, through: nil) }
            let from = try level()
            let through = acceptWord("to") ? try level() : from
            try expect("}")
            return .descendants(base, from: from, through: through)
        }
        switch peek {
        case .string(let key)?:
            position += 1
            return .member(base, key)
        case .word(let key)?:
            position += 1
            guard accept("(") else { return .member(base, key) }
            try expect(")")
            if JSONPath.unbuiltMethods.contains(key) {
                throw RedError(.featureNotSupported, "jsonpath item method .\(key)() is not supported")
            }
            guard JSONPath.methods.contains(key) else { throw JSONPath.syntaxError("unknown item method .\(key)()") }
            return .method(base, key)
        case .variable(let name)?:
            // `$.$x` is no key; PostgreSQL reads a `$`-word after a dot as a key too only when quoted.
            throw JSONPath.syntaxError("unexpected \"$\(name)\" after \".\"")
        default:
            throw JSONPath.syntaxError("expected a key, \"*\" or \"**\" after \".\"")
        }
    }

    /// `like_regex` flags: `i` (ignore case), `s` (`.` matches a newline, as ours always does)
    /// and `q` (the pattern is literal) are taken; `m` and `x` are PostgreSQL's too but not built.
    private static func checkRegexFlags(_ flags: String) throws {
        for flag in flags {
            switch flag {
            case "i", "s", "q": continue
            case "m", "x": throw RedError(.featureNotSupported, "like_regex flag \"\(flag)\" is not supported; i, s and q are")
            default: throw JSONPath.syntaxError("unrecognized flag character \"\(flag)\" in like_regex")
            }
        }
    }

    private mutating func level() throws -> Int {
        if acceptWord("last") { return .max }
        guard case .number(let n)? = peek, let level = Int(n), level >= 0 else { throw JSONPath.syntaxError("a .** level is a whole number or last") }
        position += 1
        return level
    }
}
