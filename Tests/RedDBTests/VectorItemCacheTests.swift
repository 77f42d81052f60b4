import Testing
import RedCore
@testable import RedDB
@testable import RedEngine

/// `VectorItemCache`: searches served from in-memory copies of a collection's vectors must
/// answer exactly as searches that read the records, whatever was written, rolled back,
/// expired or seen by an older snapshot in between.
@Suite struct VectorItemCacheTests {
    static func database(cacheBytes: Int = 256 << 20, clock: ManualClock) async throws -> Database {
        var options = DatabaseOptions()
        options.engine.vectorCacheBytes = cacheBytes
        options.clock = clock
        options.executionLimits.parallelScanMinimumRows = 64  // both paths also run in parts
        return try await Database.inMemory(options: options)
    }

    static func text(_ rows: [[Value]]) -> [[String]] { rows.map { $0.map(\.displayText) } }

    @Test func searchesAnswerAlikeWithAndWithoutTheCacheUnderRandomWrites() async throws {
        let clock = ManualClock(milliseconds: 1_780_000_000_000)
        let cached = try await Self.database(clock: clock).session()
        let uncached = try await Self.database(cacheBytes: 0, clock: clock).session()
        func both(_ sql: String) async throws -> [[String]] {
            let a = Self.text(try await cached.execute(sql).rows), b = Self.text(try await uncached.execute(sql).rows)
            #expect(a == b, "\(sql)")
            return a
        }
        _ = try await both("CREATE VECTOR v DIM 3 METRIC l2")
        var random = VectorSearchTests.Generator(state: 0xC0FF_EE12_3456_789A)  // replayable
        func component() -> String { String(Int.random(in: -4...4, using: &random)) }
        func vector() -> String { "[\(component()), \(component()), \(component())]" }
        var nextRid = 1
        for step in 0..<400 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0, 1:
                let ttl = Int.random(in: 0..<4, using: &random) == 0 ? " WITH TTL \(Int.random(in: 1...5, using: &random)) s" : ""
                _ = try await both("INSERT INTO v VECTOR (dense, content, metadata) VALUES (\(vector()), 'item \(nextRid)', {\"g\": \(nextRid % 3)})\(ttl)")
                nextRid += 1
            case 2:
                _ = try await both("UPDATE v SET dense = \(vector()) WHERE rid = \(Int.random(in: 1...max(1, nextRid), using: &random))")
            case 3:
                _ = try await both("DELETE FROM v WHERE rid = \(Int.random(in: 1...max(1, nextRid), using: &random))")
            case 4:
                clock.advance(milliseconds: Int64(Int.random(in: 100...2_000, using: &random)))
            case 5:
                // A transaction's own writes are seen by its searches, and gone after ROLLBACK.
                for session in [cached, uncached] { try await session.execute("BEGIN") }
                _ = try await both("INSERT INTO v VECTOR (dense) VALUES (\(vector()))")
                _ = try await both("SELECT entity_id, distance FROM (VECTOR SEARCH v SIMILAR TO \(vector()) LIMIT 3) s")
                for session in [cached, uncached] { try await session.execute("ROLLBACK") }
            default:
                let k = [1, 3, 10, 50][Int.random(in: 0..<4, using: &random)]
                var sql = "VECTOR SEARCH v SIMILAR TO \(vector())"
                if step % 3 == 0 { sql += " WHERE g = \(step % 3)" }
                if step % 5 == 0 { sql += " THRESHOLD 4" }
                if step % 7 == 0 { sql += " INCLUDE VECTORS" }
                _ = try await both(sql + " LIMIT \(k)")
                _ = try await both("SEARCH SIMILAR \(vector()) COLLECTION v LIMIT \(k)")
            }
        }
        let counters = cached.database.store.vectorItems.counters
        #expect(counters.builds > 0 && counters.hits > counters.builds, "the cache served searches: \(counters)")
        #expect(uncached.database.store.vectorItems.counters.builds == 0)
    }

    @Test func aTransactionSearchesItsSnapshotNotANewerEntry() async throws {
        let database = try await Self.database(clock: ManualClock(milliseconds: 1_780_000_000_000))
        let reader = database.session(), writer = database.session()
        try await writer.execute("CREATE VECTOR v DIM 2 METRIC l2")
        try await writer.execute("INSERT INTO v VECTOR (dense) VALUES ([10, 10]), ([20, 20])")
        let nearest = "SELECT entity_id FROM (VECTOR SEARCH v SIMILAR TO [0, 0] LIMIT 1) s"
        try await reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        #expect(Self.text(try await reader.execute(nearest).rows) == [["1"]])
        try await writer.execute("INSERT INTO v VECTOR (dense) VALUES ([1, 1])")
        #expect(Self.text(try await writer.execute(nearest).rows) == [["3"]])  // builds an entry that has item 3
        #expect(Self.text(try await reader.execute(nearest).rows) == [["1"]])  // which the reader's snapshot does not see
        try await reader.execute("DELETE FROM v WHERE rid = 1")
        #expect(Self.text(try await reader.execute(nearest).rows) == [["2"]])  // its own delete, not in any entry
        try await reader.execute("ROLLBACK")
        #expect(Self.text(try await reader.execute(nearest).rows) == [["3"]])
        let counters = database.store.vectorItems.counters
        #expect(counters.builds == 2 && counters.hits == 1, "\(counters)")
    }

    @Test func writesBetweenMostSearchesMakeRebuildsBackOff() async throws {
        let database = try await Self.database(clock: ManualClock(milliseconds: 1_780_000_000_000))
        let session = database.session()
        try await session.execute("CREATE VECTOR v DIM 2 METRIC l2")
        for i in 1...100 {
            try await session.execute("INSERT INTO v VECTOR (dense) VALUES ([\(1000 - i), 0])")
            #expect(Self.text(try await session.execute("SELECT entity_id FROM (VECTOR SEARCH v SIMILAR TO [0, 0] LIMIT 1) s").rows) == [["\(i)"]])
        }
        let afterWrites = database.store.vectorItems.counters
        #expect(afterWrites.builds <= 12, "a build per search would be 100: \(afterWrites)")
        // Reading again: at most a few scans still backing off, then one build serves the rest.
        for _ in 0..<80 {
            #expect(Self.text(try await session.execute("SELECT entity_id FROM (VECTOR SEARCH v SIMILAR TO [0, 0] LIMIT 1) s").rows) == [["100"]])
        }
        let afterReads = database.store.vectorItems.counters
        #expect(afterReads.builds == afterWrites.builds + 1 && afterReads.hits - afterWrites.hits >= 15, "\(afterWrites) → \(afterReads)")
    }

    @Test func entriesKeepToTheBudgetLeastRecentlyUsedGoingFirst() async throws {
        // 100 items of 8 dimensions: 100 × (32 + 16) + 64 = 4,864 bytes an entry.
        let database = try await Self.database(cacheBytes: 6_000, clock: ManualClock(milliseconds: 1_780_000_000_000))
        let session = database.session()
        for name in ["a", "b", "big"] {
            try await session.execute("CREATE VECTOR \(name) DIM 8 METRIC l2")
            let count = name == "big" ? 200 : 100
            let values = (1...count).map { "([\($0), 0, 0, 0, 0, 0, 0, 0])" }.joined(separator: ", ")
            try await session.execute("INSERT INTO \(name) VECTOR (dense) VALUES \(values)")
        }
        func nearest(_ name: String) async throws -> [[String]] {
            Self.text(try await session.execute("SELECT entity_id FROM (VECTOR SEARCH \(name) SIMILAR TO [0, 0, 0, 0, 0, 0, 0, 0] LIMIT 2) s").rows)
        }
        #expect(try await nearest("a") == [["1"], ["2"]])
        #expect(try await nearest("a") == [["1"], ["2"]])
        #expect(database.store.vectorItems.counters.builds == 1 && database.store.vectorItems.counters.hits == 1)
        #expect(try await nearest("b") == [["1"], ["2"]])  // evicts a
        #expect(database.store.vectorItems.counters.bytes <= 6_000)
        #expect(try await nearest("a") == [["1"], ["2"]])  // built again
        #expect(database.store.vectorItems.counters.builds == 3 && database.store.vectorItems.counters.hits == 1)
        for _ in 0..<3 { #expect(try await nearest("big") == [["1"], ["2"]]) }  // over budget: scanned, never kept
        #expect(database.store.vectorItems.counters.builds == 3 && database.store.vectorItems.counters.bytes <= 6_000)
    }

    @Test func aDroppedAndRecreatedCollectionIsNotAnsweredFromTheOldOne() async throws {
        let database = try await Self.database(clock: ManualClock(milliseconds: 1_780_000_000_000))
        let session = database.session()
        try await session.execute("CREATE VECTOR v DIM 2 METRIC l2")
        try await session.execute("INSERT INTO v VECTOR (dense, content) VALUES ([1, 1], 'old')")
        let nearest = "SELECT content FROM (VECTOR SEARCH v SIMILAR TO [0, 0] LIMIT 1) s"
        #expect(Self.text(try await session.execute(nearest).rows) == [["old"]])
        try await session.execute("DROP VECTOR v")
        try await session.execute("CREATE VECTOR v DIM 2 METRIC l2")
        #expect(Self.text(try await session.execute(nearest).rows) == [])
        try await session.execute("INSERT INTO v VECTOR (dense, content) VALUES ([2, 2], 'new')")
        #expect(Self.text(try await session.execute(nearest).rows) == [["new"]])
    }
}
