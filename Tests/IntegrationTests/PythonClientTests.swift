import Foundation
import PostgresNIO
import Testing

/// Django's and SQLAlchemy's own schema introspection (`Tests/clients/orm_introspection.py`,
/// unmodified ORM code through psycopg 3) against the real server: what they find must be
/// what they find on PostgreSQL for the same schema. scripts/install-python-clients installs
/// them; without them the test is skipped with a notice, unless REDDB_REQUIRE_PYTHON_CLIENTS=1.
@Suite(.serialized) struct PythonClientTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("clients/orm_introspection.py").path

    static func python(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await ClientProgram.run("python3", arguments)
    }

    /// Runs `Tests/clients/<name>` against a fresh server with `PORT reddb tester` (or `PORT`
    /// and `arguments`), expects it to succeed, and returns the last line it printed.
    static func lastLine(of name: String, _ arguments: [String] = ["reddb", "tester"]) async throws -> String? {
        let server = try ServerProcess()
        defer { server.remove() }
        let script = URL(fileURLWithPath: Self.script).deletingLastPathComponent().appendingPathComponent(name).path
        let run = try await python([script, String(server.pgPort)] + arguments)
        #expect(run.status == 0, "\(run.stderr)")
        return run.stdout.split(separator: "\n").last.map(String.init)
    }

    /// Whether the Python `modules` import; when not, a notice (the test is skipped), or a
    /// failure when REDDB_REQUIRE_PYTHON_CLIENTS=1 says they must be there.
    static func available(_ modules: [String], for test: String) async -> Bool {
        if (try? await python(["-c", "import " + modules.joined(separator: ", ")]).status) == 0 { return true }
        return ClientProgram.missing(modules.joined(separator: ", "), requiredBy: "REDDB_REQUIRE_PYTHON_CLIENTS",
                                     installer: "scripts/install-python-clients", skipping: test)
    }

    @Test func djangoAndSQLAlchemyIntrospectTheSchema() async throws {
        guard await Self.available(["psycopg", "django", "sqlalchemy"], for: "djangoAndSQLAlchemyIntrospectTheSchema") else { return }
        let server = try ServerProcess()
        defer { server.remove() }
        try await PostgresClientTests.withConnection(server) { conn in
            for statement in PGSystemCatalogTests.schema {
                try await conn.query(PostgresQuery(unsafeSQL: statement), logger: PGSystemCatalogTests.logger)
            }
        }
        let run = try await Self.python([Self.script, String(server.pgPort), "reddb", "tester"])
        #expect(run.status == 0, "\(run.stderr)")
        guard run.status == 0, let data = run.stdout.split(separator: "\n").last.map({ Data($0.utf8) }),
              let found = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return }
        func json(_ key: String) -> String {
            guard let value = found[key], let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) else { return "missing" }
            return String(decoding: data, as: UTF8.self)
        }
        // Each expected value is what the same script prints against PostgreSQL 15, apart from
        // the index RedDB makes for the foreign key (orders_customer_fkey_index).
        #expect(json("django_tables") == #"[["big_orders","v"],["customers","t"],["orders","t"]]"#)
        #expect(json("django_columns") == #"[["id",false],["customer",false],["total",true],["placed",true]]"#)
        #expect(json("django_relations") == #"{"customer":["id","customers"]}"#)
        #expect(json("django_primary_key") == #""id""#)
        let constraints = json("django_constraints")
        #expect(constraints.contains(#""orders_customer_fkey":{"check":false,"columns":["customer"],"foreign_key":["customers","id"],"index":false,"primary_key":false,"unique":false}"#), "\(constraints)")
        #expect(constraints.contains(#""orders_pkey":{"check":false,"columns":["id"],"foreign_key":null,"index":false,"primary_key":true,"unique":true}"#), "\(constraints)")
        #expect(constraints.contains(#""orders_placed":{"check":false,"columns":["placed","total"],"foreign_key":null,"index":true,"primary_key":false,"unique":false}"#), "\(constraints)")
        #expect(json("sqlalchemy_tables") == #"["customers","orders"]"#)
        #expect(json("sqlalchemy_views") == #"["big_orders"]"#)
        #expect(json("sqlalchemy_columns") == #"[["id","BIGINT",false],["customer","BIGINT",false],["total","NUMERIC",true],["placed","DATE",true]]"#)
        #expect(json("sqlalchemy_primary_key") == #"["id"]"#)
        #expect(json("sqlalchemy_foreign_keys") == #"[["orders_customer_fkey",["customer"],"customers",["id"],"CASCADE"]]"#)
        #expect(json("sqlalchemy_indexes") == #"[["orders_customer_fkey_index",["customer"],false],["orders_placed",["placed","total"],false]]"#)
        #expect(json("sqlalchemy_unique") == #"[["customers_email_key",["email"]]]"#)
        #expect(json("sqlalchemy_checks") == #"["customers_score_check"]"#)
    }

    /// A Django project's migrations and ORM (`Tests/clients/django_migrations.py`): identity
    /// primary keys, deferred foreign keys, a second migration that renames, alters and adds
    /// fields and indexes and a model, annotate() grouping by the primary key, four threads' atomic increments of one row (all commit under
    /// READ COMMITTED), four threads' get_or_create of one row inside atomic blocks (one
    /// creates; the others' INSERTs wait, fail with IntegrityError and get it), select_for_update(skip_locked, of), cascades, and a
    /// flush that restarts the sequences. The expected line is what the script prints against
    /// PostgreSQL 15.
    @Test func djangoMigratesAndQueries() async throws {
        guard await Self.available(["psycopg", "django"], for: "djangoMigratesAndQueries") else { return }
        let line = try await Self.lastLine(of: "django_migrations.py")
        let expected = #"{"after_delete": [2, 2, 2], "after_flush": 1, "bump_errors": [], "bumped": "100000039.99", "carol_id": 3, "first_ids": [1, 2], "locked": ["10.5", "7", "100000039.99"], "paid": 4, "race": [[false, false, false, true], [], 1], "renamed": [["Ada", false], ["Bob", false]], "sequence": "public.shop_customer_id_seq", "spent": [["Ada", "12.75"], ["Bob", "7"], ["Carol", "99999999.99"]], "tag_counts": [["big", 2]], "tags_orphaned": [["gift", null], ["rush", null]]}"#
        #expect(line == expected)
    }

    /// psycopg sends `timedelta` parameters (text and binary) and reads intervals back as
    /// `timedelta` in both formats, copies them in binary with PostgreSQL's column types, and
    /// reads EXTRACT as a Decimal, date_part as a float
    /// (`Tests/clients/intervals.py`); the expected line is what the script prints against
    /// PostgreSQL 15.
    @Test func intervalsRoundTripThroughPsycopg() async throws {
        guard await Self.available(["psycopg"], for: "intervalsRoundTripThroughPsycopg") else { return }
        let line = try await Self.lastLine(of: "intervals.py")
        let expected = #"{"aggregates": ["1 day, 0:30:00.000500", "12:15:00.000250"], "arithmetic": ["2024-02-01T10:00:30", "59 days, 12:00:00"], "copied": "2 days, 0:00:05", "extract_binary": ["Decimal('2024')", "Decimal('3')", "2024.0"], "extract_text": ["Decimal('2024')", "Decimal('3')", "2024.0"], "longer_than_an_hour": [1, 3], "rows_binary": [[1, "1 day, 2:00:00.000500", "timedelta"], [2, "-1 day, 22:30:00", "timedelta"], [3, "32 days, 0:00:00", "timedelta"]], "rows_text": [[1, "1 day, 2:00:00.000500", "timedelta"], [2, "-1 day, 22:30:00", "timedelta"], [3, "32 days, 0:00:00", "timedelta"]]}"#
        #expect(line == expected)
    }

    /// psycopg sends `Decimal` parameters (text and binary) and reads NUMERIC back as `Decimal`
    /// with every digit and PostgreSQL's scale in both result formats (`numeric(20,8)`,
    /// `numeric(36,18)`, averages, quotients), and gets 22003/22012 where PostgreSQL does
    /// (`Tests/clients/numerics.py`); the expected line is what the script prints against
    /// PostgreSQL 15.
    @Test func numericsRoundTripThroughPsycopg() async throws {
        guard await Self.available(["psycopg"], for: "numericsRoundTripThroughPsycopg") else { return }
        let line = try await Self.lastLine(of: "numerics.py")
        let expected = #"{"computed_binary": ["3.62345679", "2.0000000000000000", "123456789012345677.123456789012345677", "1234567890.50", "0.33333333333333333333", "2.5000000000000000", "3.0", "3", "6"], "computed_text": ["3.62345679", "2.0000000000000000", "123456789012345677.123456789012345677", "1234567890.50", "0.33333333333333333333", "2.5000000000000000", "3.0", "3", "6"], "errors": ["22003", "22012"], "found": [2], "rows_binary": [["1", "1.50000000", "123456789012345678.123456789012345678", "-0.000001"], ["2", "0.12345679", "-1.000000000000000001", "1234567890.50"], ["3", "2.00000000", "0E-18", "10"]], "rows_text": [["1", "1.50000000", "123456789012345678.123456789012345678", "-0.000001"], ["2", "0.12345679", "-1.000000000000000001", "1234567890.50"], ["3", "2.00000000", "0E-18", "10"]]}"#
        #expect(line == expected)
    }

    /// psycopg's `datetime` and `time` values keep their microseconds: sent in text and binary
    /// and by binary COPY, read back equal in both result formats, found again by equality
    /// (`Tests/clients/timestamps.py`); the expected line is what the script prints against
    /// PostgreSQL 15.
    @Test func timestampsKeepMicrosecondsThroughPsycopg() async throws {
        guard await Self.available(["psycopg"], for: "timestampsKeepMicrosecondsThroughPsycopg") else { return }
        let line = try await Self.lastLine(of: "timestamps.py")
        let expected = #"{"computed": ["1714979289.654321", "9123456", "7:08:09.123456"], "found": [2, 1, 2, 1], "rows_binary": [[1, "2024-05-06T07:08:09.123456", "2024-05-06T07:08:09.654321+00:00", "01:02:03.000004"], [2, "2024-05-06T07:08:09.123457", "2024-05-06T07:08:09.654320+00:00", "23:59:59.999999"], [3, "1969-12-31T23:59:59.999999", "1900-01-01T00:00:00.000001+00:00", "00:00:00.000001"]], "rows_text": [[1, "2024-05-06T07:08:09.123456", "2024-05-06T07:08:09.654321+00:00", "01:02:03.000004"], [2, "2024-05-06T07:08:09.123457", "2024-05-06T07:08:09.654320+00:00", "23:59:59.999999"], [3, "1969-12-31T23:59:59.999999", "1900-01-01T00:00:00.000001+00:00", "00:00:00.000001"]], "same_binary": true, "same_text": true}"#
        #expect(line == expected)
    }

    /// pgvector-python (`Tests/clients/pgvector_client.py`): `register_vector` finds the type in
    /// pg_type, NumPy embeddings go in as text and binary parameters and come back as arrays in
    /// both result formats, nearest first; the expected line is what the script's SQL gives on
    /// PostgreSQL 15 with pgvector (distances worked out from pgvector's definitions).
    @Test func pgvectorPythonStoresAndSearchesEmbeddings() async throws {
        guard await Self.available(["psycopg", "pgvector", "numpy"], for: "pgvectorPythonStoresAndSearchesEmbeddings") else { return }
        let server = try ServerProcess()
        defer { server.remove() }
        let script = URL(fileURLWithPath: Self.script).deletingLastPathComponent().appendingPathComponent("pgvector_client.py").path
        let run = try await Self.python([script, String(server.pgPort), "reddb", "tester"])
        #expect(run.status == 0, "\(run.stderr)")
        let nearest = #"[["c", [1.0, 1.0, 1.0]], ["a", [1.0, 2.0, 3.0]]]"#
        let expected = #"{"column_type": "vector(3)", "distances": ["3.2137", -2.0], "nearest_binary": "# + nearest + #", "nearest_cosine": ["a", "b"], "nearest_text": "#
            + nearest + #", "wrong_dimensions": ["22000", "expected 3 dimensions, not 2"]}"#
        #expect(run.stdout.split(separator: "\n").last.map(String.init) == expected, "\(run.stdout)")
    }

    /// asyncpg (`Tests/clients/asyncpg_client.py`) types each parameter by Describe and sends it
    /// in binary (a serial as int4, a `text[]` column's as text[], a timestamptz column's as
    /// timestamptz), looks up the types it has no codec for with its own recursive catalog
    /// query over `$1::oid[]`, copies records in, and runs transactions, cursors and a pool; the
    /// expected line is what the script prints against PostgreSQL 15.
    @Test func asyncpgRunsAnApplication() async throws {
        guard await Self.available(["asyncpg"], for: "asyncpgRunsAnApplication") else { return }
        let line = try await Self.lastLine(of: "asyncpg_client.py")
        let expected = #"{"any_int_array": [1, 3], "bigint_array": [1, 2, 3], "copy_in": "COPY 1", "cursor_first_two": [1, 2], "cursor_iterated": [1, 2, 3, 4, 5], "duplicate": "23505", "insert": "INSERT 0 1", "jsonb_codec": {"k": 1}, "names": ["a", "b", "c", "d", "kept"], "numeric_array": ["Decimal:1.5", "Decimal:2.25"], "pool": 5, "prepared_columns": [["name", "text"], ["price", "numeric"]], "prepared_parameters": ["int4", "text[]"], "row": {"at": "datetime:2021-03-04 05:06:07+00:00", "b": "bytes:b'\\x00\\x01'", "born": "date:2020-01-02", "f": "float:1.5", "id": 1, "name": "a", "ok": true, "price": "Decimal:12.50", "span": "timedelta:1 day, 0:00:05", "tags": ["x", "y"], "u": "UUID:00000000-0000-0000-0000-000000000005"}, "tags": ["p", null, "q"], "text_array_parameter": ["a", null], "timestamptz_parameter": 2, "updated": "UPDATE 1"}"#
        #expect(line == expected)
    }

    /// SQL cursors (`Tests/clients/server_cursors.py`): DECLARE, FETCH and MOVE in every
    /// direction, CLOSE, NO SCROLL, WITH HOLD through COMMIT and ROLLBACK, the errors and
    /// SQLSTATEs of a missing, duplicate or out-of-block cursor, psycopg 3's server cursors
    /// (bound parameters, Describe of the cursor as a portal, binary rows, scroll, WITH HOLD)
    /// and psycopg2's named cursors; the expected line is what the script prints against
    /// PostgreSQL 15.
    @Test func sqlCursorsBehaveAsInPostgreSQL() async throws {
        guard await Self.available(["psycopg", "psycopg2"], for: "sqlCursorsBehaveAsInPostgreSQL") else { return }
        let line = try await Self.lastLine(of: "server_cursors.py")
        let expected = #"{"psycopg2_named": [1, 2, 4, 5, 6, 7, 8, 9, 10], "psycopg_binary": [[1, "v1"], [2, "v2"]], "psycopg_description": [["id", 23], ["v", 25]], "psycopg_fetchmany": [[7, "v7"], [8, "v8"]], "psycopg_rest": [[9, "v9"], [10, "v10"]], "psycopg_scrolled": [7, "v7"], "psycopg_with_hold": [1, 2, 3], "statements": [["DECLARE outside CURSOR FOR SELECT id FROM cursor_items", "25P01"], ["BEGIN", "BEGIN", null], ["DECLARE c SCROLL CURSOR FOR SELECT id, v FROM cursor_items ORDER BY id", "DECLARE CURSOR", null], ["FETCH c", "FETCH 1", [[1, "v1"]]], ["FETCH NEXT FROM c", "FETCH 1", [[2, "v2"]]], ["FETCH 3 FROM c", "FETCH 3", [[3, "v3"], [4, "v4"], [5, "v5"]]], ["FETCH PRIOR FROM c", "FETCH 1", [[4, "v4"]]], ["FETCH BACKWARD 2 FROM c", "FETCH 2", [[3, "v3"], [2, "v2"]]], ["FETCH ABSOLUTE 5 FROM c", "FETCH 1", [[5, "v5"]]], ["FETCH RELATIVE 0 FROM c", "FETCH 1", [[5, "v5"]]], ["FETCH RELATIVE -2 IN c", "FETCH 1", [[3, "v3"]]], ["FETCH LAST FROM c", "FETCH 1", [[10, "v10"]]], ["FETCH NEXT FROM c", "FETCH 0", []], ["FETCH PRIOR FROM c", "FETCH 1", [[10, "v10"]]], ["FETCH FIRST FROM c", "FETCH 1", [[1, "v1"]]], ["FETCH ABSOLUTE -3 FROM c", "FETCH 1", [[8, "v8"]]], ["FETCH ABSOLUTE 0 FROM c", "FETCH 0", []], ["FETCH FORWARD ALL FROM c", "FETCH 10", [[1, "v1"], [2, "v2"], [3, "v3"], [4, "v4"], [5, "v5"], [6, "v6"], [7, "v7"], [8, "v8"], [9, "v9"], [10, "v10"]]], ["FETCH BACKWARD ALL FROM c", "FETCH 10", [[10, "v10"], [9, "v9"], [8, "v8"], [7, "v7"], [6, "v6"], [5, "v5"], [4, "v4"], [3, "v3"], [2, "v2"], [1, "v1"]]], ["MOVE FORWARD 4 FROM c", "MOVE 4", null], ["FETCH c", "FETCH 1", [[5, "v5"]]], ["MOVE ABSOLUTE 100 IN c", "MOVE 0", null], ["MOVE BACKWARD 3 FROM c", "MOVE 3", null], ["FETCH -1 FROM c", "FETCH 1", [[7, "v7"]]], ["FETCH FORWARD -1 FROM c", "FETCH 1", [[6, "v6"]]], ["FETCH FORWARD 0 FROM c", "FETCH 1", [[6, "v6"]]], ["FETCH ALL c", "FETCH 4", [[7, "v7"], [8, "v8"], [9, "v9"], [10, "v10"]]], ["MOVE ALL IN c", "MOVE 0", null], ["DECLARE c CURSOR FOR SELECT 1", "42P03"], ["FETCH 2 FROM nosuch", "25P02"], ["FETCH c", "25P02"], ["ROLLBACK", "ROLLBACK", null], ["BEGIN", "BEGIN", null], ["DECLARE n NO SCROLL CURSOR FOR SELECT id FROM cursor_items ORDER BY id", "DECLARE CURSOR", null], ["FETCH 2 FROM n", "FETCH 2", [[1], [2]]], ["FETCH PRIOR FROM n", "55000"], ["ROLLBACK", "ROLLBACK", null], ["BEGIN", "BEGIN", null], ["DECLARE h CURSOR WITH HOLD FOR SELECT id FROM cursor_items ORDER BY id", "DECLARE CURSOR", null], ["ROLLBACK", "ROLLBACK", null], ["FETCH h", "34000"], ["BEGIN", "BEGIN", null], ["DECLARE h CURSOR WITH HOLD FOR SELECT id FROM cursor_items ORDER BY id", "DECLARE CURSOR", null], ["DECLARE w CURSOR WITHOUT HOLD FOR SELECT 1", "DECLARE CURSOR", null], ["FETCH 2 FROM h", "FETCH 2", [[1], [2]]], ["COMMIT", "COMMIT", null], ["FETCH 2 FROM h", "FETCH 2", [[3], [4]]], ["FETCH w", "34000"], ["CLOSE h", "CLOSE CURSOR", null], ["CLOSE h", "34000"], ["DECLARE h2 CURSOR WITH HOLD FOR VALUES (1, 'a'), (2, 'b')", "DECLARE CURSOR", null], ["FETCH ALL FROM h2", "FETCH 2", [[1, "a"], [2, "b"]]], ["CLOSE ALL", "CLOSE CURSOR ALL", null], ["FETCH h2", "34000"], ["BEGIN", "BEGIN", null], ["DECLARE y CURSOR FOR SELECT id FROM cursor_items", "DECLARE CURSOR", null], ["SELECT 1/0", "22012"], ["FETCH y", "25P02"], ["ROLLBACK", "ROLLBACK", null], ["BEGIN", "BEGIN", null], ["DECLARE \"MixedCase\" CURSOR FOR SELECT 1 AS one", "DECLARE CURSOR", null], ["FETCH \"MixedCase\"", "FETCH 1", [[1]]], ["FETCH mixedcase", "34000"], ["ROLLBACK", "ROLLBACK", null]]}"#
        #expect(line == expected)
    }

    /// LISTEN/NOTIFY between two connections (`Tests/clients/listen_notify.py`): delivery
    /// while the listener waits, at COMMIT and never after ROLLBACK, repeats folded, a
    /// listener in a transaction served after it, LISTEN/UNLISTEN in effect at commit, self
    /// notifications, `pg_notify` with bound parameters, and PostgreSQL's errors; the expected
    /// line is what the script prints against PostgreSQL 15.
    @Test func listenAndNotifyBehaveAsInPostgreSQL() async throws {
        guard await Self.available(["psycopg"], for: "listenAndNotifyBehaveAsInPostgreSQL") else { return }
        let line = try await Self.lastLine(of: "listen_notify.py")
        let expected = #"[["autocommit", [["jobs", "one", true, false], ["jobs", "", true, false], ["jobs", "two", true, false], ["Mixed", "m", true, false]]], ["before commit", []], ["after commit", [["jobs", "tx1", true, false], ["jobs", "tx2", true, false]]], ["after rollback", []], ["in tx", []], ["after listener commit", [["jobs", "while busy", true, false]]], ["listen rolled back", []], ["listen committed", [["later", "y", true, false]]], ["unlisten jobs", [["later", "z", true, false]]], ["unlisten all", []], ["self", [["self", "me", false, true]]], ["SELECT pg_notify('self', 'fail'), 1/0", "22012"], ["failed statement", []], ["payload of 8000 bytes", "22023"], ["SELECT pg_notify('', 'x')", "22023"], ["SELECT pg_notify('cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc', 'x')", "22023"], ["NOTIFY self, notquoted", "42601"], ["LISTEN", "42601"], ["SELECT pg_notify(NULL, 'x')", "22023"], ["prepared only", []], ["bound parameter", [["self", "bound", true, false]]]]"#
        #expect(line == expected)
    }

    /// SQLAlchemy 2's asyncio ORM (`Tests/clients/sqlalchemy_orm.py`) through asyncpg and
    /// through psycopg 3: create_all, relationships, JSONB, arrays, numeric, timestamptz, time,
    /// uuid and bytea columns, containment and JSON-path filters, update, cascading delete,
    /// reflection; the expected line is what the script prints against PostgreSQL 15, with
    /// either driver.
    @Test(arguments: ["asyncpg", "psycopg"]) func sqlalchemyAsyncORMRunsAnApplication(driver: String) async throws {
        guard await Self.available(["sqlalchemy", "greenlet", driver], for: "sqlalchemyAsyncORMRunsAnApplication") else { return }
        let line = try await Self.lastLine(of: "sqlalchemy_orm.py", [driver])
        let expected = #"{'books': [('Letters', '5.00', {}, [], '2021-01-01T00:00:00+00:00', 'None', None, True, 'UUID'), ('Notes', '9.99', {'k': [1, 2]}, ['math', 'engine'], '2020-01-01T00:00:00+00:00', '09:30:00', b'\x00\xff', True, 'UUID')], 'grouped': [('Letters', 1), ('Notes', 1)], 'contains': ['Notes'], 'json_path': ['Notes'], 'updated': [('6.50', "['x']")], 'after_delete': 0, 'text_parameter': 42, 'reflected': ['sa_authors', 'sa_books']}"#
        #expect(line == expected)
    }
}
