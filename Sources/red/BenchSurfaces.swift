import ArgumentParser
import Foundation
import RedBench
import RedCore

/// `red bench surfaces`: SELECT 1 latency and bulk-insert throughput over every surface.
struct BenchSurfaces: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "surfaces",
        abstract: "SELECT 1 round trips and 100,000-row loads over RedWire, gRPC, HTTP and PG-wire, next to PostgreSQL 15.",
        discussion: """
            Starts `red server` (sync mode full) with every surface on its own loopback port and, when \
            PostgreSQL 15 is installed, a throwaway PostgreSQL cluster on the same disk. Latency: one \
            request at a time on one connection, p50 and p99 over every timed request, taken in \
            --latency-rounds rounds that rotate through the surfaces. Loads: RedWire bulk stream, gRPC \
            BulkInsertBinary, HTTP multi-row INSERTs, COPY over PG-wire, and PostgreSQL's own COPY, \
            --loads rounds of them (each surface once per round, a fresh table each); the median is shown.
            """)

    @Option(help: "Timed SELECT 1 requests per surface.")
    var requests = 5_000

    @Option(help: "Untimed requests first.")
    var warmup = 500

    @Option(help: "Rounds the latency requests are split into; each round visits every surface, starting one later than the last.")
    var latencyRounds = 10

    @Option(help: "Measure the latency of these surfaces only, comma-separated names as in the table (e.g. 'PG-wire,PostgreSQL').")
    var only: String?

    @Option(name: .customLong("loads-only"), help: "Run these loads only, comma-separated names as in the table (e.g. 'RedWire bulk,PostgreSQL COPY').")
    var loadsOnly: String?

    @Option(help: "Rows each load inserts.")
    var rows = 100_000

    @Option(help: "Rounds of loads: every surface loads once per round into a table of its own; the table shows the median. 0: latency only.")
    var loads = 3

    @Option(help: "Directory holding initdb, pg_ctl and postgres.")
    var postgresBin: String?

    @Option(name: .customLong("server-cpus"), help: "Run red server, PostgreSQL and the echo peer on these CPUs (e.g. 0, or 0-1; as taskset -c takes them).")
    var serverCPUs: String?

    @Option(name: .customLong("client-cpus"), help: "Run the blocking-socket probes on these CPUs. With --server-cpus 0 --client-cpus 0 every round trip stays on one core; with --client-cpus 1 each crosses cores.")
    var clientCPUs: String?

    @Option(help: "Write the figures as JSON to this file.")
    var json: String?

    func validate() throws {
        do {
            _ = try serverCPUs.map(CPUPinning.parse)
            _ = try clientCPUs.map(CPUPinning.parse)
        } catch let error as RedError {
            throw ValidationError(error.message)
        }
    }

    mutating func run() async throws {
        var options = SurfaceBench.Options()
        options.requests = max(1, requests)
        options.warmup = max(0, warmup)
        options.latencyRounds = max(1, latencyRounds)
        options.rows = max(1, rows)
        options.loads = max(0, loads)
        options.latencySurfaces = Set((only ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        options.loadSurfaces = Set((loadsOnly ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        options.postgresBin = postgresBin
        options.serverCPUs = try serverCPUs.map(CPUPinning.parse)
        options.clientCPUs = try clientCPUs.map(CPUPinning.parse)
        try FileManager.default.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        // Ctrl-C or SIGTERM stops both servers (they register themselves) and removes the directory.
        let report = try await runRemovingOnInterrupt(scratch: options.directory) {
            try await SurfaceBench.run(executable: executable, options: options)
        }
        print(report.text)
        if let json { try report.json.text.write(toFile: json, atomically: true, encoding: .utf8) }
    }
}
