import RedCore

/// `to_char(interval, template)`: the template's numeric fields read an interval's own
/// fields, as PostgreSQL reads them — `YYYY` its years, `MM` its months of the year, `DD` its
/// days, `HH24` its hours (which may pass 24), `MI`, `SS`, `MS`, `US`, `FFn`, `SSSS` the
/// seconds of the time part, `DDD` the whole span in days counting a month as 30 — each
/// with its sign. Fields that name a calendar moment (month and day names, `D`, `BC`, time
/// zones) are 22007, "invalid format specification for an interval value", as in
/// PostgreSQL; so are the ISO-week fields and `J`, where PostgreSQL prints numbers computed
/// as if the interval's fields were a date (year 0, month 0 …), which mean nothing.
extension DateTimeTemplate {
    func format(_ interval: Interval) throws -> String {
        let f = IntervalFields(interval)
        var out = ""
        for node in nodes {
            switch node {
            case .literal(let text): out += text
            case .field(let field, let fillMode, let ordinal, _): out += try Self.text(of: field, f, fillMode: fillMode, ordinal: ordinal)
            }
        }
        return out
    }

    /// An interval's fields as PostgreSQL's `interval2tm` splits them (each with the sign of its part).
    private struct IntervalFields {
        let year, month, day: Int
        let hour: Int64
        let minute, second, microsecond: Int
        /// The span in days, a month as 30 (`DDD`).
        let dayOfSpan: Int64

        init(_ i: Interval) {
            year = Int(i.months / 12)
            month = Int(i.months % 12)
            day = Int(i.days)
            hour = i.microseconds / Interval.microsecondsPerHour
            minute = Int(i.microseconds / 60_000_000 % 60)
            second = Int(i.microseconds / 1_000_000 % 60)
            microsecond = Int(i.microseconds % 1_000_000)
            dayOfSpan = (Int64(year) * 12 + Int64(month)) * 30 + Int64(day)
        }
    }

    private static func invalidForInterval() -> RedError {
        RedError(.invalidDatetimeFormat, "invalid format specification for an interval value")
    }

    /// PostgreSQL's `%0*d` with a width one wider for a negative value: digits padded to
    /// `width`, after the sign. (`signIncluded`: plain `%0*d`, the sign counting in the width,
    /// as PostgreSQL writes `DD` and the thousands of `Y,YYY`.)
    private static func signed(_ v: Int64, _ width: Int, _ fm: Bool, _ th: LetterCase?, signIncluded: Bool = false) -> String {
        let digits = String(v.magnitude)
        let padded = signIncluded && v < 0 ? width - 1 : width
        var s = (v < 0 ? "-" : "") + (fm ? digits : String(repeating: "0", count: max(0, padded - digits.count)) + digits)
        if let th { s += ordinalSuffix(Int(v.magnitude % 100), th) }
        return s
    }

    private static func text(of field: Field, _ f: IntervalFields, fillMode fm: Bool, ordinal th: LetterCase?) throws -> String {
        switch field {
        case .year4: return signed(Int64(f.year), 4, fm, th)
        case .year3: return signed(Int64(f.year % 1000), 3, fm, th)
        case .year2: return signed(Int64(f.year % 100), 2, fm, th)
        case .year1: return signed(Int64(f.year % 10), 1, fm, th)
        case .yearWithComma:
            let thousands = f.year / 1000
            return "\(thousands)," + signed(Int64(f.year - thousands * 1000), 3, false, nil, signIncluded: true) + (th.map { ordinalSuffix(abs(f.year), $0) } ?? "")
        case .month: return signed(Int64(f.month), 2, fm, th)
        case .romanMonth(let c):
            guard f.month != 0 || f.year != 0 else { return "" }
            // PostgreSQL's positions: a whole number of years is XII (or I when negative), -1 months XII, -2 XI …
            let index = f.month == 0 ? (f.year >= 0 ? 11 : 0) : (f.month < 0 ? 12 + f.month : f.month - 1)
            let numeral = c == .lower ? romanMonths[index].lowercased() : romanMonths[index]
            return fm ? numeral : numeral.padding(toLength: 4, withPad: " ", startingAt: 0)
        case .quarter: return f.month == 0 ? "" : String((f.month - 1) / 3 + 1)
        case .day: return signed(Int64(f.day), 2, fm, th, signIncluded: true)
        case .dayOfYear: return signed(f.dayOfSpan, 3, fm, th)
        case .weekOfMonth: return signed(Int64((f.day - 1) / 7 + 1), 1, fm, th)
        case .weekOfYear: return signed((f.dayOfSpan - 1) / 7 + 1, 2, fm, th)
        case .century:
            let century = Int64(f.year / 100)
            return abs(century) <= 99 ? signed(century, 2, fm, th) : String(century)
        case .hour24: return signed(f.hour, 2, fm, th)
        case .hour12: return signed(f.hour % 12 == 0 ? 12 : f.hour % 12, 2, fm, th)
        case .minute: return signed(Int64(f.minute), 2, fm, th)
        case .second: return signed(Int64(f.second), 2, fm, th)
        case .secondsOfDay: return String(f.hour * 3600 + Int64(f.minute * 60 + f.second)) + (th.map { ordinalSuffix(abs(f.second), $0) } ?? "")
        case .millisecond: return signed(Int64(f.microsecond / 1000), 3, false, th)
        case .microsecond: return signed(Int64(f.microsecond), 6, false, th)
        case .fraction(let digits):
            var scale = 1
            for _ in digits..<6 { scale *= 10 }
            return signed(Int64(f.microsecond / scale), digits, false, nil)
        case .meridiem(let c, let dotted):
            let word = f.hour % 24 >= 12 ? (dotted ? "P.M." : "PM") : (dotted ? "A.M." : "AM")
            return c == .lower ? word.lowercased() : word
        case .isoYear4, .isoYear3, .isoYear2, .isoYear1, .isoDayOfYear, .isoWeek, .julianDay,
             .monthName, .monthAbbreviation, .dayName, .dayAbbreviation, .dayOfWeek, .isoDayOfWeek,
             .era, .zoneName, .zoneOffset, .zoneHours, .zoneMinutes:
            throw invalidForInterval()
        }
    }
}
