import Foundation
import PostgresNIO
import Testing

/// The session's time zone over PG-wire: set at startup (libpq's `PGTZ`, pgJDBC's JVM zone)
/// or with SET TIME ZONE, validated as PostgreSQL validates it, and applied to what the
/// connection reads and shows. Expected text checked against PostgreSQL 15.
@Suite(.serialized) struct SessionTimeZoneTests {
    @Test func startupZoneShowsInstantsOnItsClocks() throws {
        guard let server = try PsqlTests.serverForPsql() else { return }
        defer { server.remove() }
        let o = try PsqlTests.psql(server, [
            "SHOW TimeZone",
            "CREATE TABLE ev (id INT PRIMARY KEY, at TIMESTAMPTZ, stamps TIMESTAMPTZ[])",
            "INSERT INTO ev VALUES (1, '2024-07-01 00:30', NULL), (2, '2024-01-01 12:00+00', NULL)",
            "SELECT id, at FROM ev ORDER BY id",
            "SELECT id FROM ev WHERE at >= '2024-07-01' AND at < '2024-07-02'",
            "COPY (SELECT id, at FROM ev ORDER BY id) TO STDOUT",
            "SET TIME ZONE INTERVAL '+05:30' HOUR TO MINUTE", "SHOW TIME ZONE", "SELECT at AS kolkata FROM ev WHERE id = 1",
            "SET TIME ZONE -7", "SHOW TimeZone", "SELECT at AS seven_west FROM ev WHERE id = 1",
            "RESET TIME ZONE", "SHOW TimeZone", "SELECT at AS utc FROM ev WHERE id = 1",
        ], environment: ["PGTZ": "america/new_york"])
        #expect(o.status == 0, "\(o.stderr)")
        for line in [" America/New_York", " 1 | 2024-07-01 00:30:00-04", " 2 | 2024-01-01 07:00:00-05", "1\t2024-07-01 00:30:00-04",
                     " <+05:30>-05:30", " 2024-07-01 10:00:00+05:30", " <-07>+07", " 2024-06-30 21:30:00-07", " UTC", " 2024-07-01 04:30:00+00"] {
            #expect(o.stdout.contains(line), "\(line)\n\(o.stdout)")
        }
        // The one row of New York's 1 July.
        #expect(o.stdout.contains(" id \n----\n  1\n(1 row)"), "\(o.stdout)")
    }

    @Test func zonesPostgreSQLRefusesAreRefused() throws {
        guard let server = try PsqlTests.serverForPsql() else { return }
        defer { server.remove() }
        let set = try PsqlTests.psql(server, ["SET TIME ZONE 'Mars/Olympus_Mons'"])
        #expect(set.status != 0 && set.stderr.contains("invalid value for parameter \"TimeZone\": \"Mars/Olympus_Mons\""), "\(set.stderr)")
        // An abbreviation names a moment's offset, not a zone.
        let abbreviation = try PsqlTests.psql(server, ["SET TIME ZONE 'CEST'"])
        #expect(abbreviation.status != 0, "\(abbreviation.stdout)")
        // At startup the connection ends, as PostgreSQL ends it: the client's times would be read wrong.
        let startup = try PsqlTests.psql(server, ["SELECT 1"], environment: ["PGTZ": "Nowhere/Special"])
        #expect(startup.status != 0 && startup.stderr.contains("invalid value for parameter \"TimeZone\""), "\(startup.stderr)")
    }

    @Test func parametersAndTransactionsFollowTheZone() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await PostgresClientTests.withConnection(server) { conn in
            _ = try await PostgresClientTests.run(conn, "SET TIME ZONE 'Europe/Paris'")
            // Text cast to timestamptz is read on the session's clocks; a Date is an instant as it is.
            let text = "2024-07-01 12:00"
            #expect(try await PGSessionSettingsTests.value(conn, "SELECT (\(text)::timestamptz)::text AS t") == "2024-07-01 12:00:00+02")
            let noon = Date(timeIntervalSince1970: 1_719_835_200)  // 2024-07-01 12:00 UTC
            #expect(try await PGSessionSettingsTests.value(conn, "SELECT (\(noon)::timestamptz)::text AS t") == "2024-07-01 14:00:00+02")
            // So is text bound for a timestamptz column, or compared with one.
            _ = try await PostgresClientTests.run(conn, "CREATE TABLE ev (id INT PRIMARY KEY, at TIMESTAMPTZ)")
            _ = try await PostgresClientTests.run(conn, "INSERT INTO ev VALUES (1, \(text))")
            #expect(try await PGSessionSettingsTests.value(conn, "SELECT at::text FROM ev WHERE at = \(text)") == "2024-07-01 12:00:00+02")
            #expect(try await PGSessionSettingsTests.value(conn, "SELECT (at AT TIME ZONE 'UTC')::text FROM ev") == "2024-07-01 10:00:00")
            // SET TIME ZONE in a block that rolls back is undone with it.
            _ = try await PostgresClientTests.run(conn, "BEGIN")
            _ = try await PostgresClientTests.run(conn, "SET TIME ZONE 'Asia/Tokyo'")
            #expect(try await PGSessionSettingsTests.value(conn, "SELECT current_setting('TimeZone')") == "Asia/Tokyo")
            _ = try await PostgresClientTests.run(conn, "ROLLBACK")
            #expect(try await PGSessionSettingsTests.value(conn, "SELECT (timestamptz '2024-07-01 12:00+00')::text") == "2024-07-01 14:00:00+02")
            // set_config changes it as SET does, checked the same way.
            #expect(try await PGSessionSettingsTests.value(conn, "SELECT set_config('timezone', 'utc', false)") == "UTC")
            await #expect { try await PostgresClientTests.run(conn, "SELECT set_config('timezone', 'Nowhere', false)") } throws: {
                PostgresClientTests.sqlState($0) == "22023"
            }
        }
    }
}
