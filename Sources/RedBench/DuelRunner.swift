import Foundation

/// Everything `red bench duel` was asked for.
public struct DuelConfiguration: Sendable {
    public var scenarioNames: [String] = []
    public var sizes = DuelSizes(items: 5_000, groupRows: 1_000_000, connections: 16)
    public var rounds = 3
    public var warmupRounds = 1
    /// Our `batched` sync mode against PostgreSQL's `synchronous_commit=off`.
    public var relaxed = false
    /// Tiny sizes, one round: keeps the harness working in CI; asserts no speed.
    public var smoke = false
    /// Parent of the temporary directories both servers keep their data in.
    public var directory: String
    /// The `red` binary that serves our side (the running one).
    public var redExecutable: String
    public var redVersion: String
    /// Page-cache budget of our server (`red server --cache-mib`); its default when nil.
    public var reddbCacheMiB: Int?
    /// Directory of initdb/pg_ctl/postgres; found on PATH or in Debian's place when nil.
    public var postgresBinaries: String?

    public static let smokeSizes = DuelSizes(items: 200, groupRows: 2_000, connections: 4)

    public init(directory: String, redExecutable: String, redVersion: String) {
        self.directory = directory
        self.redExecutable = redExecutable
        self.redVersion = redVersion
    }
}

/// Runs the duel: both servers up, each scenario prepared, warmed up and measured in
/// rounds that alternate which engine goes first (so drift in the disk or the machine hits
/// both alike), medians kept; then both servers down and their directories removed.
///
/// A scenario that fails on either engine, or whose row counts differ, is reported as
/// such and the duel goes on; `DuelReport.failures` lists them and the command exits 1.
public enum DuelRunner {
    /// Every scenario, in the order a full duel runs them.
    public static var scenarioNames: [String] { DuelScenarios.all.map(\.name) }

    public static func run(_ configuration: DuelConfiguration, progress: @Sendable (String) -> Void) async throws -> DuelReport {
        let scenarios = try DuelScenarios.named(configuration.scenarioNames)
        let binaries = try PostgresCluster.locateBinaries(explicit: configuration.postgresBinaries)
        let root = (configuration.directory as NSString).appendingPathComponent("red-duel-\(getpid())")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        chmod(root, 0o755)  // PostgreSQL runs as another user and must reach its directory below
        let rootToken = DuelCleanup.shared.add { try? FileManager.default.removeItem(atPath: root) }
        defer {
            DuelCleanup.shared.remove(rootToken)
            try? FileManager.default.removeItem(atPath: root)
        }

        progress("measuring the disk's fsync rate in \(configuration.directory)")
        let machine = try MachineInfo.current(fsyncProbeDirectory: root, seconds: configuration.smoke ? 0.2 : 2)
        progress("starting PostgreSQL (\(binaries)) and RedDB (\(configuration.redExecutable))")
        let postgres = try PostgresCluster(directory: root + "/postgres", binaries: binaries, relaxed: configuration.relaxed)
        defer { postgres.stop() }
        let reddb = try RedServerProcess(executable: configuration.redExecutable, directory: root + "/reddb",
                                         relaxed: configuration.relaxed, cacheMiB: configuration.reddbCacheMiB)
        defer { reddb.stop() }
        let endpoints = [reddb.endpoint, postgres.endpoint]
        let postgresConnection = try await DuelConnection.open(postgres.endpoint, id: 1)
        let postgresVersion = (try? await postgresConnection.integers("SELECT current_setting('server_version_num')::BIGINT").first)
            .flatMap { $0 }.map { "\($0 / 10_000).\($0 % 10_000)" } ?? "?"
        let connections: [DuelEngine: DuelConnection] = [
            .reddb: try await DuelConnection.open(reddb.endpoint, id: 2),
            .postgres: postgresConnection,
        ]
        defer { for connection in connections.values { Task { await connection.close() } } }

        var results: [DuelScenarioResult] = []
        for scenario in scenarios {
            progress("\(scenario.name): \(scenario.summary)")
            do {
                results.append(try await measure(scenario, configuration, endpoints, connections, progress))
            } catch {
                await DuelCleanup.shared.parkIfInterrupted()
                progress("  FAILED: \(error)")
                results.append(DuelScenarioResult(failed: scenario, error: "\(error)"))
            }
        }
        return DuelReport(
            date: Date(), machine: machine, mode: configuration.relaxed ? "relaxed" : "durable",
            sizes: configuration.sizes, rounds: configuration.rounds, warmupRounds: configuration.warmupRounds,
            redVersion: configuration.redVersion, postgresVersion: postgresVersion, scenarios: results)
    }

    private static func measure(
        _ scenario: DuelScenario, _ configuration: DuelConfiguration, _ endpoints: [DuelEndpoint],
        _ connections: [DuelEngine: DuelConnection], _ progress: @Sendable (String) -> Void
    ) async throws -> DuelScenarioResult {
        let sizes = configuration.sizes
        for endpoint in endpoints {
            try await scenario.prepareOnce?(connections[endpoint.engine]!, sizes)
        }
        func once(_ endpoint: DuelEndpoint) async throws -> DuelSample {
            let connection = connections[endpoint.engine]!
            try await scenario.prepareRound?(connection, sizes)
            return try await scenario.run(connection, endpoint, sizes)
        }
        for _ in 0..<configuration.warmupRounds {
            for endpoint in endpoints { _ = try await once(endpoint) }
        }
        var samples: [DuelEngine: [DuelSample]] = [:]
        for round in 0..<configuration.rounds {
            let order = round % 2 == 0 ? endpoints : endpoints.reversed()
            for endpoint in order {
                let sample = try await once(endpoint)
                samples[endpoint.engine, default: []].append(sample)
                let name = endpoint.engine.displayName.padding(toLength: 10, withPad: " ", startingAt: 0)
                let rate = Double(sample.operations) / max(sample.seconds, 1e-9)
                progress("  round \(round + 1) \(name) " + String(format: "%12.1f", rate) + " \(scenario.unit)/s  (\(sample.rows) rows)")
            }
        }
        return DuelScenarioResult(scenario: scenario, reddb: samples[.reddb] ?? [], postgres: samples[.postgres] ?? [])
    }
}
