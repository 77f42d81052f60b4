import Foundation
import RedCore

/// A session's time zone: PostgreSQL's `TimeZone` setting, which `SET TIME ZONE` changes.
///
/// Every timestamp is stored as a UTC instant; the session's zone decides how an instant
/// (`timestamptz`) and a wall-clock time (`timestamp`) meet, as in PostgreSQL:
/// - an instant is shown as the time on the zone's clocks with their offset
///   (`2024-07-01 14:00:00+02`), and text read as an instant without an offset of its own is
///   a time on those clocks;
/// - converting between the two types (`::timestamp`, `::timestamptz`, `::date`), and
///   `date_trunc`, `extract`, `to_char`, `age` and adding days or months to an instant, work
///   on the zone's clocks, so a day is the zone's day, 23 or 25 hours long around a change of
///   offset;
/// - `current_date`, `localtimestamp` and `localtime` read those clocks.
///
/// The setting is named as PostgreSQL accepts it: a zone of the IANA database (any case,
/// shown as the database spells it), a POSIX offset (`UTC+3`, west of Greenwich), a number of
/// hours east (`SET TIME ZONE -7`, `5.5`) or an interval (`SET TIME ZONE INTERVAL '+05:30'
/// HOUR TO MINUTE`), the last two shown in PostgreSQL's POSIX form (`<-07>+07`). Abbreviations
/// (`CEST`) name a moment's offset, not a zone, and are refused, as PostgreSQL refuses them.
public struct SessionTimeZone: Sendable, Equatable {
    public let rule: ZoneRule
    /// The setting's value as `SHOW TimeZone` gives it.
    public let name: String

    public static let utc = SessionTimeZone(rule: .fixed(0), name: "UTC")

    /// The zone a `TimeZone` setting names; 22023 with PostgreSQL's message for anything else.
    public init(setting value: String) throws {
        let trimmed = value.trimmingSpaces()
        if let seconds = Self.hoursEast(trimmed) ?? Self.intervalEast(trimmed) {
            rule = .fixed(seconds)
            name = "<\(Self.offsetText(seconds, separator: ":"))>\(Self.offsetText(-seconds, separator: ":"))"
            return
        }
        // The zone of the database, with its rules over time (`CET` has summer time here, where
        // `AT TIME ZONE 'CET'` reads the fixed abbreviation).
        if let identifier = ZoneRule.identifiers[trimmed.lowercased()],
           let rule = TimeZone(identifier: identifier).map(ZoneRule.database) ?? (try? ZoneRule.named(identifier)) {
            self.rule = rule
            name = identifier
            return
        }
        if let seconds = ZoneRule.posixOffset(trimmed.lowercased()) {
            rule = .fixed(seconds)
            name = trimmed
            return
        }
        let shown = value.count > 64 ? value.prefix(64) + "…" : Substring(value)
        throw RedError(.invalidArgument, "invalid value for parameter \"TimeZone\": \"\(shown)\"")
    }

    private init(rule: ZoneRule, name: String) {
        self.rule = rule
        self.name = name
    }

    /// `SET TIME ZONE -7`, `'+05'`, `5.5`: hours east of Greenwich, within PostgreSQL's ±15 h.
    private static func hoursEast(_ text: String) -> Int? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.".contains($0)) }),
              let hours = Double(text), hours.isFinite, abs(hours) <= 15 + 59.0 / 60 else { return nil }
        return Int((hours * 3600).rounded())
    }

    /// `INTERVAL '+05:30' HOUR TO MINUTE` (what `SET TIME ZONE INTERVAL …` passes on): the
    /// interval's hours and minutes, east of Greenwich.
    private static func intervalEast(_ text: String) -> Int? {
        guard text.lowercased().hasPrefix("interval"), let open = text.firstIndex(of: "'"),
              let close = text[text.index(after: open)...].firstIndex(of: "'") else { return nil }
        guard let interval = try? Interval.parse(String(text[text.index(after: open)..<close])),
              interval.months == 0, interval.days == 0, interval.microseconds % 1_000_000 == 0,
              abs(interval.microseconds) < 16 * 3_600_000_000 else { return nil }
        return Int(interval.microseconds / 1_000_000)
    }

    /// `+02`, `-02:30`, `+00:09:21`: the offset as PostgreSQL writes it after a time.
    public static func offsetText(_ seconds: Int, separator: String = ":") -> String {
        let magnitude = abs(seconds)
        var text = (seconds < 0 ? "-" : "+") + pad(magnitude / 3600)
        if magnitude % 3600 != 0 { text += separator + pad(magnitude / 60 % 60) }
        if magnitude % 60 != 0 { text += separator + pad(magnitude % 60) }
        return text
    }

    private static func pad(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    // MARK: Instants in the zone

    /// An instant's text: its time on the zone's clocks and their offset then.
    public func text(ofInstant instant: Int64) -> String {
        if CalendarMath.isInfinite(instant) { return CalendarMath.formatTimestamp(instant) }
        let clock = wallClock(instant)
        return clock.text + Self.offsetText(clock.offset) + (clock.bc ? " BC" : "")
    }

    /// An instant in JSON (`to_json`): ISO 8601 with `T` and a `±HH:MM` offset, as PostgreSQL
    /// writes one (`2024-07-01T14:00:00+02:00`).
    public func jsonText(ofInstant instant: Int64) -> String {
        if CalendarMath.isInfinite(instant) { return CalendarMath.formatTimestamp(instant) }
        let clock = wallClock(instant)
        var zone = Self.offsetText(clock.offset)
        if zone.count == 3 { zone += ":00" }
        return clock.text.replacingFirstSpaceWithT() + zone + (clock.bc ? " BC" : "")
    }

    /// The time the zone's clocks show at a finite instant (without its era), their offset,
    /// and whether the year is BC. At the very ends of the range, where the clock time would
    /// leave it, the instant is shown in UTC.
    private func wallClock(_ instant: Int64) -> (text: String, offset: Int, bc: Bool) {
        var offset = rule.offset(at: instant)
        let local: Int64
        if let shifted = try? rule.localTime(of: instant) { local = shifted } else { local = instant; offset = 0 }
        var text = CalendarMath.formatTimestamp(local)
        let bc = text.hasSuffix(" BC")
        if bc { text.removeLast(3) }
        return (text, offset, bc)
    }

    /// The instant text names: with its own offset (`+02`, `Z`) or zone (`Europe/Paris`, `EST`)
    /// where it writes one, else as a time on this zone's clocks. Nil when it is no timestamp.
    public func instant(fromText text: String) -> Int64? {
        if let parts = CalendarMath.parseTimestampParts(text) {
            if CalendarMath.isInfinite(parts.local) { return parts.local }
            if let offset = parts.offsetSeconds { return try? CalendarMath.checkedTimestamp(parts.local, plus: -offset * 1_000_000) }
            return try? rule.instant(of: parts.local)
        }
        // `2024-07-01 12:00 America/New_York`, `… EST`: a zone's name after the time.
        let trimmed = text.trimmingSpaces()
        guard let space = trimmed.lastIndex(of: " "), let zone = try? ZoneRule.named(String(trimmed[trimmed.index(after: space)...])),
              let parts = CalendarMath.parseTimestampParts(String(trimmed[..<space])), parts.offsetSeconds == nil,
              !CalendarMath.isInfinite(parts.local) else { return nil }
        return try? zone.instant(of: parts.local)
    }

    /// The zone's abbreviation at `instant` (`to_char`'s `TZ`): the name a POSIX setting gives
    /// (`UTC` of `UTC+3`, `+05:30` of `<+05:30>-05:30`); for a zone of the database, its zone
    /// file's (`ZoneAbbreviations`), else the offset (`+02`), as PostgreSQL shows a zone
    /// without letters.
    public func abbreviation(at instant: Int64) -> String {
        let offset = rule.offset(at: instant)
        switch rule {
        case .fixed:
            if name.hasPrefix("<"), let close = name.firstIndex(of: ">") { return String(name[name.index(after: name.startIndex)..<close]) }
            let letters = name.prefix { $0.isASCII && $0.isLetter }
            return letters.isEmpty ? Self.offsetText(offset) : String(letters)
        case .database:
            // By the setting's name: Foundation calls UTC `GMT`.
            return ZoneAbbreviations.abbreviation(name, at: instant, offset: offset) ?? Self.offsetText(offset)
        }
    }

    /// `instant + interval` as PostgreSQL adds them: the months and days on the zone's clocks
    /// (a day later is the same time there, 23 or 25 hours later across a change of offset),
    /// then the interval's time as elapsed time.
    public func adding(_ interval: Interval, to instant: Int64) throws -> Int64 {
        guard interval.months != 0 || interval.days != 0, !CalendarMath.isInfinite(instant) else { return try interval.added(to: instant) }
        let local = try Interval(months: interval.months, days: interval.days).added(to: try localTime(of: instant))
        return try Interval(microseconds: interval.microseconds).added(to: try self.instant(of: local))
    }

    /// A value taken as an instant on the zone's clocks: text as `instant(fromText:)` reads it
    /// (its error when it is no timestamp), a date at its midnight, and a timestamp, when
    /// `timestampIsWallClock`, at that time; anything else as it is.
    public func instant(reading value: Value, timestampIsWallClock: Bool) throws -> Value {
        switch value {
        case .text(let text):
            guard let instant = instant(fromText: text) else { return try DataType.timestamp.coerce(value) }
            return .timestamp(instant)
        case .date(let day): return .timestamp(try instant(of: try CalendarMath.checkedTimestamp(days: Int64(day))))
        case .timestamp(let wallClock) where timestampIsWallClock: return .timestamp(try instant(of: wallClock))
        default: return value
        }
    }

    /// The time on the zone's clocks at `instant` (`timestamptz::timestamp`).
    public func localTime(of instant: Int64) throws -> Int64 { try rule.localTime(of: instant) }

    /// The instant the zone's clocks show `local` (`timestamp::timestamptz`).
    public func instant(of local: Int64) throws -> Int64 { try rule.instant(of: local) }
}

extension String {
    fileprivate func replacingFirstSpaceWithT() -> String {
        guard let space = firstIndex(of: " ") else { return self }
        return self[..<space] + "T" + self[index(after: space)...]
    }
}
