import Foundation
import RedCore
import RedStorage
import Testing
@testable import RedEngine

@Suite struct LargeDataTests {
    func record(_ i: Int) -> [UInt8] {
        var rng = SplitMix64(seed: UInt64(i))
        return rng.nextBytes(i % 50 == 0 ? 6000 : 100)
    }

    @Test func dataTenTimesTheCacheReadsBackExactly() async throws {
        let dir = try temporaryDirectory("large")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = EngineOptions()
        options.cacheBytes = 256 << 10
        options.checkpointWALBytes = 1 << 20
        let path = dir + "/data.rdb"
        let engine = try await StorageEngine.open(path: path, options: options)
        let c = try await engine.transaction { try $0.createCollection("big") }
        let count = 30_000  // ≈ 6.5 MiB of records: 25× the cache budget
        for start in stride(from: 0, to: count, by: 500) {
            try await engine.transaction { tx in
                for i in start..<(start + 500) { try tx.put(c, Array(String(format: "%08d", i).utf8), record(i)) }
            }
        }
        let stats = engine.statistics
        #expect(stats.cache.residentBytes <= options.cacheBytes + 64 << 10)
        #expect(stats.cache.evictions > 0)
        #expect(Int(stats.pageCount) * 4096 > 10 * options.cacheBytes)
        try await engine.close()

        let reopened = try await StorageEngine.open(path: path, options: options)
        let tx = try reopened.begin()
        var rng = SplitMix64(seed: 99)
        for _ in 0..<2000 {
            let i = Int(rng.next() % UInt64(count))
            #expect(try tx.get(c, Array(String(format: "%08d", i).utf8)) == record(i))
        }
        var n = 0
        let cursor = try tx.scan(c)
        while let entry = try cursor.next() {
            #expect(entry.key == Array(String(format: "%08d", n).utf8))
            #expect(entry.value == record(n))
            n += 1
        }
        #expect(n == count)
        #expect(try reopened.verify().entries > count)
        tx.rollback()
        try await reopened.close()
    }
}
