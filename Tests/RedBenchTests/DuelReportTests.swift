import Foundation
import Testing
@testable import RedBench

/// The duel's arithmetic and renderings, without servers: medians, percentiles, the JSON
/// keys the issue names, the table, and regeneration of docs/benchmarks.md between markers.
struct DuelReportTests {
    static let scenario = DuelScenario(name: "point_select", unit: "queries", summary: "one row by key",
                                       run: { _, _, _ in DuelSample() })

    static func sample(_ operations: Int, seconds: Double, latenciesMs: [Double], rows: Int) -> DuelSample {
        DuelSample(operations: operations, seconds: seconds, latencies: latenciesMs.map { Int64($0 * 1e6) }, rows: rows)
    }

    static func report(_ results: [DuelScenarioResult]) -> DuelReport {
        DuelReport(date: Date(timeIntervalSince1970: 1_800_000_000),
                   machine: MachineInfo(cores: 2, memoryGiB: 24, cpu: "test cpu", kernel: "6.1", fsyncPerSecond: 1234),
                   mode: "durable", sizes: DuelSizes(items: 100, groupRows: 1_000, connections: 4), rounds: 3,
                   warmupRounds: 1, redVersion: "0.1.0", postgresVersion: "15.18", scenarios: results)
    }

    @Test func medianAndPercentiles() {
        #expect(Statistics.median([]) == 0)
        #expect(Statistics.median([3, 1, 2]) == 2)
        #expect(Statistics.median([4, 1, 3, 2]) == 2.5)
        let latencies = (1...100).map { Int64($0) * 1_000_000 }  // 1 ms … 100 ms
        #expect(Statistics.percentile(latencies, 0.50) == 50)
        #expect(Statistics.percentile(latencies, 0.99) == 99)
        #expect(Statistics.percentile([7_000_000], 0.99) == 7)
        #expect(Statistics.percentile([], 0.5) == 0)
    }

    @Test func resultTakesMedianThroughputAndPooledLatencies() {
        let ours = [Self.sample(100, seconds: 1, latenciesMs: [1, 2], rows: 10),
                    Self.sample(100, seconds: 0.5, latenciesMs: [3, 4], rows: 10),
                    Self.sample(100, seconds: 0.25, latenciesMs: [5, 6], rows: 10)]
        let postgres = [Self.sample(100, seconds: 0.5, latenciesMs: [1], rows: 10),
                        Self.sample(100, seconds: 0.5, latenciesMs: [1], rows: 10),
                        Self.sample(100, seconds: 0.5, latenciesMs: [1], rows: 10)]
        let result = DuelScenarioResult(scenario: Self.scenario, reddb: ours, postgres: postgres)
        #expect(result.oursOpsPerSec == 200)
        #expect(result.postgresOpsPerSec == 200)
        #expect(result.ratio == 1)
        #expect(result.oursP50Ms == 3)
        #expect(result.oursP99Ms == 6)
        #expect(result.rowsMatch)
        #expect(result.error == nil)
    }

    @Test func differentRowCountsAreAFailure() {
        let result = DuelScenarioResult(scenario: Self.scenario,
                                        reddb: [Self.sample(10, seconds: 1, latenciesMs: [1], rows: 9)],
                                        postgres: [Self.sample(10, seconds: 1, latenciesMs: [1], rows: 10)])
        #expect(!result.rowsMatch)
        #expect(Self.report([result]).failures == ["point_select: row counts differ: RedDB [9], PostgreSQL [10]"])
        let failed = DuelScenarioResult(failed: Self.scenario, error: "RedDB: [42P01] relation missing")
        #expect(!failed.rowsMatch)
        #expect(Self.report([failed]).table().contains("failed"))
    }

    @Test func jsonUsesTheDocumentedKeys() throws {
        let result = DuelScenarioResult(scenario: Self.scenario,
                                        reddb: [Self.sample(10, seconds: 1, latenciesMs: [2], rows: 3)],
                                        postgres: [Self.sample(20, seconds: 1, latenciesMs: [1], rows: 3)])
        let data = try Self.report([result]).json()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let scenarios = try #require(object["scenarios"] as? [[String: Any]])
        let first = try #require(scenarios.first)
        #expect(first["name"] as? String == "point_select")
        #expect(first["ours_ops_per_sec"] as? Double == 10)
        #expect(first["postgres_ops_per_sec"] as? Double == 20)
        #expect(first["ratio"] as? Double == 0.5)
        #expect(first["ours_p50_ms"] as? Double == 2)
        #expect(first["postgres_p99_ms"] as? Double == 1)
        #expect(first["rows_match"] as? Bool == true)
        let machine = try #require(object["machine"] as? [String: Any])
        #expect(machine["fsync_per_sec"] as? Double == 1234)
        #expect(object["mode"] as? String == "durable")
    }

    @Test func tableAlignsAndExplainsTheRatio() {
        let result = DuelScenarioResult(scenario: Self.scenario,
                                        reddb: [Self.sample(1_500, seconds: 1, latenciesMs: [0.5], rows: 3)],
                                        postgres: [Self.sample(1_000, seconds: 1, latenciesMs: [0.75], rows: 3)])
        let table = Self.report([result]).table()
        let lines = table.split(separator: "\n")
        #expect(lines[0].hasPrefix("scenario"))
        #expect(lines[2].contains("1500") && lines[2].contains("1000") && lines[2].contains("1.50×"))
        #expect(lines[0].count == lines[1].count)
        #expect(table.contains("above 1.00: RedDB is faster"))
    }

    @Test func groupCommitLineComparesEachServersEightToOne() {
        func result(_ scenario: DuelScenario, ours: Int, postgres: Int) -> DuelScenarioResult {
            DuelScenarioResult(scenario: scenario, reddb: [Self.sample(ours, seconds: 1, latenciesMs: [1], rows: ours)],
                               postgres: [Self.sample(postgres, seconds: 1, latenciesMs: [1], rows: ours)])
        }
        let one = result(GroupCommit.one, ours: 500, postgres: 800)
        let eight = result(GroupCommit.eight, ours: 3_500, postgres: 4_000)
        let report = Self.report([one, eight])
        #expect(report.groupCommitLine == "group commit, 8 connections against 1: RedDB 7.00×, PostgreSQL 5.00× (commits/s 500 → 3500 and 800 → 4000)")
        #expect(report.table().contains("RedDB 7.00×, PostgreSQL 5.00×"))
        #expect(report.markdownSection(command: "red bench duel").contains("RedDB 7.00×, PostgreSQL 5.00×"))
        #expect(Self.report([one]).groupCommitLine == nil)  // only with both scenarios
    }

    @Test func markdownRegenerationKeepsTheProseAroundTheMarkers() throws {
        let path = NSTemporaryDirectory() + "duel-md-\(UUID().uuidString).md"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = DuelScenarioResult(scenario: Self.scenario,
                                        reddb: [Self.sample(10, seconds: 1, latenciesMs: [2], rows: 3)],
                                        postgres: [Self.sample(20, seconds: 1, latenciesMs: [1], rows: 3)])
        let report = Self.report([result])
        try report.writeMarkdown(to: path, command: "red bench duel --items 100")
        var text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("# Benchmarks"))
        #expect(text.contains("| point_select | queries | 10.0 | 20.0 | 0.50× |"))
        #expect(text.contains("1234 write+fdatasync per second"))
        #expect(text.contains("`red bench duel --items 100`"))

        text = "# Mine\n\nintro\n\n" + text[text.range(of: DuelReport.sectionBegin)!.lowerBound...] + "\n## Why\n\nanalysis\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try report.writeMarkdown(to: path, command: "red bench duel --items 200")
        let regenerated = try String(contentsOfFile: path, encoding: .utf8)
        #expect(regenerated.hasPrefix("# Mine\n\nintro\n\n"))
        #expect(regenerated.hasSuffix("## Why\n\nanalysis\n"))
        #expect(regenerated.contains("--items 200") && !regenerated.contains("--items 100"))
        #expect(regenerated.components(separatedBy: DuelReport.sectionBegin).count == 2)
    }

    @Test func scenarioSelection() throws {
        #expect(try DuelScenarios.named([]).count == 24)
        #expect(try DuelScenarios.named(["join", "typed_insert"]).map(\.name) == ["join", "typed_insert"])
        #expect(throws: DuelError.self) { try DuelScenarios.named(["nope"]) }
        #expect(DuelRunner.scenarioNames == ["typed_insert", "bulk_insert", "bulk_insert_copy", "point_select", "range_scan",
                                             "concurrent", "commits_1", "commits_8", "bulk_update", "aggregate_group", "aggregate_numeric", "semi_join", "exists_correlated", "window_running", "join", "delete_sequential",
                                             "fk_insert", "fk_delete_cascade", "identity_insert", "queue_claim", "transfer",
                                             "trigger_before_row", "trigger_after_row", "plpgsql_call"])
    }

    @Test func batchInsertBindsEveryParameterOnce() {
        let batch = InsertUserBatch(firstID: 1)
        #expect(batch.values.count == InsertUserBatch.rowsPerStatement * 6)
        #expect(InsertUserBatch.sql.contains("$600)") && !InsertUserBatch.sql.contains("$601"))
        #expect(DuelSchema.chunked(120_001, chunk: 50_000) { "\($0)-\($1)" } == ["1-50000", "50001-100000", "100001-120001"])
        #expect(DuelSchema.userLine(7) == "7\tuser-7\tuser-7@example.com\t7\tcity-7\t0")
    }
}

/// Children of the duel: spawned, their output captured, reaped.
struct SpawnedProcessTests {
    @Test func runCapturesOutputAndStatus() throws {
        #expect(try ChildProcess.run("/bin/sh", ["-c", "echo out; echo err >&2"]) == "out\nerr\n")
        #expect(throws: (any Error).self) { try ChildProcess.run("/bin/sh", ["-c", "echo broken; exit 3"]) }
        #expect(throws: (any Error).self) { try ChildProcess.run("/nonexistent/program", []) }
    }

    @Test func readLineWaitsForTheReadyLine() throws {
        let child = try SpawnedProcess(["/bin/sh", "-c", "echo starting; sleep 0.1; echo 'ready pg=127.0.0.1:5432'; sleep 5"],
                                       stdout: .capture, stderr: .inherit)
        let line = child.readLine(startingWith: "ready ", timeout: .seconds(10))
        #expect(line == "ready pg=127.0.0.1:5432")
        kill(child.pid, SIGTERM)
        #expect(child.waitForExit() == 128 + SIGTERM)
        close(child.outputFD)
    }

    @Test func readLineGivesUpAtEndOfOutput() throws {
        let child = try SpawnedProcess(["/bin/sh", "-c", "echo nothing useful"], stdout: .capture, stderr: .inherit)
        #expect(child.readLine(startingWith: "ready ", timeout: .seconds(10)) == nil)
        #expect(child.waitForExit() == 0)
        close(child.outputFD)
    }

    @Test func freePortIsBindable() throws {
        let port = try ChildProcess.freeLoopbackPort()
        #expect(port > 0 && port < 65_536)
    }
}
