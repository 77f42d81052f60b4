/// Durations written as text — `'5m'`, `'30 seconds'`, `'1500ms'` — as SQL clauses (`WITH TTL`,
/// `CACHE TTL`) and settings (`ask.cache.default_ttl`) take them.
public enum DurationText {
    /// Milliseconds per unit: us/ms/s/m/h/d/w and their long forms.
    public static func millisecondsPerUnit(_ unit: String) -> Double? {
        switch unit {
        case "us", "usec", "usecs", "microsecond", "microseconds": return 0.001
        case "ms", "msec", "msecs", "millisecond", "milliseconds": return 1
        case "s", "sec", "secs", "second", "seconds": return 1000
        case "m", "min", "mins", "minute", "minutes": return 60_000
        case "h", "hr", "hrs", "hour", "hours": return 3_600_000
        case "d", "day", "days": return 86_400_000
        case "w", "week", "weeks": return 604_800_000
        default: return nil
        }
    }

    /// A number and an optional unit (`defaultUnitMilliseconds` when none), in whole
    /// milliseconds; nil when the text is not one, negative or too large.
    public static func milliseconds(_ text: String, defaultUnitMilliseconds: Double = 1000) -> Int64? {
        let trimmed = text.trimmingSpaces().lowercased()
        let number = trimmed.prefix { $0.isNumber || $0 == "." }
        let unit = String(trimmed.dropFirst(number.count)).trimmingSpaces()
        guard let amount = Double(number), let scale = unit.isEmpty ? defaultUnitMilliseconds : millisecondsPerUnit(unit) else { return nil }
        let ms = amount * scale
        guard ms.isFinite, ms >= 0, ms < 9e15 else { return nil }
        return Int64(ms.rounded())
    }
}
