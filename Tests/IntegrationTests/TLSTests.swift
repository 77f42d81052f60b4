import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import RedClient
import RedCore
import RedServer
import Testing

/// TLS on every surface of the real `red server`: `reds://`, `grpcs://`, `https://` through
/// RedClient and PG-wire through PostgresNIO, with the self-signed certificate the server
/// makes for itself, with certificates the operator gives, and with mutual TLS.
@Suite(.serialized) struct TLSTests {
    static let tlsListeners = ["--wire-tls-bind", "127.0.0.1:0", "--http-tls-bind", "127.0.0.1:0", "--grpc-tls-bind", "127.0.0.1:0"]

    static func urls(_ server: ServerProcess, query: String) -> [String] {
        ["reds://localhost:\(server.wireTLSPort)?\(query)", "grpcs://localhost:\(server.grpcTLSPort)?\(query)",
         "https://localhost:\(server.httpTLSPort)?\(query)"]
    }

    /// A CA, a server certificate and a client certificate it signed, written to `directory`.
    struct Authority {
        let caPath: String
        let serverCertificatePath: String
        let serverKeyPath: String
        let clientCertificatePath: String
        let clientKeyPath: String

        init(in directory: String) throws {
            func write(_ name: String, _ text: String) throws -> String {
                let path = directory + "/" + name
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                return path
            }
            let ca = try SelfSignedCertificate.make(names: [], addresses: [], commonName: "Test CA", isCertificateAuthority: true, isServer: false)
            let server = try SelfSignedCertificate.make(names: ["localhost"], addresses: [[127, 0, 0, 1]], commonName: "test server", issuer: ca)
            let client = try SelfSignedCertificate.make(names: [], addresses: [], commonName: "test client", issuer: ca)
            caPath = try write("ca.pem", ca.certificatePEM)
            serverCertificatePath = try write("server.pem", server.certificatePEM)
            serverKeyPath = try write("server.key", server.keyPEM)
            clientCertificatePath = try write("client.pem", client.certificatePEM)
            clientKeyPath = try write("client.key", client.keyPEM)
        }
    }

    static func pgConnect(_ port: Int, tls: PostgresConnection.Configuration.TLS) async throws -> PostgresConnection {
        let configuration = PostgresConnection.Configuration(host: "localhost", port: port, username: "tester", password: nil,
                                                             database: "reddb", tls: tls)
        return try await PostgresConnection.connect(configuration: configuration, id: Int.random(in: 1...1_000_000),
                                                    logger: PostgresClientTests.logger)
    }

    static func answer(_ url: String) async throws -> String {
        let db = try await RedClient.connect(url)
        defer { Task { try? await db.close() } }
        return try await db.query("SELECT 40 + 2 AS answer").rows[0][0].displayText
    }

    @Test func everySurfaceSpeaksTLSWithTheSelfSignedCertificate() async throws {
        let server = try ServerProcess(arguments: Self.tlsListeners + ["--pg-bind", "127.0.0.1:0", "--pg-tls", "required",
                                                                        "--wire-bind", "127.0.0.1:0"],
                                       surfaces: false)
        defer { server.remove() }
        let certificate = server.path + ".tls-ca.pem"  // what clients pin
        let key = server.path + ".tls-key.pem"
        #expect(FileManager.default.fileExists(atPath: server.path + ".tls-cert.pem"))
        let keyMode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
        #expect(keyMode == 0o600)

        // The same script, with the same answers, over each TLS transport and plaintext RedWire.
        let expected = try await { () async throws -> [String] in
            let db = try await RedClient.connect("red://127.0.0.1:\(server.wirePort)")
            defer { Task { try? await db.close() } }
            return try await RedClientTests.script(db, table: "plain")
        }()
        for (index, url) in Self.urls(server, query: "ca=\(certificate)").enumerated() {
            let db = try await RedClient.connect(url)
            let seen = try await RedClientTests.script(db, table: "tls\(index)")
            try await db.close()
            #expect(seen == expected, "\(url)")
        }
        // Also by IP address (the certificate names 127.0.0.1), and with tls=true on red://.
        #expect(try await Self.answer("reds://127.0.0.1:\(server.wireTLSPort)?ca=\(certificate)") == "42")
        #expect(try await Self.answer("red://localhost:\(server.wireTLSPort)?tls=true&ca=\(certificate)") == "42")

        // PG-wire: verified TLS works; plaintext is refused because the server requires TLS.
        var pgTLS = TLSConfiguration.makeClientConfiguration()
        pgTLS.trustRoots = .file(certificate)
        let pg = try await Self.pgConnect(server.pgPort, tls: .require(try NIOSSLContext(configuration: pgTLS)))
        var rows = 0
        for try await row in try await pg.query("SELECT 7 AS seven", logger: PostgresClientTests.logger).decode(Int.self) {
            #expect(row == 7)
            rows += 1
        }
        #expect(rows == 1)
        try await pg.close()
        do {
            let plain = try await Self.pgConnect(server.pgPort, tls: .disable)
            try? await plain.close()
            Issue.record("a plaintext PG login was accepted with --pg-tls required")
        } catch {
            #expect(PostgresClientTests.sqlState(error) == "28000")
        }

        // A restart keeps the certificate that clients pinned.
        let pem = try String(contentsOfFile: certificate, encoding: .utf8)
        server.stop()
        let again = try ServerProcess(arguments: Self.tlsListeners, path: server.path, surfaces: false)
        defer { again.remove() }
        #expect(try String(contentsOfFile: certificate, encoding: .utf8) == pem)
        #expect(try await Self.answer("reds://localhost:\(again.wireTLSPort)?ca=\(certificate)") == "42")
    }

    @Test func theRouterServesTLSAndPlaintextOnOnePort() async throws {
        let server = try ServerProcess(arguments: ["--bind", "127.0.0.1:0", "--router-tls", "on", "--pg-tls", "on"], surfaces: false)
        defer { server.remove() }
        let port = server.routerPort
        let certificate = server.path + ".tls-ca.pem"
        var seen: [[String]] = []
        for (index, url) in ["red://localhost:\(port)", "reds://localhost:\(port)?ca=\(certificate)",
                             "grpcs://localhost:\(port)?ca=\(certificate)", "https://localhost:\(port)?ca=\(certificate)"].enumerated() {
            let db = try await RedClient.connect(url)
            seen.append(try await RedClientTests.script(db, table: "routed\(index)"))
            try await db.close()
        }
        #expect(Set(seen.map { $0.description }).count == 1, "\(seen)")
        // PG-wire on the router port: SSLRequest upgrades, and plaintext still works (--pg-tls on).
        var pgTLS = TLSConfiguration.makeClientConfiguration()
        pgTLS.trustRoots = .file(certificate)
        for tls in [PostgresConnection.Configuration.TLS.require(try NIOSSLContext(configuration: pgTLS)), .disable] {
            let pg = try await Self.pgConnect(port, tls: tls)
            var sevens = 0
            for try await row in try await pg.query("SELECT 7 AS seven", logger: PostgresClientTests.logger).decode(Int.self) where row == 7 {
                sevens += 1
            }
            try await pg.close()
            #expect(sevens == 1)
        }
        // Garbage inside a TLS session is refused (the connection closes) like garbage outside one; the router carries on.
        var unverified = TLSConfiguration.makeClientConfiguration()
        unverified.certificateVerification = .none
        let context = try NIOSSLContext(configuration: unverified)
        let garbage = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await garbage.writeAndFlush(ByteBuffer(string: "HELLO, IS THIS A DATABASE?\r\n")).get()
        try await garbage.closeFuture.get()
        #expect(try await Self.answer("reds://localhost:\(port)?ca=\(certificate)") == "42")
    }

    @Test func clientsRefuseAServerTheyCannotVerify() async throws {
        let server = try ServerProcess(arguments: Self.tlsListeners, surfaces: false)
        defer { server.remove() }
        // No ca=: the self-signed certificate is not in the system's trust store.
        for url in Self.urls(server, query: "") {
            let code = await RedClientTests.code { _ = try await Self.answer(url) }
            #expect(code == .closed, "\(url)")
        }
        // Verification off (development only) connects.
        for url in Self.urls(server, query: "rejectUnauthorized=false") {
            #expect(try await Self.answer(url) == "42", "\(url)")
        }
        // A plaintext client on a TLS port gets an error, not a hang, and the listener goes on serving.
        let code = await RedClientTests.code { _ = try await Self.answer("red://localhost:\(server.wireTLSPort)") }
        #expect(code == .closed)
        #expect(try await Self.answer("reds://localhost:\(server.wireTLSPort)?rejectUnauthorized=false") == "42")
    }

    @Test func mutualTLSAdmitsOnlyClientsWithACertificateFromTheCA() async throws {
        let directory = NSTemporaryDirectory() + "red-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let authority = try Authority(in: directory)
        let server = try ServerProcess(arguments: Self.tlsListeners + [
            "--tls-cert", authority.serverCertificatePath, "--tls-key", authority.serverKeyPath,
            "--wire-tls-client-ca", authority.caPath, "--http-tls-client-ca", authority.caPath, "--grpc-tls-client-ca", authority.caPath,
        ], surfaces: false)
        defer { server.remove() }
        // The operator's certificate, so no self-signed one is made.
        #expect(!FileManager.default.fileExists(atPath: server.path + ".tls-cert.pem"))
        #expect(!FileManager.default.fileExists(atPath: server.path + ".tls-ca.pem"))
        for url in Self.urls(server, query: "ca=\(authority.caPath)") {
            let code = await RedClientTests.code { _ = try await Self.answer(url) }
            #expect(code != nil, "\(url) connected without a client certificate")
            let withCertificate = url + "&cert=\(authority.clientCertificatePath)&key=\(authority.clientKeyPath)"
            #expect(try await Self.answer(withCertificate) == "42", "\(withCertificate)")
        }
        // A certificate from another CA is refused too.
        let stranger = try SelfSignedCertificate.make(names: [], addresses: [], commonName: "stranger")
        try stranger.certificatePEM.write(toFile: directory + "/stranger.pem", atomically: true, encoding: .utf8)
        try stranger.keyPEM.write(toFile: directory + "/stranger.key", atomically: true, encoding: .utf8)
        let strangerURL = "reds://localhost:\(server.wireTLSPort)?ca=\(authority.caPath)&cert=\(directory)/stranger.pem&key=\(directory)/stranger.key"
        #expect(await RedClientTests.code { _ = try await Self.answer(strangerURL) } != nil)
    }

    /// PostgreSQL's CVE-2021-23214: bytes sent behind an SSLRequest, before the answer, were
    /// not encrypted and must not run as if they had been.
    @Test func plaintextSentBehindAnSSLRequestIsRefused() throws {
        let server = try ServerProcess(arguments: ["--pg-bind", "127.0.0.1:0", "--pg-tls", "required"], surfaces: false)
        defer { server.remove() }
        var packet: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]  // SSLRequest
        var startup: [UInt8] = [0, 3, 0, 0] + Array("user\0x\0database\0x\0\0".utf8)
        startup = withUnsafeBytes(of: UInt32(startup.count + 4).bigEndian, Array.init) + startup
        packet += startup + [UInt8(ascii: "Q"), 0, 0, 0, 14] + Array("SELECT 1;\0".utf8)
        let socket = try RawSocket(port: server.pgPort)
        socket.send(packet)
        let reply = socket.receive(until: "never")  // the server closes after its error
        #expect(reply.first == "E", "\(Array(reply.utf8).prefix(8))")
        #expect(reply.contains("received unencrypted data after SSL request") && reply.contains("08P01"), "\(reply)")
        #expect(!reply.contains("SELECT"), "\(reply)")
    }

    @Test func routerTLSMustCheckClientCertificatesWhereASurfaceDoes() async throws {
        let directory = NSTemporaryDirectory() + "red-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let authority = try Authority(in: directory)
        let common = ["--bind", "127.0.0.1:0", "--router-tls", "on", "--pg-bind", "127.0.0.1:0", "--pg-tls", "required",
                      "--pg-tls-client-ca", authority.caPath]
        do {
            let server = try ServerProcess(arguments: common, surfaces: false)
            server.remove()
            Issue.record("router TLS started without checking the client certificates PostgreSQL requires")
        } catch {
            #expect("\(error)".contains("--router-tls-client-ca"), "\(error)")
        }
        let server = try ServerProcess(arguments: common + ["--router-tls-client-ca", authority.caPath], surfaces: false)
        defer { server.remove() }
        let ca = server.path + ".tls-ca.pem"
        let url = "reds://localhost:\(server.routerPort)?ca=\(ca)"
        #expect(await RedClientTests.code { _ = try await Self.answer(url) } != nil, "the router admitted a client without a certificate")
        #expect(try await Self.answer(url + "&cert=\(authority.clientCertificatePath)&key=\(authority.clientKeyPath)") == "42")
    }

    @Test func badCertificateSettingsStopTheServerWithTheirNames() throws {
        let missing = "/nonexistent/red-cert.pem"
        do {
            let server = try ServerProcess(arguments: ["--wire-tls-bind", "127.0.0.1:0", "--tls-cert", missing, "--tls-key", missing], surfaces: false)
            server.remove()
            Issue.record("the server started with a missing certificate")
        } catch {
            #expect("\(error)".contains(missing))
        }
        do {
            let server = try ServerProcess(arguments: ["--wire-tls-bind", "127.0.0.1:0", "--tls-cert", "x.pem"], surfaces: false)
            server.remove()
            Issue.record("the server started with a certificate and no key")
        } catch {
            #expect("\(error)".contains("needs its key"))
        }
    }
}
