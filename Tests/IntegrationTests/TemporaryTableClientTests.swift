import Foundation
import PostgresNIO
import RedClient
import RedCore
import RedDB
import RedEngine
import Testing

/// Temporary tables over PostgreSQL's protocol, as an ETL script or dbt uses them: each
/// connection has its own, extended-protocol statements reach them, DISCARD TEMP drops them,
/// and closing the connection drops them in the server (the file holds none afterwards).
@Suite(.serialized) struct TemporaryTableClientTests {
    typealias Client = PostgresClientTests

    static func integers(_ conn: PostgresConnection, _ query: PostgresQuery) async throws -> [Int] {
        try await AdvisoryLockClientTests.integers(conn, query)
    }

    /// RedWire's bulk insert outside a transaction spreads batches over helper sessions; rows for
    /// a temporary table must stay on the connection's own session, which alone sees it.
    @Test func aRedWireBulkInsertFillsTheConnectionsTemporaryTable() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let db = try await RedClient.connect("red://127.0.0.1:\(server.wirePort)")
        try await db.execute("CREATE TABLE staged (id BIGINT PRIMARY KEY, name TEXT)")
        try await db.execute("CREATE TEMP TABLE staged (id BIGINT PRIMARY KEY, name TEXT)")
        let rows = (1...3_000).map { [Value.integer(Int64($0)), .text("r\($0)")] }
        #expect(try await db.bulkInsert(into: "staged", columns: ["id", "name"], rows: rows) == 3_000)
        #expect(try await db.query("SELECT count(*) FROM staged").rows == [[.integer(3_000)]])
        let other = try await RedClient.connect("red://127.0.0.1:\(server.wirePort)")
        #expect(try await other.query("SELECT count(*) FROM staged").rows == [[.integer(0)]], "the permanent namesake got none")
        try await other.close()
        try await db.close()
    }

    @Test func eachConnectionHasItsOwnAndClosingItDropsThem() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let first = try await Client.connect(server)
        let second = try await Client.connect(server)
        do {
            try await Client.run(first, "CREATE TABLE events (id INT PRIMARY KEY, kind TEXT)")
            try await Client.run(first, "INSERT INTO events SELECT g, CASE WHEN g % 2 = 0 THEN 'even' ELSE 'odd' END FROM generate_series(1, 10) g")
            // dbt's incremental pattern: stage into a temporary table, then merge.
            try await Client.run(first, "CREATE TEMP TABLE staged AS SELECT id + 100 AS id, kind FROM events WHERE kind = 'even'")
            try await Client.run(first, "CREATE TEMPORARY TABLE batch (id SERIAL PRIMARY KEY, note TEXT) ON COMMIT PRESERVE ROWS")
            for note in ["a", "b", "c"] { try await first.query("INSERT INTO batch (note) VALUES (\(note))", logger: Client.logger) }
            #expect(try await Self.integers(first, "SELECT id FROM batch WHERE note <> \("b") ORDER BY id") == [1, 3])
            #expect(try await Self.integers(first, "SELECT lastval()") == [3])
            try await Client.run(first, "DISCARD SEQUENCES")
            await #expect { try await Client.run(first, "SELECT lastval()") } throws: { Client.sqlState($0) == "55000" }
            try await Client.run(first, "INSERT INTO events SELECT id, kind FROM staged")
            #expect(try await Self.integers(second, "SELECT count(*) FROM events") == [15])
            await #expect { try await Client.run(second, "SELECT * FROM staged") } throws: { Client.sqlState($0) == "42P01" }
            try await Client.run(second, "CREATE TEMP TABLE staged (id INT)")
            #expect(try await Self.integers(second, "SELECT count(*) FROM pg_temp.staged") == [0])
            #expect(try await Self.integers(first, "SELECT count(*) FROM pg_temp.staged") == [5])
            // The catalogs list a connection's own temporary tables in its pg_temp schema, as psql's \d shows them.
            var listed: [(String, String, String)] = []
            let catalog = try await first.query("""
                SELECT c.relpersistence::text, n.nspname, t.table_type FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN information_schema.tables t ON t.table_name = c.relname AND t.table_schema = n.nspname
                WHERE c.relname = 'staged' AND pg_table_is_visible(c.oid)
                """, logger: Client.logger)
            for try await row in catalog.decode((String, String, String).self) { listed.append(row) }
            #expect(listed.count == 1 && listed.first?.0 == "t" && listed.first?.1.hasPrefix("pg_temp_") == true && listed.first?.2 == "LOCAL TEMPORARY")
            #expect(try await Self.integers(first, "SELECT count(*) FROM pg_tables WHERE tablename = 'staged'") == [1], "another connection's table is not listed")
            try await Client.run(second, "DISCARD TEMP")
            await #expect { try await Client.run(second, "SELECT * FROM staged") } throws: { Client.sqlState($0) == "42P01" }

            // The session's temporary tables are dropped before its advisory locks go: once the
            // second connection has the lock, the first one's tables are gone from the file.
            try await Client.run(first, "SELECT pg_advisory_lock(7)")
            try await first.close()
            var released = false
            for _ in 0..<2_000 where !released {
                released = try await second.query("SELECT pg_try_advisory_lock(7)", logger: Client.logger).collect().first?.decode(Bool.self) == true
                if !released { try await Task.sleep(for: .milliseconds(5)) }
            }
            #expect(released, "the first connection's session ended")
            try await second.close()
        } catch {
            try? await first.close()
            try? await second.close()
            throw error
        }
        // Killed, not stopped: a clean shutdown would drop every temporary table itself
        // (`Database.close`), so only the connection's own drop can have emptied the file.
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        let db = try await Database.open(path: server.path)
        let tx = try db.engine.begin()
        #expect(try tx.collections(startingWith: TemporaryNamespace.marker).isEmpty, "no temporary table is left in the file")
        tx.rollback()
        #expect(try await db.session().execute("SELECT count(*) FROM events").rows == [[.integer(15)]])
        try await db.close()
    }
}
