import Testing
@testable import RedDB
@testable import RedQuery
import RedCore

/// PL/pgSQL functions and triggers run their statements with plans kept between calls
/// (`RoutinePlans`): each test checks that reuse happens where it may, and that whatever a plan
/// depends on — definitions, the search path, temporary tables, the variables a statement sees
/// — gets it planned afresh, with the answer it would have had.
@Suite struct RoutinePlanTests: SessionTestSupport {
    /// The plans of the PL/pgSQL body `body`, as every call of it shares them.
    func plans(_ body: String) throws -> RoutinePlans { try ParsedBlocks.shared.parsed(body).1 }

    /// A trigger declares the `TG_` variables only when its body names one; both kinds see
    /// what they should.
    @Test func triggerVariablesAreDeclaredForBodiesThatNameThem() async throws {
        #expect(PLpgSQLFunctionCall.mentionsTriggerVariables("BEGIN RAISE NOTICE '%', Tg_Op; RETURN NEW; END"))
        #expect(PLpgSQLFunctionCall.mentionsTriggerVariables("BEGIN EXECUTE 'SELECT 1' || tg_argv[0]; RETURN NEW; END"))
        #expect(!PLpgSQLFunctionCall.mentionsTriggerVariables("BEGIN NEW.tag := 'x'; RETURN NEW; END"))
        #expect(!PLpgSQLFunctionCall.mentionsTriggerVariables("tg"))
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE tv (id int PRIMARY KEY, tag text, op text)")
        try await s.execute("CREATE FUNCTION tv_plain() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.tag := 'plain'; RETURN NEW; END $$")
        try await s.execute("CREATE FUNCTION tv_named() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.op := TG_OP || ' ' || TG_NARGS || ' ' || TG_ARGV[0]; RETURN NEW; END $$")
        try await s.execute("CREATE TRIGGER a BEFORE INSERT ON tv FOR EACH ROW EXECUTE FUNCTION tv_plain()")
        try await s.execute("CREATE TRIGGER b BEFORE INSERT ON tv FOR EACH ROW EXECUTE FUNCTION tv_named('arg')")
        try await s.execute("INSERT INTO tv (id) VALUES (1)")
        #expect(try await s.execute("SELECT tag, op FROM tv").rows == [[.text("plain"), .text("INSERT 1 arg")]])
    }

    @Test func aFunctionCalledForEveryRowPlansItsStatementsOnce() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        let body = """
            DECLARE
                label text;
                doubled integer := x * 2;
            BEGIN
                SELECT name INTO label FROM rp_names WHERE id = x % 3;
                IF doubled > 10 THEN
                    RETURN label || ':' || (doubled + 1);
                END IF;
                RETURN label || ':' || doubled;
            END
            """
        try await s.execute("""
            CREATE TABLE rp_names (id INT PRIMARY KEY, name TEXT);
            INSERT INTO rp_names VALUES (0, 'zero'), (1, 'one'), (2, 'two');
            CREATE FUNCTION rp_label(x integer) RETURNS text LANGUAGE plpgsql AS $$\(body)$$
            """)
        let result = try await rows(s, "SELECT rp_label(CAST(g AS integer)) FROM generate_series(1, 40) g")
        #expect(result.count == 40)
        #expect(result[0] == [.text("one:2")])
        #expect(result[5] == [.text("zero:13")])
        // Four queries a call (the SELECT INTO, the initial value, the IF, a RETURN) for 40 calls.
        #expect(try plans(body).reuseCount >= 4 * 39 - 20)
    }

    /// (jsonb orders keys shorter first, as PostgreSQL's does.)
    @Test func whatAKeptPlanDependsOnGetsItPlannedAfresh() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        try await a.execute("""
            CREATE TABLE rp_items (id INT PRIMARY KEY, v TEXT);
            INSERT INTO rp_items VALUES (1, 'permanent');
            CREATE SCHEMA rp_other;
            CREATE TABLE rp_other.rp_items (id INT PRIMARY KEY, v TEXT);
            INSERT INTO rp_other.rp_items VALUES (1, 'other');
            CREATE FUNCTION rp_row() RETURNS text LANGUAGE plpgsql AS $$
            DECLARE r record;
            BEGIN
                SELECT * INTO r FROM rp_items WHERE id = 1;
                RETURN CAST(to_jsonb(r) AS text);
            END $$
            """)
        let call = "SELECT rp_row()"
        #expect(try await rows(b, call) == [[.text(#"{"v": "permanent", "id": 1}"#)]])
        #expect(try await rows(b, call) == [[.text(#"{"v": "permanent", "id": 1}"#)]])
        // A definition changed by another session.
        try await a.execute("ALTER TABLE rp_items ADD COLUMN w INT DEFAULT 7")
        #expect(try await rows(b, call) == [[.text(#"{"v": "permanent", "w": 7, "id": 1}"#)]])
        // Another search path.
        b.searchPath = { ["rp_other", "public"] }
        #expect(try await rows(b, call) == [[.text(#"{"v": "other", "id": 1}"#)]])
        b.searchPath = { ["public"] }
        #expect(try await rows(b, call) == [[.text(#"{"v": "permanent", "w": 7, "id": 1}"#)]])
        // A temporary table hiding the permanent one.
        try await b.execute("CREATE TEMP TABLE rp_items (id INT, v TEXT, t BOOLEAN); INSERT INTO rp_items VALUES (1, 'temporary', true)")
        #expect(try await rows(b, call) == [[.text(#"{"t": true, "v": "temporary", "id": 1}"#)]])
        #expect(try await rows(a, call) == [[.text(#"{"v": "permanent", "w": 7, "id": 1}"#)]])
        // DDL earlier in the same transaction.
        try await a.execute("BEGIN; ALTER TABLE rp_items DROP COLUMN w")
        #expect(try await rows(a, call) == [[.text(#"{"v": "permanent", "id": 1}"#)]])
        try await a.execute("ROLLBACK")
        #expect(try await rows(a, call) == [[.text(#"{"v": "permanent", "w": 7, "id": 1}"#)]])
    }

    @Test func oneStatementSeesTheVariablesOfItsOwnCall() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        // The same RETURN reads a record filled by two different queries, and a variable an inner
        // block hides: each call binds it to what that call has.
        try await s.execute("""
            CREATE FUNCTION rp_shape(wide boolean) RETURNS text LANGUAGE plpgsql AS $$
            DECLARE r record; x text := 'outer';
            BEGIN
                IF wide THEN
                    SELECT 1 AS a, 'two' AS b INTO r;
                ELSE
                    SELECT 3.5 AS b INTO r;
                END IF;
                IF wide THEN
                    DECLARE x integer := 42;
                    BEGIN
                        RETURN CAST(to_jsonb(r) AS text) || ' ' || x;
                    END;
                END IF;
                RETURN CAST(to_jsonb(r) AS text) || ' ' || x;
            END $$
            """)
        for _ in 0..<3 {
            #expect(try await rows(s, "SELECT rp_shape(true)") == [[.text(#"{"a": 1, "b": "two"} 42"#)]])
            #expect(try await rows(s, "SELECT rp_shape(false)") == [[.text(#"{"b": 3.5} outer"#)]])
        }
    }

    @Test func triggersReadWholeRowsAndKeepTheirInsertsBound() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        let body = """
            BEGIN
                INSERT INTO rp_log VALUES (TG_OP, CAST(to_jsonb(OLD) AS text), CAST(to_jsonb(NEW) AS text), NEW IS DISTINCT FROM OLD, DEFAULT);
                RETURN NULL;
            END
            """
        try await s.execute("""
            CREATE TABLE rp_t (id INT PRIMARY KEY, v TEXT);
            CREATE TABLE rp_log (op TEXT, old_row TEXT, new_row TEXT, changed BOOLEAN, note TEXT DEFAULT 'logged');
            CREATE FUNCTION rp_log_it() RETURNS trigger LANGUAGE plpgsql AS $$\(body)$$;
            CREATE TRIGGER rp_t_log AFTER INSERT OR UPDATE ON rp_t FOR EACH ROW EXECUTE FUNCTION rp_log_it();
            INSERT INTO rp_t SELECT g, 'v' || g FROM generate_series(1, 20) g;
            UPDATE rp_t SET v = v WHERE id = 1;
            UPDATE rp_t SET v = 'changed' WHERE id = 2
            """)
        #expect(try await rows(s, "SELECT count(*) FROM rp_log WHERE op = 'INSERT' AND old_row IS NULL AND changed AND note = 'logged'") == [[.integer(20)]])
        #expect(try await rows(s, "SELECT new_row FROM rp_log WHERE op = 'INSERT' ORDER BY new_row LIMIT 1") == [[.text(#"{"v": "v1", "id": 1}"#)]])
        #expect(try await rows(s, "SELECT old_row, new_row, changed FROM rp_log WHERE op = 'UPDATE' ORDER BY old_row") == [
            [.text(#"{"v": "v1", "id": 1}"#), .text(#"{"v": "v1", "id": 1}"#), .boolean(false)],
            [.text(#"{"v": "v2", "id": 2}"#), .text(#"{"v": "changed", "id": 2}"#), .boolean(true)],
        ])
        #expect(try plans(body).reuseCount >= 19)
    }

    @Test func aPreparedInsertKeepsItsBoundValues() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE rp_v (id INT PRIMARY KEY, note TEXT DEFAULT 'none', n INT)")
        let insert = "INSERT INTO rp_v VALUES ($1, DEFAULT, $2 * 2)"
        for id in 1...5 { try await s.execute(insert, parameters: [.integer(Int64(id)), .integer(Int64(id))]) }
        #expect(try await rows(s, "SELECT id, note, n FROM rp_v ORDER BY id").map { $0[2] } == [2, 4, 6, 8, 10].map { .integer($0) })
        #expect((try db.statementCache.statementsAndPlans(for: insert).plans)?.reuseCount == 4)
        // A changed definition binds again; the parameters' count is still checked.
        try await s.execute("ALTER TABLE rp_v ALTER COLUMN note SET DEFAULT 'some'")
        try await s.execute(insert, parameters: [.integer(6), .integer(6)])
        #expect(try await rows(s, "SELECT note, n FROM rp_v WHERE id = 6") == [[.text("some"), .integer(12)]])
        #expect(await code { _ = try await s.execute(insert, parameters: [.integer(7)]) } != nil)
    }

    @Test func twoDatabasesOfOneProcessNeverShareAPlan() async throws {
        // The same body in two databases whose tables differ: each call plans against its own.
        let body = "DECLARE r text; BEGIN SELECT v INTO r FROM rp_twin WHERE id = 1; RETURN r; END"
        let a = try await Database.inMemory(), b = try await Database.inMemory()
        try await a.session().execute("""
            CREATE TABLE rp_twin (id INT PRIMARY KEY, v TEXT); INSERT INTO rp_twin VALUES (1, 'a');
            CREATE FUNCTION rp_twin_v() RETURNS text LANGUAGE plpgsql AS $$\(body)$$
            """)
        try await b.session().execute("""
            CREATE TABLE rp_twin (v TEXT, n INT, id INT PRIMARY KEY); INSERT INTO rp_twin VALUES ('b', 2, 1);
            CREATE FUNCTION rp_twin_v() RETURNS text LANGUAGE plpgsql AS $$\(body)$$
            """)
        for _ in 0..<3 {
            #expect(try await rows(a.session(), "SELECT rp_twin_v()") == [[.text("a")]])
            #expect(try await rows(b.session(), "SELECT rp_twin_v()") == [[.text("b")]])
        }
    }

    @Test func aRowAFunctionChangedAfterTheStatementReadItIsNotOverwritten() async throws {
        // SET calls a function that updates another target row before the rows are written: with a
        // BEFORE ROW trigger on the table, rows go one by one and the changed row is 27000, as in
        // PostgreSQL (no trigger of the statement has written anything).
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE rp_bump (id INT PRIMARY KEY, v INT); CREATE INDEX rp_bump_v ON rp_bump (v);
            INSERT INTO rp_bump VALUES (1, 0), (2, 0);
            CREATE FUNCTION rp_bump_other() RETURNS int LANGUAGE plpgsql AS $$BEGIN UPDATE rp_bump SET v = 100 WHERE id = 2; RETURN 1; END$$;
            CREATE FUNCTION rp_keep() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
            CREATE TRIGGER rp_bump_keep BEFORE UPDATE ON rp_bump FOR EACH ROW EXECUTE FUNCTION rp_keep()
            """)
        #expect(await code { _ = try await s.execute("UPDATE rp_bump SET v = CASE WHEN id = 1 THEN rp_bump_other() ELSE v + 1 END") } == "27000")
        #expect(try await rows(s, "SELECT id, v FROM rp_bump ORDER BY id") == [[.integer(1), .integer(0)], [.integer(2), .integer(0)]])
        #expect(try await rows(s, "SELECT id FROM rp_bump WHERE v = 100").isEmpty)
    }

    @Test func aBodyWithManyScopesKeepsThePlansOfEach() async throws {
        // Forty blocks, each with a variable of its own: forty layouts, every one found again
        // by the next call (none is pushed out by the others).
        let db = try await Database.inMemory()
        let s = db.session()
        let blocks = (1...40).map { k in "DECLARE v\(k) integer := n + \(k); BEGIN total := total + v\(k) * 2; END;" }.joined(separator: "\n")
        let body = "DECLARE total integer := 0; BEGIN\n\(blocks)\nRETURN total; END"
        try await s.execute("CREATE FUNCTION rp_many(n integer) RETURNS integer LANGUAGE plpgsql AS $$\(body)$$")
        for n in 0..<10 {
            #expect(try await rows(s, "SELECT rp_many(\(n))") == [[.integer(Int64((1...40).reduce(0) { $0 + (n + $1) * 2 }))]])
        }
        // Two expressions a block (the initial value, the assignment) kept from the first call on.
        #expect(try plans(body).reuseCount >= 80 * 9)
    }
}
