import RedCore
import RedEngine

/// The functions the binder puts where an instant (`timestamptz`) meets the session's time
/// zone (`SessionZoneBinding`): each reads the zone from the statement's context, so a plan
/// kept between executions stays right after `SET TIME ZONE`.
enum SessionZoneFunctions {
    private static func function(_ name: String, _ arity: ClosedRange<Int>, _ body: @escaping @Sendable ([Value], ExecutionContext) throws -> Value) -> ScalarFunction {
        ScalarFunction(name: name, arity: arity, acceptsNull: false, isDeterministicWithinStatement: true, body: body)
    }

    /// Text read as an instant: with the offset or zone it writes, else on the session's
    /// clocks (`'2024-07-01 12:00'::timestamptz`); a date at its midnight there. Any other
    /// value passes as it is (a parameter its surface has already read).
    static let instantFromText = function("__session_instant_from_text", 1...1) { a, context in
        try context.timeZone.instant(reading: a[0], timestampIsWallClock: false)
    }

    /// A wall-clock time, or a date's midnight, as the instant the session's clocks show it
    /// (`timestamp::timestamptz`, `date::timestamptz`); text as `instantFromText` reads it.
    static let instantFromLocal = function("__session_instant_from_local", 1...1) { a, context in
        try context.timeZone.instant(reading: a[0], timestampIsWallClock: true)
    }

    /// An instant as the time on the session's clocks (`timestamptz::timestamp`).
    static let localFromInstant = function("__session_local", 1...1) { a, context in
        guard case .timestamp(let instant) = a[0] else { return a[0] }
        return .timestamp(try context.timeZone.localTime(of: instant))
    }

    /// An instant's text, with the session's offset (`timestamptz::text`, `'at ' || ts`).
    static let instantText = function("__session_instant_text", 1...1) { a, context in
        guard case .timestamp(let instant) = a[0] else { return .text(a[0].displayText) }
        return .text(context.timeZone.text(ofInstant: instant))
    }

    /// An instant as JSON writes it (`to_json(ts)`): ISO 8601 with the session's offset.
    static let instantJSONText = function("__session_instant_json", 1...1) { a, context in
        guard case .timestamp(let instant) = a[0] else { return a[0] }
        return .text(context.timeZone.jsonText(ofInstant: instant))
    }

    /// `instant ± interval` (the third argument 1 or -1): months and days are added on the
    /// session's clocks, so a day is a day there across a change of offset, then the
    /// interval's time as elapsed time — PostgreSQL's order.
    static let shift = function("__session_shift", 3...3) { a, context in
        guard case .timestamp(let instant) = a[0], !CalendarMath.isInfinite(instant), case .integer(let sign) = a[2],
              case .interval(var interval) = try DataType.duration.coerce(a[1]) else {
            return try Arithmetic.apply(a[2] == .integer(-1) ? "-" : "+", a[0], a[1])
        }
        if sign < 0 { interval = try interval.negated() }
        return .timestamp(try context.timeZone.adding(interval, to: instant))
    }

    /// `extract` / `date_part` of an instant: the epoch as it is, the zone's offset for
    /// `timezone`, `timezone_hour` and `timezone_minute`, every other field of the time on the
    /// session's clocks. The first argument names the function to finish with.
    static let datePart = function("__session_date_part", 3...3) { a, context in
        guard case .timestamp(let instant) = a[2], !CalendarMath.isInfinite(instant), case .text(let field) = a[1] else {
            return try ScalarFunction.lookup(a[0].displayText, argumentCount: 2).call(Array(a.dropFirst()), context)
        }
        let name = a[0].displayText, finish = try ScalarFunction.lookup(name, argumentCount: 2)
        let offset = context.timeZone.rule.offset(at: instant)
        let part: Int?
        switch field.lowercased() {
        case "timezone": part = offset
        case "timezone_hour": part = offset / 3600
        case "timezone_minute": part = offset / 60 % 60
        default: part = nil
        }
        if let part { return name == "extract" ? .decimal(Numeric(Int64(part))) : .float(Double(part)) }
        if field.lowercased().hasPrefix("epoch") { return try finish.call(Array(a.dropFirst()), context) }
        return try finish.call([a[1], .timestamp(try context.timeZone.localTime(of: instant))], context)
    }

    /// `to_char(instant, template)`: written as the session's clocks show it, `TZ` and `OF`
    /// their abbreviation and offset then.
    static let toChar = function("__session_to_char", 2...2) { a, context in
        guard case .timestamp(let instant) = a[0], !CalendarMath.isInfinite(instant), case .text(let template) = a[1] else {
            return try ScalarFunction.lookup("to_char", argumentCount: 2).call(a, context)
        }
        let zone = context.timeZone
        let local = try zone.localTime(of: instant)
        let written = try DateTimeFunctions.dateTemplates.template(template)
            .format(local, zone: (zone.rule.offset(at: instant), zone.abbreviation(at: instant)))
        return written.map(Value.text) ?? .null
    }

    /// `date_trunc(unit, instant)`: truncated on the session's clocks, the result that local
    /// time's instant (`date_trunc('day', ts)` is the session's midnight).
    /// A date is its midnight there, as PostgreSQL takes it as a `timestamptz`.
    static let dateTrunc = function("__session_date_trunc", 2...2) { a, context in
        let operand = if case .date = a[1] { try instantFromLocal.call([a[1]], context) } else { a[1] }
        guard case .timestamp(let instant) = operand, !CalendarMath.isInfinite(instant) else {
            return try TimeFunctions.dateTrunc(a[0].displayText.lowercased(), operand)
        }
        let local = try context.timeZone.localTime(of: instant)
        let truncated = try TimeFunctions.dateTrunc(a[0].displayText.lowercased(), .timestamp(local))
        return .timestamp(try context.timeZone.instant(of: try timestamp(truncated)))
    }

    static let all = [instantFromText, instantFromLocal, localFromInstant, instantText, instantJSONText, shift, datePart, toChar, dateTrunc]

    /// The microseconds of what timestamp arithmetic gave.
    private static func timestamp(_ value: Value) throws -> Int64 {
        guard case .timestamp(let us) = value else { throw RedError(.internalError, "expected a timestamp, got \(value.kindName)") }
        return us
    }
}

extension ExecutionContext {
    /// Text written into a `timestamptz` column, read as an instant on the session's clocks
    /// where it has no offset of its own (the column's coercion alone would read UTC).
    func readingInstant(_ value: Value, for column: ColumnDefinition) -> Value {
        guard column.declared?.kind == .timestamptz, case .text(let text) = value, let instant = timeZone.instant(fromText: text) else { return value }
        return .timestamp(instant)
    }
}
