/// Scenarios that weigh sequences: each row's identity drawn from the table's own sequence
/// (`GENERATED ALWAYS AS IDENTITY`), handed back with RETURNING, as ORMs insert.
extension DuelScenarios {
    static let createEvents = [
        "DROP TABLE IF EXISTS duel_events",
        "CREATE TABLE duel_events (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id BIGINT NOT NULL, note TEXT NOT NULL)",
    ]

    static let identityInsert = DuelScenario(
        name: "identity_insert", unit: "inserts",
        summary: "single-row INSERT … RETURNING id, autocommit, the id from the table's identity sequence",
        prepareRound: { c, _ in for sql in createEvents { try await c.run(sql) } },
        run: { c, _, sizes in
            var timer = StatementTimer(expected: sizes.items)
            var returned = 0
            for i in 1...Int64(sizes.items) {
                try await timer.time { returned += try await c.rows(InsertEventReturningID(userID: i % 100)) }
            }
            var sample = timer.sample(operations: sizes.items, rows: 0)
            // Both engines must have numbered the rows 1…n, each once.
            let ids = try await c.integers("SELECT count(DISTINCT id), CAST(max(id) AS BIGINT) FROM duel_events")
            guard returned == sizes.items, ids == [Int64(sizes.items), Int64(sizes.items)] else {
                throw DuelError.checkFailed(c.engine, "identity_insert: \(returned) ids returned, distinct and highest \(ids) for \(sizes.items) rows")
            }
            sample.rows = try await count(c, "duel_events")
            return sample
        })
}

struct InsertEventReturningID: DuelQuery {
    static let sql = "INSERT INTO duel_events (user_id, note) VALUES ($1, $2) RETURNING id"
    let values: [DuelValue]
    init(userID: Int64) { values = [.int(userID), .text("event of user \(userID)")] }
}
