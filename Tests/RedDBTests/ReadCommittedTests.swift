import Foundation
import Synchronization
import Testing
import RedDB

/// Isolation levels across sessions of one database: READ COMMITTED (the default) reads a
/// fresh snapshot per statement and makes concurrent writers of a row wait for each other
/// instead of failing; REPEATABLE READ keeps one snapshot, taken at the block's first
/// statement, and fails the later writer with 40001. A write stays checked against the
/// snapshot it was made under however far later statements move theirs.
@Suite struct ReadCommittedTests: SessionTestSupport {
    func makeDatabase() async throws -> Database {
        let db = try await Database.inMemory()
        try await db.session().execute("""
            CREATE TABLE counters (id INT PRIMARY KEY, n INT NOT NULL);
            INSERT INTO counters VALUES (1, 0), (2, 0)
            """)
        return db
    }

    @Test func eachStatementOfAReadCommittedBlockSeesWhatCommittedBeforeIt() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        #expect(a.isolation == .readCommitted, "the default, as in PostgreSQL")
        try await a.execute("BEGIN")
        #expect(try await rows(a, "SELECT n FROM counters WHERE id = 1") == [[.integer(0)]])
        try await b.execute("UPDATE counters SET n = 5 WHERE id = 1")
        #expect(try await rows(a, "SELECT n FROM counters WHERE id = 1") == [[.integer(5)]])
        try await a.execute("UPDATE counters SET n = n + 1 WHERE id = 1")
        try await b.execute("INSERT INTO counters VALUES (3, 30)")
        // Its own write, and the newer commit of another row, both seen.
        #expect(try await rows(a, "SELECT id, n FROM counters ORDER BY id") == [[.integer(1), .integer(6)], [.integer(2), .integer(0)], [.integer(3), .integer(30)]])
        try await a.execute("COMMIT")
        #expect(try await rows(b, "SELECT n FROM counters WHERE id = 1") == [[.integer(6)]])
    }

    @Test func repeatableReadTakesItsSnapshotAtTheFirstStatementAndKeepsIt() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        #expect(a.isolation == .repeatableRead)
        try await b.execute("UPDATE counters SET n = 5 WHERE id = 1")  // before a's first statement: seen
        #expect(try await rows(a, "SELECT n FROM counters WHERE id = 1") == [[.integer(5)]])
        try await b.execute("UPDATE counters SET n = 6 WHERE id = 1")  // after it: not seen
        #expect(try await rows(a, "SELECT n FROM counters WHERE id = 1") == [[.integer(5)]])
        #expect(await code { try await a.execute("UPDATE counters SET n = n + 1 WHERE id = 1") } == "40001")
        try await a.execute("ROLLBACK")
        #expect(a.isolation == .readCommitted)
    }

    /// The counter every web application has: under READ COMMITTED the second block's UPDATE
    /// waits for the first block, then updates the row as that one committed it.
    @Test func aBlocksUpdateWaitsForAnotherBlocksUpdateOfTheRowThenAppliesToItsResult() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await a.execute("UPDATE counters SET n = n + 1 WHERE id = 1")
        try await b.execute("BEGIN")
        #expect(try await rows(b, "SELECT n FROM counters WHERE id = 1") == [[.integer(0)]])
        let waiting = Task { try await b.execute("UPDATE counters SET n = n + 10 WHERE id = 1 RETURNING n").rows }
        try await waitUntilWaiting(db, b)
        try await a.execute("COMMIT")
        #expect(try await waiting.value == [[.integer(11)]], "re-read after a committed: no lost update, no 40001")
        try await b.execute("COMMIT")
        #expect(try await rows(a, "SELECT n FROM counters WHERE id = 1") == [[.integer(11)]])

        // A row deleted meanwhile is no longer there to update.
        try await a.execute("BEGIN")
        try await a.execute("DELETE FROM counters WHERE id = 2")
        try await b.execute("BEGIN")
        let updating = Task { try await b.execute("UPDATE counters SET n = 1 WHERE id = 2") }
        try await waitUntilWaiting(db, b)
        try await a.execute("COMMIT")
        #expect(try await updating.value.commandTag == "UPDATE 0")
        try await b.execute("COMMIT")
    }

    @Test func underRepeatableReadTheWaitingUpdateFailsWith40001() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await a.execute("UPDATE counters SET n = n + 1 WHERE id = 1")
        try await b.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        _ = try await rows(b, "SELECT 1")
        let waiting = Task { await code { try await b.execute("UPDATE counters SET n = n + 10 WHERE id = 1") } }
        try await waitUntilWaiting(db, b)
        try await a.execute("COMMIT")
        #expect(await waiting.value == "40001", "as PostgreSQL's REPEATABLE READ: could not serialize access due to concurrent update")
        try await b.execute("ROLLBACK")
        #expect(try await rows(a, "SELECT n FROM counters WHERE id = 1") == [[.integer(1)]])
    }

    /// Many sessions incrementing one counter in blocks: under READ COMMITTED every block
    /// commits; under REPEATABLE READ some fail with 40001 (so the test can tell them apart).
    /// Either way no committed increment is lost.
    @Test(arguments: [IsolationLevel.readCommitted, .repeatableRead])
    func concurrentIncrementingBlocksLoseNothing(level: IsolationLevel) async throws {
        let db = try await makeDatabase()
        let allRead = Barrier(count: 6)
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<6 {
                group.addTask {
                    let session = db.session()
                    session.defaultIsolation = { level }
                    var failed = 0
                    for i in 0..<10 {
                        do {
                            try await session.execute("BEGIN")
                            // A read first, so the block's snapshot predates the others' commits.
                            _ = try await session.execute("SELECT n FROM counters WHERE id = 1")
                            if i == 0 { await allRead.arrive() }  // every first block overlaps every other
                            try await session.execute("UPDATE counters SET n = n + 1 WHERE id = 1")
                            try await session.execute("UPDATE counters SET n = n + 1 WHERE id = 2")
                            try await session.execute("INSERT INTO counters VALUES (\(100 + worker * 10 + i), 1)")
                            try await session.execute("COMMIT")
                        } catch let error as RedError where error.sqlState == "40001" {
                            failed += 1
                            try await session.execute("ROLLBACK")
                        }
                    }
                    return failed
                }
            }
            return try await group.reduce(0, +)
        }
        if level == .readCommitted { #expect(failures == 0) } else { #expect(failures >= 5, "one first block wins, the others conflict") }
        let committed = Int64(60 - failures)
        #expect(try await rows(db.session(), "SELECT n FROM counters WHERE id < 3 ORDER BY id") == [[.integer(committed)], [.integer(committed)]])
        #expect(try await rows(db.session(), "SELECT count(*) FROM counters") == [[.integer(2 + committed)]])
    }

    /// A block's UPDATE holds the row until the block ends: FOR UPDATE elsewhere waits, NOWAIT fails.
    @Test func aBlocksUpdateLocksTheRowAgainstForUpdate() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await a.execute("UPDATE counters SET n = 7 WHERE id = 1")
        #expect(await code { try await b.execute("SELECT * FROM counters WHERE id = 1 FOR UPDATE NOWAIT") } == "55P03")
        #expect(try await rows(b, "SELECT id FROM counters FOR UPDATE SKIP LOCKED") == [[.integer(2)]])
        try await b.execute("BEGIN")
        let locking = Task { try await rows(b, "SELECT n FROM counters WHERE id = 1 FOR UPDATE") }
        try await waitUntilWaiting(db, b)
        try await a.execute("COMMIT")
        #expect(try await locking.value == [[.integer(7)]], "READ COMMITTED re-reads the row the holder committed")
        try await b.execute("COMMIT")
    }

    @Test func blocksUpdatingTwoRowsInOppositeOrdersDeadlock() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await b.execute("BEGIN")
        try await a.execute("UPDATE counters SET n = 1 WHERE id = 1")
        try await b.execute("UPDATE counters SET n = 2 WHERE id = 2")
        let first = Task { await code { try await a.execute("UPDATE counters SET n = 1 WHERE id = 2") } }
        try await waitUntilWaiting(db, a)
        let second = await code { try await b.execute("UPDATE counters SET n = 2 WHERE id = 1") }
        #expect(second == "40P01")
        try await b.execute("ROLLBACK")
        #expect(await first.value == nil)
        try await a.execute("COMMIT")
        #expect(try await rows(a, "SELECT n FROM counters ORDER BY id") == [[.integer(1)], [.integer(1)]])
    }

    /// A write that does not wait for row locks (a cascade) committing between two statements
    /// of a block that wrote the row still fails the block: its write is checked against the
    /// snapshot it was made under, not the later statement's.
    @Test func aWriteStaysCheckedAgainstTheSnapshotItWasMadeUnder() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("CREATE TABLE owners (id INT PRIMARY KEY)")
        try await a.execute("CREATE TABLE items (id INT PRIMARY KEY, owner INT REFERENCES owners ON DELETE CASCADE, n INT NOT NULL)")
        try await a.execute("INSERT INTO owners VALUES (1), (2)")
        try await a.execute("INSERT INTO items VALUES (1, 1, 0), (2, 2, 0)")
        try await a.execute("BEGIN")
        try await a.execute("UPDATE items SET n = n + 1 WHERE id = 1")
        try await b.execute("DELETE FROM owners WHERE id = 1")  // its cascade deletes item 1 without waiting
        #expect(try await rows(a, "SELECT count(*) FROM owners") == [[.integer(1)]])  // a later snapshot
        try await a.execute("UPDATE items SET n = n + 1 WHERE id = 1")  // reads its own write, not the deletion
        #expect(await code { try await a.execute("COMMIT") } == "40001")
        #expect(try await rows(b, "SELECT id FROM items") == [[.integer(2)]])
    }

    /// A key another session inserted is seen by the block's next statement: the insert of the
    /// same key then fails with 23505 at once, not with 40001 at commit.
    @Test func aLaterStatementSeesKeysInsertedSinceTheBlocksFirst() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await a.execute("INSERT INTO counters VALUES (5, 5)")
        try await b.execute("INSERT INTO counters VALUES (10, 10)")
        #expect(await code { try await a.execute("INSERT INTO counters VALUES (10, 11)") } == "23505")
        try await a.execute("ROLLBACK")
    }

    /// A definition change committed during a block conflicts only with the block's writes
    /// made before it: a later statement reads the new definition and writes by it.
    @Test func onlyWritesMadeBeforeADefinitionChangeConflictWithIt() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        _ = try await rows(a, "SELECT count(*) FROM counters")
        try await b.execute("CREATE INDEX counters_n ON counters (n)")
        try await a.execute("INSERT INTO counters VALUES (3, 33)")
        try await a.execute("COMMIT")
        #expect(try await rows(b, "SELECT id FROM counters WHERE n = 33") == [[.integer(3)]], "the index has the block's row")
        try await a.execute("BEGIN")
        try await a.execute("INSERT INTO counters VALUES (4, 44)")
        try await b.execute("CREATE INDEX counters_n_id ON counters (n, id)")
        #expect(await code { try await a.execute("COMMIT") } == "40001", "written by the old definition")
        #expect(try await rows(b, "SELECT count(*) FROM counters") == [[.integer(3)]])
    }

    /// An autocommit UPDATE locks its (few) rows too, so a block cannot take one between the
    /// statement's snapshot and its commit: while a slow SET expression runs, row 1 is held.
    /// A thread of its own watches the lock table (a task could wait for a pool thread the
    /// whole time the statement runs, on a machine busy with other tests).
    @Test func anAutocommitUpdateHoldsItsRowsUntilItCommits() async throws {
        let db = try await makeDatabase()
        let b = db.session(), c = db.session()
        #expect(db.locks.rowLocksHeld == 0)
        let watcher = LockWatcher()
        let thread = Thread {
            while !watcher.stop.load(ordering: .acquiring) {
                if db.locks.rowLocksHeld == 1 { watcher.sawLocked.store(true, ordering: .releasing) }
                usleep(200)
            }
        }
        thread.start()
        // Correlated with the row, so it is computed after the row is locked, not once up front.
        let updated = try await b.execute("UPDATE counters SET n = n + 1 + 0 * (SELECT count(*) FROM generate_series(1, 3000000 + n)) WHERE id = 1")
        watcher.stop.store(true, ordering: .releasing)
        let sawLocked = watcher.sawLocked.load(ordering: .acquiring)
        #expect(sawLocked, "the row was free the whole time the statement ran")
        #expect(updated.rowsAffected == 1)
        #expect(try await rows(c, "SELECT n FROM counters ORDER BY id") == [[.integer(1)], [.integer(0)]])
        #expect(await code { try await c.execute("SELECT n FROM counters WHERE id = 1 FOR UPDATE NOWAIT") } == nil, "and free once it committed")
    }

    /// A streamed query is a statement like any other: it reads a fresh snapshot under READ
    /// COMMITTED, and takes REPEATABLE READ's one snapshot when it comes first.
    @Test func streamedQueriesTakeTheStatementSnapshot() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        func streamed(_ sql: String) async throws -> [[Value]] {
            var out: [[Value]] = []
            for try await row in try await a.stream(sql) { out.append(row) }
            return out
        }
        try await a.execute("BEGIN")
        _ = try await rows(a, "SELECT 1")
        try await b.execute("UPDATE counters SET n = 5 WHERE id = 1")
        #expect(try await streamed("SELECT n FROM counters WHERE id = 1") == [[.integer(5)]])
        try await a.execute("COMMIT")
        try await a.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try await b.execute("UPDATE counters SET n = 6 WHERE id = 1")  // before the stream: seen
        #expect(try await streamed("SELECT n FROM counters WHERE id = 1") == [[.integer(6)]])
        try await b.execute("UPDATE counters SET n = 7 WHERE id = 1")  // after it: not seen
        #expect(try await rows(a, "SELECT n FROM counters WHERE id = 1") == [[.integer(6)]])
        #expect(await code { try a.setTransactionIsolation(.readCommitted) } == "25001")
        try await a.execute("COMMIT")
    }

    /// Describe (PG-wire's Parse/Describe) inside a READ COMMITTED block plans on a fresh
    /// snapshot, as the statement will run: a table created since the block's last statement is there.
    @Test func aReadCommittedBlockDescribesOnAFreshSnapshot() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        _ = try await rows(a, "SELECT 1")
        try await b.execute("CREATE TABLE later (id INT PRIMARY KEY, label TEXT)")
        let description = try await a.describe("SELECT label FROM later WHERE id = $1")
        #expect(description.columns?.map(\.name) == ["label"])
        #expect(try await rows(a, "SELECT count(*) FROM later") == [[.integer(0)]])
        try await a.execute("COMMIT")
    }

    /// INSERT … ON CONFLICT DO UPDATE locks the existing row it updates, as UPDATE does: a
    /// second block upserting the key waits, then updates the committed row. DO NOTHING locks nothing.
    @Test func blocksUpsertingOneKeyQueueUp() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        let upsert = "INSERT INTO counters VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = counters.n + 1 RETURNING n"
        try await a.execute("BEGIN")
        #expect(try await rows(a, upsert) == [[.integer(1)]])
        try await b.execute("BEGIN")
        let waiting = Task { try await rows(b, upsert) }
        try await waitUntilWaiting(db, b)
        try await a.execute("COMMIT")
        #expect(try await waiting.value == [[.integer(2)]])
        try await b.execute("COMMIT")
        #expect(try await rows(a, "SELECT n FROM counters WHERE id = 1") == [[.integer(2)]])

        try await a.execute("BEGIN")
        try await a.execute("UPDATE counters SET n = 9 WHERE id = 2")
        #expect(try await b.execute("INSERT INTO counters VALUES (2, 0) ON CONFLICT DO NOTHING").commandTag == "INSERT 0 0")
        try await a.execute("COMMIT")
    }

    @Test func theLevelIsSetBeforeTheFirstStatementOnly() async throws {
        let db = try await makeDatabase()
        let a = db.session()
        #expect(await code { try a.setTransactionIsolation(.repeatableRead) } == "25P01", "outside a block")
        try await a.execute("BEGIN")
        try await a.execute("SET CONSTRAINTS ALL DEFERRED")  // reads nothing: the level may still be set
        try a.setTransactionIsolation(.repeatableRead)
        #expect(a.isolation == .repeatableRead)
        _ = try await rows(a, "SELECT 1")
        try a.setTransactionIsolation(.repeatableRead)  // the same level: allowed
        #expect(await code { try a.setTransactionIsolation(.readCommitted) } == "25001")
        try await a.execute("ROLLBACK")
        a.defaultIsolation = { .repeatableRead }
        try await a.execute("START TRANSACTION")
        #expect(a.isolation == .repeatableRead)
        try await a.execute("COMMIT")
        try await a.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        #expect(a.isolation == .readCommitted)
        try await a.execute("COMMIT")
    }
}

/// Holds tasks until `count` have arrived.
actor Barrier {
    private let count: Int
    private var arrived = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(count: Int) { self.count = count }

    func arrive() async {
        arrived += 1
        if arrived >= count {
            for continuation in waiting { continuation.resume() }
            waiting = []
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }
}

/// What `anAutocommitUpdateHoldsItsRowsUntilItCommits`'s watching thread saw.
final class LockWatcher: Sendable {
    let stop = Atomic<Bool>(false)
    let sawLocked = Atomic<Bool>(false)
}
