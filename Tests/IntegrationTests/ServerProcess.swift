import Foundation
import RedCore

/// A real `red server` process on ephemeral ports, for integration tests.
///
/// Starts the binary built next to the test bundle with `--pg-bind 127.0.0.1:0
/// --http-bind 127.0.0.1:0 --print-ready`, waits for its `ready pg=… http=…`
/// line, and stops it with SIGTERM (the graceful path) when the test is done.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let directory: String
    let path: String
    private(set) var pgPort = 0
    private(set) var httpPort = 0
    private(set) var wirePort = 0
    private(set) var grpcPort = 0
    private(set) var routerPort = 0
    private(set) var wireTLSPort = 0
    private(set) var httpTLSPort = 0
    private(set) var grpcTLSPort = 0
    private let stdout = Pipe()
    private let stderr = Pipe()
    private let stderrBuffer = StderrBuffer()

    /// How long a server may take to start listening (first start after a build is slow on CI).
    static let startTimeoutSeconds = 60.0
    /// Graceful shutdown lets statements run 10 s; a test server that outlives this is killed.
    static let stopTimeoutSeconds = 20.0

    static func redPath() throws -> String {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let dir = (exe as NSString).deletingLastPathComponent
        let candidate = dir + "/red"
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw RedError(.internalError, "red not found at \(candidate); run `swift build` first")
        }
        return candidate
    }

    /// Starts a server on a fresh database (or `path`), with extra arguments. With
    /// `surfaces: false` only `arguments` choose the listeners (for router tests);
    /// `environment` adds variables to the server's.
    init(arguments: [String] = [], path: String? = nil, surfaces: Bool = true, environment: [String: String] = [:]) throws {
        directory = NSTemporaryDirectory() + "red-it-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.path = path ?? directory + "/data.rdb"
        process.executableURL = URL(fileURLWithPath: try Self.redPath())
        let listeners = surfaces ? ["--pg-bind", "127.0.0.1:0", "--http-bind", "127.0.0.1:0", "--wire-bind", "127.0.0.1:0",
                                    "--grpc-bind", "127.0.0.1:0"] : []
        process.arguments = ["server", "--path", self.path] + listeners + ["--print-ready", "--log-level", "warning"] + arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        process.standardOutput = stdout
        process.standardError = stderr
        let buffer = stderrBuffer
        stderr.fileHandleForReading.readabilityHandler = { handle in buffer.append(handle.availableData) }
        try process.run()
        try waitForReady()
    }

    private func waitForReady() throws {
        let handle = stdout.fileHandleForReading
        var collected = Data()
        let deadline = Date().addingTimeInterval(Self.startTimeoutSeconds)
        while Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty {
                guard process.isRunning else { break }
                continue
            }
            collected.append(chunk)
            let text = String(decoding: collected, as: UTF8.self)
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("ready") }) {
                for part in line.split(separator: " ").dropFirst() {
                    let pieces = part.split(separator: "=")
                    guard pieces.count == 2, let port = Int(pieces[1].split(separator: ":").last ?? "") else { continue }
                    switch pieces[0] {
                    case "pg": pgPort = port
                    case "http": httpPort = port
                    case "wire": wirePort = port
                    case "grpc": grpcPort = port
                    case "router": routerPort = port
                    case "wire-tls": wireTLSPort = port
                    case "http-tls": httpTLSPort = port
                    case "grpc-tls": grpcTLSPort = port
                    default: break
                    }
                }
                return
            }
        }
        process.terminate()
        // Its last words may still be in the pipe (the handler had read only "E" of one once).
        process.waitUntilExit()
        stderr.fileHandleForReading.readabilityHandler = nil
        stderrBuffer.append(stderr.fileHandleForReading.readDataToEndOfFile())
        throw RedError(.internalError, "red server did not become ready: \(stderrText)")
    }

    var stderrText: String { stderrBuffer.text }

    /// SIGTERM and wait (SIGKILL after `stopTimeoutSeconds`); returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(Self.stopTimeoutSeconds)
            while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        stderr.fileHandleForReading.readabilityHandler = nil
        return process.terminationStatus
    }

    func remove() {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { remove() }
}

final class StderrBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ more: Data) { lock.lock(); data.append(more); lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
}
