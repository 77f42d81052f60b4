import Foundation
import PostgresNIO
import RedCore
import RedWire
import Testing

/// RedWire Prepare / PreparedOk / ExecutePrepared against the real server (spec protocols
/// §1.6.8): literals become the parameters, the client picks statement ids, results come
/// as QueryBinary's (or streamed with MORE_FRAMES), and every mistake is an Error frame on
/// a connection that stays usable.
@Suite(.serialized) struct RedWirePreparedTests {
    typealias Wire = RedWireServerTests

    static func prepare(_ socket: RawSocket, id: UInt32, _ sql: String, correlation: UInt64) -> Frame? {
        Wire.request(socket, Frame(.prepare, correlationID: correlation,
                                   payload: PreparedStatementCodec.encode(.init(statementID: id, sql: sql))))
    }

    static func execute(_ socket: RawSocket, id: UInt32, _ parameters: [Value], correlation: UInt64) -> Frame? {
        Wire.request(socket, Frame(.executePrepared, correlationID: correlation,
                                   payload: PreparedStatementCodec.encode(.init(statementID: id, parameters: parameters))))
    }

    @Test func literalsBecomeTheParameters() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try Wire.connect(server)
        #expect(Wire.request(socket, Frame(.query, correlationID: 3, payload: Array(
            "CREATE TABLE p (id INT PRIMARY KEY, name TEXT, score FLOAT); INSERT INTO p VALUES (1, 'one', 1.5), (2, 'two', -2.5), (3, 'three', 0.25)".utf8)))?.kind == .result)

        // Two literals, the second negative: two slots.
        let ok = try #require(Self.prepare(socket, id: 7, "SELECT name FROM p WHERE id >= 1 AND score > -0.5 ORDER BY 1", correlation: 4))
        #expect(ok.kind == .preparedOk && ok.correlationID == 4, "\(Wire.text(ok))")
        #expect(try PreparedStatementCodec.decodePreparedOk(ok.payload) == (7, 2))
        let all = try #require(Self.execute(socket, id: 7, [.integer(1), .float(-0.5)], correlation: 5))
        #expect(all.kind == .result, "\(Wire.text(all))")
        #expect(try BinaryValueCodec.decodeColumnar(all.payload) == .init(columns: ["name"], rows: [[.text("one")], [.text("three")]]))
        let rebound = try #require(Self.execute(socket, id: 7, [.integer(2), .float(-10)], correlation: 6))
        #expect(try BinaryValueCodec.decodeColumnar(rebound.payload).rows == [[.text("three")], [.text("two")]])

        // INSERT: every value a slot; each execution inserts its own row.
        let insert = try #require(Self.prepare(socket, id: 8, "INSERT INTO p (id, name, score) VALUES (0, 'x', 0.0)", correlation: 7))
        #expect(try PreparedStatementCodec.decodePreparedOk(insert.payload) == (8, 3))
        for n in 10..<13 {
            #expect(Self.execute(socket, id: 8, [.integer(Int64(n)), .text("n\(n)"), .float(Double(n))], correlation: 8)?.kind == .result)
        }
        let count = Wire.request(socket, Frame(.queryBinary, correlationID: 9, payload: Array("SELECT count(*) FROM p WHERE name LIKE 'n%'".utf8)))
        #expect(try BinaryValueCodec.decodeColumnar(try #require(count).payload).rows == [[.integer(3)]])

        // Mistakes answer Error and the connection carries on.
        let mismatch = Self.execute(socket, id: 7, [.integer(1)], correlation: 10)
        #expect(mismatch?.kind == .error && Wire.text(mismatch).contains("param count mismatch"), "\(Wire.text(mismatch))")
        let unknown = Self.execute(socket, id: 99, [], correlation: 11)
        #expect(unknown?.kind == .error && Wire.text(unknown).contains("unknown prepared stmt_id 99"))
        let placeholder = Self.prepare(socket, id: 9, "SELECT * FROM p WHERE id = $1", correlation: 12)
        #expect(placeholder?.kind == .error && Wire.text(placeholder).contains("literal"), "\(Wire.text(placeholder))")
        let twoStatements = Self.prepare(socket, id: 9, "SELECT 1; SELECT 2", correlation: 13)
        #expect(twoStatements?.kind == .error)
        let badSyntax = Self.prepare(socket, id: 9, "SELEC 1", correlation: 14)
        #expect(badSyntax?.kind == .error)
        let truncated = Wire.request(socket, Frame(.prepare, correlationID: 15, payload: [7, 0, 0, 0, 200, 0, 0, 0, 65]))
        #expect(truncated?.kind == .error && Wire.text(truncated).contains("truncated"), "\(Wire.text(truncated))")
        let lyingCount = Wire.request(socket, Frame(.executePrepared, correlationID: 16, payload: [7, 0, 0, 0, 0xFF, 0xFF]))
        #expect(lyingCount?.kind == .error)

        // DDL prepares with no slots and runs as written; reusing an id replaces its statement.
        let ddl = try #require(Self.prepare(socket, id: 7, "CREATE TABLE q (a INT DEFAULT 5)", correlation: 17))
        #expect(try PreparedStatementCodec.decodePreparedOk(ddl.payload) == (7, 0))
        #expect(Self.execute(socket, id: 7, [], correlation: 18)?.kind == .result)
        #expect(Wire.request(socket, Frame(.query, correlationID: 19, payload: Array("INSERT INTO q DEFAULT VALUES".utf8)))?.kind == .result)

        // With MORE_FRAMES the rows stream as for QueryBinary.
        let series = try #require(Self.prepare(socket, id: 10, "SELECT n FROM generate_series(1, 3) AS g(n)", correlation: 20))
        #expect(try PreparedStatementCodec.decodePreparedOk(series.payload) == (10, 2))
        socket.send(Frame(.executePrepared, correlationID: 21, flags: .moreFrames,
                          payload: PreparedStatementCodec.encode(.init(statementID: 10, parameters: [.integer(1), .integer(1500)]))).encoded())
        #expect(Wire.readFrame(socket)?.kind == .rowDescription)
        var streamed = 0
        while let frame = Wire.readFrame(socket), frame.kind == .result {
            streamed += try BinaryValueCodec.decodeStreamRows(frame.payload, width: 1).count
            if streamed == 1500 { break }
        }
        #expect(streamed == 1500)
        #expect(Wire.readFrame(socket)?.kind == .streamEnd)
    }

    @Test func theEnvironmentCanTurnThemOff() throws {
        let server = try ServerProcess(environment: ["REDDB_DISABLE_PREPARED": "yes"])
        defer { server.remove() }
        let socket = try Wire.connect(server)
        let refused = Self.prepare(socket, id: 1, "SELECT 1", correlation: 3)
        #expect(refused?.kind == .error && Wire.text(refused).contains("prepared statements disabled"), "\(Wire.text(refused))")
        #expect(Wire.request(socket, Frame(.ping, correlationID: 4))?.kind == .pong)
    }
}

/// RedWire SetSession (ours; upstream reserves the kind) and PostgreSQL's statement_timeout.
@Suite(.serialized) struct StatementTimeoutTests {
    typealias Wire = RedWireServerTests
    static let slow = "SELECT count(*) FROM generate_series(1, 100000000)"

    @Test func setSessionAppliesATimeoutToItsStreamOnly() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try Wire.connect(server)
        func set(_ json: String, id: UInt64, stream: UInt16 = 1) -> Frame? {
            Wire.request(socket, Frame(.setSession, correlationID: id, streamID: stream, payload: Array(json.utf8)))
        }
        let ok = set(#"{"statement_timeout": "50ms", "application_name": "billing"}"#, id: 3)
        #expect(ok?.kind == .result && ok?.streamID == 1)
        #expect(Wire.text(ok) == #"{"ok":true,"settings":{"application_name":"billing","statement_timeout":"50ms"}}"#)
        let timedOut = Wire.request(socket, Frame(.query, correlationID: 4, streamID: 1, payload: Array(Self.slow.utf8)))
        #expect(timedOut?.kind == .error && Wire.text(timedOut) == "canceling statement due to statement timeout", "\(Wire.text(timedOut))")
        // The next request on the stream runs under its own timer.
        #expect(Wire.request(socket, Frame(.query, correlationID: 5, streamID: 1, payload: Array("SELECT 1".utf8)))?.kind == .result)

        // Mistakes change nothing.
        let unknown = set(#"{"statement_timeout": 0, "work_mem": "1GB"}"#, id: 6)
        #expect(unknown?.kind == .error && Wire.text(unknown).contains("unrecognized configuration parameter \"work_mem\""))
        let badValue = set(#"{"statement_timeout": "soon"}"#, id: 7)
        #expect(badValue?.kind == .error && Wire.text(badValue).contains("statement_timeout"))
        #expect(set("[1]", id: 8)?.kind == .error)
        #expect(Wire.text(set("{}", id: 9)).contains(#""statement_timeout":"50ms""#))

        // Milliseconds as a number; null restores the default.
        #expect(Wire.text(set(#"{"statement_timeout": 60000, "application_name": null}"#, id: 10)) ==
                #"{"ok":true,"settings":{"application_name":"","statement_timeout":"60000"}}"#)
    }

    @Test func pgWireHonoursStatementTimeout() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await PostgresClientTests.withConnection(server) { conn in
            try await PostgresClientTests.run(conn, "SET statement_timeout = '50ms'")
            await #expect { try await PostgresClientTests.run(conn, PostgresQuery(unsafeSQL: Self.slow)) } throws: { PostgresClientTests.sqlState($0) == "57014" }
            await #expect { try await PostgresClientTests.run(conn, "SET statement_timeout = 'later'") } throws: { PostgresClientTests.sqlState($0) == "22023" }
            try await PostgresClientTests.run(conn, "RESET statement_timeout")
            try await PostgresClientTests.run(conn, "SELECT count(*) FROM generate_series(1, 2000000)")  // well over 50 ms
        }
    }
}

/// zstd on the wire: compressed requests are inflated, and a client that sets feature bit 2
/// gets large replies compressed.
@Suite(.serialized) struct RedWireCompressionTests {
    typealias Wire = RedWireServerTests

    /// One frame as sent, flags untouched: (flags, kind, payload as sent).
    static func rawFrame(_ socket: RawSocket) -> (flags: UInt8, kind: UInt8, payload: [UInt8])? {
        guard let bytes = Wire.readFrameBytes(socket) else { return nil }
        return (bytes[5], bytes[4], Array(bytes[Frame.headerSize...]))
    }

    @Test(.enabled(if: Zstd.isAvailable, "libzstd.so.1 is not installed")) func compressedRequestsAndReplies() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try RawSocket(port: server.wirePort)
        socket.send(RedWirePreamble.bytes)
        let ack = Wire.request(socket, Frame(.hello, correlationID: 1, payload: Array(#"{"versions":[1],"auth_methods":["anonymous"],"features":4}"#.utf8)))
        #expect(Wire.text(ack).contains(#""features":5"#), "\(Wire.text(ack))")
        #expect(Wire.request(socket, Frame(.authResponse, correlationID: 2))?.kind == .authOk)

        let sql = "SELECT n, repeat('z', 50) AS pad FROM generate_series(1, 500) AS g(n) WHERE n > " + String(repeating: "0 + ", count: 20) + "0"
        socket.send(Frame(.queryBinary, correlationID: 3, payload: Array(sql.utf8)).compressed().encoded())
        let reply = try #require(Self.rawFrame(socket))
        #expect(reply.kind == MessageKind.result.rawValue && reply.flags & 0x01 != 0)
        let rows = try BinaryValueCodec.decodeColumnar(try Zstd.decompress(reply.payload, maxBytes: 1 << 24)).rows
        #expect(rows.count == 500 && rows[499][1] == .text(String(repeating: "z", count: 50)))
        // Small replies go plain.
        socket.send(Frame(.query, correlationID: 4, payload: Array("SELECT 1".utf8)).encoded())
        #expect(Self.rawFrame(socket)?.flags == 0)
        // A payload that is not zstd closes the connection, as any malformed frame does.
        var broken = Frame(.query, correlationID: 5, payload: Array("plainly not compressed".utf8))
        broken.flags = .compressed
        socket.send(broken.encoded())
        #expect(Self.rawFrame(socket) == nil)
    }
}
