import Foundation
import NIOCore
import PostgresNIO
import RedClient
import RedCore

/// `red bench surfaces`: the same work over each network surface of one `red server`, in one
/// run, next to PostgreSQL 15 on the same machine.
///
/// 1. Round-trip latency of `SELECT 1`, one request at a time on one connection: RedWire,
///    gRPC and HTTP through `RedClient`, PG-wire through PostgresNIO (extended protocol);
///    PostgreSQL itself through the same PostgresNIO client as the reference. Then RedWire,
///    PG-wire and PostgreSQL again from a blocking socket (`BlockingLatencyProbe`), and a
///    loopback echo as the floor (`EchoPeer`, a process of its own like the servers), so the
///    server's share is told apart from the driver's.
/// 2. Inserting `rows` rows `(id BIGINT PRIMARY KEY, name TEXT, score FLOAT)` into a fresh
///    table: RedWire's bulk stream, gRPC `BulkInsertBinary`, HTTP multi-row INSERTs (all via
///    `RedClient.bulkInsert`), COPY over PG-wire, and PostgreSQL's own COPY as the reference.
///    This is done `loads` times, every surface once per round, each load into a table of its
///    own; the table shows each surface's median load. The first round meets both servers
///    cold (fresh processes, untouched memory); later rounds show what a running server does,
///    and the rounds' interleaving spreads this VM's noise over every surface alike.
///
/// The server runs with `--sync-mode full`, PostgreSQL with its defaults (fsync on), both on
/// the same disk. Latencies are p50/p99 over every timed request; throughputs are rows over
/// wall time of the whole load, commit included.
public enum SurfaceBench {
    public struct Options: Sendable {
        public var requests = 5_000
        public var warmup = 500
        /// Rounds the latency requests are split into, rotating through the surfaces.
        public var latencyRounds = 10
        /// Surfaces whose latency is measured (names as in the table); empty: all of them.
        public var latencySurfaces: Set<String> = []
        /// Loads to run (names as in the table: "RedWire bulk", "PostgreSQL COPY", …); empty: all.
        public var loadSurfaces: Set<String> = []
        public var rows = 100_000
        public var loads = 3
        public var postgresBin: String?
        /// CPUs the servers and the echo peer run on, and those the blocking-socket probes run
        /// on (`CPUPinning`); nil: wherever the scheduler puts them.
        public var serverCPUs: [Int]?
        public var clientCPUs: [Int]?
        public var directory = NSTemporaryDirectory() + "red-bench-surfaces-" + UUID().uuidString
        public init() {}
    }

    public struct Latency: Sendable {
        public var surface: String
        public var p50Microseconds: Double
        public var p99Microseconds: Double

        init(surface: String, p50Microseconds: Double, p99Microseconds: Double) {
            self.surface = surface
            self.p50Microseconds = p50Microseconds
            self.p99Microseconds = p99Microseconds
        }
    }

    public struct Load: Sendable {
        public var surface: String
        /// Every round's load, in the order they ran.
        public var rounds: [Double] = []
        /// CPU seconds the loading server's processes used in each round (`ProcessCPU`), and the rows
        /// of those rounds; empty where `/proc` could not tell.
        public var cpuSeconds: [Double] = []
        public var cpuRows = 0

        /// The server's CPU per row over every round, in microseconds; nil when not measured.
        public var cpuMicrosecondsPerRow: Double? {
            cpuRows > 0 ? cpuSeconds.reduce(0, +) * 1_000_000 / Double(cpuRows) : nil
        }

        /// The median round (the lower middle one of an even count).
        public var rowsPerSecond: Double {
            let sorted = rounds.sorted()
            return sorted.isEmpty ? 0 : sorted[(sorted.count - 1) / 2]
        }
    }

    public struct Report: Sendable {
        public var latencies: [Latency] = []
        public var loads: [Load] = []
        public var postgresVersion: String?
        public var machine: MachineInfo?

        /// The terminal table.
        public var text: String {
            var lines = ["SELECT 1 round trip (one at a time; '(socket)': a blocking-socket client; 'ext': the extended protocol)",
                         "surface                     p50 µs     p99 µs"]
            for l in latencies {
                lines.append(l.surface.padding(toLength: 24, withPad: " ", startingAt: 0)
                             + String(format: "%9.1f  %9.1f", l.p50Microseconds, l.p99Microseconds))
            }
            guard !loads.isEmpty else { return lines.joined(separator: "\n") }
            let copy = loads.first { $0.surface == "PostgreSQL COPY" }?.rowsPerSecond
            let rounds = loads.first?.rounds.count ?? 0
            lines += ["", "inserting rows (median of \(rounds) load\(rounds == 1 ? "" : "s") each; every round's rows/s after the ratio)",
                      "surface               rows/s   vs PostgreSQL COPY   server CPU µs/row   rounds"]
            for l in loads {
                let ratio = copy.map { String(format: "%.2f×", l.rowsPerSecond / $0) } ?? "—"
                let cpu = l.cpuMicrosecondsPerRow.map { String(format: "%.2f", $0) } ?? "—"
                lines.append(l.surface.padding(toLength: 18, withPad: " ", startingAt: 0)
                             + String(format: "%10.0f   ", l.rowsPerSecond) + ratio.padding(toLength: 21, withPad: " ", startingAt: 0)
                             + cpu.padding(toLength: 20, withPad: " ", startingAt: 0)
                             + l.rounds.map { String(format: "%.0f", $0) }.joined(separator: " "))
            }
            lines.append("server CPU: user + system time of the loading server's processes (PostgreSQL: the postmaster and its backends), "
                         + "over every round, per row")
            return lines.joined(separator: "\n")
        }

        public var json: JSONValue {
            .object([
                ("latency_us", .object(latencies.map { ($0.surface, .object([("p50", .float($0.p50Microseconds)), ("p99", .float($0.p99Microseconds))])) })),
                ("insert_rows_per_sec", .object(loads.map { ($0.surface, .float($0.rowsPerSecond)) })),
                ("insert_rounds", .object(loads.map { ($0.surface, .array($0.rounds.map { .float($0) })) })),
                ("insert_server_cpu_us_per_row", .object(loads.map { ($0.surface, $0.cpuMicrosecondsPerRow.map { .float($0) } ?? .null) })),
                ("machine", machine?.json ?? .null),
                ("postgres_version", postgresVersion.map { .string($0) } ?? .null),
            ])
        }
    }

    public static func run(executable: String, options: Options) async throws -> Report {
        let server = try CPUPinning.whileSpawning(on: options.serverCPUs) {
            try RedServerProcess(executable: executable, directory: options.directory + "/red", relaxed: false, cacheMiB: nil,
                                 listeners: ["--pg-bind", "127.0.0.1:0", "--http-bind", "127.0.0.1:0", "--wire-bind", "127.0.0.1:0",
                                             "--grpc-bind", "127.0.0.1:0"])
        }
        defer { server.stop() }
        var postgres: PostgresCluster?
        if let binaries = try? PostgresCluster.locateBinaries(explicit: options.postgresBin) {
            postgres = try CPUPinning.whileSpawning(on: options.serverCPUs) {
                try PostgresCluster(directory: options.directory + "/pg", binaries: binaries, relaxed: false)
            }
        } else {
            FileHandle.standardError.write(Data("PostgreSQL not found: its reference figures are left out (see --postgres-bin)\n".utf8))
        }
        defer { postgres?.stop() }
        var report = Report()
        report.machine = try? MachineInfo.current(fsyncProbeDirectory: options.directory, seconds: 1)
        let open = OpenClients()
        do {
            return try await measure(executable: executable, server: server, postgres: postgres, options: options, into: report, open: open)
        } catch {
            // A failure (a server gone, an unknown --only name) must close the clients still open:
            // AsyncHTTPClient traps when a client it made is released unclosed.
            await open.closeAll()
            throw error
        }
    }

    /// The clients `measure` has open, so that a failure can close them.
    final class OpenClients: @unchecked Sendable {
        var red: [RedClient] = []
        var postgres: [DuelConnection] = []

        func closeAll() async {
            for client in red { try? await client.close() }
            for connection in postgres { await connection.close() }
            red = []
            postgres = []
        }
    }

    static func measure(executable: String, server: RedServerProcess, postgres: PostgresCluster?, options: Options, into report: Report,
                        open: OpenClients) async throws -> Report {
        var report = report
        let port = { (name: String) in server.ports[name] ?? 0 }
        let clients: [(String, String)] = [("RedWire", "red://127.0.0.1:\(port("wire"))"), ("gRPC", "grpc://127.0.0.1:\(port("grpc"))"),
                                           ("HTTP", "http://127.0.0.1:\(port("http"))")]

        // Every surface's connection stays open while the rounds rotate through them.
        var surfaces: [LatencySurface] = []
        for (name, url) in clients {
            let client = try await RedClient.connect(url)
            open.red.append(client)
            surfaces.append(LatencySurface(name) { try await timed($0, $1) { _ = try await client.query("SELECT 1") } })
            if name == "RedWire" {
                // The same client, its caller running on the connection's event loop.
                surfaces.append(LatencySurface("RedWire (on its loop)") { requests, warmup in
                    try await client.withConnectionExecutor { try await timed(requests, warmup) { _ = try await client.query("SELECT 1") } }
                })
            }
        }
        let redPG = try await DuelConnection.open(server.endpoint, id: 1)
        open.postgres.append(redPG)
        surfaces.append(LatencySurface("PG-wire") { try await timed($0, $1) { try await redPG.run("SELECT 1") } })
        var pgConnection: DuelConnection?
        if let postgres {
            let connection = try await DuelConnection.open(postgres.endpoint, id: 2)
            open.postgres.append(connection)
            pgConnection = connection
            report.postgresVersion = try? await connection.integers("SELECT current_setting('server_version_num')::int").first.map(String.init)
            surfaces.append(LatencySurface("PostgreSQL") { try await timed($0, $1) { try await connection.run("SELECT 1") } })
        }

        // The same SELECT 1 from a blocking socket (no client-side event loop or task hops), and the
        // loopback floor: what the servers themselves add to the kernel's round trip.
        let wirePort = port("wire"), redPGPort = server.endpoint.port
        surfaces.append(LatencySurface("RedWire (socket)") { requests, warmup in
            try await BlockingLatencyProbe.onThread(pinnedTo: options.clientCPUs) { try BlockingLatencyProbe.redWire(port: wirePort, requests: requests, warmup: warmup) }
        })
        surfaces.append(LatencySurface("PG-wire (socket)") { requests, warmup in
            try await BlockingLatencyProbe.onThread(pinnedTo: options.clientCPUs) {
                try BlockingLatencyProbe.postgres(port: redPGPort, user: "duel", database: "reddb", requests: requests, warmup: warmup)
            }
        })
        surfaces.append(LatencySurface("PG-wire ext (socket)") { requests, warmup in
            try await BlockingLatencyProbe.onThread(pinnedTo: options.clientCPUs) {
                try BlockingLatencyProbe.postgres(port: redPGPort, user: "duel", database: "reddb", extended: true, requests: requests, warmup: warmup)
            }
        })
        if let postgres {
            let endpoint = postgres.endpoint
            for extended in [false, true] {
                surfaces.append(LatencySurface(extended ? "PostgreSQL ext (socket)" : "PostgreSQL (socket)") { requests, warmup in
                    try await BlockingLatencyProbe.onThread(pinnedTo: options.clientCPUs) {
                        try BlockingLatencyProbe.postgres(port: endpoint.port, user: endpoint.user, database: endpoint.database,
                                                          extended: extended, requests: requests, warmup: warmup)
                    }
                })
            }
        }
        let echoPeer = try CPUPinning.whileSpawning(on: options.serverCPUs) { try EchoPeerProcess(executable: executable) }
        defer { echoPeer.stop() }
        surfaces.append(LatencySurface("loopback echo") { requests, warmup in
            try await BlockingLatencyProbe.onThread(pinnedTo: options.clientCPUs) { try BlockingLatencyProbe.echo(port: echoPeer.port, requests: requests, warmup: warmup) }
        })
        if !options.latencySurfaces.isEmpty {
            let unknown = options.latencySurfaces.subtracting(surfaces.map(\.name))
            guard unknown.isEmpty else {
                throw RedError(.invalidArgument, "no surface named \(unknown.sorted().joined(separator: ", ")); the surfaces are \(surfaces.map(\.name).joined(separator: ", "))")
            }
            surfaces.removeAll { !options.latencySurfaces.contains($0.name) }
        }
        report.latencies = try await interleave(surfaces, options)
        echoPeer.stop()
        for client in open.red { try await client.close() }
        open.red = []

        let rows = (0..<options.rows).map { i -> [Value] in [.integer(Int64(i)), .text("name-\(i)"), .float(Double(i % 1000) / 10)] }
        let columns = ["id", "name", "score"]
        func table(_ name: String) -> String { "CREATE TABLE \(name) (id BIGINT PRIMARY KEY, name TEXT, score FLOAT)" }
        /// `cpu`: the loading server's CPU seconds for this round, if measured.
        func record(_ surface: String, _ rowsPerSecond: Double, cpu: Double?) {
            let at: Int
            if let known = report.loads.firstIndex(where: { $0.surface == surface }) { at = known } else {
                report.loads.append(Load(surface: surface))
                at = report.loads.count - 1
            }
            report.loads[at].rounds.append(rowsPerSecond)
            if let cpu {
                report.loads[at].cpuSeconds.append(cpu)
                report.loads[at].cpuRows += options.rows
            }
        }
        /// The wall seconds `body` took, and the CPU seconds it cost the process tree of `pid`
        /// (nil: not measurable). `/proc` is read outside the timed span: finding a tree's
        /// children reads every process's stat.
        func measuredLoad(cpuOf pid: Int32?, _ body: () async throws -> Void) async throws -> (seconds: Double, cpu: Double?) {
            let before = pid.flatMap(ProcessCPU.seconds(ofTree:))
            let started = ContinuousClock.now
            try await body()
            let seconds = (ContinuousClock.now - started).seconds
            guard let before, let after = pid.flatMap(ProcessCPU.seconds(ofTree:)) else { return (seconds, nil) }
            return (seconds, after - before)
        }
        func copy(_ connection: DuelConnection, _ surface: String, _ name: String, serverPID: Int32?) async throws {
            try await connection.run(table(name))
            let (seconds, cpu) = try await measuredLoad(cpuOf: serverPID) {
                try await connection.copy(table: name, columns: columns, rows: options.rows) { i in "\(i)\tname-\(i)\t\(Double(i % 1000) / 10)" }
            }
            let counted = try await connection.integers("SELECT count(*) FROM \(name)").first ?? 0
            guard counted == Int64(options.rows) else { throw RedError(.internalError, "\(surface) stored \(counted) of \(options.rows) rows") }
            record(surface, Double(options.rows) / seconds, cpu: cpu)
        }
        let loadNames = clients.map { "\($0.0) bulk" } + ["PG-wire COPY", "PostgreSQL COPY"]
        let unknownLoads = options.loadSurfaces.subtracting(loadNames)
        guard unknownLoads.isEmpty else {
            throw RedError(.invalidArgument, "no load named \(unknownLoads.sorted().joined(separator: ", ")); the loads are \(loadNames.joined(separator: ", "))")
        }
        func runs(_ load: String) -> Bool { options.loadSurfaces.isEmpty || options.loadSurfaces.contains(load) }
        for round in 0..<options.loads {
            for (i, (name, url)) in clients.enumerated() where runs("\(name) bulk") {
                let client = try await RedClient.connect(url + "?timeout_ms=600000")
                open.red = [client]
                let loadTable = "load_\(i)_\(round)"
                try await client.execute(table(loadTable))
                var inserted = 0
                let (seconds, cpu) = try await measuredLoad(cpuOf: server.pid) {
                    inserted = try await client.bulkInsert(into: loadTable, columns: columns, rows: rows)
                }
                guard inserted == options.rows else { throw RedError(.internalError, "\(name) inserted \(inserted) of \(options.rows) rows") }
                record("\(name) bulk", Double(inserted) / seconds, cpu: cpu)
                try await client.close()
                open.red = []
            }
            if runs("PG-wire COPY") { try await copy(redPG, "PG-wire COPY", "load_copy_\(round)", serverPID: server.pid) }
            if let pgConnection, runs("PostgreSQL COPY") {
                try await copy(pgConnection, "PostgreSQL COPY", "load_copy_\(round)", serverPID: postgres?.postmasterPID)
            }
        }
        await open.closeAll()
        return report
    }

    /// One surface's latency probe: times `requests` round trips after `warmup` untimed ones
    /// and returns the samples in microseconds.
    struct LatencySurface {
        let name: String
        let probe: (_ requests: Int, _ warmup: Int) async throws -> [Double]
        init(_ name: String, _ probe: @escaping (_ requests: Int, _ warmup: Int) async throws -> [Double]) {
            self.name = name
            self.probe = probe
        }
    }

    /// Runs the probes in `latencyRounds` rounds, each surface taking its share of the requests
    /// per round, and each round starting one surface later. Measured one after another, a
    /// surface's figure depended on when it ran: this VM's noise comes in spells of seconds, and
    /// one run measured PG-wire 99 µs and PostgreSQL 58 µs, each in a spell of its own. Rotated
    /// rounds spread those spells over every surface alike.
    static func interleave(_ surfaces: [LatencySurface], _ options: Options) async throws -> [Latency] {
        let rounds = max(1, min(options.latencyRounds, options.requests))
        var samples = [[Double]](repeating: [], count: surfaces.count)
        for round in 0..<rounds {
            let requests = options.requests / rounds + (round < options.requests % rounds ? 1 : 0)
            let warmup = options.warmup / rounds + (round < options.warmup % rounds ? 1 : 0)
            for step in 0..<surfaces.count {
                let index = (round + step) % surfaces.count
                samples[index] += try await surfaces[index].probe(requests, warmup)
            }
        }
        return zip(surfaces, samples).map { surface, taken in
            let sorted = taken.sorted()
            return Latency(surface: surface.name, p50Microseconds: sorted[sorted.count / 2],
                           p99Microseconds: sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
        }
    }

    static func timed(_ requests: Int, _ warmup: Int, _ body: () async throws -> Void) async throws -> [Double] {
        for _ in 0..<warmup { try await body() }
        var samples: [Double] = []
        samples.reserveCapacity(requests)
        for _ in 0..<requests {
            let started = ContinuousClock.now
            try await body()
            samples.append((ContinuousClock.now - started).seconds * 1e6)
        }
        return samples
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
