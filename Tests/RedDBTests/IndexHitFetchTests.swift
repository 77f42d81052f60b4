import Testing
import RedDB

/// An index scan whose hits come in ascending row-id order steps a cursor through the rows
/// instead of looking each up (`IndexHitFetcher`); it must find exactly the rows a lookup
/// finds: none deleted, every one the transaction wrote itself, none committed after a
/// REPEATABLE READ snapshot. Each query is compared with the same query written so that it
/// reads the whole table instead (`id + 0`).
@Suite struct IndexHitFetchTests {
    func makeSession() async throws -> (Database, Session) {
        let db = try await Database.inMemory()
        let s = db.session()
        // Ids ascending with rids, with gaps of 1 to 60 deleted rows (some beyond the cursor's reach).
        try await s.execute("""
            CREATE TABLE t (id INT PRIMARY KEY, v INT, note TEXT);
            INSERT INTO t SELECT g, g % 7, 'n' || g FROM generate_series(1, 3000) AS g;
            DELETE FROM t WHERE id % 97 < (id / 97) % 61
            """)
        return (db, s)
    }

    func same(_ s: Session, _ indexed: String, _ whole: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let plan = try await s.execute("EXPLAIN " + indexed).rows.map { $0.map(\.displayText).joined() }.joined(separator: " ")
        #expect(plan.contains("Index"), "\(indexed) reads the index: \(plan)", sourceLocation: sourceLocation)
        let expected = try await s.execute(whole).rows
        #expect(!expected.isEmpty, sourceLocation: sourceLocation)
        #expect(try await s.execute(indexed).rows == expected, "\(indexed)", sourceLocation: sourceLocation)
    }

    let queries = [
        ("SELECT id, v, note FROM t WHERE v = 3 ORDER BY id LIMIT 100000", "SELECT id, v, note FROM t WHERE v = 3 ORDER BY id + 0 LIMIT 100000"),
        ("SELECT id, note FROM t WHERE id BETWEEN 200 AND 2600", "SELECT id, note FROM t WHERE id + 0 BETWEEN 200 AND 2600 ORDER BY id"),
        ("SELECT id FROM t WHERE id IN (5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 90, 91)",
         "SELECT id FROM t WHERE id + 0 IN (5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 90, 91) ORDER BY id"),
    ]

    @Test func rowsReachedThroughTheCursorAreThoseALookupFinds() async throws {
        let (_, s) = try await makeSession()
        for (indexed, whole) in queries { try await same(s, indexed, whole) }
    }

    @Test func aTransactionsOwnWritesAreSeenThroughTheCursor() async throws {
        let (_, s) = try await makeSession()
        try await s.execute("BEGIN")
        try await s.execute("UPDATE t SET v = 3, note = 'changed' WHERE id % 5 = 0")
        try await s.execute("DELETE FROM t WHERE id % 9 = 0")
        try await s.execute("INSERT INTO t SELECT g, 3, 'new' FROM generate_series(3001, 3200) AS g")
        for (indexed, whole) in queries { try await same(s, indexed, whole) }
        try await s.execute("ROLLBACK")
    }

    @Test func aRepeatableReadSnapshotKeepsSeeingWhatItSaw() async throws {
        let (db, s) = try await makeSession()
        try await s.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        let before = try await s.execute(queries[0].1).rows
        let other = db.session()
        try await other.execute("DELETE FROM t WHERE id % 4 = 0")
        try await other.execute("UPDATE t SET v = 3 WHERE id % 6 = 1")
        #expect(try await s.execute(queries[0].0).rows == before)
        for (indexed, whole) in queries { try await same(s, indexed, whole) }
        try await s.execute("COMMIT")
        for (indexed, whole) in queries { try await same(s, indexed, whole) }
    }
}
