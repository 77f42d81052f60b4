import Foundation
import Testing

/// `psql` (the PostgreSQL 15 client on the machine image) against the real server:
/// `\dt`, `\d table`, `\l`, a query, COPY and an error. Skipped, with a notice, when psql is absent.
@Suite(.serialized) struct PsqlTests {
    static let psqlPath = ["/usr/bin/psql", "/usr/local/bin/psql", "/usr/lib/postgresql/15/bin/psql"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    struct Output { let status: Int32; let stdout: String; let stderr: String }

    /// A server to point psql at; nil (with a notice) when psql is not installed, a failure
    /// when scripts/test says PostgreSQL's programs must be there (REDDB_REQUIRE_POSTGRES=1).
    static func serverForPsql() throws -> ServerProcess? {
        guard psqlPath != nil else {
            _ = ClientProgram.missing("psql", requiredBy: "REDDB_REQUIRE_POSTGRES", installer: "scripts/install-postgres", skipping: "PsqlTests")
            return nil
        }
        return try ServerProcess()
    }

    /// `environment`: more of libpq's variables (`PGTZ` sends a TimeZone at startup).
    static func psql(_ server: ServerProcess, _ commands: [String], stdin: String? = nil, stdinBytes: [UInt8]? = nil, port: Int? = nil,
                     environment extra: [String: String] = [:]) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: psqlPath!)
        process.arguments = ["-X", "-h", "127.0.0.1", "-p", String(port ?? server.pgPort), "-U", "tester", "-d", "reddb", "-v", "ON_ERROR_STOP=1"]
            + commands.flatMap { ["-c", $0] }
        var environment = ProcessInfo.processInfo.environment
        environment["PGCONNECT_TIMEOUT"] = "10"
        environment["PGSSLMODE"] = "prefer"
        environment.merge(extra) { $1 }
        process.environment = environment
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        if let stdinBytes { input.fileHandleForWriting.write(Data(stdinBytes)) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Runs one command and returns psql's raw stdout bytes.
    static func psqlBytes(_ server: ServerProcess, _ command: String) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: psqlPath!)
        process.arguments = ["-X", "-h", "127.0.0.1", "-p", String(server.pgPort), "-U", "tester", "-d", "reddb", "-c", command]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Array(data)
    }

    @Test func describeListQueryAndError() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        var o = try Self.psql(server, [
            "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, age INT DEFAULT 0 CHECK (age >= 0))",
            "CREATE INDEX users_age ON users (age)",
            "INSERT INTO users (id, name, email) VALUES (1, 'Ada', 'ada@example.com'), (2, 'Grace', NULL)",
        ])
        #expect(o.status == 0, "\(o.stderr)")
        o = try Self.psql(server, [#"\dt"#])
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stdout.contains("users") && o.stdout.contains("table"), "\(o.stdout)")
        o = try Self.psql(server, [#"\d users"#])
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stdout.contains(#"Table "public.users""#), "\(o.stdout)")
        #expect(o.stdout.contains("not null"))
        #expect(o.stdout.contains("PRIMARY KEY, btree (id)"), "\(o.stdout)")
        #expect(o.stdout.contains("users_age"))
        #expect(o.stdout.contains("Check constraints:") && o.stdout.contains(#""users_age_check" CHECK (age >= 0)"#), "\(o.stdout)")
        o = try Self.psql(server, ["CREATE TABLE member (u INT, g INT, PRIMARY KEY (u, g))", #"\d member"#])
        #expect(o.stdout.contains(#""member_pkey" PRIMARY KEY, btree (u, g)"#), "\(o.stdout)")
        o = try Self.psql(server, [#"\d nosuch"#])
        #expect(o.status == 1)
        #expect(o.stderr.contains("Did not find any relation named"))
        o = try Self.psql(server, [#"\l"#, #"\dn"#, #"\di"#])
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stdout.contains("reddb") && o.stdout.contains("public") && o.stdout.contains("users_age"))
        o = try Self.psql(server, ["SELECT name, age FROM users ORDER BY id"])
        #expect(o.stdout.contains("Ada") && o.stdout.contains("Grace") && o.stdout.contains("(2 rows)"), "\(o.stdout)")
        o = try Self.psql(server, ["SELECT * FROM missing"])
        #expect(o.status == 1)
        #expect(o.stderr.contains("ERROR:") && o.stderr.contains("missing"), "\(o.stderr)")
    }

    /// psql's `\d NAME` runs its own catalog queries through the engine, so views and indexes
    /// are described as tables are (the output PostgreSQL 15 gives for the same schema).
    @Test func describeViewsIndexesAndVerboseTables() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        var o = try Self.psql(server, [
            "CREATE TABLE customers (id BIGINT PRIMARY KEY, email TEXT NOT NULL UNIQUE)",
            "CREATE TABLE orders (id BIGINT PRIMARY KEY, customer BIGINT NOT NULL REFERENCES customers(id) ON DELETE CASCADE, total NUMERIC, placed DATE)",
            "CREATE INDEX orders_placed ON orders (placed, total)",
            "CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100",
        ])
        #expect(o.status == 0, "\(o.stderr)")
        o = try Self.psql(server, [#"\d big_orders"#])
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stdout.contains(#"View "public.big_orders""#) && o.stdout.contains(" total  | numeric |"), "\(o.stdout)")
        o = try Self.psql(server, [#"\d+ big_orders"#])
        #expect(o.stdout.contains("View definition:") && o.stdout.contains("SELECT id, total FROM orders WHERE total > 100"), "\(o.stdout)")
        o = try Self.psql(server, [#"\d orders_placed"#])
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stdout.contains(#"Index "public.orders_placed""#) && o.stdout.contains(" placed | date    | yes  | placed"), "\(o.stdout)")
        #expect(o.stdout.contains(#"btree, for table "public.orders""#), "\(o.stdout)")
        o = try Self.psql(server, [#"\d customers_pkey"#])
        #expect(o.stdout.contains(#"primary key, btree, for table "public.customers""#), "\(o.stdout)")
        o = try Self.psql(server, [#"\d+ orders"#])
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stdout.contains(" total    | numeric |           |          |         | main    |"), "\(o.stdout)")
        #expect(o.stdout.contains(#""orders_customer_fkey" FOREIGN KEY (customer) REFERENCES customers(id) ON DELETE CASCADE"#), "\(o.stdout)")
        o = try Self.psql(server, [#"\d customers"#])
        #expect(o.stdout.contains("Referenced by:") && o.stdout.contains(#"TABLE "orders" CONSTRAINT "orders_customer_fkey""#), "\(o.stdout)")
        o = try Self.psql(server, [#"\l+"#, #"\d cust*"#])
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stdout.contains("reddb") && o.stdout.contains(#"Table "public.customers""#), "\(o.stdout)")
    }

    /// Sequences are relations as in PostgreSQL: `\ds` lists them, `\d seq` describes one
    /// from pg_sequence, and `\d table` shows identity and serial defaults.
    @Test func sequencesAndIdentityColumnsInPsql() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        var o = try Self.psql(server, [
            "CREATE TABLE tickets (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n SERIAL, v TEXT)",
            "CREATE SEQUENCE order_no AS integer START 1000 INCREMENT BY 5",
            "INSERT INTO tickets (v) VALUES ('a') RETURNING id, n",
        ])
        #expect(o.status == 0, "\(o.stderr)")
        o = try Self.psql(server, [#"\ds"#])
        #expect(o.stdout.contains("order_no       | sequence") && o.stdout.contains("tickets_id_seq | sequence")
                && o.stdout.contains("tickets_n_seq  | sequence"), "\(o.stdout)")
        o = try Self.psql(server, [#"\d order_no"#])
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stdout.contains(#"Sequence "public.order_no""#) && o.stdout.contains(" integer |  1000 |       1 | 2147483647 |         5 | no      |     1"),
                "\(o.stdout)")
        o = try Self.psql(server, [#"\d tickets"#])
        #expect(o.stdout.contains("| not null | generated always as identity") && o.stdout.contains("| not null | nextval('tickets_n_seq'::regclass)"),
                "\(o.stdout)")
        // last_value is NULL until nextval hands a value out; the sequence reads as a relation.
        o = try Self.psql(server, ["SELECT sequencename, last_value FROM pg_sequences ORDER BY 1", "SELECT last_value, is_called FROM tickets_id_seq"])
        #expect(o.stdout.contains(" order_no       |           \n") && o.stdout.contains(" tickets_id_seq |          1\n")
                && o.stdout.contains("          1 | t\n"), "\(o.stdout)")
    }

    /// `\d` lists expression and partial indexes as PostgreSQL 15's psql does.
    @Test func expressionAndPartialIndexesInPsql() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        var o = try Self.psql(server, [
            "CREATE TABLE users (id INT PRIMARY KEY, email TEXT, deleted_at TIMESTAMP, a INT, b INT)",
            "CREATE UNIQUE INDEX users_email_live ON users (email) WHERE deleted_at IS NULL",
            "CREATE INDEX users_lower ON users (lower(email))",
            "CREATE INDEX ON users ((a + b))",
        ])
        #expect(o.status == 0, "\(o.stderr)")
        o = try Self.psql(server, [#"\d users"#])
        #expect(o.stdout.contains(#"    "users_email_live" UNIQUE, btree (email) WHERE deleted_at IS NULL"#)
                && o.stdout.contains(#"    "users_expr_idx" btree ((a + b))"#) && o.stdout.contains(#"    "users_lower" btree (lower(email))"#),
                "\(o.stdout)")
        o = try Self.psql(server, ["SELECT indexdef FROM pg_indexes WHERE indexname = 'users_expr_idx'"])
        #expect(o.stdout.contains("CREATE INDEX users_expr_idx ON public.users USING btree (((a + b)))"), "\(o.stdout)")
    }

    /// COMMENT ON texts reach psql's `\d+` and `\dt+`, obj_description and col_description, and
    /// go with a rolled-back transaction.
    @Test func commentsInPsql() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        var o = try Self.psql(server, [
            "CREATE TABLE items (id INT PRIMARY KEY, name TEXT, price NUMERIC)",
            "CREATE SEQUENCE item_no",
            "COMMENT ON TABLE items IS 'Things we sell'",
            "COMMENT ON COLUMN items.name IS 'Shown to customers'",
            "COMMENT ON SEQUENCE item_no IS 'Invoice numbers'",
            "BEGIN", "COMMENT ON TABLE items IS 'changed'", "ROLLBACK",
        ])
        #expect(o.status == 0, "\(o.stderr)")
        o = try Self.psql(server, [#"\d+ items"#, #"\dt+ items"#,
                                   "SELECT obj_description('item_no'::regclass, 'pg_class') AS s, col_description('items'::regclass, 3) AS price"])
        #expect(o.stdout.contains(" name   | text    |           |          |         | extended |             |              | Shown to customers")
                && o.stdout.contains("| Things we sell") && o.stdout.contains(" Invoice numbers | \n") && !o.stdout.contains("changed"),
                "\(o.stdout)")
    }

    /// Declared widths, lengths and scales as psql shows them: `\d` spells the types as
    /// PostgreSQL's format_type does, a `char(n)` value comes padded, a `numeric(p,s)` one with
    /// `s` places, a `timestamptz` with its offset; violations carry PostgreSQL's words.
    @Test func declaredTypesInPsql() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        var o = try Self.psql(server, [
            "CREATE TABLE items (id SERIAL PRIMARY KEY, s SMALLINT, name VARCHAR(10), code CHAR(4), price NUMERIC(8,2), r REAL, at TIMESTAMPTZ)",
            "INSERT INTO items (s, name, code, price, r, at) VALUES (7, 'pen', 'ab', 5, 0.1, '2024-05-01 12:00:00+02')",
        ])
        #expect(o.status == 0, "\(o.stderr)")
        o = try Self.psql(server, [#"\d items"#, "SELECT code, price, r, at, 'x'::char(3) AS c3, 2::numeric(6,3) AS n3 FROM items",
                                   "SELECT column_name, character_maximum_length AS len, numeric_precision AS p, numeric_scale AS s FROM information_schema.columns WHERE table_name = 'items' ORDER BY ordinal_position"])
        #expect(o.status == 0, "\(o.stderr)")
        for line in [" id     | integer                  |           | not null | nextval('items_id_seq'",
                     " s      | smallint                 |", " name   | character varying(10)    |", " code   | character(4)             |",
                     " price  | numeric(8,2)             |", " r      | real                     |", " at     | timestamp with time zone |",
                     " ab   |  5.00 | 0.1 | 2024-05-01 10:00:00+00 | x   | 2.000", " name        |  10 |    | ", " price       |     |  8 | 2"] {
            #expect(o.stdout.contains(line), "\(line)\n\(o.stdout)")
        }
        o = try Self.psql(server, ["INSERT INTO items (name) VALUES ('far too long a name')"])
        #expect(o.stderr.contains("ERROR:  value too long for type character varying(10)"), "\(o.stderr)")
        o = try Self.psql(server, ["INSERT INTO items (price) VALUES (1000000)"])
        #expect(o.stderr.contains("ERROR:  numeric field overflow") && o.stderr.contains("DETAIL:  A field with precision 8, scale 2 must round to an absolute value less than 10^6."),
                "\(o.stderr)")
    }

    /// Fractional-second precisions and interval fields as psql shows them: `\d` spells them as
    /// format_type does (`timestamp(3) without time zone`, `interval day to second(1)`), values
    /// come rounded and truncated, information_schema gives each precision and interval type.
    @Test func timePrecisionsInPsql() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        let o = try Self.psql(server, [
            "CREATE TABLE stamps (id INT, a TIMESTAMP(3), b TIMESTAMPTZ(0), c TIME(2), e INTERVAL DAY TO SECOND(1), f INTERVAL YEAR TO MONTH, h INTERVAL(2))",
            "INSERT INTO stamps VALUES (1, '2021-05-06 07:08:09.987654', '2021-05-06 07:08:09.5+00', '01:02:03.456', '1 day 01:02:03.456789', '1 year 2 mons 3 days', '00:00:00.125')",
            #"\d stamps"#, "SELECT a, b, c, e, f, h FROM stamps",
            "SELECT column_name, datetime_precision AS dp, interval_type FROM information_schema.columns WHERE table_name = 'stamps' ORDER BY ordinal_position",
            // A view's columns are described as its query's are.
            "CREATE VIEW stamps_v AS SELECT id, a, e, id::bigint AS big FROM stamps",
            "SELECT string_agg(format_type(atttypid, atttypmod), ', ' ORDER BY attnum) AS view_types FROM pg_attribute WHERE attrelid = 'stamps_v'::regclass AND attnum > 0",
        ])
        #expect(o.status == 0, "\(o.stderr)")
        for line in [" a      | timestamp(3) without time zone |", " b      | timestamp(0) with time zone    |",
                     " c      | time(2) without time zone      |", " e      | interval day to second(1)      |",
                     " f      | interval year to month         |", " h      | interval(2)                    |",
                     " 2021-05-06 07:08:09.988 | 2021-05-06 07:08:10+00 | 01:02:03.46 | 1 day 01:02:03.5 | 1 year 2 mons | 00:00:00.13",
                     " a           |  3 | ", " b           |  0 | ", " e           |  1 | DAY TO SECOND(1)", " f           |  6 | YEAR TO MONTH",
                     " integer, timestamp(3) without time zone, interval day to second(1), bigint"] {
            #expect(o.stdout.contains(line), "\(line)\n\(o.stdout)")
        }
    }

    /// What Rails' PostgreSQL adapter does on connecting: IntervalStyle iso_8601 (intervals
    /// then come back `P1DT2H`), and its type-map query, which compares pg_type's input
    /// functions with `'array_in(cstring,oid,integer)'::regprocedure`.
    @Test func railsConnectionSetup() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        let o = try Self.psql(server, [
            "SET intervalstyle = iso_8601", "SELECT interval '1 day 2 hours' AS i, interval '-90 minutes' AS j",
            "SELECT count(*) > 0 AS arrays FROM pg_type AS t LEFT JOIN pg_range AS r ON oid = rngtypid WHERE t.typname IN ('int4') OR t.typinput = 'array_in(cstring,oid,integer)'::regprocedure OR t.typelem != 0",
        ])
        #expect(o.status == 0, "\(o.stderr)")
        for line in [" P1DT2H | PT-1H-30M\n", " arrays \n--------\n t\n"] { #expect(o.stdout.contains(line), "\(line)\n\(o.stdout)") }
        let refused = try Self.psql(server, ["SET intervalstyle = sql_standard"])
        #expect(refused.stderr.contains("IntervalStyle sql_standard is not supported"), "\(refused.stderr)")
    }

    /// SHOW names its column as PostgreSQL spells the parameter.
    @Test func showNamesItsColumnAsPostgreSQLSpellsTheParameter() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        let o = try Self.psql(server, ["SHOW timezone", "SHOW datestyle", "SHOW work_mem"])
        #expect(o.status == 0, "\(o.stderr)")
        for line in [" TimeZone \n", " DateStyle \n", " work_mem \n"] { #expect(o.stdout.contains(line), "\(line)\n\(o.stdout)") }
    }

    /// SQL's PREPARE and EXECUTE share the protocol's named statements: arguments are
    /// converted to the declared types, DEALLOCATE drops the statement, and the errors are
    /// PostgreSQL's (42P05 twice prepared, 26000 unknown).
    @Test func sqlPrepareAndExecute() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        var o = try Self.psql(server, [
            "CREATE TABLE t (id INT PRIMARY KEY, name TEXT)",
            "PREPARE ins (integer, text) AS INSERT INTO t VALUES ($1, $2)",
            "EXECUTE ins(1, 'one, with a comma')", "EXECUTE ins('2', 'two')",
            "PREPARE q(int) AS SELECT name FROM t WHERE id = $1", "EXECUTE q(1 + 1)", "DEALLOCATE q",
        ])
        #expect(o.status == 0, "\(o.stderr)")
        for line in ["PREPARE\nINSERT 0 1\nINSERT 0 1\nPREPARE\n", " two\n(1 row)\n\nDEALLOCATE\n"] {
            #expect(o.stdout.contains(line), "\(line)\n\(o.stdout)")
        }
        o = try Self.psql(server, ["PREPARE q AS SELECT 1", "PREPARE q AS SELECT 2"])
        #expect(o.stderr.contains("ERROR:  prepared statement \"q\" already exists"), "\(o.stderr)")
        o = try Self.psql(server, ["EXECUTE nothing(1)"])
        #expect(o.stderr.contains("ERROR:  prepared statement \"nothing\" does not exist"), "\(o.stderr)")
        o = try Self.psql(server, ["PREPARE p(int) AS SELECT $1", "EXECUTE p"])
        #expect(o.stderr.contains("wrong number of parameters for prepared statement \"p\""), "\(o.stderr)")
    }

    /// COPY's FORCE_NOT_NULL and FORCE_NULL on CSV input and FORCE_QUOTE on CSV output, through
    /// psql's `\copy`; the texts are PostgreSQL 15's for the same commands and data.
    @Test func copyForceOptionsInPsql() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        var o = try Self.psql(server, [
            "CREATE TABLE fq (id int, name text, note text)",
            #"\copy fq FROM STDIN WITH (FORMAT csv, HEADER, FORCE_NOT_NULL (name), FORCE_NULL (note), ENCODING 'UTF8')"#,
            "SELECT id, name IS NULL, coalesce(name, '<null>'), note IS NULL FROM fq ORDER BY id",
            "COPY (SELECT id, name, note FROM fq ORDER BY id) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE (name, note))",
            "COPY fq TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)",
        ], stdin: "id,name,note\n1,,\"\"\n2,\"\",x\n3,a,\n\\.\n")
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stdout.contains("  1 | f        |          | t\n  2 | f        |          | f\n  3 | f        | a        | t\n"), "\(o.stdout)")
        #expect(o.stdout.contains("1,\"\",\n2,\"\",\"x\"\n3,\"a\",\n\"1\",\"\",\n\"2\",\"\",\"x\"\n\"3\",\"a\",\n"), "\(o.stdout)")
        o = try Self.psql(server, ["COPY fq TO STDOUT WITH (FORMAT text, FORCE_QUOTE *)"])
        #expect(o.stderr.contains("COPY force quote available only in CSV mode"), "\(o.stderr)")
        o = try Self.psql(server, ["COPY fq FROM STDIN WITH (FORMAT csv, FORCE_QUOTE *)"])
        #expect(o.stderr.contains("COPY force quote only available using COPY TO"), "\(o.stderr)")
    }

    /// CREATE TABLE AS reports `SELECT n` and makes columns of the query's types, declared
    /// widths included, as `\d` shows; SELECT INTO does the same.
    @Test func createTableAsInPsql() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        let o = try Self.psql(server, [
            "CREATE TABLE items (id SERIAL PRIMARY KEY, name VARCHAR(20) NOT NULL, price NUMERIC(8,2), tags TEXT[])",
            "INSERT INTO items (name, price, tags) VALUES ('pen', 1.5, '{a,b}'), ('ink', 12, NULL)",
            "CREATE TABLE copy AS SELECT id, name, price, price * 2 AS doubled, tags FROM items",
            "SELECT name INTO names FROM items WHERE price > 5",
            "CREATE TABLE IF NOT EXISTS copy AS SELECT 1",
            #"\d copy"#, "SELECT * FROM names",
        ])
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stderr.contains("NOTICE:  relation \"copy\" already exists, skipping"), "\(o.stderr)")
        for line in ["SELECT 2\nSELECT 1\nCREATE TABLE AS\n", " id      | integer               |", " name    | character varying(20) |",
                     " price   | numeric(8,2)          |", " doubled | numeric               |", " tags    | text[]                |", " ink\n"] {
            #expect(o.stdout.contains(line), "\(line)\n\(o.stdout)")
        }
        #expect(!o.stdout.contains("not null"), "\(o.stdout)")
    }

    /// A temporary table in psql: COPY loads it, `\d` lists it in the connection's pg_temp
    /// schema (the permanent table it hides is not listed), and the next connection has none.
    @Test func temporaryTablesInPsql() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        var o = try Self.psql(server, [
            "CREATE TABLE t (id INT PRIMARY KEY)", "CREATE TEMP TABLE t (id INT PRIMARY KEY, name TEXT)",
            "COPY t FROM STDIN WITH (FORMAT csv)", "SELECT name FROM t ORDER BY id", #"\d"#, #"\d t"#,
        ], stdin: "1,ada\n2,grace\n")
        #expect(o.status == 0, "\(o.stderr)")
        for line in ["COPY 2\n", " ada\n grace\n", #"Table "pg_temp_"#, "    \"t_pkey\" PRIMARY KEY, btree (id)"] {
            #expect(o.stdout.contains(line), "\(line)\n\(o.stdout)")
        }
        #expect(o.stdout.contains(" pg_temp_") && o.stdout.contains("| t    | table | ") && !o.stdout.contains(" public "), "\(o.stdout)")
        o = try Self.psql(server, ["SELECT count(*) FROM t", #"\d"#])
        #expect(o.status == 0 && o.stdout.contains(" public | t    | table |") && o.stdout.contains("     0\n"), "\(o.stdout) \(o.stderr)")
    }

    /// Generated columns as psql describes them (`generated always as (…) stored`), listed
    /// by information_schema, skipped by COPY without a column list, and refused a value.
    @Test func generatedColumnsInPsql() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        var o = try Self.psql(server, [
            "CREATE TABLE g (id INT PRIMARY KEY, price NUMERIC(8,2), qty INT NOT NULL DEFAULT 1, total NUMERIC GENERATED ALWAYS AS (price * qty) STORED)",
            "COPY g FROM STDIN",
        ], stdin: "1\t2.5\t4\n\\.\n")
        #expect(o.status == 0, "\(o.stderr)")
        o = try Self.psql(server, [#"\d g"#, "SELECT id, total FROM g", "COPY g TO STDOUT",
                                   "SELECT column_name, is_generated, generation_expression FROM information_schema.columns WHERE table_name = 'g' AND column_name = 'total'"])
        #expect(o.status == 0, "\(o.stderr)")
        for line in [" total  | numeric      |           |          | generated always as (price * qty) stored", "  1 | 10.00",
                     " total       | ALWAYS       | price * qty", "\n1\t2.50\t4\n"] {
            #expect(o.stdout.contains(line), "\(line)\n\(o.stdout)")
        }
        o = try Self.psql(server, ["INSERT INTO g (id, total) VALUES (2, 5)"])
        #expect(o.stderr.contains("ERROR:  cannot insert a non-DEFAULT value into column \"total\"") && o.stderr.contains("DETAIL:  Column \"total\" is a generated column."),
                "\(o.stderr)")
    }

    /// Enum types as psql and SQLAlchemy see them: `\d` names the type, pg_type lists it in
    /// public (the query SQLAlchemy runs before CREATE TYPE), pg_enum its labels in order.
    @Test func enumTypesInPsql() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        var o = try Self.psql(server, [
            "CREATE TYPE mood AS ENUM ('sad', 'ok')", "ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok'",
            "CREATE TABLE moods (id INT PRIMARY KEY, m mood NOT NULL)", "INSERT INTO moods VALUES (1, 'meh')",
        ])
        #expect(o.status == 0, "\(o.stderr)")
        o = try Self.psql(server, [#"\d moods"#, "SELECT m FROM moods",
                                   "SELECT t.typname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE t.typname = 'mood' AND pg_catalog.pg_type_is_visible(t.oid) AND n.nspname != 'pg_catalog'",
                                   "SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typname = 'mood'",
                                   "SELECT data_type, udt_name FROM information_schema.columns WHERE table_name = 'moods' AND column_name = 'm'"])
        #expect(o.status == 0, "\(o.stderr)")
        for line in [" m      | mood    |           | not null |", " meh\n", " mood\n", " sad,meh,ok\n", " USER-DEFINED | mood\n"] {
            #expect(o.stdout.contains(line), "\(line)\n\(o.stdout)")
        }
        o = try Self.psql(server, ["DROP TYPE mood CASCADE"])
        #expect(o.stderr.contains("NOTICE:  drop cascades to column m of table moods"), "\(o.stderr)")
    }

    /// Domains as psql shows them: `\d` names the column's domain, `\dD` lists base type,
    /// NOT NULL, default and checks; information_schema gives the base type and the domain, and lists domains and their checks.
    @Test func domainsInPsql() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        var o = try Self.psql(server, [
            "CREATE DOMAIN posint AS integer CHECK (VALUE > 0)",
            "CREATE DOMAIN code AS varchar(5) NOT NULL DEFAULT 'NONE' CONSTRAINT code_upper CHECK (VALUE = upper(VALUE))",
            "CREATE TABLE items (id INT PRIMARY KEY, qty posint, c code)",
        ])
        #expect(o.status == 0, "\(o.stderr)")
        o = try Self.psql(server, [#"\d items"#, #"\dD"#, "SELECT data_type, udt_name, domain_name FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'qty'",
                                   "SELECT domain_name || ':' || data_type || ':' || coalesce(character_maximum_length::text, '-') AS d FROM information_schema.domains ORDER BY 1",
                                   "SELECT string_agg(constraint_name, ',' ORDER BY constraint_name) AS c FROM information_schema.domain_constraints",
                                   "INSERT INTO items (id, qty) VALUES (1, 0)"])
        for line in [" code:character varying:5\n", " posint:integer:-\n", " code_upper,posint_check\n", " qty    | posint  |", " c      | code    |", " public | code   | character varying(5) |           | not null | 'NONE'  | CHECK (VALUE = upper(VALUE))",
                     " public | posint | integer              |           |          |         | CHECK (VALUE > 0)", " integer   | int4     | posint\n"] {
            #expect(o.stdout.contains(line), "\(line)\n\(o.stdout)")
        }
        #expect(o.stderr.contains("ERROR:  value for domain posint violates check constraint \"posint_check\""), "\(o.stderr)")
    }

    /// `\df`, `\df+` and `\sf` show SQL functions as PostgreSQL's psql shows them.
    @Test func functionsInPsql() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        var o = try Self.psql(server, [
            "CREATE DOMAIN posint AS integer CHECK (VALUE > 0)",
            "CREATE TABLE fo (id INT PRIMARY KEY, customer INT, amount NUMERIC(10,2))",
            "CREATE FUNCTION fn_add(a int, b int DEFAULT 1) RETURNS int LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT a + b $$",
            "CREATE FUNCTION fn_add(text, text) RETURNS text LANGUAGE sql AS 'SELECT $1 || $2'",
            "CREATE FUNCTION fn_rows(c posint) RETURNS TABLE (oid int, amt numeric) AS $$ SELECT id, amount FROM fo WHERE customer = c $$ LANGUAGE sql STABLE",
            "CREATE FUNCTION fn_of(int) RETURNS SETOF fo AS $$ SELECT * FROM fo WHERE customer = $1 $$ LANGUAGE sql",
        ])
        #expect(o.status == 0, "\(o.stderr)")
        o = try Self.psql(server, [#"\df"#, #"\df+ fn_add"#, #"\sf fn_rows"#])
        #expect(o.status == 0, "\(o.stderr)")
        for line in [" public | fn_add  | integer                         | a integer, b integer DEFAULT 1 | func\n",
                     " public | fn_add  | text                            | text, text                     | func\n",
                     " public | fn_of   | SETOF fo                        | integer                        | func\n",
                     " public | fn_rows | TABLE(oid integer, amt numeric) | c posint                       | func\n",
                     "| func | immutable  | unsafe   | tester | invoker  |                   | sql      |  SELECT a + b   | \n",
                     "CREATE OR REPLACE FUNCTION public.fn_rows(c posint)\n RETURNS TABLE(oid integer, amt numeric)\n LANGUAGE sql\n STABLE\nAS $function$ SELECT id, amount FROM fo WHERE customer = c $function$\n"] {
            #expect(o.stdout.contains(line), "\(line)\n\(o.stdout)")
        }
        // With check_function_bodies off (as pg_dump's scripts run) functions may call each other
        // in a loop; calling one is refused when planned, and the server goes on.
        o = try Self.psql(server, ["SET check_function_bodies = off", "CREATE FUNCTION loop_a(n int) RETURNS int LANGUAGE sql AS 'SELECT loop_b(n)'",
                                   "CREATE FUNCTION loop_b(n int) RETURNS int LANGUAGE sql AS 'SELECT loop_a(n)'", "SELECT loop_a(1)"])
        #expect(o.stderr.contains("SQL function loop_a calls itself (through loop_a → loop_b)"), "\(o.stderr)")
        #expect(try Self.psql(server, ["SELECT fn_add(1)"]).stdout.contains("      2\n"))
    }

    /// A DO block's RAISE NOTICE and WARNING reach psql as PostgreSQL's do, and an exception's
    /// DETAIL and HINT come with it.
    @Test func doBlocksInPsql() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        let o = try Self.psql(server, [
            "DO $$ DECLARE n int := 2; BEGIN RAISE NOTICE 'n is %', n; RAISE WARNING 'careful'; END $$",
            "DO $$ BEGIN RAISE EXCEPTION 'late' USING DETAIL = 'due yesterday', HINT = 'call them'; END $$",
        ])
        #expect(o.stdout.contains("DO\n"), "\(o.stdout)")
        for line in ["NOTICE:  n is 2\n", "WARNING:  careful\n", "ERROR:  late\nDETAIL:  due yesterday\nHINT:  call them\n"] {
            #expect(o.stderr.contains(line), "\(line)\n\(o.stderr)")
        }
        // What the block raised before it failed is shown above the error.
        let failed = try Self.psql(server, ["DO $$ BEGIN RAISE NOTICE 'about to fail'; PERFORM 1 / 0; END $$"])
        #expect(failed.stderr.contains("NOTICE:  about to fail\nERROR:  division by zero\n"), "\(failed.stderr)")
    }

    /// `\d table` lists the table's triggers, disabled ones apart, as PostgreSQL's psql does.
    @Test func describeListsTriggers() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        let o = try Self.psql(server, [
            "CREATE TABLE t (id INT PRIMARY KEY, v INT)",
            "CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
            "CREATE TRIGGER t_keep BEFORE INSERT OR UPDATE OF v ON t FOR EACH ROW EXECUTE FUNCTION keep('x')",
            "CREATE TRIGGER t_off AFTER DELETE ON t EXECUTE FUNCTION keep()",
            "ALTER TABLE t DISABLE TRIGGER t_off",
            "\\d t",
        ])
        #expect(o.status == 0, "\(o.stderr)")
        for line in ["Triggers:\n    t_keep BEFORE INSERT OR UPDATE OF v ON t FOR EACH ROW EXECUTE FUNCTION keep('x')\n",
                     "Disabled user triggers:\n    t_off AFTER DELETE ON t FOR EACH STATEMENT EXECUTE FUNCTION keep()\n"] {
            #expect(o.stdout.contains(line), "\(line)\n\(o.stdout)")
        }
    }

    /// COPY FROM runs as batches of 1,000 rows and fires the table's statement triggers once,
    /// around them all, with the notices they raise, as PostgreSQL fires them once per COPY.
    @Test func copyFiresStatementTriggersOnce() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        let rows = (1...2_500).map { "\($0)\tx" }.joined(separator: "\n")
        let script = """
            CREATE TABLE cp (id int, v text);
            CREATE TABLE cplog (k serial, what text);
            CREATE FUNCTION cpnote() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO cplog (what) VALUES (TG_WHEN || ' ' || TG_LEVEL || ' ' || (SELECT count(*) FROM cp));
              RAISE NOTICE '% %', TG_WHEN, TG_LEVEL;
              RETURN NULL;
            END $$;
            CREATE TRIGGER cp_bs BEFORE INSERT ON cp EXECUTE FUNCTION cpnote();
            CREATE TRIGGER cp_as AFTER INSERT ON cp EXECUTE FUNCTION cpnote();
            COPY cp FROM STDIN;
            \(rows)
            \\.
            SELECT what FROM cplog ORDER BY k;
            """
        let o = try Self.psql(server, [], stdin: script)
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stdout.contains("COPY 2500\n"), "\(o.stdout)")
        #expect(o.stdout.contains(" BEFORE STATEMENT 0\n AFTER STATEMENT 2500\n(2 rows)"), "\(o.stdout)")
        #expect(o.stderr.contains("NOTICE:  BEFORE STATEMENT\n") && o.stderr.contains("NOTICE:  AFTER STATEMENT\n"), "\(o.stderr)")
    }

    /// Unlocking an advisory lock the session does not hold answers false with PostgreSQL's WARNING.
    @Test func advisoryUnlockOfALockNotHeldWarns() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        let o = try Self.psql(server, ["SELECT pg_advisory_lock(1), pg_advisory_unlock(1) AS first, pg_advisory_unlock(1) AS second"])
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stdout.contains("| t     | f"), "\(o.stdout)")
        #expect(o.stderr.contains("WARNING:  you don't own a lock of type ExclusiveLock"), "\(o.stderr)")
    }

    /// IF [NOT] EXISTS that skips says so with a NOTICE, one per object, as PostgreSQL does.
    @Test func skippedIfExistsStatementsSendNotices() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        let o = try Self.psql(server, [
            "CREATE TABLE t (id INT PRIMARY KEY)", "CREATE TABLE IF NOT EXISTS t (id INT)",
            "DROP TABLE IF EXISTS nope, nope2", "DROP SEQUENCE IF EXISTS nope", "ALTER TABLE t DROP CONSTRAINT IF EXISTS c",
        ])
        #expect(o.status == 0)
        let notices = o.stderr.split(separator: "\n").filter { $0.contains("NOTICE:") }.map { String($0.split(separator: "NOTICE:  ").last ?? "") }
        #expect(notices == ["relation \"t\" already exists, skipping", "table \"nope\" does not exist, skipping", "table \"nope2\" does not exist, skipping",
                            "sequence \"nope\" does not exist, skipping", "constraint \"c\" of relation \"t\" does not exist, skipping"], "\(o.stderr)")
    }

    @Test func copyInAndOutThroughPsql() throws {
        guard let server = try Self.serverForPsql() else { return }
        defer { server.remove() }
        var o = try Self.psql(server, ["CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT, price NUMERIC)"])
        #expect(o.status == 0, "\(o.stderr)")
        o = try Self.psql(server, ["COPY items FROM STDIN WITH (FORMAT csv, HEADER true)"],
                          stdin: "id,name,price\n1,\"Widget, large\",9.5\n2,\"say \"\"hi\"\"\",\n3,,0.25\n")
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stdout.contains("COPY 3"), "\(o.stdout)")
        o = try Self.psql(server, ["COPY items TO STDOUT WITH CSV HEADER"])
        #expect(o.stdout == "id,name,price\n1,\"Widget, large\",9.5\n2,\"say \"\"hi\"\"\",\n3,,0.25\n", "\(o.stdout)")
        o = try Self.psql(server, ["COPY (SELECT id, name FROM items WHERE id > 1 ORDER BY id) TO STDOUT"])
        #expect(o.stdout == "2\tsay \"hi\"\n3\t\\N\n", "\(o.stdout)")
        // Binary COPY: what COPY TO writes, COPY FROM reads back into another table.
        let binary = try Self.psqlBytes(server, "COPY items TO STDOUT (FORMAT binary)")
        #expect(binary.starts(with: Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]))
        o = try Self.psql(server, ["CREATE TABLE items2 (id BIGINT PRIMARY KEY, name TEXT, price NUMERIC)"])
        o = try Self.psql(server, ["COPY items2 FROM STDIN (FORMAT binary)"], stdinBytes: binary)
        #expect(o.stdout.contains("COPY 3"), "\(o.stdout) \(o.stderr)")
        o = try Self.psql(server, ["SELECT id, name, price FROM items2 ORDER BY id"])
        #expect(o.stdout.contains("Widget, large") && o.stdout.contains("9.5") && o.stdout.contains("0.25"), "\(o.stdout)")
    }
}
