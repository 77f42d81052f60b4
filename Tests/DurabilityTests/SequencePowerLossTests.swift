import Testing
import RedCore
import RedStorage
import RedEngine
import RedDB

/// Sequences hand out values outside transactions and make them durable in runs
/// (`SequenceRegistry`); after a simulated power loss no value a client saw, and no identity a
/// committed row holds, may be handed out again.
@Suite struct SequencePowerLossTests {
    @Test(arguments: Array(UInt64(1)...UInt64(40)))
    func valuesSeenBeforePowerLossAreNeverHandedOutAgain(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed &* 104_729)
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/db")
        var options = DatabaseOptions()
        options.engine.backgroundWork = false
        options.engine.cacheBytes = 64 << 10
        options.engine.walSegmentBytes = 16 << 10
        let db = try await Database.open(path: "/db/data.rdb", options: options, fileSystem: fs)
        let s = db.session()
        try await s.execute("CREATE TABLE t (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v INT); CREATE SEQUENCE s")
        var rows: [Int64: Int64] = [:]  // acknowledged rows: id → v
        var inFlight: (id: Int64?, v: Int64)?
        var highestSeen: Int64 = 0  // of s
        fs.failAfter(operations: Int(rng.next() % 400) + 40)
        workload: for step in 0..<400 {
            do {
                switch rng.next() % 5 {
                case 0, 1:
                    let v = Int64(rng.next() % 1000)
                    inFlight = (nil, v)
                    let r = try await s.execute("INSERT INTO t (v) VALUES (\(v)) RETURNING id")
                    guard case .integer(let id) = r.rows[0][0] else { Issue.record("no id"); return }
                    rows[id] = v
                    inFlight = nil
                case 2:
                    let r = try await s.execute("SELECT nextval('s')")
                    guard case .integer(let value) = r.rows[0][0] else { Issue.record("no value"); return }
                    #expect(value > highestSeen, "seed \(seed): nextval went from \(highestSeen) to \(value)")
                    highestSeen = value
                case 3:
                    // Values taken by a rolled-back transaction are not handed out again either.
                    try await s.execute("BEGIN")
                    let r = try await s.execute("SELECT nextval('s')")
                    try await s.execute("INSERT INTO t (v) VALUES (-1)")
                    try await s.execute("ROLLBACK")
                    guard case .integer(let value) = r.rows[0][0] else { Issue.record("no value"); return }
                    highestSeen = max(highestSeen, value)
                default:
                    if step % 50 == 49 { try await db.engine.checkpoint() }
                }
            } catch {
                break workload  // the disk is gone; nothing later may be acknowledged
            }
        }
        _ = try? await db.close()

        let recoveredFS = fs.crash(seed: seed)
        let reopened = try await Database.open(path: "/db/data.rdb", options: options, fileSystem: recoveredFS)
        let r = reopened.session()
        var recovered: [Int64: Int64] = [:]
        for row in try await r.execute("SELECT id, v FROM t").rows {
            guard case .integer(let id) = row[0], case .integer(let v) = row[1] else { Issue.record("bad row \(row)"); continue }
            recovered[id] = v
        }
        let withInFlight = recovered.filter { rows[$0.key] == nil }
        #expect(recovered.filter { rows[$0.key] != nil } == rows, "seed \(seed): acknowledged rows lost")
        #expect(withInFlight.count <= 1 && withInFlight.values.allSatisfy { $0 == inFlight?.v }, "seed \(seed): \(withInFlight)")
        let next = try await r.execute("SELECT nextval('s')").rows[0][0]
        guard case .integer(let value) = next else { Issue.record("no value"); return }
        #expect(value > highestSeen, "seed \(seed): after the crash nextval gave \(value), \(highestSeen) was seen before")
        let inserted = try await r.execute("INSERT INTO t (v) VALUES (0) RETURNING id").rows[0][0]
        guard case .integer(let id) = inserted else { Issue.record("no id"); return }
        #expect(id > (recovered.keys.max() ?? 0), "seed \(seed): identity \(id) after the crash, rows reached \(recovered.keys.max() ?? 0)")
        try await reopened.close()
    }
}
