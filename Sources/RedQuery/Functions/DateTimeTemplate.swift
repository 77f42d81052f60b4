import RedCore

/// PostgreSQL's date/time template patterns: the `'YYYY-MM-DD HH24:MI:SS'` of
/// `to_char(timestamp, text)`, `to_date(text, text)` and `to_timestamp(text, text)`.
///
/// A template is read once into nodes: keywords (matched case-sensitively, longest first,
/// from PostgreSQL's table — `Month` and `MONTH` differ, `Mm` is two literal letters),
/// with an `FM` prefix (fill mode: no zero padding, names not padded to nine) and a
/// `TH`/`th` suffix (ordinal); double-quoted text, copied as written (`\` escapes inside);
/// and every other character, copied. `FX` and `TM` prefixes are accepted and change
/// nothing here: names are English.
///
/// A `timestamp` has no zone, so `TZ` prints nothing and `OF`/`TZH` `+00`, as PostgreSQL
/// prints them; a `timestamptz` is written on the session's clocks, `TZ` and `OF` theirs
/// (`to_char` is bound so, `SessionZoneBinding`). Years are astronomical inside (0 is 1 BC); `YYYY`
/// prints the BC number with `BC`, as PostgreSQL does.
///
/// Parsing (`parse`) walks the same nodes over the input: spaces in the input are skipped
/// before a field, a separator in the template consumes one separator character if the
/// input has one there, a numeric field takes as many digits as its width (all of them
/// when the next node is not a number), and names match without regard to case. A field
/// that is out of range is 22008, text that does not fit the template 22007.
struct DateTimeTemplate {
    /// Longer templates are refused (54000) rather than formatted into a huge string.
    static let maxTemplateBytes = 4096

    enum Field: Sendable, Equatable {
        case year4, yearWithComma, year3, year2, year1
        case isoYear4, isoYear3, isoYear2, isoYear1
        case month, monthName(LetterCase), monthAbbreviation(LetterCase), romanMonth(LetterCase)
        case day, dayOfYear, isoDayOfYear, dayName(LetterCase), dayAbbreviation(LetterCase), dayOfWeek, isoDayOfWeek
        case weekOfMonth, weekOfYear, isoWeek, quarter, century, julianDay
        case hour24, hour12, minute, second, secondsOfDay, millisecond, microsecond, fraction(Int)
        case meridiem(LetterCase, dotted: Bool), era(LetterCase, dotted: Bool)
        case zoneName(LetterCase), zoneOffset, zoneHours, zoneMinutes
    }

    enum LetterCase: Sendable, Equatable { case upper, capitalized, lower }

    enum Node: Sendable, Equatable {
        case field(Field, fillMode: Bool, ordinal: LetterCase?, keyword: String)
        case literal(String)
    }

    let nodes: [Node]

    init(_ template: String) throws {
        guard template.utf8.count <= Self.maxTemplateBytes else {
            throw RedError(.limitExceeded, "a date/time template is limited to \(Self.maxTemplateBytes) bytes")
        }
        nodes = Self.read(Array(template.unicodeScalars))
    }

    // MARK: Reading the template

    /// PostgreSQL's keywords, longest first so `DDD` wins over `DD` and `HH24` over `HH`.
    private static let keywords: [(text: [Unicode.Scalar], field: Field?)] = {
        var table: [(String, Field?)] = [
            ("Y,YYY", .yearWithComma), ("YYYY", .year4), ("YYY", .year3), ("YY", .year2), ("Y", .year1),
            ("IYYY", .isoYear4), ("IYY", .isoYear3), ("IY", .isoYear2), ("I", .isoYear1),
            ("MM", .month), ("DDD", .dayOfYear), ("IDDD", .isoDayOfYear), ("DD", .day), ("D", .dayOfWeek), ("ID", .isoDayOfWeek),
            ("W", .weekOfMonth), ("WW", .weekOfYear), ("IW", .isoWeek), ("Q", .quarter), ("CC", .century), ("J", .julianDay),
            ("HH24", .hour24), ("HH12", .hour12), ("HH", .hour12), ("MI", .minute), ("SS", .second), ("SSSS", .secondsOfDay),
            ("SSSSS", .secondsOfDay), ("MS", .millisecond), ("US", .microsecond),
            ("FF1", .fraction(1)), ("FF2", .fraction(2)), ("FF3", .fraction(3)), ("FF4", .fraction(4)), ("FF5", .fraction(5)), ("FF6", .fraction(6)),
            ("TZH", .zoneHours), ("TZM", .zoneMinutes), ("OF", .zoneOffset),
        ]
        // Numeric keywords are the same in lower case (`yyyy`, `hh24`).
        table += table.map { ($0.0.lowercased(), $0.1) }
        // Names follow the keyword's case: MONTH, Month, month.
        for (word, make) in [("MONTH", Field.monthName), ("MON", Field.monthAbbreviation), ("DAY", Field.dayName), ("DY", Field.dayAbbreviation)] {
            table += [(word, make(.upper)), (word.prefix(1) + word.dropFirst().lowercased(), make(.capitalized)), (word.lowercased(), make(.lower))]
        }
        table += [("RM", .romanMonth(.upper)), ("rm", .romanMonth(.lower)), ("TZ", .zoneName(.upper)), ("tz", .zoneName(.lower))]
        for (upper, lower, dotted) in [("AM", "am", false), ("PM", "pm", false), ("A.M.", "a.m.", true), ("P.M.", "p.m.", true)] {
            table += [(upper, .meridiem(.upper, dotted: dotted)), (lower, .meridiem(.lower, dotted: dotted))]
        }
        for (upper, lower, dotted) in [("AD", "ad", false), ("BC", "bc", false), ("A.D.", "a.d.", true), ("B.C.", "b.c.", true)] {
            table += [(upper, .era(.upper, dotted: dotted)), (lower, .era(.lower, dotted: dotted))]
        }
        // Modifiers with no effect on a zone-less, English timestamp.
        table += [("FX", nil), ("fx", nil)]
        return table.map { (Array($0.0.unicodeScalars), $0.1) }.sorted { $0.text.count > $1.text.count }
    }()

    private static func hasPrefix(_ s: [Unicode.Scalar], at i: Int, _ prefix: [Unicode.Scalar]) -> Bool {
        i + prefix.count <= s.count && s[i..<(i + prefix.count)].elementsEqual(prefix)
    }

    private static func read(_ s: [Unicode.Scalar]) -> [Node] {
        var nodes: [Node] = []
        var literal = String.UnicodeScalarView()
        func flush() {
            if !literal.isEmpty { nodes.append(.literal(String(literal))); literal = String.UnicodeScalarView() }
        }
        var i = 0
        while i < s.count {
            // Prefixes: FM (fill mode), TM (translation: names are English anyway).
            var fillMode = false
            var j = i
            while true {
                if hasPrefix(s, at: j, Array("FM".unicodeScalars)) || hasPrefix(s, at: j, Array("fm".unicodeScalars)) { fillMode = true; j += 2 }
                else if hasPrefix(s, at: j, Array("TM".unicodeScalars)) || hasPrefix(s, at: j, Array("tm".unicodeScalars)) { j += 2 }
                else { break }
            }
            if let keyword = keywords.first(where: { hasPrefix(s, at: j, $0.text) }) {
                flush()
                j += keyword.text.count
                guard let field = keyword.field else { i = j; continue }
                var ordinal: LetterCase?
                if hasPrefix(s, at: j, Array("TH".unicodeScalars)) { ordinal = .upper; j += 2 }
                else if hasPrefix(s, at: j, Array("th".unicodeScalars)) { ordinal = .lower; j += 2 }
                nodes.append(.field(field, fillMode: fillMode, ordinal: ordinal, keyword: String(String.UnicodeScalarView(keyword.text))))
                i = j
                continue
            }
            // A prefix with no keyword after it is text, as in PostgreSQL.
            switch s[i] {
            case "\"":
                i += 1
                while i < s.count, s[i] != "\"" {
                    if s[i] == "\\", i + 1 < s.count { i += 1 }
                    literal.append(s[i])
                    i += 1
                }
                i += 1
            case "\\" where i + 1 < s.count && s[i + 1] == "\"":
                literal.append("\"")
                i += 2
            default:
                literal.append(s[i])
                i += 1
            }
        }
        flush()
        return nodes
    }

    // MARK: Formatting

    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
    static let dayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    static let romanMonths = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]

    /// The calendar facts of one instant, computed once per `format`.
    private struct Moment {
        let year, month, day, dayOfYear, dayOfWeek: Int  // dayOfWeek: 0 = Sunday
        let isoYear, isoWeek: Int
        let julianDay: Int64
        let microsOfDay: Int64
        /// A `timestamptz`'s zone at the moment: its offset east in seconds and abbreviation
        /// (`TZ`, `OF`); a `timestamp` has none (`OF` is `+00`, `TZ` empty).
        var offset = 0
        var abbreviation = ""

        init(_ us: Int64) {
            let (days, rest) = CalendarMath.split(us)
            let c = CalendarMath.civil(days: days)
            year = c.year; month = c.month; day = c.day
            dayOfYear = Int(days - CalendarMath.days(year: c.year, month: 1, day: 1)) + 1
            dayOfWeek = Int(((days % 7) + 11) % 7)
            microsOfDay = rest
            julianDay = days + 2_440_588
            (isoYear, isoWeek) = Self.isoWeek(days: days, year: c.year)
        }

        /// ISO 8601: weeks start on Monday; week 1 holds the year's first Thursday.
        static func isoWeek(days: Int64, year: Int) -> (year: Int, week: Int) {
            func firstMonday(_ y: Int) -> Int64 {
                let jan4 = CalendarMath.days(year: y, month: 1, day: 4)
                return jan4 - (((jan4 % 7) + 10) % 7)  // the Monday on or before 4 January
            }
            var y = year
            if days >= firstMonday(y + 1) { y += 1 } else if days < firstMonday(y) { y -= 1 }
            return (y, Int((days - firstMonday(y)) / 7) + 1)
        }

        var isoDayOfWeek: Int { dayOfWeek == 0 ? 7 : dayOfWeek }
    }

    /// The timestamp written through the template; nil for an infinity (PostgreSQL gives NULL).
    /// `zone`: for a `timestamptz`, `us` is the time on the session's clocks, and this their
    /// offset (seconds east) and abbreviation then.
    func format(_ us: Int64, zone: (offset: Int, abbreviation: String)? = nil) -> String? {
        if CalendarMath.isInfinite(us) { return nil }
        var m = Moment(us)
        if let zone { (m.offset, m.abbreviation) = zone }
        var out = ""
        for node in nodes {
            switch node {
            case .literal(let text): out += text
            case .field(let field, let fillMode, let ordinal, _): out += Self.text(of: field, m, fillMode: fillMode, ordinal: ordinal)
            }
        }
        return out
    }

    private static func number(_ v: Int, width: Int, fillMode: Bool, ordinal: LetterCase?) -> String {
        let digits = String(abs(v))
        var s = (v < 0 ? "-" : "") + (fillMode ? digits : String(repeating: "0", count: max(0, width - digits.count)) + digits)
        if let ordinal { s += ordinalSuffix(abs(v), ordinal) }
        return s
    }

    static func ordinalSuffix(_ v: Int, _ letterCase: LetterCase) -> String {
        let suffix: String
        switch (v % 100, v % 10) {
        case (11...13, _): suffix = "th"
        case (_, 1): suffix = "st"
        case (_, 2): suffix = "nd"
        case (_, 3): suffix = "rd"
        default: suffix = "th"
        }
        return letterCase == .upper ? suffix.uppercased() : suffix
    }

    private static func name(_ word: String, _ letterCase: LetterCase, padTo width: Int, fillMode: Bool) -> String {
        let cased = letterCase == .upper ? word.uppercased() : letterCase == .lower ? word.lowercased() : word
        return fillMode ? cased : cased.padding(toLength: max(width, cased.count), withPad: " ", startingAt: 0)
    }

    private static func text(of field: Field, _ m: Moment, fillMode fm: Bool, ordinal th: LetterCase?) -> String {
        // BC years count down from 1 (astronomical year 0 is 1 BC).
        let displayYear = m.year > 0 ? m.year : 1 - m.year
        let displayISOYear = m.isoYear > 0 ? m.isoYear : 1 - m.isoYear
        let hour = Int(m.microsOfDay / 3_600_000_000), micros = Int(m.microsOfDay % 1_000_000)
        switch field {
        case .year4: return number(displayYear, width: 4, fillMode: fm, ordinal: th)
        case .yearWithComma:
            return "\(displayYear / 1000),\(number(displayYear % 1000, width: 3, fillMode: false, ordinal: nil))" + (th.map { ordinalSuffix(displayYear, $0) } ?? "")
        case .year3: return number(displayYear % 1000, width: 3, fillMode: fm, ordinal: th)
        case .year2: return number(displayYear % 100, width: 2, fillMode: fm, ordinal: th)
        case .year1: return number(displayYear % 10, width: 1, fillMode: fm, ordinal: th)
        case .isoYear4: return number(displayISOYear, width: 4, fillMode: fm, ordinal: th)
        case .isoYear3: return number(displayISOYear % 1000, width: 3, fillMode: fm, ordinal: th)
        case .isoYear2: return number(displayISOYear % 100, width: 2, fillMode: fm, ordinal: th)
        case .isoYear1: return number(displayISOYear % 10, width: 1, fillMode: fm, ordinal: th)
        case .month: return number(m.month, width: 2, fillMode: fm, ordinal: th)
        case .monthName(let c): return name(monthNames[m.month - 1], c, padTo: 9, fillMode: fm)
        case .monthAbbreviation(let c): return name(String(monthNames[m.month - 1].prefix(3)), c, padTo: 3, fillMode: fm)
        case .romanMonth(let c): return name(romanMonths[m.month - 1], c, padTo: 4, fillMode: fm)
        case .day: return number(m.day, width: 2, fillMode: fm, ordinal: th)
        case .dayOfYear: return number(m.dayOfYear, width: 3, fillMode: fm, ordinal: th)
        case .isoDayOfYear:
            return number((m.isoWeek - 1) * 7 + m.isoDayOfWeek, width: 3, fillMode: fm, ordinal: th)
        case .dayName(let c): return name(dayNames[m.dayOfWeek], c, padTo: 9, fillMode: fm)
        case .dayAbbreviation(let c): return name(String(dayNames[m.dayOfWeek].prefix(3)), c, padTo: 3, fillMode: fm)
        case .dayOfWeek: return number(m.dayOfWeek + 1, width: 1, fillMode: fm, ordinal: th)
        case .isoDayOfWeek: return number(m.isoDayOfWeek, width: 1, fillMode: fm, ordinal: th)
        case .weekOfMonth: return number((m.day - 1) / 7 + 1, width: 1, fillMode: fm, ordinal: th)
        case .weekOfYear: return number((m.dayOfYear - 1) / 7 + 1, width: 2, fillMode: fm, ordinal: th)
        case .isoWeek: return number(m.isoWeek, width: 2, fillMode: fm, ordinal: th)
        case .quarter: return number((m.month - 1) / 3 + 1, width: 1, fillMode: fm, ordinal: th)
        case .century:
            // PostgreSQL: 2000 is in the 20th century, 2001 in the 21st; 1 BC in the -1st.
            let century = m.year > 0 ? (m.year + 99) / 100 : -((displayYear + 99) / 100)
            return number(century, width: 2, fillMode: fm, ordinal: th)
        case .julianDay: return String(m.julianDay) + (th.map { ordinalSuffix(Int(m.julianDay), $0) } ?? "")
        case .hour24: return number(hour, width: 2, fillMode: fm, ordinal: th)
        case .hour12: return number(hour % 12 == 0 ? 12 : hour % 12, width: 2, fillMode: fm, ordinal: th)
        case .minute: return number(Int(m.microsOfDay / 60_000_000 % 60), width: 2, fillMode: fm, ordinal: th)
        case .second: return number(Int(m.microsOfDay / 1_000_000 % 60), width: 2, fillMode: fm, ordinal: th)
        case .secondsOfDay: return number(Int(m.microsOfDay / 1_000_000), width: 1, fillMode: true, ordinal: th)
        case .millisecond: return number(micros / 1000, width: 3, fillMode: fm, ordinal: th)
        case .microsecond: return number(micros, width: 6, fillMode: fm, ordinal: th)
        case .fraction(let digits):
            let six = String(repeating: "0", count: 6 - String(micros).count) + String(micros)
            return String(six.prefix(digits))
        case .meridiem(let c, let dotted):
            let word = hour < 12 ? (dotted ? "A.M." : "AM") : (dotted ? "P.M." : "PM")
            return c == .lower ? word.lowercased() : word
        case .era(let c, let dotted):
            let word = m.year > 0 ? (dotted ? "A.D." : "AD") : (dotted ? "B.C." : "BC")
            return c == .lower ? word.lowercased() : word
        case .zoneName(let c): return c == .lower ? m.abbreviation.lowercased() : m.abbreviation
        case .zoneOffset: return SessionTimeZone.offsetText(m.offset / 60 * 60)  // hours and minutes: `OF` shows no seconds
        case .zoneHours: return (m.offset < 0 ? "-" : "+") + number(abs(m.offset) / 3600, width: 2, fillMode: fm, ordinal: nil)
        case .zoneMinutes: return number(abs(m.offset) / 60 % 60, width: 2, fillMode: fm, ordinal: nil)
        }
    }
}

// MARK: Parsing (to_date, to_timestamp)

extension DateTimeTemplate {
    /// The fields a parse has found; unset ones default as in PostgreSQL (year 1 BC, January, the 1st).
    private struct Found {
        var year: Int?, bc = false, century: Int?
        /// A one- or two-digit year as written (`YY`, `Y`): with `CC` it counts within that century.
        var shortYear: Int?
        var month: Int?, day: Int?, dayOfYear: Int?, julianDay: Int64?
        var isoYear: Int?, isoWeek: Int?, isoDayOfWeek: Int?, isoDayOfYear: Int?
        var hour: Int?, twelveHour = false, pm: Bool?, minute = 0, second = 0, secondsOfDay: Int?, micros = 0
        var offsetMinutes = 0
        /// An offset was read (`OF`, `TZH`): the text names an instant itself.
        var hasOffset = false
    }

    /// `input` read through the template: epoch microseconds (UTC; an `OF`/`TZH` offset is undone).
    func parse(_ input: String) throws -> Int64 { try parseWithOffset(input).instant }

    /// As `parse`, and whether the text wrote its offset (else `to_timestamp` reads its time
    /// on the session's clocks).
    func parseWithOffset(_ input: String) throws -> (instant: Int64, hasOffset: Bool) {
        guard input.utf8.count <= Self.maxTemplateBytes else {
            throw RedError(.limitExceeded, "text for a date/time template is limited to \(Self.maxTemplateBytes) bytes")
        }
        let s = Array(input.unicodeScalars)
        var i = 0
        var found = Found()
        func skipSpaces() { while i < s.count, s[i] == " " { i += 1 } }
        func rest() -> String { String(String.UnicodeScalarView(s[i...])) }

        for (index, node) in nodes.enumerated() {
            switch node {
            case .literal(let text):
                for c in text.unicodeScalars {
                    if c == " " { skipSpaces(); continue }
                    guard i < s.count else { break }
                    if Self.isSeparator(c) {
                        if Self.isSeparator(s[i]) { i += 1 }  // any one separator matches any other
                    } else {
                        i += 1  // quoted text skips as many characters as it has
                    }
                }
            case .field(let field, _, let ordinal, let keyword):
                skipSpaces()
                guard i < s.count else { continue }
                let nextIsNumber: Bool = {
                    guard index + 1 < nodes.count, case .field(let next, _, _, _) = nodes[index + 1] else { return false }
                    return Self.digitWidth(next) != nil
                }()
                if let width = Self.digitWidth(field) {
                    var j = i
                    let signed = field == .year4 || field == .julianDay || field == .zoneHours
                    let negative = signed && s[j] == "-"
                    if signed, s[j] == "-" || s[j] == "+" { j += 1 }
                    let limit = nextIsNumber ? width : 18
                    let start = j
                    while j < s.count, j - start < limit, s[j].properties.numericType == .decimal, s[j].isASCII { j += 1 }
                    if field == .yearWithComma, j < s.count, s[j] == ",", j - start <= 3 {
                        j += 1
                        while j < s.count, s[j].isASCII, s[j].properties.numericType == .decimal { j += 1 }
                    }
                    let digits = String(String.UnicodeScalarView(s[start..<j].filter { $0 != "," }))
                    guard let magnitude = Int64(digits) else {
                        throw RedError(.invalidDatetimeFormat, "invalid value \"\(rest().prefix(width))\" for \"\(keyword)\": value must be an integer")
                    }
                    let value = negative ? -magnitude : magnitude
                    try Self.store(field, value, digits: digits.count, keyword: keyword, in: &found)
                    i = j
                    // `DDth`: the ordinal suffix after the number is read and ignored.
                    if ordinal != nil, i + 2 <= s.count, s[i].properties.isAlphabetic, s[i + 1].properties.isAlphabetic { i += 2 }
                } else {
                    guard let (value, length) = Self.matchName(field, s, at: i) else {
                        throw RedError(.invalidDatetimeFormat, "invalid value \"\(rest())\" for \"\(keyword)\": it matches none of the allowed values")
                    }
                    switch field {
                    case .monthName, .monthAbbreviation, .romanMonth: found.month = value
                    case .meridiem: found.pm = value == 1
                    case .era: found.bc = value == 1
                    case .zoneOffset:
                        found.offsetMinutes = value
                        found.hasOffset = true
                    case .zoneName:
                        throw RedError(.featureNotSupported, "formatting field \"\(keyword)\" is only supported in to_char")
                    default: break  // day names are read and ignored, as in PostgreSQL
                    }
                    i += length
                }
            }
        }
        return (try Self.timestamp(from: found, input: input), found.hasOffset)
    }

    private static func isSeparator(_ c: Unicode.Scalar) -> Bool {
        !(c.properties.isAlphabetic || c.properties.numericType != nil)
    }

    /// How many digits a numeric field takes when another number follows it directly.
    private static func digitWidth(_ field: Field) -> Int? {
        switch field {
        case .year4, .isoYear4, .yearWithComma: return 4
        case .year3, .isoYear3, .dayOfYear, .isoDayOfYear, .millisecond: return 3
        case .year2, .isoYear2, .month, .day, .weekOfYear, .isoWeek, .century, .hour24, .hour12, .minute, .second: return 2
        case .year1, .isoYear1, .dayOfWeek, .isoDayOfWeek, .weekOfMonth, .quarter: return 1
        case .secondsOfDay: return 5
        case .microsecond: return 6
        case .fraction(let n): return n
        case .julianDay: return 7
        case .zoneHours: return 2
        case .zoneMinutes: return 2
        default: return nil
        }
    }

    private static func store(_ field: Field, _ value: Int64, digits: Int, keyword: String, in f: inout Found) throws {
        guard let v = Int(exactly: value), abs(v) < 1_000_000_000 || field == .julianDay else {
            throw RedError(.datetimeFieldOverflow, "value for \"\(keyword)\" is out of range")
        }
        switch field {
        case .year4, .yearWithComma: f.year = v < 0 ? v + 1 : v  // -44 is 44 BC, astronomical -43
        case .year3, .year2, .year1:
            f.year = digits >= 4 ? v : nearest2020(v)
            if digits <= 2 { f.shortYear = v }
        case .isoYear4: f.isoYear = v
        case .isoYear3, .isoYear2, .isoYear1: f.isoYear = digits >= 4 ? v : nearest2020(v)
        case .month: f.month = v
        case .day: f.day = v
        case .dayOfYear: f.dayOfYear = v
        case .isoDayOfYear: f.isoDayOfYear = v
        case .isoDayOfWeek: f.isoDayOfWeek = v
        case .isoWeek: f.isoWeek = v
        case .century: f.century = v
        case .julianDay: f.julianDay = value
        case .hour24: f.hour = v
        case .hour12: f.hour = v; f.twelveHour = true
        case .minute: f.minute = v
        case .second: f.second = v
        case .secondsOfDay: f.secondsOfDay = v
        case .millisecond: f.micros = v * 1000
        case .microsecond, .fraction: f.micros = Int((Double(v) * pow10(6 - digits)).rounded())
        case .zoneHours: f.offsetMinutes = v * 60; f.hasOffset = true
        case .zoneMinutes: f.offsetMinutes += f.offsetMinutes < 0 ? -v : v
        default: break  // D, W, WW, Q: read and ignored, as in PostgreSQL
        }
    }

    /// A year written with fewer than four digits, as PostgreSQL completes it: 0–69 in the
    /// 2000s, 70–99 in the 1900s, 100–519 in the 2000s, 520–999 in the 1000s.
    private static func nearest2020(_ year: Int) -> Int {
        switch year {
        case ..<70: return year + 2000
        case ..<100: return year + 1900
        case ..<520: return year + 2000
        case ..<1000: return year + 1000
        default: return year
        }
    }

    private static func pow10(_ n: Int) -> Double { (0..<max(0, n)).reduce(1) { r, _ in r * 10 } }

    /// A name at `i`: its value (month 1–12, 1 for PM/BC) and how many scalars it takes.
    /// Names a parse accepts, lower-cased and longest first (so "May" does not stop "March"'s
    /// reader early and "VIII" beats "V"), each with its index in the list as given.
    private struct NameList {
        let ordered: [(index: Int, scalars: [Unicode.Scalar])]
        init(_ names: [String]) {
            ordered = names.enumerated().map { ($0.offset, Array($0.element.lowercased().unicodeScalars)) }.sorted { $0.scalars.count > $1.scalars.count }
        }

        /// The index of the name at `i` in `s` (ignoring case) and its length.
        func match(_ s: [Unicode.Scalar], at i: Int) -> (Int, Int)? {
            for (index, w) in ordered where i + w.count <= s.count {
                if zip(s[i..<(i + w.count)], w).allSatisfy({ String($0.0).lowercased() == String($0.1) }) { return (index, w.count) }
            }
            return nil
        }
    }

    private static let monthNameList = NameList(monthNames), monthAbbreviationList = NameList(monthNames.map { String($0.prefix(3)) })
    private static let romanMonthList = NameList(romanMonths)
    private static let dayNameList = NameList(dayNames), dayAbbreviationList = NameList(dayNames.map { String($0.prefix(3)) })
    private static let meridiemList = NameList(["AM", "PM", "A.M.", "P.M."]), eraList = NameList(["AD", "BC", "A.D.", "B.C."])

    private static func matchName(_ field: Field, _ s: [Unicode.Scalar], at i: Int) -> (Int, Int)? {
        switch field {
        case .monthName: return monthNameList.match(s, at: i).map { ($0.0 + 1, $0.1) }
        case .monthAbbreviation: return monthAbbreviationList.match(s, at: i).map { ($0.0 + 1, $0.1) }
        case .romanMonth: return romanMonthList.match(s, at: i).map { ($0.0 + 1, $0.1) }
        case .dayName: return dayNameList.match(s, at: i)
        case .dayAbbreviation: return dayAbbreviationList.match(s, at: i)
        case .meridiem: return meridiemList.match(s, at: i).map { ($0.0 % 2, $0.1) }
        case .era: return eraList.match(s, at: i).map { ($0.0 % 2, $0.1) }
        case .zoneOffset:
            // OF: ±HH[:MM]
            var j = i
            guard j < s.count, s[j] == "+" || s[j] == "-" else { return nil }
            let sign = s[j] == "-" ? -1 : 1
            j += 1
            func digits(_ count: Int) -> Int? {
                guard j + count <= s.count, let v = Int(String(String.UnicodeScalarView(s[j..<(j + count)]))) else { return nil }
                j += count
                return v
            }
            guard let hours = digits(2) else { return nil }
            var minutes = 0
            if j < s.count, s[j] == ":" { j += 1; guard let m = digits(2) else { return nil }; minutes = m }
            return (sign * (hours * 60 + minutes), j - i)
        case .zoneName: return (0, 0)
        default: return nil
        }
    }

    private static func timestamp(from f: Found, input: String) throws -> Int64 {
        let outOfRange = RedError(.datetimeFieldOverflow, "date/time field value out of range: \"\(input)\"")
        // Far beyond PostgreSQL's range (4713 BC to 294276 AD), so the day arithmetic below cannot overflow.
        let plausibleYears = -1_000_000...1_000_000
        guard plausibleYears.contains(f.year ?? 0), plausibleYears.contains(f.isoYear ?? 0), abs(f.century ?? 0) < 10_000,
              abs(f.julianDay ?? 0) < 400_000_000, abs(f.isoWeek ?? 0) < 100_000_000, abs(f.isoDayOfYear ?? 0) < 400_000_000 else { throw outOfRange }
        // The year as counted from 1 (BC applied below), then astronomical (0 is 1 BC), as PostgreSQL reads them:
        // `CC YY` is a year of that century (`19 05` is 1805, `20 00` is 2000); `CC` alone its first year.
        var year: Int
        if let century = f.century, let short = f.shortYear {
            year = short == 0 ? century * 100 : (century - 1) * 100 + short
        } else if let century = f.century, f.year == nil {
            year = f.bc ? century * 100 : (century - 1) * 100 + 1  // 5 BC as a century is 500 BC
        } else {
            year = f.year ?? 0  // unset: 1 BC, as PostgreSQL
        }
        if f.bc, f.year != nil || f.century != nil { year = 1 - year }
        let days: Int64
        if let j = f.julianDay {
            days = j - 2_440_588
        } else if let isoYear = f.isoYear, f.isoWeek != nil || f.isoDayOfYear != nil {
            let jan4 = CalendarMath.days(year: isoYear, month: 1, day: 4)
            let firstMonday = jan4 - (((jan4 % 7) + 10) % 7)
            if let doy = f.isoDayOfYear {
                days = firstMonday + Int64(doy - 1)
            } else {
                days = firstMonday + Int64(((f.isoWeek ?? 1) - 1) * 7 + ((f.isoDayOfWeek ?? 1) - 1))
            }
        } else if let doy = f.dayOfYear, f.month == nil, f.day == nil {
            guard (1...366).contains(doy) else { throw outOfRange }
            days = CalendarMath.days(year: year, month: 1, day: 1) + Int64(doy - 1)
        } else {
            let month = f.month ?? 1, day = f.day ?? 1
            guard (1...12).contains(month), day >= 1, day <= CalendarMath.daysInMonth(year: year, month: month) else { throw outOfRange }
            days = CalendarMath.days(year: year, month: month, day: day)
        }
        var hour = f.hour ?? 0
        if f.twelveHour || f.pm != nil {
            guard f.hour == nil || (1...12).contains(hour) else {
                throw RedError(.invalidDatetimeFormat, "hour \"\(hour)\" is invalid for the 12-hour clock; use the 24-hour clock, or give an hour between 1 and 12")
            }
            if f.pm == true, hour < 12 { hour += 12 } else if f.pm == false, hour == 12 { hour = 0 }
        }
        var secondOfDay = hour * 3600 + f.minute * 60 + f.second
        if let sssss = f.secondsOfDay { secondOfDay = sssss }
        guard (0...24).contains(hour), (0...59).contains(f.minute), (0...60).contains(f.second), (0..<86_401).contains(secondOfDay),
              (0...999_999).contains(f.micros) else { throw outOfRange }
        let us = Int64(secondOfDay) * 1_000_000 + Int64(f.micros) - Int64(f.offsetMinutes) * 60_000_000
        return try CalendarMath.checkedTimestamp(CalendarMath.checkedTimestamp(days: days), plus: us)
    }
}
