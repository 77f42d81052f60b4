import Foundation
import Testing
import RedDB
import RedEngine
import RedStorage

/// `CREATE TEMP TABLE`: a session's own tables, as PostgreSQL has them. Each test runs two or
/// more sessions against one database and checks what each of them sees, what is left in the
/// catalog once a session ends, and what a later process's VACUUM reclaims.
@Suite struct TemporaryTableTests: SessionTestSupport {
    /// The temporary collections and sequences left in the database, by their stored names.
    func leftovers(_ db: Database) throws -> [String] {
        let tx = try db.engine.begin()
        defer { tx.rollback() }
        let tables = try tx.collections(startingWith: TemporaryNamespace.marker).map(\.name)
        let sequences = try TableStore(engine: db.engine).sequences.all(tx).map(\.name).filter(TemporaryNamespace.isTemporary)
        return tables + sequences
    }

    /// Polls until the temporary tables of ended sessions are gone (they are dropped in a
    /// transaction of their own once the session is released).
    func waitUntilNoLeftovers(_ db: Database) async throws {
        for _ in 0..<2_000 {
            if try leftovers(db).isEmpty { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("temporary tables were left behind: \(try leftovers(db))")
    }

    @Test func aTemporaryTableIsTheSessionsOwnAndHidesAPermanentOneOfItsName() async throws {
        let db = try await Database.inMemory()
        var a: Session? = db.session()
        let b = db.session()
        try await b.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'permanent')")
        try await a!.execute("CREATE TEMP TABLE t (id SERIAL PRIMARY KEY, v TEXT NOT NULL)")
        try await a!.execute("INSERT INTO t (v) VALUES ('mine'), ('also mine')")
        #expect(try await rows(a!, "SELECT id, v FROM t ORDER BY id") == [[.integer(1), .text("mine")], [.integer(2), .text("also mine")]])
        // Its serial sequence answers to the name PostgreSQL gives it, in pg_temp.
        #expect(try await rows(a!, "SELECT pg_get_serial_sequence('t', 'id'), currval('t_id_seq')") == [[.text("pg_temp.t_id_seq"), .integer(2)]])
        try await a!.execute("ALTER SEQUENCE t_id_seq RESTART WITH 100")
        #expect(try await rows(a!, "INSERT INTO t (v) VALUES ('later') RETURNING id") == [[.integer(100)]])
        #expect(try await rows(a!, "SELECT setval(pg_get_serial_sequence('t', 'id'), 200)") == [[.integer(200)]])
        #expect(try await rows(a!, "INSERT INTO t (v) VALUES ('later still') RETURNING id") == [[.integer(201)]])
        #expect(await code { _ = try await a!.execute("DROP SEQUENCE t_id_seq") } == "2BP01")
        try await a!.execute("DELETE FROM t WHERE id >= 100")
        #expect(await code { _ = try await a!.execute("CREATE TEMP TABLE \(String(repeating: "n", count: 250)) (x INT)") } != nil,
                "a name too long for the namespace is refused")
        #expect(try await rows(b, "SELECT id, v FROM t") == [[.integer(1), .text("permanent")]], "another session sees the permanent table")
        // A second session's temporary table of the same name, with its own serial sequence.
        try await b.execute("CREATE TEMPORARY TABLE t (id SERIAL PRIMARY KEY, v TEXT)")
        try await b.execute("INSERT INTO t (v) VALUES ('b')")
        #expect(try await rows(b, "SELECT id, v FROM t") == [[.integer(1), .text("b")]])
        try await a!.execute("UPDATE t SET v = upper(v) WHERE id = 2")
        #expect(try await rows(a!, "SELECT v FROM t WHERE id = 2") == [[.text("ALSO MINE")]])
        // Catalog listings of other surfaces never show them.
        #expect(try await b.collections().map(\.name) == ["t"])
        // DROP TABLE drops the temporary table first, then the permanent one.
        try await b.execute("DROP TABLE t")
        #expect(try await rows(b, "SELECT v FROM t") == [[.text("permanent")]])
        a = nil  // the connection closes: its temporary table and sequence go
        try await waitUntilNoLeftovers(db)
        #expect(try await rows(b, "SELECT v FROM t") == [[.text("permanent")]])
        #expect(try await db.session().execute("SELECT count(*) FROM t").rows == [[.integer(1)]])
    }

    @Test func descriptionsSharedBetweenSessionsDoNotCrossATemporaryTable() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await b.execute("CREATE TABLE t (x TEXT)")
        try await a.execute("CREATE TEMP TABLE t (a INT, b INT)")
        let sql = "SELECT * FROM t WHERE $1::int IS NOT NULL"
        #expect(try await b.describe(sql).columns?.map(\.name) == ["x"])
        #expect(try await a.describe(sql).columns?.map(\.name) == ["a", "b"])
        #expect(try await b.describe(sql).columns?.map(\.name) == ["x"])
    }

    @Test func onCommitDeleteRowsAndDropRunAtEachCommit() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TEMP TABLE scratch (n INT) ON COMMIT DELETE ROWS")
        try await s.execute("BEGIN")
        try await s.execute("INSERT INTO scratch VALUES (1), (2)")
        #expect(try await rows(s, "SELECT count(*) FROM scratch") == [[.integer(2)]], "rows stay until the block commits")
        try await s.execute("COMMIT")
        #expect(try await rows(s, "SELECT count(*) FROM scratch") == [[.integer(0)]])
        try await s.execute("INSERT INTO scratch VALUES (3)")  // autocommit: gone at once
        #expect(try await rows(s, "SELECT count(*) FROM scratch") == [[.integer(0)]])

        try await s.execute("BEGIN")
        try await s.execute("CREATE TEMP TABLE once (n INT) ON COMMIT DROP")
        try await s.execute("INSERT INTO once VALUES (1)")
        #expect(try await rows(s, "SELECT n FROM once") == [[.integer(1)]])
        try await s.execute("COMMIT")
        #expect(await code { _ = try await s.execute("SELECT * FROM once") } == "42P01")

        // A rolled-back CREATE leaves nothing, not even its ON COMMIT action: a table that takes
        // its name later (here by a rename, in the same block) keeps its rows.
        try await s.execute("BEGIN")
        try await s.execute("CREATE TEMP TABLE gone (n INT) ON COMMIT DROP")
        try await s.execute("ROLLBACK")
        try await s.execute("BEGIN")
        #expect(await code { _ = try await s.execute("SELECT * FROM gone") } == "42P01")
        try await s.execute("ROLLBACK")
        try await s.execute("BEGIN")
        try await s.execute("CREATE TEMP TABLE other (n INT)")
        try await s.execute("ALTER TABLE other RENAME TO gone")
        try await s.execute("INSERT INTO gone VALUES (7)")
        try await s.execute("COMMIT")
        #expect(try await rows(s, "SELECT n FROM gone") == [[.integer(7)]])

        #expect(await code { _ = try await s.execute("CREATE TABLE p (n INT) ON COMMIT DROP") } == "42P16")
        #expect(await code { _ = try await s.execute("CREATE TEMP VIEW v AS SELECT 1") } == "0A000")
    }

    @Test func createTableAsSelectIntoIndexesAndAlter() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE src (id INT PRIMARY KEY, grp TEXT); INSERT INTO src SELECT g, 'g' || (g % 3) FROM generate_series(1, 30) g")
        try await s.execute("CREATE TEMP TABLE totals AS SELECT grp, count(*) AS n FROM src GROUP BY grp")
        #expect(try await rows(s, "SELECT grp, n FROM totals ORDER BY grp") == [[.text("g0"), .integer(10)], [.text("g1"), .integer(10)], [.text("g2"), .integer(10)]])
        try await s.execute("CREATE TEMP TABLE IF NOT EXISTS totals AS SELECT 1 AS x")
        try await s.execute("SELECT id INTO TEMP TABLE picked FROM src WHERE id <= 3")
        try await s.execute("CREATE LOCAL TEMPORARY TABLE kept (n) ON COMMIT PRESERVE ROWS AS SELECT 5")
        #expect(try await rows(s, "SELECT n FROM kept") == [[.integer(5)]])
        try await s.execute("CREATE UNIQUE INDEX picked_id ON picked (id)")
        #expect(await code { _ = try await s.execute("INSERT INTO picked VALUES (2)") } == "23505")
        try await s.execute("ALTER TABLE picked ADD COLUMN note TEXT DEFAULT 'x'")
        try await s.execute("ALTER TABLE picked RENAME TO chosen")
        #expect(try await rows(s, "SELECT id, note FROM chosen ORDER BY id") == [[.integer(1), .text("x")], [.integer(2), .text("x")], [.integer(3), .text("x")]])
        try await s.execute("DROP INDEX picked_id")
        try await s.execute("INSERT INTO chosen VALUES (2, 'twice')")
        try await s.execute("TRUNCATE chosen")
        #expect(try await rows(s, "SELECT count(*) FROM chosen") == [[.integer(0)]])
        #expect(try await rows(s, "SELECT count(*) FROM src JOIN totals ON src.grp = totals.grp") == [[.integer(30)]])
        // A permanent table may not take the name of a temporary one of the session (its rows
        // would be added by name); another session may.
        #expect(await code { _ = try await s.execute("CREATE TABLE totals AS SELECT 1 AS x") } == "42P07")
        try await db.session().execute("CREATE TABLE totals (x INT)")
        #expect(try await rows(s, "SELECT count(*) FROM totals") == [[.integer(3)]])
        #expect(await code { _ = try await s.execute("CREATE VIEW v AS SELECT * FROM src JOIN chosen USING (id)") } == "0A000")
        try await s.discardTemporaryTables()  // DISCARD TEMP
        #expect(try await rows(s, "SELECT count(*) FROM totals") == [[.integer(0)]], "the permanent table shows again")
        #expect(try leftovers(db).isEmpty)
    }

    @Test func foreignKeysLinkTablesOfOneKindOnly() async throws {
        let db = try await Database.inMemory()
        let s = db.session(), other = db.session()
        try await s.execute("CREATE TABLE parent (id INT PRIMARY KEY); CREATE TABLE child (p INT REFERENCES parent (id)); INSERT INTO parent VALUES (1)")
        try await s.execute("CREATE TEMP TABLE tparent (id INT PRIMARY KEY)")
        try await s.execute("CREATE TEMP TABLE tchild (p INT REFERENCES tparent (id) ON DELETE CASCADE)")
        try await s.execute("INSERT INTO tparent VALUES (10); INSERT INTO tchild VALUES (10)")
        #expect(await code { _ = try await s.execute("INSERT INTO tchild VALUES (11)") } == "23503")
        try await s.execute("DELETE FROM tparent")
        #expect(try await rows(s, "SELECT count(*) FROM tchild") == [[.integer(0)]])
        #expect(await code { _ = try await s.execute("CREATE TEMP TABLE bad (p INT REFERENCES parent (id))") } == "42P16")
        #expect(await code { _ = try await s.execute("CREATE TABLE bad (p INT REFERENCES tparent (id))") } == "42P16")
        // A temporary table named like a permanent parent does not stand in for it.
        try await s.execute("CREATE TEMP TABLE parent (id INT PRIMARY KEY)")
        try await s.execute("INSERT INTO child VALUES (1)")
        #expect(await code { _ = try await s.execute("INSERT INTO child VALUES (2)") } == "23503")
        #expect(await code { _ = try await other.execute("DELETE FROM parent") } == "23503", "the permanent parent is still referenced")
        try await s.execute("DROP TABLE parent")  // the temporary one: no constraint names it
        #expect(try await rows(s, "SELECT count(*) FROM parent") == [[.integer(1)]])
    }

    @Test func pgTempNamesOnlyTemporaryTablesAndNothingReachesAPermanentOneThroughThem() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE staging (n INT); INSERT INTO staging VALUES (1)")
        try await s.execute("DROP TABLE IF EXISTS pg_temp.staging")  // an ETL script's cleanup line
        #expect(await code { _ = try await s.execute("INSERT INTO pg_temp.staging VALUES (2)") } == "42P01")
        #expect(await code { _ = try await s.execute("TRUNCATE pg_temp.staging") } == "42P01")
        #expect(try await rows(s, "SELECT n FROM staging") == [[.integer(1)]], "the permanent table is untouched")
        #expect(await code { _ = try await s.execute("CREATE VIEW pg_temp.v AS SELECT 1") } == "0A000")
        #expect(await code { _ = try await s.execute("CREATE SEQUENCE pg_temp.s") } == "0A000")
        #expect(await code { _ = try await s.execute("SELECT nextval('pg_temp.s')") } == "42P01")
        try await s.execute("SELECT 5 AS n INTO pg_temp.staging")
        #expect(try await rows(s, "SELECT n FROM pg_temp.staging") == [[.integer(5)]])
        #expect(try await rows(db.session(), "SELECT n FROM staging") == [[.integer(1)]])
        #expect(await code { _ = try await s.execute("CREATE VIEW v AS SELECT * FROM pg_temp.staging") } == "0A000")
        // A stored view reads its permanent table, whatever temporary table the reader has.
        try await db.session().execute("CREATE VIEW staged AS SELECT n FROM staging")
        #expect(try await rows(s, "SELECT n FROM staged") == [[.integer(1)]])
        // Another session's temporary sequence cannot be reached by its stored name.
        try await s.execute("CREATE TEMP TABLE counted (id SERIAL)")
        let stored = try await rows(s, "SELECT pg_get_serial_sequence('counted', 'id')")
        #expect(stored == [[.text("pg_temp.counted_id_seq")]])
        let other = db.session()
        #expect(await code { _ = try await other.execute("SELECT nextval('pg_temp.counted_id_seq')") } == "42P01")
        #expect(await code { _ = try await other.execute("CREATE SEQUENCE \"__temp/x\"") } != nil)
    }

    @Test func namesakesAcrossKindsKeepTheirOwnConstraintsSequencesAndActions() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE p (id INT PRIMARY KEY); CREATE TABLE c (p INT REFERENCES p (id)); INSERT INTO p VALUES (1); INSERT INTO c VALUES (1)")
        try await s.execute("CREATE TEMP TABLE c (p INT); INSERT INTO c VALUES (99)")
        try await s.execute("TRUNCATE p CASCADE")
        #expect(try await rows(db.session(), "SELECT count(*) FROM c") == [[.integer(0)]], "the permanent referencing table is emptied")
        #expect(try await rows(s, "SELECT p FROM c") == [[.integer(99)]], "the temporary namesake is not")
        #expect(await code { _ = try await s.execute("DROP TABLE p, c") } == "2BP01", "the permanent c still references p")
        // A permanent serial column draws from its own sequence though a temporary table's
        // sequence has the same name.
        try await s.execute("CREATE TABLE a_b (id SERIAL PRIMARY KEY); INSERT INTO a_b DEFAULT VALUES")
        try await s.execute("CREATE TEMP TABLE a (b_id SERIAL); INSERT INTO a DEFAULT VALUES; INSERT INTO a DEFAULT VALUES")
        #expect(try await rows(s, "INSERT INTO a_b DEFAULT VALUES RETURNING id") == [[.integer(2)]])
        #expect(try await rows(s, "SELECT max(b_id) FROM a") == [[.integer(2)]])
        #expect(await code { _ = try await s.execute("CREATE SEQUENCE s OWNED BY a.b_id") } == "55000")
        // ON COMMIT actions follow their table through renames.
        try await s.execute("BEGIN")
        try await s.execute("CREATE TEMP TABLE keep (x INT); INSERT INTO keep VALUES (1)")
        try await s.execute("CREATE TEMP TABLE once (x INT) ON COMMIT DROP")
        try await s.execute("ALTER TABLE once RENAME TO once2")
        try await s.execute("ALTER TABLE keep RENAME TO once")
        try await s.execute("COMMIT")
        #expect(try await rows(s, "SELECT x FROM once") == [[.integer(1)]], "the renamed keeper stays")
        #expect(await code { _ = try await s.execute("SELECT * FROM once2") } == "42P01", "the ON COMMIT DROP table went, under its new name")
    }

    @Test func publicNamesATemporaryTableHidesAreRefusedRatherThanMisplaced() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE users (id INT); CREATE TABLE users_archive (id INT)")
        try await s.execute("CREATE TEMP TABLE users AS SELECT 1 AS id")
        for sql in ["INSERT INTO public.users SELECT id FROM users", "SELECT * FROM \"public\".users", "DELETE FROM PUBLIC.\"users\""] {
            #expect(await code { _ = try await s.execute(sql) } == "0A000", "\(sql)")
        }
        let prepared = try s.prepareAutoParameterized("UPDATE public.users SET id = 2")
        #expect(await code { _ = try await s.execute(prepared, parameters: [.integer(2)]) } == "0A000")
        try await s.execute("INSERT INTO public.users_archive SELECT id FROM users")  // another name: fine
        #expect(try await rows(db.session(), "SELECT count(*) FROM users") == [[.integer(0)]], "nothing reached the permanent table")
        #expect(try await rows(db.session(), "SELECT count(*) FROM users_archive") == [[.integer(1)]])
        try await db.session().execute("INSERT INTO public.users VALUES (5)")  // a session without the temporary table
        #expect(try await rows(db.session(), "SELECT count(*) FROM users") == [[.integer(1)]])
    }

    @Test func closingDropsTheSessionsTablesAndALaterProcessVacuumDropsThoseACrashLeft() async throws {
        try await withTemporaryDatabasePath("temp-tables") { path in
            let first = try await Database.open(path: path)
            let open = first.session()
            try await open.execute("CREATE TEMP TABLE still_open (n INT)")
            try await first.close()  // the session is still open: close drops its table
            withExtendedLifetime(open) {}
            let reopened = try await Database.open(path: path)
            #expect(try leftovers(reopened).isEmpty)
            try await reopened.close()
        }
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/db")
        var options = DatabaseOptions()
        options.engine.backgroundWork = false
        let first = try await Database.open(path: "/db/data.rdb", options: options, fileSystem: fs)
        let s = first.session()
        try await s.execute("CREATE TEMP TABLE orphan (id SERIAL PRIMARY KEY, v TEXT); INSERT INTO orphan (v) VALUES ('x')")
        do {
            let second = try await Database.open(path: "/db/data.rdb", options: options, fileSystem: fs.crash(seed: 7))  // power lost: nothing dropped them
            #expect(try leftovers(second).count == 2, "the table and its sequence are still stored")
            let t = second.session()
            #expect(await code { _ = try await t.execute("SELECT * FROM orphan") } == "42P01", "no session of a new process reaches them")
            try await t.execute("CREATE TEMP TABLE orphan (n INT)")
            #expect(try await rows(t, "SELECT count(*) FROM orphan") == [[.integer(0)]])
            try await t.execute("VACUUM")
            #expect(try leftovers(second).count == 1, "VACUUM dropped the dead process's table and sequence, not the live session's")
            #expect(try await rows(t, "SELECT count(*) FROM orphan") == [[.integer(0)]])
            try await second.close()
        }
    }
}
