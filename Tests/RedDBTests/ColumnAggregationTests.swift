import Testing
import RedDB
@testable import RedQuery

/// A GROUP BY whose keys and arguments are plain columns reads them by position
/// (`ColumnAggregation`); it must answer exactly as the general path, which evaluates them as
/// expressions. Each query is run twice: as written, and with every key and argument wrapped
/// in an expression that keeps its value (`+ 0`, `|| ''`), which takes the general path.
@Suite struct ColumnAggregationTests: SessionTestSupport {
    static let load = """
        CREATE TABLE t (id INT PRIMARY KEY, grp INT, v INT, f FLOAT, d DECIMAL, s TEXT);
        INSERT INTO t (id, grp, v, f, d, s)
        SELECT g, CASE WHEN g % 13 = 0 THEN NULL ELSE g % 7 END,
               CASE WHEN g % 11 = 0 THEN NULL ELSE (g * 7919) % 1000 - 300 END, g * 0.25,
               CASE WHEN g % 5 = 0 THEN NULL ELSE CAST(g AS DECIMAL) / 8 END,
               CASE WHEN g % 17 = 0 THEN NULL ELSE 'k' || ((g * 31) % 23) END
        FROM generate_series(1, 3000) AS g
        """

    func session() async throws -> Session {
        var options = DatabaseOptions()
        options.executionLimits.parallelScanMinimumRows = .max  // one scan: the paths compared alone
        let session = try await Database.inMemory(options: options).session()
        try await session.execute(Self.load)
        return session
    }

    @Test func columnsReadByPositionAnswerAsExpressionsDo() async throws {
        let s = try await session()
        let pairs = [
            ("SELECT grp, count(*), count(v), sum(v), avg(v), min(v), max(v), min(s), max(s) FROM t GROUP BY grp",
             "SELECT grp + 0, count(*), count(v + 0), sum(v + 0), avg(v + 0), min(v + 0), max(v + 0), min(s || ''), max(s || '') FROM t GROUP BY grp + 0"),
            ("SELECT grp, s, count(*), sum(f), avg(d), sum(d) FROM t GROUP BY grp, s ORDER BY 1, 2",
             "SELECT grp + 0, s || '', count(*), sum(f + 0), avg(d + 0), sum(d + 0) FROM t GROUP BY grp + 0, s || '' ORDER BY 1, 2"),
            ("SELECT count(*), count(s), sum(v), min(f), max(d), string_agg(s, ',') FROM t",
             "SELECT count(*), count(s || ''), sum(v + 0), min(f + 0), max(d + 0), string_agg(s || '', ',') FROM t"),
            ("SELECT count(*), sum(v), avg(v), max(s) FROM t WHERE v > 100000",  // no rows: count 0 and NULLs
             "SELECT count(*), sum(v + 0), avg(v + 0), max(s || '') FROM t WHERE v > 100000"),
            ("SELECT grp, count(*) FROM t WHERE v > 100000 GROUP BY grp",  // no rows, no groups
             "SELECT grp + 0, count(*) FROM t WHERE v > 100000 GROUP BY grp + 0"),
            ("SELECT s, bool_or(v > 0), array_agg(id) FROM (SELECT * FROM t WHERE id < 40) AS x GROUP BY s ORDER BY s",
             "SELECT s || '', bool_or(v > 0), array_agg(id + 0) FROM (SELECT * FROM t WHERE id < 40) AS x GROUP BY s || '' ORDER BY 1"),
        ]
        for (columns, expressions) in pairs {
            let expected = try await s.execute(expressions).rows
            #expect(try await s.execute(columns).rows == expected, "\(columns)")
        }
    }

    @Test func anIntegerSumThatOverflowsFailsOnEitherPath() async throws {
        let s = try await session()
        try await s.execute("CREATE TABLE big (k INT, n BIGINT); INSERT INTO big VALUES (1, 9223372036854775807), (1, 1)")
        let columns = await code { try await s.execute("SELECT k, sum(n) FROM big GROUP BY k") }
        #expect(columns == "22003")
        #expect(await code { try await s.execute("SELECT k + 0, sum(n + 0) FROM big GROUP BY k + 0") } == columns)
    }

    @Test func onlyPlainColumnsWithoutModifiersTakeThePositionalPath() {
        let sum = AggregateCall(kind: .sum, arguments: [.column(1)], distinct: false)
        let countStar = AggregateCall(kind: .countStar, arguments: [], distinct: false)
        #expect(ColumnAggregation(groupKeys: [.column(0)], aggregates: [sum, countStar])?.arguments == [1, nil])
        #expect(ColumnAggregation(groupKeys: [], aggregates: [sum]) != nil)
        #expect(ColumnAggregation(groupKeys: [.constant(.integer(1))], aggregates: [sum]) == nil, "a key that is not a column")
        #expect(ColumnAggregation(groupKeys: [.column(0)], aggregates: [AggregateCall(kind: .sum, arguments: [.column(1)], distinct: true)]) == nil)
        var filtered = sum
        filtered.filter = .constant(.boolean(true))
        #expect(ColumnAggregation(groupKeys: [.column(0)], aggregates: [filtered]) == nil)
        #expect(ColumnAggregation(groupKeys: [.column(0)], aggregates: [AggregateCall(kind: .stringAgg, arguments: [.column(1), .constant(.text(","))], distinct: false)]) == nil)
    }
}
