import Foundation
import RedClient
import RedCore

/// `red bench replication`: how fast a replica keeps up with its primary (both real
/// `red server` processes on this machine, sync mode full, talking over loopback gRPC).
///
/// - **Load catch-up:** `rows` rows go into the primary in bulk-insert batches; the replica's
///   apply rate is compared with the primary's own load rate (the peer: a replica that
///   keeps up applies at least as fast as its primary commits).
/// - **Visibility:** single-row commits on the primary, each timed until a query on the
///   replica sees it (p50/p99); a caught-up replica's pull waits on the primary (long poll),
///   which answers about a millisecond after a commit is durable.
/// - **Copy:** a second replica started against the loaded primary, timed until it serves
///   (it copies every key first): rows per second of the copy.
public enum ReplicationBench {
    public struct Options: Sendable {
        public var rows = 100_000
        public var visibilityProbes = 200
        public var directory = NSTemporaryDirectory() + "red-bench-replication-\(UUID().uuidString)"
        public init() {}
    }

    public struct Report: Sendable {
        public var rows = 0
        public var primaryLoadRowsPerSecond = 0.0
        public var replicaApplyRowsPerSecond = 0.0
        public var lagAfterLoadMilliseconds = 0.0
        public var visibilityP50Milliseconds = 0.0
        public var visibilityP99Milliseconds = 0.0
        public var copyRowsPerSecond = 0.0
        public var copySeconds = 0.0
        public var machine: MachineInfo?

        public var text: String {
            [
                "replication, \(rows) rows (primary and replica on this machine, sync mode full)",
                String(format: "primary bulk load        %10.0f rows/s", primaryLoadRowsPerSecond),
                String(format: "replica apply (catch-up) %10.0f rows/s   %.2f× the primary's load rate", replicaApplyRowsPerSecond,
                       replicaApplyRowsPerSecond / max(primaryLoadRowsPerSecond, 1)),
                String(format: "replica behind at end of load  %8.1f ms", lagAfterLoadMilliseconds),
                String(format: "commit visible on replica  p50 %6.1f ms   p99 %6.1f ms (from the INSERT's start, one at a time)",
                       visibilityP50Milliseconds, visibilityP99Milliseconds),
                String(format: "new replica copy         %10.0f rows/s   (%.2f s until it served)", copyRowsPerSecond, copySeconds),
            ].joined(separator: "\n")
        }

        public var json: JSONValue {
            .object([
                ("rows", .integer(Int64(rows))), ("primary_load_rows_per_sec", .float(primaryLoadRowsPerSecond)),
                ("replica_apply_rows_per_sec", .float(replicaApplyRowsPerSecond)), ("lag_after_load_ms", .float(lagAfterLoadMilliseconds)),
                ("visibility_p50_ms", .float(visibilityP50Milliseconds)), ("visibility_p99_ms", .float(visibilityP99Milliseconds)),
                ("copy_rows_per_sec", .float(copyRowsPerSecond)), ("copy_seconds", .float(copySeconds)),
                ("machine", machine?.json ?? .null),
            ])
        }
    }

    static func listeners(_ role: [String]) -> [String] {
        ["--pg-bind", "127.0.0.1:0", "--wire-bind", "127.0.0.1:0", "--grpc-bind", "127.0.0.1:0", "--http-bind", "off"] + role
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    /// Polls `client` until `SELECT count(*) FROM t` is `rows` (errors: the table is not there yet).
    static func waitForCount(_ client: RedClient, _ rows: Int, table: String) async throws {
        let deadline = ContinuousClock.now + .seconds(600)
        while ContinuousClock.now < deadline {
            if let n = try? await client.query("SELECT count(*) FROM \(table)").rows.first?.first, n == .integer(Int64(rows)) { return }
            try await Task.sleep(for: .milliseconds(2))
        }
        throw RedError(.queryCanceled, "the replica did not reach \(rows) rows in 10 minutes")
    }

    public static func run(executable: String, options: Options) async throws -> Report {
        var report = Report()
        report.rows = options.rows
        report.machine = try? MachineInfo.current(fsyncProbeDirectory: options.directory, seconds: 1)
        let primary = try RedServerProcess(executable: executable, directory: options.directory + "/primary", relaxed: false, cacheMiB: nil,
                                           listeners: listeners(["--role", "primary"]))
        defer { primary.stop() }
        let primaryAddress = "127.0.0.1:\(primary.ports["grpc"] ?? 0)"
        let replica = try RedServerProcess(executable: executable, directory: options.directory + "/replica", relaxed: false, cacheMiB: nil,
                                           listeners: listeners(["--role", "replica", "--primary-addr", primaryAddress]))
        defer { replica.stop() }
        let writer = try await RedClient.connect("red://127.0.0.1:\(primary.ports["wire"] ?? 0)")
        let reader = try await RedClient.connect("red://127.0.0.1:\(replica.ports["wire"] ?? 0)")

        // Load catch-up.
        try await writer.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, score FLOAT)")
        let rows = (0..<options.rows).map { i -> [Value] in [.integer(Int64(i)), .text("name-\(i)"), .float(Double(i % 1000) / 10)] }
        let started = ContinuousClock.now
        for start in stride(from: 0, to: rows.count, by: 10_000) {
            _ = try await writer.bulkInsert(into: "t", columns: ["id", "name", "score"], rows: Array(rows[start..<min(rows.count, start + 10_000)]))
        }
        let loaded = ContinuousClock.now
        try await waitForCount(reader, options.rows, table: "t")
        let caughtUp = ContinuousClock.now
        report.primaryLoadRowsPerSecond = Double(options.rows) / seconds(loaded - started)
        report.replicaApplyRowsPerSecond = Double(options.rows) / seconds(caughtUp - started)
        report.lagAfterLoadMilliseconds = seconds(caughtUp - loaded) * 1000

        // Visibility of single commits.
        try await writer.execute("CREATE TABLE v (id BIGINT PRIMARY KEY)")
        try await waitForCount(reader, 0, table: "v")
        var samples: [Double] = []
        for i in 0..<options.visibilityProbes {
            let committed = ContinuousClock.now
            try await writer.execute("INSERT INTO v VALUES ($1)", [.integer(Int64(i))])
            try await waitForCount(reader, i + 1, table: "v")
            samples.append(seconds(ContinuousClock.now - committed) * 1000)
        }
        samples.sort()
        report.visibilityP50Milliseconds = samples[(samples.count - 1) / 2]
        report.visibilityP99Milliseconds = samples[min(samples.count - 1, Int(Double(samples.count) * 0.99))]
        try await writer.close()
        try await reader.close()

        // A new replica copying the loaded primary.
        let copyStarted = ContinuousClock.now
        let second = try RedServerProcess(executable: executable, directory: options.directory + "/second", relaxed: false, cacheMiB: nil,
                                          listeners: listeners(["--role", "replica", "--primary-addr", primaryAddress]))
        let copySeconds = seconds(ContinuousClock.now - copyStarted)
        defer { second.stop() }
        let check = try await RedClient.connect("red://127.0.0.1:\(second.ports["wire"] ?? 0)")
        let copied = try await check.query("SELECT count(*) FROM t").rows.first?.first
        try await check.close()
        guard copied == .integer(Int64(options.rows)) else { throw RedError(.internalError, "the new replica has \(String(describing: copied)) rows") }
        report.copySeconds = copySeconds
        report.copyRowsPerSecond = Double(options.rows) / copySeconds
        return report
    }
}
