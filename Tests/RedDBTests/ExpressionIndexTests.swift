import Foundation
import Testing
import RedDB

/// Expression and partial indexes under random writes from concurrent sessions: every index
/// holds exactly one entry per row it selects, naming that row (`Database.checkIndexes`),
/// the uniqueness they promise holds, and after a reopen writes keep them up to date.
@Suite struct ExpressionIndexTests {
    static let schema = """
        CREATE TABLE accounts (id INT PRIMARY KEY, email TEXT, closed BOOLEAN, score INT);
        CREATE UNIQUE INDEX accounts_open_email ON accounts (lower(email)) WHERE NOT closed;
        CREATE INDEX accounts_score ON accounts ((score * 2), email) WHERE score > 10;
        """

    func count(_ db: Database, _ sql: String) async throws -> Int64 {
        if case .integer(let n) = try await db.session().execute(sql).rows.first?.first { return n }
        return -1
    }

    @Test func randomWritesKeepEveryEntryExactAndUnique() async throws {
        let db = try await Database.inMemory()
        try await db.session().execute(Self.schema)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    let s = db.session()
                    var rng = SystemRandomNumberGenerator()
                    for _ in 0..<150 {
                        let id = Int.random(in: 0..<40, using: &rng)
                        let email = ["A@x", "a@X", "b@x", "B@x", "c@x"].randomElement(using: &rng)!
                        let statement = [
                            "INSERT INTO accounts VALUES (\(id), '\(email)', \(Bool.random(using: &rng)), \(Int.random(in: 0..<30, using: &rng)))",
                            "UPDATE accounts SET closed = NOT closed WHERE id = \(id)",
                            "UPDATE accounts SET email = '\(email)', score = score + 7 WHERE id = \(id)",
                            "DELETE FROM accounts WHERE id = \(id)",
                            "INSERT INTO accounts VALUES (\(id), '\(email)', false, 11) ON CONFLICT DO NOTHING",
                        ].randomElement(using: &rng)!
                        do {
                            try await s.execute(statement)
                        } catch let error as RedError where ["23505", "40001"].contains(error.sqlState) {
                            continue  // a duplicate refused, or a concurrent writer won
                        }
                    }
                    _ = worker
                }
            }
            try await group.waitForAll()
        }
        let checks = try db.checkIndexes().filter { $0.table == "accounts" }
        #expect(checks.count == 1 && checks[0].consistent, "\(checks)")
        let entries = Dictionary(uniqueKeysWithValues: checks[0].indexes.map { ($0.index, $0.entries) })
        #expect(entries["accounts_open_email", default: 0] > 0 && entries["accounts_score", default: 0] > 0, "\(entries)")
        #expect(entries["accounts_open_email"] == Int(try await count(db, "SELECT count(*) FROM accounts WHERE NOT closed")))
        #expect(entries["accounts_score"] == Int(try await count(db, "SELECT count(*) FROM accounts WHERE score > 10")))
        let duplicates = try await count(db, "SELECT count(*) FROM (SELECT lower(email) FROM accounts WHERE NOT closed GROUP BY 1 HAVING count(*) > 1) d")
        #expect(duplicates == 0)
    }

    /// Queries read through an expression or partial index when their WHERE names its
    /// expression (and repeats its predicate), and find exactly the rows a scan finds.
    @Test func queriesReadThroughThemAndFindWhatAScanFinds() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("""
            CREATE TABLE t (id INT PRIMARY KEY, email TEXT, gone BOOLEAN, a INT, b INT);
            INSERT INTO t SELECT g, 'User' || (g % 50) || '@X', g % 4 = 0, g % 10, g % 7 FROM generate_series(1, 500) g;
            CREATE INDEX t_lower ON t (lower(email));
            CREATE INDEX t_sum ON t ((a + b));
            CREATE INDEX t_live ON t (email) WHERE NOT gone;
            """)
        let queries: [(sql: String, index: String?)] = [
            ("SELECT id FROM t WHERE lower(email) = 'user7@x' ORDER BY id", "t_lower"),
            ("SELECT id FROM t WHERE lower(email) IN ('user7@x', 'user8@x') ORDER BY id", "t_lower"),
            ("SELECT id FROM t WHERE a + b = 15 ORDER BY id", "t_sum"),
            ("SELECT id FROM t WHERE a + b = 15.0 ORDER BY id", "t_sum"),
            ("SELECT id FROM t WHERE a + b BETWEEN 3 AND 5 ORDER BY id", "t_sum"),
            ("SELECT id FROM t WHERE a + b > 14 ORDER BY id", "t_sum"),
            ("SELECT id FROM t WHERE email = 'User9@X' AND NOT gone ORDER BY id", "t_live"),
            ("SELECT id FROM t WHERE email = 'User9@X' ORDER BY id", nil),  // the partial index lacks the gone rows
            ("SELECT id FROM t WHERE b + a = 15 ORDER BY id", nil),
        ]
        var withIndexes: [[[Value]]] = []
        for query in queries {
            let plan = try await s.execute("EXPLAIN " + query.sql).rows.map { $0.map(\.displayText).joined() }.joined(separator: "\n")
            if let index = query.index {
                #expect(plan.contains("using \(index) "), "\(query.sql): \(plan)")
            } else {
                #expect(plan.contains("Seq Scan"), "\(query.sql): \(plan)")
            }
            withIndexes.append(try await s.execute(query.sql).rows)
        }
        try await s.execute("DROP INDEX t_lower; DROP INDEX t_sum; DROP INDEX t_live")
        for (query, expected) in zip(queries, withIndexes) {
            #expect(try await s.execute(query.sql).rows == expected, "\(query.sql)")
            #expect(!expected.isEmpty || query.sql.contains("b + a"), "\(query.sql) found nothing")
        }
    }

    @Test func aReopenedDatabaseKeepsComputingEntries() async throws {
        try await withTemporaryDatabasePath("exprindex") { path in
            do {
                let db = try await Database.open(path: path)
                try await db.session().execute(Self.schema + "INSERT INTO accounts VALUES (1, 'Ada@x', false, 20)")
                try await db.close()
            }
            let db = try await Database.open(path: path)
            let s = db.session()
            await #expect(throws: RedError.self) { try await s.execute("INSERT INTO accounts VALUES (2, 'ADA@X', false, 1)") }
            try await s.execute("UPDATE accounts SET closed = true WHERE id = 1")
            try await s.execute("INSERT INTO accounts VALUES (2, 'ADA@X', false, 1)")
            #expect(try db.checkIndexes().allSatisfy(\.consistent))
            try await db.close()
        }
    }
}
