import Testing
import RedCore
import RedDB
@testable import RedQuery

/// What corpus `plpgsql_functions.test` cannot see: where a function's writes go when its
/// caller was tried without waiting, the caller's read-only limits, notices, and how deep
/// functions may call one another.
@Suite struct PLpgSQLFunctionTests: SessionTestSupport {
    /// `SELECT f()` looks read-only, so a surface first tries it without waiting, in a
    /// transaction it rolls back. A function that writes declines that attempt, and the
    /// statement runs again on the waiting path, which commits.
    /// `table.column%TYPE` in a parameter is the column's type without its length, with one
    /// notice per reference written (an INOUT one is an argument, a result column and the result
    /// type), as PostgreSQL says it.
    @Test func typeReferencesAreConvertedWithOneNoticeEach() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE tr (k varchar(5), n int)")
        let created = try await s.execute("CREATE FUNCTION tr_f(INOUT x tr.k%TYPE, y tr.n%TYPE) LANGUAGE plpgsql AS $$ BEGIN x := x || y; END $$")
        #expect(created.notices == ["type reference tr.k%TYPE converted to character varying",
                                    "type reference tr.n%TYPE converted to integer"])
        #expect(try await s.execute("SELECT tr_f('abcdefg', 1)").rows == [[.text("abcdefg1")]])  // no length: varchar, not varchar(5)
        await #expect(sqlState { try await s.execute("CREATE FUNCTION tr_g(x tr.nosuch%TYPE) RETURNS int LANGUAGE sql AS 'SELECT 1'") } == "42703")
        await #expect(sqlState { try await s.execute("CREATE FUNCTION tr_g(x nosuch.k%TYPE) RETURNS int LANGUAGE sql AS 'SELECT 1'") } == "42P01")
    }

    @Test func aWritingFunctionCalledBySelectCommits() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE hits (n int);
            CREATE FUNCTION hit() RETURNS bigint LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO hits VALUES (1); RETURN (SELECT count(*) FROM hits); END $$;
            CREATE FUNCTION peek() RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT count(*) FROM hits); END $$;
            """)
        #expect(try s.executeWithoutWaiting("SELECT hit()") == nil)
        #expect(try await rows(s, "SELECT count(*) FROM hits") == [[.integer(0)]])
        #expect(try await rows(s, "SELECT hit()") == [[.integer(1)]])
        #expect(try s.executeWithoutWaiting("SELECT peek()")?.rows == [[.integer(1)]])
        let other = db.session()
        #expect(try await rows(other, "SELECT count(*) FROM hits") == [[.integer(1)]])
    }

    /// A read-only transaction or role writes nothing through a function (25006), and reads go on.
    @Test func readOnlyLimitsReachInsideFunctions() async throws {
        let db = try await Database.inMemory()
        let admin = db.session()
        try await admin.execute("""
            CREATE TABLE t (a int);
            CREATE FUNCTION add_row() RETURNS int LANGUAGE plpgsql AS $$ BEGIN INSERT INTO t VALUES (1); RETURN 1; END $$;
            CREATE FUNCTION rows_now() RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT count(*) FROM t); END $$;
            """)
        try await admin.execute("BEGIN READ ONLY")
        await #expect(sqlState { try await admin.execute("SELECT add_row()") } == "25006")
        try await admin.execute("ROLLBACK")
        let reader = db.session()
        reader.access = .readOnly(principal: "user \"ro\"")
        await #expect(sqlState { try await reader.execute("SELECT add_row()") } == "25006")
        #expect(try await rows(reader, "SELECT rows_now()") == [[.integer(0)]])
        #expect(try await rows(admin, "SELECT count(*) FROM t") == [[.integer(0)]])
    }

    /// Only a VOLATILE function writes (PostgreSQL's rule), a streamed query's function writes
    /// nothing (its transaction is rolled back), and index expressions take SQL functions only.
    @Test func whereAFunctionMayNotWrite() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE w (a int);
            CREATE FUNCTION stable_writer() RETURNS int LANGUAGE plpgsql STABLE AS $$ BEGIN INSERT INTO w VALUES (1); RETURN 1; END $$;
            CREATE FUNCTION writer() RETURNS int LANGUAGE plpgsql AS $$ BEGIN INSERT INTO w VALUES (1); RETURN 1; END $$;
            CREATE FUNCTION same(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN x; END $$;
            """)
        await #expect(sqlState { try await s.execute("SELECT stable_writer()") } == "0A000")
        await #expect(sqlState {
            let stream = try await s.stream("SELECT writer()")
            defer { stream.close() }
            while try stream.next() != nil {}
        } == "0A000")
        await #expect(sqlState { try await s.execute("CREATE INDEX ON w ((same(a)))") } == "0A000")
        #expect(try await rows(s, "SELECT count(*) FROM w") == [[.integer(0)]])
    }

    /// A statement that calls a PL/pgSQL function never splits its aggregate into parallel
    /// parts: the function's statements share the one transaction.
    @Test func aggregatesCallingFunctionsRunInOnePart() async throws {
        var options = DatabaseOptions()
        options.executionLimits.parallelScanMinimumRows = 100
        options.executionLimits.parallelScanParts = 2
        let db = try await Database.inMemory(options: options)
        let s = db.session()
        try await s.execute("""
            CREATE TABLE big (id int PRIMARY KEY);
            INSERT INTO big SELECT g FROM generate_series(1, 2000) AS g;
            CREATE FUNCTION odd(x int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'x'; RETURN x % 2 = 1; END $$;
            """)
        let counter = AggregateNode.PartsCounter()
        let result = try await AggregateNode.$partsCounter.withValue(counter) { try await s.execute("SELECT count(*) FROM big WHERE odd(id)") }
        #expect(result.rows == [[.integer(1000)]])
        #expect(result.notices.count == 2000)
        #expect(counter.value.load(ordering: .relaxed) == 0)
        let plain = AggregateNode.PartsCounter()
        _ = try await AggregateNode.$partsCounter.withValue(plain) { try await s.execute("SELECT count(*) FROM big WHERE id % 2 = 1") }
        #expect(plain.value.load(ordering: .relaxed) == 2)  // the same statement without the call is split
    }

    @Test func noticesRaisedInFunctionsComeWithTheResult() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE FUNCTION shout(x int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'saw %', x; RAISE WARNING 'w%', x; RETURN x; END $$")
        let result = try await s.execute("SELECT shout(v) FROM (VALUES (1), (2)) AS t(v) ORDER BY 1")
        #expect(result.rows == [[.integer(1)], [.integer(2)]])
        #expect(result.notices.sorted() == ["saw 1", "saw 2"])
        #expect(result.warnings.sorted() == ["w1", "w2"])
        let inDo = try await s.execute("DO $$ BEGIN PERFORM shout(7); END $$")
        #expect(inDo.notices == ["saw 7"])
    }

    /// Recursion ends in 54001, at the call limit or when the thread's stack runs low, never
    /// in a crash; the session goes on.
    @Test func deepRecursionEndsInAnError() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE FUNCTION down(n int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN IF n <= 0 THEN RETURN 0; END IF; RETURN 1 + down(n - 1); END $$")
        #expect(try await rows(s, "SELECT down(20)") == [[.integer(20)]])
        await #expect(sqlState { try await s.execute("SELECT down(100000)") } == "54001")
        try await s.execute("CREATE FUNCTION forever() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN forever(); END $$")
        await #expect(sqlState { try await s.execute("SELECT forever()") } == "54001")
        #expect(try await rows(s, "SELECT down(3)") == [[.integer(3)]])
    }

    /// An error a function's handler catches undoes the function's own writes since its
    /// block began, not the caller's.
    @Test func aHandlerInsideAFunctionUndoesOnlyItsBlock() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE u (id int PRIMARY KEY);
            CREATE FUNCTION try_insert(k int) RETURNS boolean LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO u VALUES (k + 1000);
              INSERT INTO u VALUES (k);
              RETURN true;
            EXCEPTION WHEN unique_violation THEN
              RETURN false;
            END $$;
            """)
        try await s.execute("BEGIN")
        try await s.execute("INSERT INTO u VALUES (1)")
        #expect(try await rows(s, "SELECT try_insert(1), try_insert(2)") == [[.boolean(false), .boolean(true)]])
        try await s.execute("COMMIT")
        #expect(try await rows(s, "SELECT id FROM u ORDER BY id") == [[.integer(1)], [.integer(2)], [.integer(1002)]])
    }
}
