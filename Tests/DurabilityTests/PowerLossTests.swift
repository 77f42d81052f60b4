import Foundation
import RedCore
import RedStorage
import Synchronization
import Testing
@testable import RedEngine

/// Every transaction that got a commit timestamp, and whether it was acknowledged.
final class CommitLog: Sendable {
    struct Entry {
        var ts: UInt64
        var writes: [String: [UInt8]?]
        var acknowledged: Bool
    }

    let entries = Mutex<[Entry]>([])

    func record(_ ts: UInt64, _ writes: [String: [UInt8]?], acknowledged: Bool) {
        entries.withLock { $0.append(Entry(ts: ts, writes: writes, acknowledged: acknowledged)) }
    }

    /// Recovery must produce the state of some prefix of the commit order that includes every
    /// acknowledged commit: durability is a prefix of the WAL, and the WAL is in commit order.
    /// In the relaxed sync modes acknowledged commits may be lost, but only as a suffix.
    func check(recovered: [String: [UInt8]], requireAcknowledged: Bool = true) -> String? {
        let sorted = entries.withLock { $0 }.sorted { $0.ts < $1.ts }
        let lastAcknowledged = requireAcknowledged ? sorted.last(where: \.acknowledged)?.ts ?? 0 : 0
        var model: [String: [UInt8]] = [:]
        var index = 0
        func applyNext() {
            for (k, v) in sorted[index].writes { model[k] = v }
            index += 1
        }
        while index < sorted.count && sorted[index].ts <= lastAcknowledged { applyNext() }
        while true {
            if model == recovered { return nil }
            guard index < sorted.count else { break }
            applyNext()
        }
        let missing = model.keys.filter { recovered[$0] == nil }.sorted().prefix(5)
        return "recovered state (\(recovered.count) keys) matches no prefix of the commit order; last acknowledged ts \(lastAcknowledged), \(sorted.count) commits logged; e.g. missing \(Array(missing))"
    }
}

func dumpBytes(_ engine: StorageEngine, _ name: String) async throws -> [String: [UInt8]] {
    let tx = try engine.begin()
    defer { tx.rollback() }
    guard let c = try tx.collectionIfExists(named: name) else { return [:] }
    var out: [String: [UInt8]] = [:]
    for e in try tx.scan(c).collect() { out[String(decoding: e.key, as: UTF8.self)] = e.value }
    return out
}

@Suite struct PowerLossTests {
    /// CI runs 1,000 crash points; `REDDB_SOAK_SEEDS=N` runs N (a longer soak).
    static var seedCount: Int { Int(ProcessInfo.processInfo.environment["REDDB_SOAK_SEEDS"] ?? "") ?? 1000 }

    @Test func acknowledgedCommitsSurviveSimulatedPowerLoss() async throws {
        var crashed = 0
        for seed in 0..<UInt64(Self.seedCount) {
            if try await runScenario(seed: seed) { crashed += 1 }
        }
        // The budget is drawn so that many runs stop mid-workload rather than after it.
        #expect(crashed > Self.seedCount / 4)
    }

    @Test(arguments: [SyncMode.batched, .off])
    func relaxedSyncModesRecoverToAPrefixOfTheCommitOrder(mode: SyncMode) async throws {
        for seed in 0..<200 as Range<UInt64> { _ = try await runScenario(seed: seed, mode: mode) }
    }

    /// One seeded run: concurrent transactions and checkpoints until the simulated disk
    /// "loses power" after a seeded number of operations, then recovery and checks.
    /// Returns whether the crash point fell inside the workload.
    func runScenario(seed: UInt64, mode: SyncMode = .full) async throws -> Bool {
        var rng = SplitMix64(seed: seed)
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/db")
        var options = EngineOptions()
        options.backgroundWork = false
        options.cacheBytes = 64 << 10
        options.walSegmentBytes = 8 << 10
        options.syncMode = mode
        options.batchedSyncDelayMilliseconds = 1
        let engine = try await StorageEngine.open(path: "/db/data.rdb", options: options, fileSystem: fs)
        let c = try await engine.transaction { try $0.createCollection("t") }
        let log = CommitLog()
        fs.failAfter(operations: Int(rng.next() % 220) + 1)
        let workerSeeds = (0..<4).map { _ in rng.next() }

        await withTaskGroup(of: Void.self) { group in
            for (w, workerSeed) in workerSeeds.enumerated() {
                group.addTask {
                    var r = SplitMix64(seed: workerSeed)
                    for j in 0..<12 {
                        if w == 0 && j % 4 == 3 { _ = try? await engine.checkpoint() }
                        guard let tx = try? engine.begin() else { return }
                        var writes: [String: [UInt8]?] = [:]
                        do {
                            for _ in 0..<(1 + Int(r.next() % 4)) {
                                let k = "k\(r.next() % 40)"
                                if r.next() % 4 == 0 {
                                    if try tx.delete(c, Array(k.utf8)) { writes[k] = .some(nil) }
                                } else {
                                    let size = r.next() % 10 == 0 ? 2000 + Int(r.next() % 9000) : Int(r.next() % 60)
                                    let v = r.nextBytes(size)
                                    try tx.put(c, Array(k.utf8), v)
                                    writes[k] = .some(v)
                                }
                            }
                            let info = try await tx.commit()
                            if info.lsn != nil { log.record(info.commitTS, writes, acknowledged: true) }
                        } catch let error as RedError {
                            if let ts = tx.commitTimestamp { log.record(ts, writes, acknowledged: false) }
                            tx.rollback()
                            if error.code != .serializationFailure { return }
                        } catch {
                            return
                        }
                    }
                }
            }
        }
        let crashedMidway = fs.isCrashed
        let survivor = fs.crash(seed: seed)
        options.verifyOnOpen = true
        let recovered: StorageEngine
        do {
            recovered = try await StorageEngine.open(path: "/db/data.rdb", options: options, fileSystem: survivor)
        } catch {
            Issue.record("seed \(seed): recovery failed: \(error)")
            return crashedMidway
        }
        let state = try await dumpBytes(recovered, "t")
        if let problem = log.check(recovered: state, requireAcknowledged: mode == .full) {
            Issue.record("\(mode) seed \(seed): \(problem)")
        }
        if seed % 25 == 0 {
            // The recovered database keeps working: write, checkpoint, reopen.
            try await recovered.transaction { try $0.put(c, Array("after".utf8), [1]) }
            try await recovered.close()
            let again = try await StorageEngine.open(path: "/db/data.rdb", options: options, fileSystem: survivor)
            #expect(try await dumpBytes(again, "t")["after"] == [1])
        }
        return crashedMidway
    }
}
