import RedCore
import RedStorage
import Testing
@testable import RedEngine

@Suite struct EngineLifecycleTests {
    @Test func catalogCreatesListsAndDropsCollections() async throws {
        let h = EngineHarness()
        let engine = try await h.open()
        let users = try await engine.transaction { try $0.createCollection("users", metadata: [1, 2, 3]) }
        _ = try await engine.makeCollection("orders")
        try await engine.put(users, "alice", "30")
        let duplicate = await #expect(throws: RedError.self) { _ = try await engine.makeCollection("users") }
        #expect(duplicate?.code == .duplicateCollection)
        let names = try await engine.transaction { try $0.collections().map(\.name) }
        #expect(names == ["orders", "users"])
        #expect(try await engine.transaction { try $0.collection(named: "users").metadata } == [1, 2, 3])
        try await engine.transaction { try $0.dropCollection(named: "users") }
        let missing = await #expect(throws: RedError.self) { _ = try await engine.transaction { try $0.collection(named: "users") } }
        #expect(missing?.code == .undefinedCollection)
        #expect(missing?.code.sqlState == "42P01")
        // The dropped records are removed physically by vacuum.
        try await engine.vacuum()
        #expect(try engine.versionCount(users, "alice") == 0)
        try await engine.close()
        let reopened = try await h.open()
        #expect(try await reopened.transaction { try $0.collections().map(\.name) } == ["orders"])
    }

    /// Vacuum deletes a dropped collection's records a few thousand at a time without logging
    /// them, then its marker in a logged commit: commits made meanwhile keep their data, and
    /// after a crash the records the log brings back are deleted again.
    @Test func aLargeDroppedCollectionIsRemovedInStepsAndAfterACrash() async throws {
        let h = EngineHarness()
        let engine = try await h.open()
        let big = try await engine.makeCollection("big")
        let other = try await engine.makeCollection("other")
        let count = 3 * StorageEngine.dropStepRecords + 100
        try await engine.transaction { tx in for i in 0..<count { try tx.put(big, bytes("k\(i)"), bytes("v")) } }
        #expect(try engine.recordCount(big) == count)
        try await engine.transaction { try $0.dropCollection(named: "big") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await engine.vacuum() }
            group.addTask { for i in 0..<50 { try await engine.put(other, "o\(i)", "x") } }
            try await group.waitForAll()
        }
        #expect(try engine.recordCount(big) == 0)
        #expect(try await engine.dump("other").count == 50)
        // A crash: the unlogged deletions are gone, the logged drop brings the records back
        // until the marker's commit is replayed, which deletes them again.
        let reopened = try await EngineHarness(fs: h.fs.crash(seed: 5)).open()
        try await reopened.vacuum()
        #expect(try reopened.recordCount(big) == 0)
        #expect(try await reopened.dump("other").count == 50)
        #expect(try await reopened.transaction { try $0.collections().map(\.name) } == ["other"])
    }

    @Test func catalogStorageIsTransactional() async throws {
        let engine = try await EngineHarness().open()
        try await engine.transaction { try $0.catalogPut(bytes("schema/users"), bytes("v1")) }
        let tx = try engine.begin()
        try tx.catalogPut(bytes("schema/users"), bytes("v2"))
        tx.rollback()
        #expect(text(try await engine.transaction { try $0.catalogGet(bytes("schema/users")) }) == "v1")
        #expect(try await engine.transaction { try $0.catalogScan(.prefix(bytes("schema/"))).collect().count } == 1)
    }

    @Test func oldVersionsAreReclaimedOnceNoSnapshotNeedsThem() async throws {
        let engine = try await EngineHarness().open()
        let c = try await engine.makeCollection("t")
        try await engine.put(c, "k", "v1")
        let old = try engine.begin()
        try await engine.put(c, "k", "v2")
        try await engine.put(c, "k", "v3")
        #expect(try engine.versionCount(c, "k") == 3)  // `old` can still see v1
        #expect(text(try old.get(c, bytes("k"))) == "v1")
        old.rollback()
        try await engine.vacuum()
        #expect(try engine.versionCount(c, "k") == 1)
        try await engine.transaction { _ = try $0.delete(c, bytes("k")) }
        // Until the delete is published a new snapshot may still need v3; then vacuum removes the record.
        try await engine.vacuum()
        #expect(try engine.versionCount(c, "k") == 0)
    }

    /// A vacuum pass that fails part way (here an eviction's write) puts back the keys it had
    /// taken and not trimmed: the next pass reclaims their old versions.
    @Test func aVacuumPassThatFailsPutsBackWhatItDidNotDo() async throws {
        let h = EngineHarness()
        let engine = try await h.open(EngineHarness.options { $0.cacheBytes = 48 << 10 })
        let c = try await engine.makeCollection("t")
        let n = 3000
        try await engine.transaction { tx in for i in 0..<n { try tx.put(c, bytes("k\(i)"), bytes(String(repeating: "a", count: 40))) } }
        let old = try engine.begin()
        try await engine.transaction { tx in for i in 0..<n { try tx.put(c, bytes("k\(i)"), bytes(String(repeating: "b", count: 40))) } }
        old.rollback()
        h.fs.setFailWrites(true)
        await #expect(throws: RedError.self) { try await engine.vacuum() }
        h.fs.setFailWrites(false)
        try await engine.vacuum()
        let keptOld = try (0..<n).filter { try engine.versionCount(c, "k\($0)") != 1 }.count
        #expect(keptOld == 0, "keys that kept their old version")
    }

    @Test func committedDataSurvivesReopenWithoutACheckpoint() async throws {
        let h = EngineHarness()
        let engine = try await h.open()
        let c = try await engine.makeCollection("t")
        for i in 0..<200 { try await engine.put(c, "k\(i)", "v\(i)") }
        // No close: reopen on the durable state only, as after a crash.
        let crashed = EngineHarness(fs: h.fs.crash(seed: 1))
        let reopened = try await crashed.open()
        let data = try await reopened.dump("t")
        #expect(data.count == 200)
        #expect(data["k199"] == "v199")
    }

    @Test func failedFsyncStopsWritesButNotReads() async throws {
        let h = EngineHarness()
        let engine = try await h.open()
        let c = try await engine.makeCollection("t")
        try await engine.put(c, "k", "v")
        h.fs.setFailSyncs(true)
        let error = await #expect(throws: RedError.self) { try await engine.put(c, "k2", "v") }
        #expect(error?.code == .storageFailed)
        h.fs.setFailSyncs(false)
        let later = await #expect(throws: RedError.self) { try await engine.put(c, "k3", "v") }
        #expect(later?.code == .storageFailed)
        #expect(engine.failureReason != nil)
        #expect(try await engine.dump("t") == ["k": "v"])
    }

    /// A commit whose WAL record passes `walAlongsideBytes` is logged on another thread while
    /// it is applied: with small commits racing it, every acknowledged one survives power
    /// loss, in an order recovery accepts.
    @Test func aLargeCommitLoggedAlongsideItsApplySurvivesPowerLoss() async throws {
        let h = EngineHarness()
        let engine = try await h.open()
        let c = try await engine.makeCollection("t")
        let big = String(repeating: "x", count: 1_000)
        #expect(400 * big.utf8.count > StorageEngine.walAlongsideBytes)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await engine.transaction { tx in for i in 0..<400 { try tx.put(c, bytes("big\(i)"), bytes(big)) } }
            }
            for w in 0..<3 {
                group.addTask { for i in 0..<30 { try await engine.put(c, "w\(w)-\(i)", "v\(i)") } }
            }
            try await group.waitForAll()
        }
        let reopened = try await EngineHarness(fs: h.fs.crash(seed: 7)).open()
        let data = try await reopened.dump("t")
        #expect(data.count == 400 + 90)
        #expect(data["big399"] == big && data["w2-29"] == "v29")
    }

    /// When writing a large commit's record fails, the commit fails, the engine takes no more
    /// writes (its tree already has what the WAL lacks), and after a restart nothing of it is there.
    @Test func aLargeCommitWhoseLogWriteFailsLeavesNoTrace() async throws {
        let h = EngineHarness()
        let engine = try await h.open()
        let c = try await engine.makeCollection("t")
        try await engine.put(c, "k", "v")
        h.fs.setFailWrites(true)
        let error = await #expect(throws: RedError.self) {
            try await engine.transaction { tx in for i in 0..<400 { try tx.put(c, bytes("big\(i)"), bytes(String(repeating: "x", count: 1_000))) } }
        }
        #expect(error?.code == .storageFailed)
        h.fs.setFailWrites(false)
        let later = await #expect(throws: RedError.self) { try await engine.put(c, "k2", "v") }
        #expect(later?.code == .storageFailed)
        let reopened = try await EngineHarness(fs: h.fs.crash(seed: 3)).open()
        #expect(try await reopened.dump("t") == ["k": "v"])
    }

    @Test func walStaysBoundedUnderSteadyWrites() async throws {
        let h = EngineHarness()
        let engine = try await h.open(EngineHarness.options {
            $0.checkpointWALBytes = 64 << 10
            $0.walSegmentBytes = 16 << 10
        })
        let c = try await engine.makeCollection("t")
        var maxWALBytes = 0
        for i in 0..<3000 {
            try await engine.put(c, "k\(i % 300)", String(repeating: "x", count: 100))
            if i % 50 == 0 { await engine.runBackgroundRound() }
            let wal = try h.fs.listDirectory("/db/data.rdb-wal").reduce(0) { $0 + (h.fs.contents("/db/data.rdb-wal/" + $1)?.count ?? 0) }
            maxWALBytes = max(maxWALBytes, wal)
        }
        #expect(engine.statistics.checkpoints > 5)
        #expect(maxWALBytes < 200 << 10)
        #expect(try await engine.dump("t").count == 300)
    }

    @Test(arguments: [SyncMode.batched, .off])
    func relaxedSyncModesPersistOnClose(mode: SyncMode) async throws {
        let h = EngineHarness()
        let engine = try await h.open(EngineHarness.options { $0.syncMode = mode })
        let c = try await engine.makeCollection("t")
        let syncsBefore = h.fs.syncCount
        for i in 0..<50 { try await engine.put(c, "k\(i)", "v") }
        #expect(h.fs.syncCount - syncsBefore < 50)
        try await engine.close()
        #expect(try await h.open().dump("t").count == 50)
    }

    @Test func secondEngineOnTheSameFileIsRefused() async throws {
        let h = EngineHarness()
        let engine = try await h.open()
        let error = await #expect(throws: RedError.self) { _ = try await h.open() }
        #expect(error?.code == .databaseLocked)
        try await engine.close()
    }
}

@Suite struct BackgroundWorkTests {
    @Test func hostDrivenBackgroundWorkCheckpointsUntilCancelled() async throws {
        let h = EngineHarness()
        let engine = try await h.open(EngineHarness.options { $0.checkpointWALBytes = 4 << 10 })
        let c = try await engine.makeCollection("t")
        let worker = Task { await engine.runBackgroundWork() }
        for i in 0..<200 { try await engine.put(c, "k\(i)", String(repeating: "x", count: 100)) }
        for _ in 0..<100 where engine.statistics.checkpoints == 0 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(engine.statistics.checkpoints > 0)
        worker.cancel()
        await worker.value
        try await engine.close()
    }
}

@Suite struct DropCollectionTests {
    @Test func anOlderSnapshotKeepsReadingADroppedCollectionUntilItEnds() async throws {
        let engine = try await EngineHarness().open()
        let c = try await engine.makeCollection("old")
        for i in 0..<50 { try await engine.put(c, "k\(i)", "v\(i)") }
        let reader = try engine.begin()
        _ = try reader.collection(named: "old")
        try await engine.transaction { try $0.dropCollection(named: "old") }
        try await engine.vacuum()  // must not remove what `reader` can still see
        #expect(try reader.scan(c).collect().count == 50)
        #expect(try await engine.transaction { try $0.collectionIfExists(named: "old") } == nil)
        // A new collection of the same name is a different keyspace.
        let fresh = try await engine.makeCollection("old")
        #expect(fresh.id != c.id)
        #expect(try await engine.dump("old").isEmpty)
        reader.rollback()
        try await engine.vacuum()
        #expect(try engine.versionCount(c, "k0") == 0)
        #expect(try engine.verify().entries < 20)
    }
}
