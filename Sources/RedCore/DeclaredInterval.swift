/// An `interval` column's or cast's declaration: the fields it keeps (`interval hour`,
/// `interval day to second(3)`) and the digits its seconds keep (`interval(0)`).
///
/// As in PostgreSQL, a value written to one loses what lies below its last field (`'100
/// hours'` in an `interval day` is `00:00:00`, an `interval year` drops the months) and has
/// its seconds rounded half away from zero. PostgreSQL packs both into the typmod, the range's
/// field bits in the high half and the precision in the low half (0x7FFF and 0xFFFF meaning
/// "all"), which catalogs show and `format_type` reads back: `interval day to second(1)`.
extension DeclaredType {
    /// The field ranges PostgreSQL's grammar allows, as lower-case words, with their bits.
    public static let intervalRanges: [String: Int32] = [
        "year": year, "month": month, "day": day, "hour": hour, "minute": minute, "second": second,
        "year to month": year | month, "day to hour": day | hour, "day to minute": day | hour | minute,
        "day to second": day | hour | minute | second, "hour to minute": hour | minute,
        "hour to second": hour | minute | second, "minute to second": minute | second,
    ]
    private static let (month, year, day): (Int32, Int32, Int32) = (1 << 1, 1 << 2, 1 << 3)
    private static let (hour, minute, second): (Int32, Int32, Int32) = (1 << 10, 1 << 11, 1 << 12)
    private static let allFields: Int32 = 0x7FFF
    private static let allDigits: Int32 = 0xFFFF

    /// The declaration of `interval` with these fields (nil: all) and fraction digits; nil for a
    /// bare `interval`. Only a range ending in seconds takes a precision, as in PostgreSQL.
    static func intervalDeclaration(fields: String?, modifiers: [Int64]) throws -> DeclaredType? {
        guard fields != nil || !modifiers.isEmpty else { return nil }
        if let fields {
            guard intervalRanges[fields] != nil else { throw RedError(.syntaxError, "syntax error at or near \"\(fields)\"") }
            guard modifiers.isEmpty || fields.hasSuffix("second") else {
                throw RedError(.syntaxError, "interval precision is only allowed after SECOND")
            }
        }
        var declared = DeclaredType(kind: .interval, precision: try fractionDigits(modifiers, type: "INTERVAL", zone: ""))
        declared.intervalFields = fields
        return declared
    }

    /// PostgreSQL's typmod: the range's bits << 16 | the precision.
    var intervalTypmod: Int32 {
        let range = intervalFields.flatMap { Self.intervalRanges[$0] } ?? Self.allFields
        return range << 16 | (precision.map { Int32($0) } ?? Self.allDigits)
    }

    /// The declaration a typmod packs; nil for -1 or a range the grammar cannot write.
    public init?(intervalTypmod typmod: Int32) {
        guard typmod >= 0 else { return nil }
        let (range, digits) = (typmod >> 16, typmod & Self.allDigits)
        self.init(kind: .interval)
        if range != Self.allFields {
            guard let fields = Self.intervalRanges.first(where: { $0.value == range })?.key else { return nil }
            intervalFields = fields
        }
        if digits != Self.allDigits {
            guard digits <= 6 else { return nil }
            precision = Int(digits)
        }
    }

    /// `interval`, `interval(2)`, `interval day to second(1)`.
    var intervalFormatted: String {
        "interval" + (intervalFields.map { " \($0)" } ?? "") + (precision.map { "(\($0))" } ?? "")
    }

    /// information_schema's `interval_type`: `DAY TO SECOND(1)`, `HOUR`; nil without fields.
    public var intervalType: String? {
        intervalFields.map { $0.uppercased() + (precision.map { "(\($0))" } ?? "") }
    }

    /// `value` with the fields below the last one dropped and its seconds rounded.
    func fitInterval(_ value: Interval) -> Interval {
        var fitted = value
        if let last = intervalFields?.split(separator: " ").last, let unit = Interval.Unit(name: String(last)) {
            fitted = fitted.truncated(below: unit)
        }
        if let precision { fitted.microseconds = CalendarMath.roundedFraction(fitted.microseconds, toFractionDigits: precision) }
        return fitted
    }
}
