import Foundation
import PostgresNIO
import Synchronization
import Testing

/// `SELECT … FOR UPDATE` as applications send it over PostgreSQL's protocol (PostgresNIO uses
/// the extended protocol, with bound parameters): a worker's job stays its own until it
/// commits, SKIP LOCKED hands the next worker another job, NOWAIT fails with 55P03, and a
/// plain UPDATE of a locked row waits for the holder's COMMIT.
@Suite(.serialized) struct RowLockClientTests {
    typealias Client = PostgresClientTests

    final class Flag: Sendable { let value = Atomic<Bool>(false) }

    static func integers(_ conn: PostgresConnection, _ query: PostgresQuery) async throws -> [Int] {
        try await AdvisoryLockClientTests.integers(conn, query)
    }

    @Test func workersLockJobsOverPGWire() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withTwoConnections(server) { first, second in
            try await Client.run(first, "CREATE TABLE jobs (id INT PRIMARY KEY, status TEXT NOT NULL, n INT NOT NULL DEFAULT 0)")
            try await Client.run(first, "INSERT INTO jobs (id, status) VALUES (1, 'queued'), (2, 'queued'), (3, 'queued')")
            let queued = "queued"
            try await Client.run(first, "BEGIN")
            #expect(try await Self.integers(first, "SELECT id FROM jobs WHERE status = \(queued) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED") == [1])
            try await Client.run(second, "BEGIN")
            #expect(try await Self.integers(second, "SELECT id FROM jobs WHERE status = \(queued) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED") == [2])
            await #expect { _ = try await Self.integers(second, "SELECT id FROM jobs WHERE id = \(1) FOR UPDATE NOWAIT") } throws: {
                Client.sqlState($0) == "55P03"
            }
            try await Client.run(second, "ROLLBACK")

            // A plain UPDATE of the locked row waits until the holder commits, then applies to
            // the committed value: no update is lost.
            let updated = Flag()
            let updating = Task {
                try await Client.run(second, "UPDATE jobs SET n = n + 10 WHERE id = \(1)")
                updated.value.store(true, ordering: .sequentiallyConsistent)
            }
            try await Task.sleep(for: .milliseconds(200))
            let finishedEarly = updated.value.load(ordering: .sequentiallyConsistent)
            #expect(!finishedEarly, "the UPDATE waits while the row is locked")
            try await Client.run(first, "UPDATE jobs SET n = n + 1, status = 'running' WHERE id = 1")
            try await Client.run(first, "COMMIT")
            try await updating.value
            #expect(try await Self.integers(first, "SELECT n FROM jobs WHERE id = 1") == [11])
        }
    }

    /// Runs `body` with two connections to `server`, closed afterwards whatever happens.
    static func withTwoConnections(_ server: ServerProcess, _ body: (PostgresConnection, PostgresConnection) async throws -> Void) async throws {
        try await Client.withConnection(server) { first in
            try await Client.withConnection(server) { second in try await body(first, second) }
        }
    }

    static func text(_ conn: PostgresConnection, _ query: PostgresQuery) async throws -> String {
        var out: [String] = []
        for try await row in try await conn.query(query, logger: conn.logger) { out.append(try row.decode(String.self)) }
        return out.joined(separator: ",")
    }

    /// Isolation levels as a PostgreSQL client sets and meets them: READ COMMITTED by default
    /// (two blocks incrementing one row both commit, the second after waiting for the first),
    /// REPEATABLE READ through `default_transaction_isolation` (the waiter gets 40001), and
    /// SET TRANSACTION ISOLATION LEVEL only before the block's first query.
    @Test func isolationLevelsOverPGWire() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Self.withTwoConnections(server) { first, second in
            try await Client.run(first, "CREATE TABLE counters (id INT PRIMARY KEY, n INT NOT NULL)")
            try await Client.run(first, "INSERT INTO counters VALUES (1, 0)")
            #expect(try await Self.text(first, "SHOW transaction_isolation") == "read committed")
            try await Client.run(first, "BEGIN")
            try await Client.run(first, "UPDATE counters SET n = n + 1 WHERE id = \(1)")
            try await Client.run(second, "BEGIN")
            let updating = Task { try await Client.run(second, "UPDATE counters SET n = n + 1 WHERE id = \(1)") }
            try await Task.sleep(for: .milliseconds(200))
            try await Client.run(first, "COMMIT")
            _ = try await updating.value  // waited for the first block, then applied to its result
            try await Client.run(second, "COMMIT")
            #expect(try await Self.integers(first, "SELECT n FROM counters") == [2])

            try await Client.run(second, "SET default_transaction_isolation = 'repeatable read'")
            #expect(try await Self.text(second, "SHOW transaction_isolation") == "repeatable read")
            try await Client.run(second, "BEGIN")
            #expect(try await Self.integers(second, "SELECT n FROM counters") == [2])
            #expect(try await Self.text(second, "SELECT current_setting('transaction_isolation')") == "repeatable read")
            #expect(try await Self.text(second, "SELECT setting FROM pg_settings WHERE name = 'transaction_isolation'") == "repeatable read")
            await #expect { try await Client.run(second, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED") } throws: {
                Client.sqlState($0) == "25001"
            }
            try await Client.run(second, "ROLLBACK")
            try await Client.run(second, "BEGIN")
            #expect(try await Self.integers(second, "SELECT n FROM counters") == [2])
            try await Client.run(first, "UPDATE counters SET n = n + 1 WHERE id = \(1)")
            await #expect { try await Client.run(second, "UPDATE counters SET n = n + 1 WHERE id = \(1)") } throws: {
                Client.sqlState($0) == "40001"
            }
            try await Client.run(second, "ROLLBACK")
            try await Client.run(second, "BEGIN ISOLATION LEVEL READ COMMITTED")
            #expect(try await Self.text(second, "SHOW transaction_isolation") == "read committed")
            #expect(try await Self.text(second, "SELECT current_setting('transaction_isolation')") == "read committed")
            #expect(try await Self.text(second, "SELECT setting FROM pg_settings WHERE name = 'transaction_isolation'") == "read committed",
                    "the block's level")
            try await Client.run(second, "COMMIT")
            #expect(try await Self.integers(first, "SELECT n FROM counters") == [3])
        }
    }
}
