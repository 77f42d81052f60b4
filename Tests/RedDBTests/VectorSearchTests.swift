import Foundation
import Testing
import RedCore
@testable import RedDB
@testable import RedQuery

/// `VECTOR SEARCH` against an answer computed here: random vectors, every metric, many
/// `k`, with and without a filter and a threshold. The search keeps only `k` rows in a
/// heap while it scans, so these tests check that what it keeps is exactly the first `k`
/// of the full ordering (score descending, then entity id), ties included.
@Suite struct VectorSearchTests {
    struct Item {
        let rid: Int64
        let vector: [Float]
        let group: Int
    }

    /// Deterministic pseudo-random numbers (xorshift), so a failure can be replayed.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
    }

    /// `parallel`: every search is split into three parts (`VectorSearchNode`'s parallel path).
    /// `cached`: searches compare the vectors held in memory (`VectorItemCache`) rather than
    /// reading every record.
    static func load(count: Int, dimension: Int, seed: UInt64, parallel: Bool = false, cached: Bool = true) async throws -> (Session, [Item]) {
        var options = DatabaseOptions()
        if !cached { options.engine.vectorCacheBytes = 0 }
        if parallel {
            options.executionLimits.parallelScanMinimumRows = 8
            options.executionLimits.parallelScanParts = 3
        } else {
            options.executionLimits.parallelScanMinimumRows = .max
        }
        let session = try await Database.inMemory(options: options).session()
        try await session.execute("CREATE VECTOR pts DIM \(dimension)")
        var random = Generator(state: seed)
        var items: [Item] = []
        for i in 0..<count {
            // Small integers give many exact ties in score, which the ordering must break by id.
            let vector = (0..<dimension).map { _ in Float(Int.random(in: -3...3, using: &random)) }
            items.append(Item(rid: Int64(i + 1), vector: vector, group: i % 4))
        }
        for chunk in stride(from: 0, to: count, by: 200) {
            let slice = items[chunk..<min(count, chunk + 200)]
            let values = slice.map { "([\($0.vector.map { String(Int($0)) }.joined(separator: ", "))], {\"g\": \($0.group)})" }
            try await session.execute("INSERT INTO pts VECTOR (dense, metadata) VALUES \(values.joined(separator: ", "))")
        }
        return (session, items)
    }

    /// The first `k` items by score (then id) under `metric`, as `VECTOR SEARCH` defines it.
    static func expected(_ items: [Item], query: [Float], metric: VectorMetric, k: Int, group: Int?, threshold: Double?) -> [Int64] {
        items.filter { group == nil || $0.group == group }
            .map { (rid: $0.rid, distance: metric.distance(query, $0.vector)) }
            .filter { threshold == nil || metric.passes(threshold: threshold!, distance: $0.distance) }
            .sorted { a, b in
                let sa = metric.score(distance: a.distance), sb = metric.score(distance: b.distance)
                return sa != sb ? sa > sb : a.rid < b.rid
            }
            .prefix(k).map(\.rid)
    }

    @Test(arguments: VectorMetric.allCases, [(false, false), (true, false), (false, true), (true, true)])
    func searchKeepsExactlyTheBestK(metric: VectorMetric, mode: (parallel: Bool, cached: Bool)) async throws {
        let parallel = mode.parallel
        let (session, items) = try await Self.load(count: 1_500, dimension: 4, seed: 0x9E37_79B9_7F4A_7C15, parallel: parallel, cached: mode.cached)
        let counter = AggregateNode.PartsCounter()
        var random = Generator(state: 42)
        for round in 0..<12 {
            let query = (0..<4).map { _ in Float(Int.random(in: -3...3, using: &random)) }
            let k = [1, 2, 7, 10, 64, 300, 2_000][round % 7]
            let group: Int? = round % 3 == 0 ? round % 4 : nil
            let threshold: Double? = round % 4 == 1 ? (metric == .l2 ? 4 : 0.25) : nil
            var sql = "SELECT entity_id FROM (VECTOR SEARCH pts SIMILAR TO [\(query.map { String(Int($0)) }.joined(separator: ", "))]"
            if let group { sql += " WHERE g = \(group)" }
            sql += " METRIC \(metric.rawValue)"
            if let threshold { sql += " THRESHOLD \(threshold)" }
            sql += " LIMIT \(k)) s"
            let got = try await AggregateNode.$partsCounter.withValue(counter) { try await session.execute(sql) }.rows.map { row -> Int64 in
                guard case .integer(let rid) = row[0] else { return -1 }
                return rid
            }
            #expect(got == Self.expected(items, query: query, metric: metric, k: k, group: group, threshold: threshold), "\(sql)")
        }
        // Twelve searches in three parts each; cached, round 6 (k 2,000 and a filter passing a
        // quarter of the items) would read more records one by one than a scan reads, so it also scans.
        #expect(counter.value.load(ordering: .relaxed) == (parallel ? (mode.cached ? 39 : 36) : 0))
        // Cached: the first search built the entry, the other eleven used it.
        let cache = session.database.store.vectorItems.counters
        #expect((cache.builds, cache.hits) == (mode.cached ? (1, 11) : (0, 0)))
    }

    @Test func vectorsSurviveReopen() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vectors-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/data.rdb"
        do {
            let database = try await Database.open(path: path)
            let session = database.session()
            try await session.execute("CREATE VECTOR keep DIM 3 METRIC inner_product")
            try await session.execute(#"INSERT INTO keep VECTOR (dense, content, metadata) VALUES ([0.1, 0.2, 0.3], 'small', {"n": 1}), ([1, 2, 3], 'large', NULL)"#)
            try await database.close()
        }
        let database = try await Database.open(path: path)
        let session = database.session()
        let rows = try await session.execute("SELECT entity_id, content, metadata, dense FROM (VECTOR SEARCH keep SIMILAR TO [1, 1, 1] INCLUDE VECTORS) s").rows
        #expect(rows.map { $0.map(\.displayText) } == [["2", "large", "NULL", "[1,2,3]"], ["1", "small", #"{"n":1}"#, "[0.1,0.2,0.3]"]])
        #expect(try await session.execute("SHOW VECTORS").rows == [[.text("keep"), .integer(3), .text("inner_product")]])
        let mismatch = await #expect(throws: RedError.self) { try await session.execute("INSERT INTO keep VECTOR (dense) VALUES ([1, 2])") }
        #expect(mismatch?.code == .invalidArgument)
        try await database.close()
    }

    @Test func vectorValuesAreCheckedOnWrite() async throws {
        let session = try await Database.inMemory().session()
        try await session.execute("CREATE VECTOR v DIM 2")
        for (sql, code) in [("INSERT INTO v VECTOR (dense) VALUES ($1)", RedError.Code.invalidArgument)] {
            for bad: Value in [.vector([.nan, 1]), .vector([.infinity, 1]), .vector([])] {
                let error = await #expect(throws: RedError.self) { try await session.execute(sql, parameters: [bad]) }
                #expect(error?.code == code, "\(bad)")
            }
        }
        try await session.execute("CREATE VECTOR wide DIM \(Limits.maxVectorDimensions)")
        let tooWide = Value.vector([Float](repeating: 1, count: Limits.maxVectorDimensions + 1))
        let error = await #expect(throws: RedError.self) { try await session.execute("INSERT INTO loose VECTOR (dense) VALUES ($1)", parameters: [tooWide]) }
        #expect(error?.code == .limitExceeded)
        let dimError = await #expect(throws: RedError.self) { try await session.execute("CREATE VECTOR huge DIM \(Limits.maxVectorDimensions + 1)") }
        #expect(dimError?.code == .syntaxError)
    }
}
