/// Proleptic Gregorian calendar arithmetic in UTC, without Foundation.
///
/// Dates are days since 1970-01-01; timestamps are microseconds since the
/// epoch, PostgreSQL's resolution (drivers send microseconds, and a value read
/// back must equal the one written). The day/civil conversion is the well-known
/// era-based algorithm, exact for every representable year.
public enum CalendarMath {
    public static let microsecondsPerDay: Int64 = 86_400_000_000

    /// PostgreSQL's timestamp range, 4713 BC to the end of 294246 AD, in epoch microseconds.
    /// PostgreSQL counts from 2000 and so reaches 294276 AD; counting from 1970 in an `Int64`
    /// ends 30 years sooner. Every timestamp a statement makes (casts, parsing, arithmetic,
    /// functions, parameters) is checked against it, so day and interval arithmetic on one
    /// never overflows `Int64`; outside it is 22008 "timestamp out of range", as in PostgreSQL.
    public static let timestampRange: ClosedRange<Int64> =
        days(year: -4713, month: 11, day: 24) * microsecondsPerDay ... days(year: 294_247, month: 1, day: 1) * microsecondsPerDay - 1

    /// PostgreSQL's `infinity` and `-infinity` timestamps (what Npgsql sends for
    /// `DateTime.MaxValue`/`MinValue`): the ends of `Int64`, outside the range, so they sort
    /// after and before every other timestamp; they print as their names.
    public static let infinity = Int64.max, negativeInfinity = Int64.min

    public static func isInfinite(_ us: Int64) -> Bool { us == infinity || us == negativeInfinity }

    /// `us` if it is a finite timestamp PostgreSQL could hold, else 22008. The infinities
    /// come only from their names (`'infinity'`) or PostgreSQL's binary form, never from
    /// arithmetic or an integer that happens to equal one.
    public static func checkedTimestamp(_ us: Int64) throws -> Int64 {
        guard timestampRange.contains(us) else { throw RedError(.datetimeFieldOverflow, "timestamp out of range") }
        return us
    }

    /// `us + delta` as a checked timestamp; an overflow is out of range too. An infinity
    /// stays itself, as in PostgreSQL.
    public static func checkedTimestamp(_ us: Int64, plus delta: Int64) throws -> Int64 {
        if isInfinite(us) { return us }
        let (sum, overflow) = us.addingReportingOverflow(delta)
        guard !overflow else { throw RedError(.datetimeFieldOverflow, "timestamp out of range") }
        return try checkedTimestamp(sum)
    }

    /// Microseconds from a `Double` (seconds × 1e6 …), rounded to the nearest: 22008 unless
    /// finite and in range.
    public static func checkedTimestamp(microseconds value: Double) throws -> Int64 {
        guard let us = Int64(exactly: value.rounded()) else { throw RedError(.datetimeFieldOverflow, "timestamp out of range") }
        return try checkedTimestamp(us)
    }

    /// Epoch milliseconds (RedDB's integer form of a timestamp: `TimestampMs`, JSON numbers,
    /// an integer cast to a timestamp) as a checked timestamp.
    public static func checkedTimestamp(milliseconds: Int64) throws -> Int64 {
        let (us, overflow) = milliseconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else { throw RedError(.datetimeFieldOverflow, "timestamp out of range") }
        return try checkedTimestamp(us)
    }

    /// Midnight of day `days` (since 1970), saturating at the ends of `Int64` for dates far
    /// beyond the timestamp range (a date reaches 5874897 AD): for ordering only.
    public static func midnight(ofDay days: Int64) -> Int64 {
        let (us, overflow) = days.multipliedReportingOverflow(by: microsecondsPerDay)
        return overflow ? (days < 0 ? .min : .max) : us
    }

    /// Midnight of day `days` as a checked timestamp (22008 beyond the range).
    public static func checkedTimestamp(days: Int64) throws -> Int64 {
        let (us, overflow) = days.multipliedReportingOverflow(by: microsecondsPerDay)
        guard !overflow else { throw RedError(.datetimeFieldOverflow, "timestamp out of range") }
        return try checkedTimestamp(us)
    }

    /// `us` rounded to `digits` (0…6) fraction digits of a second, as PostgreSQL stores a value
    /// into `timestamp(p)`: half away from zero, counted from PostgreSQL's epoch (2000-01-01),
    /// so a half second rounds down before 2000 and up after it. The infinities stay themselves.
    public static func rounded(_ us: Int64, toFractionDigits digits: Int) -> Int64 {
        guard digits < 6, !isInfinite(us) else { return us }
        return roundedFraction(us - postgresEpochMicroseconds, toFractionDigits: digits) + postgresEpochMicroseconds
    }

    /// Microseconds rounded half away from zero to `digits` (0…6) fraction digits of a second,
    /// as `time(p)` (`23:59:59.6` in a `time(0)` is `24:00:00`) and `interval(p)` store them.
    public static func roundedFraction(_ us: Int64, toFractionDigits digits: Int) -> Int64 {
        guard digits < 6 else { return us }
        var unit: Int64 = 1
        for _ in digits..<6 { unit *= 10 }
        let magnitude = (us.magnitude + UInt64(unit / 2)) / UInt64(unit) * UInt64(unit)
        return us < 0 ? -Int64(magnitude) : Int64(magnitude)
    }

    /// 2000-01-01 00:00:00 UTC, where PostgreSQL counts its timestamps from.
    public static let postgresEpochMicroseconds: Int64 = 946_684_800_000_000

    /// A timestamp as epoch milliseconds (rounded down), for the surfaces whose integer form
    /// counts milliseconds; the infinities stay the ends of `Int64`.
    public static func milliseconds(_ us: Int64) -> Int64 {
        if isInfinite(us) { return us }
        return us >= 0 ? us / 1000 : (us - 999) / 1000
    }

    /// The day `us` falls on and the microseconds into it (0 ..< a day), for any `Int64`: a
    /// value stored before ranges were checked must still print, never trap.
    public static func split(_ us: Int64) -> (days: Int64, microsOfDay: Int64) {
        var day = us / microsecondsPerDay, rest = us % microsecondsPerDay
        if rest < 0 { day -= 1; rest += microsecondsPerDay }
        return (day, rest)
    }

    public static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func civil(days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (Int(m <= 2 ? y + 1 : y), Int(m), Int(d))
    }

    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(abs(v))
        return (v < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - s.count)) + s
    }

    /// `YYYY-MM-DD`, and `BC` after it for years before 1 (PostgreSQL's text form: year 0 is 1 BC).
    public static func formatDate(_ days: Int32) -> String {
        let c = civil(days: Int64(days))
        return civilText(c, astronomical: false) + (c.year <= 0 ? " BC" : "")
    }

    private static func civilText(_ c: (year: Int, month: Int, day: Int), astronomical: Bool) -> String {
        "\(pad(astronomical || c.year > 0 ? c.year : 1 - c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))"
    }

    /// `HH:MM:SS[.ffffff]` of a time of day: the fraction only when nonzero, without trailing
    /// zeros (PostgreSQL's text form of `time` and of a timestamp's clock).
    public static func clockText(_ microsOfDay: Int64) -> String {
        let seconds = microsOfDay / 1_000_000
        let text = "\(pad(Int(seconds / 3600), 2)):\(pad(Int(seconds / 60 % 60), 2)):\(pad(Int(seconds % 60), 2))"
        return text + fractionText(microsOfDay % 1_000_000)
    }

    /// `.ffffff` without trailing zeros, or nothing for whole seconds.
    static func fractionText(_ micros: Int64) -> String {
        guard micros != 0 else { return "" }
        var fraction = pad(Int(micros), 6)
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "." + fraction
    }

    /// `YYYY-MM-DD HH:MM:SS[.ffffff][ BC]` (PostgreSQL's text form, a fraction only when nonzero).
    public static func formatTimestamp(_ us: Int64) -> String {
        if us == infinity { return "infinity" }
        if us == negativeInfinity { return "-infinity" }
        let (dayNumber, rest) = split(us)
        let c = civil(days: dayNumber)
        let text = civilText(c, astronomical: false) + " " + clockText(rest)
        return c.year <= 0 ? text + " BC" : text
    }

    /// ISO-8601 with `T` and `Z`, for JSON output: astronomical years (`0000` is 1 BC, `-0001`
    /// 2 BC), milliseconds always (`.mmm`, RedDB's form) and microseconds when there are any.
    public static func formatISO(_ us: Int64) -> String {
        if isInfinite(us) { return formatTimestamp(us) }
        let (dayNumber, rest) = split(us)
        let seconds = rest / 1_000_000, micros = rest % 1_000_000
        let fraction = micros % 1000 == 0 ? pad(Int(micros / 1000), 3) : pad(Int(micros), 6)
        return civilText(civil(days: dayNumber), astronomical: true) + "T"
            + "\(pad(Int(seconds / 3600), 2)):\(pad(Int(seconds / 60 % 60), 2)):\(pad(Int(seconds % 60), 2))." + fraction + "Z"
    }

    /// A bare zone after a date or time: `+00`, `-05:30`, `+0530`, `Z`, `UTC`, `GMT`.
    public static func isZoneOffset(_ text: Substring) -> Bool {
        if ["z", "utc", "gmt"].contains(text.lowercased()) { return true }
        guard let sign = text.first, sign == "+" || sign == "-" else { return false }
        let digits = text.dropFirst().filter { $0 != ":" }
        return text.dropFirst().allSatisfy { ($0.isASCII && $0.isNumber) || $0 == ":" } && [1, 2, 4].contains(digits.count)
    }

    /// A time of day as PostgreSQL's `time` reads it: a zone after it (`10:11:12+00`, pgJDBC's
    /// form) is checked and ignored.
    public static func parseTimeOfDayIgnoringZone(_ text: Substring) -> Int64? {
        if let us = parseTimeOfDay(text) { return us }
        guard let cut = text.lastIndex(where: { $0 == "+" || $0 == "-" || $0 == " " || $0 == "Z" || $0 == "z" }),
              isZoneOffset(text[cut...].trimmingSpacesSubstring()) else { return nil }
        return parseTimeOfDay(text[..<cut].trimmingSpacesSubstring())
    }

    /// Parses `YYYY-MM-DD`; nil when malformed or out of range.
    public static func parseDate(_ text: Substring) -> Int64? {
        if case .valid(let d) = classifyDate(text) { return d }
        return nil
    }

    public enum DateParse { case valid(Int64), malformed, outOfRange }

    /// Tells a malformed date (22007) from one whose fields are out of range (22008). A
    /// trailing ` BC` (as `formatDate` writes it) counts the year back from 1 BC.
    public static func classifyDate(_ text: Substring) -> DateParse {
        var text = text
        let bc = text.lowercased().hasSuffix(" bc")
        if bc { text = text.dropLast(3) }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, (1...2).contains(parts[1].count), (1...2).contains(parts[2].count),
              parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              var y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]) else { return .malformed }
        if bc {
            guard y >= 1 else { return .outOfRange }
            y = 1 - y
        }
        guard (1...12).contains(m), d >= 1, d <= daysInMonth(year: y, month: m) else { return .outOfRange }
        return .valid(days(year: y, month: m, day: d))
    }

    /// Parses `HH:MM[:SS[.ffffff]]` into microseconds since midnight; more fraction digits are
    /// rounded to the nearest microsecond, as PostgreSQL does.
    public static func parseTimeOfDay(_ text: Substring) -> Int64? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        // One or two digits a field, as PostgreSQL reads them (`1:00` is 01:00:00).
        func isField(_ s: Substring) -> Bool { (1...2).contains(s.count) && s.allSatisfy { $0.isASCII && $0.isNumber } }
        guard parts.count == 2 || parts.count == 3, isField(parts[0]), isField(parts[1]),
              let h = Int64(parts[0]), let m = Int64(parts[1]), (0...24).contains(h), (0...59).contains(m) else { return nil }
        var micros: Int64 = 0
        if parts.count == 3 {
            let secParts = parts[2].split(separator: ".", omittingEmptySubsequences: false)
            guard isField(secParts[0]), let s = Int64(secParts[0]), (0...60).contains(s) else { return nil }
            micros = s * 1_000_000
            if secParts.count == 2 {
                let frac = secParts[1]
                guard !frac.isEmpty, frac.count <= 9, frac.allSatisfy({ $0.isASCII && $0.isNumber }),
                      let f = Int64(frac.prefix(6).padding(6)) else { return nil }
                let roundsUp = frac.count > 6 && frac[frac.index(frac.startIndex, offsetBy: 6)] >= "5"
                micros += f + (roundsUp ? 1 : 0)
            } else if secParts.count > 2 { return nil }
        }
        if h == 24, m != 0 || micros != 0 { return nil }  // 24:00:00 is the end of the day, as PostgreSQL allows
        return (h * 3600 + m * 60) * 1_000_000 + micros
    }

    /// Parses `YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]][Z|±HH[:MM]]` into epoch microseconds.
    /// `ignoringZone`: a zone written after the time is checked and dropped, as PostgreSQL reads
    /// text as a `timestamp` (without time zone): `2021-03-04 05:06:06+01` is 05:06:06.
    /// Text without an offset is read as UTC; `parseTimestampParts` tells the caller which it was.
    public static func parseTimestamp(_ text: String, ignoringZone: Bool = false) -> Int64? {
        guard let parts = parseTimestampParts(text) else { return nil }
        guard !ignoringZone, let offset = parts.offsetSeconds else { return parts.local }
        return parts.local - offset * 1_000_000
    }

    /// The wall-clock time a timestamp's text writes, and the offset east of Greenwich written
    /// after it, in seconds (nil when none is: a session reads it in its own zone). Infinities
    /// have no offset.
    public static func parseTimestampParts(_ text: String) -> (local: Int64, offsetSeconds: Int64?)? {
        let trimmed = text.trimmingSpaces()
        switch trimmed.lowercased() {
        case "infinity", "+infinity": return (infinity, nil)
        case "-infinity": return (negativeInfinity, nil)
        default: break
        }
        var body = trimmed[...]
        let bc = body.count >= 13 && body.suffix(3).lowercased() == " bc"
        if bc { body = body.dropLast(3) }
        guard body.count >= 10 else { return nil }
        let datePart = body.prefix(10)
        guard let day = parseDate(bc ? (datePart + " BC")[...] : datePart) else { return nil }
        var rest = body.dropFirst(10)
        if rest.isEmpty { return (day * microsecondsPerDay, nil) }
        guard rest.first == " " || rest.first == "T" else { return nil }
        rest = rest.dropFirst()
        var offsetSeconds: Int64?
        if rest.hasSuffix("Z") || rest.hasSuffix("z") {
            rest = rest.dropLast()
            offsetSeconds = 0
        } else if let signIndex = rest.lastIndex(where: { $0 == "+" || $0 == "-" }) {
            let zone = rest[rest.index(after: signIndex)...]
            let sign: Int64 = rest[signIndex] == "-" ? -1 : 1
            let zoneParts = zone.split(separator: ":")
            // `+H`, `+HH`, `+HH:MM` or `+HHMM`, within PostgreSQL's limit of 15:59.
            let first = zoneParts.first ?? ""
            guard zoneParts.count <= 2, !first.isEmpty, first.count <= 4, first.count != 3,
                  zoneParts.count == 1 || first.count <= 2 else { return nil }
            let hoursText = first.count == 4 ? first.prefix(2) : first[...]
            let minutesText = first.count == 4 ? first.suffix(2) : (zoneParts.count == 2 ? zoneParts[1][...] : "0")
            guard let zh = Int64(hoursText), (0...15).contains(zh), minutesText.count <= 2,
                  let zm = Int64(minutesText), (0...59).contains(zm) else { return nil }
            offsetSeconds = sign * (zh * 3600 + zm * 60)
            rest = rest[..<signIndex]
        }
        guard let time = parseTimeOfDay(rest.trimmingSpacesSubstring()) else { return nil }
        return (day * microsecondsPerDay + time, offsetSeconds)
    }
}

extension StringProtocol {
    func padding(_ width: Int) -> String {
        String(self) + String(repeating: "0", count: Swift.max(0, width - count))
    }
}

