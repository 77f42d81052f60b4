import Testing
import RedCore
import RedDB
import RedEngine
import Synchronization

/// Indexes must always agree with the rows: after random inserts, updates, deletes,
/// rolled-back transactions, expiries and a reopen, every lookup through an index
/// returns what a full scan finds.
@Suite struct IndexConsistencyTests {
    /// An UPDATE that leaves an indexed value the same skips its index entry; one that changes
    /// it only in bytes (another Unicode normalization, which `==` finds equal) must move it.
    @Test func anUpdateMovesIndexEntriesWhoseBytesChange() async throws {
        let s = try await Database.inMemory().session()
        try await s.execute("CREATE TABLE t (id INT PRIMARY KEY, w TEXT, n INT); CREATE INDEX t_w ON t (w)")
        try await s.execute("INSERT INTO t (id, w, n) VALUES (1, 'caf\u{E9}', 0)")
        try await s.execute("UPDATE t SET n = n + 1")
        try await s.execute("UPDATE t SET w = 'cafe\u{301}'")
        #expect(try await s.execute("EXPLAIN SELECT id FROM t WHERE w = 'cafe\u{301}'").rows.description.contains("t_w"))
        #expect(try await s.execute("SELECT id, n FROM t WHERE w = 'cafe\u{301}'").rows == [[.integer(1), .integer(1)]])
    }

    /// REINDEX next to writers: an entry a concurrent transaction adds is never lost, and a
    /// row both touch makes one of them fail (40001) rather than leave a wrong index.
    @Test func reindexNeverLosesAConcurrentWritersEntries() async throws {
        let db = try await Database.inMemory()
        let setup = db.session()
        try await setup.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT); CREATE INDEX t_v ON t (v)")
        try await setup.execute("INSERT INTO t VALUES (1, 10), (2, 20), (3, 30)")
        let writer = db.session()
        try await writer.execute("BEGIN")
        try await writer.execute("INSERT INTO t VALUES (7, 70)")
        try await setup.execute("REINDEX TABLE t")  // commits while the insert is open
        try await writer.execute("COMMIT")
        #expect(try await setup.execute("SELECT id FROM t WHERE v = 70").rows == [[.integer(7)]])
        await #expect(throws: RedError.self) { try await setup.execute("INSERT INTO t VALUES (7, 71)") }  // the primary key still knows 7
        // A row the writer changes is one REINDEX rewrites: one of the two must fail.
        try await writer.execute("BEGIN")
        try await writer.execute("UPDATE t SET v = 11 WHERE id = 1")
        try await setup.execute("REINDEX INDEX t_v")
        let error = await #expect(throws: RedError.self) { try await writer.execute("COMMIT") }
        #expect(error?.code == .serializationFailure)
        #expect(error?.message.contains("index \"t_v\" of \"t\"") == true, "names the index and its table: \(error?.message ?? "")")
        #expect(try await setup.execute("SELECT id FROM t WHERE v = 10").rows == [[.integer(1)]])
        #expect(try await setup.execute("SELECT count(*) FROM t WHERE v > 0").rows == [[.integer(4)]])
    }

    /// CREATE INDEX next to a writer whose transaction began before it: whichever commits
    /// second fails with 40001, so the index never misses the writer's rows and a unique index
    /// never admits a duplicate. (Before, a writer with the old definition committed rows the
    /// new index never got.)
    @Test func createIndexAndAnOlderWriterCannotBothCommit() async throws {
        let db = try await Database.inMemory()
        let setup = db.session()
        try await setup.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
        try await setup.execute("INSERT INTO t VALUES (1, 10), (2, 20)")
        func serializationFailure(_ error: any Error) -> Bool { (error as? RedError)?.code == .serializationFailure }

        // The index commits first: the writer, on the old definition, fails at COMMIT.
        // (REPEATABLE READ: under READ COMMITTED the INSERT's own snapshot sees the index, and fails with 23505.)
        let writer = db.session()
        try await writer.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        _ = try await writer.execute("SELECT count(*) FROM t")  // its snapshot predates the index
        try await setup.execute("CREATE UNIQUE INDEX t_v ON t (v)")
        try await writer.execute("INSERT INTO t VALUES (3, 10)")  // a duplicate the index cannot see
        await #expect(performing: { try await writer.execute("COMMIT") }, throws: serializationFailure)
        #expect(try await setup.execute("SELECT count(*) FROM t").rows == [[.integer(2)]])
        await #expect(throws: RedError.self) { try await setup.execute("INSERT INTO t VALUES (3, 10)") }  // retried: 23505

        // The writer commits first: the index, built from a snapshot without its row, fails.
        let builder = db.session()
        try await builder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        _ = try await builder.execute("SELECT count(*) FROM t")
        try await writer.execute("INSERT INTO t VALUES (4, 40)")
        try await builder.execute("CREATE INDEX t_v2 ON t (v)")
        await #expect(performing: { try await builder.execute("COMMIT") }, throws: serializationFailure)
        try await setup.execute("CREATE INDEX t_v2 ON t (v)")  // autocommit: sees the row
        #expect(try await setup.execute("SELECT id FROM t WHERE v = 40").rows == [[.integer(4)]])
        #expect(try db.checkIndexes().allSatisfy { $0.consistent })

        // Marks and writers do not conflict: no write depends on them.
        try await writer.execute("BEGIN")
        try await writer.execute("INSERT INTO t VALUES (5, 50)")
        _ = try await db.markIndex(named: "t_v2", status: .stale, enabled: nil, access: .readWrite)
        try await writer.execute("COMMIT")
        // Nor do writers of different tables.
        try await setup.execute("CREATE TABLE u (id INT)")
        try await writer.execute("BEGIN")
        try await writer.execute("INSERT INTO t VALUES (6, 60)")
        try await setup.execute("CREATE INDEX u_id ON u (id)")
        try await writer.execute("COMMIT")
        #expect(try db.checkIndexes().allSatisfy { $0.consistent })
    }

    @Test func indexesAgreeWithTableScansAfterRandomWrites() async throws {
        let clock = ManualClock(milliseconds: 1_000_000)
        var options = DatabaseOptions()
        options.clock = clock
        let db = try await Database.inMemory(options: options)
        let s = db.session()
        try await s.execute("CREATE TABLE t (id INT PRIMARY KEY, u INT UNIQUE, v INT, w TEXT)")
        try await s.execute("CREATE INDEX t_v ON t (v); CREATE INDEX t_wv ON t (w, v)")
        var rng = RandomQueryTests.SplitMix(state: 42)
        func r(_ n: UInt64) -> Int { Int(rng.next() % n) }
        for step in 0..<1_500 {
            let id = r(200), u = r(300), v = r(20)
            let w = ["a", "b", nil][r(3)].map { "'\($0)'" } ?? "NULL"
            let statement: String
            switch r(7) {
            case 0, 1: statement = "INSERT INTO t (id, u, v, w) VALUES (\(id), \(u), \(v), \(w))"
            case 2: statement = "INSERT INTO t (id, u, v, w) VALUES (\(id), NULL, \(v), \(w)) WITH TTL \(1 + r(5)) s"
            case 3: statement = "UPDATE t SET v = \(v), u = CASE WHEN u IS NULL THEN NULL ELSE \(u) END WHERE id = \(id)"
            case 4: statement = "UPDATE t SET w = \(w), v = v + 1 WHERE v = \(v)"
            case 5: statement = "DELETE FROM t WHERE v = \(v) AND id % 3 = \(r(3))"
            default: statement = "UPDATE t SET id = id + 1000 WHERE id = \(id)"
            }
            let rollback = r(10) == 0
            if rollback { try await s.execute("BEGIN") }
            do { try await s.execute(statement) } catch let e as RedError {
                #expect(["23505", "23502"].contains(e.code.sqlState), "\(statement): \(e)")
            }
            if rollback { try await s.execute("ROLLBACK") }
            if step % 100 == 0 { clock.advance(milliseconds: 1_000) }
        }
        try await check(s)
        let checks = try db.checkIndexes()
        #expect(checks.allSatisfy { $0.consistent }, "\(checks)")
        try await s.execute("VACUUM")
        try await check(s)
        #expect(try db.checkIndexes().allSatisfy { $0.consistent })
        try await db.close()
    }

    /// The consistency check finds a row whose entry is gone, an entry no row accounts for,
    /// and an entry naming another row; counts stay exact.
    @Test func theCheckFindsMissingDanglingAndMisdirectedEntries() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT); CREATE INDEX t_v ON t (v)")
        try await s.execute("INSERT INTO t SELECT g, g * 10 FROM generate_series(1, 50) AS g")
        try await s.execute("CREATE TABLE kv_like (k TEXT)")  // no index: rows only
        var checks = try db.checkIndexes()
        let clean = try #require(checks.first { $0.table == "t" })
        #expect(clean.rows == 50 && clean.indexes.map(\.index).contains("t_v") && clean.consistent)
        #expect(clean.indexes.allSatisfy { $0.entries == 50 })

        // Damage t_v behind the engine's back: drop one entry, move another to a wrong row id.
        let definition = try #require(try await s.collections().first { $0.name == "t" }?.schema.indexes.first { $0.name == "t_v" })
        try await db.engine.transaction { tx in
            let storage = try tx.collection(named: definition.storageName)
            let cursor = try tx.scan(storage)
            var entries: [([UInt8], [UInt8])] = []
            while let entry = try cursor.next() { entries.append(entry) }
            _ = try tx.delete(storage, entries[0].0)                  // a row without its entry
            try tx.put(storage, entries[1].0, entries[2].1)          // an entry naming another row
            try tx.put(storage, [0xFF] + entries[3].0, entries[3].1)  // an entry no row accounts for
        }
        checks = try db.checkIndexes()
        let table = try #require(checks.first { $0.table == "t" })
        let damaged = try #require(table.indexes.first { $0.index == "t_v" })
        #expect(damaged.missing == 2 && damaged.entries == 50 && damaged.dangling == 2 && !damaged.consistent, "\(damaged)")
        #expect(damaged.missingExamples.count == 2)
        #expect(table.indexes.filter { $0.consistent }.count == 1, "the primary key is intact")
        try await s.execute("REINDEX TABLE t")
        #expect(try db.checkIndexes().allSatisfy { $0.consistent }, "REINDEX repairs it")
        #expect(try db.checkStructure().entries > 100)
    }

    func check(_ s: Session) async throws {
        for v in 0..<25 {
            let viaIndex = try await s.execute("SELECT id FROM t WHERE v = \(v) ORDER BY id").rows
            let viaScan = try await s.execute("SELECT id FROM t WHERE v + 0 = \(v) ORDER BY id").rows
            #expect(viaIndex == viaScan, "v = \(v)")
            for w in ["a", "b"] {
                let composite = try await s.execute("SELECT id FROM t WHERE w = '\(w)' AND v = \(v) ORDER BY id").rows
                let scanned = try await s.execute("SELECT id FROM t WHERE w || '' = '\(w)' AND v + 0 = \(v) ORDER BY id").rows
                #expect(composite == scanned, "w = \(w), v = \(v)")
            }
        }
        for w in ["a", "b"] {
            let prefix = try await s.execute("SELECT id FROM t WHERE w = '\(w)' ORDER BY id").rows
            let scanned = try await s.execute("SELECT id FROM t WHERE w || '' = '\(w)' ORDER BY id").rows
            #expect(prefix == scanned, "w = \(w)")
        }
        let all = try await s.execute("SELECT id, u FROM t ORDER BY id").rows
        for row in all {
            #expect(try await s.execute("SELECT u FROM t WHERE id = $1", parameters: [row[0]]).rows == [[row[1]]])
            if !row[1].isNull {
                #expect(try await s.execute("SELECT id FROM t WHERE u = $1", parameters: [row[1]]).rows == [[row[0]]])
            }
        }
        let ordered = try await s.execute("SELECT v FROM t ORDER BY v LIMIT 1000").rows
        let sorted = try await s.execute("SELECT v FROM t ORDER BY v + 0").rows
        #expect(ordered == sorted)
        let plan = try await s.execute("EXPLAIN SELECT v FROM t ORDER BY v LIMIT 1000").rows.map { $0[0].displayText }.joined(separator: "\n")
        #expect(plan.contains("Index Scan using t_v") && !plan.contains("Sort"), "\(plan)")
    }
}

extension IndexConsistencyTests {
    /// CREATE INDEX on a table four sessions keep inserting into: it finishes (before, every
    /// retry met a new insert and it failed with 40001 after 8 attempts), the inserts go on,
    /// and the index holds every row.
    @Test func createIndexFinishesWhileSessionsKeepInserting() async throws {
        let db = try await Database.inMemory()
        let setup = db.session()
        try await setup.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t SELECT g, g % 97 FROM generate_series(1, 100000) AS g")
        final class Progress: Sendable {
            let stop = Mutex(false)
            let inserted = Mutex(0)
        }
        let progress = Progress()
        let writers = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for w in 0..<4 {
                    group.addTask {
                        let s = db.session()
                        var id = 1_000_000 + w
                        while !progress.stop.withLock({ $0 }) {
                            try await s.execute("INSERT INTO t VALUES ($1, $2)", parameters: [.integer(Int64(id)), .integer(Int64(id % 97))])
                            progress.inserted.withLock { $0 += 1 }
                            id += 4
                            await Task.yield()  // a stream of writes, not a monopoly of the test's threads
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        while progress.inserted.withLock({ $0 }) < 100 { try await Task.sleep(for: .milliseconds(1)) }
        try await setup.execute("CREATE INDEX t_v ON t (v)")
        let after = progress.inserted.withLock { $0 }
        while progress.inserted.withLock({ $0 }) < after + 100 { try await Task.sleep(for: .milliseconds(1)) }
        progress.stop.withLock { $0 = true }
        try await writers.value
        #expect(try db.checkIndexes().allSatisfy { $0.consistent })
        let total = try await setup.execute("SELECT count(*) FROM t").rows
        #expect(try await setup.execute("SELECT count(*) FROM t WHERE v >= 0").rows == total)
    }
}
