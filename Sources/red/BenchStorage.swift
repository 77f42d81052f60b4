import ArgumentParser
import RedBench
import Foundation
import RedDB

/// `red bench storage`: the storage engine against the disk's own limit.
///
/// All figures come from one run on one disk (the directory given by
/// `--dir`), so the ratios are meaningful even where absolute numbers are
/// not: the durable commit rate is compared with the raw rate of
/// write + fdatasync the same disk sustains, and concurrent writers with a
/// single writer (group commit should share fsyncs between them).
struct BenchStorage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Raw fsync rate, durable commits/s at 1/8/32 writers, bulk inserts, point reads and a full scan.")

    @Option(help: "Directory for the benchmark files (on the disk you want to measure); removed afterwards.")
    var dir: String = "."

    @Option(help: "Records for the insert, read and scan scenarios.")
    var records: Int = 1_000_000

    @Option(help: "Seconds each fsync or commit-rate measurement runs.")
    var seconds: Double = 2

    @Option(help: "Rounds of the fsync and commit scenarios, alternated so that drift in the disk's speed hits all alike; medians are reported.")
    var rounds: Int = 3

    @Option(help: "Page cache budget in MiB.")
    var cacheMiB: Int = 64

    @Option(help: "Sync mode for the engine scenarios: full (default, fsync before acknowledging), batched or off.")
    var syncMode: String = "full"

    @Option(help: "Also write the results as JSON to this file.")
    var json: String?

    @Option(parsing: .upToNextOption, help: "Concurrent writer counts of the commit-rate scenarios (the table's ratios need 1 and 8).")
    var writers: [Int] = [1, 8, 32]

    @Flag(help: "Only the fsync and commit-rate scenarios (no inserts, reads or scans).")
    var commitsOnly = false

    mutating func run() async throws {
        MemoryTuning.applyForServer(environment: ProcessInfo.processInfo.environment)  // as `red server` runs
        #if DEBUG
        print("warning: this is a debug build; run `swift run -c release red bench storage` for real figures\n")
        #endif
        let root = (dir as NSString).appendingPathComponent(".red-bench-\(getpid())")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try await runRemovingOnInterrupt(scratch: root) {
            var results = BenchResults()

            var fsyncSamples: [Double] = []
            var commitSamples: [Int: [Double]] = [:]
            for round in 1...max(1, rounds) {
                let fsync = try rawFsyncRate(path: root + "/fsync-\(round).bin")
                fsyncSamples.append(fsync)
                print(String(format: "round %d: raw write+fdatasync %10.0f /s", round, fsync))
                for writers in self.writers where writers > 0 {
                    let (rate, groupCommit) = try await commitRate(path: root + "/commits-\(round)-\(writers).rdb", writers: writers)
                    commitSamples[writers, default: []].append(rate)
                    print(String(format: "round %d: commits (%@), %2d writers %10.0f /s", round, syncMode, writers, rate))
                    if let groupCommit { print("         " + groupCommit) }
                }
            }
            results.fsyncPerSecond = median(fsyncSamples)
            for (writers, samples) in commitSamples { results.commitsPerSecond[writers] = median(samples) }
            if !commitsOnly { try await bulkScenarios(path: root + "/bulk.rdb", into: &results) }

            print("\n" + results.table())
            if let json {
                try results.json().write(toFile: json, atomically: true, encoding: .utf8)
                print("wrote \(json)")
            }
        }
    }

    func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// Writes 128-byte records one after another into a zero-filled file, with fdatasync after
    /// each: the best a log commit can do on this disk (the WAL zero-fills ahead the same way).
    func rawFsyncRate(path: String) throws -> Double {
        try FsyncProbe.rate(path: path, seconds: seconds)
    }

    func options() throws -> EngineOptions {
        var o = EngineOptions()
        o.cacheBytes = cacheMiB << 20
        guard let mode = SyncMode(rawValue: syncMode) else {
            throw ValidationError("--sync-mode must be one of: full, batched, off")
        }
        o.syncMode = mode
        return o
    }

    /// `writers` tasks each committing one small put per transaction, in full sync mode; the rate,
    /// and a line on how group commit shared the fsyncs (nil when nothing was fsynced).
    func commitRate(path: String, writers: Int) async throws -> (Double, String?) {
        let engine = try await StorageEngine.open(path: path, options: try options())
        let collection = try await engine.transaction { try $0.createCollection("bench") }
        let deadline = ContinuousClock.now + .seconds(seconds)
        let start = ContinuousClock.now
        let value = [UInt8](repeating: 1, count: 100)  // shared: the client's own cost stays out of the figure
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for w in 0..<writers {
                group.addTask {
                    var n = 0
                    while ContinuousClock.now < deadline {
                        let tx = try engine.begin()
                        try tx.put(collection, key(w << 40 | n), value)
                        try await tx.commit()
                        n += 1
                    }
                    return n
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = (ContinuousClock.now - start).seconds
        let wal = engine.statistics.wal
        let groupCommit = wal.fsyncs == 0 ? nil
            : String(format: "%d fsyncs, %.2f commits per fsync, %.0f µs per fsync, %.0f µs gathering per fsync",
                     wal.fsyncs, Double(wal.recordsSynced) / Double(wal.fsyncs),
                     Double(wal.fsyncNanoseconds) / Double(wal.fsyncs) / 1000,
                     Double(wal.gatherNanoseconds) / Double(wal.fsyncs) / 1000)
        try await engine.close()
        return (Double(total) / elapsed, groupCommit)
    }

    func key(_ i: Int) -> [UInt8] {
        var k = [UInt8](repeating: 0, count: 8)
        for b in 0..<8 { k[b] = UInt8(truncatingIfNeeded: i >> (56 - 8 * b)) }
        return k
    }

    func bulkScenarios(path: String, into results: inout BenchResults) async throws {
        let value = [UInt8](repeating: 0x5A, count: 32)
        let engine = try await StorageEngine.open(path: path, options: try options())
        let (one, batched) = try await engine.transaction { tx in
            (try tx.createCollection("one_txn"), try tx.createCollection("batched"))
        }
        var timer = ContinuousClock.now
        let tx = try engine.begin()
        for i in 0..<records { try tx.put(one, key(i), value) }
        try await tx.commit()
        results.insertOneTransactionPerSecond = Double(records) / (ContinuousClock.now - timer).seconds
        print(String(format: "insert %d, one transaction: %10.0f records/s", records, results.insertOneTransactionPerSecond))

        timer = ContinuousClock.now
        for start in stride(from: 0, to: records, by: 1000) {
            let tx = try engine.begin()
            for i in start..<min(records, start + 1000) { try tx.put(batched, key(i), value) }
            try await tx.commit()
        }
        results.insertBatchesPerSecond = Double(records) / (ContinuousClock.now - timer).seconds
        print(String(format: "insert %d, batches of 1000: %9.0f records/s", records, results.insertBatchesPerSecond))

        try await engine.checkpoint()
        let reads = min(records, 200_000)
        var rng = SplitMix64(seed: 1)
        timer = ContinuousClock.now
        let reader = try engine.begin()
        for _ in 0..<reads {
            guard try reader.get(batched, key(Int(rng.next() % UInt64(records)))) != nil else {
                throw RedError(.internalError, "point read missed a key")
            }
        }
        results.pointReadsPerSecond = Double(reads) / (ContinuousClock.now - timer).seconds
        print(String(format: "random point reads:          %10.0f /s", results.pointReadsPerSecond))

        timer = ContinuousClock.now
        let cursor = try reader.scan(batched)
        var scanned = 0
        while try cursor.next() != nil { scanned += 1 }
        guard scanned == records else { throw RedError(.internalError, "scan returned \(scanned) of \(records)") }
        results.scanRecordsPerSecond = Double(records) / (ContinuousClock.now - timer).seconds
        print(String(format: "full range scan:             %10.0f records/s", results.scanRecordsPerSecond))
        reader.rollback()
        let stats = engine.statistics.cache
        results.cacheHitRatio = Double(stats.hits) / Double(max(1, stats.hits + stats.misses))
        try await engine.close()
    }
}

struct BenchResults {
    var fsyncPerSecond = 0.0
    var commitsPerSecond: [Int: Double] = [:]
    var insertOneTransactionPerSecond = 0.0
    var insertBatchesPerSecond = 0.0
    var pointReadsPerSecond = 0.0
    var scanRecordsPerSecond = 0.0
    var cacheHitRatio = 0.0

    func table() -> String {
        let one = commitsPerSecond[1] ?? 0
        var rows: [(String, Double, String)] = [
            ("raw write+fdatasync /s", fsyncPerSecond, "1.00 (the disk's limit)"),
        ]
        for w in commitsPerSecond.keys.sorted() {
            let rate = commitsPerSecond[w] ?? 0
            let ratio = w == 1 ? String(format: "%.2f of raw fsync (target ≥ 0.90)", rate / fsyncPerSecond)
                : one == 0 ? ""  // no 1-writer run to compare with
                : String(format: "%.2f× 1 writer%@", rate / one, w == 8 ? " (target ≥ 6×)" : "")
            rows.append(("durable commits/s, \(w) writer\(w == 1 ? "" : "s")", rate, ratio))
        }
        if scanRecordsPerSecond > 0 {  // not with --commits-only
            rows.append(("insert records/s, one transaction", insertOneTransactionPerSecond, ""))
            rows.append(("insert records/s, batches of 1000", insertBatchesPerSecond, ""))
            rows.append(("random point reads/s", pointReadsPerSecond, String(format: "cache hit ratio %.3f", cacheHitRatio)))
            rows.append(("full scan records/s", scanRecordsPerSecond, ""))
        }
        var out = "| scenario | result | ratio |\n|---|---:|---|\n"
        for (name, value, ratio) in rows { out += String(format: "| %@ | %.0f | %@ |\n", name, value, ratio) }
        return out
    }

    func json() -> String {
        let commits = [1, 8, 32].map { "\"\($0)\": \(Int(commitsPerSecond[$0] ?? 0))" }.joined(separator: ", ")
        let one = max(commitsPerSecond[1] ?? 0, 1)
        return """
        {"fsync_per_sec": \(Int(fsyncPerSecond)), "commits_per_sec": {\(commits)}, \
        "insert_one_txn_records_per_sec": \(Int(insertOneTransactionPerSecond)), \
        "insert_batch_1000_records_per_sec": \(Int(insertBatchesPerSecond)), \
        "point_reads_per_sec": \(Int(pointReadsPerSecond)), "scan_records_per_sec": \(Int(scanRecordsPerSecond)), \
        "ratios": {"commits_1_vs_fsync": \(String(format: "%.3f", (commitsPerSecond[1] ?? 0) / max(fsyncPerSecond, 1))), \
        "commits_8_vs_1": \(String(format: "%.3f", (commitsPerSecond[8] ?? 0) / one)), \
        "commits_32_vs_1": \(String(format: "%.3f", (commitsPerSecond[32] ?? 0) / one))}}

        """
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
