import Foundation
import Testing

/// `red bench duel --smoke`: the real binary starts a temporary PostgreSQL 15 and its own
/// server, runs every scenario once at tiny sizes on both, and must report every scenario
/// on both engines with equal row counts. It asserts no speed.
///
/// PostgreSQL's server programs are installed by `scripts/install-postgres` (which
/// `scripts/test` runs); `scripts/test` sets REDDB_REQUIRE_POSTGRES=1, so in CI a missing
/// PostgreSQL fails this test instead of skipping it.
@Suite(.serialized) struct BenchDuelSmokeTests {
    static let postgresAvailable = ["/usr/lib/postgresql/15/bin/initdb", "/usr/local/bin/initdb", "/usr/bin/initdb"]
        .contains { FileManager.default.isExecutableFile(atPath: $0) }
    static let postgresRequired = ProcessInfo.processInfo.environment["REDDB_REQUIRE_POSTGRES"] == "1"

    @Test func smokeRunsEveryScenarioOnBothEngines() async throws {
        guard Self.postgresAvailable || Self.postgresRequired else {
            print("notice: PostgreSQL server programs not found; skipping BenchDuelSmokeTests (scripts/install-postgres installs them)")
            return
        }
        // Deliberately long: PostgreSQL's Unix socket under a path like this would pass the
        // 107-byte limit and fail to start, so the duel's PostgreSQL must listen on TCP only.
        let directory = NSTemporaryDirectory() + "red-duel-smoke-" + UUID().uuidString + "-" + String(repeating: "d", count: 80)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let json = directory + "/duel.json"
        let markdown = directory + "/benchmarks.md"

        let (status, text) = try await offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try ServerProcess.redPath())
            process.arguments = ["bench", "duel", "--smoke", "--json", json, "--markdown", markdown, "--dir", directory]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, text)
        }
        #expect(status == 0, "\(text)")

        let data = try Data(contentsOf: URL(fileURLWithPath: json))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let scenarios = try #require(report["scenarios"] as? [[String: Any]])
        let names = scenarios.compactMap { $0["name"] as? String }
        #expect(names == ["typed_insert", "bulk_insert", "bulk_insert_copy", "point_select", "range_scan", "concurrent",
                          "commits_1", "commits_8", "bulk_update", "aggregate_group", "aggregate_numeric", "semi_join", "exists_correlated", "window_running", "join", "delete_sequential",
                          "fk_insert", "fk_delete_cascade", "identity_insert", "queue_claim", "transfer",
                          "trigger_before_row", "trigger_after_row", "plpgsql_call"])
        for scenario in scenarios {
            let name = scenario["name"] as? String ?? "?"
            let ours = scenario["ours_rows"] as? [Int] ?? []
            let postgres = scenario["postgres_rows"] as? [Int] ?? []
            #expect(ours.count == 1 && ours == postgres, "\(name): RedDB \(ours), PostgreSQL \(postgres)")
            #expect(ours.first ?? 0 > 0, "\(name) touched no rows")
            #expect((scenario["ours_ops_per_sec"] as? Double ?? 0) > 0, "\(name) did not run on RedDB")
            #expect((scenario["postgres_ops_per_sec"] as? Double ?? 0) > 0, "\(name) did not run on PostgreSQL")
            #expect(scenario["error"] == nil, "\(name): \(scenario["error"] ?? "")")
        }
        let doc = try String(contentsOfFile: markdown, encoding: .utf8)
        #expect(doc.contains("| typed_insert | inserts |"))
        #expect(doc.contains("group commit, 8 connections against 1: RedDB"))

        // Both servers are gone and their directories removed.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("red-duel-") }
        #expect(leftovers.isEmpty, "left behind: \(leftovers)")
    }

    /// Ctrl-C in the middle of a scenario: exit 130, PostgreSQL and our server stopped,
    /// their directories removed.
    @Test func interruptTearsBothServersDown() async throws {
        guard Self.postgresAvailable || Self.postgresRequired else { return }
        let directory = NSTemporaryDirectory() + "red-duel-interrupt-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let (seen, serverDirectories, status) = try await offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try ServerProcess.redPath())
            process.arguments = ["bench", "duel", "--smoke", "--dir", directory]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            var seen = ""
            let deadline = Date().addingTimeInterval(120)
            while !seen.contains("round 1"), Date() < deadline {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                seen += String(decoding: chunk, as: UTF8.self)
            }
            let serverDirectories = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("red-duel-") }
            kill(process.processIdentifier, SIGINT)
            process.waitUntilExit()
            return (seen, serverDirectories, process.terminationStatus)
        }
        #expect(seen.contains("round 1"), "\(seen)")
        #expect(serverDirectories.count == 1)
        #expect(status == 130)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("red-duel-") }.isEmpty)
        #expect(Self.processes(mentioning: directory).isEmpty, "still running: \(Self.processes(mentioning: directory))")
    }

    /// Command lines of running processes that contain `text`.
    static func processes(mentioning text: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int($0) != nil }.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return line.contains(text) ? line : nil
        }
    }
}
