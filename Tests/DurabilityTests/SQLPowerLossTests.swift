import Testing
import RedCore
import RedStorage
import RedEngine
import RedDB

/// SQL on top of the engine keeps the engine's promise: after a simulated power loss,
/// the table holds exactly the acknowledged statements (plus, possibly, the one in
/// flight), and its indexes agree with its rows.
@Suite struct SQLPowerLossTests {
    typealias Model = [Int: Int]  // id → v

    @Test(arguments: Array(UInt64(1)...UInt64(60)))
    func acknowledgedStatementsSurvivePowerLoss(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed &* 7919)
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/db")
        var options = DatabaseOptions()
        options.engine.backgroundWork = false
        options.engine.cacheBytes = 64 << 10
        options.engine.walSegmentBytes = 16 << 10
        let db = try await Database.open(path: "/db/data.rdb", options: options, fileSystem: fs)
        let s = db.session()
        try await s.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL, pad TEXT); CREATE INDEX t_v ON t (v)")
        var acknowledged: Model = [:]
        var inFlight: Model?
        fs.failAfter(operations: Int(rng.next() % 300) + 20)
        var nextID = 1
        workload: for step in 0..<200 {
            var after = acknowledged
            let sql: String
            switch rng.next() % 4 {
            case 0, 1:
                let v = Int(rng.next() % 50)
                sql = "INSERT INTO t (id, v, pad) VALUES (\(nextID), \(v), '\(String(repeating: "x", count: Int(rng.next() % 300)))')"
                after[nextID] = v
                nextID += 1
            case 2:
                guard let id = acknowledged.keys.sorted().first(where: { _ in rng.next() % 3 == 0 }) else { continue }
                let v = Int(rng.next() % 50)
                sql = "UPDATE t SET v = \(v) WHERE id = \(id)"
                after[id] = v
            default:
                guard let id = acknowledged.keys.sorted().first(where: { _ in rng.next() % 3 == 0 }) else { continue }
                sql = "DELETE FROM t WHERE id = \(id)"
                after[id] = nil
            }
            inFlight = after
            do {
                try await s.execute(sql)
                acknowledged = after
                inFlight = nil
                if step % 40 == 39 { try await db.engine.checkpoint() }
            } catch {
                break workload  // the disk is gone; nothing later may be acknowledged
            }
        }
        _ = try? await db.close()

        let recoveredFS = fs.crash(seed: seed)
        options.engine.verifyOnOpen = true
        let reopened = try await Database.open(path: "/db/data.rdb", options: options, fileSystem: recoveredFS)
        let r = reopened.session()
        var recovered: Model = [:]
        for row in try await r.execute("SELECT id, v FROM t").rows {
            guard case .integer(let id) = row[0], case .integer(let v) = row[1] else { Issue.record("bad row \(row)"); continue }
            recovered[Int(id)] = Int(v)
        }
        #expect(recovered == acknowledged || (inFlight != nil && recovered == inFlight), "seed \(seed)")
        for v in 0..<50 {
            let viaIndex = try await r.execute("SELECT id FROM t WHERE v = \(v) ORDER BY id").rows
            let viaScan = try await r.execute("SELECT id FROM t WHERE v + 0 = \(v) ORDER BY id").rows
            #expect(viaIndex == viaScan, "seed \(seed), v = \(v)")
        }
        try await reopened.close()
    }
}
