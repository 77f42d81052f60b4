import Testing
import RedCore
import RedDB
import RedStorage

/// BEGIN, COMMIT and ROLLBACK answered on the caller's thread (`Session.executeWithoutWaiting`):
/// BEGIN and ROLLBACK never wait, and a COMMIT the log can make durable at once is committed
/// there, durable before it returns; one that would wait is declined with the block open and
/// unchanged, and the usual path commits it.
@Suite struct BlockControlWithoutWaitingTests: SessionTestSupport {
    @Test func aBlockAnsweredAtOnceIsDurableWhenItsCommitIs() async throws {
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/db")
        let db = try await durable(fs)
        let s = db.session()
        try await s.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, n INT)")
        #expect(try s.executeWithoutWaiting("BEGIN")?.commandTag == "BEGIN")
        #expect(s.inTransaction)
        #expect(try s.executeWithoutWaiting("BEGIN")?.message == "there is already a transaction in progress")
        try await s.execute("INSERT INTO t VALUES (1, 1), (2, 2)")
        #expect(try s.executeWithoutWaiting("COMMIT")?.commandTag == "COMMIT")
        #expect(!s.inTransaction)
        // A block rolled back there leaves nothing.
        #expect(try s.executeWithoutWaiting("BEGIN ISOLATION LEVEL REPEATABLE READ")?.commandTag == "BEGIN")
        #expect(s.isolation == .repeatableRead)
        try await s.execute("INSERT INTO t VALUES (3, 3)")
        #expect(try s.executeWithoutWaiting("ROLLBACK")?.commandTag == "ROLLBACK")
        #expect(try s.executeWithoutWaiting("COMMIT")?.message == "there is no transaction in progress")
        // Power fails right after the COMMIT's answer: the block is on disk.
        for seed in UInt64(1)...3 {
            let after = try await durable(fs.crash(seed: seed))
            #expect(try await rows(after.session(), "SELECT id FROM t ORDER BY id") == [[.integer(1)], [.integer(2)]], "seed \(seed)")
            try await after.close()
        }
        try await db.close()
    }

    /// A failed block's COMMIT rolls it back; a commit that fails (40001) ends the block as
    /// the usual path's does.
    @Test func failedBlocksAndConflictsEndTheBlockAsUsual() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("CREATE TABLE t (id INT PRIMARY KEY, n INT); INSERT INTO t VALUES (1, 0)")
        try await a.execute("BEGIN")
        #expect(await code { _ = try await a.execute("SELECT 1 / 0") } == "22012")
        #expect(try a.executeWithoutWaiting("COMMIT")?.commandTag == "ROLLBACK")
        #expect(!a.inTransaction)

        try await a.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        _ = try await a.execute("SELECT n FROM t")
        try await a.execute("UPDATE t SET n = n + 1 WHERE id = 1")
        try await b.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        _ = try await b.execute("SELECT n FROM t")
        #expect(try a.executeWithoutWaiting("COMMIT")?.commandTag == "COMMIT")
        // b read before a committed; its write of the same row conflicts.
        #expect(await code { _ = try await b.execute("UPDATE t SET n = n + 10 WHERE id = 1") } == "40001")
        #expect(try b.executeWithoutWaiting("COMMIT")?.commandTag == "ROLLBACK")
        #expect(try await rows(a, "SELECT n FROM t") == [[.integer(1)]])

        // The COMMIT itself fails there: a load (which locks no keys) meets a key another
        // session committed meanwhile. The block is over, as after the usual path's 40001.
        try await a.execute("BEGIN")
        try await a.insertRows(into: "t", columns: ["id", "n"], rows: [[.integer(2), .integer(0)]])
        try await b.execute("INSERT INTO t VALUES (2, 5)")
        #expect(await code { _ = try a.executeWithoutWaiting("COMMIT") } == "40001")
        #expect(!a.inTransaction)
        #expect(try await rows(a, "SELECT n FROM t WHERE id = 2") == [[.integer(5)]])
    }

    /// A block holding much (a load inside BEGIN) is committed by the usual path: the loop
    /// would read, apply, log and fsync all of it.
    @Test func aLargeBlocksCommitIsDeclined() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        try await s.execute("BEGIN")
        try await s.execute("INSERT INTO t SELECT i, repeat('x', 100) FROM generate_series(1, 2000) AS i")
        #expect(try s.executeWithoutWaiting("COMMIT") == nil)
        #expect(s.inTransaction)
        #expect(try await s.execute("COMMIT").commandTag == "COMMIT")
        #expect(try await rows(s, "SELECT count(*) FROM t") == [[.integer(2000)]])
    }

    /// Writes inside a block run there too. One that gives up half-way — here a DELETE whose
    /// cascade visits thousands of rows, after the parent's row was deleted — returns to the
    /// savepoint taken before it: the block is as it was, and the usual path runs it in full.
    @Test func aWriteInABlockThatGivesUpHalfWayLeavesTheBlockAsItWas() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE parent (id INT PRIMARY KEY);
            CREATE TABLE child (id INT PRIMARY KEY, parent_id INT REFERENCES parent (id) ON DELETE CASCADE);
            CREATE INDEX child_parent ON child (parent_id);
            CREATE TABLE log (id INT PRIMARY KEY, note TEXT);
            INSERT INTO parent VALUES (1), (2);
            INSERT INTO child SELECT i, 2 FROM generate_series(1, 5000) AS i;
            """)
        _ = try await s.execute("SELECT * FROM parent, child, log LIMIT 1")  // definitions cached
        #expect(try s.executeWithoutWaiting("BEGIN")?.commandTag == "BEGIN")
        #expect(try s.executeWithoutWaiting("INSERT INTO log VALUES (1, 'a') RETURNING id")?.rows == [[.integer(1)]])
        #expect(try s.executeWithoutWaiting("DELETE FROM parent WHERE id = 1")?.commandTag == "DELETE 1")
        #expect(try s.executeWithoutWaiting("DELETE FROM parent WHERE id = 2") == nil)
        #expect(s.inTransaction && !s.transactionFailed)
        #expect(try await rows(s, "SELECT id FROM parent") == [[.integer(2)]], "the declined delete is undone")
        #expect(try await rows(s, "SELECT count(*) FROM child") == [[.integer(5000)]])
        #expect(try await s.execute("DELETE FROM parent WHERE id = 2").commandTag == "DELETE 1")
        // The block now holds 5,000 deletes: a savepoint of that much costs a copy, so its
        // writes take the usual path.
        #expect(try s.executeWithoutWaiting("INSERT INTO log VALUES (2, 'b')") == nil)
        #expect(try s.executeWithoutWaiting("ROLLBACK")?.commandTag == "ROLLBACK")
        #expect(try await rows(s, "SELECT count(*) FROM parent") == [[.integer(2)]])

        // An error there aborts the block, as on the usual path.
        try await s.execute("BEGIN")
        #expect(try s.executeWithoutWaiting("INSERT INTO log VALUES (1, 'a')")?.commandTag == "INSERT 0 1")
        #expect(await code { _ = try s.executeWithoutWaiting("INSERT INTO log VALUES (1, 'dup')") } == "23505")
        #expect(s.transactionFailed)
        #expect(try s.executeWithoutWaiting("ROLLBACK")?.commandTag == "ROLLBACK")

        try await s.execute("BEGIN")
        #expect(try s.executeWithoutWaiting("DELETE FROM parent WHERE id = 1")?.commandTag == "DELETE 1")
        #expect(try s.executeWithoutWaiting("UPDATE log SET note = 'c'")?.commandTag == "UPDATE 0")
        #expect(try s.executeWithoutWaiting("COMMIT")?.commandTag == "COMMIT")
        #expect(try await rows(s, "SELECT id FROM parent") == [[.integer(2)]])
    }

    /// Deferred foreign key checks run statements at COMMIT, and a commit round under way
    /// would make the COMMIT wait: both are declined with the block still open, then
    /// committed the usual way.
    @Test func aCommitThatWouldWaitIsDeclinedWithTheBlockOpen() async throws {
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/db")
        let db = try await durable(fs)
        let a = db.session(), b = db.session()
        try await a.execute("""
            CREATE TABLE p (id INT PRIMARY KEY);
            CREATE TABLE c (id INT PRIMARY KEY, p INT REFERENCES p DEFERRABLE INITIALLY DEFERRED);
            """)
        try await a.execute("BEGIN")
        try await a.execute("INSERT INTO c VALUES (1, 1)")
        try await a.execute("INSERT INTO p VALUES (1)")
        #expect(try a.executeWithoutWaiting("COMMIT") == nil)
        #expect(a.inTransaction)
        #expect(try await a.execute("COMMIT").commandTag == "COMMIT")

        try await a.execute("BEGIN")
        try await a.execute("INSERT INTO p VALUES (2)")
        let declined = try await whileAWriteIsHeld(fs, b, "INSERT INTO p VALUES (3)") { try a.executeWithoutWaiting("COMMIT") == nil }
        #expect(declined, "a round is under way")
        #expect(a.inTransaction)
        #expect(try await a.execute("COMMIT").commandTag == "COMMIT")
        #expect(try await rows(b, "SELECT id FROM p ORDER BY id") == [[.integer(1)], [.integer(2)], [.integer(3)]])
        try await db.close()
    }
}
