import RedCore

/// `statement_timeout` values as PostgreSQL reads them: a whole number with an optional unit
/// (`ms`, `s`, `min`, `h`, `d`; none means milliseconds), `0` for no timeout. Shared by
/// PG-wire `SET statement_timeout` and RedWire `SetSession`.
enum StatementTimeoutSetting {
    static let units: [(String, Int)] = [("ms", 1), ("s", 1_000), ("min", 60_000), ("h", 3_600_000), ("d", 86_400_000)]

    static func milliseconds(parsing text: String) throws -> Int {
        let trimmed = text.trimmingSpaces().lowercased()
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        let unit = String(trimmed.dropFirst(digits.count)).trimmingSpaces()
        guard !digits.isEmpty, let number = Int(digits),
              let scale = unit.isEmpty ? 1 : units.first(where: { $0.0 == unit })?.1 else {
            throw RedError(.invalidArgument,
                           "invalid value for parameter \"statement_timeout\": \"\(text)\" (a whole number of ms, s, min, h or d)")
        }
        let (milliseconds, overflow) = number.multipliedReportingOverflow(by: scale)
        guard !overflow, milliseconds <= Int(Int32.max) else {
            throw RedError(.invalidArgument, "\(text) is outside the valid range for parameter \"statement_timeout\" (0 .. 2147483647 ms)")
        }
        return milliseconds
    }
}
