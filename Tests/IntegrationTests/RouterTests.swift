import Foundation
import GRPCCore
import PostgresNIO
import RedClient
import RedCore
import RedProto
import Testing

/// The one-port router: every surface on one listener, told apart by first bytes.
@Suite(.serialized) struct RouterTests {
    @Test func everySurfaceOnOnePort() async throws {
        let server = try ServerProcess(arguments: ["--bind", "127.0.0.1:0"], surfaces: false)
        defer { server.remove() }
        var step = "start"
        do {
            try await Self.everySurface(server, step: &step)
        } catch {
            Issue.record("\(step): \(error)\n\(server.stderrText)")
        }
    }

    /// HTTP is served by the router itself: a keep-alive connection answers several requests,
    /// and on SIGTERM an idle one is closed at once (asked to quiesce), not after the grace
    /// period: with an hour's grace, the server still exits cleanly before `stop()` gives up.
    @Test func routedHTTPKeepsAliveAndQuiescesOnShutdown() async throws {
        let server = try ServerProcess(arguments: ["--bind", "127.0.0.1:0", "--shutdown-grace-ms", "3600000"], surfaces: false)
        defer { server.remove() }
        let socket = try RawSocket(port: server.routerPort)
        for i in 0..<3 {
            let body = "SELECT \(i) AS n"
            socket.send("POST /query HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            let reply = socket.receive(until: "\"statement\":\"select\"}")
            #expect(reply.hasPrefix("HTTP/1.1 200"), "\(reply)")
            #expect(reply.contains("\"n\":\(i)"), "\(reply)")
            #expect(reply.lowercased().contains("date: ") && reply.contains("Server: RedDB"), "\(reply)")
        }
        #expect(server.stop() == 0, "the idle HTTP connection held shutdown until it was killed")
        #expect(socket.receive(until: "never") == "", "the server closed the connection")
    }

    /// A gRPC client spliced through the router does not hold shutdown for the grace period
    /// either: the router tells the gRPC listener behind it to stop at once, which sends the
    /// client GOAWAY, and the idle client closes. With an hour's grace the server exits cleanly.
    @Test func routedGRPCClientDoesNotHoldShutdown() async throws {
        let server = try ServerProcess(arguments: ["--bind", "127.0.0.1:0", "--shutdown-grace-ms", "3600000"], surfaces: false)
        defer { server.remove() }
        let db = try await RedClient.connect("grpc://127.0.0.1:\(server.routerPort)")
        #expect(try await db.query("SELECT 1 AS one").rows[0][0] == .integer(1))
        #expect(server.stop() == 0, "the spliced gRPC connection held shutdown until it was killed\n\(server.stderrText)")
        try? await db.close()
    }

    static func everySurface(_ server: ServerProcess, step: inout String) async throws {
        #expect(server.routerPort > 0 && server.pgPort == 0 && server.httpPort == 0 && server.wirePort == 0 && server.grpcPort == 0)
        let port = server.routerPort
        step = "RedWire connect"
        let wire = try await RedClient.connect("red://127.0.0.1:\(port)")
        try await wire.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT)")
        try await wire.execute("INSERT INTO t VALUES (1, 'Ada'), (2, 'Bob')")
        for url in ["grpc://127.0.0.1:\(port)", "http://127.0.0.1:\(port)", "red://127.0.0.1:\(port)"] {
            step = url
            let db = try await RedClient.connect(url)
            #expect(try await db.query("SELECT name FROM t ORDER BY id").rows.map { $0[0] } == [.text("Ada"), .text("Bob")], "\(url)")
            try await db.close()
        }
        try await wire.close()
        // PostgreSQL clients, including the SSLRequest a default psql sends first.
        step = "PostgresNIO"
        let connection = try await PostgresClientTests.connect(server, port: port)
        var names: [String] = []
        for try await name in try await connection.query("SELECT name FROM t ORDER BY id", logger: PostgresClientTests.logger).decode(String.self) {
            names.append(name)
        }
        #expect(names == ["Ada", "Bob"])
        try await connection.close()
        step = "psql"
        if PsqlTests.psqlPath != nil {
            let psql = try PsqlTests.psql(server, ["SELECT count(*) FROM t"], port: port)
            #expect(psql.status == 0 && psql.stdout.contains(" 2"), "\(psql.stdout) \(psql.stderr)")
        }
        // HTTP/1.1 that arrives a byte at a time still routes.
        step = "slow HTTP"
        let slow = try RawSocket(port: port)
        for byte in Array("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8) { slow.send([byte]) }
        #expect(String(decoding: slow.readAll(), as: UTF8.self).hasPrefix("HTTP/1.1 200"))
    }

    @Test func strangersAreClosedAndTheRouterKeepsServing() async throws {
        let server = try ServerProcess(arguments: ["--bind", "127.0.0.1:0"], surfaces: false)
        defer { server.remove() }
        for garbage in [Array("HELLO WORLD\r\n".utf8), [0x16, 0x03, 0x01, 0x02, 0x00], [UInt8](repeating: 0x41, count: 100), [0, 0, 0, 8, 9, 9, 9, 9]] {
            let socket = try RawSocket(port: server.routerPort)
            socket.send(garbage)
            #expect(socket.readAll(max: 4096).isEmpty, "\(garbage)")
        }
        let db = try await RedClient.connect("red://127.0.0.1:\(server.routerPort)")
        #expect(try await db.query("SELECT 1").rows[0][0] == .integer(1))
        try await db.close()
    }

    @Test func noListenerFlagsMeansRouterOnly() throws {
        // --bind with a free port stands in for the default 5050, which CI may not have free.
        let server = try ServerProcess(arguments: ["--bind", "127.0.0.1:0"], surfaces: false)
        defer { server.remove() }
        let status = try RedClientCLITests.red(["query", "--url", "http://127.0.0.1:\(server.routerPort)", "--json", "SELECT 1 AS one"])
        #expect(status.status == 0 && status.out.contains(#""values":{"one":1}"#))
        let health = try RedClientCLITests.red(["query", "--url", "grpc://127.0.0.1:\(server.routerPort)", "SHOW TABLES"])
        #expect(health.status == 0, "\(health)")
    }
}
