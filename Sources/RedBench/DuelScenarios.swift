/// RedDB's duel suite: the scenarios `red bench duel` runs, in order.
///
/// Every per-row statement is autocommitted, so each one is a durable commit on both
/// engines (fsync before the reply in the default mode). Ids and parameters are
/// deterministic, so both engines do the same work and return the same row counts.
enum DuelScenarios {
    static let all: [DuelScenario] = [
        typedInsert, bulkInsert, bulkInsertCopy, pointSelect, rangeScan, concurrent, GroupCommit.one, GroupCommit.eight,
        bulkUpdate, aggregateGroup, aggregateNumeric, semiJoin, existsCorrelated, windowRunning, join, deleteSequential, foreignKeyInsert, foreignKeyDeleteCascade, identityInsert, queueClaim, transfer,
        triggerBeforeRow, triggerAfterRow, plpgsqlCall,
    ]

    static func named(_ names: [String]) throws -> [DuelScenario] {
        guard !names.isEmpty else { return all }
        return try names.map { name in
            guard let scenario = all.first(where: { $0.name == name }) else {
                throw DuelError.checkFailed(.reddb, "unknown scenario '\(name)'; scenarios: \(all.map(\.name).joined(separator: ", "))")
            }
            return scenario
        }
    }

    // MARK: - Shared preparation

    static func createUsers(_ c: DuelConnection) async throws {
        for sql in DuelSchema.createUsers { try await c.run(sql) }
    }

    /// A users table loaded server-side with ids 1...count, then analyzed.
    static func loadUsers(_ c: DuelConnection, count: Int) async throws {
        try await createUsers(c)
        for sql in DuelSchema.chunked(count, DuelSchema.loadUsers) { try await c.run(sql) }
        try await c.run("ANALYZE duel_users")
    }

    static func count(_ c: DuelConnection, _ table: String) async throws -> Int {
        Int(try await c.integers("SELECT count(*) FROM \(table)").first ?? -1)
    }

    /// The timed round's sample, its row figure the users table's size afterwards (the
    /// time is taken before counting).
    static func usersCounted(_ timer: StatementTimer, operations: Int, _ c: DuelConnection) async throws -> DuelSample {
        var sample = timer.sample(operations: operations, rows: 0)
        sample.rows = try await count(c, "duel_users")
        return sample
    }

    static func scoreTotal(_ c: DuelConnection) async throws -> Int64 {
        try await c.integers("SELECT CAST(coalesce(sum(score), 0) AS BIGINT) FROM duel_users").first ?? -1
    }

    /// A pseudo-random walk over 1...n that visits ids in a cache-unfriendly order.
    static func scatteredID(_ i: Int, in n: Int) -> Int64 {
        Int64((i &* 7_919) % n + 1)
    }

    // MARK: - Scenarios

    static let typedInsert = DuelScenario(
        name: "typed_insert", unit: "inserts",
        summary: "single-row INSERTs, autocommit, into a table with a BIGINT primary key, a UNIQUE email and indexes on age and city",
        prepareRound: { c, _ in try await createUsers(c) },
        run: { c, _, sizes in
            var timer = StatementTimer(expected: sizes.items)
            for id in 1...Int64(sizes.items) {
                try await timer.time { try await c.perform(InsertUser(id: id)) }
            }
            return try await usersCounted(timer, operations: sizes.items, c)
        })

    static let bulkInsert = DuelScenario(
        name: "bulk_insert", unit: "rows",
        summary: "multi-row INSERT, \(InsertUserBatch.rowsPerStatement) rows per statement (600 parameters), autocommit",
        prepareRound: { c, _ in try await createUsers(c) },
        run: { c, _, sizes in
            var timer = StatementTimer(expected: sizes.items / InsertUserBatch.rowsPerStatement + 1)
            let batch = InsertUserBatch.rowsPerStatement
            var next: Int64 = 1
            while next + Int64(batch) - 1 <= Int64(sizes.items) {
                let first = next
                try await timer.time { try await c.perform(InsertUserBatch(firstID: first)) }
                next += Int64(batch)
            }
            while next <= Int64(sizes.items) {
                let id = next
                try await timer.time { try await c.perform(InsertUser(id: id)) }
                next += 1
            }
            return try await usersCounted(timer, operations: sizes.items, c)
        })

    static let bulkInsertCopy = DuelScenario(
        name: "bulk_insert_copy", unit: "rows",
        summary: "COPY … FROM STDIN (text format) of every row in one statement",
        prepareRound: { c, _ in try await createUsers(c) },
        run: { c, _, sizes in
            var timer = StatementTimer(expected: 1)
            try await timer.time {
                try await c.copy(table: "duel_users", columns: DuelSchema.userColumns, rows: sizes.items) {
                    DuelSchema.userLine(Int64($0 + 1))
                }
            }
            return try await usersCounted(timer, operations: sizes.items, c)
        })

    static let pointSelect = DuelScenario(
        name: "point_select", unit: "queries",
        summary: "SELECT of one row by primary key, scattered ids",
        prepareOnce: { c, sizes in try await loadUsers(c, count: sizes.items) },
        run: { c, _, sizes in
            var timer = StatementTimer(expected: sizes.items)
            var rows = 0
            for i in 0..<sizes.items {
                rows += try await timer.time { try await c.rows(SelectUserByID(id: scatteredID(i, in: sizes.items))) }
            }
            return timer.sample(operations: sizes.items, rows: rows)
        })

    static let rangeScan = DuelScenario(
        name: "range_scan", unit: "queries",
        summary: "SELECT … WHERE age BETWEEN a AND a+1 on the age index (2% of the table per query)",
        prepareOnce: { c, sizes in try await loadUsers(c, count: sizes.items) },
        run: { c, _, sizes in
            let queries = max(20, sizes.items / 20)
            var timer = StatementTimer(expected: queries)
            var rows = 0
            for i in 0..<queries {
                let age = Int64((i &* 37) % (DuelSchema.ages - 1))
                rows += try await timer.time { try await c.rows(SelectUsersByAge(from: age, to: age + 1)) }
            }
            return timer.sample(operations: queries, rows: rows)
        })

    static let concurrent = DuelScenario(
        name: "concurrent", unit: "statements",
        summary: "N connections at once, each alternating single-row INSERTs and UPDATEs by primary key (40001 retried)",
        prepareRound: { c, sizes in try await loadUsers(c, count: sizes.items) },
        run: { c, endpoint, sizes in try await ConcurrentMix.run(c, endpoint, sizes) })

    static let bulkUpdate = DuelScenario(
        name: "bulk_update", unit: "rows",
        summary: "UPDATE … SET score = score + 1 WHERE city = $1, one statement per city (10% of the table each)",
        prepareOnce: { c, sizes in try await loadUsers(c, count: sizes.items) },
        run: { c, _, sizes in
            let before = try await scoreTotal(c)
            var timer = StatementTimer(expected: DuelSchema.cities)
            for city in 0..<DuelSchema.cities {
                try await timer.time { try await c.perform(UpdateScoreByCity(city: city)) }
            }
            let elapsed = timer.elapsedSeconds
            // Every row gains 1, so the scores' total grows by the number of rows updated.
            let updated = Int(try await scoreTotal(c) - before)
            var sample = timer.sample(operations: sizes.items, rows: updated)
            sample.seconds = elapsed
            return sample
        })

    static let aggregateGroup = groupBy(
        "aggregate_group", "SELECT grp, count(*), sum(val), avg(val) … GROUP BY grp (100 groups) over the whole events table",
        table: "duel_events", create: DuelSchema.createEvents, load: DuelSchema.loadEvents, query: GroupEvents())

    static let aggregateNumeric = groupBy(
        "aggregate_numeric", "SELECT grp, sum(price), avg(price), max(price) … GROUP BY grp (100 groups) over a NUMERIC(12,2) column of the whole table",
        table: "duel_prices", create: DuelSchema.createPrices, load: DuelSchema.loadPrices, query: GroupPrices())

    static let semiJoin = overEvents(
        "semi_join", "SELECT count(*) … WHERE val IN (SELECT … WHERE id % 1000 = 0)", query: SemiJoinEvents())

    static let existsCorrelated = overEvents(
        "exists_correlated", "SELECT count(*) … WHERE EXISTS (SELECT 1 … f WHERE f.val = e.grp AND f.id % 10 = 0)", query: ExistsEvents())

    static let windowRunning = overEvents(
        "window_running", "max of sum(val) OVER (PARTITION BY grp ORDER BY id), a running total per group", query: RunningTotalEvents())

    /// A query over the whole events table, timed as `groupBy` times its GROUP BY.
    static func overEvents<Query: DuelQuery & Sendable>(_ name: String, _ summary: String, query: Query) -> DuelScenario {
        groupBy(name, summary + " over the whole events table", table: "duel_events", create: DuelSchema.createEvents,
                load: DuelSchema.loadEvents, query: query)
    }

    /// A GROUP BY over a whole table of `--group-rows` rows, timed five times (also the other
    /// whole-table queries: semi-join, correlated EXISTS, running totals).
    static func groupBy<Query: DuelQuery & Sendable>(_ name: String, _ summary: String, table: String, create: [String],
                                                     load: @escaping @Sendable (Int, Int) -> String, query: Query) -> DuelScenario {
        DuelScenario(
            name: name, unit: "queries", summary: summary,
            prepareOnce: { c, sizes in
                for sql in create { try await c.run(sql) }
                for sql in DuelSchema.chunked(sizes.groupRows, load) { try await c.run(sql) }
                try await c.run("ANALYZE \(table)")
            },
            run: { c, _, _ in
                let queries = 5
                var timer = StatementTimer(expected: queries)
                var rows = 0
                for _ in 0..<queries { rows += try await timer.time { try await c.rows(query) } }
                return timer.sample(operations: queries, rows: rows)
            })
    }

    static let join = DuelScenario(
        name: "join", unit: "queries",
        summary: "users ⋈ orders on user_id for 10 users by id range, orders filtered by amount (3 orders per user)",
        prepareOnce: { c, sizes in
            try await loadUsers(c, count: sizes.items)
            for sql in DuelSchema.createOrders { try await c.run(sql) }
            let orders = sizes.items * 3
            for sql in DuelSchema.chunked(orders, { DuelSchema.loadOrders($0, $1, users: sizes.items) }) { try await c.run(sql) }
            try await c.run("ANALYZE duel_orders")
        },
        run: { c, _, sizes in
            let queries = max(20, sizes.items / 20)
            var timer = StatementTimer(expected: queries)
            var rows = 0
            for i in 0..<queries {
                let first = scatteredID(i, in: max(1, sizes.items - 10))
                rows += try await timer.time {
                    try await c.rows(JoinUsersOrders(fromUser: first, toUser: first + 9, minimumAmount: 200))
                }
            }
            return timer.sample(operations: queries, rows: rows)
        })

    static let deleteSequential = DuelScenario(
        name: "delete_sequential", unit: "deletes",
        summary: "DELETE of one row by primary key, autocommit, ids in ascending order until the table is empty",
        prepareRound: { c, sizes in try await loadUsers(c, count: sizes.items) },
        run: { c, _, sizes in
            var timer = StatementTimer(expected: sizes.items)
            for id in 1...Int64(sizes.items) {
                try await timer.time { try await c.perform(DeleteUserByID(id: id)) }
            }
            var sample = timer.sample(operations: sizes.items, rows: 0)
            sample.rows = sizes.items - (try await count(c, "duel_users"))
            return sample
        })
}

/// `concurrent`: `connections` clients at once, each alternating an INSERT of a new row and
/// an UPDATE of an existing one. Snapshot isolation makes a conflicting UPDATE fail with
/// 40001 where PostgreSQL would wait; the client retries it, as applications do, and the
/// retries are reported. Afterwards the table must hold every insert and every increment.
enum ConcurrentMix {
    static let maximumRetries = 1_000

    static func run(_ c: DuelConnection, _ endpoint: DuelEndpoint, _ sizes: DuelSizes) async throws -> DuelSample {
        let perConnection = max(2, sizes.items / sizes.connections)
        let (results, elapsed) = try await DuelConnection.concurrently(sizes.connections, endpoint, firstID: 1_000) { connection, index in
            try await worker(connection, index: index, perConnection: perConnection, sizes: sizes)
        }
        let statements = perConnection * sizes.connections
        var sample = DuelSample(operations: statements, seconds: elapsed,
                                latencies: results.flatMap(\.latencies), rows: 0,
                                retries: results.reduce(0) { $0 + $1.retries })
        let updates = results.reduce(0) { $0 + $1.updates }
        let figures = try await c.integers("SELECT count(*), CAST(coalesce(sum(score), 0) AS BIGINT) FROM duel_users")
        guard figures.count == 2, figures[1] == Int64(updates) else {
            throw DuelError.checkFailed(c.engine, "concurrent: \(updates) increments committed but the scores add up to \(figures)")
        }
        sample.rows = Int(figures[0])
        return sample
    }

    /// One connection's share: even steps insert a new row, odd steps update an existing one.
    private static func worker(_ connection: DuelConnection, index: Int, perConnection: Int, sizes: DuelSizes)
        async throws -> (latencies: [Int64], updates: Int, retries: Int) {
        var timer = StatementTimer(expected: perConnection)
        var updates = 0
        var retries = 0
        for k in 0..<perConnection {
            if k % 2 == 0 {
                let id = Int64(sizes.items + 1 + index * perConnection + k)
                try await timer.time { try await connection.perform(InsertUser(id: id)) }
            } else {
                let id = Int64((index &* 7_919 &+ k &* 104_729) % sizes.items + 1)
                retries += try await timer.time { try await updateRetrying(connection, id: id) }
                updates += 1
            }
        }
        return (timer.latencies, updates, retries)
    }

    /// One UPDATE, retried on 40001; returns how many retries it took.
    private static func updateRetrying(_ connection: DuelConnection, id: Int64) async throws -> Int {
        var retries = 0
        while true {
            do {
                try await connection.perform(UpdateScoreByID(id: id))
                return retries
            } catch where DuelConnection.sqlState(error) == "40001" && retries < maximumRetries {
                retries += 1
            }
        }
    }
}

extension DuelConnection {
    /// Opens `count` connections (ids from `firstID`), runs `worker` on each at once, and
    /// closes them all, also on failure; returns the workers' results and the seconds from
    /// the moment all were open until the last finished.
    static func concurrently<Result: Sendable>(_ count: Int, _ endpoint: DuelEndpoint, firstID: Int,
                                               _ worker: @escaping @Sendable (DuelConnection, Int) async throws -> Result)
        async throws -> ([Result], Double) {
        var connections: [DuelConnection] = []
        func closeAll() async { for connection in connections { await connection.close() } }
        var timer = StatementTimer()
        let results: [Result]
        do {
            for index in 0..<count { connections.append(try await DuelConnection.open(endpoint, id: firstID + index)) }
            timer.begin()
            results = try await withThrowingTaskGroup(of: Result.self) { group in
                for (index, connection) in connections.enumerated() {
                    group.addTask { try await worker(connection, index) }
                }
                var all: [Result] = []
                for try await result in group { all.append(result) }
                return all
            }
        } catch {
            await closeAll()
            throw error
        }
        let elapsed = timer.elapsedSeconds
        await closeAll()
        return (results, elapsed)
    }
}
