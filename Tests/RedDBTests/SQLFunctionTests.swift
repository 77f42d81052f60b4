import Testing
import RedCore
import RedDB

/// What corpus `sql_functions.test` cannot check: arguments evaluated once however often the
/// body reads them, what is refused (and why), plans made before CREATE OR REPLACE, and
/// functions kept across a reopen.
@Suite struct SQLFunctionTests: SessionTestSupport {
    /// Inlining must not evaluate a volatile argument more often than the call would: the body
    /// reads `x` twice, STRICT tests it, and `nextval` still advances once per call.
    @Test func argumentsAreEvaluatedOnce() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE SEQUENCE seq;
            CREATE FUNCTION twice(x bigint) RETURNS bigint LANGUAGE sql AS 'SELECT x + x';
            CREATE FUNCTION twice_strict(x bigint) RETURNS bigint LANGUAGE sql STRICT AS 'SELECT x + $1';
            """)
        #expect(try await rows(s, "SELECT twice(nextval('seq'))") == [[.integer(2)]])
        #expect(try await rows(s, "SELECT twice_strict(nextval('seq'))") == [[.integer(4)]])
        #expect(try await rows(s, "SELECT twice(v) FROM (VALUES (nextval('seq')), (nextval('seq'))) AS t(v) ORDER BY 1") == [[.integer(6)], [.integer(8)]])
        #expect(try await rows(s, "SELECT currval('seq')") == [[.integer(4)]])
    }

    @Test func whatCannotBeInlinedIsRefusedByName() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE FUNCTION one() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        let refusals: [(String, String, String)] = [
            ("CREATE FUNCTION countdown(n int) RETURNS int LANGUAGE sql AS 'SELECT CASE WHEN n <= 0 THEN 0 ELSE countdown(n - 1) END'", "0A000", "calls itself"),
            ("CREATE FUNCTION p(x int) RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'", "42P13", "trigger functions cannot have declared arguments"),
            ("CREATE FUNCTION w(t text) RETURNS void LANGUAGE sql AS 'INSERT INTO x VALUES (t)'", "0A000", "one SELECT or VALUES query"),
            ("CREATE FUNCTION v(VARIADIC xs int[]) RETURNS int LANGUAGE sql AS 'SELECT 1'", "0A000", "VARIADIC"),
            ("CREATE FUNCTION r(a int, OUT x int, OUT y int) LANGUAGE sql AS 'SELECT a, a'; SELECT r(1)", "0A000", "record of 2 columns"),
            ("CREATE FUNCTION lower(t text) RETURNS text LANGUAGE sql AS 'SELECT t'", "42723", "built in"),
            ("CREATE FUNCTION f(a int, b int DEFAULT 1, c int) RETURNS int LANGUAGE sql AS 'SELECT a'", "42P13", "must also have defaults"),
            ("CREATE FUNCTION f(a int, a int) RETURNS int LANGUAGE sql AS 'SELECT 1'", "42P13", "more than once"),
            ("CREATE FUNCTION f() LANGUAGE sql AS 'SELECT 1'", "42P13", "result type"),
            ("DO $$ BEGIN END $$ LANGUAGE sql", "0A000", "inline code"),
            ("CREATE TABLE x (a int); CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW EXECUTE FUNCTION one()", "42P17", "must return type trigger"),
            ("SELECT * FROM one() AS t, one(1)", "42883", "does not take 1 argument"),
            ("SELECT one(DISTINCT 1)", "42809", "not an aggregate"),
            // The planner's wrapper of a caller's argument cannot be forged in a body.
            ("CREATE FUNCTION forged(x int) RETURNS int LANGUAGE sql AS 'SELECT __sql_function_argument(forged(x), 1) LIMIT 1'", "42883", "__sql_function_argument"),
            ("CREATE FUNCTION forged(x int) RETURNS int LANGUAGE sql AS 'SELECT __sql_function_argument(x, 1)'", "42883", "__sql_function_argument"),
        ]
        for (sql, state, words) in refusals {
            do {
                _ = try await s.execute(sql)
                Issue.record("\(sql) was accepted")
            } catch let error as RedError {
                #expect(error.sqlState == state && error.message.contains(words), "\(sql): \(error.sqlState) \(error.message)")
            }
        }
    }

    /// Plans kept for reuse (a statement run again, a prepared one) made with the old body run
    /// the new one after CREATE OR REPLACE, and fail after DROP FUNCTION rather than run what is gone.
    @Test func keptPlansFollowTheFunctionsDefinition() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE FUNCTION rate(x numeric) RETURNS numeric LANGUAGE sql AS 'SELECT x * 2'")
        let prepared = try s.prepareAutoParameterized("SELECT rate(5)")
        #expect(try await s.execute("SELECT rate($1)", parameters: [.integer(5)]).rows.first?.first?.displayText == "10")
        #expect(try await s.execute(prepared, parameters: prepared.literals).rows.first?.first?.displayText == "10")
        try await s.execute("CREATE OR REPLACE FUNCTION rate(x numeric) RETURNS numeric LANGUAGE sql AS 'SELECT x * 3'")
        #expect(try await s.execute("SELECT rate($1)", parameters: [.integer(5)]).rows.first?.first?.displayText == "15")
        #expect(try await s.execute(prepared, parameters: prepared.literals).rows.first?.first?.displayText == "15")
        try await s.execute("DROP FUNCTION rate(numeric)")
        #expect(await code { _ = try await s.execute("SELECT rate($1)", parameters: [.integer(5)]) } == "42883")
        #expect(await code { _ = try await s.execute(prepared, parameters: prepared.literals) } == "42883")
    }

    @Test func functionsOutliveAReopen() async throws {
        try await withTemporaryDatabasePath("sqlfunctions") { path in
            do {
                let db = try await Database.open(path: path)
                try await db.session().execute("""
                    CREATE TABLE t (id int PRIMARY KEY, v text);
                    INSERT INTO t VALUES (1, 'a'), (2, 'b');
                    CREATE FUNCTION label(i int) RETURNS text LANGUAGE sql STABLE AS $$ SELECT upper(v) FROM t WHERE id = i $$;
                    CREATE FUNCTION labels() RETURNS TABLE (id int, label text) LANGUAGE sql AS $$ SELECT id, label(id) FROM t $$;
                    """)
                try await db.close()
            }
            let db = try await Database.open(path: path)
            #expect(try await rows(db.session(), "SELECT * FROM labels() ORDER BY id") == [[.integer(1), .text("A")], [.integer(2), .text("B")]])
            try await db.close()
        }
    }

    /// Index expressions and generated columns take only IMMUTABLE functions (42P17), and what
    /// calls a function keeps it: DROP FUNCTION is 2BP01 as in PostgreSQL, and so is a rename
    /// (they call it by name here).
    @Test func storedExpressionsHoldOnToTheirFunctions() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE t (id int PRIMARY KEY, name text);
            CREATE FUNCTION norm(x text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT lower(x)';
            CREATE FUNCTION stamp(x text) RETURNS text LANGUAGE sql AS 'SELECT x || now()::text';
            CREATE FUNCTION unused(x text) RETURNS text LANGUAGE sql AS 'SELECT x';
            """)
        #expect(await code { _ = try await s.execute("CREATE INDEX t_stamp ON t (stamp(name))") } == "42P17")
        #expect(await code { _ = try await s.execute("ALTER TABLE t ADD COLUMN g text GENERATED ALWAYS AS (stamp(name)) STORED") } == "42P17")
        try await s.execute("CREATE UNIQUE INDEX t_norm ON t (norm(name)); INSERT INTO t VALUES (1, 'Ada')")
        #expect(await code { _ = try await s.execute("INSERT INTO t VALUES (2, 'ADA')") } == "23505")
        #expect(await code { _ = try await s.execute("DROP FUNCTION norm(text)") } == "2BP01")
        #expect(await code { _ = try await s.execute("ALTER FUNCTION norm(text) RENAME TO normal") } == "2BP01")
        try await s.execute("CREATE VIEW v AS SELECT unused(name) FROM t")
        #expect(await code { _ = try await s.execute("DROP FUNCTION unused") } == "2BP01")
        try await s.execute("DROP VIEW v; DROP FUNCTION unused; DROP INDEX t_norm; DROP FUNCTION norm")
    }

    /// Calls nested so that inlining would grow without end (each level binding its argument
    /// to choose between two functions) stop at the statement's inlining budget.
    @Test func nestedCallsStopAtTheInliningBudget() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 1';
            CREATE FUNCTION f(x text) RETURNS text LANGUAGE sql AS 'SELECT x';
            """)
        #expect(try await rows(s, "SELECT f(f(f(1)))") == [[.integer(4)]])
        let deep = String(repeating: "f(", count: 30) + "1" + String(repeating: ")", count: 30)
        #expect(await code { _ = try await s.execute("SELECT \(deep)") } == RedError(.limitExceeded, "").sqlState)
    }

    /// A void function's body runs (its calls take effect); a body's names are its own tables'
    /// and its arguments', never the caller's columns (42703 where they are gone).
    @Test func voidBodiesRunAndBodiesDoNotSeeTheirCaller() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE SEQUENCE bumps;
            CREATE FUNCTION bump() RETURNS void LANGUAGE sql AS 'SELECT nextval(''bumps'')';
            CREATE TABLE items (id int PRIMARY KEY, name text);
            CREATE TABLE orders (id int PRIMARY KEY, item int, name text);
            INSERT INTO items VALUES (1, 'pen'); INSERT INTO orders VALUES (10, 1, 'order ten');
            CREATE FUNCTION label(i int) RETURNS text LANGUAGE sql AS 'SELECT name FROM items WHERE items.id = $1';
            CREATE FUNCTION twice(i int) RETURNS int LANGUAGE sql AS 'SELECT i * 2';
            """)
        #expect(try await rows(s, "SELECT bump(), bump()") == [[.null, .null]])
        #expect(try await rows(s, "SELECT currval('bumps')") == [[.integer(2)]])
        #expect(try await rows(s, "SELECT label(item) FROM orders") == [[.text("pen")]])
        try await s.execute("ALTER TABLE items DROP COLUMN name")
        #expect(await code { _ = try await s.execute("SELECT label(item) FROM orders") } == "42703")
        // Each call of the statement's own has its own inlining budget: 10,050 of them pass.
        let values = (1...10_050).map { "(twice(\($0)))" }.joined(separator: ", ")
        #expect(try await rows(s, "SELECT count(*) FROM (VALUES \(values)) AS v(x)") == [[.integer(10_050)]])
    }
}
