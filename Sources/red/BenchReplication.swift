import ArgumentParser
import Foundation
import RedBench

/// `red bench replication`: a primary and a replica on this machine; catch-up rate,
/// visibility latency and the copy rate of a new replica.
struct BenchReplication: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replication",
        abstract: "How fast a replica keeps up with its primary (both real servers on this machine).",
        discussion: "Run from a release build: swift run -c release red bench replication")

    @Option(help: "Rows of the bulk load the replica catches up with.")
    var rows = 100_000

    @Option(help: "Single-row commits timed until the replica sees them.")
    var probes = 200

    @Option(help: "Write the figures as JSON to this file.")
    var json: String?

    func run() async throws {
        var options = ReplicationBench.Options()
        options.rows = max(1, rows)
        options.visibilityProbes = max(1, probes)
        try FileManager.default.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
        try await runRemovingOnInterrupt(scratch: options.directory) {
            let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            let report = try await ReplicationBench.run(executable: executable, options: options)
            print(report.text)
            if let json { try report.json.text.write(toFile: json, atomically: true, encoding: .utf8) }
        }
    }
}
