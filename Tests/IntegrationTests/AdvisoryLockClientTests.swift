import Foundation
import PostgresNIO
import Testing

/// Advisory locks as migration tools use them over PostgreSQL's protocol: one connection
/// takes the lock, another waits for it (extended protocol, bound key), `pg_locks` shows both,
/// `statement_timeout` ends a wait, and closing a connection lets its locks go.
@Suite(.serialized) struct AdvisoryLockClientTests {
    typealias Client = PostgresClientTests

    static func integers(_ conn: PostgresConnection, _ query: PostgresQuery) async throws -> [Int] {
        var values: [Int] = []
        for try await value in try await conn.query(query, logger: Client.logger).decode(Int.self) { values.append(value) }
        return values
    }

    static func booleans(_ conn: PostgresConnection, _ query: PostgresQuery) async throws -> [Bool] {
        var values: [Bool] = []
        for try await value in try await conn.query(query, logger: Client.logger).decode(Bool.self) { values.append(value) }
        return values
    }

    @Test func aSecondConnectionWaitsForTheMigrationLock() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let key = 72_707_369  // Prisma Migrate's key
        let first = try await Client.connect(server)
        let second = try await Client.connect(server)
        do {
            try await Client.run(first, "SELECT pg_advisory_lock(\(key))")
            let firstPID = try await Self.integers(first, "SELECT pg_backend_pid()")
            var held: [(Int, String, Bool, Int, Int)] = []
            let rows = try await second.query("SELECT pid, mode, granted, objid, objsubid FROM pg_locks WHERE locktype = 'advisory'", logger: Client.logger)
            for try await row in rows.decode((Int, String, Bool, Int, Int).self) { held.append(row) }
            #expect(held.count == 1)
            #expect(held.first.map { [$0.0, $0.3, $0.4] } == [firstPID[0], key, 1])
            #expect(held.first?.1 == "ExclusiveLock" && held.first?.2 == true)

            let waiting = Task { try await Client.run(second, "SELECT pg_advisory_lock(\(key))") }
            var queued = false
            for _ in 0..<2_000 where !queued {
                queued = try await Self.integers(first, "SELECT count(*) FROM pg_locks WHERE NOT granted") == [1]
                if !queued { try await Task.sleep(for: .milliseconds(5)) }
            }
            #expect(queued, "the second connection waits for the lock")
            #expect(try await Self.booleans(first, "SELECT pg_advisory_unlock(\(key))") == [true])
            try await waiting.value
            #expect(try await Self.booleans(first, "SELECT pg_try_advisory_lock(\(key))") == [false], "the second connection holds it now")

            try await Client.run(first, "SET statement_timeout = 200")
            await #expect { try await Client.run(first, "SELECT pg_advisory_lock(\(key))") } throws: { Client.sqlState($0) == "57014" }
            try await Client.run(first, "SET statement_timeout = 0")
            try await Client.run(first, "SET lock_timeout = '100ms'")
            await #expect { try await Client.run(first, "SELECT pg_advisory_lock(\(key))") } throws: { Client.sqlState($0) == "55P03" }
            try await Client.run(first, "RESET lock_timeout")

            try await second.close()
            var released = false
            for _ in 0..<2_000 where !released {
                released = try await Self.booleans(first, "SELECT pg_try_advisory_lock(\(key))") == [true]
                if !released { try await Task.sleep(for: .milliseconds(5)) }
            }
            #expect(released, "closing a connection lets its locks go")
            try await first.close()
        } catch {
            try? await first.close()
            try? await second.close()
            throw error
        }
    }
}
