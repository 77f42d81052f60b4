import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Random bytes, truncated messages, oversize lengths, unknown message types and
/// mid-message disconnects on both ports: the server answers each with a protocol
/// error or a closed connection, and keeps serving everyone else.
@Suite(.serialized) struct MalformedInputTests {
    static func startup(user: String = "fuzz") -> [UInt8] {
        var body: [UInt8] = [0, 3, 0, 0]
        body += Array("user".utf8) + [0] + Array(user.utf8) + [0] + [0]
        let length = UInt32(body.count + 4)
        return withUnsafeBytes(of: length.bigEndian, Array.init) + body
    }

    static func message(_ tag: Character, _ body: [UInt8]) -> [UInt8] {
        [tag.asciiValue!] + withUnsafeBytes(of: UInt32(body.count + 4).bigEndian, Array.init) + body
    }

    /// A well-formed simple query on a fresh connection; true when it answers `SELECT 1`.
    static func pgStillAnswers(_ port: Int) throws -> Bool {
        let s = try RawSocket(port: port)
        s.send(startup() + message("Q", Array("SELECT 1".utf8) + [0]) + message("X", []))
        let reply = s.readAll()
        return String(decoding: reply, as: UTF8.self).contains("SELECT 1")
    }

    static func httpStillAnswers(_ port: Int) throws -> Bool {
        let s = try RawSocket(port: port)
        s.send(Array("GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        return String(decoding: s.readAll(), as: UTF8.self).contains("alive")
    }

    @Test func postgresPortSurvivesGarbage() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        // A long-lived good connection that must not be disturbed by the others.
        let keeper = try RawSocket(port: server.pgPort)
        keeper.send(Self.startup())
        var generator = SystemRandomNumberGenerator()
        var cases: [[UInt8]] = [
            [],  // connect and leave
            [0, 0, 0],  // truncated length
            [0xFF, 0xFF, 0xFF, 0xFF, 0, 3, 0, 0],  // oversize startup length
            [0, 0, 0, 8, 0, 9, 0, 0],  // unknown protocol version
            Self.startup() + [UInt8(ascii: "Q"), 0x7F, 0xFF, 0xFF, 0xFF],  // oversize message length
            Self.startup() + [UInt8(ascii: "Q"), 0, 0, 0, 2],  // length below 4
            Self.startup() + Self.message("Q", Array("SELECT 1".utf8)),  // missing NUL terminator
            Self.startup() + Self.message("B", [0, 0, 0, 0, 0xFF, 0xFF]),  // negative count
            Self.startup() + Self.message("B", [0, 0] + [0, 0] + [0, 1] + [0x7F, 0, 0, 0]),  // parameter longer than message
            Self.startup() + Self.message("P", [0, 0, 0, 0x7F]),  // truncated Parse
            Self.startup() + Self.message("D", [UInt8(ascii: "Z"), 0]),  // bad Describe target
            Self.startup() + Self.message("z", [1, 2, 3]),  // unknown message type
            Self.startup() + Self.message("E", [0, 0, 0, 0, 0]) + Self.message("S", []),  // execute of a missing portal
            Self.startup() + Self.message("Q", Array("SELECT 1".utf8)).prefix(8),  // disconnect mid-message
            Self.startup() + Self.message("p", Array("late password".utf8) + [0]),  // password after auth
        ]
        for _ in 0..<40 {
            let count = Int.random(in: 1...300, using: &generator)
            let noise = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            cases.append(Bool.random(using: &generator) ? noise : Self.startup() + noise)
        }
        for bytes in cases {
            let s = try RawSocket(port: server.pgPort)
            s.send(bytes)
            shutdown(s.fd, Int32(SHUT_WR))
            _ = s.readAll()
        }
        #expect(try Self.pgStillAnswers(server.pgPort))
        // The keeper connection still works.
        keeper.send(Self.message("Q", Array("SELECT 2".utf8) + [0]) + Self.message("X", []))
        #expect(String(decoding: keeper.readAll(), as: UTF8.self).contains("SELECT 1"))
        #expect(server.process.isRunning)
    }

    @Test func postgresProtocolErrorsAreReported() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        // An unknown message type gets 0A000 and the connection stays usable.
        var s = try RawSocket(port: server.pgPort)
        s.send(Self.startup() + Self.message("z", []) + Self.message("Q", Array("SELECT 7".utf8) + [0]) + Self.message("X", []))
        var text = String(decoding: s.readAll(), as: UTF8.self)
        #expect(text.contains("0A000"))
        #expect(text.contains("SELECT 1"))
        // An oversize length gets a FATAL 08P01 and a close.
        s = try RawSocket(port: server.pgPort)
        s.send(Self.startup() + [UInt8(ascii: "Q"), 0x7F, 0xFF, 0xFF, 0xFF])
        text = String(decoding: s.readAll(), as: UTF8.self)
        #expect(text.contains("08P01"))
        // SSLRequest is answered with N, then a normal startup works on the same socket.
        s = try RawSocket(port: server.pgPort)
        s.send([0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F])
        s.send(Self.startup() + Self.message("Q", Array("SELECT 1".utf8) + [0]) + Self.message("X", []))
        let reply = s.readAll()
        #expect(reply.first == UInt8(ascii: "N"))
        #expect(String(decoding: reply, as: UTF8.self).contains("SELECT 1"))
    }

    @Test func httpPortSurvivesGarbage() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        var generator = SystemRandomNumberGenerator()
        var cases: [[UInt8]] = [
            Array("GET / HTTP/1.1\r\n".utf8),  // headers never finish
            Array("POST /query HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\nSELECT".utf8),
            Array("POST /query HTTP/1.1\r\nContent-Length: 5\r\n\r\n\u{FF}\u{FE}abc".utf8),
            Array("BREW /coffee HTCPCP/1.0\r\n\r\n".utf8),
            Array("GET /\u{0}\u{1} HTTP/1.1\r\n\r\n".utf8),
            Array("POST /query HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n".utf8),
            [UInt8](repeating: 0x41, count: 200_000),
        ]
        for _ in 0..<30 {
            let count = Int.random(in: 1...500, using: &generator)
            cases.append((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        for bytes in cases {
            let s = try RawSocket(port: server.httpPort)
            s.send(bytes)
            shutdown(s.fd, Int32(SHUT_WR))
            _ = s.readAll()
        }
        #expect(try Self.httpStillAnswers(server.httpPort))
        #expect(try Self.pgStillAnswers(server.pgPort))
        #expect(server.process.isRunning)
    }

    /// Reads backend messages until ReadyForQuery; returns (tag, body) pairs.
    static func readUntilReady(_ s: RawSocket) -> [(UInt8, [UInt8])] { readUntil(s, tag: "Z") }

    /// Whether a message tagged `tag` arrives (messages before it are read and dropped).
    static func readUntil(_ s: RawSocket, tag: Character) -> Bool {
        readUntil(s, tag: tag).last?.0 == tag.asciiValue
    }

    /// Reads backend messages until one tagged `tag`, the peer's close or the timeout.
    static func readUntil(_ s: RawSocket, tag: Character) -> [(UInt8, [UInt8])] {
        var buffer: [UInt8] = []
        var messages: [(UInt8, [UInt8])] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            while buffer.count >= 5 {
                let length = Int(UInt32(buffer[1]) << 24 | UInt32(buffer[2]) << 16 | UInt32(buffer[3]) << 8 | UInt32(buffer[4]))
                guard buffer.count >= length + 1 else { break }
                messages.append((buffer[0], Array(buffer[5..<(length + 1)])))
                buffer.removeFirst(length + 1)
                if messages.last?.0 == tag.asciiValue { return messages }
            }
            let n = chunk.withUnsafeMutableBytes { recv(s.fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return messages }
            buffer += chunk[0..<n]
        }
    }

    @Test func cancelRequestStopsTheRunningQuery() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let worker = try RawSocket(port: server.pgPort)
        worker.send(Self.startup())
        let startup = Self.readUntilReady(worker)
        guard let key = startup.first(where: { $0.0 == UInt8(ascii: "K") })?.1, key.count == 8 else {
            Issue.record("no BackendKeyData")
            return
        }
        worker.send(Self.message("Q", Array("CREATE TABLE n (v BIGINT); INSERT INTO n SELECT g FROM generate_series(1, 3000) g".utf8) + [0]))
        _ = Self.readUntilReady(worker)
        // 2.7e10 joined rows: runs for hours unless cancelled.
        worker.send(Self.message("Q", Array("SELECT count(*) FROM n a, n b, n c".utf8) + [0]))
        Thread.sleep(forTimeInterval: 0.5)
        let canceller = try RawSocket(port: server.pgPort)
        canceller.send([0, 0, 0, 16, 0x04, 0xD2, 0x16, 0x2E] + key)
        _ = canceller.readAll()
        let reply = Self.readUntilReady(worker)
        let error = reply.first { $0.0 == UInt8(ascii: "E") }.map { String(decoding: $0.1, as: UTF8.self) } ?? ""
        #expect(error.contains("57014"), "\(error)")
        #expect(reply.last?.0 == UInt8(ascii: "Z"))
        // A wrong secret cancels nothing (and reveals nothing).
        worker.send(Self.message("Q", Array("SELECT 5".utf8) + [0]))
        let next = Self.readUntilReady(worker)
        #expect(next.contains { $0.0 == UInt8(ascii: "C") })
    }

    /// A CancelRequest during COPY FROM stops it, whether it arrives while a batch is being
    /// inserted or while rows are still being parsed: the COPY fails with 57014, nothing of it
    /// stays, and the connection goes on.
    @Test func cancelRequestStopsACopy() throws {
        let server = try ServerProcess()
        defer { server.remove() }
        let worker = try RawSocket(port: server.pgPort)
        worker.send(Self.startup())
        guard let key = Self.readUntilReady(worker).first(where: { $0.0 == UInt8(ascii: "K") })?.1, key.count == 8 else {
            Issue.record("no BackendKeyData")
            return
        }
        worker.send(Self.message("Q", Array("CREATE TABLE c (id BIGINT PRIMARY KEY)".utf8) + [0]))
        _ = Self.readUntilReady(worker)
        worker.send(Self.message("Q", Array("COPY c FROM STDIN".utf8) + [0]))
        var response = [UInt8](repeating: 0, count: 64)
        let n = response.withUnsafeMutableBytes { recv(worker.fd, $0.baseAddress, $0.count, 0) }
        #expect(n > 0 && response[0] == UInt8(ascii: "G"))  // CopyInResponse
        worker.send(Self.message("d", Array((0..<5_000).map { "\($0)\n" }.joined().utf8)))
        Thread.sleep(forTimeInterval: 0.3)
        let canceller = try RawSocket(port: server.pgPort)
        canceller.send([0, 0, 0, 16, 0x04, 0xD2, 0x16, 0x2E] + key)
        _ = canceller.readAll()
        worker.send(Self.message("d", Array((5_000..<6_000).map { "\($0)\n" }.joined().utf8)))
        worker.send(Self.message("c", []))  // CopyDone
        let reply = Self.readUntilReady(worker)
        let error = reply.first { $0.0 == UInt8(ascii: "E") }.map { String(decoding: $0.1, as: UTF8.self) } ?? ""
        #expect(error.contains("57014"), "\(error)")
        worker.send(Self.message("Q", Array("SELECT count(*) FROM c".utf8) + [0]))
        let count = Self.readUntilReady(worker).first { $0.0 == UInt8(ascii: "D") }.map { String(decoding: $0.1.suffix(1), as: UTF8.self) }
        #expect(count == "0")
    }
}
