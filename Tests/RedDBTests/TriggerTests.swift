import Testing
import RedCore
import RedDB
import RedStorage
@testable import RedQuery

/// What corpus `triggers.test` cannot see: notices, triggers kept across a reopen and undone by
/// a rollback, the writes that refuse tables with triggers rather than skip them, recursion,
/// and a table's writes without triggers going on as before.
@Suite struct TriggerTests: SessionTestSupport {
    /// RAISE in a trigger reaches the client with the statement's result, for every row.
    @Test func noticesRaisedInTriggersComeWithTheResult() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE t (id int PRIMARY KEY);
            CREATE FUNCTION say() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE NOTICE '% % %', TG_WHEN, TG_OP, COALESCE(NEW.id, OLD.id); RETURN NULL; END $$;
            CREATE TRIGGER t_after AFTER INSERT OR DELETE ON t FOR EACH ROW EXECUTE FUNCTION say();
            """)
        let inserted = try await s.execute("INSERT INTO t VALUES (1), (2)")
        #expect(inserted.notices == ["AFTER INSERT 1", "AFTER INSERT 2"])
        let deleted = try await s.execute("DELETE FROM t WHERE id = 2")
        #expect(deleted.notices == ["AFTER DELETE 2"])
        #expect(deleted.rowsAffected == 1)
    }

    /// Triggers are part of the table's schema: they survive a reopen, and a rolled-back
    /// CREATE or DROP TRIGGER leaves nothing changed.
    @Test func triggersAreDurableAndTransactional() async throws {
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/db")
        var db = try await durable(fs)
        var s = db.session()
        try await s.execute("""
            CREATE TABLE t (id int PRIMARY KEY, tag text);
            CREATE FUNCTION tag() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.tag := TG_ARGV[0]; RETURN NEW; END $$;
            CREATE TRIGGER t_tag BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tag('kept');
            BEGIN;
            CREATE TRIGGER t_other BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tag('gone');
            ROLLBACK;
            """)
        try await db.close()
        db = try await durable(fs)
        s = db.session()
        #expect(try await rows(s, "INSERT INTO t (id) VALUES (1) RETURNING tag") == [[.text("kept")]])
        try await s.execute("BEGIN; DROP TRIGGER t_tag ON t; ROLLBACK;")
        #expect(try await rows(s, "INSERT INTO t (id) VALUES (2) RETURNING tag") == [[.text("kept")]])
        try await db.close()
    }

    /// Row triggers fire in ON CONFLICT DO UPDATE, MERGE and a foreign key's cascade; MERGE into
    /// a table with statement triggers, which it cannot fire once yet, is refused with 0A000
    /// rather than done without them.
    @Test func triggersFireInEveryWriteOrItIsRefused() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE parent (id int PRIMARY KEY);
            CREATE TABLE child (id int PRIMARY KEY, parent int REFERENCES parent ON DELETE CASCADE, n int);
            CREATE TABLE seen (what text);
            CREATE FUNCTION note() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO seen VALUES (TG_OP || ' ' || COALESCE(NEW.id, OLD.id)); RETURN NULL; END $$;
            CREATE TRIGGER child_note AFTER INSERT OR UPDATE OR DELETE ON child FOR EACH ROW EXECUTE FUNCTION note();
            INSERT INTO parent VALUES (1), (2);
            INSERT INTO child VALUES (10, 1, 0), (20, 2, 0);
            """)
        try await s.execute("INSERT INTO child VALUES (10, 1, 0) ON CONFLICT (id) DO UPDATE SET n = 1")
        try await s.execute("INSERT INTO child VALUES (10, 1, 5) ON CONFLICT (id) DO NOTHING")
        try await s.execute("""
            MERGE INTO child c USING (VALUES (20, 7), (30, 8)) AS v(id, n) ON c.id = v.id
            WHEN MATCHED THEN UPDATE SET n = v.n
            WHEN NOT MATCHED THEN INSERT (id, parent, n) VALUES (v.id, 2, v.n)
            """)
        try await s.execute("DELETE FROM parent WHERE id = 1")
        #expect(try await rows(s, "SELECT what FROM seen ORDER BY what") == [
            [.text("DELETE 10")], [.text("INSERT 10")], [.text("INSERT 20")], [.text("INSERT 30")], [.text("UPDATE 10")], [.text("UPDATE 20")]])
        try await s.execute("CREATE TRIGGER child_stmt AFTER UPDATE ON child EXECUTE FUNCTION note()")
        await #expect(code { try await s.execute("MERGE INTO child c USING (VALUES (20)) AS v(id) ON c.id = v.id WHEN MATCHED THEN DELETE") } == "0A000")
        #expect(try await rows(s, "SELECT count(*) FROM child") == [[.integer(2)]])
    }

    /// A trigger whose writes fire itself again ends in 54001 (the nesting bound), never in a
    /// crash, and leaves nothing of the statement.
    @Test func runawayTriggersEndInAnError() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE t (n int);
            CREATE FUNCTION again() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO t VALUES (NEW.n + 1); RETURN NULL; END $$;
            CREATE TRIGGER t_again AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION again();
            """)
        await #expect(code { try await s.execute("INSERT INTO t VALUES (0)") } == "54001")
        #expect(try await rows(s, "SELECT count(*) FROM t") == [[.integer(0)]])
        try await s.execute("CREATE OR REPLACE FUNCTION again() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.n < 5 THEN INSERT INTO t VALUES (NEW.n + 1); END IF; RETURN NULL; END $$")
        try await s.execute("INSERT INTO t VALUES (0)")
        #expect(try await rows(s, "SELECT count(*), max(n) FROM t") == [[.integer(6), .integer(5)]])
    }

    /// DROP FUNCTION … CASCADE drops the triggers that call the function, saying so; without
    /// CASCADE it is refused (2BP01).
    @Test func dropFunctionCascadeDropsItsTriggers() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE a (x int);
            CREATE TABLE b (x int);
            CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
            CREATE TRIGGER a_keep BEFORE INSERT ON a FOR EACH ROW EXECUTE FUNCTION keep();
            CREATE TRIGGER b_keep BEFORE INSERT ON b FOR EACH ROW EXECUTE FUNCTION keep();
            """)
        await #expect(code { try await s.execute("DROP FUNCTION keep()") } == "2BP01")
        let dropped = try await s.execute("DROP FUNCTION keep() CASCADE")
        #expect(dropped.notices.sorted() == ["drop cascades to trigger a_keep on table a", "drop cascades to trigger b_keep on table b"])
        try await s.execute("INSERT INTO a VALUES (1)")
        #expect(try await rows(s, "SELECT x FROM a") == [[.integer(1)]])
    }

    /// A disabled trigger is not run, and its table's writes do not look its function up: a
    /// table whose only trigger is disabled writes as a table without triggers does.
    @Test func disabledTriggersDoNotFire() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE t (x int);
            CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$;
            CREATE TRIGGER t_boom BEFORE INSERT OR UPDATE OR DELETE ON t FOR EACH ROW EXECUTE FUNCTION boom();
            """)
        await #expect(code { try await s.execute("INSERT INTO t VALUES (1)") } == "P0001")
        try await s.execute("ALTER TABLE t DISABLE TRIGGER USER")
        try await s.execute("INSERT INTO t VALUES (1); UPDATE t SET x = 2; DELETE FROM t;")
        try await s.execute("ALTER TABLE t ENABLE TRIGGER t_boom")
        await #expect(code { try await s.execute("INSERT INTO t VALUES (1)") } == "P0001")
    }

    /// DDL a trigger runs may not change the table whose statement fired it (55006): that
    /// statement goes on writing with the definition it read. Other tables' DDL runs.
    @Test func triggersMayNotChangeTheirOwnTable() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE t (id int, v int);
            CREATE TABLE other (x int);
            CREATE FUNCTION reshape() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN EXECUTE format('CREATE %s INDEX ON %s (%s)', TG_ARGV[0], TG_ARGV[1], TG_ARGV[2]); RETURN NEW; END $$;
            CREATE TRIGGER t_reshape BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION reshape('UNIQUE', 't', 'v');
            """)
        await #expect(code { try await s.execute("INSERT INTO t VALUES (1, 5), (2, 5)") } == "55006")
        try await s.execute("""
            DROP TRIGGER t_reshape ON t;
            CREATE TRIGGER t_reshape BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION reshape('', 'other', 'x');
            INSERT INTO t VALUES (1, 5);
            """)
        #expect(try await rows(s, "SELECT count(*) FROM t") == [[.integer(1)]])
    }

    /// A trigger calls the function of no arguments: another overload of its name is dropped
    /// or renamed freely; a field assigned in a trigger holds its column's type.
    @Test func overloadsAndTypedFields() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE t (n int, same boolean);
            CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.n := '5'; NEW.same := (NEW.n = 5); RETURN NEW; END $$;
            CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS 'SELECT x';
            CREATE TRIGGER t_f BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();
            DROP FUNCTION f(int);
            """)
        #expect(try await rows(s, "INSERT INTO t VALUES (1) RETURNING n, same") == [[.integer(5), .boolean(true)]])
        await #expect(code { try await s.execute("ALTER TABLE t ENABLE REPLICA TRIGGER t_f") } == "0A000")
        try await s.execute("ALTER TABLE t ENABLE ALWAYS TRIGGER t_f")
    }
}
