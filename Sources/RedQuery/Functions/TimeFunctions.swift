import RedCore

/// date_part / date_trunc and the small parsers the function library shares.
enum TimeFunctions {
    /// A timestamp's epoch microseconds (text and dates are read as timestamps).
    static func microseconds(_ v: Value) throws -> Int64 {
        switch try DataType.timestamp.coerce(v) {
        case .timestamp(let us): return us
        default: throw RedError(.datatypeMismatch, "expected a timestamp, got \(v.kindName)")
        }
    }

    static func datePart(_ field: String, _ v: Value) throws -> Value {
        if case .interval(let i) = v {
            guard let part = i.part(field) else { throw RedError(.featureNotSupported, "interval units \"\(field)\" not supported") }
            return .float(part)
        }
        let us = try microseconds(v)
        if CalendarMath.isInfinite(us) {
            // As PostgreSQL: the epoch of an infinity is infinite; its calendar fields have no value.
            return field == "epoch" ? .float(us > 0 ? .infinity : -.infinity) : .null
        }
        let (days, rest) = CalendarMath.split(us)
        let c = CalendarMath.civil(days: days)
        switch field {
        case "year", "years": return .integer(Int64(c.year))
        case "month", "months": return .integer(Int64(c.month))
        case "day", "days": return .integer(Int64(c.day))
        case "hour", "hours": return .integer(rest / 3_600_000_000)
        case "minute", "minutes": return .integer(rest / 60_000_000 % 60)
        case "second", "seconds": return .float(Double(rest % 60_000_000) / 1_000_000)
        case "millisecond", "milliseconds": return .float(Double(rest % 60_000_000) / 1000)
        case "microsecond", "microseconds": return .integer(rest % 60_000_000)
        case "dow": return .integer(((days % 7) + 11) % 7)
        case "isodow": let d = ((days % 7) + 10) % 7 + 1; return .integer(d)
        case "doy": return .integer(days - CalendarMath.days(year: c.year, month: 1, day: 1) + 1)
        case "quarter": return .integer(Int64((c.month - 1) / 3 + 1))
        case "epoch": return .float(Double(us) / 1_000_000)
        case "week", "isoyear":
            // ISO 8601: the week (and its year) of the Thursday of the date's Monday-first week.
            let thursday = days - (((days % 7) + 10) % 7) + 3
            let year = CalendarMath.civil(days: thursday).year
            if field == "isoyear" { return .integer(Int64(year > 0 ? year : year - 1)) }  // 1 BC is year 0 here, -1 in PostgreSQL's
            return .integer((thursday - CalendarMath.days(year: year, month: 1, day: 1)) / 7 + 1)
        // PostgreSQL's: the decade is the year / 10; the first century and millennium start at year 1.
        case "decade": return .integer(Int64(c.year >= 0 ? c.year / 10 : -((8 - (c.year - 1)) / 10)))
        case "century": return .integer(Int64(c.year > 0 ? (c.year + 99) / 100 : -((99 - (c.year - 1)) / 100)))
        case "millennium": return .integer(Int64(c.year > 0 ? (c.year + 999) / 1000 : -((999 - (c.year - 1)) / 1000)))
        case "timezone", "timezone_hour", "timezone_minute":
            // An instant's are its zone's (`SessionZoneFunctions.datePart`); a wall-clock time has none.
            throw RedError(.featureNotSupported, "unit \"\(field)\" not supported for type timestamp without time zone")
        default: throw RedError(.invalidArgument, "unit \"\(field)\" not recognized for date_part")
        }
    }

    /// `extract`'s exact numeric for the fields PostgreSQL gives a fixed scale from the
    /// microseconds themselves (no detour through a double, which keeps 15 digits): `epoch`
    /// and `second` to six places, `milliseconds` to three, of a timestamp or an interval.
    /// Nil for every other field and input (a date's fields are whole), left to `datePart`.
    static func exactPart(_ field: String, _ v: Value) throws -> Numeric? {
        let micros: Int64, epochMicros: Int64?
        switch v {
        case .timestamp(let us) where !CalendarMath.isInfinite(us):
            micros = CalendarMath.split(us).microsOfDay % 60_000_000
            epochMicros = us
        case .interval(let i):
            micros = i.microseconds % 60_000_000
            // A year as 365.25 days and a month as 30, as `Interval.part("epoch")` counts them.
            let years = Int64(i.months / 12), months = Int64(i.months % 12)
            let days = Int64(i.days) + months * 30
            let (yearMicros, o1) = years.multipliedReportingOverflow(by: 31_557_600_000_000)
            let (dayMicros, o2) = days.multipliedReportingOverflow(by: 86_400_000_000)
            let (sum, o3) = yearMicros.addingReportingOverflow(dayMicros)
            let (total, o4) = sum.addingReportingOverflow(i.microseconds)
            epochMicros = o1 || o2 || o3 || o4 ? nil : total
        default:
            return nil
        }
        switch field {
        case "epoch": return epochMicros.map { Numeric(mantissa: $0, scale: 6) }
        case "second", "seconds", "s", "sec", "secs": return Numeric(mantissa: micros, scale: 6)
        case "millisecond", "milliseconds", "ms", "msec", "msecs": return Numeric(mantissa: micros, scale: 3)
        default: return nil
        }
    }

    static func dateTrunc(_ field: String, _ v: Value) throws -> Value {
        if case .interval(let i) = v {
            if field == "week" { throw RedError(.featureNotSupported, "interval units \"week\" not supported because months usually have fractional weeks") }
            guard let truncated = i.truncated(to: field) else { throw RedError(.invalidArgument, "interval units \"\(field)\" not recognized") }
            return .interval(truncated)
        }
        let given = try microseconds(v)
        if CalendarMath.isInfinite(given) { return .timestamp(given) }
        let us = try CalendarMath.checkedTimestamp(given)  // truncating stays in range then
        let (days, rest) = CalendarMath.split(us)
        let c = CalendarMath.civil(days: days)
        let perDay = CalendarMath.microsecondsPerDay
        let dayStart = days * perDay
        switch field {
        case "year": return .timestamp(CalendarMath.days(year: c.year, month: 1, day: 1) * perDay)
        case "quarter": return .timestamp(CalendarMath.days(year: c.year, month: (c.month - 1) / 3 * 3 + 1, day: 1) * perDay)
        case "month": return .timestamp(CalendarMath.days(year: c.year, month: c.month, day: 1) * perDay)
        case "week": return .timestamp((days - (((days % 7) + 10) % 7)) * perDay)
        case "day": return .timestamp(dayStart)
        case "hour": return .timestamp(dayStart + rest / 3_600_000_000 * 3_600_000_000)
        case "minute": return .timestamp(dayStart + rest / 60_000_000 * 60_000_000)
        case "second": return .timestamp(dayStart + rest / 1_000_000 * 1_000_000)
        case "milliseconds", "millisecond": return .timestamp(dayStart + rest / 1000 * 1000)
        case "microseconds", "microsecond": return .timestamp(us)
        default: throw RedError(.invalidArgument, "unit \"\(field)\" not recognized for date_trunc")
        }
    }

    /// A bin width in microseconds (`date_bin`, `time_bucket`): an interval without months,
    /// interval text (`'15 minutes'`, RedDB's `5m`), or an integer count of milliseconds.
    static func strideMicroseconds(_ v: Value) throws -> Int64 {
        let interval: Interval
        switch v {
        case .integer(let ms):
            let (us, overflow) = ms.multipliedReportingOverflow(by: 1000)
            return overflow ? (ms < 0 ? .min : .max) : us  // wider than every timestamp either way
        case .interval(let i): interval = i
        case .text(let s): interval = try Interval.parse(s)
        default: throw RedError(.datatypeMismatch, "expected an interval, got \(v.kindName)")
        }
        guard let micros = interval.fixedMicroseconds else {
            throw RedError(.featureNotSupported, "timestamps cannot be binned into intervals containing months or years")
        }
        return micros
    }

    /// `$.a.b[0]` → ["a", "b", "0"].
    static func jsonPath(_ s: String) -> [String] {
        var parts: [String] = []
        var current = ""
        for ch in s.dropFirst() {
            switch ch {
            case ".", "[", "]":
                if !current.isEmpty { parts.append(current); current = "" }
            default: current.append(ch)
            }
        }
        if !current.isEmpty { parts.append(current) }
        return parts
    }
}
