import RedCore

/// Operator precedence, loosest first (PostgreSQL's table).
enum Precedence {
    static let or = 1, and = 2, not = 3, isTest = 4, comparison = 5, likeInBetween = 6, other = 7, additive = 8
    static let multiplicative = 9, exponent = 10, atTimeZone = 11, unary = 12, cast = 13
}

extension Parser {
    public mutating func parseExpression() throws -> Expr { try parseExpression(minimumPrecedence: Precedence.or) }

    mutating func parseExpression(minimumPrecedence: Int) throws -> Expr {
        try enter()
        defer { leave() }
        var left = try parsePrefix(minimumPrecedence: minimumPrecedence)
        var links = 0
        defer { treeDepth -= links }
        while true {
            guard let next = try parseInfix(left, minimumPrecedence: minimumPrecedence) else { return left }
            left = next
            try lengthenChain(&links)  // the next operand, and the tree above it, sit one level deeper
        }
    }

    mutating func parsePrefix(minimumPrecedence: Int) throws -> Expr {
        if isKeyword("not") {
            advance()
            return .unary("not", try parseExpression(minimumPrecedence: Precedence.not))
        }
        if isSymbol("-") || isSymbol("+") {
            let op = isSymbol("-") ? "-" : "+"
            advance()
            let operand = try parseExpression(minimumPrecedence: Precedence.unary)
            if op == "-", let folded = foldNegation(into: operand) { return folded }
            if op == "-", case .literal(.integer(let i)) = operand { return .literal(.integer(-i)) }
            if op == "-", case .literal(.float(let d)) = operand { return .literal(.float(-d)) }
            if op == "-", case .literal(.decimal(let d)) = operand {
                // `-9223372036854775808` is a bigint, as in PostgreSQL: the literal alone was too large.
                if d.scale == 0, let i = d.negated().smallMantissa { return .literal(.integer(i)) }
                return .literal(.decimal(d.negated()))
            }
            return op == "-" ? .unary("-", operand) : operand
        }
        // PostgreSQL's prefix operators: `~` bitwise not, `@` absolute value, `|/` square root,
        // `||/` cube root.
        for (symbol, function) in [("~", "__bit_not"), ("@", "abs"), ("|/", "sqrt"), ("||/", "cbrt")] where isSymbol(symbol) {
            advance()
            let operand = try parseExpression(minimumPrecedence: Precedence.unary)
            return .function(FunctionCall(name: function, arguments: [operand], distinct: false, star: false))
        }
        return try parsePrimary()
    }

    /// Parses one infix/postfix operator applied to `left`, or returns nil when none binds here.
    mutating func parseInfix(_ left: Expr, minimumPrecedence: Int) throws -> Expr? {
        func binds(_ p: Int) -> Bool { p >= minimumPrecedence }
        switch current.kind {
        case .symbol(let s):
            switch s {
            case "-" where isSymbol(">", ahead: 1) && peekToken(1).offset == current.offset + 1:
                // `->` and `->>`: JSON member or element, as JSON or as text.
                guard binds(Precedence.other) else { return nil }
                let asText = isSymbol(">", ahead: 2) && peekToken(2).offset == current.offset + 2
                advance(); advance()
                if asText { advance() }
                let key = try parseExpression(minimumPrecedence: Precedence.other + 1)
                return operatorCall(asText ? "__json_get_text" : "__json_get", left, key)
            case "::":
                guard binds(Precedence.cast) else { return nil }
                advance()
                return try parseCastTarget(left)
            case "*", "/", "%":
                guard binds(Precedence.multiplicative) else { return nil }
                advance()
                return .binary(s, left, try parseExpression(minimumPrecedence: Precedence.multiplicative + 1))
            case "+", "-":
                guard binds(Precedence.additive) else { return nil }
                advance()
                return .binary(s, left, try parseExpression(minimumPrecedence: Precedence.additive + 1))
            case "^" where isSymbol("@", ahead: 1) && peekToken(1).offset == current.offset + 1:
                // `^@`: starts with (PostgreSQL's operator for starts_with), at the precedence of other operators.
                guard binds(Precedence.other) else { return nil }
                advance(); advance()
                return .function(FunctionCall(name: "starts_with", arguments: [left, try parseExpression(minimumPrecedence: Precedence.other + 1)],
                                              distinct: false, star: false))
            case "^":
                guard binds(Precedence.exponent) else { return nil }
                advance()
                let exponent = try parseExpression(minimumPrecedence: Precedence.exponent + 1)
                return .function(FunctionCall(name: Self.powerOperator, arguments: [left, exponent], distinct: false, star: false))
            case "~", "~*", "!~", "!~*":
                // POSIX regular-expression match (`*`: ignoring case; `!`: not matching).
                guard binds(Precedence.other) else { return nil }
                advance()
                let pattern = try parseExpression(minimumPrecedence: Precedence.other + 1)
                let match = operatorCall(s.hasSuffix("*") ? "__regex_match_ci" : "__regex_match", left, pattern)
                return s.hasPrefix("!") ? .unary("not", match) : match
            case "<->", "<=>", "<#>", "<+>":
                // pgvector's distances, at the precedence of other operators (`a <-> b < 0.5`).
                guard binds(Precedence.other) else { return nil }
                advance()
                let right = try parseExpression(minimumPrecedence: Precedence.other + 1)
                return operatorCall(VectorFunctions.operatorFunctions[s]!, left, right)
            case "<" where isSymbol("<", ahead: 1) && peekToken(1).offset == current.offset + 1,
                 ">" where isSymbol(">", ahead: 1) && peekToken(1).offset == current.offset + 1:
                // `<<` and `>>`: integers shifted left and right, at the precedence of other operators.
                guard binds(Precedence.other) else { return nil }
                advance(); advance()
                return operatorCall(s == "<" ? "__bit_shift_left" : "__bit_shift_right", left,
                                    try parseExpression(minimumPrecedence: Precedence.other + 1))
            case "&", "|", "#":
                // Bitwise AND, OR and XOR of integers (PostgreSQL's `&`, `|`, `#`, at the precedence of other operators).
                guard binds(Precedence.other) else { return nil }
                advance()
                let function = s == "&" ? "__bit_and" : s == "|" ? "__bit_or" : "__bit_xor"
                return operatorCall(function, left, try parseExpression(minimumPrecedence: Precedence.other + 1))
            case "||", "#>", "#>>", "@>", "<@", "&&", "?", "?|", "?&", "#-", "@?", "@@":
                guard binds(Precedence.other) else { return nil }
                advance()
                let right = try parseExpression(minimumPrecedence: Precedence.other + 1)
                switch s {
                case "?": return operatorCall("__json_has_key", left, right)
                case "?|": return operatorCall("__json_has_any", left, right)
                case "?&": return operatorCall("__json_has_all", left, right)
                case "#-": return operatorCall("__json_delete_path", left, right)
                case "#>": return operatorCall("__json_path", left, right)
                case "#>>": return operatorCall("__json_path_text", left, right)
                case "@>": return operatorCall("__json_contains", left, right)
                case "<@": return operatorCall("__json_contains", right, left)
                case "&&": return operatorCall("__array_overlap", left, right)
                case "@?": return operatorCall(JSONPathFunctions.existsOperator, left, right)
                case "@@": return operatorCall(JSONPathFunctions.matchOperator, left, right)
                default: return .binary("||", left, right)
                }
            case "=", "<>", "<", "<=", ">", ">=":
                guard binds(Precedence.comparison) else { return nil }
                advance()
                if (isKeyword("any") || isKeyword("some") || isKeyword("all")), isSymbol("(", ahead: 1) {
                    return try parseQuantified(s, left)
                }
                return .binary(s, left, try parseExpression(minimumPrecedence: Precedence.comparison + 1))
            case "." where { if case .identifier = peekToken(1).kind { return true }; return false }():
                // `(record).field` (pgJDBC's `(information_schema._pg_expandarray(i.indkey)).n`).
                guard binds(Precedence.cast) else { return nil }
                advance()
                let field = try parseAnyName()
                return operatorCall(JSONOperators.fieldSelection, left, .literal(.text(field)))
            case "[":
                guard binds(Precedence.cast) else { return nil }
                advance()
                // `a[i]`, or the slice `a[i:j]` with either bound optional.
                let index = isSymbol(":") ? nil : try parseExpression()
                if acceptSymbol(":") {
                    let high = isSymbol("]") ? nil : try parseExpression()
                    try expectSymbol("]")
                    let bounds = [index ?? .literal(.integer(1)), high ?? .literal(.integer(.max))]
                    return .function(FunctionCall(name: "__array_slice", arguments: [left] + bounds, distinct: false, star: false))
                }
                try expectSymbol("]")
                return .function(FunctionCall(name: "__subscript", arguments: [left, index!], distinct: false, star: false))
            default:
                return nil
            }
        case .identifier(let word, false):
            switch word {
            case "and":
                guard binds(Precedence.and) else { return nil }
                advance()
                return .binary("and", left, try parseExpression(minimumPrecedence: Precedence.and + 1))
            case "or":
                guard binds(Precedence.or) else { return nil }
                advance()
                return .binary("or", left, try parseExpression(minimumPrecedence: Precedence.or + 1))
            case "is":
                guard binds(Precedence.isTest) else { return nil }
                advance()
                let negated = acceptKeyword("not")
                if acceptKeyword("null") { return .isNull(left, negated: negated) }
                if acceptKeyword("true") { return negated ? .unary("not", .isDistinctFrom(left, .literal(.boolean(true)), negated: true)) : .isDistinctFrom(left, .literal(.boolean(true)), negated: true) }
                if acceptKeyword("false") { return negated ? .unary("not", .isDistinctFrom(left, .literal(.boolean(false)), negated: true)) : .isDistinctFrom(left, .literal(.boolean(false)), negated: true) }
                if acceptKeyword("distinct") {
                    try expectKeyword("from")
                    return .isDistinctFrom(left, try parseExpression(minimumPrecedence: Precedence.isTest + 1), negated: negated)
                }
                throw unexpected(expected: "NULL, TRUE, FALSE or DISTINCT FROM")
            case "not":
                // Postfix NOT: NOT IN / NOT BETWEEN / NOT LIKE / NOT ILIKE.
                guard binds(Precedence.likeInBetween), isKeyword("in", ahead: 1) || isKeyword("between", ahead: 1)
                        || isKeyword("like", ahead: 1) || isKeyword("ilike", ahead: 1)
                        || (isKeyword("similar", ahead: 1) && isKeyword("to", ahead: 2)) else { return nil }
                advance()
                return try parseLikeInBetween(left, negated: true)
            case "in", "between", "like", "ilike", "similar":
                guard binds(Precedence.likeInBetween), word != "similar" || isKeyword("to", ahead: 1) else { return nil }
                return try parseLikeInBetween(left, negated: false)
            case "operator" where isSymbol("(", ahead: 1):
                // `a OPERATOR(pg_catalog.~) b` (psql writes its name patterns so): the operator
                // itself, at the precedence PostgreSQL gives this spelling of any operator.
                guard binds(Precedence.other) else { return nil }
                advance(); advance()
                if case .identifier = current.kind, isSymbol(".", ahead: 1) { advance(); advance() }
                guard case .symbol(let op) = current.kind else { throw unexpected(expected: "an operator") }
                advance()
                try expectSymbol(")")
                // `c.relkind OPERATOR(pg_catalog.=) ANY (array[…])` (pg_dump's table patterns).
                if ["=", "<>", "<", "<=", ">", ">="].contains(op), isKeyword("any") || isKeyword("some") || isKeyword("all"), isSymbol("(", ahead: 1) {
                    return try parseQuantified(op, left)
                }
                let right = try parseExpression(minimumPrecedence: Precedence.other + 1)
                switch op {
                case "~", "~*", "!~", "!~*":
                    let match = operatorCall(op.hasSuffix("*") ? "__regex_match_ci" : "__regex_match", left, right)
                    return op.hasPrefix("!") ? .unary("not", match) : match
                case "=", "<>", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "||": return .binary(op, left, right)
                default: throw RedError(.undefinedFunction, "operator does not exist: OPERATOR(\(op))")
                }
            case "at" where isKeyword("time", ahead: 1) && isKeyword("zone", ahead: 2):
                // `ts AT TIME ZONE zone`: PostgreSQL's `timezone(zone, ts)`, binding tighter than `^`.
                guard binds(Precedence.atTimeZone) else { return nil }
                advance(); advance(); advance()
                let zone = try parseExpression(minimumPrecedence: Precedence.atTimeZone + 1)
                return .function(FunctionCall(name: "timezone", arguments: [zone, left], distinct: false, star: false))
            case "collate":
                // `x COLLATE "C"`: text here compares byte by byte, which is what C, POSIX and the
                // default collation mean; another collation would order differently, so it is refused.
                guard binds(Precedence.cast) else { return nil }
                advance()
                var name = try parseAnyName()
                if name == "pg_catalog", acceptSymbol(".") { name = try parseAnyName() }
                guard ["default", "c", "posix", "ucs_basic"].contains(name.lowercased()) else {
                    throw RedError(.featureNotSupported, "collation \"\(name)\" is not supported (text compares byte by byte, as COLLATE \"C\")")
                }
                return left
            case "contains" where allowsContainsOperator:
                guard binds(Precedence.likeInBetween) else { return nil }
                advance()
                let needle = try parseExpression(minimumPrecedence: Precedence.likeInBetween + 1)
                return .function(FunctionCall(name: "__contains", arguments: [left, needle], distinct: false, star: false))
            default:
                return nil
            }
        default:
            return nil
        }
    }

    /// An operator spelt as a call of the function that implements it.
    func operatorCall(_ name: String, _ left: Expr, _ right: Expr) -> Expr {
        .function(FunctionCall(name: name, arguments: [left, right], distinct: false, star: false))
    }

    /// `operand::type` / `CAST(operand AS type)`, at the type. A cast to an array of a named
    /// type (`'{1,2}'::int[]`) casts each element (`__array_cast`); `ARRAY` alone keeps them.
    mutating func parseCastTarget(_ operand: Expr) throws -> Expr {
        // `'{16384,16390}'::pg_catalog.oid[]` (pg_dump's lists of OIDs): OIDs are integers here.
        let qualified = isKeyword("pg_catalog") && isSymbol(".", ahead: 1) ? 2 : 0
        if isKeyword("oid", ahead: qualified), isSymbol("[", ahead: qualified + 1), isSymbol("]", ahead: qualified + 2) {
            for _ in 0..<(qualified + 3) { advance() }
            // The third argument keeps PostgreSQL's element name for Describe (`$1::oid[]` is oid[]).
            return .function(FunctionCall(name: "__array_cast", arguments: [operand, .literal(.text(DataType.integer.rawValue)), .literal(.text("oid"))],
                                          distinct: false, star: false))
        }
        if let surfaceType = surfaceTypeName() {
            // A type the engine does not know (`::regclass`): the surface's cast, or 42704 when binding.
            return .function(FunctionCall(name: Self.surfaceCast, arguments: [operand, .literal(.text(surfaceType))], distinct: false, star: false))
        }
        let parsed = try parseTypeNameWithArguments()
        let (type, element) = (parsed.type, parsed.element)
        if element == nil, let declared = parsed.declared {
            let cast = Expr.cast(operand, type)
            return .function(FunctionCall(name: DeclaredCast.name, arguments: [cast, .literal(.text(declared.surfaceName))], distinct: false, star: false))
        }
        guard let element, element != .array else { return .cast(operand, type) }
        let declared: [Expr] = parsed.declared.map { [.literal(.text($0.surfaceName))] } ?? []
        return .function(FunctionCall(name: "__array_cast", arguments: [operand, .literal(.text(element.rawValue))] + declared, distinct: false, star: false))
    }

    /// The alias of `ARRAY(subquery)`'s rows in its rewriting (the planner checks they have one column).
    static let arrayRows = "__array_rows"

    /// `a ^ b`: power(a, b), in a column named `?column?` as an operator's is.
    static let powerOperator = "__power"

    /// The call a cast to a type outside `DataType` parses into: `(operand, 'typename')`.
    static let surfaceCast = "__surface_cast"

    /// At a cast's type: a one-word name (`regclass`, `pg_catalog.regtype`) that is no
    /// `DataType` and no start of a longer type name, consumed; nil (nothing consumed) otherwise.
    mutating func surfaceTypeName() -> String? {
        var ahead = 0
        if case .identifier(let schema, _) = current.kind, schema == "pg_catalog" || schema == "public", isSymbol(".", ahead: 1) { ahead = 2 }
        guard case .identifier(let name, _) = peekToken(ahead).kind, !DataType.isPostgresTypeName(name),
              !["double", "character", "timestamp", "time", "password", "secret"].contains(name),
              !isSymbol("(", ahead: ahead + 1), !isSymbol("[", ahead: ahead + 1), !isSymbol(".", ahead: ahead + 1) else { return nil }
        for _ in 0...ahead { advance() }
        return name
    }

    /// `left op ANY|SOME|ALL (subquery)` or `(array)`, at the quantifier.
    mutating func parseQuantified(_ op: String, _ left: Expr) throws -> Expr {
        let all = isKeyword("all")
        advance()
        try expectSymbol("(")
        let source: Expr
        if isKeyword("select") || isKeyword("with") || isKeyword("values") || isTableQuery {
            source = .subquery(try parseQuery())
        } else {
            // `= ANY((SELECT array_agg(x) …))`: a parenthesised subquery is one array value, not rows.
            let expression = try parseExpression()
            if case .subquery = expression { source = .cast(expression, .array) } else { source = expression }
        }
        try expectSymbol(")")
        return .quantified(op, left, all: all, source)
    }

    mutating func parseLikeInBetween(_ left: Expr, negated: Bool) throws -> Expr {
        if acceptKeyword("in") {
            try expectSymbol("(")
            if isKeyword("select") || isKeyword("with") || isKeyword("values") || isTableQuery {
                let query = try parseQuery()
                try expectSymbol(")")
                return .inSubquery(left, query, negated: negated)
            }
            var items: [Expr] = []
            repeat { items.append(try parseExpression()) } while acceptSymbol(",")
            try expectSymbol(")")
            return .inList(left, items, negated: negated)
        }
        if acceptKeyword("between") {
            let symmetric = acceptKeyword("symmetric")
            if !symmetric { _ = acceptKeyword("asymmetric") }
            let low = try parseExpression(minimumPrecedence: Precedence.other)
            try expectKeyword("and")
            let high = try parseExpression(minimumPrecedence: Precedence.other)
            guard symmetric else { return .between(left, low, high, negated: negated) }
            // As PostgreSQL rewrites it: in range whichever bound is the lower one.
            let either: Expr = .binary("or", .between(left, low, high, negated: false), .between(left, high, low, negated: false))
            return negated ? .unary("not", either) : either
        }
        if acceptKeyword("similar") {
            // PostgreSQL's own rewrite: a ~ similar_to_escape(pattern [, escape]).
            try expectKeyword("to")
            var arguments = [try parseExpression(minimumPrecedence: Precedence.likeInBetween + 1)]
            if acceptKeyword("escape") { arguments.append(try parseExpression(minimumPrecedence: Precedence.likeInBetween + 1)) }
            let match = operatorCall("__regex_match", left, .function(FunctionCall(name: "similar_to_escape", arguments: arguments, distinct: false, star: false)))
            return negated ? .unary("not", match) : match
        }
        let caseInsensitive = isKeyword("ilike")
        advance()
        if isKeyword("any") || isKeyword("some") || isKeyword("all"), isSymbol("(", ahead: 1) {
            // `x LIKE ANY (array)`: PostgreSQL's `~~` (ILIKE `~~*`, NOT: `!~~`) against each pattern.
            return try parseQuantified((negated ? "!" : "") + (caseInsensitive ? "~~*" : "~~"), left)
        }
        var pattern = try parseExpression(minimumPrecedence: Precedence.likeInBetween + 1)
        if acceptKeyword("escape") {
            // PostgreSQL's own rewrite: the pattern re-spelt with `\\` as its escape character.
            let escape = try parseExpression(minimumPrecedence: Precedence.likeInBetween + 1)
            pattern = .function(FunctionCall(name: "like_escape", arguments: [pattern, escape], distinct: false, star: false))
        }
        return .like(left, pattern, caseInsensitive: caseInsensitive, negated: negated)
    }

    mutating func parsePrimary() throws -> Expr {
        let token = current
        switch token.kind {
        case .integer(let i): advance(); return literalOperand(.integer(i))
        case .float(let d): advance(); return literalOperand(.float(d))
        case .decimal(let d): advance(); return literalOperand(.decimal(d))
        case .string(let s): advance(); return literalOperand(.text(s))
        case .parameter(let n):
            if autoParameterize {
                throw error("a prepared statement takes its literals as parameters; write a literal instead of $\(n)", at: token)
            }
            advance()
            parameterCount = max(parameterCount, n)
            return .parameter(n)
        case .json(let raw):
            advance()
            do { return .literal(.json(try JSONValue.parse(raw))) } catch let e as RedError {
                throw error("invalid JSON object literal: \(e.message)", at: token)
            }
        case .symbol("("):
            advance()
            if isKeyword("select") || isKeyword("with") || isKeyword("values") || isTableQuery {
                let query = try parseQuery()
                try expectSymbol(")")
                return .subquery(query)
            }
            let inner = try parseExpression()
            if acceptSymbol(",") {  // row constructor (a, b): only as an IN list item; keep as array
                var items = [inner]
                repeat { items.append(try parseExpression()) } while acceptSymbol(",")
                try expectSymbol(")")
                return .array(items)
            }
            try expectSymbol(")")
            return inner
        case .symbol("["):
            advance()
            var items: [Expr] = []
            if !isSymbol("]") { repeat { items.append(try parseExpression()) } while acceptSymbol(",") }
            try expectSymbol("]")
            return .array(items)
        case .symbol("{"):
            return try parseBareObject()
        case .identifier(let word, let quoted):
            if !quoted {
                switch word {
                case "null": advance(); return literalOperand(.null)
                case "true": advance(); return literalOperand(.boolean(true))
                case "false": advance(); return literalOperand(.boolean(false))
                case "case": return try parseCase()
                case "cast":
                    advance()
                    try expectSymbol("(")
                    let inner = try parseExpression()
                    try expectKeyword("as")
                    let cast = try parseCastTarget(inner)
                    try expectSymbol(")")
                    return cast
                case "exists":
                    advance()
                    try expectSymbol("(")
                    let query = try parseQuery()
                    try expectSymbol(")")
                    return .exists(query, negated: false)
                case "current_timestamp", "localtimestamp", "current_time", "localtime":
                    // Named as written (PostgreSQL's column name); `localtimestamp` has no time zone.
                    // `current_timestamp(0)`: with a precision.
                    advance()
                    var arguments: [Expr] = []
                    if acceptSymbol("(") {
                        guard case .integer(let p) = current.kind else { throw unexpected(expected: "a precision") }
                        advance()
                        try expectSymbol(")")
                        arguments = [.literal(.integer(p))]
                    }
                    return .function(FunctionCall(name: word, arguments: arguments, distinct: false, star: false))
                case "current_date":
                    advance(); return .function(FunctionCall(name: "current_date", arguments: [], distinct: false, star: false))
                case "current_user", "session_user", "current_role", "user", "current_catalog", "current_schema"
                    where !isSymbol("(", ahead: 1) && !isSymbol(".", ahead: 1):
                    advance(); return .function(FunctionCall(name: word, arguments: [], distinct: false, star: false))
                case "array" where isSymbol("(", ahead: 1) && (isKeyword("select", ahead: 2) || isKeyword("with", ahead: 2) || isKeyword("values", ahead: 2)):
                    // `ARRAY(subquery)`: its rows' one column, in order, as an array ('{}' for none),
                    // written as `COALESCE((SELECT array_agg(e) FROM (subquery) AS r(e)), '{}')`.
                    advance(); advance()
                    let rows = try parseQuery()
                    try expectSymbol(")")
                    let element = Expr.column([Self.arrayRows, "__element"])
                    let aggregate = Expr.function(FunctionCall(name: "array_agg", arguments: [element], distinct: false, star: false))
                    let select = Select(items: [SelectItem(expr: aggregate, alias: nil)], from: .subquery(rows, alias: Self.arrayRows, columns: ["__element"]))
                    let collected = Expr.subquery(Query(body: .select(select)))
                    let array = Expr.function(FunctionCall(name: "coalesce", arguments: [collected, .cast(.literal(.text("{}")), .array)], distinct: false, star: false))
                    return .cast(array, .array)
                case "array" where isSymbol("[", ahead: 1):
                    // ARRAY[…]; one whose elements are ARRAY[…] too is a multidimensional array,
                    // which must be rectangular, so it is marked for that check (a bare `[…]`
                    // list, RedDB's JSON-like literal, may nest as it likes).
                    advance(); advance()
                    var items: [Expr] = []
                    var nested = false
                    if !isSymbol("]") {
                        repeat {
                            if isKeyword("array"), isSymbol("[", ahead: 1) { nested = true }
                            items.append(try parseExpression())
                        } while acceptSymbol(",")
                    }
                    try expectSymbol("]")
                    guard nested else { return .array(items) }
                    return .function(FunctionCall(name: ArrayFunctions.multidimensional, arguments: [.array(items)], distinct: false, star: false))
                case "row" where isSymbol("(", ahead: 1):
                    // ROW(a, b): the row constructor, as `(a, b)` (compared element by element).
                    advance(); advance()
                    var items: [Expr] = []
                    if !isSymbol(")") { repeat { items.append(try parseExpression()) } while acceptSymbol(",") }
                    try expectSymbol(")")
                    return .array(items)
                case _ where ["time", "timestamp", "timestamptz", "interval"].contains(word) && isSymbol("(", ahead: 1) && isSymbol(")", ahead: 3)
                        && isStringToken(ahead: 4):
                    // `timestamp(3) '…'`, `interval(0) '…'`: the literal cast to the declared type.
                    let parsed = try parseTypeNameWithArguments()
                    guard case .string(let s) = current.kind, let declared = parsed.declared else { throw unexpected() }
                    advance()
                    let cast = Expr.cast(.literal(.text(s)), parsed.type)
                    return .function(FunctionCall(name: DeclaredCast.name, arguments: [cast, .literal(.text(declared.surfaceName))], distinct: false, star: false))
                case _ where ["date", "time", "timestamp", "timestamptz", "uuid", "json", "jsonb", "interval"].contains(word) && isStringToken(ahead: 1):
                    // (Only before a string: elsewhere these are column names, `SELECT date FROM t`.)
                    advance()
                    guard case .string(let s) = current.kind else { throw unexpected() }
                    advance()
                    if word == "interval" { return .literal(.interval(try Interval.parse(s, qualifier: parseIntervalQualifier()))) }
                    if word == "timestamptz" {
                        // Typed as `'…'::timestamptz` is: described, and converted by AT TIME ZONE, as an instant.
                        let cast = Expr.cast(.literal(.text(s)), .timestamp)
                        return .function(FunctionCall(name: DeclaredCast.name, arguments: [cast, .literal(.text(DeclaredType(kind: .timestamptz).surfaceName))], distinct: false, star: false))
                    }
                    return .cast(.literal(.text(s)), DataType(sqlName: word)!)
                default:
                    if Self.reserved.contains(word), !["left", "right"].contains(word) || !isSymbol("(", ahead: 1) {
                        throw unexpected()
                    }
                }
            }
            advance()
            if isSymbol("(") { return try parseFunctionCall(name: word) }
            var path = [word]
            while acceptSymbol(".") {
                if acceptSymbol("*") {
                    // `t.*` in an expression (`OLD.* IS DISTINCT FROM NEW.*`, `row_to_json(t.*)`): the whole
                    // row, as `t`, except where a list takes it apart (a record's fields in VALUES).
                    guard path.count == 1 else { throw error("unexpected .* in expression") }
                    return .column(path + ["*"])
                }
                path.append(try parseAnyName())
            }
            // A schema-qualified function (`pg_catalog.format_type(…)`): functions live in no schema here.
            if path.count == 2, isSymbol("(") { return try parseFunctionCall(name: path[1]) }
            return .column(path)
        default:
            throw unexpected()
        }
    }

    func isStringToken(ahead: Int) -> Bool {
        if case .string = peekToken(ahead).kind { return true }
        return false
    }

    /// The field of `INTERVAL '…' field [TO field]` (SQL's qualifier), nil when none follows:
    /// the last field named, which counts a bare number and below which fields are dropped.
    mutating func parseIntervalQualifier() throws -> Interval.Unit? {
        let fields = ["year", "month", "day", "hour", "minute", "second"]
        guard case .identifier(let word, false) = current.kind, fields.contains(word.lowercased()) else { return nil }
        advance()
        var last = word.lowercased()
        if isKeyword("to") {
            advance()
            guard case .identifier(let end, false) = current.kind, fields.contains(end.lowercased()),
                  fields.firstIndex(of: end.lowercased())! > fields.firstIndex(of: last)! else { throw unexpected(expected: "an interval field") }
            advance()
            last = end.lowercased()
        }
        return Interval.Unit(name: last)
    }

    mutating func parseBareObject() throws -> Expr {
        try expectSymbol("{")
        var members: [Expr] = []
        if !isSymbol("}") {
            repeat {
                let key: String
                switch current.kind {
                case .identifier(let s, _): key = s
                case .string(let s): key = s
                default: throw unexpected(expected: "an object key")
                }
                advance()
                guard acceptSymbol(":") || acceptSymbol("=") else { throw unexpected(expected: ":") }
                members.append(.literal(.text(key)))
                members.append(try parseExpression())
            } while acceptSymbol(",")
        }
        try expectSymbol("}")
        return .function(FunctionCall(name: "json_build_object", arguments: members, distinct: false, star: false))
    }

    mutating func parseCase() throws -> Expr {
        try expectKeyword("case")
        var operand: Expr?
        if !isKeyword("when") { operand = try parseExpression() }
        var branches: [WhenBranch] = []
        while acceptKeyword("when") {
            let condition = try parseExpression()
            guard acceptKeyword("then") else { throw error("expected THEN after CASE WHEN condition") }
            branches.append(WhenBranch(condition: condition, result: try parseExpression()))
        }
        guard !branches.isEmpty else { throw error("CASE must have at least one WHEN branch") }
        let otherwise = acceptKeyword("else") ? try parseExpression() : nil
        guard acceptKeyword("end") else { throw error("expected END to close CASE expression") }
        return .caseWhen(operand: operand, branches: branches, otherwise: otherwise)
    }

    mutating func parseFunctionCall(name: String) throws -> Expr {
        try expectSymbol("(")
        var call = FunctionCall(name: name, arguments: [], distinct: false, star: false)
        if acceptSymbol("*") {
            call.star = true
        } else if !isSymbol(")") {
            if acceptKeyword("distinct") { call.distinct = true } else { _ = acceptKeyword("all") }
            // SQL-standard forms: SUBSTRING(s FROM i FOR n), POSITION(a IN b), TRIM([LEADING|TRAILING|BOTH] [c] FROM s), EXTRACT(f FROM x)
            if let signature = Self.namedParameters[name] {
                call.arguments = try parseArguments(name, signature)
            } else if name == "trim", let form = ["leading", "trailing", "both"].first(where: { isKeyword($0) }) {
                advance()
                call.name = form == "leading" ? "ltrim" : (form == "trailing" ? "rtrim" : "btrim")
                var chars: Expr?
                if !isKeyword("from") { chars = try parseExpression() }
                try expectKeyword("from")
                call.arguments = [try parseExpression()] + (chars.map { [$0] } ?? [])
            } else {
                let first = try parseExpression(minimumPrecedence: name == "position" ? Precedence.other : Precedence.or)
                call.arguments.append(first)
                if name == "position", acceptKeyword("in") {
                    call.arguments = [try parseExpression(), first]
                    call.name = "position"  // strpos with the operands turned, named as PostgreSQL names the column
                } else if name == "extract" || name == "date_part", acceptKeyword("from") {
                    let field: Expr
                    if case .column(let p) = first { field = .literal(.text(p.joined(separator: "."))) } else { field = first }
                    call.arguments = [field, try parseExpression()]
                    call.name = name == "extract" ? "extract" : "date_part"  // extract is numeric, date_part float8
                } else if (name == "substring" || name == "substr"), isKeyword("from") || isKeyword("for") {
                    var start: Expr = .literal(.integer(1))
                    var length: Expr?
                    if acceptKeyword("from") { start = try parseExpression() }
                    if acceptKeyword("for") { length = try parseExpression() }
                    if length == nil, acceptKeyword("from") { start = try parseExpression() }
                    call.arguments = [first, start] + (length.map { [$0] } ?? [])
                } else if name == "overlay", acceptKeyword("placing") {
                    // overlay(s PLACING r FROM n [FOR m])
                    let replacement = try parseExpression()
                    try expectKeyword("from")
                    call.arguments = [first, replacement, try parseExpression()]
                    if acceptKeyword("for") { call.arguments.append(try parseExpression()) }
                } else if name == "trim", acceptKeyword("from") {
                    call.arguments = [try parseExpression(), first]
                    call.name = "btrim"
                } else {
                    while acceptSymbol(",") { call.arguments.append(try parseExpression()) }
                }
            }
            if acceptKeyword("order") {
                try expectKeyword("by")
                call.orderBy = try parseOrderItems()
            }
        }
        try expectSymbol(")")
        if isKeyword("within"), isKeyword("group", ahead: 1) {
            // An ordered-set aggregate: `percentile_cont(0.5) WITHIN GROUP (ORDER BY x)`; the
            // ordering is kept as the call's ORDER BY, the direct arguments as its arguments.
            advance(); advance()
            guard call.orderBy.isEmpty else { throw error("an ordered-set aggregate takes its ORDER BY in WITHIN GROUP only") }
            try expectSymbol("(")
            try expectKeyword("order")
            try expectKeyword("by")
            call.orderBy = try parseOrderItems()
            try expectSymbol(")")
            guard AggregateKind.orderedSet.contains(name) else {
                throw RedError(.undefinedFunction, "\(name) is not an ordered-set aggregate, so it cannot have WITHIN GROUP")
            }
        } else if AggregateKind.orderedSet.contains(name), call.over == nil {
            throw RedError(.invalidOperation, "WITHIN GROUP is required for ordered-set aggregate \(name)")
        }
        if acceptKeyword("filter") {
            try expectSymbol("(")
            try expectKeyword("where")
            call.filter = try parseExpression()
            try expectSymbol(")")
        }
        if acceptKeyword("over") {
            if case .identifier(let name, _) = current.kind, !isSymbol("(") {
                advance()
                call.over = WindowSpec(reference: name, partitionBy: [], orderBy: [], frame: nil)
            } else {
                call.over = try parseWindowSpec()
            }
        }
        return .function(call)
    }
}
