import Testing
import RedCore
@testable import RedDB

/// Window aggregates keep a running state while the frame's start stays put and restart when
/// it moves (`WindowNode`). Each query here is checked against the same aggregate written as a
/// correlated subquery over the rows its frame holds, on random data with ties and NULLs.
@Suite struct WindowAggregateTests {
    /// (window expression, the equivalent subquery over `u` for the row `t`); ids run 1…n.
    static let pairs: [(String, String)] = [
        ("sum(v) OVER ()", "(SELECT sum(v) FROM w u)"),
        ("count(v) OVER (PARTITION BY g)", "(SELECT count(v) FROM w u WHERE u.g = t.g)"),
        ("sum(v) OVER (ORDER BY id)", "(SELECT sum(v) FROM w u WHERE u.id <= t.id)"),
        ("max(v) OVER (ORDER BY g)", "(SELECT max(v) FROM w u WHERE u.g <= t.g)"),  // RANGE: peers share
        ("avg(v) OVER (PARTITION BY g ORDER BY id)", "(SELECT avg(v) FROM w u WHERE u.g = t.g AND u.id <= t.id)"),
        ("sum(v) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING)",
         "(SELECT sum(v) FROM w u WHERE u.id BETWEEN t.id - 2 AND t.id + 1)"),
        ("min(v) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)", "(SELECT min(v) FROM w u WHERE u.id >= t.id)"),
        ("count(*) OVER (ORDER BY g RANGE BETWEEN 1 PRECEDING AND CURRENT ROW)", "(SELECT count(*) FROM w u WHERE u.g BETWEEN t.g - 1 AND t.g)"),
        ("string_agg(v::text, ',') OVER (ORDER BY id)", "(SELECT string_agg(v::text, ',' ORDER BY id) FROM w u WHERE u.id <= t.id)"),
        ("count(DISTINCT v) OVER (ORDER BY id)", "(SELECT count(DISTINCT v) FROM w u WHERE u.id <= t.id)"),
        ("sum(v) FILTER (WHERE v % 3 = 0) OVER (PARTITION BY g)", "(SELECT sum(v) FROM w u WHERE u.g = t.g AND u.v % 3 = 0)"),
        ("count(*) FILTER (WHERE v IS NULL) OVER (ORDER BY id ROWS 3 PRECEDING)",
         "(SELECT count(*) FROM w u WHERE u.id BETWEEN t.id - 3 AND t.id AND u.v IS NULL)"),
    ]

    @Test func framesMatchTheirSubqueries() async throws {
        let s = try await Database.inMemory().session()
        _ = try await s.execute("CREATE TABLE w (id int PRIMARY KEY, g int, v int)")
        var random = VectorSearchTests.Generator(state: 0x57_1D_0E)  // replayable
        var values: [String] = []
        for id in 1...120 {
            let v = Int.random(in: 0..<5, using: &random) == 0 ? "NULL" : String(Int.random(in: -20...40, using: &random))
            values.append("(\(id), \(Int.random(in: 0..<6, using: &random)), \(v))")
        }
        _ = try await s.execute("INSERT INTO w VALUES " + values.joined(separator: ", "))
        for (window, subquery) in Self.pairs {
            let got = try await s.execute("SELECT id, \(window) FROM w t ORDER BY id").rows.map { $0.map(\.displayText) }
            let expected = try await s.execute("SELECT id, \(subquery) FROM w t ORDER BY id").rows.map { $0.map(\.displayText) }
            #expect(got.count == 120 && got == expected, "\(window)")
        }
    }

    @Test func filterAndOrderByAreRefusedWherePostgreSQLRefusesThem() async throws {
        let s = try await Database.inMemory().session()
        _ = try await s.execute("CREATE TABLE w (id int PRIMARY KEY, v int)")
        for (sql, message) in [("SELECT row_number() FILTER (WHERE v > 0) OVER () FROM w", "FILTER is not implemented for non-aggregate window functions"),
                               ("SELECT string_agg(v::text, ',' ORDER BY v) OVER () FROM w", "aggregate ORDER BY is not implemented for window functions")] {
            await #expect(throws: RedError.self, "\(sql)") { _ = try await s.execute(sql) }
            do { _ = try await s.execute(sql) } catch let error as RedError {
                #expect(error.code == .featureNotSupported && error.message == message, "\(error)")
            }
        }
    }
}
