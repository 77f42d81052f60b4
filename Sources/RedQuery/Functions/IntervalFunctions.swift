import RedCore

/// PostgreSQL's interval functions: `age`, `justify_days`, `justify_hours`,
/// `justify_interval` and `make_interval`. (`extract`, `date_part` and `date_trunc` take
/// intervals in `TimeFunctions`; the operators are `IntervalArithmetic`.)
enum IntervalFunctions {
    /// `make_interval`'s parameters in order, for positional and `name => value` calls.
    static let makeIntervalParameters = ["years", "months", "weeks", "days", "hours", "mins", "secs"]

    static let functions: [ScalarFunction] = [
        ScalarFunction(name: "age", arity: 1...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, context in
            if a.count == 2 { return .interval(try Interval.age(try TimeFunctions.microseconds(a[0]), try TimeFunctions.microseconds(a[1]))) }
            // One argument: from midnight of the current date (the session's), as PostgreSQL counts it.
            let midnight = CalendarMath.split(try context.timeZone.localTime(of: context.nowMicroseconds)).days * CalendarMath.microsecondsPerDay
            return .interval(try Interval.age(midnight, try TimeFunctions.microseconds(a[0])))
        },
        justify("justify_days") { try $0.justifiedDays() },
        justify("justify_hours") { try $0.justifiedHours() },
        justify("justify_interval") { try $0.justified() },
        ScalarFunction(name: "make_interval", arity: 0...7, acceptsNull: true, isDeterministicWithinStatement: true) { a, _ in
            if a.contains(where: \.isNull) { return .null }
            var builder = IntervalBuilder()
            let units: [Interval.Unit] = [.year, .month, .week, .day, .hour, .minute]
            for (index, value) in a.enumerated() {
                if index == 6 {
                    guard let seconds = value.doubleValue, seconds.isFinite else { throw argumentError("secs", value) }
                    let whole = seconds.rounded(.towardZero)
                    guard whole.magnitude < 9.2e12 else { throw RedError(.datetimeFieldOverflow, "interval out of range") }
                    builder.add(whole: Int64(whole), fraction: seconds - whole, unit: .second)
                } else {
                    guard case .integer(let n) = try DataType.integer.coerce(value) else { throw argumentError(makeIntervalParameters[index], value) }
                    builder.add(whole: n, fraction: 0, unit: units[index])
                }
            }
            return .interval(try builder.interval())
        },
    ]

    static func justify(_ name: String, _ body: @escaping @Sendable (Interval) throws -> Interval) -> ScalarFunction {
        ScalarFunction(name: name, arity: 1...1, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
            guard case .interval(let i) = try DataType.duration.coerce(a[0]) else { throw argumentError("interval", a[0]) }
            return .interval(try body(i))
        }
    }

    static func argumentError(_ parameter: String, _ value: Value) -> RedError {
        RedError(.undefinedFunction, "make_interval's \(parameter) must be a number, got \(value.kindName)")
    }
}
