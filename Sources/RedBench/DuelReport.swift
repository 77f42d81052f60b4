import Foundation

/// One scenario's figures on both engines: median throughput over the measured rounds,
/// latency percentiles over every statement of those rounds, and the row check.
public struct DuelScenarioResult: Sendable, Codable {
    public var name: String
    public var unit: String
    public var summary: String
    public var oursOpsPerSec: Double
    public var postgresOpsPerSec: Double
    /// Ours over PostgreSQL's: above 1 we are faster.
    public var ratio: Double
    public var oursP50Ms: Double
    public var oursP99Ms: Double
    public var postgresP50Ms: Double
    public var postgresP99Ms: Double
    public var oursRoundsOpsPerSec: [Double]
    public var postgresRoundsOpsPerSec: [Double]
    /// Rows returned or affected in each round (the `--smoke` check: equal on both).
    public var oursRows: [Int]
    public var postgresRows: [Int]
    public var rowsMatch: Bool
    public var oursRetries: Int
    public var postgresRetries: Int
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case name, unit, summary, ratio, error
        case oursOpsPerSec = "ours_ops_per_sec"
        case postgresOpsPerSec = "postgres_ops_per_sec"
        case oursP50Ms = "ours_p50_ms"
        case oursP99Ms = "ours_p99_ms"
        case postgresP50Ms = "postgres_p50_ms"
        case postgresP99Ms = "postgres_p99_ms"
        case oursRoundsOpsPerSec = "ours_rounds_ops_per_sec"
        case postgresRoundsOpsPerSec = "postgres_rounds_ops_per_sec"
        case oursRows = "ours_rows"
        case postgresRows = "postgres_rows"
        case rowsMatch = "rows_match"
        case oursRetries = "ours_retries"
        case postgresRetries = "postgres_retries"
    }

    init(scenario: DuelScenario, reddb: [DuelSample], postgres: [DuelSample]) {
        name = scenario.name
        unit = scenario.unit
        summary = scenario.summary
        oursRoundsOpsPerSec = reddb.map { Double($0.operations) / max($0.seconds, 1e-9) }
        postgresRoundsOpsPerSec = postgres.map { Double($0.operations) / max($0.seconds, 1e-9) }
        oursOpsPerSec = Statistics.median(oursRoundsOpsPerSec)
        postgresOpsPerSec = Statistics.median(postgresRoundsOpsPerSec)
        ratio = postgresOpsPerSec > 0 ? oursOpsPerSec / postgresOpsPerSec : 0
        let oursLatencies = reddb.flatMap(\.latencies).sorted()
        let postgresLatencies = postgres.flatMap(\.latencies).sorted()
        oursP50Ms = Statistics.percentile(oursLatencies, 0.50)
        oursP99Ms = Statistics.percentile(oursLatencies, 0.99)
        postgresP50Ms = Statistics.percentile(postgresLatencies, 0.50)
        postgresP99Ms = Statistics.percentile(postgresLatencies, 0.99)
        oursRows = reddb.map(\.rows)
        postgresRows = postgres.map(\.rows)
        rowsMatch = !reddb.isEmpty && oursRows == postgresRows
        oursRetries = reddb.reduce(0) { $0 + $1.retries }
        postgresRetries = postgres.reduce(0) { $0 + $1.retries }
        error = rowsMatch ? nil : "row counts differ: RedDB \(oursRows), PostgreSQL \(postgresRows)"
    }

    init(failed scenario: DuelScenario, error: String) {
        self.init(scenario: scenario, reddb: [], postgres: [])
        self.error = error
    }
}

enum Statistics {
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// Nearest-rank percentile of sorted nanosecond latencies, in milliseconds.
    static func percentile(_ sorted: [Int64], _ fraction: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
        return Double(sorted[min(max(rank, 0), sorted.count - 1)]) / 1e6
    }
}

/// The duel's outcome, and its three renderings: the terminal table, `--json`, and the
/// figures section of `docs/benchmarks.md`.
public struct DuelReport: Sendable, Codable {
    public var date: Date
    public var machine: MachineInfo
    /// `durable` (both fsync before acknowledging) or `relaxed`.
    public var mode: String
    public var sizes: DuelSizes
    public var rounds: Int
    public var warmupRounds: Int
    public var redVersion: String
    public var postgresVersion: String
    public var scenarios: [DuelScenarioResult]

    enum CodingKeys: String, CodingKey {
        case date, machine, mode, sizes, rounds, scenarios
        case warmupRounds = "warmup_rounds"
        case redVersion = "reddb_version"
        case postgresVersion = "postgres_version"
    }

    /// Scenarios that failed or disagreed on row counts.
    public var failures: [String] { scenarios.compactMap { s in s.error.map { "\(s.name): \($0)" } } }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(self)
    }

    var modeDescription: String {
        mode == "relaxed"
            ? "relaxed: RedDB `--sync-mode batched` vs PostgreSQL `synchronous_commit=off`"
            : "durable: both fsync before acknowledging a commit (RedDB `--sync-mode full`, PostgreSQL defaults)"
    }

    /// Rows of (scenario, unit, ours, PostgreSQL, ratio, latencies), formatted for both tables.
    private func rows() -> [[String]] {
        scenarios.map { s in
            if s.error != nil && s.oursRoundsOpsPerSec.isEmpty {
                return [s.name, s.unit, "failed", "failed", "—", "—", "—"]
            }
            return [
                s.name + (s.rowsMatch ? "" : " (rows differ)"), s.unit,
                Self.rate(s.oursOpsPerSec), Self.rate(s.postgresOpsPerSec), String(format: "%.2f×", s.ratio),
                String(format: "%@ / %@", Self.ms(s.oursP50Ms), Self.ms(s.oursP99Ms)),
                String(format: "%@ / %@", Self.ms(s.postgresP50Ms), Self.ms(s.postgresP99Ms)),
            ]
        }
    }

    private static let headers = ["scenario", "unit", "RedDB /s", "PostgreSQL /s", "ratio", "RedDB p50 / p99 ms", "PostgreSQL p50 / p99 ms"]

    static func rate(_ value: Double) -> String {
        value >= 100 ? String(format: "%.0f", value) : String(format: "%.1f", value)
    }

    static func ms(_ value: Double) -> String {
        value >= 100 ? String(format: "%.0f", value) : value >= 1 ? String(format: "%.2f", value) : String(format: "%.3f", value)
    }

    /// The terminal table: aligned columns, ratio = ours / PostgreSQL (above 1: we are faster).
    public func table() -> String {
        let body = rows()
        let widths = Self.headers.indices.map { column in
            ([Self.headers[column]] + body.map { $0[column] }).map(\.count).max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                return index < 2 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
        var text = line(Self.headers) + "\n"
        text += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for row in body { text += line(row) + "\n" }
        text += "ratio = RedDB / PostgreSQL throughput (above 1.00: RedDB is faster); \(modeDescription)\n"
        if let groupCommitLine { text += groupCommitLine + "\n" }
        return text
    }

    /// The generated section of docs/benchmarks.md.
    public func markdownSection(command: String) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        var text = """
            Measured on \(formatter.string(from: date)) with `\(command)`.

            | machine | |
            |---|---|
            | cores | \(machine.cores) (\(machine.cpu)) |
            | memory | \(String(format: "%.0f", machine.memoryGiB)) GiB |
            | disk | \(String(format: "%.0f", machine.fsyncPerSecond)) write+fdatasync per second |
            | kernel | \(machine.kernel) |
            | engines | RedDB \(redVersion), PostgreSQL \(postgresVersion) (initdb defaults) |
            | durability | \(modeDescription) |
            | sizes | \(sizes.items) items, \(sizes.groupRows) rows grouped, \(sizes.connections) connections; \(warmupRounds) warm-up + \(rounds) measured rounds, medians |

            | \(Self.headers.joined(separator: " | ")) |
            |\(Self.headers.indices.map { $0 < 2 ? "---" : "---:" }.joined(separator: "|"))|

            """
        for row in rows() { text += "| " + row.joined(separator: " | ") + " |\n" }
        text += "\nratio = RedDB / PostgreSQL throughput: above 1.00, RedDB is faster.\n"
        if let groupCommitLine { text += "\n" + groupCommitLine + ".\n" }
        text += "\nWhat each scenario does:\n\n"
        for s in scenarios { text += "- `\(s.name)` (\(s.unit)): \(s.summary)\n" }
        let retried = scenarios.filter { $0.oursRetries + $0.postgresRetries > 0 }
        for s in retried {
            text += "\n`\(s.name)`: RedDB retried \(s.oursRetries) statements after 40001 (snapshot isolation fails a conflicting update where PostgreSQL waits for the lock); PostgreSQL retried \(s.postgresRetries).\n"
        }
        return text
    }

    static let sectionBegin = "<!-- duel:begin (generated by `red bench duel --markdown`; edit outside these markers) -->"
    static let sectionEnd = "<!-- duel:end -->"

    /// Replaces the generated section of the markdown file at `path` (keeping the prose
    /// around it), or writes a new file with just a title and the section.
    public func writeMarkdown(to path: String, command: String) throws {
        let section = Self.sectionBegin + "\n" + markdownSection(command: command) + Self.sectionEnd
        var text: String
        if let existing = try? String(contentsOfFile: path, encoding: .utf8),
           let begin = existing.range(of: Self.sectionBegin), let end = existing.range(of: Self.sectionEnd),
           begin.lowerBound < end.lowerBound {
            text = existing
            text.replaceSubrange(begin.lowerBound..<end.upperBound, with: section)
        } else {
            text = "# Benchmarks: RedDB next to PostgreSQL\n\n" + section + "\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
