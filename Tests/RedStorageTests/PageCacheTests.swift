import Foundation
import RedCore
import Testing
@testable import RedStorage

@Suite struct PageCacheTests {
    /// A store whose tree has many leaves, checkpointed and reopened with a tiny cache.
    func reopenedStore(entries: Int = 4000, cacheBytes: Int, harness h: StoreHarness = StoreHarness()) throws -> (PagedStore, [PageID]) {
        try h.checkpointed(entries: entries)
        let store = try h.open(cacheBytes: cacheBytes)
        let root = try store.cache.node(store.openedHeader.rootPageID, pin: false)
        var leaves: [PageID] = []
        func collect(_ node: BTreeNode) throws {
            if node.isLeaf { leaves.append(node.pageID); return }
            for child in node.allChildren { try collect(try store.cache.node(child, pin: false)) }
        }
        try collect(root)
        return (store, leaves)
    }

    @Test func residentBytesStayWithinTheBudget() throws {
        let (store, leaves) = try reopenedStore(cacheBytes: 64 << 10)
        for id in leaves { _ = try store.cache.node(id, pin: false) }
        let stats = store.cache.statistics
        #expect(stats.residentBytes <= 64 << 10)
        #expect(stats.evictions > 0)
        #expect(stats.misses >= UInt64(leaves.count))
    }

    @Test func pinnedNodesAreNeverEvicted() throws {
        let (store, leaves) = try reopenedStore(cacheBytes: 64 << 10)
        let pinned = try store.cache.node(leaves[0], pin: true)
        for id in leaves.dropFirst() { _ = try store.cache.node(id, pin: false) }
        let missesBefore = store.cache.statistics.misses
        #expect(try store.cache.node(leaves[0], pin: false) === pinned)
        #expect(store.cache.statistics.misses == missesBefore)
        store.cache.unpin([leaves[0]])
    }

    @Test func sieveKeepsAHotNodeThroughAScanOfColdOnes() throws {
        let (store, leaves) = try reopenedStore(entries: 8000, cacheBytes: 96 << 10)
        let hot = leaves[0]
        _ = try store.cache.node(hot, pin: false)
        for id in leaves.dropFirst() {
            _ = try store.cache.node(hot, pin: false)  // a hit only sets the visited bit
            _ = try store.cache.node(id, pin: false)   // cold, touched once
        }
        let missesBefore = store.cache.statistics.misses
        _ = try store.cache.node(hot, pin: false)
        #expect(store.cache.statistics.misses == missesBefore, "the hot node was evicted by one-hit wonders")
    }

    /// Misses read outside the cache's lock, so two readers may load one page at once: both
    /// must get the same node, and the cache must hold it once.
    @Test func concurrentMissesOfOnePageShareOneNode() async throws {
        let harness = StoreHarness()
        let (warm, leaves) = try reopenedStore(entries: 8000, cacheBytes: 4 << 20, harness: harness)
        try warm.close()
        let store = try harness.open(cacheBytes: 4 << 20)  // a cold cache: every leaf is a miss
        harness.fs.setReadLatency(microseconds: 2_000)  // both loads are under way before either inserts
        for id in leaves.prefix(40) {
            async let first = Task.detached { try store.read { _ in try store.cache.node(id, pin: false) } }.value
            async let second = Task.detached { try store.read { _ in try store.cache.node(id, pin: false) } }.value
            let (a, b) = try await (first, second)
            #expect(a === b, "page \(id) loaded as two nodes")
        }
        let stats = store.cache.statistics
        #expect(stats.residentNodes == store.cache.state.withLock { $0.map.count })
        #expect(stats.residentBytes == store.cache.state.withLock { s in s.map.values.reduce(0) { $0 + s.slots[Int($1)].bytes } })
    }

    /// An eviction writes its dirty victims without the cache's lock: a hit made while that
    /// write is under way (here made to take a second) does not wait for it.
    @Test func aHitDoesNotWaitForAnotherThreadsEvictionWrite() throws {
        let h = StoreHarness()
        let store = try h.open(cacheBytes: 256 << 10)
        for i in 0..<3_000 { try store.write { try $0.put(key(i), value(i, size: 60)) } }
        let root = try store.read { $0.rootID }
        h.fs.setWriteLatency(microseconds: 1_000_000)
        let writer = Thread {
            // More dirty nodes until an eviction has to write some (each then takes a second).
            for i in 3_000..<6_000 { _ = try? store.write { try $0.put(key(i), value(i, size: 60)) } }
        }
        writer.start()
        var waited = 0
        while store.cache.state.withLock({ $0.evictingBytes }) == 0 && waited < 20_000 { usleep(1_000); waited += 1 }
        #expect(store.cache.state.withLock { $0.evictingBytes } > 0, "no eviction write began")
        let evictionsBefore = store.cache.statistics.evictions
        _ = try store.cache.node(root, pin: false)  // the tree's root: cached, a hit
        #expect(store.cache.statistics.evictions == evictionsBefore, "the hit waited for the eviction's write to end")
        h.fs.setWriteLatency(microseconds: 0)
        while !writer.isFinished { usleep(10_000) }
    }

    @Test func evictedDirtyNodesAreWrittenAndReadBackIdentically() throws {
        let store = try StoreHarness().open(cacheBytes: 64 << 10)
        var model: [[UInt8]: [UInt8]] = [:]
        for i in 0..<3000 {
            let v = value(i, size: 80)
            try store.write { try $0.put(key(i), v) }
            model[key(i)] = v
        }
        #expect(store.cache.statistics.dirtyWrites > 0)
        for (k, v) in model { #expect(try store.read { try $0.get(k) } == v) }
        #expect(try store.verify().entries == 3000)
    }

    /// Evictions write their dirty victims together (`NodeRunWriter`) and drop them only
    /// once written: when that write fails, every node stays cached, so nothing written
    /// before is lost or read back stale from the file, then or once writes work again.
    @Test func aFailedEvictionWriteKeepsItsVictims() throws {
        let h = StoreHarness()
        let store = try h.open(cacheBytes: 64 << 10)
        var model: [[UInt8]: [UInt8]] = [:]
        for i in 0..<2000 {
            try store.write { try $0.put(key(i), value(i, size: 80)) }
            model[key(i)] = value(i, size: 80)
        }
        let written = store.cache.statistics.dirtyWrites
        #expect(written > 0)
        h.fs.setFailWrites(true)
        var failed = false
        for i in 2000..<6000 where !failed {
            do {
                try store.write { try $0.put(key(i), value(i, size: 80)) }
                model[key(i)] = value(i, size: 80)
            } catch {
                failed = true
            }
        }
        #expect(failed, "no eviction tried to write")
        #expect(store.cache.statistics.dirtyWrites == written)
        // While writes fail, reads go on: a miss's eviction drops clean pages and keeps the dirty
        // ones, so the cache stays bounded, and a read never returns what the file held before.
        var resident: [Int] = []
        for _ in 0..<4 {
            for (k, v) in model { #expect(try store.read { try $0.get(k) } == v) }
            resident.append(store.cache.statistics.residentBytes)
        }
        #expect(resident.allSatisfy { $0 <= 2 * (64 << 10) && $0 <= resident[0] + (8 << 10) }, "\(resident)")
        h.fs.setFailWrites(false)
        for (k, v) in model { #expect(try store.read { try $0.get(k) } == v) }
    }

    /// Replacing a large value whose new overflow chain fails to write keeps the old value: its
    /// chain is not freed while the leaf still points at it (a later checkpoint would hand its
    /// pages out again).
    @Test func aFailedOverflowWriteKeepsTheValueItWouldReplace() throws {
        let h = StoreHarness()
        let store = try h.open()
        let old = value(1, size: 20_000)
        try store.write { try $0.put(key(1), old) }
        try store.checkpointNow()  // the old chain now belongs to the published image
        h.fs.setFailWrites(true)
        #expect(throws: RedError.self) { try store.write { try $0.put(key(1), value(2, size: 30_000)) } }
        h.fs.setFailWrites(false)
        try store.checkpointNow()
        try store.write { try $0.put(key(2), value(3, size: 40_000)) }  // takes any page the failure freed
        #expect(try store.read { try $0.get(key(1)) } == old)
        #expect(try store.read { try $0.get(key(2)) } == value(3, size: 40_000))
        _ = try store.verify()
    }

    /// An eviction that fails inside a tree change must not leave the change half made: the
    /// engine stops writing after such a failure but goes on serving reads. Keys arrive in
    /// random order (splits in the middle of leaves) with deletes between (merges), and the
    /// disk starts failing at a different point in each trial.
    @Test func aFailedEvictionLeavesTheTreeWhole() throws {
        for trial in 0..<24 {
            var rng = SplitMix64(seed: UInt64(trial))
            let h = StoreHarness()
            let store = try h.open(cacheBytes: 48 << 10)
            var model: [[UInt8]: [UInt8]] = [:]
            var failedBatch: [([UInt8], [UInt8]?)] = []
            var batches = 0
            while failedBatch.isEmpty && batches < 400 {
                if batches == 20 + trial * 3 { h.fs.setFailWrites(true) }
                batches += 1
                var batch: [([UInt8], [UInt8]?)] = []
                for _ in 0..<12 {
                    let k = key(Int(rng.next() % 5000))
                    batch.append((k, rng.next() % 4 == 0 && model[k] != nil ? nil : value(Int(rng.next() % 1000), size: 40 + Int(rng.next() % 160))))
                }
                do {
                    try store.write { tree in
                        for (k, v) in batch {
                            if let v { try tree.put(k, v) } else { try tree.delete(k) }
                        }
                    }
                    for (k, v) in batch { model[k] = v }
                } catch let error as RedError {
                    #expect(error.message.contains("simulated EIO"), "\(error)")
                    failedBatch = batch
                }
            }
            #expect(!failedBatch.isEmpty, "trial \(trial): no eviction failed")
            h.fs.setFailWrites(false)
            let report = try store.verify()
            // Every change before the failed batch is there; of that batch, each key holds its
            // old value or its new one.
            let touched = Dictionary(failedBatch, uniquingKeysWith: { _, last in last })
            for (k, v) in model where touched[k] == nil {
                #expect(try store.read { try $0.get(k) } == v, "trial \(trial)")
            }
            var entries = model.count
            for (k, new) in touched {
                let found = try store.read { try $0.get(k) }
                #expect(found == model[k] || found == new, "trial \(trial)")
                if found != nil && model[k] == nil { entries += 1 }
                if found == nil && model[k] != nil { entries -= 1 }
            }
            #expect(report.entries == entries, "trial \(trial)")
        }
    }
}

@Suite struct PagerTests {
    @Test func pagesFreedInTheCurrentEpochAreReusedAtOnce() throws {
        let store = try StoreHarness().open()
        let pager = store.pager
        let id = pager.allocate()
        pager.free(id, writtenIn: pager.currentEpoch)
        #expect(pager.allocate() == id)
    }

    @Test func pagesOfAnOlderImageWaitUntilTheNextCheckpointIsPublished() throws {
        let store = try StoreHarness().open()
        let pager = store.pager
        let oldEpoch = pager.currentEpoch - 1  // pages of the published image
        let id = pager.allocate()
        pager.free(id, writtenIn: oldEpoch)
        let next = pager.allocate()
        #expect(next != id)
        pager.free(next, writtenIn: pager.currentEpoch)
        try store.checkpointNow()  // publishes: the pending page becomes reusable
        var reused = Set<PageID>()
        for _ in 0..<4 { reused.insert(pager.allocate()) }
        #expect(reused.contains(id))
    }

    @Test func theFreeListIsPersistedWithTheImage() throws {
        let h = StoreHarness()
        let freeBefore: Int
        do {
            let store = try h.open()
            for i in 0..<3000 { try store.write { try $0.put(key(i), value(i, size: 60)) } }
            try store.checkpointNow()
            for i in 0..<3000 { try store.write { _ = try $0.delete(key(i)) } }
            try store.checkpointNow()
            try store.checkpointNow()  // the pages of the deleted tree are free in this image
            freeBefore = store.pager.freePageCount
            #expect(freeBefore > 50)
            try store.close()
        }
        let reopened = try h.open()
        // The chain holding the free list is itself reserved until the next image.
        #expect(reopened.pager.freePageCount + 2 >= freeBefore)
        let pages = reopened.pageCount
        for i in 0..<1000 { try reopened.write { try $0.put(key(i), value(i, size: 60)) } }
        #expect(reopened.pageCount == pages, "new pages came from the persisted free list")
    }

    @Test func aNewerFormatVersionIsRefused() throws {
        let h = StoreHarness()
        try h.open().close()
        var page = try PageImage.verify(h.fs.contents(h.path)!.prefix(4096).map { $0 }, id: 0, file: h.path)
        page.setU32(PageLayout.headerBytes + 8, DatabaseHeader.formatVersion + 1)
        page.seal()
        let file = try h.fs.openFile(h.path, create: false)
        try file.write(page.bytes, at: 0)
        let error = #expect(throws: RedError.self) { _ = try h.open() }
        #expect(error?.code == .unsupportedFormat)
    }
}
