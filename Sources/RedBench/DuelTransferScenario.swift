/// `transfer`: the bank transfer, in transaction blocks over a few hot rows — where concurrent
/// writers of one row meet. `connections` workers each run their share of `items` transfers:
///
/// ```sql
/// BEGIN;
/// UPDATE duel_accounts SET balance = balance - $2 WHERE id = $1;  -- the lower id first,
/// UPDATE duel_accounts SET balance = balance + $2 WHERE id = $1;  -- so no two deadlock
/// COMMIT;
/// ```
///
/// between two of 16 accounts. Under READ COMMITTED (both engines' default) the second writer
/// of a row waits for the first and applies its change to the committed balance; a block that
/// fails anyway (40001, or a 40P01 deadlock) is rolled back and run again by the worker, and the
/// retries are reported. Afterwards the balances must still add up to the opening total, and
/// every transfer must have moved its amount exactly once.
extension DuelScenarios {
    static let transfer = DuelScenario(
        name: "transfer", unit: "transfers",
        summary: "N workers at once moving money between 16 accounts, two UPDATEs in a BEGIN … COMMIT block each",
        prepareRound: { c, _ in
            try await c.run("DROP TABLE IF EXISTS duel_accounts")
            try await c.run("CREATE TABLE duel_accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL, moves BIGINT NOT NULL DEFAULT 0)")
            try await c.run("INSERT INTO duel_accounts (id, balance) SELECT g, \(Transfers.openingBalance) FROM generate_series(1, \(Transfers.accounts)) g")
        },
        run: { c, endpoint, sizes in
            let perConnection = max(1, sizes.items / sizes.connections)
            let (results, elapsed) = try await DuelConnection.concurrently(sizes.connections, endpoint, firstID: 3_000) { connection, index in
                try await Transfers.worker(connection, index: index, count: perConnection)
            }
            let transfers = perConnection * sizes.connections
            let figures = try await c.integers("SELECT CAST(sum(balance) AS BIGINT), CAST(sum(moves) AS BIGINT) FROM duel_accounts")
            guard figures == [Int64(Transfers.accounts) * Transfers.openingBalance, Int64(2 * transfers)] else {
                throw DuelError.checkFailed(c.engine, "transfer: after \(transfers) transfers the balances and moves add up to \(figures)")
            }
            return DuelSample(operations: transfers, seconds: elapsed, latencies: results.flatMap(\.latencies), rows: 2 * transfers,
                              retries: results.reduce(0) { $0 + $1.retries })
        })
}

enum Transfers {
    static let accounts = 16
    static let openingBalance: Int64 = 1_000_000

    /// One connection's transfers, each a block retried (from BEGIN) on 40001 or 40P01.
    static func worker(_ connection: DuelConnection, index: Int, count: Int) async throws -> (latencies: [Int64], retries: Int) {
        var timer = StatementTimer(expected: count)
        var retries = 0
        for k in 0..<count {
            // Two different accounts, spread deterministically over the workers.
            let from = (index &* 7 &+ k &* 13) % accounts
            let to = (from + 1 + (index + k) % (accounts - 1)) % accounts
            let amount = Int64(k % 50 + 1)
            retries += try await timer.time { try await move(connection, amount, from: Int64(from + 1), to: Int64(to + 1)) }
        }
        return (timer.latencies, retries)
    }

    /// One transfer block; returns how many times it was run again.
    private static func move(_ connection: DuelConnection, _ amount: Int64, from: Int64, to: Int64) async throws -> Int {
        var retries = 0
        // The lower id is updated first on both engines, so the blocks never deadlock by order.
        let steps = from < to ? [(from, -amount), (to, amount)] : [(to, amount), (from, -amount)]
        while true {
            do {
                try await connection.run("BEGIN")
                for (id, delta) in steps { try await connection.perform(MoveBalance(id: id, delta: delta)) }
                try await connection.run("COMMIT")
                return retries
            } catch where isConflict(error) && retries < ConcurrentMix.maximumRetries {
                try await connection.run("ROLLBACK")
                retries += 1
            }
        }
    }
}

/// 40001 or 40P01: the block lost to a concurrent one and may run again.
private func isConflict(_ error: any Error) -> Bool {
    let state = DuelConnection.sqlState(error)
    return state == "40001" || state == "40P01"
}

struct MoveBalance: DuelCommand {
    static let sql = "UPDATE duel_accounts SET balance = balance + $2, moves = moves + 1 WHERE id = $1"
    let values: [DuelValue]
    init(id: Int64, delta: Int64) { values = [.int(id), .int(delta)] }
}
