import Testing
import RedCore
import RedDB
import RedStorage

/// BEGIN, COMMIT and ROLLBACK answered on the caller's thread (`Session.executeWithoutWaiting`):
/// BEGIN and ROLLBACK never wait, and a COMMIT the log can make durable at once is committed
/// there, durable before it returns; one that would wait is declined with the block open and
/// unchanged, and the usual path commits it.
@Suite struct BlockControlWithoutWaitingTests: SessionTestSupport {
    func durable(_ fs: SimulatedFileSystem) async throws -> Database {
        var options = DatabaseOptions()
        options.engine.backgroundWork = false
        options.engine.syncMode = .full
        return try await Database.open(path: "/db/data.rdb", options: options, fileSystem: fs)
    }

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
        fs.holdSyncs()
        defer { fs.releaseSyncs() }  // a failed expectation must not leave the task hanging
        let slow = Task { try await b.execute("INSERT INTO p VALUES (3)") }
        let deadline = ContinuousClock.now + .seconds(60)
        while fs.heldSyncs == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(try a.executeWithoutWaiting("COMMIT") == nil, "a round is under way")
        #expect(a.inTransaction)
        fs.releaseSyncs()
        _ = try await slow.value
        #expect(try await a.execute("COMMIT").commandTag == "COMMIT")
        #expect(try await rows(b, "SELECT id FROM p ORDER BY id") == [[.integer(1)], [.integer(2)], [.integer(3)]])
        try await db.close()
    }
}
