import Testing
@testable import RedCore

/// The interval type's text, storage and key encodings, its comparison and its calendar
/// arithmetic. Expected texts are what PostgreSQL 15 prints (IntervalStyle postgres).
@Suite struct IntervalTests {
    /// Random intervals across the fields' ranges, both signs, mixed.
    static func samples(_ count: Int) -> [Interval] {
        var state: UInt64 = 11
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        let edges: [Interval] = [Interval(), Interval(months: .max), Interval(months: .min + 1), Interval(days: .max),
                                 Interval(microseconds: .max), Interval(microseconds: .min + 1), Interval(months: 1), Interval(days: 30)]
        return edges + (0..<count).map { _ in
            let pick = next()
            let months = pick % 3 == 0 ? 0 : Int32(truncatingIfNeeded: Int64(next() % 4001) - 2000)
            let days = pick % 5 == 0 ? 0 : Int32(truncatingIfNeeded: Int64(next() % 801) - 400)
            let micros = pick % 7 == 0 ? 0 : Int64(bitPattern: next() % 400_000_000_000_000) - 200_000_000_000_000
            return Interval(months: months, days: days, microseconds: micros)
        }
    }

    @Test func printsAsPostgreSQLPrints() throws {
        let cases: [(Interval, String)] = [
            (Interval(), "00:00:00"),
            (Interval(months: 14, days: 3, microseconds: 14_706_789_000), "1 year 2 mons 3 days 04:05:06.789"),
            (Interval(months: 1), "1 mon"),
            (Interval(days: -1, microseconds: 7_200_000_000), "-1 days +02:00:00"),
            (Interval(months: -14, days: 3, microseconds: -1), "-1 years -2 mons +3 days -00:00:00.000001"),
            (Interval(microseconds: 360_000_000_000), "100:00:00"),
            (Interval(microseconds: 500), "00:00:00.0005"),
        ]
        for (interval, text) in cases { #expect(interval.text == text) }
    }

    /// Whatever is printed reads back as the same three fields.
    @Test func textReadsBackAsTheSameFields() throws {
        for interval in Self.samples(2_000) {
            #expect(try Interval.parse(interval.text) == interval, "\(interval.text)")
        }
    }

    @Test func readsPostgreSQLsInputForms() throws {
        let cases: [(String, Interval)] = [
            ("1.5 months", Interval(months: 1, days: 15)),
            ("1.5 years", Interval(months: 18)),
            ("1.5 weeks", Interval(days: 10, microseconds: 43_200_000_000)),
            ("P1Y2M3DT4H5M6.5S", Interval(months: 14, days: 3, microseconds: 14_706_500_000)),
            ("@ 1 minute ago", Interval(microseconds: -60_000_000)),
            ("- 1 day", Interval(days: -1)),
            ("-1-2", Interval(months: -14)),
            ("3 04:05:06", Interval(days: 3, microseconds: 14_706_000_000)),
            ("1:30.5", Interval(microseconds: 90_500_000)),
            ("1h 30m", Interval(microseconds: 5_400_000_000)),
            ("10", Interval(microseconds: 10_000_000)),
        ]
        for (text, interval) in cases { #expect(try Interval.parse(text) == interval, "\(text)") }
        #expect(try Interval.parse("5", qualifier: .hour) == Interval(microseconds: 18_000_000_000))
        #expect(try Interval.parse("1 day 2 hours", qualifier: .day) == Interval(days: 1))
        for bad in ["", "soon", "1 fortnight", "1e3 s", "nan s", "P", "PT", "1 day ago ago", String(repeating: "1 day ", count: 60)] {
            #expect(throws: RedError.self, "\(bad)") { try Interval.parse(bad) }
        }
        for outOfRange in ["1:70", "9999999999 years", "99999999999999999999 d", "3000000000 days"] {
            #expect { try Interval.parse(outOfRange) } throws: { ($0 as? RedError)?.code == .intervalFieldOverflow }
        }
    }

    /// A month compares as 30 days and a day as 24 hours, in `Value`'s equality, hashing,
    /// SQL comparison and the index key order alike.
    @Test func comparesByLengthEverywhere() throws {
        let month = Value.interval(Interval(months: 1)), thirtyDays = Value.interval(Interval(days: 30))
        #expect(month == thirtyDays)
        #expect(month.hashValue == thirtyDays.hashValue)
        #expect(!month.isIdentical(to: thirtyDays))
        #expect(Value.compare(month, thirtyDays) == 0)
        #expect(KeyEncoding.encode([month]) == KeyEncoding.encode([thirtyDays]))
        let values = Self.samples(500).map(Value.interval)
        for (a, b) in zip(values, values.dropFirst()) {
            let keyOrder = KeyEncoding.encode([a]).lexicographicallyPrecedes(KeyEncoding.encode([b])) ? -1 : (KeyEncoding.encode([a]) == KeyEncoding.encode([b]) ? 0 : 1)
            #expect(keyOrder == Value.sortCompare(a, b))
        }
    }

    @Test func storedValuesDecodeToTheSameFields() throws {
        for interval in Self.samples(500) {
            var writer = ByteWriter(capacity: 32)
            ValueCodec.encode(.interval(interval), into: &writer)
            #expect(writer.bytes.count <= ValueCodec.estimatedSize(.interval(interval)))
            var reader = ByteReader(writer.bytes, context: "test")
            #expect(try ValueCodec.decode(&reader).isIdentical(to: .interval(interval)))
            var skipper = ByteReader(writer.bytes, context: "test")
            try ValueCodec.skip(&skipper)
            #expect(skipper.remaining == 0)
        }
    }

    @Test func calendarArithmetic() throws {
        let jan31 = CalendarMath.days(year: 2024, month: 1, day: 31) * CalendarMath.microsecondsPerDay
        #expect(CalendarMath.formatTimestamp(try Interval(months: 1).added(to: jan31)) == "2024-02-29 00:00:00")
        #expect(CalendarMath.formatTimestamp(try Interval(months: -11).added(to: jan31)) == "2023-02-28 00:00:00")
        #expect(CalendarMath.formatTimestamp(try Interval(microseconds: 1_500).added(to: jan31)) == "2024-01-31 00:00:00.0015")
        #expect(try Interval.between(jan31 + 90_000_000_000, jan31) == Interval(days: 1, microseconds: 3_600_000_000))
        #expect(try Interval.between(jan31 + 1, jan31) == Interval(microseconds: 1))
        let feb29 = CalendarMath.days(year: 2024, month: 2, day: 29) * CalendarMath.microsecondsPerDay
        let mar31 = CalendarMath.days(year: 2024, month: 3, day: 31) * CalendarMath.microsecondsPerDay
        #expect(try Interval.age(mar31, feb29).text == "1 mon 2 days")
        #expect(try Interval.age(feb29, mar31).text == "-1 mons -2 days")
        #expect(try Interval(months: 1).multiplied(by: 1.5).text == "1 mon 15 days")
        #expect(try Interval(months: 1).divided(by: 7).text == "4 days 06:51:25.6896")
        #expect(throws: RedError.self) { try Interval(months: .max).adding(Interval(months: 1)) }
        #expect(throws: RedError.self) { try Interval(months: .max).added(to: jan31) }
        #expect(try Interval(months: 1, microseconds: -3_600_000_000).justified().text == "29 days 23:00:00")
    }

    /// IntervalStyle iso_8601, as PostgreSQL 15 writes it (each value checked there).
    @Test func iso8601TextIsPostgreSQLs() throws {
        let cases = ["1 year 2 months 3 days 04:05:06.789": "P1Y2M3DT4H5M6.789S", "-1 days +02:00:00": "P-1DT2H", "0": "PT0S",
                     "-1 year -2 mons": "P-1Y-2M", "1 hour -30 minutes": "PT30M", "-0.5 seconds": "PT-0.5S", "3 days": "P3D",
                     "-90 minutes": "PT-1H-30M"]
        for (written, iso) in cases { #expect(try Interval.parse(written).iso8601Text == iso, "\(written)") }
    }
}
