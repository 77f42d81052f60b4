import Foundation
import RedCore

/// Which side of the duel a figure belongs to.
public enum DuelEngine: String, Sendable, CaseIterable, Codable {
    case reddb
    case postgres

    var displayName: String { self == .reddb ? "RedDB" : "PostgreSQL" }
}

/// Where a running server listens, and the names to connect with.
struct DuelEndpoint: Sendable {
    let engine: DuelEngine
    let port: Int
    let user: String
    let database: String
}

/// A throwaway PostgreSQL cluster: `initdb` into a temporary directory with default
/// settings (fsync and synchronous_commit on; `--relaxed` turns synchronous_commit off),
/// listening on loopback TCP only (no Unix socket). Stopped and removed by `stop()` or on Ctrl-C.
final class PostgresCluster: @unchecked Sendable {
    static let debianBinaries = "/usr/lib/postgresql/15/bin"

    let directory: String
    let binaries: String
    private(set) var port: Int
    private let user: (name: String, uid: uid_t, gid: gid_t)?
    /// Starts on a port taken meanwhile (the port is chosen free, then given to PostgreSQL, and
    /// another program may bind it in between) are tried again on another, this many times.
    static let startAttempts = 3
    private var cleanupToken: Int?

    /// The directory holding initdb, pg_ctl and postgres: `explicit`, then PATH, then Debian's.
    static func locateBinaries(explicit: String?) throws -> String {
        if let explicit {
            let missing = ["initdb", "pg_ctl", "postgres"].filter { !FileManager.default.isExecutableFile(atPath: explicit + "/" + $0) }
            guard missing.isEmpty else {
                throw RedError(.internalError, "--postgres-bin \(explicit): no \(missing.joined(separator: ", ")) there")
            }
            return explicit
        }
        do {
            let initdb = try ChildProcess.locate("initdb", in: [])
            let resolved = (try? FileManager.default.destinationOfSymbolicLink(atPath: initdb)) ?? initdb
            let directory = ((resolved.hasPrefix("/") ? resolved : (initdb as NSString).deletingLastPathComponent + "/" + resolved)
                as NSString).deletingLastPathComponent
            if FileManager.default.isExecutableFile(atPath: directory + "/pg_ctl") { return directory }
        } catch {}
        if FileManager.default.isExecutableFile(atPath: debianBinaries + "/initdb") { return debianBinaries }
        throw RedError(.internalError, """
            PostgreSQL 15 server programs (initdb, pg_ctl, postgres) not found on PATH or in \(debianBinaries). \
            Install them (Debian: apt-get install postgresql-15) or pass --postgres-bin DIR.
            """)
    }

    init(directory: String, binaries: String, relaxed: Bool) throws {
        self.directory = directory
        self.binaries = binaries
        self.user = ChildProcess.postgresUser()
        self.port = try ChildProcess.freeLoopbackPort()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if let user { chown(directory, user.uid, user.gid) }
        cleanupToken = DuelCleanup.shared.add { [directory, binaries, user] in
            _ = try? ChildProcess.run(binaries + "/pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"], asUser: user?.name)
            try? FileManager.default.removeItem(atPath: directory)
        }
        let version = try ChildProcess.run(binaries + "/postgres", ["--version"], asUser: user?.name)
        if !version.contains(" 15.") {
            FileHandle.standardError.write(Data("warning: the duel is specified against PostgreSQL 15; found \(version)".utf8))
        }
        try ChildProcess.run(binaries + "/initdb", ["-D", directory + "/data", "-A", "trust", "-U", "duel", "-E", "UTF8", "--no-locale"],
                             asUser: user?.name)
        for attempt in 1...Self.startAttempts {
            // TCP only: every client of the duel connects over loopback, and a Unix socket under
            // `directory` would fail to start the server when its path passes the 107-byte limit.
            var serverOptions = "-p \(port) -c unix_socket_directories= -c listen_addresses=127.0.0.1"
            if relaxed { serverOptions += " -c synchronous_commit=off" }
            do {
                try ChildProcess.run(binaries + "/pg_ctl", ["-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "120",
                                                            "-o", serverOptions, "start"], asUser: user?.name)
                return
            } catch {
                let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
                let portTaken = log.contains("could not bind") || log.contains("Address already in use")
                guard portTaken, attempt < Self.startAttempts else {
                    throw RedError(.internalError, "\(error)\nPostgreSQL's log:\n\(log.suffix(2_000))")
                }
                port = try ChildProcess.freeLoopbackPort()
            }
        }
    }

    var endpoint: DuelEndpoint { DuelEndpoint(engine: .postgres, port: port, user: "duel", database: "postgres") }

    /// A fast shutdown (the data is thrown away anyway), then the directory goes.
    func stop() {
        if let token = cleanupToken { DuelCleanup.shared.remove(token) }
        cleanupToken = nil
        _ = try? ChildProcess.run(binaries + "/pg_ctl", ["-D", directory + "/data", "-m", "fast", "-w", "stop"], asUser: user?.name)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The postmaster's process id (the first line of `postmaster.pid`), while it runs.
    var postmasterPID: Int32? {
        guard let text = try? String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
    }
}

/// Our own `red server`, started from the running `red` binary in its own process (as
/// PostgreSQL runs in its own), on a fresh database in a temporary directory, PG-wire only.
final class RedServerProcess: @unchecked Sendable {
    let directory: String
    private let child: SpawnedProcess
    var pid: Int32 { child.pid }
    private(set) var port = 0
    /// Every listener of the ready line (`pg`, `wire`, `http`, `grpc`, `router`) and its port.
    private(set) var ports: [String: Int] = [:]
    private var cleanupToken: Int?
    private var stopped = false

    static let startTimeout: Duration = .seconds(60)

    /// PG-wire only, unless `listeners` names other `--…-bind` flags and values.
    init(executable: String, directory: String, relaxed: Bool, cacheMiB: Int?,
         listeners: [String] = ["--pg-bind", "127.0.0.1:0", "--http-bind", "off", "--wire-bind", "off", "--grpc-bind", "off"]) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        child = try SpawnedProcess(
            [executable, "server", "--path", directory + "/duel.rdb"] + listeners
                + ["--sync-mode", relaxed ? "batched" : "full", "--log-level", "warning", "--print-ready"]
                + (cacheMiB.map { ["--cache-mib", String($0)] } ?? []),
            stdout: .capture, stderr: .inherit)
        let child = self.child
        cleanupToken = DuelCleanup.shared.add {
            kill(child.pid, SIGKILL)
            child.waitForExit()
            try? FileManager.default.removeItem(atPath: directory)
        }
        guard let line = child.readLine(startingWith: "ready ", timeout: Self.startTimeout),
              let pg = line.split(separator: " ").first(where: { $0.hasPrefix("pg=") }),
              let port = Int(pg.split(separator: ":").last ?? "") else {
            stop()
            throw RedError(.internalError, "red server did not start (see its messages above)")
        }
        self.port = port
        for part in line.split(separator: " ").dropFirst() {
            let pieces = part.split(separator: "=")
            if pieces.count == 2, let p = Int(pieces[1].split(separator: ":").last ?? "") { ports[String(pieces[0])] = p }
        }
    }

    var endpoint: DuelEndpoint { DuelEndpoint(engine: .reddb, port: port, user: "duel", database: "reddb") }

    /// SIGTERM (graceful: checkpoint and close), then the directory goes.
    func stop() {
        guard !stopped else { return }
        stopped = true
        if let token = cleanupToken { DuelCleanup.shared.remove(token) }
        kill(child.pid, SIGTERM)
        child.waitForExit()
        close(child.outputFD)
        try? FileManager.default.removeItem(atPath: directory)
    }
}
