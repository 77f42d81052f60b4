import Testing
import RedCore
import RedDB

/// What corpus `domains.test` cannot check: the messages, which name the domain and the
/// constraint as PostgreSQL's do, and names RedDB's own types share with a user's domain.
@Suite struct DomainTests: SessionTestSupport {
    func message(_ s: Session, _ sql: String) async -> String? {
        do { _ = try await s.execute(sql); return nil } catch let e as RedError { return e.message } catch { return "\(error)" }
    }

    @Test func errorsNameTheDomainAndTheConstraint() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
            CREATE DOMAIN small AS posint CONSTRAINT below_ten CHECK (VALUE < 10);
            CREATE DOMAIN code AS text NOT NULL;
            CREATE TABLE t (id INT PRIMARY KEY, s small, c code DEFAULT 'x');
            """)
        #expect(await message(s, "INSERT INTO t (id, s) VALUES (1, 0)") == "value for domain posint violates check constraint \"posint_check\"")
        #expect(await message(s, "INSERT INTO t (id, s) VALUES (1, 10)") == "value for domain small violates check constraint \"below_ten\"")
        #expect(await message(s, "INSERT INTO t (id, c) VALUES (1, NULL)") == "domain code does not allow null values")
        #expect(await message(s, "SELECT 11::small") == "value for domain small violates check constraint \"below_ten\"")
        try await s.execute("INSERT INTO t (id, s) VALUES (1, 5)")
        #expect(await message(s, "ALTER DOMAIN posint ADD CHECK (VALUE > 5)") == "column \"s\" of table \"t\" contains values that violate the new constraint")
        #expect(await message(s, "ALTER DOMAIN small ADD CONSTRAINT below_ten CHECK (VALUE < 9)") == "constraint \"below_ten\" for domain \"small\" already exists")
        #expect(await message(s, "DROP DOMAIN posint") == "cannot drop type posint because other objects depend on it")
        let dropped = try await s.execute("DROP DOMAIN posint CASCADE")
        #expect(dropped.notices == ["drop cascades to type small", "drop cascades to column s of table t"])
        #expect(try await rows(s, "SELECT * FROM t") == [[.integer(1), .text("x")]])
    }

    /// A domain may not come to be over itself: taking the name of RedDB's type another
    /// domain is over would close a loop (which made statements on it recurse forever).
    @Test func aDomainCannotBeOverItself() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE DOMAIN d AS email")
        #expect(await code { _ = try await s.execute("CREATE DOMAIN email AS d") } == "22023")
        try await s.execute("CREATE DOMAIN b AS text")
        try await s.execute("CREATE DOMAIN c AS d; CREATE TABLE t (id INT, x c)")
        #expect(await code { _ = try await s.execute("ALTER DOMAIN b RENAME TO d") } == "42710")
        let dropped = try await s.execute("DROP DOMAIN d CASCADE")
        #expect(dropped.notices == ["drop cascades to type c", "drop cascades to column x of table t"])
    }

    /// What a domain is over: another domain, whose default it takes, or an enum type, which
    /// DROP TYPE then keeps (unless CASCADE) and RENAME carries the domain along.
    @Test func domainsOverDomainsAndEnumTypes() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE DOMAIN five AS integer DEFAULT 5;
            CREATE DOMAIN PosFive AS FIVE CHECK (VALUE > 0);
            CREATE TABLE t (id INT, v posfive);
            INSERT INTO t (id) VALUES (1);
            CREATE TYPE mood AS ENUM ('sad', 'ok');
            CREATE DOMAIN happyish AS mood CHECK (VALUE <> 'sad');
            """)
        #expect(try await rows(s, "SELECT v FROM t") == [[.integer(5)]], "the base domain's default")
        #expect(await code { _ = try await s.execute("DROP TYPE mood") } == "2BP01")
        try await s.execute("ALTER TYPE mood RENAME TO feeling")
        #expect(try await rows(s, "SELECT 'ok'::happyish") == [[.text("ok")]])
        #expect(await code { _ = try await s.execute("SELECT 'sad'::happyish") } == "23514")
        let dropped = try await s.execute("DROP TYPE feeling CASCADE")
        #expect(dropped.notices == ["drop cascades to type happyish"])
        #expect(await code { _ = try await s.execute("SELECT 'ok'::happyish") } == "42704")
    }

    @Test func aDomainMayTakeTheNameOfOneOfRedDBsOwnTypes() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE before (e email)")
        #expect(await code { _ = try await s.execute("INSERT INTO before VALUES ('not an email')") } == "22P02", "RedDB's email type")
        try await s.execute("CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%')")
        try await s.execute("CREATE TABLE after (e email)")
        try await s.execute("INSERT INTO after VALUES ('Ann@Example.COM')")
        #expect(try await rows(s, "SELECT e FROM after") == [[.text("Ann@Example.COM")]], "the domain's text, not lower-cased as RedDB's email is")
        #expect(await code { _ = try await s.execute("INSERT INTO after VALUES ('nobody')") } == "23514")
        #expect(await code { _ = try await s.execute("SELECT 'nobody'::email") } == "23514")
        #expect(try await rows(s, "SELECT 'A@B'::email") == [[.text("A@B")]])
        try await s.execute("INSERT INTO before VALUES ('Bo@Example.com')")
        #expect(try await rows(s, "SELECT e FROM before") == [[.text("bo@example.com")]], "a column made before keeps RedDB's type")
        #expect(await code { _ = try await s.execute("CREATE DOMAIN integer AS bigint") } == "42710", "PostgreSQL's names stay theirs")
        try await s.execute("DROP TABLE after; DROP DOMAIN email")
        #expect(try await rows(s, "SELECT 'Cy@Example.com'::email") == [[.text("cy@example.com")]], "RedDB's again")
    }
}
