import Foundation
import RedCore
import Synchronization

/// PostgreSQL's formatting and construction functions for dates and timestamps:
/// `to_char` (timestamps, dates and numbers), `to_date`, `to_timestamp` (epoch seconds, or
/// text through a template), `make_date`, `make_timestamp`, `make_timestamptz`,
/// `date_bin`, `isfinite` and `clock_timestamp`.
///
/// Timestamps carry no zone (UTC): `make_timestamptz`'s zone says where the clock time it is
/// given is read (`ZoneRule`; without one, the session's); a stride is an interval without months (or its text, or an
/// integer of milliseconds, RedDB's durations).
enum DateTimeFunctions {
    static let functions: [ScalarFunction] = {
        func make(_ name: String, _ arity: ClosedRange<Int>, deterministic: Bool = true,
                  _ body: @escaping @Sendable ([Value]) throws -> Value) -> ScalarFunction {
            ScalarFunction(name: name, arity: arity, acceptsNull: false, isDeterministicWithinStatement: deterministic) { a, _ in try body(a) }
        }
        return [
            make("to_char", 2...2) { a in
                let template = try text(a[1], "the template")
                switch a[0] {
                case .timestamp(let us): return try dateTemplates.template(template).format(us).map(Value.text) ?? .null
                case .date(let d): return try dateTemplates.template(template).format(CalendarMath.checkedTimestamp(days: Int64(d))).map(Value.text) ?? .null
                case .interval(let i): return .text(try dateTemplates.template(template).format(i))
                default: return .text(try numberTemplates.template(template).format(try NumberTemplate.number(of: a[0])))
                }
            },
            make("to_number", 2...2) { a in
                .decimal(try numberTemplates.template(try text(a[1], "the template")).parse(try text(a[0], "the number text")))
            },
            make("to_date", 2...2) { a in
                let us = try dateTemplates.template(try text(a[1], "the template")).parse(try text(a[0], "the date text"))
                return try DataType.date.coerce(.timestamp(us))
            },
            ScalarFunction(name: "to_timestamp", arity: 1...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, context in
                guard a.count == 2 else {
                    return .timestamp(try CalendarMath.checkedTimestamp(microseconds: try seconds(a[0]) * 1_000_000))
                }
                // A time without an offset (`OF`, `TZH`) is on the session's clocks, as in PostgreSQL.
                let read = try dateTemplates.template(try text(a[1], "the template")).parseWithOffset(try text(a[0], "the timestamp text"))
                return .timestamp(read.hasOffset ? read.instant : try context.timeZone.instant(of: read.instant))
            },
            make("make_date", 3...3) { a in
                let days = try calendarDay(a[0], a[1], a[2])
                return .date(Int32(clamping: days))
            },
            make("make_timestamp", 6...6) { a in .timestamp(try timestamp(a)) },
            ScalarFunction(name: "make_timestamptz", arity: 6...7, acceptsNull: false, isDeterministicWithinStatement: true) { a, context in
                let local = try timestamp(Array(a.prefix(6)))
                // The wall-clock time in the zone named (`ZoneRule`), or else on the session's clocks.
                return .timestamp(a.count == 7 ? try ZoneRule.of(a[6]).instant(of: local) : try context.timeZone.instant(of: local))
            },
            make("date_bin", 3...3) { a in
                let stride = try TimeFunctions.strideMicroseconds(a[0])
                guard stride > 0 else { throw RedError(.invalidArgument, "stride must be greater than zero") }
                let source = try TimeFunctions.microseconds(a[1]), origin = try TimeFunctions.microseconds(a[2])
                if CalendarMath.isInfinite(source) { return .timestamp(source) }  // as PostgreSQL: an infinity stays itself
                guard !CalendarMath.isInfinite(origin) else { throw RedError(.datetimeFieldOverflow, "origin out of range") }
                let (offset, overflow) = source.subtractingReportingOverflow(origin)
                guard !overflow else { throw RedError(.datetimeFieldOverflow, "timestamp out of range") }
                var bins = offset / stride
                if offset % stride < 0 { bins -= 1 }  // floor, for a source before the origin
                let (start, startOverflow) = bins.multipliedReportingOverflow(by: stride)
                guard !startOverflow else { throw RedError(.datetimeFieldOverflow, "timestamp out of range") }
                return .timestamp(try CalendarMath.checkedTimestamp(origin, plus: start))
            },
            make("isfinite", 1...1) { a in
                if case .interval = a[0] { return .boolean(true) }  // PostgreSQL 15 has no infinite intervals
                return .boolean(!CalendarMath.isInfinite(try TimeFunctions.microseconds(a[0])))
            },
            make("clock_timestamp", 0...0, deterministic: false) { _ in
                .timestamp(Int64((Date().timeIntervalSince1970 * 1_000_000).rounded(.down)))
            },
        ]
    }()

    /// Templates read once per distinct text: a statement formats every row with the same one.
    static let dateTemplates = TemplateCache(DateTimeTemplate.init)
    static let numberTemplates = TemplateCache(NumberTemplate.init)

    private static func text(_ v: Value, _ what: String) throws -> String {
        if case .text(let s) = v { return s }
        throw RedError(.datatypeMismatch, "\(what) must be text, got \(v.kindName)")
    }

    private static func seconds(_ v: Value) throws -> Double {
        if let d = v.doubleValue { return d }
        if case .text(let s) = v, let d = Double(s.trimmingSpaces()) { return d }
        throw RedError(.datatypeMismatch, "to_timestamp takes epoch seconds or (text, template), got \(v.kindName)")
    }

    private static func integer(_ v: Value, _ what: String) throws -> Int {
        switch v {
        case .integer(let i): if let n = Int(exactly: i), abs(n) < 1_000_000_000 { return n }
        case .float(let d): if d.isFinite, d == d.rounded(), abs(d) < 1e9 { return Int(d) }
        case .decimal(let d): if d.isIntegral, let i = d.truncatedInteger, abs(i) < 1_000_000_000 { return Int(i) }
        default: break
        }
        throw RedError(.datetimeFieldOverflow, "\(what) field value out of range: \(v.displayText)")
    }

    /// Days since the epoch of year/month/day; negative years are BC, as in PostgreSQL.
    private static func calendarDay(_ y: Value, _ m: Value, _ d: Value) throws -> Int64 {
        let year = try integer(y, "date"), month = try integer(m, "date"), day = try integer(d, "date")
        guard year != 0, abs(year) <= 1_000_000, (1...12).contains(month), day >= 1 else {
            throw RedError(.datetimeFieldOverflow, "date field value out of range: \(year)-\(twoDigits(month))-\(twoDigits(day))")
        }
        let astronomical = year > 0 ? year : year + 1
        guard day <= CalendarMath.daysInMonth(year: astronomical, month: month) else {
            throw RedError(.datetimeFieldOverflow, "date field value out of range: \(year)-\(twoDigits(month))-\(twoDigits(day))")
        }
        let days = CalendarMath.days(year: astronomical, month: month, day: day)
        _ = try CalendarMath.checkedTimestamp(days: days)
        return days
    }

    private static func twoDigits(_ v: Int) -> String { (0..<10).contains(v) ? "0\(v)" : "\(v)" }

    /// make_timestamp(year, month, day, hour, minute, seconds): seconds may have a fraction.
    private static func timestamp(_ a: [Value]) throws -> Int64 {
        let days = try calendarDay(a[0], a[1], a[2])
        let hour = try integer(a[3], "time"), minute = try integer(a[4], "time")
        guard let seconds = a[5].doubleValue, seconds.isFinite, (0...60).contains(seconds), (0...24).contains(hour), (0...59).contains(minute),
              hour < 24 || (minute == 0 && seconds == 0) else {
            throw RedError(.datetimeFieldOverflow, "time field value out of range: \(twoDigits(hour)):\(twoDigits(minute)):\(a[5].doubleValue.map { $0 == $0.rounded() && abs($0) < 100 ? twoDigits(Int($0)) : "\($0)" } ?? a[5].displayText)")
        }
        let us = Int64(hour * 3600 + minute * 60) * 1_000_000 + Int64((seconds * 1_000_000).rounded())
        return try CalendarMath.checkedTimestamp(CalendarMath.checkedTimestamp(days: days), plus: us)
    }
}

/// Parsed templates by their text, at most `maxEntries` (then emptied and refilled, as the
/// regular-expression cache is).
final class TemplateCache<Template: Sendable>: Sendable {
    static var maxEntries: Int { 256 }
    private let entries = Mutex<[String: Template]>([:])
    private let make: @Sendable (String) throws -> Template

    init(_ make: @escaping @Sendable (String) throws -> Template) { self.make = make }

    func template(_ text: String) throws -> Template {
        if let hit = entries.withLock({ $0[text] }) { return hit }
        let made = try make(text)
        entries.withLock { cached in
            if cached.count >= Self.maxEntries { cached.removeAll(keepingCapacity: true) }
            cached[text] = made
        }
        return made
    }
}
