/// `queue_claim`: the job-queue pattern (`FOR UPDATE SKIP LOCKED`) that background-job
/// libraries run on PostgreSQL. `connections` workers at once each claim the lowest queued job
/// with one autocommitted statement, until none is left:
///
/// ```sql
/// UPDATE duel_jobs SET status = 'done', worker = $1
/// WHERE id = (SELECT id FROM duel_jobs WHERE status = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
/// RETURNING id
/// ```
///
/// Afterwards every job must have been claimed exactly once. A 40001 that reaches a worker
/// (both engines re-read a claimed row under READ COMMITTED, and RedDB retries an autocommit
/// statement itself first, so none is expected) is retried by the worker and reported.
extension DuelScenarios {
    static let queueClaim = DuelScenario(
        name: "queue_claim", unit: "claims",
        summary: "N workers at once claiming the lowest queued job with UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id",
        prepareRound: { c, sizes in
            try await c.run("DROP TABLE IF EXISTS duel_jobs")
            try await c.run("CREATE TABLE duel_jobs (id BIGINT PRIMARY KEY, status TEXT NOT NULL, worker BIGINT)")
            try await c.run("INSERT INTO duel_jobs (id, status) SELECT g, 'queued' FROM generate_series(1, \(sizes.items)) g")
        },
        run: { c, endpoint, sizes in
            let (results, elapsed) = try await DuelConnection.concurrently(sizes.connections, endpoint, firstID: 2_000) { connection, index in
                try await QueueWorker.claimAll(connection, worker: Int64(index + 1))
            }
            let claimed = results.reduce(0) { $0 + $1.claims }
            let done = try await c.integers("SELECT count(*), count(DISTINCT worker) FROM duel_jobs WHERE status = 'done'")
            guard claimed == sizes.items, done.first == Int64(sizes.items) else {
                throw DuelError.checkFailed(c.engine, "queue_claim: \(claimed) claims answered, \(done.first ?? 0) jobs done, for \(sizes.items) jobs")
            }
            return DuelSample(operations: claimed, seconds: elapsed, latencies: results.flatMap(\.latencies), rows: claimed,
                              retries: results.reduce(0) { $0 + $1.retries })
        })
}

enum QueueWorker {
    /// Claims jobs until a claim finds none; 40001 retried.
    static func claimAll(_ connection: DuelConnection, worker: Int64) async throws -> (claims: Int, latencies: [Int64], retries: Int) {
        var timer = StatementTimer()
        var claims = 0, retries = 0
        while true {
            let got = try await timer.time { () async throws -> Int in
                while true {
                    do {
                        return try await connection.rows(ClaimJob(worker: worker))
                    } catch where DuelConnection.sqlState(error) == "40001" && retries < ConcurrentMix.maximumRetries {
                        retries += 1
                    }
                }
            }
            guard got > 0 else { return (claims, timer.latencies, retries) }
            claims += got
        }
    }
}

struct ClaimJob: DuelQuery {
    static let sql = """
        UPDATE duel_jobs SET status = 'done', worker = $1 \
        WHERE id = (SELECT id FROM duel_jobs WHERE status = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) \
        RETURNING id
        """
    let values: [DuelValue]
    init(worker: Int64) { values = [.int(worker)] }
}
