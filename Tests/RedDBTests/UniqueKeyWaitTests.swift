import Foundation
import Testing
import RedDB

/// Two transactions inserting one unique key behave as in PostgreSQL: the second waits for
/// the first to end, then reports 23505 at its INSERT (the first committed) or inserts (the
/// first rolled back), instead of failing with 40001 at COMMIT. A key committed after a
/// REPEATABLE READ snapshot is a duplicate too. ON CONFLICT waits the same way, then takes
/// its conflict path. (Django's `get_or_create` relies on this: it catches IntegrityError.)
@Suite struct UniqueKeyWaitTests: SessionTestSupport {
    func makeDatabase() async throws -> Database {
        let db = try await Database.inMemory()
        try await db.session().execute("""
            CREATE TABLE users (id SERIAL PRIMARY KEY, email TEXT UNIQUE, visits INT NOT NULL DEFAULT 0)
            """)
        return db
    }

    @Test(arguments: [false, true])
    func aSecondInsertOfTheKeyWaitsThenFailsWith23505AtTheInsert(secondInBlock: Bool) async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await a.execute("INSERT INTO users (email) VALUES ('ann@example.com')")
        if secondInBlock { try await b.execute("BEGIN") }
        let inserting = Task { await code { try await b.execute("INSERT INTO users (email) VALUES ('ann@example.com')") } }
        try await waitUntilWaiting(db, b)
        try await a.execute("COMMIT")
        #expect(await inserting.value == "23505", "the INSERT fails, not the COMMIT")
        if secondInBlock {
            #expect(await code { try await b.execute("SELECT 1") } == "25P02")
            try await b.execute("ROLLBACK")
        }
        #expect(try await rows(b, "SELECT count(*) FROM users") == [[.integer(1)]])
    }

    @Test func aSecondInsertOfTheKeyGoesOnWhenTheFirstRollsBack() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await a.execute("INSERT INTO users (email) VALUES ('ann@example.com')")
        try await b.execute("BEGIN")
        let inserting = Task { try await b.execute("INSERT INTO users (email) VALUES ('bob@example.com'), ('ann@example.com')") }
        try await waitUntilWaiting(db, b)
        try await a.execute("ROLLBACK")
        #expect(try await inserting.value.commandTag == "INSERT 0 2", "a multi-row INSERT waits before its first row")
        try await b.execute("COMMIT")
        #expect(try await rows(a, "SELECT email FROM users ORDER BY email") == [[.text("ann@example.com")], [.text("bob@example.com")]])
    }

    /// REPEATABLE READ cannot see the committed row, but its INSERT still reports the duplicate
    /// (PostgreSQL checks uniqueness against the newest committed version), whether it waited
    /// for the other transaction or that one had committed already.
    @Test func underRepeatableReadAKeyCommittedAfterTheSnapshotIsADuplicate() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await b.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        #expect(try await rows(b, "SELECT count(*) FROM users") == [[.integer(0)]])
        try await a.execute("INSERT INTO users (email) VALUES ('ann@example.com')")
        #expect(try await rows(b, "SELECT count(*) FROM users") == [[.integer(0)]], "not seen")
        #expect(await code { try await b.execute("INSERT INTO users (email) VALUES ('ann@example.com')") } == "23505")
        try await b.execute("ROLLBACK")

        try await b.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        _ = try await rows(b, "SELECT 1")
        try await a.execute("BEGIN")
        try await a.execute("INSERT INTO users (email) VALUES ('bob@example.com')")
        let inserting = Task { await code { try await b.execute("INSERT INTO users (email) VALUES ('bob@example.com')") } }
        try await waitUntilWaiting(db, b)
        try await a.execute("COMMIT")
        #expect(await inserting.value == "23505")
        try await b.execute("ROLLBACK")
    }

    @Test func anUpdateMovingARowToAKeyBeingInsertedWaitsToo() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("INSERT INTO users (email) VALUES ('bob@example.com')")
        try await a.execute("BEGIN")
        try await a.execute("INSERT INTO users (email) VALUES ('ann@example.com')")
        let updating = Task { await code { try await b.execute("UPDATE users SET email = 'ann@example.com' WHERE email = 'bob@example.com'") } }
        try await waitUntilWaiting(db, b)
        try await a.execute("COMMIT")
        #expect(await updating.value == "23505")
        // An UPDATE keeping its row's keys locks none of them.
        let before = db.locks.rowLocksHeld
        try await b.execute("BEGIN")
        try await b.execute("UPDATE users SET visits = 2 WHERE email = 'bob@example.com'")
        #expect(db.locks.rowLocksHeld == before + 1, "the row only")
        try await b.execute("COMMIT")
    }

    @Test func onConflictWaitsForTheInsertingTransactionThenTakesItsConflictPath() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await a.execute("INSERT INTO users (email) VALUES ('ann@example.com')")
        let nothing = Task { try await b.execute("INSERT INTO users (email) VALUES ('ann@example.com') ON CONFLICT (email) DO NOTHING") }
        try await waitUntilWaiting(db, b)
        try await a.execute("COMMIT")
        #expect(try await nothing.value.commandTag == "INSERT 0 0")

        try await a.execute("BEGIN")
        try await a.execute("UPDATE users SET visits = 1 WHERE email = 'ann@example.com'")
        try await a.execute("INSERT INTO users (email) VALUES ('bob@example.com')")
        try await b.execute("BEGIN")
        let upserting = Task {
            try await b.execute("""
                INSERT INTO users (email) VALUES ('bob@example.com') ON CONFLICT (email) DO UPDATE SET visits = users.visits + 10 RETURNING visits
                """).rows
        }
        try await waitUntilWaiting(db, b)
        try await a.execute("COMMIT")
        #expect(try await upserting.value == [[.integer(10)]], "the row the other block inserted, updated")
        try await b.execute("COMMIT")
        #expect(try await rows(a, "SELECT email, visits FROM users ORDER BY email")
                == [[.text("ann@example.com"), .integer(1)], [.text("bob@example.com"), .integer(10)]])
    }

    /// A multi-row upsert locks every existing row it will update before its first write, so
    /// it can wait for one another block holds whichever row of its VALUES meets it (before,
    /// one met after the first write was left to COMMIT, which then failed with 40001).
    @Test func aMultiRowUpsertWaitsForAHeldRowItMeetsAfterItsFirstRow() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("INSERT INTO users (email) VALUES ('ann@example.com'), ('bob@example.com')")
        try await a.execute("BEGIN")
        try await a.execute("UPDATE users SET visits = visits + 1 WHERE email = 'bob@example.com'")
        try await b.execute("BEGIN")
        let upserting = Task {
            try await b.execute("""
                INSERT INTO users (email) VALUES ('ann@example.com'), ('bob@example.com'), ('cy@example.com')
                ON CONFLICT (email) DO UPDATE SET visits = users.visits + 10
                """).commandTag
        }
        try await waitUntilWaiting(db, b)
        try await a.execute("COMMIT")
        #expect(try await upserting.value == "INSERT 0 3")
        try await b.execute("COMMIT")
        #expect(try await rows(a, "SELECT email, visits FROM users ORDER BY email")
                == [[.text("ann@example.com"), .integer(10)], [.text("bob@example.com"), .integer(11)], [.text("cy@example.com"), .integer(0)]])
    }

    /// A key a concurrent UPDATE moved this very row to is not a duplicate but a write
    /// conflict: 40001, as PostgreSQL reports an update of a row changed after the snapshot.
    /// (An UPDATE of more rows than a block locks, so that nothing else catches it first.)
    @Test func aRowsOwnKeyCommittedAfterTheSnapshotIsAConflictNotADuplicate() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("INSERT INTO users (email) SELECT 'u' || g FROM generate_series(1, 10001) AS g")
        try await b.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        _ = try await rows(b, "SELECT 1")
        try await a.execute("UPDATE users SET email = 'moved' WHERE id = 1")
        let error = await code { try await b.execute("UPDATE users SET email = CASE WHEN id = 1 THEN 'moved' ELSE email END") }
        #expect(error == "40001")
        try await b.execute("ROLLBACK")
    }

    @Test func onConflictUnderRepeatableReadFailsWith40001ForARowItCannotSee() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await b.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        _ = try await rows(b, "SELECT 1")
        try await a.execute("INSERT INTO users (email) VALUES ('ann@example.com')")
        #expect(await code { try await b.execute("INSERT INTO users (email) VALUES ('ann@example.com') ON CONFLICT DO NOTHING") } == "40001",
                "as PostgreSQL: could not serialize access due to concurrent update")
        try await b.execute("ROLLBACK")
    }

    @Test func twoBlocksInsertingEachOthersKeysDeadlockAndOneGoesOn() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("BEGIN")
        try await b.execute("BEGIN")
        try await a.execute("INSERT INTO users (email) VALUES ('ann@example.com')")
        try await b.execute("INSERT INTO users (email) VALUES ('bob@example.com')")
        let first = Task { await code { try await a.execute("INSERT INTO users (email) VALUES ('bob@example.com')") } }
        try await waitUntilWaiting(db, a)
        let second = await code { try await b.execute("INSERT INTO users (email) VALUES ('ann@example.com')") }
        #expect(second == "40P01", "deadlock detected")
        try await b.execute("ROLLBACK")
        #expect(await first.value == nil, "b rolled back: a's INSERT goes on")
        try await a.execute("COMMIT")
        #expect(try await rows(a, "SELECT count(*) FROM users") == [[.integer(2)]])
    }

    /// A proposed row that meets a visible row is not inserted, so its keys are not locked:
    /// DO NOTHING leaves others free to run the same statement, as in PostgreSQL.
    @Test func onConflictDoNothingOnAVisibleRowLocksNothing() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        try await a.execute("INSERT INTO users (email) VALUES ('ann@example.com')")
        let before = db.locks.rowLocksHeld
        try await a.execute("BEGIN")
        let sql = "INSERT INTO users (id, email) VALUES (1, 'ann@example.com') ON CONFLICT DO NOTHING"
        #expect(try await a.execute(sql).commandTag == "INSERT 0 0")
        try #require(db.locks.rowLocksHeld == before)  // (else b would wait for a below)
        #expect(try await b.execute(sql).commandTag == "INSERT 0 0", "no wait for a's block")
        try await a.execute("COMMIT")
    }

    @Test func anInsertHoldsItsKeysUntilItsTransactionEnds() async throws {
        let db = try await makeDatabase()
        let a = db.session()
        let before = db.locks.rowLocksHeld
        try await a.execute("INSERT INTO users (email) VALUES ('ann@example.com')")
        #expect(db.locks.rowLocksHeld == before, "autocommit: given back at its commit")
        try await a.execute("BEGIN")
        try await a.execute("INSERT INTO users (email) VALUES ('bob@example.com'), (NULL)")
        #expect(db.locks.rowLocksHeld == before + 3, "two primary keys and one email (a NULL takes no key)")
        try await a.execute("ROLLBACK")
        #expect(db.locks.rowLocksHeld == before)
    }

    /// Bulk loads (COPY, the RedWire and gRPC bulk inserts: `insertRows`) lock no keys, whatever
    /// their size: a conflict with a concurrent insert of one of their keys is found at commit,
    /// and the later committer gets 40001.
    @Test func aBulkLoadLocksNoKeysAndConflictsAtCommit() async throws {
        let db = try await makeDatabase()
        let a = db.session(), b = db.session()
        let before = db.locks.rowLocksHeld
        try await a.execute("BEGIN")
        try await a.insertRows(into: "users", columns: ["id", "email"], rows: [[.integer(1), .text("ann@example.com")], [.integer(2), .null]])
        try #require(db.locks.rowLocksHeld == before)  // (else b would wait for a below)
        #expect(try await b.execute("INSERT INTO users (id, email) VALUES (3, 'ann@example.com')").commandTag == "INSERT 0 1", "no wait for a's load")
        #expect(await code { try await a.execute("COMMIT") } == "40001")
        #expect(try await rows(b, "SELECT id FROM users") == [[.integer(3)]])
    }
}
