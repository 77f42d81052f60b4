import ArgumentParser
import Foundation
import RedBench
import RedCore
import RedDB

/// `red bench duel`: RedDB next to a temporary PostgreSQL 15, same client, same scenarios.
struct BenchDuel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duel",
        abstract: "RedDB and a temporary PostgreSQL 15, side by side, driven by the same PostgresNIO client.",
        discussion: """
            Starts `red server` on a temporary database and a throwaway PostgreSQL cluster (initdb \
            defaults; run as the `postgres` user when we are root), runs each scenario on both with \
            prepared statements, alternating which goes first, and reports medians. Both are stopped \
            and their directories removed afterwards, also on Ctrl-C. Exits 1 if any scenario failed \
            or returned different row counts on the two engines.

            Scenarios: \(DuelRunner.scenarioNames.joined(separator: ", "))
            """)

    @Option(help: "Only these scenarios (comma-separated).")
    var scenario: String?

    @Option(help: "Rows per table and statements per round of the per-row scenarios.")
    var items: Int = 5_000

    @Option(help: "Rows in the table aggregate_group groups.")
    var groupRows: Int = 1_000_000

    @Option(help: "Measured rounds per scenario (the median is reported).")
    var rounds: Int = 3

    @Option(help: "Unmeasured warm-up rounds per scenario.")
    var warmup: Int = 1

    @Option(help: "Client connections of the concurrent scenario.")
    var connections: Int = 16

    @Flag(help: "Compare RedDB's batched sync mode with PostgreSQL's synchronous_commit=off instead of both fsyncing.")
    var relaxed = false

    @Flag(help: "Tiny sizes and one round, to check the harness (CI runs it); asserts equal row counts, never a speed.")
    var smoke = false

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    @Option(help: "Regenerate the figures section of this markdown file (docs/benchmarks.md).")
    var markdown: String?

    @Option(help: "Parent directory for both servers' temporary data (same disk for both).")
    var dir: String = NSTemporaryDirectory()

    @Option(help: "Page-cache budget of RedDB's server in MiB (default: red server's own default).")
    var reddbCacheMib: Int?

    @Option(help: "Directory holding initdb, pg_ctl and postgres (default: PATH, then /usr/lib/postgresql/15/bin).")
    var postgresBin: String?

    func validate() throws {
        guard items >= 20 else { throw ValidationError("--items must be at least 20") }
        guard groupRows >= 100 else { throw ValidationError("--group-rows must be at least 100") }
        guard rounds >= 1, warmup >= 0 else { throw ValidationError("--rounds must be at least 1 and --warmup at least 0") }
        guard (1...256).contains(connections) else { throw ValidationError("--connections must be between 1 and 256") }
        if let reddbCacheMib, reddbCacheMib < 1 { throw ValidationError("--reddb-cache-mib must be at least 1") }
    }

    mutating func run() async throws {
        #if DEBUG
        if !smoke { print("warning: this is a debug build; run `swift run -c release red bench duel` for real figures\n") }
        #endif
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var configuration = DuelConfiguration(directory: dir, redExecutable: executable, redVersion: RedDB.version)
        configuration.scenarioNames = scenario?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
        configuration.relaxed = relaxed
        configuration.postgresBinaries = postgresBin
        configuration.reddbCacheMiB = reddbCacheMib
        configuration.smoke = smoke
        if smoke {
            configuration.sizes = DuelConfiguration.smokeSizes
            configuration.rounds = 1
            configuration.warmupRounds = 0
        } else {
            configuration.sizes = DuelSizes(items: items, groupRows: groupRows, connections: connections)
            configuration.rounds = rounds
            configuration.warmupRounds = warmup
        }
        DuelCleanup.shared.installSignalHandlers()
        defer { DuelCleanup.shared.runAll() }
        let report: DuelReport
        do {
            report = try await DuelRunner.run(configuration) { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) }
        } catch {
            await DuelCleanup.shared.parkIfInterrupted()
            let message = (error as? RedError)?.message ?? "\(error)"
            FileHandle.standardError.write(Data("error: \(message)\n".utf8))
            throw ExitCode(2)
        }
        await DuelCleanup.shared.parkIfInterrupted()
        print("\n" + report.table())
        if let json {
            try report.json().write(to: URL(fileURLWithPath: json))
            print("results written to \(json)")
        }
        if let markdown {
            try report.writeMarkdown(to: markdown, command: commandLine())
            print("figures written to \(markdown)")
        }
        let failures = report.failures
        if !failures.isEmpty {
            print("\n\(failures.count) scenario(s) failed:\n" + failures.map { "  " + $0 }.joined(separator: "\n"))
            throw ExitCode(1)
        }
    }

    /// The command as a user would retype it (without output paths), for the docs.
    func commandLine() -> String {
        var parts = ["red bench duel"]
        if let scenario { parts.append("--scenario \(scenario)") }
        if smoke { parts.append("--smoke") } else {
            parts.append("--items \(items) --group-rows \(groupRows) --rounds \(rounds) --connections \(connections)")
        }
        if relaxed { parts.append("--relaxed") }
        if let reddbCacheMib { parts.append("--reddb-cache-mib \(reddbCacheMib)") }
        return parts.joined(separator: " ")
    }
}
