import ArgumentParser
import Foundation
import RedCore
import RedDB

/// `red bench vectors`: exact k-nearest-neighbour search (`VECTOR SEARCH`) timed in-process,
/// against the physical limit of the same search: one loop over the same vectors held as
/// one contiguous `[Float]` in memory, with the same metric and the same top-k heap logic,
/// in the same process. Searches run twice: as configured by default (comparing the
/// collection's in-memory copy, `VectorItemCache`), then reopened without that copy, reading
/// every record. The ratios say what each costs on top of the arithmetic.
/// Every search's ids are also checked against the loop's: an exact search must agree.
///
/// `--form table` times pgvector's form instead: a table with a `vector(n)` column searched by
/// `ORDER BY embedding <=> $1 LIMIT k` (the nearest-first scan, `VectorOrder`), with the copy
/// and without it, and a third time as a sort (`ORDER BY (embedding <=> $1) + 0`, which the
/// planner does not turn into a nearest-first scan), which is how that query ran before.
struct BenchVectors: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vectors",
        abstract: "Exact vector search over a vector collection, against an in-memory loop over the same vectors.")

    @Option(help: "Directory for the database files; removed afterwards.")
    var dir: String = "."

    @Option(help: "Vectors to load.")
    var vectors: Int = 100_000

    @Option(help: "Components per vector.")
    var dimension: Int = 128

    @Option(help: "Searches to time.")
    var searches: Int = 50

    @Option(help: "Nearest neighbours per search.")
    var k: Int = 10

    @Option(help: "cosine, l2 or inner_product.")
    var metric: String = "cosine"

    @Option(help: "Page cache budget in MiB (a server's default is a quarter of the memory).")
    var cacheMiB: Int = 1024

    @Option(help: "collection (VECTOR SEARCH over a vector collection) or table (pgvector's ORDER BY embedding <=> $1 LIMIT k).")
    var form: String = "collection"

    mutating func run() async throws {
        #if DEBUG
        print("warning: this is a debug build; run `swift run -c release red bench vectors` for real figures\n")
        #endif
        guard let metric = VectorMetric(word: metric) else { throw ValidationError("--metric must be cosine, l2 or inner_product") }
        guard vectors > 0, (1...Limits.maxVectorDimensions).contains(dimension), searches > 0, k > 0 else {
            throw ValidationError("--vectors, --dimension, --searches and --k must be positive (dimension at most \(Limits.maxVectorDimensions))")
        }
        guard ["collection", "table"].contains(form) else { throw ValidationError("--form must be collection or table") }
        let table = form == "table"
        let op = ["cosine": "<=>", "l2": "<->", "inner_product": "<#>"][metric.rawValue]!
        let root = (dir as NSString).appendingPathComponent(".red-bench-vectors-\(getpid())")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try await runRemovingOnInterrupt(scratch: root) {
            var options = DatabaseOptions()
            options.engine.cacheBytes = cacheMiB << 20
            var db = try await Database.open(path: root + "/bench.rdb", options: options)
            var session = db.session()
            var random = SystemRandomNumberGenerator()
            func randomVector() -> [Float] { (0..<dimension).map { _ in Float.random(in: -1...1, using: &random) } }

            try await session.execute(table ? "CREATE TABLE bench_v (id bigserial PRIMARY KEY, embedding vector(\(dimension)))"
                                            : "CREATE VECTOR bench_v DIM \(dimension) METRIC \(metric.rawValue)")
            var flat: [Float] = []
            flat.reserveCapacity(vectors * dimension)
            var start = Date()
            let batch = 500
            for lower in stride(from: 0, to: vectors, by: batch) {
                let count = min(batch, vectors - lower)
                var parameters: [Value] = []
                for _ in 0..<count {
                    let v = randomVector()
                    flat += v
                    parameters.append(.vector(v))
                }
                let placeholders = (1...count).map { "($\($0))" }.joined(separator: ", ")
                try await session.execute("INSERT INTO bench_v \(table ? "(embedding)" : "VECTOR (dense)") VALUES \(placeholders)", parameters: parameters)
            }
            report("load \(vectors) vectors of \(dimension)", Date().timeIntervalSince(start), count: vectors, unit: "vectors")
            try await db.engine.checkpoint()

            let queries = (0..<searches).map { _ in randomVector() }
            var limit: [Double] = []
            for query in queries {
                start = Date()
                _ = Self.search(flat, dimension: dimension, query: query, metric: metric, k: k)
                limit.append(Date().timeIntervalSince(start))
            }
            let rawP50 = Self.percentile(limit, 0.5)
            print(String(format: "in-memory loop over the same floats: p50 %.2f ms", rawP50 * 1000))
            // Twice: searches comparing the in-memory copy of the vectors (the default), then,
            // reopened with no vector cache, searches reading every record.
            var mismatches = 0
            let search = table ? "SELECT id FROM bench_v ORDER BY embedding \(op) $1 LIMIT \(k)" : "VECTOR SEARCH bench_v SIMILAR TO $1 LIMIT \(k)"
            let rounds: [(name: String, sql: String, cached: Bool)] = table
                ? [("ORDER BY \(op) (vectors in memory)", search, true), ("ORDER BY \(op) (reading records)", search, false),
                   ("ORDER BY (… \(op) $1) + 0 (a sort)", "SELECT id FROM bench_v ORDER BY (embedding \(op) $1) + 0 LIMIT \(k)", false)]
                : [("VECTOR SEARCH (vectors in memory)", search, true), ("VECTOR SEARCH (reading records)", search, false)]
            for (round, (name, sql, cached)) in rounds.enumerated() {
                if round == 1 {
                    try await db.close()
                    options.engine.vectorCacheBytes = 0
                    db = try await Database.open(path: root + "/bench.rdb", options: options)
                    session = db.session()
                }
                start = Date()
                _ = try await session.execute(sql, parameters: [.vector(queries[0])])  // warms the caches
                if cached { print(String(format: "first search (copies the vectors into memory): %.2f ms", Date().timeIntervalSince(start) * 1000)) }
                var ours: [Double] = []
                for query in queries {
                    start = Date()
                    let result = try await session.execute(sql, parameters: [.vector(query)])
                    ours.append(Date().timeIntervalSince(start))
                    let got = result.rows.map { row -> Int64 in if case .integer(let id) = row[0] { return id } else { return -1 } }
                    if got != Self.search(flat, dimension: dimension, query: query, metric: metric, k: k) { mismatches += 1 }
                }
                let p50 = Self.percentile(ours, 0.5), p99 = Self.percentile(ours, 0.99)
                print(String(format: "%@ k=%d, %@: p50 %.2f ms, p99 %.2f ms (%d searches); loop / search %.2f×",
                             name, k, metric.rawValue, p50 * 1000, p99 * 1000, searches, rawP50 / p50))
            }
            print(mismatches == 0 ? "every search returned the loop's ids" : "MISMATCH: \(mismatches) searches differ from the loop")
            try await db.close()
            if mismatches > 0 { throw ExitCode.failure }
        }
    }

    /// The loop: ids (1-based insertion order) of the best `k`, by score then id. `flat` holds
    /// native floats, which are the stored little-endian ones on every host RedDB builds for.
    static func search(_ flat: [Float], dimension: Int, query: [Float], metric: VectorMetric, k: Int) -> [Int64] {
        var best: [(score: Double, id: Int64)] = []
        best.reserveCapacity(k + 1)
        flat.withUnsafeBytes { all in
            for i in 0..<(flat.count / dimension) {
                let score = metric.score(distance: metric.distance(query, littleEndianFloats: all.baseAddress! + 4 * i * dimension, count: dimension))
                let id = Int64(i + 1)
                if best.count == k, let last = best.last, !(score > last.score || (score == last.score && id < last.id)) { continue }
                let at = best.firstIndex { score > $0.score || (score == $0.score && id < $0.id) } ?? best.count
                best.insert((score, id), at: at)
                if best.count > k { best.removeLast() }
            }
        }
        return best.map(\.id)
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
    }

    func report(_ name: String, _ seconds: Double, count: Int, unit: String) {
        print(name.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: " %10.1f ms  %12.0f ", seconds * 1000, Double(count) / seconds) + unit + "/s")
    }
}
