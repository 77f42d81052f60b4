/// PostgreSQL's `interval`: months, days and microseconds, kept apart because none is a
/// fixed multiple of the next. A month is 28 to 31 days and a day (in PostgreSQL, across a
/// zone change) need not be 24 hours, so `timestamp '2024-01-31' + interval '1 month'` is
/// February 29th and `interval '1 month'` prints as it was written, never as 30 days.
///
/// Comparison is PostgreSQL's too: the three fields folded into one span with a month as 30
/// days and a day as 24 hours, so `interval '1 month' = interval '30 days'` is true, and the
/// two group together. `Value`'s equality and hashing use `span`; `==` on this struct is
/// field by field (what a stored value is, not what it compares as).
public struct Interval: Sendable, Hashable {
    public var months: Int32
    public var days: Int32
    public var microseconds: Int64

    public static let microsecondsPerDay: Int64 = 86_400_000_000
    public static let microsecondsPerHour: Int64 = 3_600_000_000
    public static let daysPerMonth: Int64 = 30

    public init(months: Int32 = 0, days: Int32 = 0, microseconds: Int64 = 0) {
        self.months = months
        self.days = days
        self.microseconds = microseconds
    }

    /// An interval of whole milliseconds: what RedDB's `DURATION` columns held before they held
    /// intervals, and what a bare integer means where an interval is expected.
    public init(milliseconds: Int64) throws {
        let (micros, overflow) = milliseconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else { throw Interval.outOfRange() }
        self.init(microseconds: micros)
    }

    /// Months, days and microseconds given as wider integers: 22008 when a field does not fit.
    static func checked(months: Int64, days: Int64, microseconds: Int64) throws -> Interval {
        guard let m = Int32(exactly: months), let d = Int32(exactly: days) else { throw outOfRange() }
        return Interval(months: m, days: d, microseconds: microseconds)
    }

    static func outOfRange() -> RedError { RedError(.datetimeFieldOverflow, "interval out of range") }

    /// The comparison key: every field in microseconds, a month as 30 days.
    public var span: Int128 {
        (Int128(months) * Int128(Interval.daysPerMonth) + Int128(days)) * Int128(Interval.microsecondsPerDay) + Int128(microseconds)
    }

    /// The length in microseconds when it has one regardless of the calendar (no months), as
    /// `date_bin` and `time_bucket` need; nil otherwise or when it does not fit `Int64`.
    public var fixedMicroseconds: Int64? {
        guard months == 0 else { return nil }
        let total = Int128(days) * Int128(Interval.microsecondsPerDay) + Int128(microseconds)
        return Int64(exactly: total)
    }

    /// Whole milliseconds when the interval is a fixed length that is a whole number of them:
    /// how surfaces that only know RedDB's millisecond durations (HTTP, gRPC, RedWire) carry it.
    public var wholeMilliseconds: Int64? {
        guard let micros = fixedMicroseconds, micros % 1000 == 0 else { return nil }
        return micros / 1000
    }

    public static func compare(_ a: Interval, _ b: Interval) -> Int {
        let x = a.span, y = b.span
        return x < y ? -1 : (x == y ? 0 : 1)
    }

    // MARK: Arithmetic (22008 on overflow, as PostgreSQL)

    public func negated() throws -> Interval {
        guard months != .min, days != .min, microseconds != .min else { throw Interval.outOfRange() }
        return Interval(months: -months, days: -days, microseconds: -microseconds)
    }

    public func adding(_ other: Interval) throws -> Interval {
        let (m, o1) = months.addingReportingOverflow(other.months)
        let (d, o2) = days.addingReportingOverflow(other.days)
        let (t, o3) = microseconds.addingReportingOverflow(other.microseconds)
        guard !o1, !o2, !o3 else { throw Interval.outOfRange() }
        return Interval(months: m, days: d, microseconds: t)
    }

    public func subtracting(_ other: Interval) throws -> Interval { try adding(try other.negated()) }

    /// `interval * factor` as PostgreSQL computes it: each field scaled, and the fractions of
    /// months and days carried down (a month's fraction as days of 30, a day's as seconds), so
    /// `interval '1 month' * 1.5` is `1 mon 15 days`, not 45 days.
    public func multiplied(by factor: Double) throws -> Interval {
        guard !factor.isNaN else { throw Interval.outOfRange() }
        return try scaled { $0 * factor }
    }

    /// `interval / divisor`, carried down as `multiplied(by:)` (dividing, not multiplying by
    /// the reciprocal, so the rounding is PostgreSQL's).
    public func divided(by divisor: Double) throws -> Interval {
        guard divisor != 0 else { throw RedError(.divisionByZero, "division by zero") }
        guard !divisor.isNaN else { throw Interval.outOfRange() }
        return try scaled { $0 / divisor }
    }

    private func scaled(_ scale: (Double) -> Double) throws -> Interval {
        let monthsScaled = scale(Double(months)), daysScaled = scale(Double(days))
        guard let newMonths = Int32(exactly: monthsScaled.rounded(.towardZero)),
              let newDays = Int32(exactly: daysScaled.rounded(.towardZero)) else { throw Interval.outOfRange() }
        var resultDays = Int64(newDays)
        // The fraction of a month, in days (to the microsecond), and the fraction of a day left over.
        let monthRemainderDays = Interval.roundToMicroseconds((monthsScaled - Double(newMonths)) * Double(Interval.daysPerMonth))
        var secondRemainder = Interval.roundToMicroseconds(
            (daysScaled - Double(newDays) + monthRemainderDays - monthRemainderDays.rounded(.towardZero)) * 86_400)
        if abs(secondRemainder) >= 86_400 {
            let wholeDays = (secondRemainder / 86_400).rounded(.towardZero)
            resultDays += Int64(wholeDays)
            secondRemainder -= wholeDays * 86_400
        }
        resultDays += Int64(monthRemainderDays.rounded(.towardZero))
        let time = (scale(Double(microseconds)) + secondRemainder * 1_000_000).rounded(.toNearestOrEven)
        guard time.magnitude < 9.2e18, let newTime = Int64(exactly: time) else { throw Interval.outOfRange() }
        return try Interval.checked(months: Int64(newMonths), days: resultDays, microseconds: newTime)
    }

    /// PostgreSQL's TSROUND: a number of seconds (or days) rounded to the microsecond.
    static func roundToMicroseconds(_ x: Double) -> Double { (x * 1_000_000).rounded() / 1_000_000 }

    // MARK: justify_hours, justify_days, justify_interval

    /// Whole days out of the time part, with the time given the days' sign.
    public func justifiedHours() throws -> Interval {
        var d = Int64(days) + microseconds / Interval.microsecondsPerDay
        var t = microseconds % Interval.microsecondsPerDay
        if d > 0, t < 0 { t += Interval.microsecondsPerDay; d -= 1 } else if d < 0, t > 0 { t -= Interval.microsecondsPerDay; d += 1 }
        return try Interval.checked(months: Int64(months), days: d, microseconds: t)
    }

    /// Whole 30-day months out of the days, with the days given the months' sign.
    public func justifiedDays() throws -> Interval {
        var m = Int64(months) + Int64(days) / Interval.daysPerMonth
        var d = Int64(days) % Interval.daysPerMonth
        if m > 0, d < 0 { d += Interval.daysPerMonth; m -= 1 } else if m < 0, d > 0 { d -= Interval.daysPerMonth; m += 1 }
        return try Interval.checked(months: m, days: d, microseconds: microseconds)
    }

    /// Both, with every field given one sign.
    public func justified() throws -> Interval {
        var m = Int64(months), d = Int64(days), t = microseconds
        if (d > 0 && t > 0) || (d < 0 && t < 0) {
            m += d / Interval.daysPerMonth
            d %= Interval.daysPerMonth
        }
        d += t / Interval.microsecondsPerDay
        t %= Interval.microsecondsPerDay
        m += d / Interval.daysPerMonth
        d %= Interval.daysPerMonth
        if m > 0, d < 0 || (d == 0 && t < 0) { d += Interval.daysPerMonth; m -= 1 } else if m < 0, d > 0 || (d == 0 && t > 0) { d -= Interval.daysPerMonth; m += 1 }
        if d > 0, t < 0 { t += Interval.microsecondsPerDay; d -= 1 } else if d < 0, t > 0 { t -= Interval.microsecondsPerDay; d += 1 }
        return try Interval.checked(months: m, days: d, microseconds: t)
    }
}
