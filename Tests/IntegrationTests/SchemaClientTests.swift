import Foundation
import PostgresNIO
import Testing

/// Schemas over PostgreSQL's protocol, as a multi-tenant application uses them: one schema per
/// tenant holding the same tables, each connection choosing its tenant with SET search_path,
/// the same statement text meaning each connection's own tables (the server shares plans and
/// descriptions between connections by text), and the catalogs placing every relation in its
/// schema for psql and ORMs.
@Suite(.serialized) struct SchemaClientTests {
    typealias Client = PostgresClientTests

    static func texts(_ conn: PostgresConnection, _ query: PostgresQuery) async throws -> [String] {
        var values: [String] = []
        for try await value in try await conn.query(query, logger: Client.logger).decode(String.self) { values.append(value) }
        return values
    }

    @Test func eachConnectionReadsItsTenantsTablesThroughTheSamePlans() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let admin = try await Client.connect(server)
        let first = try await Client.connect(server)
        let second = try await Client.connect(server)
        do {
            for tenant in ["acme", "globex"] {
                try await Client.run(admin, PostgresQuery(unsafeSQL: "CREATE SCHEMA \(tenant)"))
                try await Client.run(admin, PostgresQuery(unsafeSQL: "CREATE TABLE \(tenant).notes (id serial PRIMARY KEY, body text NOT NULL)"))
                try await Client.run(admin, PostgresQuery(unsafeSQL: "INSERT INTO \(tenant).notes (body) VALUES ('\(tenant) 1'), ('\(tenant) 2')"))
            }
            try await Client.run(admin, "CREATE TABLE notes (id int, body text)")
            try await Client.run(admin, "INSERT INTO notes VALUES (1, 'shared')")

            try await Client.run(first, "SET search_path TO acme, public")
            try await Client.run(second, "SET search_path = globex")
            // The same text, again and again, from both: each time the connection's own tenant.
            for _ in 0..<3 {
                #expect(try await Self.texts(first, "SELECT body FROM notes ORDER BY id") == ["acme 1", "acme 2"])
                #expect(try await Self.texts(second, "SELECT body FROM notes ORDER BY id") == ["globex 1", "globex 2"])
                #expect(try await Self.texts(admin, "SELECT body FROM notes ORDER BY id") == ["shared"])
            }
            #expect(try await Self.texts(first, "SELECT current_schema()") == ["acme"])
            #expect(try await Self.texts(second, "SHOW search_path") == ["globex"])
            // Writes and serial defaults land in the tenant's table and draw from its sequence.
            #expect(try await AdvisoryLockClientTests.integers(second, "INSERT INTO notes (body) VALUES (\("globex 3")) RETURNING id") == [3])
            #expect(try await AdvisoryLockClientTests.integers(admin, "SELECT count(*) FROM globex.notes") == [3])
            #expect(try await AdvisoryLockClientTests.integers(admin, "SELECT count(*) FROM acme.notes") == [2])
            // Changing the path changes what the next statement reads.
            try await Client.run(first, "SET search_path TO globex")
            #expect(try await Self.texts(first, "SELECT body FROM notes ORDER BY id") == ["globex 1", "globex 2", "globex 3"])
            try await Client.run(first, "RESET search_path")
            #expect(try await Self.texts(first, "SELECT body FROM notes ORDER BY id") == ["shared"])
            // New tables go into the path's first schema.
            try await Client.run(second, "CREATE TABLE tags (name text)")
            #expect(try await Self.texts(admin, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'tags'") == ["globex"])
        } catch {
            for conn in [admin, first, second] { try? await conn.close() }
            throw error
        }
        for conn in [admin, first, second] { try await conn.close() }
    }

    /// The default path, `"$user", public`: a schema named after the user comes first once it exists.
    @Test func aSchemaNamedAfterTheUserComesFirst() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Client.withConnection(server) { conn in
            try await Client.run(conn, "CREATE TABLE prefs (v text)")
            try await Client.run(conn, "INSERT INTO prefs VALUES ('public')")
            #expect(try await Self.texts(conn, "SELECT v FROM prefs") == ["public"])
            try await Client.run(conn, "CREATE SCHEMA tester")
            try await Client.run(conn, "CREATE TABLE tester.prefs (v text)")
            try await Client.run(conn, "INSERT INTO tester.prefs VALUES ('mine')")
            #expect(try await Self.texts(conn, "SELECT v FROM prefs") == ["mine"])
            #expect(try await Self.texts(conn, "SELECT current_schema()") == ["tester"])
            try await Client.run(conn, "DROP SCHEMA tester CASCADE")
            #expect(try await Self.texts(conn, "SELECT v FROM prefs") == ["public"])
        }
    }

    @Test func theCatalogsPlaceRelationsInTheirSchemas() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Client.withConnection(server) { conn in
            try await Client.run(conn, "CREATE SCHEMA shop")
            try await Client.run(conn, "CREATE TABLE shop.orders (id serial PRIMARY KEY, total int)")
            try await Client.run(conn, "CREATE INDEX orders_total_idx ON shop.orders (total)")
            try await Client.run(conn, "CREATE VIEW shop.big AS SELECT id FROM shop.orders WHERE total > 100")
            try await Client.run(conn, "CREATE TABLE orders (id int)")
            let listed = try await Self.texts(conn, """
                SELECT n.nspname || '.' || c.relname || ':' || c.relkind || ':' || pg_table_is_visible(c.oid)::text
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname IN ('shop', 'public') ORDER BY 1
                """)
            #expect(listed == ["public.orders:r:true", "shop.big:v:false", "shop.orders:r:false", "shop.orders_id_seq:S:false",
                               "shop.orders_pkey:i:false", "shop.orders_total_idx:i:false"])
            #expect(try await Self.texts(conn, "SELECT indexdef FROM pg_indexes WHERE schemaname = 'shop' AND indexname = 'orders_total_idx'")
                    == ["CREATE INDEX orders_total_idx ON shop.orders USING btree (total)"])
            #expect(try await Self.texts(conn, "SELECT pg_get_serial_sequence('shop.orders', 'id')") == ["shop.orders_id_seq"])
            #expect(try await AdvisoryLockClientTests.integers(conn, "SELECT count(*) FROM pg_class WHERE oid = 'shop.orders'::regclass AND relname = 'orders'") == [1])
            #expect(try await Self.texts(conn, """
                SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'shop' AND c.relname = 'orders'
                """) == ["shop.orders"])
            try await Client.run(conn, "SET search_path TO shop, public")
            #expect(try await Self.texts(conn, "SELECT array_to_string(current_schemas(true), ',')") == ["pg_catalog,shop,public"])
            let visible = try await Self.texts(conn, """
                SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relname = 'orders' AND pg_table_is_visible(c.oid)
                """)
            #expect(visible == ["shop.orders"], "shop's orders hides public's")
            await #expect { try await Client.run(conn, "DROP SCHEMA shop") } throws: { Client.sqlState($0) == "2BP01" }
            try await Client.run(conn, "DROP SCHEMA shop CASCADE")
            #expect(try await AdvisoryLockClientTests.integers(conn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'") == [0])
            #expect(try await AdvisoryLockClientTests.integers(conn, "SELECT count(*) FROM orders") == [0], "public's table is left")
        }
    }
}
