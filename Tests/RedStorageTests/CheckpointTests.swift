import RedCore
import Testing
@testable import RedStorage

@Suite struct CheckpointTests {
    @Test func checkpointedTreeSurvivesReopen() throws {
        let h = StoreHarness()
        var model: [[UInt8]: [UInt8]] = [:]
        do {
            let store = try h.open(cacheBytes: 64 << 10)
            for i in 0..<5000 {
                let v = value(i, size: i % 97 == 0 ? 5000 : 40)
                try store.write { try $0.put(key(i), v) }
                model[key(i)] = v
            }
            try store.checkpointNow(lsn: 77, ts: 5)
            try store.close()
        }
        let store = try h.open(cacheBytes: 64 << 10)
        #expect(store.openedHeader.checkpointLSN == 77)
        #expect(store.openedHeader.lastCommitTS == 5)
        #expect(try store.verify().entries == 5000)
        for (k, v) in model { #expect(try store.read { try $0.get(k) } == v) }
    }

    @Test func uncheckpointedChangesAreInvisibleAfterReopenAndThePublishedImageIsIntact() throws {
        let h = StoreHarness()
        do {
            let store = try h.open(cacheBytes: 32 << 10)  // tiny: forces dirty evictions
            for i in 0..<2000 { try store.write { try $0.put(key(i), value(i, size: 60)) } }
            try store.checkpointNow()
            // Overwrite and delete heavily without a checkpoint: evictions write pages, but never the image's.
            for i in 0..<2000 { try store.write { try $0.put(key(i), value(i + 1, size: 90)) } }
            for i in 0..<1000 { try store.write { _ = try $0.delete(key(i)) } }
            try store.close()
        }
        let store = try h.open()
        #expect(try store.verify().entries == 2000)
        for i in stride(from: 0, to: 2000, by: 7) { #expect(try store.read { try $0.get(key(i)) } == value(i, size: 60)) }
    }

    @Test func writersContinueWhileAFrozenImageIsWritten() throws {
        let h = StoreHarness()
        let store = try h.open(cacheBytes: 48 << 10)
        for i in 0..<3000 { try store.write { try $0.put(key(i), value(i, size: 30)) } }
        let frozen = store.freeze { (1, 1) }
        // Epoch E+1 writes copy E's pages instead of changing them.
        for i in 0..<3000 { try store.write { try $0.put(key(i), value(i, size: 31)) } }
        try store.write(frozen)
        try store.checkpointNow(lsn: 2, ts: 2)
        for _ in 0..<5 {  // free pages cycle through pending → reusable without growing the file unboundedly
            for i in 0..<3000 { try store.write { try $0.put(key(i), value(i, size: 31)) } }
            try store.checkpointNow(lsn: 3, ts: 3)
        }
        let pages = store.pageCount
        try store.close()
        let reopened = try h.open()
        #expect(reopened.pageCount == pages)
        #expect(try reopened.verify().entries == 3000)
        for i in stride(from: 0, to: 3000, by: 11) { #expect(try reopened.read { try $0.get(key(i)) } == value(i, size: 31)) }
    }

    @Test func powerLossDuringCheckpointRecoversAnImage() throws {
        for seed in UInt64(0)..<60 {
            let fs = SimulatedFileSystem()
            let h = StoreHarness(fs: fs)
            let store = try h.open(cacheBytes: 32 << 10)
            for i in 0..<800 { try store.write { try $0.put(key(i), value(i, size: 50)) } }
            try store.checkpointNow(lsn: 10, ts: 1)
            for i in 0..<800 { try store.write { try $0.put(key(i), value(i, size: 70)) } }
            fs.failAfter(operations: Int(seed % 40))
            _ = try? store.checkpointNow(lsn: 20, ts: 2)
            let after = StoreHarness(fs: fs.crash(seed: seed))
            let recovered = try after.open()
            let size = recovered.openedHeader.checkpointLSN == 20 ? 70 : 50
            #expect(try recovered.verify().entries == 800)
            for i in stride(from: 0, to: 800, by: 13) { #expect(try recovered.read { try $0.get(key(i)) } == value(i, size: size)) }
        }
    }

    @Test func secondOpenOfALockedFileFails() throws {
        let h = StoreHarness()
        let store = try h.open()
        let error = #expect(throws: RedError.self) { _ = try h.open() }
        #expect(error?.code == .databaseLocked)
        try store.close()
        _ = try h.open()
    }

    @Test func aFlippedByteInAPageIsReportedNamingFileAndPage() throws {
        let h = StoreHarness()
        try h.checkpointed(entries: 500, valueSize: 50)
        let root = try h.open().openedHeader.rootPageID
        h.fs.corruptByte(h.path, at: Int(root) * PageLayout.pageSize + 100)
        let store = try h.open()
        let error = #expect(throws: RedError.self) { _ = try store.read { try $0.get(key(1)) } }
        #expect(error?.code == .dataCorrupted)
        #expect(error?.message.contains("/db/data.rdb: page \(root) failed its checksum") == true)
    }

    @Test func aForeignFileIsNotOverwritten() throws {
        let h = StoreHarness()
        let file = try h.fs.openFile(h.path, create: true)
        try file.write(Array("hello, this is not a database".utf8), at: 0)
        let error = #expect(throws: RedError.self) { _ = try h.open() }
        #expect(error?.message.contains("is not a RedDB database") == true)
        #expect(h.fs.contents(h.path)?.count == 29)
    }
}
