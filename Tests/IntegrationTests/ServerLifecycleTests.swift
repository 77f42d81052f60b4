import Foundation
import RedCore
import Testing

/// `red server` as an operator sees it: the file lock, graceful shutdown, the config file.
@Suite(.serialized) struct ServerLifecycleTests {
    @Test func secondServerOnTheSameFileFailsFast() throws {
        let first = try ServerProcess()
        defer { first.remove() }
        let second = Process()
        second.executableURL = URL(fileURLWithPath: try ServerProcess.redPath())
        second.arguments = ["server", "--path", first.path, "--pg-bind", "127.0.0.1:0", "--http-bind", "127.0.0.1:0",
                            "--wire-bind", "127.0.0.1:0", "--grpc-bind", "127.0.0.1:0"]
        let err = Pipe()
        second.standardError = err
        second.standardOutput = Pipe()
        try second.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        second.waitUntilExit()
        #expect(second.terminationStatus != 0)
        #expect(message.contains("locked"), "\(message)")
        #expect(first.process.isRunning)
    }

    @Test func gracefulShutdownKeepsCommittedDataAndExitsCleanly() async throws {
        let first = try ServerProcess()
        let path = first.path
        _ = try await HTTPClientTests.call(first, "POST", "/query", body: "CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)")
        _ = try await HTTPClientTests.call(first, "POST", "/query", body: "INSERT INTO t VALUES (1, 'kept')")
        let status = first.stop()
        #expect(status == 0, "\(first.stderrText)")
        let second = try ServerProcess(path: path)
        defer {
            second.remove()
            first.remove()
        }
        let r = try await HTTPClientTests.call(second, "POST", "/query", body: "SELECT v FROM t WHERE id = 1")
        #expect(r.json["result"]?["records"] != .array([]))
        #expect(r.body.contains("kept"))
    }

    @Test func configFileSetsUsersAndLimits() async throws {
        let directory = NSTemporaryDirectory() + "red-config-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/red.json"
        try #"{"users": {"ops": "pw"}, "max_http_body_bytes": 2048, "sync_mode": "full"}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let server = try ServerProcess(arguments: ["--config", config])
        defer { server.remove() }
        // With users configured HTTP needs a token; the body limit applies to authenticated requests.
        let login = try await HTTPClientTests.call(server, "POST", "/auth/login", body: #"{"username":"ops","password":"pw"}"#)
        guard case .string(let token)? = login.json["token"] else { throw RedError(.internalError, "no token: \(login.body)") }
        let big = try await HTTPClientTests.call(server, "POST", "/query", body: "SELECT '" + String(repeating: "x", count: 4096) + "'", token: token)
        #expect(big.status == 413)
        await #expect { try await PostgresClientTests.withConnection(server, user: "ops", password: "nope") { _ in } } throws: {
            PostgresClientTests.sqlState($0) == "28P01"
        }
        try await PostgresClientTests.withConnection(server, user: "ops", password: "pw") { _ in }
        // Unknown settings are refused at startup.
        try #"{"no_such_setting": 1}"#.write(toFile: config, atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { _ = try ServerProcess(arguments: ["--config", config]) }
    }
}
