import RedCore

/// The operators of PostgreSQL's interval: `timestamp ± interval`, `date ± interval` (a
/// timestamp), `timestamp - timestamp` (an interval), `interval ± interval`, and `interval`
/// times or divided by a number.
///
/// Untyped text is read as PostgreSQL resolves it: beside an interval, an interval; added to
/// a timestamp, an interval (`ts + '1 day'`); subtracted from a timestamp or a date, a
/// timestamp or a date (`ts - '2024-01-01'` is an interval, `date - '2024-01-01'` a day
/// count). RedDB's own `timestamp ± integer` (milliseconds) stays in `Arithmetic`.
enum IntervalArithmetic {
    /// Whether `apply` has something to say about these operands; a cheap test so plain
    /// number arithmetic never pays for it.
    @inline(__always)
    static func applies(_ l: Value, _ r: Value) -> Bool {
        switch (l, r) {
        case (.interval, _), (_, .interval), (.timestamp, .timestamp), (.timestamp, .text), (.text, .timestamp),
             (.timestamp, .date), (.date, .timestamp): return true
        default: return false
        }
    }

    static func apply(_ op: String, _ l: Value, _ r: Value) throws -> Value {
        switch (l, r) {
        case let (.interval(a), .interval(b)):
            switch op {
            case "+": return .interval(try a.adding(b))
            case "-": return .interval(try a.subtracting(b))
            default: break
            }
        case let (.timestamp(t), .interval(i)):
            switch op {
            case "+": return .timestamp(try i.added(to: t))
            case "-": return .timestamp(try i.negated().added(to: t))
            default: break
            }
        case let (.interval(i), .timestamp(t)) where op == "+": return .timestamp(try i.added(to: t))
        case let (.date(d), .interval):
            if op == "+" || op == "-" { return try apply(op, .timestamp(CalendarMath.checkedTimestamp(days: Int64(d))), r) }
        case let (.interval, .date(d)) where op == "+": return try apply(op, .timestamp(CalendarMath.checkedTimestamp(days: Int64(d))), l)
        case let (.timestamp(a), .timestamp(b)) where op == "-": return .interval(try Interval.between(a, b))
        case let (.timestamp(a), .date(d)) where op == "-": return .interval(try Interval.between(a, CalendarMath.checkedTimestamp(days: Int64(d))))
        case let (.date(d), .timestamp(b)) where op == "-": return .interval(try Interval.between(CalendarMath.checkedTimestamp(days: Int64(d)), b))
        case let (.interval, .text(s)):
            if op == "+" || op == "-" { return try apply(op, l, .interval(try Interval.parse(s))) }
            return try apply(op, l, try Arithmetic.number(fromText: s))
        case let (.text(s), .interval(i)):
            if op == "*" { return try apply(op, try Arithmetic.number(fromText: s), r) }
            return try apply(op, .interval(try Interval.parse(s)), .interval(i))
        case let (.timestamp, .text(s)) where op == "+": return try apply(op, l, .interval(try Interval.parse(s)))
        case let (.timestamp, .text(s)) where op == "-": return try apply(op, l, try DataType.timestamp.coerce(.text(s)))
        case let (.text(s), .timestamp) where op == "+": return try apply(op, .interval(try Interval.parse(s)), r)
        case let (.text(s), .timestamp) where op == "-": return try apply(op, try DataType.timestamp.coerce(.text(s)), r)
        case let (.interval(i), n) where n.doubleValue != nil:
            if op == "*" { return .interval(try i.multiplied(by: n.doubleValue!)) }
            if op == "/" { return .interval(try i.divided(by: n.doubleValue!)) }
        case let (n, .interval(i)) where op == "*" && n.doubleValue != nil: return .interval(try i.multiplied(by: n.doubleValue!))
        default: break
        }
        throw RedError(.undefinedFunction, "operator does not exist: \(l.kindName) \(op) \(r.kindName)")
    }
}

extension IntervalArithmetic {
    /// The function the binder calls for `+`/`-` with a TIME operand (TIME is held as its
    /// text, so the plan's types, not the values, tell it apart).
    static let timeOfDay = "__time_arithmetic"

    /// `time ± interval` (the interval's time part, wrapped around midnight, as PostgreSQL adds
    /// it; its days and months do nothing), `time - time` (an interval) and `date + time` (a
    /// timestamp).
    static let timeOfDayFunction = ScalarFunction(name: timeOfDay, arity: 3...3, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
        guard case .text(let op) = a[0] else { throw RedError(.internalError, "\(timeOfDay) needs an operator") }
        func clock(_ v: Value) -> Int64? {
            guard case .text(let s) = v else { return nil }
            return CalendarMath.parseTimeOfDay(s.trimmingSpaces()[...])
        }
        if op == "-", let x = clock(a[1]), let y = clock(a[2]) { return .interval(Interval(microseconds: x - y)) }
        let time: Int64, other: Value
        if let t = clock(a[1]) {
            (time, other) = (t, a[2])
        } else if op == "+", let t = clock(a[2]) {
            (time, other) = (t, a[1])
        } else {
            throw RedError(.invalidDatetimeFormat, "invalid input syntax for type time: \"\(a[1].displayText)\"")
        }
        if op == "+", case .date(let d) = other {  // date + time: the timestamp
            return .timestamp(try CalendarMath.checkedTimestamp(CalendarMath.checkedTimestamp(days: Int64(d)), plus: time))
        }
        guard case .interval(let step) = try DataType.duration.coerce(other) else {
            throw RedError(.undefinedFunction, "operator does not exist: time \(op) \(other.kindName)")
        }
        let day = CalendarMath.microsecondsPerDay
        let delta = step.microseconds % day
        var moved = (op == "+" ? time + delta : time - delta) % day
        if moved < 0 { moved += day }
        return .text(CalendarMath.clockText(moved))
    }
}
