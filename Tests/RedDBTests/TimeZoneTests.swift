import Testing
import RedDB

/// What `AT TIME ZONE` is described as before it runs, which decides how PG-wire sends it:
/// PostgreSQL's overloads give a `timestamp` for an instant and a `timestamptz` for a
/// wall-clock time, and an instant moved by an interval is still one. The values themselves
/// are checked in the corpus (`time_zones.test`).
@Suite struct TimeZoneTests {
    func surfaceTypes(_ sql: String) async throws -> [String?] {
        let db = try await Database.inMemory()
        let session = db.session()
        try await session.execute("CREATE TABLE ev (id INT PRIMARY KEY, at TIMESTAMPTZ, local_at TIMESTAMP)")
        return try #require(try await session.describe(sql).columns).map(\.surfaceType)
    }

    @Test func anInstantGivesAWallClockTimeAndBack() async throws {
        let types = try await surfaceTypes("""
            SELECT at AT TIME ZONE 'Asia/Tokyo', local_at AT TIME ZONE 'Asia/Tokyo', timezone('UTC', now()), '2024-01-01' AT TIME ZONE 'UTC' FROM ev
            """)
        #expect(types == [nil, "timestamptz", nil, nil])
        let aggregated = try await surfaceTypes("""
            SELECT max(local_at) AT TIME ZONE 'UTC', max(at) AT TIME ZONE 'UTC', at AT TIME ZONE 'UTC', at FROM ev GROUP BY at
            """)
        #expect(aggregated == ["timestamptz", nil, nil, "timestamptz"])
    }

    /// generate_series of timestamps gives `timestamp` only from a `timestamp` start, as
    /// PostgreSQL resolves it; from dates, untyped text or instants, `timestamptz`.
    @Test func timestampSeriesAreInstantsUnlessStartedFromAWallClockTime() async throws {
        let types = try await surfaceTypes("""
            SELECT (SELECT max(g) FROM generate_series(timestamp '2024-01-01', timestamp '2024-01-02', interval '1 day') g),
                   (SELECT max(g) FROM generate_series(local_at, local_at, interval '1 day') g),
                   (SELECT max(g) FROM generate_series(date '2024-01-01', date '2024-01-02', interval '1 day') g),
                   (SELECT max(g) FROM generate_series('2024-01-01', '2024-01-02', interval '1 day') g),
                   (SELECT max(g) FROM generate_series(at, now(), interval '1 day') g) FROM ev
            """)
        #expect(types == [nil, nil, "timestamptz", "timestamptz", "timestamptz"])
    }

    @Test func instantsMovedByIntervalsStayInstants() async throws {
        let types = try await surfaceTypes("""
            SELECT at + interval '1 day', interval '1 hour' + at, now() - interval '5 minutes', local_at + interval '1 day',
                   date_trunc('hour', at), coalesce(at, now()), CASE WHEN id = 1 THEN at END, at - at FROM ev
            """)
        #expect(types == ["timestamptz", "timestamptz", "timestamptz", nil, "timestamptz", "timestamptz", "timestamptz", nil])
    }
}
