/// Intervals meeting the calendar: timestamps moved by an interval, the interval between two
/// timestamps, `age`, and an interval's fields for `extract` and `date_trunc`.
/// Both count microseconds, so they meet without rounding.
extension Interval {
    /// `timestamp + interval` as PostgreSQL adds it: the months on the calendar (the day of
    /// month kept, or the month's last day when it has fewer), then the days, then the time.
    public func added(to timestamp: Int64) throws -> Int64 {
        if CalendarMath.isInfinite(timestamp) { return timestamp }
        var us = timestamp
        if months != 0 {
            let (day, rest) = CalendarMath.split(us)
            let c = CalendarMath.civil(days: day)
            let monthIndex = Int64(c.year) * 12 + Int64(c.month - 1) + Int64(months)
            let year = monthIndex >= 0 ? monthIndex / 12 : (monthIndex - 11) / 12
            let month = Int(monthIndex - year * 12) + 1
            guard abs(year) < 1_000_000 else { throw RedError(.datetimeFieldOverflow, "timestamp out of range") }
            let dayOfMonth = min(c.day, CalendarMath.daysInMonth(year: Int(year), month: month))
            us = try CalendarMath.checkedTimestamp(days: CalendarMath.days(year: Int(year), month: month, day: dayOfMonth)) + rest
        }
        let (dayDelta, overflow) = Int64(days).multipliedReportingOverflow(by: CalendarMath.microsecondsPerDay)
        guard !overflow else { throw RedError(.datetimeFieldOverflow, "timestamp out of range") }
        us = try CalendarMath.checkedTimestamp(us, plus: dayDelta)
        return try CalendarMath.checkedTimestamp(us, plus: microseconds)
    }

    /// `a - b` for timestamps: the time between them, whole days split off as days (PostgreSQL
    /// justifies the hours, so a difference of 49 hours is `2 days 01:00:00`).
    public static func between(_ a: Int64, _ b: Int64) throws -> Interval {
        guard !CalendarMath.isInfinite(a), !CalendarMath.isInfinite(b) else {
            throw RedError(.datetimeFieldOverflow, "cannot subtract infinite timestamps")
        }
        let (micros, overflow) = a.subtractingReportingOverflow(b)
        guard !overflow else { throw outOfRange() }
        return try Interval(microseconds: micros).justifiedHours()
    }

    /// `age(a, b)`: the difference in years, months and days as a person counts them
    /// (`age('2024-03-31', '2024-02-29')` is `1 mon 2 days`), borrowing a month's real length
    /// when the days come out negative, with the whole result given the sign of `a - b`.
    public static func age(_ a: Int64, _ b: Int64) throws -> Interval {
        guard !CalendarMath.isInfinite(a), !CalendarMath.isInfinite(b) else {
            throw RedError(.datetimeFieldOverflow, "cannot subtract infinite timestamps")
        }
        let x = Fields(a), y = Fields(b)
        let sign: Int64 = a < b ? -1 : 1
        var fsec = sign * (x.microsecond - y.microsecond), sec = sign * (x.second - y.second)
        var minute = sign * (x.minute - y.minute), hour = sign * (x.hour - y.hour)
        var day = sign * (x.day - y.day), month = sign * (x.month - y.month), year = sign * (x.year - y.year)
        while fsec < 0 { fsec += 1_000_000; sec -= 1 }
        while sec < 0 { sec += 60; minute -= 1 }
        while minute < 0 { minute += 60; hour -= 1 }
        while hour < 0 { hour += 24; day -= 1 }
        while day < 0 {
            // The borrowed month is the earlier timestamp's.
            let earlier = a < b ? x : y
            day += Int64(CalendarMath.daysInMonth(year: Int(earlier.year), month: Int(earlier.month)))
            month -= 1
        }
        while month < 0 { month += 12; year -= 1 }
        let time = ((hour * 60 + minute) * 60 + sec) * 1_000_000 + fsec
        return try checked(months: sign * (year * 12 + month), days: sign * day, microseconds: sign * time)
    }

    /// A timestamp's calendar fields, in `Int64` for the arithmetic of `age`.
    struct Fields {
        var year, month, day, hour, minute, second, microsecond: Int64

        init(_ us: Int64) {
            let (day, rest) = CalendarMath.split(us)
            let c = CalendarMath.civil(days: day)
            year = Int64(c.year)
            month = Int64(c.month)
            self.day = Int64(c.day)
            hour = rest / 3_600_000_000
            minute = rest / 60_000_000 % 60
            second = rest / 1_000_000 % 60
            microsecond = rest % 1_000_000
        }
    }

    // MARK: Fields

    /// `extract(field FROM interval)` and `date_part`: PostgreSQL's fields of an interval, each
    /// the truncated part (`hour` of `25:30:00` is 25); `epoch` counts a year as 365.25 days
    /// and a month as 30. Nil for a field an interval does not have.
    public func part(_ field: String) -> Double? {
        let years = Int64(months / 12), monthOfYear = Int64(months % 12)
        let secondsMicros = microseconds % 60_000_000
        switch field {
        case "microsecond", "microseconds", "us", "usec", "usecs": return Double(secondsMicros)
        case "millisecond", "milliseconds", "ms", "msec", "msecs": return Double(secondsMicros) / 1000
        case "second", "seconds", "s", "sec", "secs": return Double(secondsMicros) / 1_000_000
        case "minute", "minutes", "m", "min", "mins": return Double(microseconds / 60_000_000 % 60)
        case "hour", "hours", "h", "hr", "hrs": return Double(microseconds / Interval.microsecondsPerHour)
        case "day", "days", "d": return Double(days)
        case "month", "months", "mon", "mons": return Double(monthOfYear)
        case "quarter": return Double(monthOfYear / 3 + 1)
        case "year", "years", "y", "yr", "yrs": return Double(years)
        case "decade", "decades": return Double(years / 10)
        case "century", "centuries": return Double(years / 100)
        case "millennium", "millennia", "millenniums": return Double(years / 1000)
        case "epoch":
            let dayCount = 365.25 * Double(years) + 30 * Double(monthOfYear) + Double(days)
            return dayCount * 86_400 + Double(microseconds) / 1_000_000
        default: return nil
        }
    }

    /// `date_trunc(field, interval)`: the fields below `field` zeroed. Nil for an unknown field;
    /// `week` is refused by the caller, as PostgreSQL refuses it (months have no whole weeks).
    public func truncated(to field: String) -> Interval? {
        let years = months / 12
        switch field {
        case "millennium": return Interval(months: years / 1000 * 12_000)
        case "century": return Interval(months: years / 100 * 1200)
        case "decade": return Interval(months: years / 10 * 120)
        case "year": return Interval(months: years * 12)
        case "quarter": return Interval(months: years * 12 + months % 12 / 3 * 3)
        case "month": return Interval(months: months)
        case "day": return Interval(months: months, days: days)
        case "hour": return truncated(below: .hour)
        case "minute": return truncated(below: .minute)
        case "second": return Interval(months: months, days: days, microseconds: microseconds / 1_000_000 * 1_000_000)
        case "milliseconds", "millisecond": return Interval(months: months, days: days, microseconds: microseconds / 1000 * 1000)
        case "microseconds", "microsecond": return self
        default: return nil
        }
    }
}
