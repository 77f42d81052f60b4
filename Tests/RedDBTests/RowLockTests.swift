import Foundation
import Testing
import RedDB

/// `SELECT … FOR UPDATE / FOR SHARE [OF …] [NOWAIT | SKIP LOCKED]` across sessions of one
/// database: who waits for whom, what a wait ends with under snapshot isolation, UPDATE and
/// DELETE waiting for locked rows, the queue pattern, and the forms that are refused.
@Suite struct RowLockTests: SessionTestSupport {
    func makeDatabase() async throws -> Database {
        let db = try await Database.inMemory()
        try await db.session().execute("""
            CREATE TABLE jobs (id INT PRIMARY KEY, status TEXT NOT NULL, n INT NOT NULL DEFAULT 0, owner INT);
            INSERT INTO jobs (id, status) VALUES (1, 'queued'), (2, 'queued'), (3, 'queued'), (4, 'done')
            """)
        return db
    }

    func error(_ body: () async throws -> Void) async -> RedError? {
        do { try await body(); return nil } catch let e as RedError { return e } catch { return nil }
    }

    @Test func aLockedRowMakesAnotherLockerWaitUntilTheTransactionEnds() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        #expect(try await rows(a, "SELECT id, status FROM jobs WHERE id = 1 FOR UPDATE") == [[.integer(1), .text("queued")]])
        #expect(try await rows(b, "SELECT id FROM jobs WHERE id = 2 FOR UPDATE") == [[.integer(2)]], "other rows are free")
        let waiting = Task { try await rows(b, "SELECT id, status FROM jobs WHERE id = 1 FOR UPDATE") }
        try await waitUntilWaiting(db, b)
        try await a.execute("COMMIT")
        #expect(try await waiting.value == [[.integer(1), .text("queued")]], "the row was not changed: the waiter gets it")
    }

    @Test func aRowTheHolderChangedFailsAWaitingBlockWith40001() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await a.execute("SELECT * FROM jobs WHERE id = 1 FOR UPDATE")
        try await b.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")  // READ COMMITTED re-reads instead (ReadCommittedTests)
        try await b.execute("SELECT count(*) FROM jobs")  // b's snapshot is now taken
        let waiting = Task { try await rows(b, "SELECT n FROM jobs WHERE id = 1 FOR UPDATE") }
        try await waitUntilWaiting(db, b)
        try await a.execute("UPDATE jobs SET n = n + 1 WHERE id = 1")
        try await a.execute("COMMIT")
        let failure = await error { _ = try await waiting.value }
        #expect(failure?.sqlState == "40001")
        #expect(failure?.message == "could not serialize access due to concurrent update")
        try await b.execute("ROLLBACK")
        #expect(try await rows(b, "SELECT n FROM jobs WHERE id = 1 FOR UPDATE") == [[.integer(1)]], "a new snapshot sees the change")
    }

    @Test func anUpdateWaitsForTheLockAndLosesNoUpdate() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session(), c = db.session()
        try await a.execute("BEGIN")
        #expect(try await rows(a, "SELECT n FROM jobs WHERE id = 1 FOR UPDATE") == [[.integer(0)]])
        // Autocommit: waits, finds the row changed, runs again on a fresh snapshot.
        let autocommit = Task { try await b.execute("UPDATE jobs SET n = n + 10 WHERE id = 1").rowsAffected }
        try await waitUntilWaiting(db, b)
        // In a block, before the statement's first write: waits as well.
        try await c.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        let inBlock = Task { try await c.execute("DELETE FROM jobs WHERE id = 1").rowsAffected }
        try await waitUntilWaiting(db, c)
        try await a.execute("UPDATE jobs SET n = n + 1 WHERE id = 1")
        try await a.execute("COMMIT")
        #expect(try await autocommit.value == 1)
        #expect(await code { _ = try await inBlock.value } == "40001", "the block's snapshot predates a's change")
        try await c.execute("ROLLBACK")
        #expect(try await rows(a, "SELECT n FROM jobs WHERE id = 1") == [[.integer(11)]])
    }

    @Test func aBlockWaitingForARowThatWasNotChangedGoesOn() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await a.execute("SELECT * FROM jobs WHERE id = 2 FOR UPDATE")
        try await b.execute("BEGIN")
        try await b.execute("UPDATE jobs SET n = 5 WHERE id = 3")
        let waiting = Task { try await b.execute("UPDATE jobs SET n = 7 WHERE id = 2").rowsAffected }
        try await waitUntilWaiting(db, b)
        try await a.execute("ROLLBACK")
        #expect(try await waiting.value == 1)
        try await b.execute("COMMIT")
        #expect(try await rows(a, "SELECT id, n FROM jobs WHERE id IN (2, 3) ORDER BY id") == [[.integer(2), .integer(7)], [.integer(3), .integer(5)]])
    }

    @Test func nowaitFailsAtOnceAndSkipLockedLeavesTheRowOut() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        #expect(try await rows(a, "SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED") == [[.integer(1)]])
        let failure = await error { _ = try await b.execute("SELECT * FROM jobs WHERE id = 1 FOR UPDATE NOWAIT") }
        #expect(failure?.sqlState == "55P03")
        #expect(failure?.message == "could not obtain lock on row in relation \"jobs\"")
        #expect(try await rows(b, "SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED") == [[.integer(2)]],
                "the skipped row does not count towards the LIMIT")
        #expect(try await rows(b, "SELECT id FROM jobs WHERE status = 'queued' ORDER BY id FOR UPDATE SKIP LOCKED") == [[.integer(2)], [.integer(3)]])
        try await a.execute("COMMIT")
        #expect(try await rows(b, "SELECT id FROM jobs WHERE id = 1 FOR UPDATE NOWAIT") == [[.integer(1)]])
    }

    @Test func sharedLocksCoexistAndKeepUpdatesOut() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session(), c = db.session()
        try await a.execute("BEGIN")
        try await a.execute("SELECT * FROM jobs WHERE id = 1 FOR SHARE")
        try await b.execute("BEGIN")
        #expect(try await rows(b, "SELECT id FROM jobs WHERE id = 1 FOR KEY SHARE NOWAIT") == [[.integer(1)]])
        #expect(await code { _ = try await c.execute("SELECT * FROM jobs WHERE id = 1 FOR NO KEY UPDATE NOWAIT") } == "55P03")
        try await a.execute("COMMIT")
        #expect(await code { _ = try await c.execute("SELECT * FROM jobs WHERE id = 1 FOR UPDATE NOWAIT") } == "55P03", "b still shares it")
        try await b.execute("COMMIT")
        #expect(try await rows(c, "SELECT id FROM jobs WHERE id = 1 FOR UPDATE NOWAIT") == [[.integer(1)]])
    }

    @Test func lockingRowsInOppositeOrdersIsADeadlock() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await b.execute("BEGIN")
        try await a.execute("SELECT * FROM jobs WHERE id = 1 FOR UPDATE")
        try await b.execute("SELECT * FROM jobs WHERE id = 2 FOR UPDATE")
        let waiting = Task { try await b.execute("SELECT * FROM jobs WHERE id = 1 FOR UPDATE") }
        try await waitUntilWaiting(db, b)
        let failure = await error { _ = try await a.execute("UPDATE jobs SET n = 1 WHERE id = 2") }
        #expect(failure?.sqlState == "40P01")
        #expect(failure?.detail?.contains("a row of relation \"jobs\"") == true)
        try await a.execute("ROLLBACK")
        _ = try await waiting.value
        try await b.execute("COMMIT")
    }

    @Test func rollbackAndRollbackToSavepointGiveRowsBack() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await a.execute("SELECT * FROM jobs WHERE id = 1 FOR UPDATE")
        try await a.execute("SAVEPOINT s")
        try await a.execute("SELECT * FROM jobs WHERE id IN (2, 1) FOR UPDATE")
        try await a.execute("ROLLBACK TO SAVEPOINT s")
        #expect(try await rows(b, "SELECT id FROM jobs WHERE id = 2 FOR UPDATE NOWAIT") == [[.integer(2)]])
        #expect(await code { _ = try await b.execute("SELECT id FROM jobs WHERE id = 1 FOR UPDATE NOWAIT") } == "55P03",
                "locked before the savepoint: still held")
        try await a.execute("ROLLBACK")
        #expect(try await rows(b, "SELECT id FROM jobs WHERE id = 1 FOR UPDATE NOWAIT") == [[.integer(1)]])
    }

    @Test func ofLocksOnlyTheNamedTablesOfAJoin() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("CREATE TABLE owners (id INT PRIMARY KEY, name TEXT); INSERT INTO owners VALUES (10, 'ada')")
        try await a.execute("UPDATE jobs SET owner = 10 WHERE id = 1")
        try await a.execute("BEGIN")
        #expect(try await rows(a, "SELECT j.id, o.name FROM jobs j JOIN owners o ON o.id = j.owner FOR UPDATE OF j") == [[.integer(1), .text("ada")]])
        #expect(try await rows(b, "SELECT name FROM owners FOR UPDATE NOWAIT") == [[.text("ada")]])
        #expect(await code { _ = try await b.execute("SELECT id FROM jobs WHERE id = 1 FOR SHARE NOWAIT") } == "55P03")
        // Without OF every table is locked; a LEFT JOIN's missing side locks nothing.
        #expect(try await rows(a, "SELECT j.id FROM jobs j LEFT JOIN owners o ON o.id = j.owner WHERE j.id = 4 FOR UPDATE") == [[.integer(4)]])
        try await a.execute("COMMIT")
    }

    @Test func lockingInReadOnlyTransactionsAndUnsupportedShapesIsRefused() async throws {
        let db = try await makeDatabase()
        let s = db.session()
        try await s.execute("BEGIN READ ONLY")
        let readOnly = await error { _ = try await s.execute("SELECT * FROM jobs FOR UPDATE") }
        #expect(readOnly?.sqlState == "25006")
        #expect(readOnly?.message == "cannot execute SELECT FOR UPDATE in a read-only transaction")
        try await s.execute("ROLLBACK")
        let refused: [(String, String, String)] = [
            ("SELECT count(*) FROM jobs FOR UPDATE", "0A000", "FOR UPDATE is not allowed with aggregate functions"),
            ("SELECT status FROM jobs GROUP BY status FOR SHARE", "0A000", "FOR SHARE is not allowed with GROUP BY clause"),
            ("SELECT DISTINCT status FROM jobs FOR UPDATE", "0A000", "FOR UPDATE is not allowed with DISTINCT clause"),
            ("SELECT id, row_number() OVER () FROM jobs FOR UPDATE", "0A000", "FOR UPDATE is not allowed with window functions"),
            ("SELECT id FROM jobs UNION SELECT id FROM jobs FOR UPDATE", "0A000", "FOR UPDATE is not allowed with UNION/INTERSECT/EXCEPT"),
            ("VALUES (1) FOR NO KEY UPDATE", "0A000", "FOR NO KEY UPDATE cannot be applied to VALUES"),
            ("SELECT * FROM jobs FOR UPDATE OF nowhere", "42P01", "relation \"nowhere\" in FOR UPDATE clause not found in FROM clause"),
            ("SELECT * FROM jobs FOR UPDATE SKIP", "42601", ""),
        ]
        for (sql, state, message) in refused {
            let failure = await error { _ = try await s.execute(sql) }
            #expect(failure?.sqlState == state, "\(sql)")
            if !message.isEmpty { #expect(failure?.message == message, "\(sql)") }
        }
        #expect(try await rows(s, "SELECT 1 FOR UPDATE") == [[.integer(1)]], "no table, nothing to lock")
        #expect(try await s.execute("EXPLAIN SELECT id FROM jobs ORDER BY n LIMIT 1 FOR UPDATE SKIP LOCKED").rows.map { $0[0] }
                == [.text("Limit"), .text("  ->  LockRows"), .text("    ->  Sort"), .text("      ->  Seq Scan on jobs")])
    }

    @Test func viewsSubqueriesAndNestedClausesLockTheRowsUnderneath() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("CREATE VIEW queued AS SELECT id, status FROM jobs WHERE status = 'queued'")
        try await a.execute("BEGIN")
        #expect(try await rows(a, "SELECT id FROM queued ORDER BY id LIMIT 1 FOR UPDATE") == [[.integer(1)]])
        #expect(try await rows(b, "SELECT id FROM queued ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED") == [[.integer(2)]])
        #expect(await code { _ = try await b.execute("SELECT id FROM (SELECT id FROM jobs) s WHERE id = 1 FOR UPDATE OF s NOWAIT") } == "55P03")
        #expect(await code { _ = try await b.execute("(SELECT id FROM jobs WHERE id = 1) FOR UPDATE NOWAIT") } == "55P03")
        #expect(await code { _ = try await b.execute("WITH c AS (SELECT id FROM jobs WHERE id = 1 FOR UPDATE NOWAIT) SELECT * FROM c") } == "55P03")
        #expect(try await rows(b, "SELECT j.id FROM queued v, jobs j WHERE v.id = j.id AND j.id = 1 FOR UPDATE OF j SKIP LOCKED").isEmpty,
                "OF j locks only j's row, which a holds")
        // Nested clauses lock as a write would: refused where writes are.
        try await b.execute("BEGIN READ ONLY")
        for sql in ["WITH c AS (SELECT id FROM jobs WHERE id = 3 FOR UPDATE) SELECT * FROM c",
                    "SELECT * FROM jobs WHERE id = (SELECT id FROM jobs WHERE id = 3 FOR SHARE)",
                    "SELECT * FROM (SELECT id FROM jobs FOR UPDATE) s"] {
            #expect(await code { _ = try await b.execute(sql) } == "25006", "\(sql)")
            try await b.execute("ROLLBACK")
            try await b.execute("BEGIN READ ONLY")
        }
        try await b.execute("ROLLBACK")
        // A row locked again and again by one transaction stays one lock: ROLLBACK frees it.
        for _ in 0..<50 { _ = try await rows(a, "SELECT id FROM jobs WHERE id = 1 FOR UPDATE") }
        try await a.execute("ROLLBACK")
        #expect(try await rows(b, "SELECT id FROM jobs WHERE id = 1 FOR UPDATE NOWAIT") == [[.integer(1)]])
    }

    @Test func lockTimeoutEndsARowWait() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await a.execute("SELECT * FROM jobs WHERE id = 1 FOR UPDATE")
        b.lockTimeout = { 100 }
        #expect(await code { _ = try await b.execute("SELECT * FROM jobs WHERE id = 1 FOR UPDATE") } == "55P03")
        #expect(await code { _ = try await b.execute("UPDATE jobs SET n = 1 WHERE id = 1") } == "55P03")
        try await a.execute("COMMIT")
        #expect(try await b.execute("UPDATE jobs SET n = 1 WHERE id = 1").rowsAffected == 1)
    }

    @Test func documentRowsLockToo() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("CREATE DOCUMENT notes")
        try await a.execute("INSERT INTO notes DOCUMENT VALUES ({\"title\": \"x\"})")
        try await a.execute("BEGIN")
        #expect(try await rows(a, "SELECT rid FROM notes FOR UPDATE").count == 1)
        #expect(await code { _ = try await b.execute("SELECT rid FROM notes FOR UPDATE NOWAIT") } == "55P03")
        try await a.execute("COMMIT")
    }

    /// The job-queue pattern: workers claim jobs concurrently until none are left, half with
    /// one statement, half with a transaction block (pick, then claim). SKIP LOCKED hands every
    /// job to exactly one worker, and no block ever fails: a job another worker holds or has
    /// just claimed is skipped, so no two blocks write the same row. (Without row locks two
    /// blocks would pick the same job and the later commit would fail with 40001.)
    @Test func workersClaimEveryJobExactlyOnce() async throws {
        let db = try await Database.inMemory()
        let setup = db.session()
        try await setup.execute("CREATE TABLE queue (id INT PRIMARY KEY, status TEXT NOT NULL, worker INT)")
        try await setup.execute("INSERT INTO queue (id, status) SELECT g, 'queued' FROM generate_series(1, 80) g")
        let claimed = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for worker in 1...4 {
                let session = db.session()
                group.addTask {
                    var mine: [Int64] = []
                    while true {
                        let id: Int64?
                        if worker % 2 == 1 {
                            let result = try await session.execute("""
                                UPDATE queue SET status = 'running', worker = $1
                                WHERE id = (SELECT id FROM queue WHERE status = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
                                RETURNING id
                                """, parameters: [.integer(Int64(worker))])
                            if case .integer(let claimed)? = result.rows.first?.first { id = claimed } else { id = nil }
                        } else {
                            try await session.execute("BEGIN")
                            let picked = try await session.execute(
                                "SELECT id FROM queue WHERE status = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED").rows
                            if case .integer(let claimed)? = picked.first?.first {
                                try await session.execute("UPDATE queue SET status = 'running', worker = $1 WHERE id = $2",
                                                          parameters: [.integer(Int64(worker)), .integer(claimed)])
                                id = claimed
                            } else {
                                id = nil
                            }
                            try await session.execute("COMMIT")
                        }
                        guard let id else { return mine }
                        mine.append(id)
                    }
                }
            }
            var all: [[Int64]] = []
            for try await ids in group { all.append(ids) }
            return all
        }
        let ids = claimed.flatMap { $0 }
        #expect(ids.sorted() == Array(1...80), "every job once, none twice")
        #expect(try await rows(setup, "SELECT count(*) FROM queue WHERE status = 'running' AND worker IS NOT NULL") == [[.integer(80)]])
    }
}
