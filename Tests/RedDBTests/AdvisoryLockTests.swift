import Foundation
import Testing
import RedDB

/// PostgreSQL's advisory locks across sessions of one database: who excludes whom, how long
/// each kind is held, waiting (granted on release, cancelled, deadlocks) and what ends them.
@Suite struct AdvisoryLockTests: SessionTestSupport {
    func value(_ session: Session, _ sql: String) async throws -> Value {
        try await session.execute(sql).rows[0][0]
    }

    @Test func anExclusiveLockExcludesOtherSessionsUntilUnlocked() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        #expect(try await value(a, "SELECT pg_try_advisory_lock(1)") == .boolean(true))
        #expect(try await value(a, "SELECT pg_try_advisory_lock(1)") == .boolean(true), "a session's own locks never conflict")
        #expect(try await value(b, "SELECT pg_try_advisory_lock(1)") == .boolean(false))
        #expect(try await value(b, "SELECT pg_try_advisory_lock_shared(1)") == .boolean(false))
        #expect(try await value(b, "SELECT pg_try_advisory_lock(2)") == .boolean(true), "other keys are free")
        #expect(try await value(a, "SELECT pg_advisory_unlock(1)") == .boolean(true))
        #expect(try await value(b, "SELECT pg_try_advisory_lock(1)") == .boolean(false), "locked twice, unlocked once: still held")
        #expect(try await value(a, "SELECT pg_advisory_unlock(1)") == .boolean(true))
        #expect(try await value(b, "SELECT pg_try_advisory_lock(1)") == .boolean(true))
    }

    @Test func sharedLocksCoexistButKeepExclusiveOnesOut() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session(), c = db.session()
        #expect(try await value(a, "SELECT pg_try_advisory_lock_shared(5)") == .boolean(true))
        #expect(try await value(b, "SELECT pg_try_advisory_lock_shared(5)") == .boolean(true))
        #expect(try await value(c, "SELECT pg_try_advisory_lock(5)") == .boolean(false))
        #expect(try await value(a, "SELECT pg_advisory_unlock(5)") == .boolean(false), "a holds it shared, not exclusive")
        #expect(try await value(a, "SELECT pg_advisory_unlock_shared(5)") == .boolean(true))
        #expect(try await value(c, "SELECT pg_try_advisory_lock(5)") == .boolean(false), "b still shares it")
        #expect(try await value(b, "SELECT pg_advisory_unlock_shared(5)") == .boolean(true))
        #expect(try await value(c, "SELECT pg_try_advisory_lock(5)") == .boolean(true))
    }

    @Test func unlockingALockNotHeldWarnsAndReturnsFalse() async throws {
        let s = try await Database.inMemory().session()
        let result = try await s.execute("SELECT pg_advisory_unlock(77)")
        #expect(result.rows == [[.boolean(false)]])
        #expect(result.warnings == ["you don't own a lock of type ExclusiveLock"])
        #expect(try await s.execute("SELECT pg_advisory_unlock_shared(77)").warnings == ["you don't own a lock of type ShareLock"])
    }

    @Test func keysAreBigintsOrIntegerPairsInSeparateSpaces() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        #expect(try await value(a, "SELECT pg_try_advisory_lock(0, 1)") == .boolean(true))
        #expect(try await value(b, "SELECT pg_try_advisory_lock(1)") == .boolean(true), "(0, 1) is not the bigint 1")
        #expect(try await value(b, "SELECT pg_try_advisory_lock(0, 1)") == .boolean(false))
        #expect(try await a.execute("SELECT pg_try_advisory_lock($1)", parameters: [.integer(-9_000_000_000)]).rows == [[.boolean(true)]])
        #expect(try await value(b, "SELECT pg_try_advisory_lock(NULL)") == .null, "strict: a NULL key locks nothing")
        #expect(await code { _ = try await a.execute("SELECT pg_advisory_lock(1, 3000000000)") } == "42883")
        #expect(await code { _ = try await a.execute("SELECT pg_advisory_lock('x')") } == "22P02")
        #expect(await code { _ = try await a.execute("SELECT pg_advisory_lock(1.5)") } == "42883")
    }

    @Test func aWaitingLockIsGrantedWhenItsHolderLetsGo() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("SELECT pg_advisory_lock(7)")
        let waiting = Task { try await b.execute("SELECT pg_advisory_lock(7), 'got it'").rows }
        try await waitUntilWaiting(db, b)
        #expect(try await value(a, "SELECT pg_advisory_unlock(7)") == .boolean(true))
        #expect(try await waiting.value == [[.null, .text("got it")]])
        #expect(try await value(a, "SELECT pg_try_advisory_lock(7)") == .boolean(false), "b holds it now")
        #expect(try await value(b, "SELECT pg_advisory_unlock(7)") == .boolean(true))
        #expect(try await value(b, "SELECT pg_advisory_unlock(7)") == .boolean(false), "b was granted it once, not once per attempt")
    }

    @Test func aStatementWaitingForItsSecondLockTakesTheFirstOnlyOnce() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await b.execute("SELECT pg_advisory_lock(2)")
        let waiting = Task { try await a.execute("SELECT pg_advisory_lock(1), pg_advisory_lock(2)") }
        try await waitUntilWaiting(db, a)
        #expect(try await value(b, "SELECT pg_try_advisory_lock(1)") == .boolean(false), "a keeps lock 1 while it waits for 2")
        try await b.execute("SELECT pg_advisory_unlock(2)")
        _ = try await waiting.value
        #expect(try await value(a, "SELECT pg_advisory_unlock(1)") == .boolean(true))
        #expect(try await value(a, "SELECT pg_advisory_unlock(1)") == .boolean(false))
        #expect(try await value(a, "SELECT pg_advisory_unlock(2)") == .boolean(true))
        #expect(try await value(a, "SELECT pg_advisory_unlock(2)") == .boolean(false))
    }

    @Test func transactionLocksLastUntilTheirTransactionEnds() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await a.execute("SELECT pg_advisory_xact_lock(3)")
        #expect(try await value(a, "SELECT pg_advisory_unlock(3)") == .boolean(false), "a transaction-level lock cannot be unlocked")
        #expect(try await value(b, "SELECT pg_try_advisory_lock(3)") == .boolean(false))
        try await a.execute("COMMIT")
        #expect(try await value(b, "SELECT pg_try_advisory_xact_lock(3)") == .boolean(true), "and in autocommit it goes with the statement")
        #expect(try await value(a, "SELECT pg_try_advisory_lock(3)") == .boolean(true))

        try await b.execute("BEGIN")
        #expect(try await value(b, "SELECT pg_try_advisory_xact_lock_shared(4)") == .boolean(true))
        #expect(await code { _ = try await b.execute("SELECT 1/0") } == "22012")
        #expect(try await value(a, "SELECT pg_try_advisory_lock(4)") == .boolean(false), "a failed block still holds its locks")
        try await b.execute("ROLLBACK")
        #expect(try await value(a, "SELECT pg_try_advisory_lock(4)") == .boolean(true))
    }

    @Test func sessionLocksOutliveTransactionsAndUnlockAllLeavesTransactionLocks() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await a.execute("SELECT pg_advisory_lock(10), pg_advisory_xact_lock(11)")
        try await a.execute("ROLLBACK")
        #expect(try await value(b, "SELECT pg_try_advisory_lock(10)") == .boolean(false), "a rollback keeps session-level locks")
        #expect(try await value(b, "SELECT pg_try_advisory_lock(11)") == .boolean(true))
        try await b.execute("SELECT pg_advisory_unlock_all()")
        try await a.execute("BEGIN")
        try await a.execute("SELECT pg_advisory_xact_lock(12)")
        try await a.execute("SELECT pg_advisory_unlock_all()")
        #expect(try await value(b, "SELECT pg_try_advisory_lock(10)") == .boolean(true))
        #expect(try await value(b, "SELECT pg_try_advisory_lock(12)") == .boolean(false))
        try await a.execute("COMMIT")
        #expect(try await value(b, "SELECT pg_try_advisory_lock(12)") == .boolean(true))
    }

    @Test func theStatementTimeoutEndsAWait() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("SELECT pg_advisory_lock(9)")
        b.statementTimeoutMilliseconds = 100
        #expect(await code { _ = try await b.execute("SELECT pg_advisory_lock(9)") } == "57014")
        let waiting = db.locks.rows().filter { !$0.granted }
        #expect(waiting.isEmpty, "the wait left the queue")
        b.statementTimeoutMilliseconds = 0
        try await a.execute("SELECT pg_advisory_unlock(9)")
        #expect(try await value(b, "SELECT pg_try_advisory_lock(9)") == .boolean(true))
    }

    @Test func aCancelRequestEndsAWait() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("SELECT pg_advisory_lock(9)")
        let waiting = Task { try await b.execute("SELECT pg_advisory_lock(9)") }
        try await waitUntilWaiting(db, b)
        b.cancelRunningStatement()
        #expect(await code { _ = try await waiting.value } == "57014")
        try await a.execute("SELECT pg_advisory_unlock(9)")
        #expect(try await value(b, "SELECT pg_try_advisory_lock(9)") == .boolean(true), "b never got the lock it stopped waiting for")
        #expect(try await value(b, "SELECT pg_advisory_unlock(9)") == .boolean(true))
        #expect(try await value(b, "SELECT pg_advisory_unlock(9)") == .boolean(false))
    }

    @Test func aWaitThatWouldDeadlockFailsAtOnce() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("SELECT pg_advisory_lock(1)")
        try await b.execute("SELECT pg_advisory_lock(2)")
        let waiting = Task { try await b.execute("SELECT pg_advisory_lock(1)") }
        try await waitUntilWaiting(db, b)
        #expect(await code { _ = try await a.execute("SELECT pg_advisory_lock(2)") } == "40P01")
        try await a.execute("SELECT pg_advisory_unlock(1)")
        _ = try await waiting.value
        #expect(try await value(a, "SELECT pg_try_advisory_lock(1)") == .boolean(false))
    }

    @Test func waitersAreServedInTurn() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session(), c = db.session()
        try await a.execute("SELECT pg_advisory_lock_shared(20)")
        let writer = Task { try await b.execute("SELECT pg_advisory_lock(20)") }
        try await waitUntilWaiting(db, b)
        #expect(try await value(c, "SELECT pg_try_advisory_lock_shared(20)") == .boolean(false),
                "a shared request queues behind the exclusive one waiting before it")
        try await a.execute("SELECT pg_advisory_unlock_shared(20)")
        _ = try await writer.value
        #expect(try await value(c, "SELECT pg_try_advisory_lock_shared(20)") == .boolean(false))
    }

    @Test func endingASessionReleasesItsLocks() async throws {
        let db = try await Database.inMemory()
        let b = db.session()
        do {
            let a = db.session()
            try await a.execute("SELECT pg_advisory_lock(30), pg_advisory_lock_shared(31)")
            #expect(try await value(b, "SELECT pg_try_advisory_lock(30)") == .boolean(false))
        }
        #expect(try await value(b, "SELECT pg_try_advisory_lock(30)") == .boolean(true))
        #expect(try await value(b, "SELECT pg_try_advisory_lock(31)") == .boolean(true))
    }

    @Test func aStatementInsideABlockCanWaitOnlyUntilItHasWritten() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("CREATE TABLE t (id INT PRIMARY KEY)")
        try await a.execute("SELECT pg_advisory_lock(40)")
        try await a.execute("INSERT INTO t VALUES (7)")
        try await b.execute("BEGIN")
        // RETURNING is evaluated after the row is written: too late to run the statement again.
        #expect(await code { _ = try await b.execute("UPDATE t SET id = id RETURNING pg_advisory_lock(40)") } == "55P03")
        try await b.execute("ROLLBACK")
        try await a.execute("DELETE FROM t")
        // In autocommit the attempt is rolled back, the lock waited for, and the insert run again.
        let inserting = Task { try await b.execute("INSERT INTO t SELECT 1 WHERE pg_advisory_lock(40) IS NULL") }
        try await waitUntilWaiting(db, b)
        try await a.execute("SELECT pg_advisory_unlock(40)")
        #expect(try await inserting.value.rowsAffected == 1)
        #expect(try await value(a, "SELECT count(*) FROM t") == .integer(1))
        // Inside a block too, as long as the lock comes before the statement's first write.
        try await b.execute("SELECT pg_advisory_unlock(40)")
        try await a.execute("SELECT pg_advisory_lock(40)")
        try await b.execute("BEGIN")
        let inBlock = Task { try await b.execute("INSERT INTO t SELECT 2 WHERE pg_advisory_lock(40) IS NULL") }
        try await waitUntilWaiting(db, b)
        try await a.execute("SELECT pg_advisory_unlock(40)")
        #expect(try await inBlock.value.rowsAffected == 1)
        try await b.execute("COMMIT")
        #expect(try await value(a, "SELECT count(*) FROM t") == .integer(2))
    }

    @Test func pgBackendPidNamesTheSession() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        let pa = try await value(a, "SELECT pg_backend_pid()"), pb = try await value(b, "SELECT pg_backend_pid()")
        #expect(pa != pb)
        #expect(pa == .integer(Int64(a.processID)))
    }

    @Test func unlocksInAStatementThatWaitsAreMadeOnce() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("SELECT pg_advisory_lock(1), pg_advisory_lock(1)")
        try await b.execute("SELECT pg_advisory_lock(2)")
        let waiting = Task { try await a.execute("SELECT pg_advisory_lock(1), pg_advisory_unlock(1), pg_advisory_unlock(1), pg_advisory_lock(2)") }
        try await waitUntilWaiting(db, a)
        try await b.execute("SELECT pg_advisory_unlock(2)")
        _ = try await waiting.value
        #expect(try await value(a, "SELECT pg_advisory_unlock(1)") == .boolean(true), "two locks and one more, less two unlocks: one left")
        #expect(try await value(a, "SELECT pg_advisory_unlock(1)") == .boolean(false))
    }

    @Test func unlockAllLeavesTheLocksTakenAfterIt() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("SELECT pg_advisory_lock(5)")
        try await a.execute("SELECT pg_advisory_unlock_all(), pg_advisory_lock(6)")
        #expect(try await value(b, "SELECT pg_try_advisory_lock(5)") == .boolean(true))
        #expect(try await value(b, "SELECT pg_try_advisory_lock(6)") == .boolean(false))
    }

    /// PostgreSQL reorders a queue rather than report a deadlock a reordering resolves: a
    /// shared request queued behind an exclusive one, that no holder keeps back, goes first.
    @Test func queuedRequestsGoOutOfTurnRatherThanDeadlock() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session(), c = db.session()
        try await c.execute("SELECT pg_advisory_lock_shared(1)")
        try await a.execute("SELECT pg_advisory_lock(2)")
        let bWaits = Task { try await b.execute("SELECT pg_advisory_lock(1)") }
        try await waitUntilWaiting(db, b)
        let aWaits = Task { try await a.execute("SELECT pg_advisory_lock_shared(1)") }
        try await waitUntilWaiting(db, a)
        let cWaits = Task { try await c.execute("SELECT pg_advisory_lock(2)") }
        _ = try await aWaits.value  // granted out of turn instead of c failing with 40P01
        try await waitUntilWaiting(db, c)
        try await a.execute("SELECT pg_advisory_unlock(2), pg_advisory_unlock_shared(1)")
        _ = try await cWaits.value
        try await c.execute("SELECT pg_advisory_unlock_shared(1)")
        _ = try await bWaits.value
    }

    @Test func lockTimeoutEndsAWaitWith55P03() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("SELECT pg_advisory_lock(8)")
        b.lockTimeout = { 100 }
        #expect(await code { _ = try await b.execute("SELECT pg_advisory_lock(8)") } == "55P03")
        try await a.execute("SELECT pg_advisory_unlock(8)")
        #expect(try await value(b, "SELECT pg_try_advisory_lock(8)") == .boolean(true))
        #expect(try await value(b, "SELECT pg_advisory_unlock(8)") == .boolean(true))
        #expect(try await value(b, "SELECT pg_advisory_unlock(8)") == .boolean(false), "the timed-out wait left no hold behind")
    }

    @Test func rollbackToASavepointGivesBackTheTransactionLocksTakenSince() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await a.execute("SELECT pg_advisory_xact_lock(50)")
        try await a.execute("SAVEPOINT s")
        try await a.execute("SELECT pg_advisory_xact_lock(51), pg_advisory_xact_lock(50)")
        try await a.execute("ROLLBACK TO SAVEPOINT s")
        #expect(try await value(b, "SELECT pg_try_advisory_lock(51)") == .boolean(true))
        #expect(try await value(b, "SELECT pg_try_advisory_lock(50)") == .boolean(false), "taken before the savepoint: still held")
        try await a.execute("COMMIT")
        #expect(try await value(b, "SELECT pg_try_advisory_lock(50)") == .boolean(true))
    }

    /// A stream's session lives as long as the stream: a lock its rows take is held until the
    /// stream is closed and the session goes, then released.
    @Test func aStreamedQueryKeepsItsSessionAndLocksUntilClosed() async throws {
        let db = try await Database.inMemory()
        let b = db.session()
        var stream: RowStream? = try await db.session().stream("SELECT pg_try_advisory_lock(60)")
        #expect(try stream?.next() == [.boolean(true)])
        #expect(try await value(b, "SELECT pg_try_advisory_lock(60)") == .boolean(false))
        stream?.close()
        stream = nil
        #expect(try await value(b, "SELECT pg_try_advisory_lock(60)") == .boolean(true))
    }
}
