import Foundation
import RedCore
import RedWire
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Inputs that once took the server down (a trap, or memory without bound), sent to a real
/// `red server`: each now gets an error or a closed connection, and the server keeps serving.
@Suite(.serialized) struct HostileInputTests {
    typealias PG = MalformedInputTests

    static func query(_ sql: String) -> [UInt8] { PG.message("Q", Array(sql.utf8) + [0]) }

    /// The error fields (`C` code and `M` message) of every ErrorResponse, as "CODE message".
    static func errors(_ messages: [(UInt8, [UInt8])]) -> [String] {
        messages.filter { $0.0 == UInt8(ascii: "E") }.map { _, body in
            let fields = body.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            let code = fields.first { $0.hasPrefix("C") }.map { String($0.dropFirst()) } ?? "?"
            let message = fields.first { $0.hasPrefix("M") }.map { String($0.dropFirst()) } ?? "?"
            return "\(code) \(message)"
        }
    }

    /// A logged-in PG-wire connection, past its first ReadyForQuery.
    static func pg(_ server: ServerProcess) throws -> RawSocket {
        let s = try RawSocket(port: server.pgPort, timeoutSeconds: 30)
        s.send(PG.startup())
        _ = PG.readUntilReady(s)
        return s
    }

    @Test func pgWireResultShapesBeyondTheProtocolsCountsAreErrors() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let s = try Self.pg(server)

        // RowDescription and DataRow count fields in an Int16: 40,000 columns overflowed it.
        let wide = "SELECT " + Array(repeating: "1", count: 40_000).joined(separator: ",")
        s.send(Self.query(wide))
        var errors = Self.errors(PG.readUntilReady(s))
        #expect(errors.count == 1 && errors[0].hasPrefix("54011") && errors[0].contains("1664"), "\(errors)")
        // PostgreSQL's own limit is allowed.
        s.send(Self.query("SELECT " + Array(repeating: "1", count: 1_664).joined(separator: ",")))
        let fine = PG.readUntilReady(s)
        #expect(Self.errors(fine).isEmpty && fine.contains { $0.0 == UInt8(ascii: "D") })

        // 40,000 parameters are described with an unsigned count, as PostgreSQL does.
        let parse = PG.message("P", [0] + Array("SELECT $40000".utf8) + [0, 0, 0])
        s.send(parse + PG.message("D", [UInt8(ascii: "S"), 0]) + PG.message("S", []))
        let described = PG.readUntilReady(s)
        let parameters = described.first { $0.0 == UInt8(ascii: "t") }?.1 ?? []
        #expect(parameters.count >= 2 && Int(parameters[0]) << 8 | Int(parameters[1]) == 40_000, "\(Self.errors(described))")

        // COPY naming a column twice (or 40,000 times) is PostgreSQL's 42701, before any CopyInResponse.
        s.send(Self.query("CREATE TABLE t (a INT)"))
        _ = PG.readUntilReady(s)
        s.send(Self.query("COPY t (" + Array(repeating: "a", count: 40_000).joined(separator: ",") + ") FROM STDIN"))
        errors = Self.errors(PG.readUntilReady(s))
        #expect(errors.count == 1 && errors[0].hasPrefix("42701"), "\(errors)")

        // psql's name patterns are regular expressions the engine matches without backtracking,
        // so a pattern that is exponential for a backtracking engine answers at once.
        let catalog = "SELECT c.oid, c.relname FROM pg_catalog.pg_class c WHERE c.relname OPERATOR(pg_catalog.~) "
        s.send(Self.query(catalog + "'^((((a|a)*)*)*b)$'"))
        errors = Self.errors(PG.readUntilReady(s))
        #expect(errors.isEmpty, "\(errors)")
        s.send(Self.query(catalog + "'" + String(repeating: "(", count: 100_000) + "'"))
        errors = Self.errors(PG.readUntilReady(s))
        #expect(errors.count == 1, "\(errors)")

        // Timestamps outside PostgreSQL's range are refused where they are made.
        s.send(Self.query("SELECT CAST(-9223372036854775807 AS timestamp)"))
        errors = Self.errors(PG.readUntilReady(s))
        #expect(errors.count == 1 && errors[0].hasPrefix("22008"), "\(errors)")

        // Custom settings are bounded per connection.
        s.send(Self.query("SET my.big = '" + String(repeating: "x", count: 2 << 20) + "'"))
        errors = Self.errors(PG.readUntilReady(s))
        #expect(errors.count == 1 && errors[0].hasPrefix("54000"), "\(errors)")

        #expect(try PG.pgStillAnswers(server.pgPort))
        #expect(server.process.isRunning)
    }

    /// Before logging in a client may send a few kilobytes, not a 64 MiB message the decoder
    /// would buffer for it: past the limit the server closes the connection on its own.
    @Test func pgWireClientsThatHaveNotLoggedInAreBoundedTightly() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let bootstrap = try await HTTPClientTests.call(server, "POST", "/auth/bootstrap", body: #"{"username":"root","password":"root-pw"}"#)
        #expect(bootstrap.status == 200, "\(bootstrap.body)")
        let s = try RawSocket(port: server.pgPort, timeoutSeconds: 5)
        s.send(PG.startup(user: "root"))
        // Not a password but a query declaring 60 MiB, sent in part.
        s.send([UInt8(ascii: "Q")] + withUnsafeBytes(of: UInt32(60 << 20).bigEndian, Array.init))
        for _ in 0..<8 { s.send([UInt8](repeating: 0x41, count: 64 << 10)) }
        _ = s.readAll(max: 1 << 20)  // until the server closes, or 5 s of silence
        var byte: UInt8 = 0
        #expect(recv(s.fd, &byte, 1, Int32(MSG_DONTWAIT)) == 0, "the server should have closed the connection")
        #expect(server.process.isRunning)
    }

    /// HTTP: a prompt template repeating its placeholder around a long input is refused before
    /// it is expanded (a 1 MiB request expanded to tens of gigabytes); a timestamp parameter
    /// outside PostgreSQL's range is 22008.
    @Test func httpRequestsThatWouldExpandOrOverflowAreRefused() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let template = String(repeating: "{{value}}", count: 50_000)
        let body = #"{"prompt": ""# + String(repeating: "A", count: 500_000) + #"", "prompt_template": ""# + template + #""}"#
        let prompt = try await HTTPClientTests.call(server, "POST", "/ai/prompt", body: body)
        #expect(prompt.body.contains("expanded prompt would exceed"), "\(prompt.status) \(prompt.body.prefix(300))")
        let ts = try await HTTPClientTests.call(server, "POST", "/query",
                                                body: #"{"query": "SELECT $1", "params": [{"$ts": 9223372036854775807}]}"#)
        #expect(ts.body.contains("22008") || ts.body.contains("timestamp out of range"), "\(ts.status) \(ts.body)")
        #expect(server.process.isRunning)
    }

    /// Compressed frames are inflated one at a time by the connection's reader, not while the
    /// stream is split: hundreds of small frames each inflating to 16 MiB, sent before the
    /// handshake, used to be inflated all at once.
    @Test func redWireCompressedFramesBeforeTheHandshakeAreNotInflated() async throws {
        guard Zstd.isAvailable else { return }
        let server = try ServerProcess()
        defer { server.remove() }
        let bomb = Frame(.query, correlationID: 9, payload: [UInt8](repeating: 0x20, count: Frame.maximumSize - Frame.headerSize))
            .compressed(level: 19)
        #expect(bomb.flags.contains(.compressed) && bomb.payload.count < 4096)
        let bytes = bomb.encoded()
        let s = try RawSocket(port: server.wirePort, timeoutSeconds: 30)
        s.send(RedWirePreamble.bytes)
        for _ in 0..<400 { s.send(bytes) }  // 6.4 GB inflated
        shutdown(s.fd, Int32(SHUT_WR))
        _ = s.readAll()
        #expect(server.process.isRunning)
        // A logged-in client still gets its compressed queries answered: a short read on the
        // connection's event loop (inflated there up to the 4 KiB such requests may be), and one
        // inflating past that by the reader.
        let client = try RedWireServerTests.connect(server)
        func answeredOnLoop() async throws -> Int {
            try await HTTPClientTests.eventLoopStatements(server, surface: "redwire", outcome: "answered")
        }
        let before = try await answeredOnLoop()
        for (id, padding) in [(UInt64(10), 400), (11, 20_000)] {
            let sql = "SELECT 7 AS seven" + String(repeating: " ", count: padding)
            let small = Frame(.queryWithParams, correlationID: id, payload: ParamValueCodec.encode(.init(sql: sql, parameters: []))).compressed(level: 1)
            #expect(small.flags.contains(.compressed))
            let reply = RedWireServerTests.request(client, small)
            #expect(reply?.kind == .result && RedWireServerTests.text(reply).contains(#""seven":7"#), "\(RedWireServerTests.text(reply))")
        }
        #expect(try await answeredOnLoop() == before + 1, "the short compressed read is answered on the event loop, the long one not")
    }

    /// A reply larger than a frame is an Error frame (the client would drop the connection on
    /// an oversized frame; past 4 GiB the length overflowed its header field, a trap).
    @Test func redWireRepliesLargerThanAFrameAreErrors() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let client = try RedWireServerTests.connect(server)
        let reply = RedWireServerTests.request(client, Frame(.queryWithParams, correlationID: 11,
            payload: ParamValueCodec.encode(.init(sql: "SELECT repeat('x', 20000000) AS big", parameters: []))))
        #expect(reply?.kind == .error, "\(reply?.kind.name ?? "closed")")
        #expect(RedWireServerTests.text(reply).contains("larger than a RedWire frame"))
        #expect(RedWireServerTests.request(client, .query, 12, "SELECT 1")?.kind == .result)
    }
}
