/// `commits_1` and `commits_8`: durable single-row commits from one connection, then from
/// eight at once — group commit, measured on both servers through the same client.
///
/// Issue 2 asks that 8 concurrent writers reach 6× the commit rate of one. How far that is
/// possible depends on the machine as much as on the engine (what an fsync costs, what waking
/// an idle core costs), so `red bench storage` alone cannot say whether a shortfall is ours.
/// PostgreSQL on the same disk, driven by the same PostgresNIO client, is the peer: the report
/// prints each server's 8-to-1 ratio next to the other's (`DuelReport.groupCommitLine`).
///
/// Each connection runs `items / connections` autocommit INSERTs of a new key with a
/// 100-character payload, so no two commits conflict and every commit is a WAL flush on both
/// servers (fsync before the reply). Afterwards the table must hold every row.
enum GroupCommit {
    static let one = scenario(connections: 1)
    static let eight = scenario(connections: 8)

    static func scenario(connections: Int) -> DuelScenario {
        DuelScenario(
            name: "commits_\(connections)", unit: "commits",
            summary: "\(connections == 1 ? "one connection" : "\(connections) connections at once"), each committing single-row INSERTs (autocommit, a 100-character payload, a new key each)",
            prepareRound: { c, _ in
                try await c.run("DROP TABLE IF EXISTS duel_commits")
                try await c.run("CREATE TABLE duel_commits (id BIGINT PRIMARY KEY, payload TEXT)")
            },
            run: { c, endpoint, sizes in try await run(c, endpoint, sizes, connections: connections) })
    }

    static func run(_ c: DuelConnection, _ endpoint: DuelEndpoint, _ sizes: DuelSizes, connections count: Int) async throws -> DuelSample {
        let perConnection = max(1, sizes.items / count)
        let (latencies, elapsed) = try await DuelConnection.concurrently(count, endpoint, firstID: 2_000) { connection, index in
            var own = StatementTimer(expected: perConnection)
            let first = Int64(index * perConnection)
            for id in first..<first + Int64(perConnection) {
                try await own.time { try await connection.perform(InsertCommit(id: id)) }
            }
            return own.latencies
        }
        let committed = try await DuelScenarios.count(c, "duel_commits")
        guard committed == perConnection * count else {
            throw DuelError.checkFailed(c.engine, "commits_\(count): \(perConnection * count) commits acknowledged but the table holds \(committed) rows")
        }
        return DuelSample(operations: committed, seconds: elapsed, latencies: latencies.flatMap { $0 }, rows: committed)
    }
}

struct InsertCommit: DuelCommand {
    static let sql = "INSERT INTO duel_commits (id, payload) VALUES ($1, $2)"
    static let payload = String(repeating: "x", count: 100)
    let values: [DuelValue]
    init(id: Int64) { values = [.int(id), .text(Self.payload)] }
}

extension DuelReport {
    /// "group commit, 8 connections against 1: RedDB 4.1×, PostgreSQL 3.4×", when both ran.
    var groupCommitLine: String? {
        guard let one = scenarios.first(where: { $0.name == GroupCommit.one.name && $0.error == nil }),
              let eight = scenarios.first(where: { $0.name == GroupCommit.eight.name && $0.error == nil }),
              one.oursOpsPerSec > 0, one.postgresOpsPerSec > 0 else { return nil }
        return String(format: "group commit, 8 connections against 1: RedDB %.2f×, PostgreSQL %.2f× (commits/s %@ → %@ and %@ → %@)",
                      eight.oursOpsPerSec / one.oursOpsPerSec, eight.postgresOpsPerSec / one.postgresOpsPerSec,
                      Self.rate(one.oursOpsPerSec), Self.rate(eight.oursOpsPerSec),
                      Self.rate(one.postgresOpsPerSec), Self.rate(eight.postgresOpsPerSec))
    }
}
