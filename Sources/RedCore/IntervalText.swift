/// An interval's text, read and written as PostgreSQL does with its default
/// `IntervalStyle = postgres`.
///
/// Output: `1 year 2 mons 3 days 04:05:06.5`, each part only when non-zero, plural unless
/// exactly 1, a `+` on a positive part that follows a negative one (`-1 days +02:00:00`),
/// and `00:00:00` for zero.
///
/// Input: amounts with units (`1 day 2 hours`, `1.5 months`, `90s`, `2 weeks`), a clock part
/// (`02:30`, `1 day 02:00:00.5`, `-00:15`, `1:30.5` as minutes and seconds), SQL's
/// year-month form (`1-2`), a day count before a clock (`3 04:05:06`), ISO 8601's designators
/// (`P1Y2M3DT4H5M6S`), a leading `@` and a final `ago`, which negates. Each field may be
/// given once (`'1 day 2 days'` is 22007, as in PostgreSQL). A bare number is
/// seconds, or the unit of an `INTERVAL '…' unit` qualifier. Fractions are carried down as
/// PostgreSQL carries them: a month's fraction as days of 30, a day's as hours, a year's
/// rounded to whole months.
extension Interval {
    /// A unit of an interval literal, or a field an `INTERVAL '…' field` qualifier names.
    public enum Unit: Sendable, Equatable {
        case millennium, century, decade, year, month, week, day, hour, minute, second, millisecond, microsecond

        /// This unit's bit in the set of fields an interval's text has given (each at most once).
        var field: UInt16 {
            switch self {
            case .millennium: return 1 << 0
            case .century: return 1 << 1
            case .decade: return 1 << 2
            case .year: return 1 << 3
            case .month: return 1 << 4
            case .week: return 1 << 5
            case .day: return 1 << 6
            case .hour: return 1 << 7
            case .minute: return 1 << 8
            case .second: return 1 << 9
            case .millisecond: return 1 << 10
            case .microsecond: return 1 << 11
            }
        }

        /// Seconds with a fraction, or a clock, give the sub-second fields too.
        static let secondsAndBelow: UInt16 = Unit.second.field | Unit.millisecond.field | Unit.microsecond.field

        public init?(name: String) {
            switch name {
            case "millennium", "millennia", "millenniums", "mil", "mils": self = .millennium
            case "century", "centuries", "c", "cent": self = .century
            case "decade", "decades", "dec", "decs": self = .decade
            case "year", "years", "y", "yr", "yrs": self = .year
            case "month", "months", "mon", "mons": self = .month
            case "week", "weeks", "w": self = .week
            case "day", "days", "d": self = .day
            case "hour", "hours", "h", "hr", "hrs": self = .hour
            case "minute", "minutes", "m", "min", "mins": self = .minute
            case "second", "seconds", "s", "sec", "secs": self = .second
            case "millisecond", "milliseconds", "ms", "msec", "msecs", "mseconds": self = .millisecond
            case "microsecond", "microseconds", "us", "usec", "usecs", "useconds": self = .microsecond
            default: return nil
            }
        }

        /// Months in one of the unit for the year-like units; nil for the rest.
        var months: Int64? {
            switch self {
            case .millennium: return 12_000
            case .century: return 1200
            case .decade: return 120
            case .year: return 12
            case .month: return 1
            default: return nil
            }
        }

        /// Microseconds in one of the unit for the clock units.
        var microseconds: Int64? {
            switch self {
            case .hour: return Interval.microsecondsPerHour
            case .minute: return 60_000_000
            case .second: return 1_000_000
            case .millisecond: return 1000
            case .microsecond: return 1
            default: return nil
            }
        }
    }

    // MARK: Output

    /// PostgreSQL's `postgres` style.
    public var text: String {
        var out = ""
        var isZero = true, isBefore = false
        func part(_ value: Int64, _ unit: String) {
            guard value != 0 else { return }
            if !isZero { out += " " }
            if isBefore, value > 0 { out += "+" }
            out += "\(value) \(unit)\(value != 1 ? "s" : "")"
            isBefore = value < 0
            isZero = false
        }
        part(Int64(months / 12), "year")
        part(Int64(months % 12), "mon")
        part(Int64(days), "day")
        if isZero || microseconds != 0 {
            let magnitude = microseconds.magnitude
            let hours = magnitude / UInt64(Interval.microsecondsPerHour)
            let minutes = magnitude / 60_000_000 % 60, seconds = magnitude / 1_000_000 % 60, fraction = magnitude % 1_000_000
            if !isZero { out += " " }
            out += microseconds < 0 ? "-" : (isBefore ? "+" : "")
            out += Interval.twoDigits(hours) + ":" + Interval.twoDigits(minutes) + ":" + Interval.twoDigits(seconds)
            if fraction != 0 {
                var digits = String(fraction)
                digits = String(repeating: "0", count: 6 - digits.count) + digits
                while digits.last == "0" { digits.removeLast() }
                out += "." + digits
            }
        }
        return out
    }

    /// PostgreSQL's `iso_8601` style (`SET intervalstyle = iso_8601`, as Rails sets it):
    /// `P1Y2M3DT4H5M6.5S`, each part with its own sign (`P-1DT2H`), `PT0S` for zero.
    public var iso8601Text: String {
        guard months != 0 || days != 0 || microseconds != 0 else { return "PT0S" }
        var out = "P"
        if months / 12 != 0 { out += "\(months / 12)Y" }
        if months % 12 != 0 { out += "\(months % 12)M" }
        if days != 0 { out += "\(days)D" }
        if microseconds != 0 {
            out += "T"
            let sign = microseconds < 0 ? "-" : ""
            let magnitude = microseconds.magnitude
            let hours = magnitude / UInt64(Interval.microsecondsPerHour), minutes = magnitude / 60_000_000 % 60
            let seconds = magnitude / 1_000_000 % 60, fraction = magnitude % 1_000_000
            if hours != 0 { out += "\(sign)\(hours)H" }
            if minutes != 0 { out += "\(sign)\(minutes)M" }
            if seconds != 0 || fraction != 0 {
                out += "\(sign)\(seconds)"
                if fraction != 0 {
                    var digits = String(fraction)
                    digits = String(repeating: "0", count: 6 - digits.count) + digits
                    while digits.last == "0" { digits.removeLast() }
                    out += "." + digits
                }
                out += "S"
            }
        }
        return out
    }

    static func twoDigits(_ n: UInt64) -> String { n < 10 ? "0\(n)" : String(n) }

    // MARK: Input

    /// Reads PostgreSQL's interval input. `qualifier` is the field of `INTERVAL '…' field`: a
    /// bare number is counted in it, and fields below it are dropped (`interval '1 day 2
    /// hours' day` is `1 day`). 22007 for text that is not an interval, 22008 when a field
    /// overflows.
    public static func parse(_ written: String, qualifier: Unit? = nil) throws -> Interval {
        let text = written.trimmingSpaces().lowercased()
        func invalid() -> RedError { RedError(.invalidDatetimeFormat, "invalid input syntax for type interval: \"\(written)\"") }
        guard !text.isEmpty, text.utf8.count <= 256 else { throw invalid() }
        var builder = IntervalBuilder()
        if text.hasPrefix("p") {
            try builder.readISO8601(text.dropFirst(), invalid: invalid)
        } else {
            try builder.readWords(text, bareUnit: qualifier ?? .second, invalid: invalid)
        }
        guard let result = try? builder.interval() else {
            throw RedError(.intervalFieldOverflow, "interval field value out of range: \"\(written)\"")
        }
        return qualifier.map { result.truncated(below: $0) } ?? result
    }

    /// Fields below `unit` dropped (what an `INTERVAL '…' unit` qualifier keeps).
    func truncated(below unit: Unit) -> Interval {
        switch unit {
        case .millennium, .century, .decade, .year: return Interval(months: months / 12 * 12)
        case .month: return Interval(months: months)
        case .week, .day: return Interval(months: months, days: days)
        case .hour, .minute:
            let step = unit.microseconds!
            return Interval(months: months, days: days, microseconds: microseconds / step * step)
        case .second, .millisecond, .microsecond: return self
        }
    }
}

/// Totals gathered while reading an interval (or making one, `make_interval`), in wide
/// integers so that an overflow is reported once, at the end.
public struct IntervalBuilder {
    var months: Int64 = 0
    var days: Int64 = 0
    var microseconds: Int64 = 0
    var overflowed = false
    /// The fields given so far: PostgreSQL refuses one given twice (`'1 day 2 days'`).
    var fieldsGiven: UInt16 = 0
    /// Whether a clock part was read: PostgreSQL reads fields last to first and a clock *sets*
    /// the time, so the time a fraction of a day, week or month written after the clock would
    /// add is lost (`'01:00 1.5 days'` is `1 day 01:00:00`, `'1.5 days 01:00'` `1 day 13:00:00`).
    var clockRead = false

    public init() {}

    /// Notes that the text gives `fields`; false when one of them was given already.
    mutating func give(_ fields: UInt16) -> Bool {
        guard fieldsGiven & fields == 0 else { return false }
        fieldsGiven |= fields
        return true
    }

    /// The interval read, or 22008 when a field overflowed.
    public func interval() throws -> Interval {
        guard !overflowed else { throw Interval.outOfRange() }
        return try Interval.checked(months: months, days: days, microseconds: microseconds)
    }

    private mutating func addMonths(_ n: Int64) {
        let (sum, o) = months.addingReportingOverflow(n)
        months = sum
        overflowed = overflowed || o
    }

    private mutating func addWholeDays(_ n: Int64) {
        let (sum, o) = days.addingReportingOverflow(n)
        days = sum
        overflowed = overflowed || o
    }

    private mutating func addMicroseconds(_ n: Int64) {
        let (sum, o) = microseconds.addingReportingOverflow(n)
        microseconds = sum
        overflowed = overflowed || o
    }

    /// A carried-down fraction, rounded to a whole count; an overflow when it does not fit.
    private mutating func roundedAmount(_ x: Double) -> Int64 {
        let rounded = x.rounded()
        guard rounded.magnitude < 9.2e18 else { overflowed = true; return 0 }
        return Int64(rounded)
    }

    private mutating func product(_ a: Int64, _ b: Int64) -> Int64 {
        let (p, o) = a.multipliedReportingOverflow(by: b)
        overflowed = overflowed || o
        return p
    }

    /// `whole + fraction` of `unit` (both carrying the amount's sign), fractions carried down.
    public mutating func add(whole: Int64, fraction: Double, unit: Interval.Unit) {
        // `number` reads digits beyond Int64 as its ends; no real amount reaches them.
        guard whole != .max, whole != .min else { overflowed = true; return }
        if let perUnit = unit.months {
            addMonths(product(whole, perUnit))
            if unit == .month {
                addDays(fraction * Double(Interval.daysPerMonth))
            } else {
                addMonths(roundedAmount(fraction * Double(perUnit)))
            }
        } else if unit == .week {
            addWholeDays(product(whole, 7))
            addDays(fraction * 7)
        } else if unit == .day {
            addWholeDays(whole)
            if clockRead { return }
            addMicroseconds(roundedAmount(fraction * Double(Interval.microsecondsPerDay)))
        } else {
            let perUnit = unit.microseconds!
            addMicroseconds(product(whole, perUnit))
            addMicroseconds(roundedAmount(fraction * Double(perUnit)))
        }
    }

    /// A number of days that may have a fraction: whole days, the rest as time.
    private mutating func addDays(_ value: Double) {
        let whole = value.rounded(.towardZero)
        guard whole.magnitude < 9.2e18 else { overflowed = true; return }
        addWholeDays(Int64(whole))
        if clockRead { return }
        addMicroseconds(roundedAmount((value - whole) * Double(Interval.microsecondsPerDay)))
    }

    /// `[+-]digits[.digits]` split into a whole part and a fraction of the same sign.
    static func number(_ s: Substring) -> (whole: Int64, fraction: Double)? {
        var body = s
        var negative = false
        if let first = body.first, first == "-" || first == "+" { negative = first == "-"; body = body.dropFirst() }
        guard !body.isEmpty, body.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), body.filter({ $0 == "." }).count <= 1,
              body != "." else { return nil }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        let wholeText = parts[0].isEmpty ? "0" : parts[0]
        // Digits beyond Int64 are a number out of range, which `interval()` reports (22015).
        guard let whole = Int64(wholeText) else { return (negative ? .min : .max, 0) }
        let fraction = parts.count > 1 && !parts[1].isEmpty ? Double("0." + parts[1]) ?? 0 : 0
        return negative ? (-whole, -fraction) : (whole, fraction)
    }

    // MARK: Words

    mutating func readWords(_ text: String, bareUnit: Interval.Unit, invalid: () -> RedError) throws {
        let separators: Set<Character> = [" ", "\t", "\n", ","]
        var words: [Substring] = text.split(whereSeparator: { separators.contains($0) })
        if words.first == "@" { words.removeFirst() } else if let first = words.first, first.hasPrefix("@") { words[0] = first.dropFirst() }
        var negate = false
        if words.last == "ago" { words.removeLast(); negate = true }
        guard !words.isEmpty else { throw invalid() }
        var i = 0
        while i < words.count {
            var word = words[i]
            i += 1
            // A sign standing alone applies to the amount after it (`- 1 day`).
            if word == "-" || word == "+", i < words.count, words[i].first?.isNumber == true {
                word = Substring(String(word) + words[i])
                i += 1
            }
            if word.contains(":") {
                guard give(Interval.Unit.hour.field | Interval.Unit.minute.field | Interval.Unit.secondsAndBelow) else { throw invalid() }
                try readClock(word, invalid: invalid)
                continue
            }
            if let (years, monthsPart) = Self.yearMonth(word) {
                // PostgreSQL counts `Y-M` as the month field only: `'1-2 3 years'` is accepted.
                guard give(Interval.Unit.month.field) else { throw invalid() }
                addMonths(product(years, 12))
                addMonths(word.hasPrefix("-") ? -monthsPart : monthsPart)
                continue
            }
            // `90s` in one word, or `90 s` / a bare number in two.
            let numberText = word.prefix { $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" }
            guard let (whole, fraction) = Self.number(numberText) else { throw invalid() }
            var unitName = word.dropFirst(numberText.count)
            if unitName.isEmpty, i < words.count, Interval.Unit(name: String(words[i])) != nil {
                unitName = words[i]
                i += 1
            }
            if unitName.isEmpty {
                // A number before a clock is days (`3 04:05:06`); a number alone, the bare unit.
                if i < words.count, words[i].contains(":") {
                    guard give(Interval.Unit.day.field) else { throw invalid() }
                    add(whole: whole, fraction: fraction, unit: .day)
                } else if i == words.count {
                    guard give(bareUnit.field) else { throw invalid() }
                    add(whole: whole, fraction: fraction, unit: bareUnit)
                } else {
                    throw invalid()
                }
                continue
            }
            guard let unit = Interval.Unit(name: String(unitName)) else { throw invalid() }
            guard give(unit == .second && fraction != 0 ? Interval.Unit.secondsAndBelow : unit.field) else { throw invalid() }
            add(whole: whole, fraction: fraction, unit: unit)
        }
        guard !overflowed else { return }
        if negate {
            months = -months
            days = -days
            microseconds = -microseconds
        }
    }

    /// SQL's `Y-M` year-month form (`1-2`, `-1-2`).
    static func yearMonth(_ word: Substring) -> (Int64, Int64)? {
        let body = word.first == "-" || word.first == "+" ? word.dropFirst() : word
        let parts = body.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let years = Int64(parts[0]), let months = Int64(parts[1]), months < 12 else { return nil }
        return (word.first == "-" ? -years : years, months)
    }

    /// `[-]H:MM[:SS[.f]]`, or `M:SS.f` (two fields with a fraction), as PostgreSQL reads them.
    mutating func readClock(_ word: Substring, invalid: () -> RedError) throws {
        let negative = word.first == "-"
        var fields = word.drop { $0 == "-" || $0 == "+" }.split(separator: ":", omittingEmptySubsequences: false)
        if fields.count == 2, fields[1].contains(".") { fields.insert("0", at: 0) }
        guard (2...3).contains(fields.count), fields.allSatisfy({ !$0.isEmpty }),
              let hours = Int64(fields[0]), let minutes = Int64(fields[1]) else { throw invalid() }
        guard minutes < 60 else { throw RedError(.intervalFieldOverflow, "interval field value out of range: \"\(word)\"") }
        let hourMicros = product(hours, Interval.microsecondsPerHour)
        var micros = hourMicros.addingReportingOverflow(minutes * 60_000_000)
        if fields.count == 3 {
            guard let (whole, fraction) = Self.number(fields[2]), whole >= 0, fraction >= 0 else { throw invalid() }
            guard whole < 60 else { throw RedError(.intervalFieldOverflow, "interval field value out of range: \"\(word)\"") }
            let secondMicros = whole * 1_000_000 + Int64((fraction * 1_000_000).rounded())
            let (sum, o) = micros.partialValue.addingReportingOverflow(secondMicros)
            micros = (sum, micros.overflow || o)
        }
        overflowed = overflowed || micros.overflow
        addMicroseconds(negative ? -micros.partialValue : micros.partialValue)
        clockRead = true
    }

    // MARK: ISO 8601

    /// `nYnMnWnD` then, after `T`, `nHnMnS`; each number may be signed and have a fraction.
    mutating func readISO8601(_ body: Substring, invalid: () -> RedError) throws {
        var rest = body
        var inTime = false
        guard !rest.isEmpty else { throw invalid() }
        while !rest.isEmpty {
            if rest.first == "t" {
                guard !inTime else { throw invalid() }
                inTime = true
                rest = rest.dropFirst()
                guard !rest.isEmpty else { throw invalid() }
                continue
            }
            let numberText = rest.prefix { $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" }
            guard let (whole, fraction) = Self.number(numberText), let designator = rest.dropFirst(numberText.count).first else { throw invalid() }
            rest = rest.dropFirst(numberText.count + 1)
            let unit: Interval.Unit
            switch (designator, inTime) {
            case ("y", false): unit = .year
            case ("m", false): unit = .month
            case ("w", false): unit = .week
            case ("d", false): unit = .day
            case ("h", true): unit = .hour
            case ("m", true): unit = .minute
            case ("s", true): unit = .second
            default: throw invalid()
            }
            add(whole: whole, fraction: fraction, unit: unit)
        }
    }
}
