import RedCore
import Testing
@testable import RedStorage

@Suite struct BTreeTests {
    @Test func randomOperationsMatchAReferenceMap() throws {
        let store = try StoreHarness().open(cacheBytes: 128 << 10)
        var model: [[UInt8]: [UInt8]] = [:]
        var rng = SplitMix64(seed: 7)
        for step in 0..<6000 {
            let k = key(Int(rng.next() % 1500))
            switch rng.next() % 10 {
            case 0..<6:
                let size = rng.next() % 20 == 0 ? Int(rng.next() % 9000) : Int(rng.next() % 120)
                let v = value(step, size: size)
                try store.write { try $0.put(k, v) }
                model[k] = v
            default:
                let existed = try store.write { try $0.delete(k) }
                #expect(existed == (model.removeValue(forKey: k) != nil))
            }
            if step % 1000 == 999 { _ = try store.verify() }
        }
        let report = try store.verify()
        #expect(report.entries == model.count)
        let expected = model.sorted { compareKeys($0.key, $1.key) < 0 }
        let forward = try store.allEntries()
        #expect(forward.map(\.0) == expected.map(\.key))
        #expect(forward.map(\.1) == expected.map(\.value))
        #expect(try store.allEntriesReversed().map(\.0) == expected.reversed().map(\.key))
        for (k, v) in model { #expect(try store.read { try $0.get(k) } == v) }
    }

    @Test func sortedBatchLookupsMatchSingleLookups() throws {
        let store = try StoreHarness().open()
        #expect(try store.read { try $0.getSorted([key(1), key(2)]) } == [nil, nil])  // empty tree
        for i in stride(from: 0, to: 9000, by: 3) { try store.write { try $0.put(key(i), value(i, size: i % 50 == 0 ? 6000 : 30)) } }
        #expect(try store.verify().depth >= 2)
        var rng = SplitMix64(seed: 11)
        for _ in 0..<20 {
            // Runs of neighbours (same leaf), jumps (other leaves), absent keys, both ends.
            var probes = Set<Int>([0, 8999, 9001])
            for _ in 0..<200 { probes.insert(Int(rng.next() % 9100)) }
            let keys = probes.sorted().map(key)
            let batch = try store.read { try $0.getSorted(keys) }
            let single = try store.read { tree in try keys.map { try tree.get($0) } }
            #expect(batch.count == single.count)
            #expect(zip(batch, single).filter { $0.0 != $0.1 }.count == 0, "lookups that differ from get")
        }
    }

    @Test func batchPutsMatchSinglePutsInAnyOrder() throws {
        // A cache far smaller than one batch: the batch may keep only its current path pinned.
        let store = try StoreHarness().open(cacheBytes: 96 << 10)
        var model: [[UInt8]: [UInt8]] = [:]
        var rng = SplitMix64(seed: 5)
        for round in 0..<12 {
            var batch: [Int: [UInt8]] = [:]
            let count = round == 3 ? 6000 : Int(rng.next() % 700) + 1
            for _ in 0..<count {
                let n = Int(rng.next() % 8000)
                let size = rng.next() % 40 == 0 ? 5000 + Int(rng.next() % 4000) : Int(rng.next() % 90)
                batch[n] = value(round &* 10_000 &+ n, size: size)
            }
            var entries = batch.map { (key($0.key), $0.value) }
            if round % 3 == 2 { entries.shuffle(using: &rng) } else { entries.sort { compareKeys($0.0, $1.0) < 0 } }
            try store.write { try $0.putSorted(entries) }
            for (k, v) in entries { model[k] = v }
            _ = try store.verify()
            if round % 4 == 1 {  // deletes between batches, so later batches meet merged leaves
                for k in model.keys.shuffled(using: &rng).prefix(200) {
                    #expect(try store.write { try $0.delete(k) })
                    model[k] = nil
                }
            }
        }
        let expected = model.sorted { compareKeys($0.key, $1.key) < 0 }
        let forward = try store.allEntries()
        #expect(forward.count == expected.count)
        #expect(zip(forward, expected).filter { $0.0.0 != $0.1.key || $0.0.1 != $0.1.value }.count == 0, "entries that differ")
    }

    @Test func deletingEverythingEmptiesTheTreeAndFreesPages() throws {
        let store = try StoreHarness().open()
        for i in 0..<3000 { try store.write { try $0.put(key(i), value(i, size: 50)) } }
        #expect(try store.verify().depth >= 2)
        for i in 0..<3000 { #expect(try store.write { try $0.delete(key(i)) }) }
        #expect(try store.verify().entries == 0)
        #expect(try store.read { $0.rootID } == 0)
        #expect(try store.allEntries().isEmpty)
    }

    @Test func sequentialAppendsFillLeaves() throws {
        let store = try StoreHarness().open()
        for i in 0..<20000 { try store.write { try $0.put(key(i), value(i, size: 20)) } }
        let report = try store.verify()
        // 8-byte keys + 20-byte values + 6 bytes of cell header: ~119 per 4 KiB page when full.
        #expect(report.leafNodes < 20000 / 110)
    }

    /// A table's rows and its index's entries share the tree, the index's keys after the
    /// table's: each batch after the first inserts its rows in front of the index's keys. Those
    /// ascending runs must fill leaves as appends at the tree's end do.
    @Test func ascendingRunsInFrontOfOtherKeysFillLeaves() throws {
        let store = try StoreHarness().open()
        let batches = 40, perBatch = 500
        for b in 0..<batches {
            let ids = (b * perBatch)..<((b + 1) * perBatch)
            let rows = ids.map { ([0x01] + key($0), value($0, size: 20)) }  // "table": id → row
            let entries = ids.map { ([0x02] + key($0), value($0, size: 8)) }  // "index": value → id
            try store.write { try $0.putSorted(rows + entries) }
        }
        let report = try store.verify()
        #expect(report.entries == 2 * batches * perBatch)
        // Full leaves hold about 114 row cells (6 + 7 + 20 bytes) or 170 entries (6 + 7 + 8):
        // 176 + 118 leaves. Split at their middles, the row leaves were about half full.
        #expect(report.leafNodes < 330, "\(report.leafNodes) leaves")
        let expected = (0..<(batches * perBatch)).map { [0x01] + key($0) } + (0..<(batches * perBatch)).map { [0x02] + key($0) }
        #expect(try store.allEntries().map(\.0) == expected)
    }

    @Test func leavesALoadFillsGiveBackTheirSlack() throws {
        let store = try StoreHarness().open(cacheBytes: 64 << 20)
        let n = 20_000
        try store.write { try $0.putSorted((0..<n).map { (key($0), value($0, size: 30)) }) }
        let nodes = store.cache.dirtyNodes(upTo: .max)
        let leaves = nodes.filter(\.isLeaf).sorted { $0.key(at: 0).lexicographicallyPrecedes($1.key(at: 0)) }
        #expect(leaves.count > 100)
        // Every leaf the load left behind holds its cells and nothing more; the last is still open.
        for leaf in leaves.dropLast() { #expect(leaf.bufferBytes == leaf.used, "leaf \(leaf.pageID)") }
        #expect(leaves.last!.bufferBytes == BTreeNode.maxCellBytes)
        // The cache counts what the nodes hold now.
        #expect(store.cache.statistics.residentBytes == nodes.reduce(0) { $0 + $1.memoryFootprint })

        // Writing into a fitted leaf grows it again.
        try store.write { tx in
            for i in stride(from: 1, to: n, by: 97) { try tx.put(key(i) + [0x7F], value(i, size: 30)) }
        }
        _ = try store.verify()
        let expected: [[UInt8]] = (0..<n).flatMap { i -> [[UInt8]] in i % 97 == 1 ? [key(i), key(i) + [0x7F]] : [key(i)] }
        #expect(try store.allEntries().map(\.0) == expected)
    }

    @Test func rangeBatchesHonourInclusiveBounds() throws {
        let store = try StoreHarness().open()
        for i in stride(from: 0, to: 1000, by: 2) { try store.write { try $0.put(key(i), [1]) } }
        let atOrAfter = try store.read { try $0.batch(after: key(500), inclusive: true) }
        #expect(atOrAfter.first?.key == key(500))
        let after = try store.read { try $0.batch(after: key(500), inclusive: false) }
        #expect(after.first?.key == key(502))
        let before = try store.read { try $0.reverseBatch(before: key(500), inclusive: false) }
        #expect(before.first?.key == key(498))
        let atOrBefore = try store.read { try $0.reverseBatch(before: key(501), inclusive: true) }
        #expect(atOrBefore.first?.key == key(500))
        #expect(try store.read { try $0.batch(after: key(999), inclusive: false) }.isEmpty)
        #expect(try store.read { try $0.reverseBatch(before: key(0), inclusive: false) }.isEmpty)
    }

    @Test func oversizeKeysAreRejectedWithAClearError() throws {
        let store = try StoreHarness().open()
        let error = #expect(throws: RedError.self) {
            try store.write { try $0.put([UInt8](repeating: 1, count: BTree.maxKeyBytes + 1), [1]) }
        }
        #expect(error?.code == .limitExceeded)
    }

    @Test func largeValuesLiveInOverflowChainsAndAreFreedOnOverwrite() throws {
        let store = try StoreHarness().open()
        let big = value(1, size: 1_000_000)
        try store.write { try $0.put(key(1), big) }
        #expect(try store.read { try $0.get(key(1)) } == big)
        #expect(try store.verify().overflowPages == (1_000_000 + 4063) / 4064)
        try store.write { try $0.put(key(1), value(2, size: 1_000_000)) }
        let pagesAfterTwoChains = store.pageCount
        // The first chain's pages were written in the current epoch, so the third chain reuses them.
        try store.write { try $0.put(key(1), value(3, size: 1_000_000)) }
        #expect(store.pageCount == pagesAfterTwoChains)
        #expect(try store.read { try $0.get(key(1)) } == value(3, size: 1_000_000))
        try store.write { try $0.put(key(1), [9]) }
        #expect(try store.verify().overflowPages == 0)
    }
}
