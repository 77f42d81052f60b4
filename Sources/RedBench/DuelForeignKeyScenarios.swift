/// Scenarios that weigh FOREIGN KEY enforcement: each referencing row's lookup of its
/// referenced row, and a referenced row's delete finding and deleting its referencing rows.
/// PostgreSQL does both with triggers at the end of each statement, as RedDB does.
extension DuelScenarios {
    /// Users, and an orders table whose user_id references them (indexed, as applications
    /// index the referencing column so that deletes of users need no scan).
    static func createReferencingOrders(_ c: DuelConnection, users: Int, onDelete: String) async throws {
        try await c.run("DROP TABLE IF EXISTS duel_orders")
        try await loadUsers(c, count: users)
        try await c.run("""
            CREATE TABLE duel_orders (id BIGINT PRIMARY KEY, \
            user_id BIGINT NOT NULL REFERENCES duel_users (id) ON DELETE \(onDelete), amount BIGINT NOT NULL)
            """)
        try await c.run("CREATE INDEX duel_orders_user ON duel_orders (user_id)")
    }

    static let foreignKeyInsert = DuelScenario(
        name: "fk_insert", unit: "rows",
        summary: "multi-row INSERT of orders whose user_id REFERENCES users, \(InsertOrderBatch.rowsPerStatement) rows per statement, autocommit",
        prepareRound: { c, sizes in try await createReferencingOrders(c, users: max(100, sizes.items / 10), onDelete: "NO ACTION") },
        run: { c, _, sizes in
            let users = max(100, sizes.items / 10)
            let batch = InsertOrderBatch.rowsPerStatement
            var timer = StatementTimer(expected: sizes.items / batch + 1)
            var next: Int64 = 1
            while next + Int64(batch) - 1 <= Int64(sizes.items) {
                let first = next
                try await timer.time { try await c.perform(InsertOrderBatch(firstID: first, users: users)) }
                next += Int64(batch)
            }
            let inserted = Int(next - 1)
            var sample = timer.sample(operations: inserted, rows: 0)
            sample.rows = try await count(c, "duel_orders")
            return sample
        })

    static let foreignKeyDeleteCascade = DuelScenario(
        name: "fk_delete_cascade", unit: "deletes",
        summary: "DELETE of one user by primary key, autocommit, ON DELETE CASCADE removing its 3 orders (half the users)",
        prepareRound: { c, sizes in
            try await createReferencingOrders(c, users: sizes.items, onDelete: "CASCADE")
            for sql in DuelSchema.chunked(sizes.items * 3, { DuelSchema.loadOrders($0, $1, users: sizes.items) }) { try await c.run(sql) }
            try await c.run("ANALYZE duel_orders")
        },
        run: { c, _, sizes in
            // Half the users, so that the orders left (checked equal on both engines) are not none.
            let deletes = max(1, sizes.items / 2)
            var timer = StatementTimer(expected: deletes)
            for id in 1...Int64(deletes) {
                try await timer.time { try await c.perform(DeleteUserByID(id: id)) }
            }
            var sample = timer.sample(operations: deletes, rows: 0)
            sample.rows = try await count(c, "duel_orders")
            return sample
        })
}

/// `rowsPerStatement` orders from `firstID` on, order j for user (j mod users) + 1.
struct InsertOrderBatch: DuelCommand {
    static let rowsPerStatement = 100
    static let sql = "INSERT INTO duel_orders (id, user_id, amount) VALUES "
        + (0..<rowsPerStatement).map { row in "($\(row * 3 + 1), $\(row * 3 + 2), $\(row * 3 + 3))" }.joined(separator: ", ")
    let values: [DuelValue]

    init(firstID: Int64, users: Int) {
        values = (firstID..<firstID + Int64(Self.rowsPerStatement)).flatMap { j -> [DuelValue] in
            [.int(j), .int(j % Int64(users) + 1), .int(j % 1000)]
        }
    }
}
