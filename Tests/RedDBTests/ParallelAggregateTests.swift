import Synchronization
import Testing
import RedDB
@testable import RedQuery

/// An aggregate over a whole table computed in parts on several threads must give exactly what
/// one scan gives. Each test loads the same rows into two databases, one that always aggregates
/// on one thread and one that splits every table of 1,000 row ids or more into three parts, and
/// compares their answers.
@Suite struct ParallelAggregateTests {
    static let load = """
        CREATE TABLE t (id INT PRIMARY KEY, grp INT, v INT, f FLOAT, d DECIMAL, s TEXT);
        INSERT INTO t (id, grp, v, f, d, s)
        SELECT g, g % 17, CASE WHEN g % 11 = 0 THEN NULL ELSE (g * 7919) % 1000 - 300 END, g * 0.25,
               CASE WHEN g % 5 = 0 THEN NULL ELSE CAST(g AS DECIMAL) / 8 END, 'k' || ((g * 31) % 997)
        FROM generate_series(1, 5000) AS g
        """

    func databases() async throws -> (serial: Session, parallel: Session) {
        var serial = DatabaseOptions()
        serial.executionLimits.parallelScanMinimumRows = .max
        var parallel = DatabaseOptions()
        parallel.executionLimits.parallelScanMinimumRows = 1_000
        parallel.executionLimits.parallelScanParts = 3
        let a = try await Database.inMemory(options: serial).session()
        let b = try await Database.inMemory(options: parallel).session()
        try await a.execute(Self.load)
        try await b.execute(Self.load)
        return (a, b)
    }

    /// Runs `sql` on both and requires the same rows, in the same order; returns how many parts ran.
    @discardableResult
    func same(_ sql: String, _ sessions: (serial: Session, parallel: Session), sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int {
        let expected = try await sessions.serial.execute(sql).rows
        let counter = AggregateNode.PartsCounter()
        let got = try await AggregateNode.$partsCounter.withValue(counter) { try await sessions.parallel.execute(sql).rows }
        let parts = counter.value.load(ordering: .relaxed)
        #expect(got == expected, "\(sql)", sourceLocation: sourceLocation)
        #expect(!expected.isEmpty, sourceLocation: sourceLocation)
        return parts
    }

    @Test func groupsAndTotalsMatchOneScan() async throws {
        let s = try await databases()
        let queries = [
            "SELECT grp, count(*), count(v), sum(v), avg(v), min(v), max(v), min(s), max(s) FROM t GROUP BY grp",
            "SELECT count(*), sum(f), avg(f), min(f), max(f), sum(d), avg(d), min(d), max(d) FROM t",
            "SELECT grp % 3, d IS NULL, count(*), sum(d), avg(d), sum(v) FROM t WHERE v > 100 GROUP BY 1, 2",
            "SELECT count(*), sum(v), avg(v), min(s) FROM t WHERE v > 10000",  // no rows: one row of count 0 and NULLs
            "SELECT s, count(*) FROM t GROUP BY s",  // 997 groups, each seen by several parts
        ]
        for sql in queries {
            #expect(try await same(sql, s) >= 3, "\(sql) ran in parts")
        }
    }

    @Test func aTransactionSeesItsOwnWritesInEveryPart() async throws {
        let s = try await databases()
        for session in [s.serial, s.parallel] {
            try await session.execute("BEGIN")
            try await session.execute("DELETE FROM t WHERE id % 7 = 0")
            try await session.execute("UPDATE t SET v = v + 1000 WHERE id BETWEEN 2000 AND 2100")
            try await session.execute("INSERT INTO t (id, grp, v) SELECT g, 99, g FROM generate_series(5001, 5100) AS g")
        }
        #expect(try await same("SELECT grp, count(*), sum(v), max(v) FROM t GROUP BY grp", s) >= 3)
        for session in [s.serial, s.parallel] { try await session.execute("ROLLBACK") }
        #expect(try await same("SELECT grp, count(*), sum(v), max(v) FROM t GROUP BY grp", s) >= 3)
    }

    @Test func whatDoesNotMergeRunsOnOneThread() async throws {
        let s = try await databases()
        #expect(try await same("SELECT grp, count(DISTINCT v) FROM t GROUP BY grp", s) == 0)
        #expect(try await same("SELECT grp, string_agg(s, ',' ORDER BY id) FROM t GROUP BY grp", s) == 0)
        #expect(try await same("SELECT count(*) FROM t WHERE EXISTS (SELECT 1 FROM t u WHERE u.id = t.v)", s) == 0, "correlated")
        #expect(try await same("SELECT count(*) FROM t WHERE id < 100", s) == 0, "an index range, not a full scan")
    }

    /// Subqueries that do not change from row to row are run once, before the parts start, and
    /// the parts share their results: IN, NOT IN, = ANY, EXISTS and scalar subqueries.
    @Test func statementConstantSubqueriesAreSharedByTheParts() async throws {
        let s = try await databases()
        let queries = [
            "SELECT count(*) FROM t WHERE v IN (SELECT v FROM t WHERE id < 10)",
            "SELECT grp, count(*), sum(v) FROM t WHERE v NOT IN (SELECT v FROM t WHERE id % 3 = 0 AND v IS NOT NULL) GROUP BY grp",
            "SELECT count(*) FROM t WHERE s = ANY (SELECT s FROM t WHERE id % 100 = 0) OR v > (SELECT avg(v) FROM t)",
            "SELECT count(*), max(v) FROM t WHERE EXISTS (SELECT 1 FROM t WHERE v > 600)",
        ]
        for sql in queries {
            #expect(try await same(sql, s) >= 3, "\(sql) ran in parts")
        }
        // One that fails is left to the single scan: the statement fails, or not, as it does there.
        for sql in ["SELECT count(*) FROM t WHERE v > 100000 AND v IN (SELECT 1 / (id - id) FROM t)",
                    "SELECT count(*) FROM t WHERE v IN (SELECT 1 / (id - id) FROM t)"] {
            func outcome(_ session: Session) async -> String {
                do { return "\(try await session.execute(sql).rows)" } catch { return "\(error)" }
            }
            #expect(await outcome(s.serial) == outcome(s.parallel), "\(sql)")
        }
    }

    @Test func anOverflowIsTheSameErrorInParts() async throws {
        let s = try await databases()
        for session in [s.serial, s.parallel] {
            try await session.execute("CREATE TABLE big (id INT PRIMARY KEY, v BIGINT)")
            try await session.execute("INSERT INTO big (id, v) SELECT g, 9223372036854775807 / 2000 FROM generate_series(1, 3000) AS g")
        }
        for session in [s.serial, s.parallel] {
            await #expect(throws: RedError.self) { try await session.execute("SELECT sum(v) FROM big") }
        }
        #expect(try await same("SELECT count(*), max(v), avg(v) FROM big", s) >= 3)
    }
}
