import RedCore

/// Evaluates bound expressions against a row.
///
/// `outerRows` is the stack of enclosing rows for correlated subqueries
/// (last = nearest). Errors follow PostgreSQL: 22012 division by zero,
/// 22003 integer overflow, 22P02 for text that does not convert, 21000 for a
/// scalar subquery with more than one row.
struct Evaluation {
    let context: ExecutionContext
    var outerRows: [[Value]]

    func evaluate(_ expr: BoundExpr, _ row: [Value]) throws -> Value {
        switch expr {
        case .constant(let v): return v
        case .column(let i): return i < row.count ? row[i] : .null
        case .outer(let depth, let index):
            let position = outerRows.count - depth
            guard position >= 0, position < outerRows.count, index < outerRows[position].count else { return .null }
            return outerRows[position][index]
        case .documentField(let column, let path):
            guard column < row.count else { return .null }
            return Self.extract(row[column], path: path)
        case .parameter(let n):
            guard n >= 1, n <= context.parameters.count else {
                throw RedError(.invalidParameters, "there is no parameter $\(n): the statement was given \(context.parameters.count)")
            }
            return context.parameters[n - 1]
        case .not(let e):
            switch try Self.truth(try evaluate(e, row)) {
            case nil: return .null
            case let b?: return .boolean(!b)
            }
        case .and(let a, let b):
            let left = try Self.truth(try evaluate(a, row))
            if left == false { return .boolean(false) }
            let right = try Self.truth(try evaluate(b, row))
            if right == false { return .boolean(false) }
            if left == nil || right == nil { return .null }
            return .boolean(true)
        case .or(let a, let b):
            let left = try Self.truth(try evaluate(a, row))
            if left == true { return .boolean(true) }
            let right = try Self.truth(try evaluate(b, row))
            if right == true { return .boolean(true) }
            if left == nil || right == nil { return .null }
            return .boolean(false)
        case .arithmetic(let op, let a, let b):
            return try Arithmetic.apply(op, try evaluate(a, row), try evaluate(b, row))
        case .concat(let a, let b):
            let l = try evaluate(a, row), r = try evaluate(b, row)
            if l.isNull || r.isNull { return .null }
            if case .json(let x) = l, case .json(let y) = r { return .json(try JSONOperators.concatenate(x, y)) }
            return .text(l.displayText + r.displayText)
        case .comparison(let op, let a, let b):
            return try Self.compare(op, try evaluate(a, row), try evaluate(b, row))
        case .isNull(let e, let negated):
            return .boolean(try evaluate(e, row).isNull != negated)
        case .negate, .distinctFrom, .between, .inList, .inSubquery, .quantified, .exists, .scalarSubquery, .like, .caseWhen:
            return try evaluateLessCommon(expr, row)
        case .cast(let e, let type):
            return try Self.cast(try evaluate(e, row), to: type)
        case .function(let f, let args):
            var values: [Value] = []
            values.reserveCapacity(args.count)
            for a in args { values.append(try evaluate(a, row)) }
            return try f.call(values, context)
        case .array:
            return try evaluateLessCommon(expr, row)
        }
    }

    /// The cases of `evaluate` that chains of thousands of links do not go through: apart
    /// so that `evaluate`'s frame, one per level of a deep expression, stays small (a debug
    /// build has to evaluate a 900-link chain within its thread's stack).
    func evaluateLessCommon(_ expr: BoundExpr, _ row: [Value]) throws -> Value {
        switch expr {
        case .negate(let e):
            switch try evaluate(e, row) {
            case .null: return .null
            case .integer(let i):
                guard i != .min else { throw Arithmetic.overflow() }
                return .integer(-i)
            case .float(let d): return .float(-d)
            case .decimal(let d): return .decimal(d.negated())
            case .text(let s):
                let n = try Arithmetic.number(fromText: s)
                return try evaluate(.negate(.constant(n)), row)
            case .interval(let i): return .interval(try i.negated())
            case let other: throw RedError(.undefinedFunction, "operator does not exist: - \(other.kindName)")
            }
        case .distinctFrom(let a, let b, let negated):
            let l = try evaluate(a, row), r = try evaluate(b, row)
            let distinct: Bool
            if l.isNull || r.isNull { distinct = l.isNull != r.isNull } else { distinct = try Self.compare("=", l, r) != .boolean(true) }
            return .boolean(distinct != negated)
        case .between(let e, let low, let high, let negated):
            // `v >= low AND v <= high` in three-valued logic, computed in place: building those
            // expressions per row allocated five boxes a row (a range scan's recheck).
            let v = try evaluate(e, row)
            let above = try Self.truth(try Self.compare(">=", v, try evaluate(low, row)))
            let result: Bool?
            if above == false { result = false } else {
                let below = try Self.truth(try Self.compare("<=", v, try evaluate(high, row)))
                result = below == false ? false : (above == nil || below == nil ? nil : true)
            }
            guard let result else { return .null }
            return .boolean(result != negated)
        case .inList(let e, let items, let negated):
            let v = try evaluate(e, row)
            if let answer = try constantListMembership(v, items, negated: negated) { return answer }
            var candidates: [Value] = []
            candidates.reserveCapacity(items.count)
            for item in items { candidates.append(try evaluate(item, row)) }
            return try Self.membership(v, candidates, negated: negated)
        case .inSubquery(let e, let plan, let negated):
            let v = try evaluate(e, row)
            if let answer = try hashedMembership(v, plan, row, negated: negated) { return answer }
            let rows = try runSubquery(plan, row)
            return try Self.membership(v, rows.map { $0.first ?? .null }, negated: negated)
        case .quantified(let op, let e, let all, let source):
            return try evaluateQuantified(op, e, all: all, source, row)
        case .exists(let plan, let negated):
            if !plan.isCacheable, let found = try correlatedExistence(plan, row) { return .boolean(found != negated) }
            let rows = try runSubquery(plan, row, limit: 1)
            return .boolean(rows.isEmpty == negated)
        case .scalarSubquery(let plan):
            let rows = try runSubquery(plan, row, limit: 2)
            guard rows.count <= 1 else { throw RedError(.cardinalityViolation, "more than one row returned by a subquery used as an expression") }
            return rows.first?.first ?? .null
        case .like(let e, let p, let ci, let negated):
            let v = try evaluate(e, row), pattern = try evaluate(p, row)
            if v.isNull || pattern.isNull { return .null }
            let matched = try LikePattern.matches(v.displayText, pattern.displayText, caseInsensitive: ci)
            return .boolean(matched != negated)
        case .caseWhen(let operand, let branches, let otherwise):
            if let operand {
                let subject = try evaluate(operand, row)
                for (candidate, result) in branches where try Self.compare("=", subject, try evaluate(candidate, row)) == .boolean(true) {
                    return try evaluate(result, row)
                }
            } else {
                for (condition, result) in branches where try Self.truth(try evaluate(condition, row)) == true {
                    return try evaluate(result, row)
                }
            }
            return try otherwise.map { try evaluate($0, row) } ?? .null
        case .array(let items):
            var values: [Value] = []
            for item in items { values.append(try evaluate(item, row)) }
            return .json(try JSONValue.checkedNesting(.array(values.map(ArrayFunctions.element))))
        default:
            return try evaluate(expr, row)
        }
    }

    func runSubquery(_ plan: SubqueryPlan, _ row: [Value], limit: Int = .max) throws -> [[Value]] {
        if plan.isCacheable, let cached = plan.cache { return cached }
        var outerRow = row
        if let map = plan.outerMap {
            outerRow = Array(repeating: .null, count: (map.values.max() ?? 0) + 1)
            for (local, original) in map where local < row.count { outerRow[original] = row[local] }
        }
        let iterator = try context.open(plan.plan, outerRows: outerRows + [outerRow])
        var rows: [[Value]] = []
        let cacheable = plan.isCacheable
        while let r = try iterator.next() {
            rows.append(r)
            if !cacheable, rows.count >= limit { break }
        }
        if cacheable { plan.cache = rows }
        return rows
    }

    /// SQL truth of a value: nil for NULL (unknown).
    static func truth(_ v: Value) throws -> Bool? {
        switch v {
        case .null: return nil
        case .boolean(let b): return b
        case .text(let s):
            if case .boolean(let b) = try DataType.boolean.coerce(.text(s)) { return b }
            return nil
        default: throw RedError(.datatypeMismatch, "argument of WHERE, AND, OR, NOT or CASE WHEN must be boolean, not \(v.kindName)")
        }
    }

    static func membership(_ v: Value, _ candidates: [Value], negated: Bool) throws -> Value {
        if v.isNull { return candidates.isEmpty ? .boolean(negated) : .null }
        var sawNull = false
        for c in candidates {
            switch try compare("=", v, c) {
            case .boolean(true): return .boolean(!negated)
            case .null: sawNull = true
            default: break
            }
        }
        return sawNull ? .null : .boolean(negated)
    }

    /// `e op ANY|ALL (source)` for `row`; apart from `evaluate` so that its frame, one per level
    /// of a deep expression, stays small (as `Planner.bindBinary` is apart from `bind`).
    func evaluateQuantified(_ op: String, _ e: BoundExpr, all: Bool, _ source: QuantifiedSource, _ row: [Value]) throws -> Value {
        let v = try evaluate(e, row)
        switch source {
        case .subquery(let plan):
            // `= ANY` is IN, `<> ALL` NOT IN.
            if (op == "=" && !all) || (op == "<>" && all), let answer = try hashedMembership(v, plan, row, negated: all) { return answer }
            return try Self.quantified(op, v, try runSubquery(plan, row).map { $0.first ?? .null }, all: all)
        case .array(let array):
            if (op == "=" && !all) || (op == "<>" && all), let answer = try parameterArrayMembership(v, array, all: all) { return answer }
            guard let elements = try ArrayFunctions.elements(of: try evaluate(array, row), like: v, "\(op) \(all ? "ALL" : "ANY") (array)") else {
                return .null
            }
            return try Self.quantified(op, v, elements, all: all)
        }
    }

    /// `v op ANY (candidates)` (`all`: `op ALL`): ANY is true when one comparison is, ALL false
    /// when one is; otherwise a NULL comparison makes the answer NULL. An empty list is false
    /// for ANY and true for ALL, whatever `v` is.
    /// `op` may also be `~~` (LIKE), `~~*` (ILIKE) or either with `!` (NOT): `LIKE ANY|ALL (…)`.
    static func quantified(_ op: String, _ v: Value, _ candidates: [Value], all: Bool) throws -> Value {
        var sawNull = false
        let like = op.contains("~~")  // decided once here, not in `compare`, which every comparison runs
        for c in candidates {
            let outcome: Value
            if like {
                outcome = v.isNull || c.isNull ? .null
                    : .boolean(try LikePattern.matches(v.displayText, c.displayText, caseInsensitive: op.hasSuffix("*")) != op.hasPrefix("!"))
            } else {
                outcome = try compare(op, v, c)
            }
            switch outcome {
            case .boolean(let b): if b != all { return .boolean(b) }
            default: sawNull = true
            }
        }
        return sawNull ? .null : .boolean(all)
    }

    /// Comparison with PostgreSQL's implicit conversion of untyped text to the other side's type.
    static func compare(_ op: String, _ l: Value, _ r: Value) throws -> Value {
        if l.isNull || r.isNull { return .null }
        var order = Value.compare(l, r)
        if order == nil {
            switch (l, r) {
            case (.text(let s), _) where r.doubleValue != nil: order = Value.compare(try Arithmetic.number(fromText: s), r)
            case (_, .text(let s)) where l.doubleValue != nil: order = Value.compare(l, try Arithmetic.number(fromText: s))
            case (.text(let s), .boolean): order = Value.compare(try DataType.boolean.coerce(.text(s)), r)
            case (.boolean, .text(let s)): order = Value.compare(l, try DataType.boolean.coerce(.text(s)))
            case (.text(let s), .json): order = Value.compare(try DataType.json.coerce(.text(s)), r)
            case (.json, .text(let s)): order = Value.compare(l, try DataType.json.coerce(.text(s)))
            default: break
            }
        }
        guard let c = order else {
            throw RedError(.undefinedFunction, "operator does not exist: \(l.kindName) \(op) \(r.kindName)")
        }
        switch op {
        case "=": return .boolean(c == 0)
        case "<>": return .boolean(c != 0)
        case "<": return .boolean(c < 0)
        case "<=": return .boolean(c <= 0)
        case ">": return .boolean(c > 0)
        default: return .boolean(c >= 0)
        }
    }

    static func cast(_ v: Value, to type: DataType) throws -> Value {
        if type == .integer, case .text(let s) = v, s.contains(".") || s.lowercased().contains("e") {
            throw RedError(.invalidTextRepresentation, "invalid input syntax for type integer: \"\(s)\"")
        }
        if type == .integer || type == .float, case .json(let j) = v {
            return try type.coerce(Value(json: j))
        }
        return try type.coerce(v)
    }

    /// Reads a dotted path inside a JSON document (`address.city`, `tags.0`).
    static func extract(_ v: Value, path: [String]) -> Value {
        guard case .json(var node) = v else { return path.isEmpty ? v : .null }
        for key in path {
            switch node {
            case .object:
                guard let next = node[key] else { return .null }
                node = next
            case .array(let items):
                guard let i = Int(key), i >= 0, i < items.count else { return .null }
                node = items[i]
            default: return .null
            }
        }
        return Value(json: node)
    }
}

/// Numeric operators with exact 64-bit integer math.
enum Arithmetic {
    static func number(fromText s: String) throws -> Value {
        let t = s.trimmingSpaces()
        if let i = Int64(t) { return .integer(i) }
        if let d = Double(t) { return .float(d) }
        throw RedError(.invalidTextRepresentation, "invalid input syntax for type numeric: \"\(s)\"")
    }

    static func apply(_ op: String, _ l: Value, _ r: Value) throws -> Value {
        if l.isNull || r.isNull { return .null }
        if IntervalArithmetic.applies(l, r) { return try IntervalArithmetic.apply(op, l, r) }
        switch (l, r) {
        case (.json(let j), .text), (.json(let j), .integer) where op == "-": return .json(try JSONOperators.delete(j, r))
        case (.date, .text(let s)) where op == "-":
            // PostgreSQL reads the text as a date (a day count results); a number stays RedDB's day offset.
            if let day = try? DataType.date.coerce(.text(s)) { return try apply(op, l, day) }
            return try apply(op, l, try number(fromText: s))
        case (.text(let s), _): return try apply(op, try number(fromText: s), r)
        case (_, .text(let s)): return try apply(op, l, try number(fromText: s))
        case let (.integer(a), .integer(b)):
            switch op {
            case "+": let (v, o) = a.addingReportingOverflow(b); if o { throw overflow() }; return .integer(v)
            case "-": let (v, o) = a.subtractingReportingOverflow(b); if o { throw overflow() }; return .integer(v)
            case "*": let (v, o) = a.multipliedReportingOverflow(by: b); if o { throw overflow() }; return .integer(v)
            case "/":
                guard b != 0 else { throw RedError(.divisionByZero, "division by zero") }
                let (v, o) = a.dividedReportingOverflow(by: b); if o { throw overflow() }; return .integer(v)
            default:
                guard b != 0 else { throw RedError(.divisionByZero, "division by zero") }
                return .integer(b == -1 ? 0 : a % b)
            }
        case (.decimal, .decimal), (.decimal, .integer), (.integer, .decimal):
            let a = try numeric(l), b = try numeric(r)
            switch op {
            case "+": return .decimal(try a.adding(b))
            case "-": return .decimal(try a.subtracting(b))
            case "*": return .decimal(try a.multiplying(b))
            case "/": return .decimal(try a.dividing(by: b))
            default: return .decimal(try a.remainder(dividingBy: b))
            }
        case let (.timestamp(t), .integer(ms)):  // RedDB's TimestampMs arithmetic: the integer counts milliseconds
            guard op == "+" || op == "-" else { break }
            let (us, overflow) = ms.multipliedReportingOverflow(by: op == "+" ? 1000 : -1000)
            guard !overflow else { throw RedError(.datetimeFieldOverflow, "timestamp out of range") }
            return .timestamp(try CalendarMath.checkedTimestamp(t, plus: us))
        case let (.integer(ms), .timestamp(t)) where op == "+":
            let (us, overflow) = ms.multipliedReportingOverflow(by: 1000)
            guard !overflow else { throw RedError(.datetimeFieldOverflow, "timestamp out of range") }
            return .timestamp(try CalendarMath.checkedTimestamp(t, plus: us))
        case let (.date(d), .integer(n)):
            guard op == "+" || op == "-" else { break }
            // Days in Int32, as PostgreSQL's date (22008 beyond it, where this used to clamp).
            let (days, overflow) = op == "+" ? Int64(d).addingReportingOverflow(n) : Int64(d).subtractingReportingOverflow(n)
            guard !overflow, let day = Int32(exactly: days) else { throw RedError(.datetimeFieldOverflow, "date out of range") }
            return .date(day)
        case let (.date(a), .date(b)) where op == "-": return .integer(Int64(a) - Int64(b))
        default: break
        }
        guard let a = l.doubleValue, let b = r.doubleValue else {
            throw RedError(.undefinedFunction, "operator does not exist: \(l.kindName) \(op) \(r.kindName)")
        }
        let result: Double
        switch op {
        case "+": result = a + b
        case "-": result = a - b
        case "*": result = a * b
        case "/":
            guard b != 0 else { throw RedError(.divisionByZero, "division by zero") }
            result = a / b
        default:
            guard b != 0 else { throw RedError(.divisionByZero, "division by zero") }
            result = a.truncatingRemainder(dividingBy: b)
        }
        // As PostgreSQL's float8 operators: finite operands giving an infinity overflowed.
        if result.isInfinite, a.isFinite, b.isFinite { throw RedError(.numericOutOfRange, "value out of range: overflow") }
        return .float(result)
    }

    /// Integer arithmetic is 64-bit, so an overflow is of PostgreSQL's bigint.
    static func overflow() -> RedError { RedError(.numericOutOfRange, "bigint out of range") }

    static func numeric(_ v: Value) throws -> Numeric {
        switch v {
        case .decimal(let d): return d
        case .integer(let i): return Numeric(i)
        default: throw RedError(.datatypeMismatch, "expected a number, got \(v.kindName)")
        }
    }
}

/// SQL LIKE: `%` any run, `_` exactly one character, backslash escapes the next character.
/// A pattern ending in an escape is 22025 once matching reaches it (as in PostgreSQL, where
/// `'x' LIKE 'x\'` is false but `'x\' LIKE 'x\'` an error).
enum LikePattern {
    static func matches(_ text: String, _ pattern: String, caseInsensitive: Bool) throws -> Bool {
        let t = Array(caseInsensitive ? text.lowercased() : text)
        let p = Array(caseInsensitive ? pattern.lowercased() : pattern)
        var ti = 0, pi = 0
        var starP = -1, starT = 0
        while ti < t.count {
            if pi + 1 == p.count, p[pi] == "\\" {
                throw RedError(.invalidArgument, "LIKE pattern must not end with escape character", condition: "22025")
            }
            if pi < p.count, p[pi] == "\\", pi + 1 < p.count, p[pi + 1] == t[ti] {
                ti += 1; pi += 2
            } else if pi < p.count, p[pi] == "%" {
                starP = pi; starT = ti; pi += 1
            } else if pi < p.count, p[pi] != "\\", p[pi] == "_" || p[pi] == t[ti] {
                ti += 1; pi += 1
            } else if starP >= 0 {
                pi = starP + 1; starT += 1; ti = starT
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == "%" { pi += 1 }
        return pi == p.count
    }
}
