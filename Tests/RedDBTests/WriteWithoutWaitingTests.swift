import Testing
import RedCore
import RedDB
import RedStorage

/// `Session.executeWithoutWaiting` of an autocommit INSERT, UPDATE or DELETE: run and committed
/// at once, durable before it returns (`Transaction.commitNow`), or declined with nothing
/// changed whenever a step would wait; the usual path then runs it.
@Suite struct WriteWithoutWaitingTests: SessionTestSupport {
    @Test func anAnsweredWriteSurvivesAPowerLossAtOnce() async throws {
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/db")
        let db = try await durable(fs)
        let s = db.session()
        try await s.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT UNIQUE, n INT)")
        var answered = 0
        for id in 1...20 {
            let result = try s.executeWithoutWaiting("INSERT INTO t (id, v, n) VALUES ($1, $2, 0) RETURNING id", parameters: [.integer(Int64(id)), .text("v\(id)")])
            if let result {
                #expect(result.rows == [[.integer(Int64(id))]])
                answered += 1
            } else {
                try await s.execute("INSERT INTO t (id, v, n) VALUES ($1, $2, 0)", parameters: [.integer(Int64(id)), .text("v\(id)")])
            }
        }
        #expect(answered >= 19, "a lone writer's inserts are answered at once (the first may find a round to gather)")
        #expect(try s.executeWithoutWaiting("UPDATE t SET n = n + 1 WHERE id = $1", parameters: [.integer(3)])?.commandTag == "UPDATE 1")
        #expect(try s.executeWithoutWaiting("DELETE FROM t WHERE id = $1", parameters: [.integer(4)])?.commandTag == "DELETE 1")
        // Power fails right after the last answer: every answered commit is on disk.
        for seed in UInt64(1)...5 {
            let after = try await durable(fs.crash(seed: seed))
            let rows = try await after.session().execute("SELECT id, n FROM t ORDER BY id").rows
            #expect(rows.count == 19 && rows[2] == [.integer(3), .integer(1)] && !rows.contains { $0[0] == .integer(4) }, "seed \(seed)")
            try await after.close()
        }
        try await db.close()
    }

    @Test func aWriteThatWouldWaitIsDeclinedWithNothingChanged() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'one'), (2, 'two')")
        // A row another session has locked: the update would wait for it.
        try await b.execute("BEGIN")
        _ = try await b.execute("SELECT * FROM t WHERE id = 1 FOR UPDATE")
        #expect(try a.executeWithoutWaiting("UPDATE t SET v = 'mine' WHERE id = 1") == nil)
        try await b.execute("COMMIT")
        #expect(try await rows(a, "SELECT v FROM t WHERE id = 1") == [[.text("one")]])
        // A key a concurrent block inserted and has not committed: the insert would wait too.
        try await b.execute("BEGIN; INSERT INTO t VALUES (3, 'b')")
        #expect(try a.executeWithoutWaiting("INSERT INTO t VALUES (3, 'a')") == nil)
        try await b.execute("ROLLBACK")
        #expect(try a.executeWithoutWaiting("INSERT INTO t VALUES (3, 'a')")?.commandTag == "INSERT 0 1")
        // In a block a write runs there too, with nothing to commit (BlockControlWithoutWaitingTests).
        try await a.execute("BEGIN")
        #expect(try a.executeWithoutWaiting("INSERT INTO t VALUES (4, 'block')")?.commandTag == "INSERT 0 1")
        try await a.execute("ROLLBACK")
        // So do sessions that may not write (the usual path reports why), and sessions with
        // temporary tables (their ON COMMIT actions run on that path).
        let reader = db.session()
        reader.access = .readOnly(principal: "ana")
        #expect(try reader.executeWithoutWaiting("DELETE FROM t") == nil)
        #expect(await code { _ = try await reader.execute("DELETE FROM t") } == "42501")
        try await b.execute("CREATE TEMP TABLE scratch (x INT)")
        #expect(try b.executeWithoutWaiting("INSERT INTO t VALUES (5, 'b')") == nil)
        #expect(try await rows(a, "SELECT id FROM t ORDER BY id") == [[.integer(1)], [.integer(2)], [.integer(3)]])
    }

    @Test func errorsAreThoseTheUsualPathGives() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT NOT NULL)")
        #expect(try s.executeWithoutWaiting("INSERT INTO t VALUES (1, 'x')") != nil)
        #expect(await code { _ = try s.executeWithoutWaiting("INSERT INTO t VALUES (1, 'again')") } == "23505")
        #expect(await code { _ = try s.executeWithoutWaiting("INSERT INTO t VALUES (2, NULL)") } == "23502")
        #expect(!s.inTransaction)
        #expect(try await rows(s, "SELECT id, v FROM t") == [[.integer(1), .text("x")]])
    }

    /// Foreign keys are settled at the end of the statement; that step used to give up at once
    /// (its cancellation check), so every write to a table with a foreign key took the usual
    /// path. It now counts the rows it visits like a scan: a few are answered at once, a
    /// cascade over thousands declines and is done in full by the usual path.
    @Test func foreignKeyWritesAreAnsweredAtOnceUnlessTheyVisitThousandsOfRows() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE parent (id INT PRIMARY KEY);
            CREATE TABLE child (id INT PRIMARY KEY, parent_id INT REFERENCES parent (id) ON DELETE CASCADE);
            CREATE INDEX child_parent ON child (parent_id);
            INSERT INTO parent SELECT i FROM generate_series(1, 3) AS i;
            """)
        // The usual path reads the tables' definitions into the cache first (a definition
        // with a foreign key is long enough for an overflow page, which is never cached).
        _ = try await s.execute("SELECT * FROM parent, child")
        #expect(try s.executeWithoutWaiting("INSERT INTO child VALUES (1, 1), (2, 1), (3, 2)")?.commandTag == "INSERT 0 3")
        #expect(await code { _ = try s.executeWithoutWaiting("INSERT INTO child VALUES (4, 9)") } == "23503")
        #expect(try s.executeWithoutWaiting("DELETE FROM parent WHERE id = $1", parameters: [.integer(1)])?.commandTag == "DELETE 1")
        #expect(try await rows(s, "SELECT id FROM child ORDER BY id") == [[.integer(3)]])

        try await s.execute("INSERT INTO child SELECT i, 3 FROM generate_series(10, 5009) AS i")
        #expect(try s.executeWithoutWaiting("DELETE FROM parent WHERE id = 3") == nil)
        #expect(try await rows(s, "SELECT count(*) FROM child WHERE parent_id = 3") == [[.integer(5000)]], "declined: nothing changed")
        #expect(try await s.execute("DELETE FROM parent WHERE id = 3").commandTag == "DELETE 1")
        #expect(try await rows(s, "SELECT count(*) FROM child") == [[.integer(1)]])
        #expect(try await rows(s, "SELECT id FROM parent ORDER BY id") == [[.integer(2)]])
    }

    /// A round under way would make the inline commit wait (and split up the commits group
    /// commit gathers): the write is declined before it runs.
    @Test func aWriteDeclinesWhileAnotherCommitIsBeingMadeDurable() async throws {
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/db")
        let db = try await durable(fs)
        let a = db.session(), b = db.session()
        try await a.execute("CREATE TABLE t (id BIGINT PRIMARY KEY)")
        #expect(db.engine.invitesCommitNow)
        // The commit's fsync is held until the test lets it go, however loaded the machine is.
        let (invited, declined) = try await whileAWriteIsHeld(fs, a, "INSERT INTO t VALUES (1)") {
            (db.engine.invitesCommitNow, try b.executeWithoutWaiting("INSERT INTO t VALUES (2)") == nil)
        }
        #expect(!invited, "the slow commit's round is under way")
        #expect(declined)
        #expect(try await rows(b, "SELECT count(*) FROM t") == [[.integer(1)]], "the declined insert left nothing")
        try await b.execute("INSERT INTO t VALUES (2)")
        try await db.close()
    }

    /// nextval's values in an attempt that is declined go to the statement's run again, so
    /// ids come out as PostgreSQL gives them: no gap for an attempt the client never saw.
    @Test func aDeclinedAttemptsSequenceValuesAreHandedOutAgain() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("CREATE TABLE t (id SERIAL PRIMARY KEY, email TEXT UNIQUE)")
        try await b.execute("BEGIN; INSERT INTO t (email) VALUES ('x')")  // takes id 1
        let insert = "INSERT INTO t (email) VALUES ('x') RETURNING id"
        #expect(try a.executeWithoutWaiting(insert) == nil, "b holds the key 'x': the insert would wait")
        let waiting = Task { try await a.execute(insert) }
        try await waitUntilWaiting(db, a)
        try await b.execute("ROLLBACK")
        #expect(try await waiting.value.rows == [[.integer(2)]], "the attempts' id, as PostgreSQL's waiting insert gets")
        #expect(try a.executeWithoutWaiting("INSERT INTO t (email) VALUES ('y') RETURNING id")?.rows == [[.integer(3)]])
        #expect(try await rows(a, "SELECT lastval()") == [[.integer(3)]])
        // Values left over when the run again takes another turn are skipped, not kept.
        try await b.execute("BEGIN; INSERT INTO t (email) VALUES ('z')")  // id 4
        #expect(try a.executeWithoutWaiting("INSERT INTO t (email) VALUES ('z')") == nil)  // id 5, kept
        try await b.execute("COMMIT")
        #expect(try await rows(a, "SELECT 1") == [[.integer(1)]])  // a different statement: the kept value is dropped
        #expect(try await rows(a, "INSERT INTO t (email) VALUES ('w') RETURNING id") == [[.integer(6)]])
    }

    /// Row ids an attempt reserved before it gave way go to the statement's run again: the
    /// client sees one INSERT, and its rows get the ids they would have got without the
    /// attempt. (Here RETURNING reads 5,000 rows after the rows were made: too long for the
    /// caller's thread.) Ids of a failed statement stay skipped.
    @Test func aDeclinedAttemptsRowIDsAreHandedOutAgain() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE big (id INT PRIMARY KEY);
            INSERT INTO big SELECT i FROM generate_series(1, 5000) AS i;
            CREATE TABLE t (email TEXT UNIQUE);
            """)
        _ = try await s.execute("SELECT * FROM big, t LIMIT 1")  // definitions cached
        let insert = "INSERT INTO t VALUES ('x'), ('y') RETURNING (SELECT count(*) FROM big)"
        #expect(try s.executeWithoutWaiting(insert) == nil, "RETURNING's scan is too long for the loop")
        #expect(try await rows(s, insert) == [[.integer(5000)], [.integer(5000)]])
        #expect(try await rows(s, "SELECT rid, email FROM t ORDER BY rid") == [[.integer(1), .text("x")], [.integer(2), .text("y")]])
        // In a block too.
        try await s.execute("BEGIN")
        #expect(try s.executeWithoutWaiting("INSERT INTO t VALUES ('z') RETURNING (SELECT count(*) FROM big)") == nil)
        #expect(s.inTransaction && !s.transactionFailed)
        try await s.execute("INSERT INTO t VALUES ('z')")
        try await s.execute("COMMIT")
        #expect(try await rows(s, "SELECT rid FROM t WHERE email = 'z'") == [[.integer(3)]])
        // A statement that fails keeps its ids, as a sequence's values are kept.
        #expect(await code { _ = try await s.execute("INSERT INTO t VALUES ('w'), ('z')") } == "23505")
        try await s.execute("INSERT INTO t VALUES ('v')")
        #expect(try await rows(s, "SELECT rid FROM t WHERE email = 'v'") == [[.integer(6)]])
    }
}
