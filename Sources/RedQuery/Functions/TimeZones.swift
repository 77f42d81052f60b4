import Foundation
import RedCore

/// A time zone as `AT TIME ZONE`, `timezone(zone, ts)` and `make_timestamptz(…, zone)` name
/// it, resolved as PostgreSQL resolves the text, in its order:
///
/// 1. an abbreviation of PostgreSQL's default set (`EST`, `CEST`, `IST` …, any case): a
///    fixed offset, whatever the date (`EST` is -05 in July too);
/// 2. a zone of the IANA database (`America/New_York`, `Europe/Paris`, `UTC`, `EST5EDT`;
///    any case), with its rules over time, through Foundation's zone data;
/// 3. a POSIX offset, optionally after a name (`+05`, `-03:30`, `UTC+3`, `5`): counted
///    *west* of Greenwich, as POSIX does, so `'+05'` is five hours behind UTC — the one
///    place PostgreSQL reads a sign that way.
///
/// An interval (`AT TIME ZONE INTERVAL '+05:00'`) is an offset east of Greenwich, in hours,
/// minutes and seconds only. Anything else is refused with PostgreSQL's message (22023).
/// A session's own zone (`SET TIME ZONE`, the `TimeZone` setting) is one too, named a little
/// differently (`SessionTimeZone`).
public enum ZoneRule: Sendable, Equatable {
    /// Seconds east of Greenwich.
    case fixed(Int)
    case database(TimeZone)

    /// The zone a value names: text as above, or an interval.
    static func of(_ value: Value) throws -> ZoneRule {
        switch value {
        case .text(let name): return try cache.template(name)
        case .interval(let i):
            guard i.months == 0, i.days == 0 else {
                throw RedError(.invalidArgument, "interval time zone \"\(i.text)\" must not include months or days")
            }
            return .fixed(Int(i.microseconds / 1_000_000))
        default:
            throw RedError(.datatypeMismatch, "a time zone must be text or an interval, got \(value.kindName)")
        }
    }

    /// Resolved names, kept as the statement's to_char templates are (a constant zone is read
    /// once per row).
    private static let cache = TemplateCache<ZoneRule> { try named($0) }

    public static func named(_ name: String) throws -> ZoneRule {
        let lowered = name.lowercased()
        if let seconds = abbreviations[lowered] { return .fixed(seconds) }
        // Only names of the database: Foundation would also read `UTC+3` as a zone, east of Greenwich.
        if let zone = identifiers[lowered].flatMap(TimeZone.init(identifier:)) { return .database(zone) }
        if let seconds = posixOffset(lowered) { return .fixed(seconds) }
        let shown = name.count > 64 ? name.prefix(64) + "…" : Substring(name)  // a megabyte of text is not echoed back
        throw RedError(.invalidArgument, "time zone \"\(shown)\" not recognized")
    }

    /// Seconds east of Greenwich at `instant` (epoch microseconds).
    public func offset(at instant: Int64) -> Int {
        switch self {
        case .fixed(let seconds): return seconds
        case .database(let zone): return zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant) / 1_000_000))
        }
    }

    /// The wall-clock time in this zone at `instant` (`timestamptz AT TIME ZONE zone`).
    public func localTime(of instant: Int64) throws -> Int64 {
        if CalendarMath.isInfinite(instant) { return instant }
        return try CalendarMath.checkedTimestamp(instant, plus: Int64(offset(at: instant)) * 1_000_000)
    }

    /// The instant at which this zone's clocks show `local` (`timestamp AT TIME ZONE zone`).
    /// Around a change of offset, as PostgreSQL: a time the clocks show twice (autumn) is read
    /// with the offset after the change, a time they skip (spring) with the offset before it —
    /// in both cases standard time where the change is to and from daylight saving.
    public func instant(of local: Int64) throws -> Int64 {
        if CalendarMath.isInfinite(local) { return local }
        if case .fixed(let seconds) = self { return try CalendarMath.checkedTimestamp(local, plus: -Int64(seconds) * 1_000_000) }
        // The offsets a day either side; no zone changes its offset twice within two days.
        let day = CalendarMath.microsecondsPerDay
        let before = Int64(offset(at: local &- day)) * 1_000_000, after = Int64(offset(at: local &+ day)) * 1_000_000
        func fits(_ candidate: Int64) -> Bool { Int64(offset(at: local &- candidate)) * 1_000_000 == candidate }
        let chosen = fits(after) ? after : before
        return try CalendarMath.checkedTimestamp(local, plus: -chosen)
    }

    /// `[name]±H[:MM[:SS]]` (POSIX: positive is west; the name, letters or `<…>`, is only a
    /// label), nil for anything else — also for a daylight-saving part (`UTC+3DST`), whose
    /// rules PostgreSQL would take from elsewhere.
    static func posixOffset(_ text: String) -> Int? {
        var rest = Substring(text)
        if rest.first == "<" {
            guard let close = rest.firstIndex(of: ">") else { return nil }
            rest = rest[rest.index(after: close)...]
        } else {
            rest = rest.drop { $0.isASCII && $0.isLetter }
        }
        var sign = 1
        if rest.first == "+" || rest.first == "-" {
            sign = rest.first == "-" ? -1 : 1
            rest = rest.dropFirst()
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              parts[0].count <= 3, parts.dropFirst().allSatisfy({ $0.count <= 2 }),
              let hours = Int(parts[0]), hours < 168 else { return nil }
        let minutes = parts.count > 1 ? Int(parts[1])! : 0, seconds = parts.count > 2 ? Int(parts[2])! : 0
        guard minutes < 60, seconds < 60 else { return nil }
        return -sign * (hours * 3600 + minutes * 60 + seconds)
    }

    /// The IANA zones by their lowercased names (PostgreSQL ignores case): Foundation's list
    /// and the system's zone files, which hold more (`Etc/GMT+5`, `EST5EDT`).
    static let identifiers: [String: String] = {
        var table: [String: String] = [:]
        for identifier in TimeZone.knownTimeZoneIdentifiers { table[identifier.lowercased()] = identifier }
        let root = "/usr/share/zoneinfo/"
        if let files = FileManager.default.enumerator(atPath: root) {
            for case let path as String in files where !path.hasPrefix("posix") && !path.hasPrefix("right")
                && path.first?.isUppercase == true && !path.contains(".") && table[path.lowercased()] == nil {
                table[path.lowercased()] = path
            }
        }
        return table
    }()

    /// PostgreSQL's default abbreviations (`pg_timezone_abbrevs` of a fresh 15 server) and
    /// their offsets in seconds east of Greenwich.
    static let abbreviations: [String: Int] = {
        let table = """
            acdt:37800 acsst:37800 acst:34200 act:-18000 acwst:31500 adt:-10800 aedt:39600 aesst:39600 aest:36000 \
            aft:16200 akdt:-28800 akst:-32400 almst:25200 almt:21600 amst:14400 amt:-14400 anast:43200 anat:43200 \
            arst:-10800 art:-10800 ast:-14400 awsst:32400 awst:28800 azost:0 azot:-3600 azst:14400 azt:14400 bdst:7200 \
            bdt:21600 bnt:28800 bort:28800 bot:-14400 bra:-10800 brst:-7200 brt:-10800 bst:3600 btt:21600 cadt:37800 \
            cast:34200 cct:28800 cdt:-18000 cest:7200 cet:3600 cetdst:7200 chadt:49500 chast:45900 chut:36000 ckt:-36000 \
            clst:-10800 clt:-10800 cot:-18000 cst:-21600 cxt:25200 davt:25200 ddut:36000 easst:-18000 east:-18000 \
            eat:10800 edt:-14400 eest:10800 eet:7200 eetdst:10800 egst:0 egt:-3600 est:-18000 fet:10800 fjst:46800 \
            fjt:43200 fkst:-10800 fkt:-10800 fnst:-3600 fnt:-7200 galt:-21600 gamt:-32400 gest:14400 get:14400 gft:-10800 \
            gilt:43200 gmt:0 gyt:-14400 hkt:28800 hst:-36000 ict:25200 idt:10800 iot:21600 irkst:28800 irkt:28800 \
            irt:12600 ist:7200 jayt:32400 jst:32400 kdt:36000 kgst:21600 kgt:21600 kost:39600 krast:25200 krat:25200 \
            kst:32400 lhdt:39600 lhst:37800 ligt:36000 lint:50400 lkt:19800 magst:39600 magt:39600 mart:-34200 mawt:18000 \
            mdt:-21600 mest:7200 mesz:7200 met:3600 metdst:7200 mez:3600 mht:43200 mmt:23400 mpt:36000 msd:14400 \
            msk:10800 mst:-25200 must:18000 mut:14400 mvt:18000 myt:28800 ndt:-9000 nft:-12600 novst:25200 novt:25200 \
            npt:20700 nst:-12600 nut:-39600 nzdt:46800 nzst:43200 nzt:43200 omsst:21600 omst:21600 pdt:-25200 pet:-18000 \
            petst:43200 pett:43200 pgt:36000 pht:28800 pkst:21600 pkt:18000 pmdt:-7200 pmst:-10800 pont:39600 pst:-28800 \
            pwt:32400 pyst:-10800 pyt:-10800 ret:14400 sadt:37800 sast:7200 sct:14400 sgt:28800 taht:-36000 tft:18000 \
            tjt:18000 tkt:46800 tmt:18000 tot:46800 trut:36000 tvt:43200 uct:0 ulast:32400 ulat:28800 ut:0 utc:0 \
            uyst:-7200 uyt:-10800 uzst:21600 uzt:18000 vet:-14400 vlast:36000 vlat:36000 volt:10800 vut:39600 wadt:28800 \
            wakt:43200 wast:25200 wat:3600 wdt:32400 wet:0 wetdst:3600 wft:43200 wgst:-7200 wgt:-10800 xjt:21600 \
            yakst:32400 yakt:32400 yapt:36000 yekst:21600 yekt:18000 z:0 zulu:0
            """
        var abbreviations: [String: Int] = [:]
        for entry in table.split(separator: " ") {
            let parts = entry.split(separator: ":")
            abbreviations[String(parts[0])] = Int(parts[1])!
        }
        return abbreviations
    }()
}

/// `AT TIME ZONE` in its two directions (`Binder` picks one by the operand's type, as
/// PostgreSQL's overloads do): arguments are the zone, then the timestamp.
enum TimeZoneConversion {
    /// Under a cast to `timestamp`: text becomes the time written in it, a zone after it dropped
    /// (`'2021-03-04 05:06:06+01'::timestamp` is 05:06:06, as in PostgreSQL); anything else
    /// passes to the cast as it is.
    static let localTimestampText = ScalarFunction(name: "__local_timestamp", arity: 1...1, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
        guard case .text(let text) = a[0], let us = CalendarMath.parseTimestamp(text, ignoringZone: true) else { return a[0] }
        return .timestamp(us)
    }

    /// `timestamptz AT TIME ZONE zone`: the wall-clock time there, a `timestamp`.
    static let toLocal = ScalarFunction(name: "__timezone_to_local", arity: 2...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
        guard case .timestamp(let instant) = a[1] else { throw RedError(.datatypeMismatch, "AT TIME ZONE needs a timestamp, got \(a[1].kindName)") }
        return .timestamp(try ZoneRule.of(a[0]).localTime(of: instant))
    }

    /// `timestamp AT TIME ZONE zone`: the instant the wall-clock time shows there, a `timestamptz`.
    static let toInstant = ScalarFunction(name: "__timezone_to_instant", arity: 2...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
        guard case .timestamp(let local) = a[1] else { throw RedError(.datatypeMismatch, "AT TIME ZONE needs a timestamp, got \(a[1].kindName)") }
        return .timestamp(try ZoneRule.of(a[0]).instant(of: local))
    }
}
