import Foundation
import RedClient
import RedCore
import RedWire
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real `red server` on its RedWire port, spoken to byte by byte: the spec's worked
/// example (preamble, Hello, anonymous AuthResponse, Query, QueryWithParams,
/// BulkInsertBinary, QueryBinary, Ping, Bye), SCRAM with configured users, errors that
/// keep the connection, and malformed input that closes it without harming the server.
@Suite(.serialized) struct RedWireServerTests {

    /// Reads exactly one frame (or nil when the server closed the connection).
    static func readFrame(_ socket: RawSocket) -> Frame? {
        guard let bytes = readFrameBytes(socket), case .frame(let frame, _)? = try? FrameDecoder.decode(bytes[...]) else { return nil }
        return frame
    }

    /// The bytes of exactly one frame, header included, as the server sent them.
    static func readFrameBytes(_ socket: RawSocket) -> [UInt8]? {
        var bytes: [UInt8] = []
        func fill(_ count: Int) -> Bool {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while bytes.count < count {
                let n = buffer.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, min($0.count, count - bytes.count), 0) }
                if n <= 0 { return false }
                bytes += buffer[0..<n]
            }
            return true
        }
        guard fill(Frame.headerSize) else { return nil }
        let length = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
        return fill(length) ? bytes : nil
    }

    static func request(_ socket: RawSocket, _ frame: Frame) -> Frame? {
        socket.send(frame.encoded())
        return readFrame(socket)
    }

    /// A request with a UTF-8 text payload, and its reply.
    static func request(_ socket: RawSocket, _ kind: MessageKind, _ id: UInt64, _ text: String) -> Frame? {
        request(socket, Frame(kind, correlationID: id, payload: Array(text.utf8)))
    }

    static func text(_ frame: Frame?) -> String { frame.map { String(decoding: $0.payload, as: UTF8.self) } ?? "<closed>" }

    static func hello(_ methods: [String]) -> Frame {
        let list = methods.map { "\"\($0)\"" }.joined(separator: ",")
        return Frame(.hello, correlationID: 1, payload: Array(#"{"versions":[1],"auth_methods":[\#(list)],"features":0}"#.utf8))
    }

    /// Preamble, Hello and an anonymous AuthResponse on a fresh connection.
    static func connect(_ server: ServerProcess) throws -> RawSocket {
        let socket = try RawSocket(port: server.wirePort)
        socket.send(RedWirePreamble.bytes)
        let ack = request(socket, hello(["anonymous"]))
        #expect(ack?.kind == .helloAck, "\(text(ack))")
        let ok = request(socket, Frame(.authResponse, correlationID: 2))
        #expect(ok?.kind == .authOk, "\(text(ok))")
        return socket
    }

    @Test func workedExampleEndToEnd() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try RawSocket(port: server.wirePort)
        socket.send(RedWirePreamble.bytes)
        let ack = try #require(Self.request(socket, Self.hello(["anonymous"])))
        #expect(ack.kind == .helloAck && ack.correlationID == 1)
        let ackJSON = Self.text(ack)
        #expect(ackJSON.contains(#""auth":"anonymous""#) && ackJSON.contains(#""features":1"#)
                && ackJSON.contains(#""topology":"ARkAAAAAAAAAAAAAAAAAAAAFAAAAbG9jYWwAAAAA""#) && ackJSON.contains(#""version":1"#))
        let ok = try #require(Self.request(socket, Frame(.authResponse, correlationID: 2)))
        #expect(ok.kind == .authOk && Self.text(ok).contains(#""username":"anonymous""#) && Self.text(ok).contains("rwsess-"))

        #expect(Self.text(Self.request(socket, Frame(.query, correlationID: 3,
            payload: Array("CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT)".utf8)))).contains(#""ok":true"#))
        let insert = try #require(Self.request(socket, Frame(.query, correlationID: 3, streamID: 9,
            payload: Array("INSERT INTO users (id, name) VALUES (1, 'ada')".utf8))))
        #expect(insert.kind == .result && insert.correlationID == 3 && insert.streamID == 9)
        #expect(Self.text(insert) == #"{"affected":1,"ok":true,"statement":"insert"}"#)

        // The spec's QueryWithParams fixture, byte for byte.
        let fixture = RedWireCodecBytes.hex("""
            31000000 28 00 0000 0400000000000000 09000000 53454c4543542024 31 03000000
            02 2a00000000000000 04 01000000 78 00
            """)
        socket.send(fixture)
        let params = try #require(Self.readFrame(socket))
        #expect(params.kind == .result && params.correlationID == 4, "\(Self.text(params))")
        #expect(Self.text(params).contains("42"))

        let bulk = BinaryValueCodec.encode(BinaryValueCodec.BulkInsert(collection: "users", columns: ["id", "name"],
                                                                      rows: [[.integer(2), .text("bo")], [.integer(3), .text("cy")]]))
        let bulkOk = try #require(Self.request(socket, Frame(.bulkInsertBinary, correlationID: 5, payload: bulk)))
        #expect(bulkOk.kind == .bulkOk && bulkOk.payload == [2, 0, 0, 0, 0, 0, 0, 0], "\(Self.text(bulkOk))")

        let binary = try #require(Self.request(socket, Frame(.queryBinary, correlationID: 6,
            payload: Array("SELECT id, name FROM users ORDER BY id".utf8))))
        #expect(try BinaryValueCodec.decodeColumnar(binary.payload)
                == .init(columns: ["id", "name"], rows: [[.integer(1), .text("ada")], [.integer(2), .text("bo")], [.integer(3), .text("cy")]]))

        // Errors are frames; the connection stays usable.
        let error = try #require(Self.request(socket, Frame(.query, correlationID: 7, payload: Array("SELECT * FROM nope".utf8))))
        #expect(error.kind == .error && Self.text(error).contains("nope"))
        let duplicate = BinaryValueCodec.encode(BinaryValueCodec.BulkInsert(collection: "users", columns: ["id", "name"],
                                                                           rows: [[.integer(4), .text("dd")], [.integer(1), .text("again")]]))
        #expect(Self.request(socket, Frame(.bulkInsertBinary, correlationID: 8, payload: duplicate))?.kind == .error)
        #expect(Self.text(Self.request(socket, Frame(.queryWithParams, correlationID: 9,
            payload: ParamValueCodec.encode(.init(sql: "SELECT count(*) FROM users", parameters: []))))).contains("3"))  // all or nothing
        #expect(Self.text(Self.request(socket, Frame(.result, correlationID: 10))) == "redwire: Result is server-only")
        #expect(Self.text(Self.request(socket, Frame(.compress, correlationID: 11))) == "redwire: cannot dispatch Compress yet")
        #expect(Self.request(socket, Frame(.ping, correlationID: 12, streamID: 4)) == Frame(.pong, correlationID: 12, streamID: 4))
        #expect(Self.request(socket, Frame(.bye, correlationID: 13))?.kind == .bye)
        #expect(Self.readFrame(socket) == nil)  // closed after Bye
    }

    @Test func scramWithConfiguredUsers() throws {
        let server = try ServerProcess(arguments: ["--user", "ada:secret"])
        defer { server.remove() }
        // Anonymous is not offered once users exist.
        let refused = try RawSocket(port: server.wirePort)
        refused.send(RedWirePreamble.bytes)
        let fail = Self.request(refused, Self.hello(["anonymous"]))
        #expect(fail?.kind == .authFail && Self.text(fail).contains("no overlapping auth method"))

        for (password, accepted) in [("secret", true), ("wrong", false)] {
            let socket = try RawSocket(port: server.wirePort)
            socket.send(RedWirePreamble.bytes)
            #expect(Self.request(socket, Self.hello(["anonymous", "scram-sha-256"]))?.kind == .helloAck)
            var client = SCRAMClient(user: "ada", password: password)
            let challenge = try #require(Self.request(socket, Frame(.authResponse, correlationID: 2, payload: Array(client.first().utf8))))
            #expect(challenge.kind == .authRequest)
            let final = try client.final(serverFirst: Self.text(challenge))
            let outcome = try #require(Self.request(socket, Frame(.authResponse, correlationID: 3, payload: Array(final.utf8))))
            if accepted {
                #expect(outcome.kind == .authOk && Self.text(outcome).contains(#""username":"ada""#) && Self.text(outcome).contains(#""v":"#))
                #expect(Self.text(Self.request(socket, Frame(.query, correlationID: 4, payload: Array("SELECT 1".utf8)))).contains(#""ok":true"#))
            } else {
                #expect(outcome.kind == .authFail && Self.text(outcome).contains("invalid SCRAM proof"))
                #expect(Self.readFrame(socket) == nil)
            }
        }
    }

    /// With users configured, HTTP needs a bearer token from `POST /auth/login` (health stays
    /// public), and the same token opens a RedWire connection with the `bearer` method.
    @Test func bearerTokensFromLoginWorkOnHTTPAndRedWire() async throws {
        let server = try ServerProcess(arguments: ["--user", "ada:secret"])
        defer { server.remove() }
        #expect(try await HTTPClientTests.call(server, "GET", "/health").status == 200)
        let anonymous = try await HTTPClientTests.call(server, "POST", "/query", body: "SELECT 1")
        #expect(anonymous.status == 401 && anonymous.json["error"] == .string("unauthorized"))
        let wrong = try await HTTPClientTests.call(server, "POST", "/auth/login", body: #"{"username":"ada","password":"nope"}"#)
        #expect(wrong.status == 401)
        let login = try await HTTPClientTests.call(server, "POST", "/auth/login", body: #"{"username":"ada","password":"secret"}"#)
        guard case .string(let token)? = login.json["token"] else { throw RedError(.internalError, "no token: \(login.body)") }
        #expect(try await HTTPClientTests.call(server, "POST", "/query", body: "SELECT 1", token: token).status == 200)
        #expect(try await HTTPClientTests.call(server, "POST", "/query", body: "SELECT 1", token: "rdb_forged").status == 401)
        let whoAmI = try await HTTPClientTests.call(server, "GET", "/auth/whoami", token: token)
        #expect(whoAmI.status == 200 && whoAmI.json["username"] == .string("ada") && whoAmI.json["authenticated"] == .bool(true))
        #expect(try await HTTPClientTests.call(server, "GET", "/auth/whoami").status == 401)

        for (candidate, accepted) in [(token, true), ("rdb_forged", false)] {
            let socket = try RawSocket(port: server.wirePort)
            socket.send(RedWirePreamble.bytes)
            let ack = Self.request(socket, Self.hello(["bearer"]))
            #expect(ack?.kind == .helloAck && Self.text(ack).contains(#""auth":"bearer""#))
            let outcome = Self.request(socket, Frame(.authResponse, correlationID: 2, payload: Array(#"{"token":"\#(candidate)"}"#.utf8)))
            if accepted {
                #expect(outcome?.kind == .authOk && Self.text(outcome).contains(#""username":"ada""#))
                #expect(Self.text(Self.request(socket, Frame(.query, correlationID: 4, payload: Array("SELECT 1".utf8)))).contains(#""ok":true"#))
            } else {
                #expect(outcome?.kind == .authFail && Self.text(outcome).contains("bearer token invalid"))
            }
        }
    }

    /// Get and Delete by rid (tables, documents) or key (KV); Get returns the record too.
    @Test func getAndDeleteByIdOrKey() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try Self.connect(server)
        func send(_ kind: MessageKind, _ id: UInt64, _ text: String) -> Frame? { Self.request(socket, kind, id, text) }
        _ = send(.query, 1, "CREATE TABLE g (id BIGINT PRIMARY KEY, name TEXT)")
        _ = send(.query, 2, "INSERT INTO g VALUES (10, 'Ada')")
        _ = send(.query, 3, "KV PUT cache.k = 'v'")
        let found = send(.get, 4, #"{"collection":"g","id":"1"}"#)
        #expect(found?.kind == .result && Self.text(found).contains(#""found":true"#) && Self.text(found).contains(#""name":"Ada""#),
                "\(Self.text(found))")
        #expect(Self.text(send(.get, 5, #"{"collection":"g","id":"99"}"#)) == #"{"found":false,"ok":true}"#)
        #expect(Self.text(send(.get, 6, #"{"collection":"cache","id":"k"}"#)).contains(#""value":"v""#))
        let deleted = send(.delete, 7, #"{"collection":"g","id":"1"}"#)
        #expect(deleted?.kind == .deleteOk && Self.text(deleted) == #"{"affected":1}"#)
        #expect(Self.text(send(.delete, 8, #"{"collection":"cache","id":"k"}"#)) == #"{"affected":1}"#)
        #expect(Self.text(send(.delete, 9, #"{"collection":"g","id":"1"}"#)) == #"{"affected":0}"#)
        let bad = send(.get, 10, #"{"collection":"g"}"#)
        #expect(bad?.kind == .error && Self.text(bad) == "Get: missing 'id' string")
        #expect(Self.text(send(.delete, 11, "nope")).hasPrefix("Delete: invalid JSON"))
        #expect(Self.text(send(.get, 12, #"{"collection":"g","id":"abc"}"#)).contains("rid"))
    }

    /// BulkInsert (0x04): one payload or many, into a table or a document collection; the
    /// first failing row answers Error and the rows before it stay.
    @Test func jsonBulkInsert() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try Self.connect(server)
        func send(_ kind: MessageKind, _ id: UInt64, _ text: String) -> Frame? { Self.request(socket, kind, id, text) }
        _ = send(.query, 1, "CREATE TABLE j (id BIGINT PRIMARY KEY, name TEXT)")
        let one = send(.bulkInsert, 2, #"{"collection":"j","payload":{"id":1,"name":"Ada"}}"#)
        #expect(one?.kind == .bulkOk && Self.text(one).hasPrefix(#"{"affected":1,"id":"#), "\(Self.text(one))")
        let many = send(.bulkInsert, 3, #"{"collection":"j","payloads":[{"id":2,"name":"Bob"},{"id":3}]}"#)
        #expect(Self.text(many).hasPrefix(#"{"affected":2,"ids":["#), "\(Self.text(many))")
        let failing = send(.bulkInsert, 4, #"{"collection":"j","payloads":[{"id":4},{"id":1},{"id":5}]}"#)
        #expect(failing?.kind == .error)
        let counted = Self.request(socket, Frame(.queryWithParams, correlationID: 6,
                                                 payload: ParamValueCodec.encode(.init(sql: "SELECT count(*) AS n FROM j", parameters: []))))
        #expect(Self.text(counted).contains(#""n":4"#), "\(Self.text(counted))")
        _ = send(.query, 7, "CREATE DOCUMENT notes")
        #expect(Self.text(send(.bulkInsert, 8, #"{"collection":"notes","payloads":[{"t":"a"},{"t":"b","tags":[1]}]}"#)).hasPrefix(#"{"affected":2"#))
        #expect(Self.text(send(.bulkInsert, 9, #"{"collection":"j"}"#)) == "Insert: missing 'payload' object or 'payloads' array")
        #expect(Self.text(send(.bulkInsert, 10, #"{"collection":"j","payloads":[1]}"#)) == "Insert: each payload must be a JSON object")
        #expect(Self.text(send(.bulkInsert, 11, "[]")) == "Insert: payload must be a JSON object")
    }

    /// QueryBinary with MORE_FRAMES streams: RowDescription, Result chunks flagged MORE_FRAMES,
    /// StreamEnd with the total; errors end the stream with an Error frame.
    @Test func streamedResults() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try Self.connect(server)
        let sql = "SELECT n, 'row ' || n AS label FROM generate_series(1, 2500) AS g(n)"
        socket.send(Frame(.queryBinary, correlationID: 5, streamID: 3, flags: .moreFrames, payload: Array(sql.utf8)).encoded())
        let description = try #require(Self.readFrame(socket))
        #expect(description.kind == .rowDescription && description.correlationID == 5 && description.streamID == 3)
        #expect(try BinaryValueCodec.decodeRowDescription(description.payload) == ["n", "label"])
        var values: [Int64] = []
        var chunks = 0
        while let frame = Self.readFrame(socket), frame.kind == .result {
            #expect(frame.flags.contains(.moreFrames) && frame.correlationID == 5)
            chunks += 1
            for row in try BinaryValueCodec.decodeStreamRows(frame.payload, width: 2) {
                if case .integer(let n) = row[0] { values.append(n) }
                #expect(row[1] == .text("row \(values.last ?? 0)"))
            }
            if values.count == 2500 { break }
        }
        #expect(values == Array(1...2500) && chunks == 3)
        let end = try #require(Self.readFrame(socket))
        #expect(end.kind == .streamEnd && end.payload == [0xC4, 0x09, 0, 0, 0, 0, 0, 0])  // 2,500
        socket.send(Frame(.queryBinary, correlationID: 6, flags: .moreFrames, payload: Array("SELECT * FROM missing".utf8)).encoded())
        let failure = Self.readFrame(socket)
        #expect(failure?.kind == .error && failure?.correlationID == 6)
        // Without the flag QueryBinary answers one columnar Result, as upstream.
        #expect(Self.request(socket, Frame(.queryBinary, correlationID: 7, payload: Array("SELECT 1".utf8)))?.kind == .result)

        // Large values: chunks are cut by their encoded size, so every row arrives (720 rows of
        // 12 KB blobs, 24 KB as hex, went out as one chunk over the frame limit: an Error frame).
        let blobs = "SELECT n, decode(repeat('ab', 12000), 'hex') AS b FROM generate_series(1, 720) AS g(n)"
        socket.send(Frame(.queryBinary, correlationID: 8, flags: .moreFrames, payload: Array(blobs.utf8)).encoded())
        #expect(Self.readFrame(socket)?.kind == .rowDescription)
        var rows = 0
        var last: Frame?
        while let frame = Self.readFrame(socket) {
            last = frame
            guard frame.kind == .result else { break }
            #expect(frame.payload.count <= Frame.maximumSize)
            rows += try BinaryValueCodec.decodeStreamRows(frame.payload, width: 2).count
        }
        #expect(rows == 720 && last?.kind == .streamEnd, "\(rows) rows, then \(String(describing: last?.kind))")
    }

    @Test func malformedInputClosesOnlyThatConnection() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let keeper = try Self.connect(server)
        let cases: [[UInt8]] = [
            [0x47, 0x45, 0x54, 0x20],                              // not the magic byte
            [0xFE, 0x02],                                          // unsupported minor version
            RedWirePreamble.bytes + [0x05, 0, 0, 0] + [UInt8](repeating: 0, count: 12),  // length below 16
            RedWirePreamble.bytes + [0xFF, 0xFF, 0xFF, 0x7F] + [UInt8](repeating: 0, count: 12),  // over 16 MiB
            RedWirePreamble.bytes + Frame(.query, correlationID: 1).encoded(),  // first frame is not Hello
        ]
        for bytes in cases {
            let socket = try RawSocket(port: server.wirePort)
            socket.send(bytes)
            let reply = Self.readFrame(socket)
            #expect(reply == nil || reply?.kind == .authFail)
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<30 {
            let socket = try RawSocket(port: server.wirePort)
            socket.send(RedWirePreamble.bytes + (0..<Int.random(in: 1...200, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            shutdown(socket.fd, Int32(SHUT_WR))  // end of input: a partial frame must not keep the server waiting
            _ = socket.readAll(max: 1 << 12)
        }
        #expect(Self.text(Self.request(keeper, Frame(.query, correlationID: 9, payload: Array("SELECT 1".utf8)))).contains(#""ok":true"#))
        _ = try Self.connect(server)
    }

    /// 200 queries in flight on one connection over 50 streams: every reply comes back with
    /// its own correlation id and answer.
    @Test func twoHundredMultiplexedQueriesOnOneConnection() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try Self.connect(server)
        var batch: [UInt8] = []
        for i in 0..<200 {
            let query = ParamValueCodec.encode(.init(sql: "SELECT $1 * 2 AS doubled", parameters: [.integer(Int64(i))]))
            batch += Frame(.queryWithParams, correlationID: UInt64(1_000 + i), streamID: UInt16(1 + i % 50), payload: query).encoded()
        }
        socket.send(batch)
        var answered: [UInt64: String] = [:]
        for _ in 0..<200 {
            guard let reply = Self.readFrame(socket) else { break }
            #expect(reply.kind == .result && reply.streamID == UInt16(1 + Int(reply.correlationID - 1_000) % 50))
            answered[reply.correlationID] = Self.text(reply)
        }
        #expect(answered.count == 200)
        for i in 0..<200 {
            #expect(answered[UInt64(1_000 + i)]?.contains("\(i * 2)") == true, "\(i): \(answered[UInt64(1_000 + i)] ?? "none")")
        }
    }

    /// Each stream is a session: a transaction open on one stream is invisible to another
    /// until it commits, and a long statement on one stream does not hold up another.
    @Test func streamsAreIndependentSessions() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try Self.connect(server)
        func query(_ sql: String, stream: UInt16, id: UInt64) -> String {
            Self.text(Self.request(socket, Frame(.queryWithParams, correlationID: id, streamID: stream,
                                                 payload: ParamValueCodec.encode(.init(sql: sql, parameters: [])))))
        }
        _ = query("CREATE TABLE t (id BIGINT PRIMARY KEY)", stream: 0, id: 1)
        _ = query("BEGIN", stream: 1, id: 2)
        _ = query("INSERT INTO t VALUES (1)", stream: 1, id: 3)
        #expect(query("SELECT count(*) AS n FROM t", stream: 2, id: 4).contains(#""n":0"#))
        _ = query("COMMIT", stream: 1, id: 5)
        #expect(query("SELECT count(*) AS n FROM t", stream: 2, id: 6).contains(#""n":1"#))

        let slow = ParamValueCodec.encode(.init(sql: "SELECT count(*) FROM generate_series(1, 1000000) AS g", parameters: []))
        let quick = ParamValueCodec.encode(.init(sql: "SELECT 42 AS answer", parameters: []))
        socket.send(Frame(.queryWithParams, correlationID: 7, streamID: 3, payload: slow).encoded()
                    + Frame(.queryWithParams, correlationID: 8, streamID: 4, payload: quick).encoded())
        let first = Self.readFrame(socket), second = Self.readFrame(socket)
        #expect(first?.correlationID == 8 && second?.correlationID == 7)
    }

    /// A short read is answered on the connection's event loop, a write or a long read on the
    /// shared pool; wherever each runs, a stream's replies come back in order and each sees
    /// everything the stream did before it.
    @Test func aStreamsRepliesKeepTheirOrderWhereverTheyRun() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try Self.connect(server)
        func frame(_ sql: String, _ id: UInt64, stream: UInt16 = 1) -> Frame {
            Frame(.queryWithParams, correlationID: id, streamID: stream, payload: ParamValueCodec.encode(.init(sql: sql, parameters: [])))
        }
        #expect(Self.request(socket, frame("CREATE TABLE t (id BIGINT PRIMARY KEY)", 1))?.kind == .result)
        var batch: [UInt8] = []
        for i in 1...100 {
            batch += frame("INSERT INTO t VALUES (\(i))", UInt64(1_000 + 2 * i)).encoded()
            batch += frame("SELECT count(*) AS n FROM t", UInt64(1_001 + 2 * i)).encoded()
        }
        socket.send(batch)
        for i in 1...100 {
            let inserted = Self.readFrame(socket), counted = Self.readFrame(socket)
            #expect(inserted?.correlationID == UInt64(1_000 + 2 * i) && inserted?.kind == .result)
            #expect(counted?.correlationID == UInt64(1_001 + 2 * i) && Self.text(counted).contains(#""n":\#(i)"#), "\(Self.text(counted))")
        }

        func eventLoopStatements(_ outcome: String) async throws -> Int {
            try await HTTPClientTests.eventLoopStatements(server, surface: "redwire", outcome: outcome)
        }
        let (answered, declined) = (try await eventLoopStatements("answered"), try await eventLoopStatements("declined"))
        for i in 0..<20 { #expect(Self.text(Self.request(socket, frame("SELECT \(i) AS i", UInt64(2_000 + i)))).contains(#""i":\#(i)"#)) }
        #expect(Self.text(Self.request(socket, frame("SELECT count(*) AS n FROM generate_series(1, 100000) AS g", 3_000))).contains(#""n":100000"#))
        #expect(try await eventLoopStatements("answered") >= answered + 20, "one at a time, SELECT i is answered on the event loop")
        #expect(try await eventLoopStatements("declined") == declined + 1, "a 100,000-row count is declined there")
    }

    /// Short reads answered in the pipeline (`RedWireFastLane`) and everything the reader and
    /// the streams' tasks answer interleave, but each stream's replies keep its order: here
    /// stream 1's long count, then its short reads, and stream 2's reads and writes, all sent
    /// in one write and then again one at a time.
    @Test func pipelinedStreamsKeepEachStreamsOrder() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try Self.connect(server)
        func frame(_ sql: String, _ id: UInt64, stream: UInt16) -> Frame {
            Frame(.queryWithParams, correlationID: id, streamID: stream, payload: ParamValueCodec.encode(.init(sql: sql, parameters: [])))
        }
        #expect(Self.request(socket, frame("CREATE TABLE p (id BIGINT PRIMARY KEY)", 1, stream: 2))?.kind == .result)
        #expect(Self.request(socket, frame("SELECT 0 AS i", 2, stream: 1))?.kind == .result)
        for round in 0..<2 {
            let base = UInt64(1_000 * (round + 1))
            var sent: [(id: UInt64, stream: UInt16, expect: String)] = []
            sent.append((base, 1, #""n":200000"#))
            var batch = frame("SELECT count(*) AS n FROM generate_series(1, 200000) AS g", base, stream: 1).encoded()
            for i in 1...30 {
                let read = base + UInt64(3 * i), write = read + 1, short = read + 2
                batch += frame("SELECT \(i) AS i", short, stream: 1).encoded()
                sent.append((short, 1, #""i":\#(i)"#))
                batch += frame("INSERT INTO p VALUES (\(30 * round + i))", write, stream: 2).encoded()
                sent.append((write, 2, #""affected_rows":1"#))
                batch += frame("SELECT count(*) AS n FROM p", read, stream: 2).encoded()
                sent.append((read, 2, #""n":\#(30 * round + i)"#))
            }
            if round == 0 {
                socket.send(batch)
            } else {
                var offset = 0
                while offset < batch.count {  // one frame per write
                    let length = Int(batch[offset]) | Int(batch[offset + 1]) << 8 | Int(batch[offset + 2]) << 16 | Int(batch[offset + 3]) << 24
                    socket.send(Array(batch[offset..<offset + length]))
                    offset += length
                }
            }
            var replies: [UInt64: Frame] = [:]
            var order: [UInt16: [UInt64]] = [:]
            for _ in sent {
                guard let reply = Self.readFrame(socket) else { Issue.record("connection closed"); return }
                replies[reply.correlationID] = reply
                order[reply.streamID, default: []].append(reply.correlationID)
            }
            for request in sent {
                #expect(replies[request.id]?.kind == .result && Self.text(replies[request.id]).contains(request.expect),
                        "request \(request.id): \(Self.text(replies[request.id]))")
            }
            for stream: UInt16 in [1, 2] {
                #expect(order[stream] == sent.filter { $0.stream == stream }.map(\.id), "stream \(stream) answered out of order")
            }
        }
    }

    /// In-band Cancel stops a running statement named by its correlation id.
    @Test func cancelStopsTheNamedStatement() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try Self.connect(server)
        func cancel(_ target: UInt64, id: UInt64) -> Frame? {
            var payload = ByteWriter()
            payload.u64(target)
            return Self.request(socket, Frame(.cancel, correlationID: id, payload: payload.bytes))
        }
        #expect(Self.text(cancel(999, id: 1)) == #"{"cancelled":false,"ok":true}"#)
        #expect(Self.request(socket, Frame(.cancel, correlationID: 2, payload: [1, 2]))?.kind == .error)

        let slow = ParamValueCodec.encode(.init(sql: "SELECT count(*) FROM generate_series(1, 100000000) AS g", parameters: []))
        socket.send(Frame(.queryWithParams, correlationID: 20, streamID: 1, payload: slow).encoded())
        // The statement may not have started when the first Cancel arrives: ask until it has.
        var cancelled = false
        for attempt in 0..<500 where !cancelled {
            let reply = try #require(cancel(20, id: UInt64(100 + attempt)))
            #expect(reply.kind == .result)
            cancelled = Self.text(reply).contains(#""cancelled":true"#)
            if !cancelled { usleep(10_000) }
        }
        #expect(cancelled)
        let stopped = try #require(Self.readFrame(socket))
        #expect(stopped.correlationID == 20 && stopped.kind == .error && Self.text(stopped).contains("canceling statement"))
        // The stream's session is still usable.
        let after = Self.request(socket, Frame(.queryWithParams, correlationID: 21, streamID: 1,
                                                payload: ParamValueCodec.encode(.init(sql: "SELECT 7 AS seven", parameters: []))))
        #expect(Self.text(after).contains("7"))
    }

    /// Requests queued behind a busy stream are held to 64 MiB of payload per connection: past
    /// that the server stops reading, so the client's sends stall (TCP pushes back) instead of
    /// the server buffering without bound. Once the busy statement ends (here by its statement
    /// timeout) the queue drains, reading resumes, and every request is answered in order.
    @Test func aConnectionsQueuedRequestsAreHeldToItsByteBudget() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try Self.connect(server)
        let settings = Self.request(socket, Frame(.setSession, correlationID: 3, streamID: 1, payload: Array(#"{"statement_timeout": 8000}"#.utf8)))
        #expect(settings?.kind == .result, "\(Self.text(settings))")
        let busy = ParamValueCodec.encode(.init(sql: "SELECT count(*) FROM generate_series(1, 1000000) a, generate_series(1, 100000) b", parameters: []))
        socket.send(Frame(.queryWithParams, correlationID: 10, streamID: 1, payload: busy).encoded())
        // 100 requests of 1 MiB each, queued behind it on the same stream.
        let filler = Array("-- ".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
        var pending: [UInt8] = []
        for i in 0..<100 { pending += Frame(.query, correlationID: 100 + UInt64(i), streamID: 1, payload: filler).encoded() }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(socket.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sent = 0
        while sent < pending.count {
            let n = pending[sent...].withUnsafeBytes { Glibc.send(socket.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }  // 2 s without room: the server has stopped reading
            sent += n
        }
        #expect(sent < pending.count, "the server read all \(pending.count >> 20) MiB while its stream was busy")
        #expect(sent < 96 << 20, "\(sent >> 20) MiB accepted")
        // The busy statement times out; the queue drains and the rest goes through.
        timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(socket.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        while sent < pending.count {
            let n = pending[sent...].withUnsafeBytes { Glibc.send(socket.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { Issue.record("send failed after the queue drained"); return }
            sent += n
        }
        var wait = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(socket.fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let timedOut = try #require(Self.readFrame(socket))
        #expect(timedOut.correlationID == 10 && timedOut.kind == .error && Self.text(timedOut).contains("statement timeout"))
        var answered: [UInt64] = []
        while answered.count < 100, let reply = Self.readFrame(socket) { answered.append(reply.correlationID) }
        #expect(answered == (100..<200).map { UInt64($0) })
    }

    /// BulkStreamStart/Rows/Commit: rows pipelined without replies, flushed at 50,000,
    /// the rest at commit, BulkOk counting them all.
    @Test func bulkStreamInsertsEveryRow() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try Self.connect(server)
        #expect(Self.text(Self.request(socket, Frame(.query, correlationID: 1, payload: Array("CREATE TABLE s (id BIGINT PRIMARY KEY, tag TEXT)".utf8)))).contains("true"))
        #expect(Self.text(Self.request(socket, Frame(.bulkStreamCommit, correlationID: 2, streamID: 2))) == "stream commit: no active stream session")
        #expect(Self.text(Self.request(socket, Frame(.bulkStreamRows, correlationID: 3, streamID: 2,
            payload: BinaryValueCodec.encodeStreamRows([[.integer(1), .text("x")]])))).hasPrefix("stream rows: no active stream session"))
        let ack = Self.request(socket, Frame(.bulkStreamStart, correlationID: 4, streamID: 2,
                                             payload: BinaryValueCodec.encodeStreamStart(collection: "s", columns: ["id", "tag"])))
        #expect(ack?.kind == .bulkStreamAck && ack?.correlationID == 4)
        var next: Int64 = 1
        for size in [20_000, 20_000, 20_000, 5_000] {
            let rows = (next..<next + Int64(size)).map { [Value.integer($0), .text("t\($0 % 7)")] }
            socket.send(Frame(.bulkStreamRows, correlationID: 5, streamID: 2, payload: BinaryValueCodec.encodeStreamRows(rows)).encoded())
            next += Int64(size)
        }
        var timeout = timeval(tv_sec: 300, tv_usec: 0)  // a debug build inserts 65,000 rows slowly
        setsockopt(socket.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let ok = try #require(Self.request(socket, Frame(.bulkStreamCommit, correlationID: 6, streamID: 2)))
        #expect(ok.kind == .bulkOk && ok.payload == [0xE8, 0xFD, 0, 0, 0, 0, 0, 0], "\(Self.text(ok))")  // 65,000
        #expect(Self.text(Self.request(socket, Frame(.queryWithParams, correlationID: 7, streamID: 2,
            payload: ParamValueCodec.encode(.init(sql: "SELECT count(*) AS n FROM s", parameters: []))))).contains(#""n":65000"#))
    }

    /// The texts of the Error frames read until the reply to `correlationID` (pipelined
    /// bulk-stream rows get a reply only when they fail), that reply included.
    static func errors(_ socket: RawSocket, untilReplyTo correlationID: UInt64) -> [String] {
        var errors: [String] = []
        while let frame = readFrame(socket) {
            if frame.kind == .error { errors.append(text(frame)) }
            if frame.correlationID == correlationID { break }
        }
        return errors
    }

    /// Creates `table (id BIGINT PRIMARY KEY)` and opens a bulk stream into it on stream 1
    /// (correlation ids 1 and 2).
    static func startIDStream(_ socket: RawSocket, table: String) {
        #expect(Self.text(Self.request(socket, Frame(.query, correlationID: 1, payload: Array("CREATE TABLE \(table) (id BIGINT PRIMARY KEY)".utf8)))).contains("true"))
        _ = Self.request(socket, Frame(.bulkStreamStart, correlationID: 2, streamID: 1,
                                       payload: BinaryValueCodec.encodeStreamStart(collection: table, columns: ["id"])))
    }

    /// Small requests queued behind a slow one on the same stream are all answered: the reader
    /// pauses before the stream's queue is full, instead of dropping the overflow with an Error.
    @Test func smallRequestsQueuedBehindASlowOneAreAllAnswered() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try Self.connect(server)
        var bytes = Frame(.query, correlationID: 1, streamID: 1, payload: Array("SELECT pg_sleep(0.5)".utf8)).encoded()
        let count = 1_200  // more than a stream's queue holds (1,024)
        for id in 2...UInt64(count + 1) { bytes += Frame(.query, correlationID: id, streamID: 1, payload: Array("SELECT 1".utf8)).encoded() }
        socket.send(bytes)
        var replies = 0, errors: [String] = []
        while replies < count + 1, let frame = Self.readFrame(socket) {
            replies += 1
            if frame.kind == .error { errors.append(Self.text(frame)) }
        }
        #expect(replies == count + 1 && errors.isEmpty, "\(replies) replies, \(errors.count) errors: \(errors.first ?? "")")
    }

    /// A rows frame that does not decode ends the stream, as any failure does: the rows after
    /// it are refused, its commit finds no stream, and the uncommitted batch is rolled back.
    @Test func aRowsFrameThatDoesNotDecodeEndsTheStream() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try Self.connect(server)
        Self.startIDStream(socket, table: "d")
        let good = { (from: Int64) in
            Frame(.bulkStreamRows, correlationID: 3, streamID: 1,
                  payload: BinaryValueCodec.encodeStreamRows((from..<from + 100).map { [Value.integer($0)] })).encoded()
        }
        socket.send(good(1))
        socket.send(Frame(.bulkStreamRows, correlationID: 3, streamID: 1, payload: [1, 0, 0, 0, 0xEE]).encoded())  // a bad value tag
        socket.send(good(101))
        socket.send(Frame(.bulkStreamCommit, correlationID: 4, streamID: 1).encoded())
        let errors = Self.errors(socket, untilReplyTo: 4)
        #expect(errors.count == 3 && errors.last == "stream commit: no active stream session", "\(errors)")
        #expect(Self.text(Self.request(socket, Frame(.queryWithParams, correlationID: 5, streamID: 1,
            payload: ParamValueCodec.encode(.init(sql: "SELECT count(*) AS n FROM d", parameters: []))))).contains(#""n":0"#))
    }

    /// REDDB_BULK_STREAM_FLUSH_ROWS (upstream's knob) sets the flush size: every full flush
    /// before a failing one stays committed, pipelined or not. (Early commits off, so batches
    /// end exactly at the flush size.)
    @Test func bulkStreamFlushSizeComesFromTheEnvironment() throws {
        let server = try ServerProcess(environment: ["REDDB_BULK_STREAM_FLUSH_ROWS": "1000", "REDDB_BULK_STREAM_EARLY_COMMIT": "0"])
        defer { server.remove() }
        let socket = try Self.connect(server)
        Self.startIDStream(socket, table: "f")
        for start in stride(from: Int64(1), through: 5_000, by: 500) {
            var rows = (start..<start + 500).map { [Value.integer($0)] }
            if start == 3_001 { rows[250] = [.integer(2_999)] }  // the fourth flush repeats a key of the third
            socket.send(Frame(.bulkStreamRows, correlationID: 3, streamID: 1, payload: BinaryValueCodec.encodeStreamRows(rows)).encoded())
        }
        socket.send(Frame(.bulkStreamCommit, correlationID: 4, streamID: 1).encoded())
        var errors = Self.errors(socket, untilReplyTo: 4)
        #expect(errors.first?.contains("duplicate key value violates unique constraint") == true, "\(errors)")
        #expect(Self.text(Self.request(socket, Frame(.queryWithParams, correlationID: 5, streamID: 1,
            payload: ParamValueCodec.encode(.init(sql: "SELECT count(*) AS n, max(id) AS top FROM f", parameters: []))))).contains(#""n":3000"#))

        // A stream replaced while its last flush commits: that commit's failure is not lost.
        _ = Self.request(socket, Frame(.query, correlationID: 6, payload: Array("CREATE TABLE g (id BIGINT PRIMARY KEY)".utf8)))
        let start = Frame(.bulkStreamStart, correlationID: 7, streamID: 1, payload: BinaryValueCodec.encodeStreamStart(collection: "g", columns: ["id"]))
        _ = Self.request(socket, start)
        var second = (1_001...1_999).map { [Value.integer(Int64($0))] }
        second.append([.integer(500)])  // a key of the first flush, which commits while this one inserts
        for rows in [(1...1_000).map { [Value.integer(Int64($0))] }, second] {
            socket.send(Frame(.bulkStreamRows, correlationID: 8, streamID: 1, payload: BinaryValueCodec.encodeStreamRows(rows)).encoded())
        }
        socket.send(Frame(.bulkStreamStart, correlationID: 9, streamID: 1,
                          payload: BinaryValueCodec.encodeStreamStart(collection: "g", columns: ["id"])).encoded())
        errors = Self.errors(socket, untilReplyTo: 9)
        #expect(errors.count == 1 && errors[0].contains("duplicate key value violates unique constraint"), "\(errors)")
        #expect(Self.text(Self.request(socket, Frame(.queryWithParams, correlationID: 10, streamID: 1,
            payload: ParamValueCodec.encode(.init(sql: "SELECT count(*) AS n FROM g", parameters: []))))).contains(#""n":1000"#))
    }

    /// Rows frames are inserted as they arrive, into a batch that commits at the flush size:
    /// a client that goes away mid-stream keeps the batches committed before and nothing of
    /// the open one, whose keys are free for others afterwards. (Early commits off, as above.)
    @Test func aBulkStreamCutOffKeepsOnlyItsCommittedBatches() throws {
        let server = try ServerProcess(environment: ["REDDB_BULK_STREAM_FLUSH_ROWS": "1000", "REDDB_BULK_STREAM_EARLY_COMMIT": "0"])
        defer { server.remove() }
        do {
            let socket = try Self.connect(server)
            Self.startIDStream(socket, table: "c")
            for start in stride(from: Int64(1), through: 1_500, by: 500) {
                let rows = (start..<start + 500).map { [Value.integer($0)] }
                socket.send(Frame(.bulkStreamRows, correlationID: 3, streamID: 1, payload: BinaryValueCodec.encodeStreamRows(rows)).encoded())
            }
            // A ping answered means every rows frame before it was read; then the socket closes.
            _ = Self.request(socket, Frame(.ping, correlationID: 4, streamID: 0))
        }
        let socket = try Self.connect(server)
        var answer = ""
        for _ in 0..<100 {  // the cut-off stream's last commit may still be finishing
            answer = Self.text(Self.request(socket, Frame(.queryWithParams, correlationID: 5, streamID: 1,
                payload: ParamValueCodec.encode(.init(sql: "SELECT count(*) AS n FROM c", parameters: [])))))
            if answer.contains(#""n":1000"#) { break }
            usleep(50_000)
        }
        #expect(answer.contains(#""n":1000"#), "\(answer)")
        // The open batch's rows (1,001…1,500) never became visible: their ids are free.
        #expect(Self.text(Self.request(socket, Frame(.query, correlationID: 6, payload: Array("INSERT INTO c VALUES (1200)".utf8)))).contains("true"))
    }

    /// With the default thresholds (50,000 rows), a batch also commits once it holds 6,250
    /// rows and no commit is running, as the first one always does (at its seventh 1,000-row
    /// piece): a stream that fails at row 30,000 keeps a prefix of its rows, a whole number
    /// of pieces, and nothing of the open batch.
    @Test func bulkStreamCommitsEarlyWhileNoCommitRuns() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let socket = try Self.connect(server)
        Self.startIDStream(socket, table: "e")
        for start in stride(from: Int64(1), through: 30_000, by: 10_000) {
            var rows = (start..<start + 10_000).map { [Value.integer($0)] }
            if start == 20_001 { rows[9_999] = [.integer(5)] }  // the last row repeats a key of the first batch
            socket.send(Frame(.bulkStreamRows, correlationID: 3, streamID: 1, payload: BinaryValueCodec.encodeStreamRows(rows)).encoded())
        }
        socket.send(Frame(.bulkStreamCommit, correlationID: 4, streamID: 1).encoded())
        let errors = Self.errors(socket, untilReplyTo: 4)
        #expect(errors.first?.contains("duplicate key value violates unique constraint") == true, "\(errors)")
        let answer = Self.text(Self.request(socket, Frame(.queryWithParams, correlationID: 5, streamID: 1,
            payload: ParamValueCodec.encode(.init(sql: "SELECT count(*) AS n, max(id) AS top FROM e", parameters: [])))))
        let count = answer.firstMatch(of: /"n":(\d+)/).flatMap { Int($0.1) }, top = answer.firstMatch(of: /"top":(\d+)/).flatMap { Int($0.1) }
        #expect(count != nil && count == top, "\(answer)")  // a prefix: ids 1…n
        #expect(count.map { $0 >= 7_000 && $0 < 30_000 && $0 % 1_000 == 0 } == true, "\(answer)")
    }

    /// The stream commits one flush while it inserts the next, whose snapshot may not see
    /// it: a key the two share must still fail as a duplicate (23505), not a serialization
    /// failure, and the earlier flush stays committed.
    /// (Early commits off, so the first batch ends exactly at 50,000 rows.)
    @Test func bulkStreamReportsAKeySharedWithThePreviousFlushAsADuplicate() throws {
        let server = try ServerProcess(environment: ["REDDB_BULK_STREAM_EARLY_COMMIT": "0"])
        defer { server.remove() }
        let socket = try Self.connect(server)
        var timeout = timeval(tv_sec: 300, tv_usec: 0)  // a debug build inserts 100,000 rows slowly
        setsockopt(socket.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        #expect(Self.text(Self.request(socket, Frame(.query, correlationID: 1, payload: Array("CREATE TABLE d (id BIGINT PRIMARY KEY, tag TEXT)".utf8)))).contains("true"))
        let ack = Self.request(socket, Frame(.bulkStreamStart, correlationID: 2, streamID: 3,
                                             payload: BinaryValueCodec.encodeStreamStart(collection: "d", columns: ["id", "tag"])))
        #expect(ack?.kind == .bulkStreamAck)
        // The first flush: ids 1…50,000. The second: 50,001…99,999 and then 49,999 again.
        var batches = stride(from: Int64(1), through: 50_000, by: 10_000).map { start in (start..<start + 10_000).map { [Value.integer($0), .text("a")] } }
        batches += stride(from: Int64(50_001), through: 100_000, by: 10_000).map { start in
            (start..<min(start + 10_000, 100_000)).map { [Value.integer($0), .text("b")] }
        }
        batches[batches.count - 1].append([.integer(49_999), .text("again")])
        for rows in batches {
            socket.send(Frame(.bulkStreamRows, correlationID: 3, streamID: 3, payload: BinaryValueCodec.encodeStreamRows(rows)).encoded())
        }
        socket.send(Frame(.bulkStreamCommit, correlationID: 4, streamID: 3).encoded())
        // The duplicate fails the flush (an Error for a rows frame) or the commit (the reply to BulkStreamCommit).
        let errors = Self.errors(socket, untilReplyTo: 4)
        #expect(errors.contains { $0.contains("duplicate key value violates unique constraint") }, "\(errors)")
        #expect(!errors.contains { $0.contains("could not serialize") }, "\(errors)")
        #expect(Self.text(Self.request(socket, Frame(.queryWithParams, correlationID: 5, streamID: 3,
            payload: ParamValueCodec.encode(.init(sql: "SELECT count(*) AS n, min(tag) AS t FROM d", parameters: []))))).contains(#""n":50000"#))
    }
}


enum RedWireCodecBytes {
    static func hex(_ text: String) -> [UInt8] {
        let digits = Array(text.filter(\.isHexDigit))
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
    }
}
