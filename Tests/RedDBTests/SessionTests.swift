import Foundation
import Testing
import RedCore
import RedDB

/// The embedded API: sessions, transactions, parameters, decoding, streaming, helpers.
@Suite struct SessionTests: SessionTestSupport {

    @Test func autocommitAndExplicitTransactionsUseSnapshots() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        try await a.execute("BEGIN")
        try await a.execute("INSERT INTO t (id, v) VALUES (1, 'one')")
        #expect(try await a.execute("SELECT count(*) FROM t").rows == [[.integer(1)]])
        #expect(try await b.execute("SELECT count(*) FROM t").rows == [[.integer(0)]])
        try await b.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        #expect(try await b.execute("SELECT count(*) FROM t").rows == [[.integer(0)]])
        try await a.execute("COMMIT")
        #expect(try await b.execute("SELECT count(*) FROM t").rows == [[.integer(0)]], "b's snapshot predates a's commit")
        try await b.execute("ROLLBACK")
        #expect(try await b.execute("SELECT count(*) FROM t").rows == [[.integer(1)]])
    }

    /// A cast's column is named after what it casts, else after PostgreSQL's name for the
    /// type (as PostgreSQL 15 names them, integers being int8 here).
    @Test func castColumnsAreNamedAsPostgreSQLNamesThem() async throws {
        let s = try await Database.inMemory().session()
        let result = try await s.execute("SELECT 1::bigint, 1.5::numeric, 1.5::float, 't'::boolean, '1 day'::interval, '{}'::jsonb, '10:00'::time, now()::date")
        #expect(result.columns.map(\.name) == ["int8", "numeric", "float8", "bool", "interval", "jsonb", "time", "now"])
        // A later cast's type replaces an earlier one's, not a column's name; arrays by their elements.
        let chained = try await s.execute("SELECT 5::int::text, now()::date::text, interval '1 day'::text, '{1}'::int[], '{1}'::int[]::text[], x::int::text FROM (SELECT 1 AS x) s")
        #expect(chained.columns.map(\.name) == ["text", "now", "text", "int4", "text", "x"])
    }

    /// A row a CHECK refuses is shown in the error's DETAIL as PostgreSQL 15 shows it: every
    /// column, generated ones too, as its type writes it, NULL as `null`.
    @Test func checkViolationsShowTheFailingRow() async throws {
        let s = try await Database.inMemory().session()
        try await s.execute("CREATE TABLE g (id INT PRIMARY KEY, a INT, n NUMERIC(6,2), t TEXT, ok BOOLEAN, b INT GENERATED ALWAYS AS (a * 2) STORED, CHECK (a > 0))")
        let error = await #expect(throws: RedError.self) { try await s.execute("INSERT INTO g (id, a, n, t, ok) VALUES (2, -1, 1.5, 'x y', true)") }
        #expect(error?.detail == "Failing row contains (2, -1, 1.50, x y, t, -2).")
        try await s.execute("INSERT INTO g (id, a) VALUES (1, 1)")
        let update = await #expect(throws: RedError.self) { try await s.execute("UPDATE g SET a = -5") }
        #expect(update?.detail == "Failing row contains (1, -5, null, null, null, -10).")
    }

    /// Operators and the SQL-standard call forms are named as PostgreSQL 15 names them.
    @Test func operatorAndSpecialFormColumnsAreNamedAsPostgreSQLNamesThem() async throws {
        let s = try await Database.inMemory().session()
        let result = try await s.execute("""
            SELECT 2^10, ARRAY[1, 2], (ARRAY[1, 2, 3])[2:3], interval '90 minutes', trim('  x '), trim(leading 'x' from 'xy'),
                   position('l' in 'hello'), strpos('hello', 'l'), timestamp '2024-01-01' AT TIME ZONE 'UTC'
            """)
        #expect(result.columns.map(\.name) == ["?column?", "array", "array", "interval", "btrim", "ltrim", "position", "strpos", "timezone"])
    }

    @Test func schemaChangesReachEverySessionAtTheRightSnapshot() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("CREATE TABLE t (x INT); INSERT INTO t (x) VALUES (1)")
        #expect(try await b.execute("SELECT * FROM t").columns.map(\.name) == ["x"])   // cached for this catalog
        try await b.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        #expect(try await b.execute("SELECT * FROM t").columns.map(\.name) == ["x"])
        try await a.execute("ALTER TABLE t ADD COLUMN y INT DEFAULT 2")
        #expect(try await a.execute("SELECT * FROM t").columns.map(\.name) == ["x", "y"])
        #expect(try await b.execute("SELECT * FROM t").columns.map(\.name) == ["x"], "b's snapshot predates the ALTER")
        try await b.execute("COMMIT")
        #expect(try await b.execute("SELECT * FROM t").rows == [[.integer(1), .integer(2)]])
        try await a.execute("BEGIN; DROP TABLE t")
        #expect(try await a.execute("SHOW TABLES").rows.isEmpty)
        #expect(try await b.execute("SELECT count(*) FROM t").rows == [[.integer(1)]], "the drop is not committed yet")
        try await a.execute("COMMIT")
        #expect(await code { try await b.execute("SELECT * FROM t") } == "42P01")
    }

    @Test func operatorsRefuseToHoldMoreRowsThanTheLimit() async throws {
        var options = DatabaseOptions()
        options.executionLimits.maxMaterializedRows = 100
        let s = try await Database.inMemory(options: options).session()
        try await s.execute("CREATE TABLE big (i INT); INSERT INTO big (i) SELECT g FROM generate_series(1, 60) AS g")
        #expect(try await s.execute("SELECT count(*) FROM big a, big b WHERE a.i = b.i").rows == [[.integer(60)]])
        #expect(await code { try await s.execute("SELECT a.i FROM big a, big b ORDER BY 1") } == "54000")
        #expect(await code { try await s.execute("SELECT DISTINCT a.i * 100 + b.i FROM big a, big b") } == "54000")
        #expect(try await s.execute("SELECT count(*) FROM big a, big b").rows == [[.integer(3600)]], "streaming through needs no memory")
    }

    @Test func rollbackDiscardsEverythingIncludingDDL() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("BEGIN; CREATE TABLE t (id INT); INSERT INTO t (id) VALUES (1); ROLLBACK")
        #expect(await code { try await s.execute("SELECT * FROM t") } == "42P01")
    }

    @Test func anErrorAbortsTheTransactionUntilRollback() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE t (id INT PRIMARY KEY)")
        try await s.execute("BEGIN")
        try await s.execute("INSERT INTO t (id) VALUES (1)")
        #expect(await code { try await s.execute("INSERT INTO t (id) VALUES (1)") } == "23505")
        #expect(await code { try await s.execute("SELECT 1") } == "25P02")
        #expect(s.transactionFailed)
        let commit = try await s.execute("COMMIT")
        #expect(commit.commandTag == "ROLLBACK")
        #expect(try await s.execute("SELECT count(*) FROM t").rows == [[.integer(0)]])
    }

    @Test func conflictingTransactionsFirstCommitterWins() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("CREATE TABLE acct (id INT PRIMARY KEY, balance INT)")
        try await a.execute("INSERT INTO acct (id, balance) VALUES (1, 100)")
        // REPEATABLE READ: b's UPDATE waits for a's row lock, then fails (a changed the row).
        try await a.execute("BEGIN")
        try await b.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        _ = try await b.execute("SELECT 1")
        try await a.execute("UPDATE acct SET balance = balance - 10 WHERE id = 1")
        let second = Task { await code { try await b.execute("UPDATE acct SET balance = balance - 20 WHERE id = 1") } }
        while !db.locks.waitingProcessIDs().contains(b.processID) { try await Task.sleep(for: .milliseconds(2)) }
        try await a.execute("COMMIT")
        #expect(await second.value == "40001")
        try await b.execute("ROLLBACK")
        #expect(try await a.execute("SELECT balance FROM acct").rows == [[.integer(90)]])
        // READ COMMITTED (the default): b waits, then applies its change to a's result.
        try await a.execute("BEGIN")
        try await b.execute("BEGIN")
        try await a.execute("UPDATE acct SET balance = balance - 10 WHERE id = 1")
        let third = Task { try await b.execute("UPDATE acct SET balance = balance - 20 WHERE id = 1") }
        while !db.locks.waitingProcessIDs().contains(b.processID) { try await Task.sleep(for: .milliseconds(2)) }
        try await a.execute("COMMIT")
        _ = try await third.value
        try await b.execute("COMMIT")
        #expect(try await a.execute("SELECT balance FROM acct").rows == [[.integer(60)]])
    }

    @Test func concurrentAutocommitIncrementsAreAllApplied() async throws {
        let db = try await Database.inMemory()
        try await db.session().execute("CREATE TABLE c (id INT PRIMARY KEY, n INT); INSERT INTO c (id, n) VALUES (1, 0)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let s = db.session()
                    for _ in 0..<25 { try await s.execute("UPDATE c SET n = n + 1 WHERE id = 1") }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await db.session().execute("SELECT n FROM c").rows == [[.integer(100)]])
    }

    @Test func concurrentDuplicateInsertsLeaveOneRow() async throws {
        let db = try await Database.inMemory()
        try await db.session().execute("CREATE TABLE u (email TEXT UNIQUE)")
        var failures = 0
        try await withThrowingTaskGroup(of: String?.self) { group in
            for _ in 0..<6 {
                group.addTask { await self.code { try await db.session().execute("INSERT INTO u (email) VALUES ('a@x.io')") } }
            }
            for try await result in group where result != nil {
                #expect(result == "23505")
                failures += 1
            }
        }
        #expect(failures == 5)
        #expect(try await db.session().execute("SELECT count(*) FROM u").rows == [[.integer(1)]])
    }

    @Test func parametersBindByPositionAndAreChecked() async throws {
        let s = try await Database.inMemory().session()
        try await s.execute("CREATE TABLE p (id INT, name TEXT)")
        try await s.execute("INSERT INTO p (id, name) VALUES ($1, $2), (?3, 'x')".replacingOccurrences(of: "?3", with: "$3"),
                            parameters: [.integer(1), .text("Ada"), .integer(2)])
        #expect(try await s.execute("SELECT name FROM p WHERE id = ?", parameters: [.integer(1)]).rows == [[.text("Ada")]])
        #expect(await code { try await s.execute("SELECT $2::int", parameters: [.integer(1)]) } != nil)
    }

    @Test func rowsDecodeIntoCodableTypes() async throws {
        struct Person: Decodable, Equatable { let id: Int; let name: String; let nickname: String? }
        let s = try await Database.inMemory().session()
        try await s.execute("CREATE TABLE people (id INT, name TEXT, nickname TEXT)")
        try await s.execute("INSERT INTO people (id, name, nickname) VALUES (1, 'Ada', NULL), (2, 'Grace', 'Amazing')")
        let people = try await s.query(Person.self, "SELECT id, name, nickname FROM people ORDER BY id")
        #expect(people == [Person(id: 1, name: "Ada", nickname: nil), Person(id: 2, name: "Grace", nickname: "Amazing")])
    }

    @Test func streamsRowsWithoutCollectingThem() async throws {
        let s = try await Database.inMemory().session()
        try await s.execute("CREATE TABLE big (i INT)")
        try await s.execute("INSERT INTO big (i) SELECT g FROM generate_series(1, 5000) AS g")
        let stream = try await s.stream("SELECT i FROM big WHERE i % 2 = 0")
        #expect(stream.columns.map(\.name) == ["i"])
        var count = 0, sum: Int64 = 0
        for try await row in stream {
            count += 1
            if case .integer(let i) = row[0] { sum += i }
        }
        #expect(count == 2500)
        #expect(sum == 6_252_500)
    }

    /// A streamed query that fails while its rows are read aborts the open block, as any error
    /// does in PostgreSQL: what its function wrote for the rows before the error never commits.
    @Test func aStreamedQueryThatFailsAbortsItsBlock() async throws {
        let s = try await Database.inMemory().session()
        try await s.execute("""
            CREATE TABLE log (i int);
            CREATE FUNCTION note(i int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN INSERT INTO log VALUES (i); RETURN 10 / (3 - i); END $$;
            """)
        try await s.execute("BEGIN")
        var read = 0
        await #expect(sqlState(of: {
            let stream = try await s.stream("SELECT note(g) FROM generate_series(1, 5) AS g")
            defer { stream.close() }
            while try stream.next() != nil { read += 1 }
        }) == "22012")
        #expect(read == 2)
        await #expect(sqlState(of: { try await s.execute("SELECT 1") }) == "25P02")
        #expect(try await s.execute("COMMIT").commandTag == "ROLLBACK")
        #expect(try await s.execute("SELECT count(*) FROM log").rows == [[.integer(0)]])
        // The next block is not failed by the last one's stream.
        try await s.execute("BEGIN")
        try await s.execute("INSERT INTO log VALUES (7)")
        #expect(try await s.execute("COMMIT").commandTag == "COMMIT")
    }

    @Test func keyValueAndDocumentHelpers() async throws {
        let s = try await Database.inMemory().session()
        try await s.kvPut("theme", .text("dark"), collection: "settings")
        #expect(try await s.kvGet("theme", collection: "settings") == .text("dark"))
        #expect(try await s.kvGet("missing", collection: "settings") == nil)
        #expect(try await s.kvDelete("theme", collection: "settings"))
        #expect(try await !s.kvDelete("theme", collection: "settings"))
        let rid = try await s.insertDocument(try JSONValue.parse(#"{"name":"Ada","age":36}"#), into: "people")
        try await s.insertDocument(try JSONValue.parse(#"{"name":"Bob","age":12}"#), into: "people")
        #expect(rid >= 1)
        let adults = try await s.documents(in: "people", where: "age >= $1", parameters: [.integer(18)])
        #expect(adults.map { $0["name"] } == [.string("Ada")])
    }

    @Test func metadataIsStoredWithTheRow() async throws {
        let s = try await Database.inMemory().session()
        try await s.execute("CREATE TABLE e (id INT)")
        try await s.execute("INSERT INTO e (id) VALUES (1) WITH METADATA (Source = 'import', batch = 7)")
        #expect(try await s.execute("SELECT _metadata FROM e").rows == [[.json(try JSONValue.parse(#"{"source":"import","batch":7}"#))]])
    }

    @Test func expiredRowsAreInvisibleThenReclaimed() async throws {
        let clock = ManualClock(milliseconds: 1_000_000)
        var options = DatabaseOptions()
        options.clock = clock
        let db = try await Database.inMemory(options: options)
        let s = db.session()
        try await s.execute("CREATE TABLE t (id INT UNIQUE)")
        try await s.execute("INSERT INTO t (id) VALUES (1) WITH TTL 5 s")
        try await s.execute("INSERT INTO t (id) VALUES (2)")
        clock.advance(milliseconds: 5_000)
        #expect(try await s.execute("SELECT id FROM t").rows == [[.integer(2)]])
        let vacuum = try await s.execute("VACUUM")
        #expect(vacuum.message?.contains("reclaimed 1") == true)
        try await s.execute("INSERT INTO t (id) VALUES (1)")
        #expect(try await s.execute("SELECT count(*) FROM t").rows == [[.integer(2)]])
    }

    @Test func dataSchemasIndexesAndViewsSurviveReopen() async throws {
        try await withTemporaryDatabasePath("session") { path in
            do {
                let db = try await Database.open(path: path)
                let s = db.session()
                try await s.execute("CREATE TABLE t (id INT PRIMARY KEY, email EMAIL, n INT DEFAULT 5)")
                try await s.execute("INSERT INTO t (id, email) VALUES (1, 'A@X.IO'), (2, 'b@x.io')")
                try await s.execute("CREATE INDEX t_email ON t (email); CREATE VIEW v AS SELECT id, email FROM t WHERE n = 5")
                try await s.execute("KV PUT k = 'v'")
                try await db.close()
            }
            let db = try await Database.open(path: path)
            let s = db.session()
            #expect(try await s.execute("SELECT email FROM v ORDER BY id").rows == [[.text("a@x.io")], [.text("b@x.io")]])
            #expect(try await s.execute("EXPLAIN SELECT * FROM t WHERE email = 'b@x.io'").rows.first?.first?.displayText.contains("t_email") == true)
            #expect(await code { try await s.execute("INSERT INTO t (id) VALUES (2)") } == "23505")
            try await s.execute("INSERT INTO t (id) VALUES (3)")
            #expect(try await s.execute("SELECT id FROM t ORDER BY id").rows == [[.integer(1)], [.integer(2)], [.integer(3)]])
            #expect(try await s.kvGet("k") == .text("v"))
            try await db.close()
        }
    }
}
