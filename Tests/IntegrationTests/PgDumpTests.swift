import Foundation
import Testing

/// pg_dump (PostgreSQL 15's) against `red server`: it reads the catalogs, locks the tables,
/// runs its prepared per-table queries and COPYs the rows out; psql then loads the dump into
/// a second, empty server, and a dump of that one must read the same — tables, constraints,
/// indexes (partial and expression ones), a view after the table it reads, a materialized
/// view, a serial's sequence and an identity column's with their positions, and the rows. Skipped, with a notice, when pg_dump is absent (REDDB_REQUIRE_POSTGRES makes it a
/// failure, as scripts/test installs it).
@Suite(.serialized) struct PgDumpTests {
    static let pgDumpPath = ["/usr/lib/postgresql/15/bin/pg_dump", "/usr/bin/pg_dump", "/usr/local/bin/pg_dump"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    static func pgDump(_ server: ServerProcess, _ options: [String] = [], program: String? = nil) throws -> (status: Int32, dump: String, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program ?? pgDumpPath!)
        process.arguments = ["-h", "127.0.0.1", "-p", String(server.pgPort), "-U", "tester"] + options + (program == nil ? ["reddb"] : [])
        var environment = ProcessInfo.processInfo.environment
        environment["PGCONNECT_TIMEOUT"] = "10"
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let dump = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: dump, as: UTF8.self), String(decoding: errors, as: UTF8.self))
    }

    /// The dump without its comments and the random `\restrict` key of each run.
    static func comparable(_ dump: String) -> [String] {
        dump.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("--") && !$0.hasPrefix("\\restrict") && !$0.hasPrefix("\\unrestrict") }
    }

    /// A dump PostgreSQL 15 made of its own database (`Fixtures/postgres15-shop-dump.sql`:
    /// an extension, an enum type, bigserial and identity keys, `timestamp(6)`, a comment, a
    /// foreign key, partial and expression indexes, a view over a join, a sequence, arrays,
    /// jsonb and uuids, `WITH (fillfactor='90')`) loads into RedDB with psql stopping at the
    /// first error, and the database works on from there.
    @Test func aPostgreSQLDumpLoads() throws {
        guard PsqlTests.psqlPath != nil else {
            #expect(ProcessInfo.processInfo.environment["REDDB_REQUIRE_POSTGRES"] != "1", "psql is required")
            return
        }
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/postgres15-shop-dump.sql")
        let dump = try String(contentsOf: fixture, encoding: .utf8)
        let server = try ServerProcess()
        defer { server.remove() }
        let load = try PsqlTests.psql(server, [], stdin: dump)
        #expect(load.status == 0, "\(load.stderr)")
        let check = try PsqlTests.psql(server, [
            "SELECT id, email, total FROM open_orders ORDER BY id",
            "INSERT INTO customers (email) VALUES ('cy@x.io') RETURNING id",
            "INSERT INTO orders (customer_id, total) VALUES (3, 1) RETURNING id, state",
            "SELECT nextval('invoice_no')", "SELECT tags[2], meta->>'ref' FROM orders WHERE id = 1",
        ])
        #expect(check.status == 0, "\(check.stderr)")
        for line in ["  1 | ada@x.io | 19.99\n", "  2 | bob@x.io |  5.00\n", " id \n----\n  3\n", "  3 | new\n", "    1001\n", " b    | X1\n"] {
            #expect(check.stdout.contains(line), "\(line)\n\(check.stdout)")
        }
        let refused = try PsqlTests.psql(server, ["INSERT INTO orders (customer_id, total) VALUES (1, -1)"])
        #expect(refused.stderr.contains("violates check constraint \"orders_total_check\""), "\(refused.stderr)")
    }

    @Test func aDumpRestoresIntoAnEmptyServer() throws {
        guard Self.pgDumpPath != nil, PsqlTests.psqlPath != nil else {
            #expect(ProcessInfo.processInfo.environment["REDDB_REQUIRE_POSTGRES"] != "1", "pg_dump and psql are required")
            print("notice: pg_dump or psql not found; skipping PgDumpTests")
            return
        }
        let source = try ServerProcess()
        defer { source.remove() }
        let setup = try PsqlTests.psql(source, [
            "CREATE TABLE users (id SERIAL PRIMARY KEY, email VARCHAR(100) UNIQUE NOT NULL, age INT CHECK (age > 0), joined TIMESTAMPTZ DEFAULT now())",
            "CREATE INDEX users_age ON users (age)",
            "CREATE INDEX users_domain ON users ((lower(email)))",
            "CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id INT REFERENCES users (id), amount NUMERIC(10,2), note TEXT)",
            "CREATE VIEW adults AS SELECT id, email FROM users WHERE age >= 18",
            "CREATE SEQUENCE tickets START 100",
            "CREATE TABLE events (id INT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind TEXT, done BOOLEAN)",
            "CREATE INDEX events_open ON events (kind) WHERE NOT done",
            "INSERT INTO events (kind, done) VALUES ('a', false), ('b', true)",
            "CREATE MATERIALIZED VIEW kinds AS SELECT kind, count(*) AS n FROM events GROUP BY kind",
            "SELECT nextval('tickets')",
            "INSERT INTO users (email, age, joined) VALUES ('a@x', 30, '2024-05-01 12:00:00+00'), ('b@x', 12, NULL)",
            #"INSERT INTO orders VALUES (1, 1, 9.99, E'tab\there, quote '' and \\ backslash'), (2, NULL, NULL, NULL)"#,
        ])
        #expect(setup.status == 0, "\(setup.stderr)")

        let first = try Self.pgDump(source)
        #expect(first.status == 0, "\(first.errors)")
        // The view comes after the table it reads, the serial's default after its sequence.
        let lines = Self.comparable(first.dump)
        let users = lines.firstIndex(of: "CREATE TABLE public.users ("), view = lines.firstIndex(of: "CREATE VIEW public.adults AS")
        #expect(users != nil && view != nil && users! < view!, "\(first.dump)")
        #expect(lines.contains("ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;"), "\(first.dump)")
        #expect(lines.contains("COPY public.orders (id, user_id, amount, note) FROM stdin;"), "\(first.dump)")

        let target = try ServerProcess()
        defer { target.remove() }
        let restore = try PsqlTests.psql(target, [], stdin: first.dump)
        #expect(restore.status == 0, "\(restore.stderr)")
        let second = try Self.pgDump(target)
        #expect(second.status == 0, "\(second.errors)")
        #expect(Self.comparable(second.dump) == lines, "\(second.dump)")

        // The custom format, through pg_restore, into a third server.
        let restorer = URL(fileURLWithPath: Self.pgDumpPath!).deletingLastPathComponent().appendingPathComponent("pg_restore").path
        if FileManager.default.isExecutableFile(atPath: restorer) {
            let archive = FileManager.default.temporaryDirectory.appendingPathComponent("reddb-dump-\(UUID().uuidString).custom").path
            defer { try? FileManager.default.removeItem(atPath: archive) }
            let custom = try Self.pgDump(source, ["-Fc", "-f", archive])
            #expect(custom.status == 0, "\(custom.errors)")
            let third = try ServerProcess()
            defer { third.remove() }
            let restored = try Self.pgDump(third, ["-d", "reddb", "--exit-on-error", archive], program: restorer)
            #expect(restored.status == 0, "\(restored.errors)")
            #expect(Self.comparable(try Self.pgDump(third).dump) == lines)
        }

        let check = try PsqlTests.psql(target, ["SELECT * FROM adults", "INSERT INTO users (email, age) VALUES ('c@x', 5) RETURNING id",
                                                "SELECT nextval('tickets')", "SELECT n FROM kinds WHERE kind = 'b'", #"SELECT note = E'tab\there, quote '' and \\ backslash' AS same FROM orders WHERE id = 1"#])
        #expect(check.status == 0, "\(check.stderr)")
        for line in [" 1 | a@x\n", "  3\n", "     101\n", " n \n---\n 1\n", " same \n------\n t\n"] {
            #expect(check.stdout.contains(line), "\(line)\n\(check.stdout)")
        }
    }

    /// Runs `statements` on a new server, dumps it, restores the dump into an empty server
    /// and checks that one dumps the same: the dump, its lines, and the restored server (for
    /// the caller to query and remove); nil when pg_dump or psql is missing.
    static func dumpAndRestore(_ statements: [String]) throws -> (dump: String, lines: [String], target: ServerProcess)? {
        guard pgDumpPath != nil, PsqlTests.psqlPath != nil else {
            #expect(ProcessInfo.processInfo.environment["REDDB_REQUIRE_POSTGRES"] != "1", "pg_dump and psql are required")
            return nil
        }
        let source = try ServerProcess()
        defer { source.remove() }
        let setup = try PsqlTests.psql(source, statements)
        #expect(setup.status == 0, "\(setup.stderr)")
        let first = try pgDump(source)
        #expect(first.status == 0, "\(first.errors)")
        let lines = comparable(first.dump)
        let target = try ServerProcess()
        let restore = try PsqlTests.psql(target, [], stdin: first.dump)
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(comparable(try pgDump(target).dump) == lines)
        return (first.dump, lines, target)
    }

    /// Domains come out as CREATE DOMAIN with their defaults and checks (one over another
    /// names it), columns by their domain, and the restored copy keeps checking.
    @Test func aDumpWithDomainsRestores() throws {
        guard let (dump, lines, target) = try Self.dumpAndRestore([
            "CREATE DOMAIN posint AS integer CHECK (VALUE > 0)",
            "CREATE DOMAIN code AS varchar(5) NOT NULL DEFAULT 'NONE' CONSTRAINT code_upper CHECK (VALUE = upper(VALUE))",
            "CREATE DOMAIN small AS posint CHECK (VALUE < 10)",
            "CREATE TABLE items (id INT PRIMARY KEY, qty posint, c code, s small)",
            "INSERT INTO items (id, qty, s) VALUES (1, 5, 3)",
        ]) else { return }
        defer { target.remove() }
        for line in ["CREATE DOMAIN public.code AS character varying(5) NOT NULL DEFAULT 'NONE'", "\tCONSTRAINT code_upper CHECK (VALUE = upper(VALUE));",
                     "CREATE DOMAIN public.small AS posint", "    qty posint,"] {
            #expect(lines.contains(line), "\(line)\n\(dump)")
        }
        let check = try PsqlTests.psql(target, ["SELECT qty, c, s FROM items", "INSERT INTO items (id, s) VALUES (2, 12)"])
        #expect(check.stdout.contains("   5 | NONE | 3\n"), "\(check.stdout)")
        #expect(check.stderr.contains("value for domain small violates check constraint \"small_check\""), "\(check.stderr)")
    }

    /// SQL functions come out as CREATE FUNCTION before the tables their bodies read (pg_dump
    /// turns check_function_bodies off), with their defaults, result and traits; a view calling
    /// one restores after it, and the restored copy calls them.
    @Test func aDumpWithFunctionsRestores() throws {
        guard let (dump, lines, target) = try Self.dumpAndRestore([
            "CREATE TABLE orders (id INT PRIMARY KEY, customer INT, amount NUMERIC(10,2))",
            "INSERT INTO orders VALUES (1, 10, 2.5), (2, 20, 7)",
            "CREATE FUNCTION next_id(a int, b int DEFAULT 1) RETURNS int LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT a + b $$",
            "CREATE FUNCTION total(c int) RETURNS numeric LANGUAGE sql STABLE AS $$ SELECT sum(amount) FROM orders WHERE customer = $1 $$",
            "CREATE FUNCTION of_customer(c int) RETURNS TABLE (oid int, amt numeric) LANGUAGE sql AS $$ SELECT id, amount FROM orders WHERE customer = c $$",
            "CREATE VIEW nexts AS SELECT id, next_id(id) AS next FROM orders",
            "COMMENT ON FUNCTION total(int) IS 'what a customer''s orders come to'",
            "CREATE FUNCTION split(a int, OUT half int, INOUT note text) AS 'SELECT a / 2, note || ''!''' LANGUAGE sql",
            "CREATE FUNCTION doubled(x int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN x * 2; END $$",
        ]) else { return }
        defer { target.remove() }
        for line in ["CREATE FUNCTION public.next_id(a integer, b integer DEFAULT 1) RETURNS integer", "    LANGUAGE sql IMMUTABLE STRICT",
                     "    AS $$ SELECT a + b $$;", "CREATE FUNCTION public.of_customer(c integer) RETURNS TABLE(oid integer, amt numeric)",
                     "    AS $_$ SELECT sum(amount) FROM orders WHERE customer = $1 $_$;", "ALTER FUNCTION public.total(c integer) OWNER TO tester;",
                     "COMMENT ON FUNCTION public.total(c integer) IS 'what a customer''s orders come to';",
                     "CREATE FUNCTION public.split(a integer, OUT half integer, INOUT note text) RETURNS record",
                     "CREATE FUNCTION public.doubled(x integer) RETURNS integer", "    LANGUAGE plpgsql"] {
            #expect(lines.contains(line), "\(line)\n\(dump)")
        }
        let function = lines.firstIndex(of: "CREATE FUNCTION public.total(c integer) RETURNS numeric"), table = lines.firstIndex(of: "CREATE TABLE public.orders (")
        #expect(function != nil && table != nil && function! < table!, "\(dump)")
        let check = try PsqlTests.psql(target, ["SELECT total(20)", "SELECT next FROM nexts ORDER BY id", "SELECT amt FROM of_customer(10)",
                                                "SELECT half || note AS split FROM split(7, 'x')", "SELECT doubled(21)"])
        #expect(check.status == 0, "\(check.stderr)")
        for line in ["  7.00\n", "    2\n    3\n", " 2.50\n", " 3x!\n", "      42\n"] {
            #expect(check.stdout.contains(line), "\(line)\n\(check.stdout)")
        }
    }

    /// Triggers come out as CREATE TRIGGER after the table's data (so a restore does not fire
    /// them on the rows it loads), disabled ones with ALTER TABLE … DISABLE TRIGGER, and fire
    /// in the restored copy.
    @Test func aDumpWithTriggersRestores() throws {
        guard let (dump, lines, target) = try Self.dumpAndRestore([
            "CREATE TABLE items (id INT PRIMARY KEY, name TEXT, stamp TEXT)",
            "CREATE TABLE log (what TEXT)",
            "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.stamp := TG_ARGV[0] || ':' || TG_OP; RETURN NEW; END $$",
            "CREATE FUNCTION note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO log VALUES (TG_OP || ' ' || NEW.name); RETURN NULL; END $$",
            "CREATE TRIGGER items_stamp BEFORE INSERT OR UPDATE OF name ON items FOR EACH ROW WHEN (NEW.name IS NOT NULL) EXECUTE FUNCTION stamp('v1')",
            "CREATE TRIGGER items_note AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION note()",
            "CREATE TRIGGER items_off AFTER DELETE ON items FOR EACH STATEMENT EXECUTE FUNCTION note()",
            "ALTER TABLE items DISABLE TRIGGER items_off",
            "INSERT INTO items (id, name) VALUES (1, 'a')",
        ]) else { return }
        defer { target.remove() }
        for line in ["CREATE TRIGGER items_stamp BEFORE INSERT OR UPDATE OF name ON public.items FOR EACH ROW WHEN (NEW.name IS NOT NULL) EXECUTE FUNCTION public.stamp('v1');",
                     "CREATE TRIGGER items_note AFTER INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.note();",
                     "ALTER TABLE public.items DISABLE TRIGGER items_off;"] {
            #expect(lines.contains(line), "\(line)\n\(dump)")
        }
        let data = lines.firstIndex(of: "COPY public.items (id, name, stamp) FROM stdin;"), trigger = lines.firstIndex { $0.hasPrefix("CREATE TRIGGER items_note") }
        #expect(data != nil && trigger != nil && data! < trigger!, "\(dump)")
        let check = try PsqlTests.psql(target, ["SELECT what FROM log", "INSERT INTO items (id, name) VALUES (2, 'b') RETURNING stamp",
                                                "SELECT what FROM log", "SELECT stamp FROM items WHERE id = 1"])
        #expect(check.status == 0, "\(check.stderr)")
        for line in [" INSERT a\n(1 row)\n", " v1:INSERT\n", " INSERT a\n INSERT b\n(2 rows)\n"] {
            #expect(check.stdout.contains(line), "\(line)\n\(check.stdout)")
        }
    }

    /// A database with a schema: pg_dump writes CREATE SCHEMA and every name qualified, orders
    /// the schema's view after the table it reads by its bare name, and the dump loads into an
    /// empty server and dumps the same from there.
    @Test func aDumpWithASchemaRestores() throws {
        guard let (dump, lines, target) = try Self.dumpAndRestore([
            "CREATE SCHEMA shop",
            "CREATE TABLE shop.customers (id SERIAL PRIMARY KEY, email TEXT UNIQUE)",
            "CREATE TABLE shop.orders (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer INT REFERENCES shop.customers (id), total NUMERIC(10,2))",
            "CREATE INDEX orders_total ON shop.orders (total)",
            "CREATE VIEW shop.big AS SELECT id, total FROM orders WHERE total > 100",
            "CREATE MATERIALIZED VIEW shop.per_customer AS SELECT customer, count(*) AS n FROM orders GROUP BY customer",
            "CREATE TABLE customers (id INT PRIMARY KEY)",
            "INSERT INTO shop.customers (email) VALUES ('a@x'), ('b@x')",
            "INSERT INTO shop.orders (customer, total) VALUES (1, 150), (2, 5)",
            "REFRESH MATERIALIZED VIEW shop.per_customer",
        ]) else { return }
        defer { target.remove() }
        #expect(lines.contains("CREATE SCHEMA shop;"), "\(dump)")
        #expect(lines.contains("ALTER SEQUENCE shop.customers_id_seq OWNED BY shop.customers.id;"), "\(dump)")
        let table = lines.firstIndex(of: "CREATE TABLE shop.orders ("), view = lines.firstIndex(of: "CREATE VIEW shop.big AS")
        #expect(table != nil && view != nil && table! < view!, "\(dump)")
        let check = try PsqlTests.psql(target, ["SELECT total FROM shop.big", "SELECT n FROM shop.per_customer WHERE customer = 2",
                                                "INSERT INTO shop.customers (email) VALUES ('c@x') RETURNING id > 2 AS fresh", "SELECT count(*) FROM customers"])
        #expect(check.status == 0, "\(check.stderr)")
        for line in [" 150.00\n", " n \n---\n 1\n", " fresh \n-------\n t\n", " count \n-------\n     0\n"] {
            #expect(check.stdout.contains(line), "\(line)\n\(check.stdout)")
        }
    }
}
