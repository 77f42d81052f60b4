import Logging
import PostgresNIO
import Testing

/// A PG-wire connection's settings, one set of values whichever way a client reaches them:
/// SET and SHOW, `current_setting`, `set_config` and the `pg_settings` view; and local
/// changes (SET LOCAL, `set_config(…, true)`) ending with their transaction.
@Suite(.serialized) struct PGSessionSettingsTests {
    static let logger = Logger(label: "pg-settings-test")

    static func value(_ conn: PostgresConnection, _ query: PostgresQuery) async throws -> String? {
        for try await (value,) in try await conn.query(query, logger: logger).decode((String?,).self) { return value }
        return nil
    }

    @Test func setShowCurrentSettingAndPGSettingsAgree() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await PostgresClientTests.withConnection(server) { conn in
            _ = try await PostgresClientTests.run(conn, "SET application_name = 'billing'")
            #expect(try await Self.value(conn, "SELECT current_setting('application_name')") == "billing")
            #expect(try await Self.value(conn, "SELECT setting FROM pg_settings WHERE name = 'application_name'") == "billing")
            #expect(try await Self.value(conn, "SELECT source FROM pg_catalog.pg_settings WHERE name = 'application_name'") == "session")
            #expect(try await Self.value(conn, "SELECT source FROM pg_settings WHERE name = 'work_mem'") == "default")
            #expect(try await Self.value(conn, "SELECT set_config('work_mem', '64MB', false)") == "64MB")
            #expect(try await Self.value(conn, "SHOW work_mem") == "64MB")
            #expect(try await Self.value(conn, "SELECT current_setting('no_such_setting', true)") == nil)
            await #expect { try await PostgresClientTests.run(conn, "SELECT current_setting('no_such_setting')") } throws: {
                PostgresClientTests.sqlState($0) == "42704"
            }
            await #expect { try await PostgresClientTests.run(conn, "SELECT set_config('server_version', '1', false)") } throws: { _ in true }
        }
    }

    @Test func localSettingsEndWithTheirTransaction() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await PostgresClientTests.withConnection(server) { conn in
            _ = try await PostgresClientTests.run(conn, "SET work_mem = '8MB'")
            _ = try await PostgresClientTests.run(conn, "BEGIN")
            _ = try await PostgresClientTests.run(conn, "SET LOCAL work_mem = '1GB'")
            #expect(try await Self.value(conn, #"SELECT set_config('request.jwt.claims', '{"sub": 7}', true)"#) == #"{"sub": 7}"#)
            #expect(try await Self.value(conn, "SHOW work_mem") == "1GB")
            #expect(try await Self.value(conn, "SELECT current_setting('request.jwt.claims')") == #"{"sub": 7}"#)
            _ = try await PostgresClientTests.run(conn, "COMMIT")
            // The next request on this connection sees neither.
            #expect(try await Self.value(conn, "SHOW work_mem") == "8MB")
            #expect(try await Self.value(conn, "SELECT current_setting('request.jwt.claims', true)") == nil)

            // Outside a transaction block a local change ends with its statement.
            #expect(try await Self.value(conn, "SELECT set_config('work_mem', '2GB', true)") == "2GB")
            #expect(try await Self.value(conn, "SHOW work_mem") == "8MB")

            // A session-wide set_config lasts, and its statement_timeout is enforced.
            _ = try await Self.value(conn, "SELECT set_config('statement_timeout', '50ms', false)")
            await #expect { try await PostgresClientTests.run(conn, "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000000) SELECT count(*) FROM r, r AS r2") } throws: {
                PostgresClientTests.sqlState($0) == "57014"
            }
        }
    }

    /// COMMIT ends local settings even when the next statement comes in the same Query message.
    @Test func commitEndsLocalSettingsWithinOneMessage() throws {
        guard PsqlTests.psqlPath != nil else { return }
        let server = try ServerProcess()
        defer { server.remove() }
        let out = try PsqlTests.psql(server, [
            "BEGIN; SELECT set_config('request.jwt.claims', 'alice', true); COMMIT; SELECT coalesce(current_setting('request.jwt.claims', true), 'gone') AS claims",
        ])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("gone"), "\(out.stdout)")
    }

    /// A session-wide SET inside a transaction block lasts only if the block commits; a
    /// rollback (or a failed block, or an implicit transaction that fails) puts back the value
    /// from before the block, as PostgreSQL does. The sequence printed what PostgreSQL 15 printed.
    @Test func sessionSettingsRollBackWithTheirTransaction() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await PostgresClientTests.withConnection(server) { conn in
            func show() async throws -> String? { try await Self.value(conn, "SHOW work_mem") }
            for statement in ["BEGIN", "SET work_mem = '8MB'", "ROLLBACK"] { _ = try await PostgresClientTests.run(conn, PostgresQuery(unsafeSQL: statement)) }
            #expect(try await show() == "4MB")
            for statement in ["BEGIN", "SET work_mem = '16MB'", "COMMIT"] { _ = try await PostgresClientTests.run(conn, PostgresQuery(unsafeSQL: statement)) }
            #expect(try await show() == "16MB")
            for statement in ["BEGIN", "SET work_mem = '3MB'", "SET LOCAL work_mem = '5MB'", "COMMIT"] { _ = try await PostgresClientTests.run(conn, PostgresQuery(unsafeSQL: statement)) }
            #expect(try await show() == "3MB")
            for statement in ["BEGIN", "RESET ALL", "SELECT set_config('work_mem', '1MB', false)", "ROLLBACK"] { _ = try await PostgresClientTests.run(conn, PostgresQuery(unsafeSQL: statement)) }
            #expect(try await show() == "3MB")
            _ = try await PostgresClientTests.run(conn, "BEGIN")
            _ = try await PostgresClientTests.run(conn, "SET application_name = 'inside'")
            await #expect { try await PostgresClientTests.run(conn, "SELECT 1 / 0") } throws: { _ in true }
            _ = try await PostgresClientTests.run(conn, "COMMIT")  // of a failed block: a rollback
            #expect(try await Self.value(conn, "SELECT current_setting('application_name')") == "")
            // A statement outside a block that fails undoes its session-wide set_config too.
            await #expect { try await PostgresClientTests.run(conn, "SELECT set_config('app.tenant', '42', false), 1 / 0") } throws: { _ in true }
            #expect(try await Self.value(conn, "SELECT current_setting('app.tenant', true)") == nil)
            _ = try await PostgresClientTests.run(conn, "SELECT set_config('app.tenant', '7', false)")
            await #expect { try await PostgresClientTests.run(conn, "SELECT set_config('app.tenant', '42', false), 1 / 0") } throws: { _ in true }
            #expect(try await Self.value(conn, "SELECT current_setting('app.tenant')") == "7")
        }
        guard PsqlTests.psqlPath != nil else { return }
        // An implicit transaction (several statements in one Query message, psql's `\;`): kept
        // when it succeeds, undone when it fails.
        let script = """
            \\set ON_ERROR_STOP 0
            SET work_mem = '12MB' \\; SELECT 'one message';
            SHOW work_mem;
            SET work_mem = '20MB' \\; SELECT 1 / 0;
            SHOW work_mem;
            """
        let out = try PsqlTests.psql(server, [], stdin: script)
        #expect(out.stdout.components(separatedBy: "12MB").count == 3, "\(out.stdout)")
        #expect(!out.stdout.contains("20MB"), "\(out.stdout)")
    }
}
