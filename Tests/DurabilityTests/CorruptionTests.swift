import Foundation
import RedCore
import RedStorage
import Testing
@testable import RedEngine

@Suite struct CorruptionTests {
    func options() -> EngineOptions {
        var o = EngineOptions()
        o.backgroundWork = false
        return o
    }

    @Test func aFlippedByteInADataPageIsAClearErrorNotACrash() async throws {
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/db")
        let engine = try await StorageEngine.open(path: "/db/data.rdb", options: options(), fileSystem: fs)
        let c = try await engine.transaction { try $0.createCollection("t") }
        try await engine.transaction { tx in for i in 0..<2000 { try tx.put(c, Array("key\(i)".utf8), [UInt8](repeating: 7, count: 40)) } }
        try await engine.close()
        let size = fs.contents("/db/data.rdb")!.count
        var rng = SplitMix64(seed: 5)
        for _ in 0..<20 {
            let page = 2 + Int(rng.next() % UInt64(size / 4096 - 2))
            let damaged = fs.crash(seed: 0)
            damaged.corruptByte("/db/data.rdb", at: page * 4096 + 40 + Int(rng.next() % 4000))
            do {
                let reopened = try await StorageEngine.open(path: "/db/data.rdb", options: options(), fileSystem: damaged)
                _ = try await dumpBytes(reopened, "t")
                _ = try reopened.verify()
                Issue.record("a damaged page \(page) went unnoticed")
            } catch let error as RedError {
                #expect(error.code == .dataCorrupted)
                #expect(error.message.contains("/db/data.rdb"))
                #expect(error.message.contains("page"))
            }
        }
    }

    @Test func aFlippedByteInTheMiddleOfTheWALRefusesToOpenAndChangesNothing() async throws {
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/db")
        let engine = try await StorageEngine.open(path: "/db/data.rdb", options: options(), fileSystem: fs)
        let c = try await engine.transaction { try $0.createCollection("t") }
        for i in 0..<50 { try await engine.transaction { try $0.put(c, Array("k\(i)".utf8), Array("value \(i)".utf8)) } }
        let disk = fs.crash(seed: 0)  // every commit was fsynced: nothing is lost
        let segment = try disk.listDirectory("/db/data.rdb-wal").first { $0.hasSuffix(".wal") }!
        let walPath = "/db/data.rdb-wal/" + segment
        disk.corruptByte(walPath, at: 32 + 40)  // inside the first record
        let before = (disk.contents("/db/data.rdb")!, disk.contents(walPath)!)
        let error = await #expect(throws: RedError.self) {
            _ = try await StorageEngine.open(path: "/db/data.rdb", options: options(), fileSystem: disk)
        }
        #expect(error?.code == .dataCorrupted)
        #expect(error?.message.contains(segment) == true)
        #expect(disk.contents("/db/data.rdb")! == before.0)
        #expect(disk.contents(walPath)! == before.1)
    }
}
