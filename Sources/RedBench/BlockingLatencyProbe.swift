import Foundation
import Glibc
import RedCore
import RedWire

/// Round-trip latency measured the way a C client would: one blocking TCP socket, on a thread
/// of its own, write a request, read until the reply is complete. No event loop and no task
/// hops on the client side, so the figure is the server's (and the kernel's) share alone.
///
/// Each probe opens its own connection, times `requests` round trips after `warmup` untimed
/// ones, and returns every sample in microseconds (`SurfaceBench` merges the rounds). Probes:
/// - `echo`: 30 bytes to the echo peer (`EchoPeer`, a process of its own like the servers)
///   and back, the loopback floor (the physical limit any server's round trip sits on);
/// - `redWire`: RedWire `QueryWithParams` "SELECT 1", the same frame RedClient sends, after an
///   anonymous handshake;
/// - `postgres`: "SELECT 1" against a trust-auth server (our PG-wire surface or PostgreSQL
///   itself), read through ReadyForQuery: a simple-protocol `Query`, or with `extended` the
///   five messages PostgresNIO sends for one query (Parse, Describe statement, Bind asking
///   for binary results, Execute, Sync, in one write), so a driver's own cost and the
///   server's cost of the extended protocol can be told apart.
enum BlockingLatencyProbe {
    /// Round-trip times in microseconds, in the order they were taken.
    typealias Samples = [Double]

    /// Runs `probe` on a new thread (blocking work must not occupy the cooperative pool), pinned
    /// to `cpus` when given (`CPUPinning`).
    static func onThread(pinnedTo cpus: [Int]?, _ probe: @escaping @Sendable () throws -> Samples) async throws -> Samples {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result {
                    if let cpus { try CPUPinning.pinCallingThread(to: cpus) }
                    return try probe()
                })
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    static func echo(port: Int, requests: Int, warmup: Int) throws -> Samples {
        let client = try LoopbackSocket.connect(port: port)
        defer { client.close() }
        let request = [UInt8](repeating: 0x2A, count: 30)
        var reply = [UInt8](repeating: 0, count: request.count)
        return try measure(requests: requests, warmup: warmup) {
            try client.writeAll(request[...])
            try client.readExactly(&reply, count: reply.count)
        }
    }

    static func redWire(port: Int, requests: Int, warmup: Int) throws -> Samples {
        let socket = try LoopbackSocket.connect(port: port)
        defer { socket.close() }
        var correlation: UInt64 = 0
        func roundTrip(_ kind: MessageKind, _ payload: [UInt8]) throws -> Frame {
            correlation += 1
            try socket.writeAll(Frame(kind, correlationID: correlation, payload: payload).encoded()[...])
            var header = [UInt8](repeating: 0, count: Frame.headerSize)
            try socket.readExactly(&header, count: header.count)
            let length = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
            guard length >= Frame.headerSize, length <= Frame.maximumSize else { throw RedError(.protocolViolation, "bad frame length \(length)") }
            var body = [UInt8](repeating: 0, count: length - Frame.headerSize)
            try socket.readExactly(&body, count: body.count)
            guard case .frame(let frame, _) = try FrameDecoder.decode((header + body)[...]) else { throw RedError(.protocolViolation, "short frame") }
            guard frame.correlationID == correlation else {
                throw RedError(.protocolViolation, "reply to request \(frame.correlationID), expected \(correlation)")
            }
            return frame
        }
        try socket.writeAll(RedWirePreamble.bytes[...])
        let ack = try roundTrip(.hello, Array(#"{"versions":[1],"auth_methods":["anonymous"]}"#.utf8))
        guard ack.kind == .helloAck else { throw RedError(.protocolViolation, "expected HelloAck, got \(ack.kind.name)") }
        let ok = try roundTrip(.authResponse, Array("{}".utf8))
        guard ok.kind == .authOk else { throw RedError(.protocolViolation, "expected AuthOk, got \(ok.kind.name)") }
        let query = ParamValueCodec.encode(.init(sql: "SELECT 1", parameters: []))
        return try measure(requests: requests, warmup: warmup) {
            let reply = try roundTrip(.queryWithParams, query)
            guard reply.kind == .result else { throw RedError(.protocolViolation, "SELECT 1 answered \(reply.kind.name)") }
        }
    }

    static func postgres(port: Int, user: String, database: String, extended: Bool = false, requests: Int, warmup: Int) throws -> Samples {
        let socket = try LoopbackSocket.connect(port: port)
        defer { socket.close() }
        var startup = ByteWriter()
        startup.u32BigEndian(0)
        startup.u32BigEndian(196_608)
        for text in ["user", user, "database", database] { startup.append(Array(text.utf8)); startup.u8(0) }
        startup.u8(0)
        var bytes = startup.bytes
        bytes.replaceSubrange(0..<4, with: withUnsafeBytes(of: UInt32(bytes.count).bigEndian, Array.init))
        try socket.writeAll(bytes[...])
        /// Reads messages until ReadyForQuery; an ErrorResponse fails.
        func untilReady() throws {
            var header = [UInt8](repeating: 0, count: 5)
            while true {
                try socket.readExactly(&header, count: 5)
                let length = Int(header[1]) << 24 | Int(header[2]) << 16 | Int(header[3]) << 8 | Int(header[4])
                guard length >= 4, length < 1 << 20 else { throw RedError(.protocolViolation, "bad message length \(length)") }
                var body = [UInt8](repeating: 0, count: length - 4)
                try socket.readExactly(&body, count: body.count)
                switch header[0] {
                case UInt8(ascii: "Z"): return
                case UInt8(ascii: "E"): throw RedError(.internalError, "server error: \(String(decoding: body, as: UTF8.self))")
                case UInt8(ascii: "R") where body.count >= 4 && body[0..<4] != [0, 0, 0, 0]:
                    throw RedError(.invalidAuthorization, "the probe speaks trust authentication only")
                default: continue
                }
            }
        }
        try untilReady()
        let sql = Array("SELECT 1".utf8) + [0]
        func message(_ tag: Character, _ body: [UInt8]) -> [UInt8] {
            [UInt8(ascii: tag.unicodeScalars.first!)] + withUnsafeBytes(of: UInt32(4 + body.count).bigEndian, Array.init) + body
        }
        let query = extended
            ? message("P", [0] + sql + [0, 0])                                    // unnamed statement, no parameter types
                + message("D", [UInt8(ascii: "S"), 0])                            // describe the statement
                + message("B", [0, 0, 0, 0, 0, 0, 0, 1, 0, 1])                    // no parameters, results in binary
                + message("E", [0, 0, 0, 0, 0])                                   // all rows
                + message("S", [])
            : message("Q", sql)
        return try measure(requests: requests, warmup: warmup) {
            try socket.writeAll(query[...])
            try untilReady()
        }
    }

    private static func measure(requests: Int, warmup: Int, _ once: () throws -> Void) throws -> Samples {
        for _ in 0..<warmup { try once() }
        var samples: [Double] = []
        samples.reserveCapacity(requests)
        for _ in 0..<requests {
            let started = ContinuousClock.now
            try once()
            samples.append((ContinuousClock.now - started).seconds * 1e6)
        }
        return samples
    }
}

/// A blocking loopback TCP socket with TCP_NODELAY, just enough for the probes above (Linux).
final class LoopbackSocket: @unchecked Sendable {
    let fd: Int32
    private init(fd: Int32) { self.fd = fd }

    private static func make() throws -> LoopbackSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw failure("socket") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        limitWaits(fd)
        return LoopbackSocket(fd: fd)
    }

    /// How long a send or receive may block: a server that stops answering fails the probe
    /// instead of hanging the bench.
    static let waitLimitSeconds = 30

    private static func limitWaits(_ fd: Int32) {
        var limit = timeval(tv_sec: waitLimitSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    private static func failure(_ call: String) -> RedError {
        RedError(.ioError, "\(call): \(String(cString: strerror(errno)))")
    }

    static func connect(port: Int) throws -> LoopbackSocket {
        let socket = try make()
        var address = loopback(port: port)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else { socket.close(); throw failure("connect to 127.0.0.1:\(port)") }
        return socket
    }

    static func listenLoopback() throws -> LoopbackSocket {
        let socket = try make()
        var address = loopback(port: 0)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0, listen(socket.fd, 4) == 0 else { socket.close(); throw failure("bind/listen") }
        return socket
    }

    func localPort() throws -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let status = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard status == 0 else { throw Self.failure("getsockname") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func accept() throws -> LoopbackSocket {
        let connection = Glibc.accept(fd, nil, nil)
        guard connection >= 0 else { throw Self.failure("accept") }
        var one: Int32 = 1
        setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        Self.limitWaits(connection)
        return LoopbackSocket(fd: connection)
    }

    func writeAll(_ bytes: ArraySlice<UInt8>) throws {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Self.failure("send") }
            offset += n
        }
    }

    func readSome(_ buffer: inout [UInt8]) throws -> Int {
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw Self.failure("recv") }
            return n
        }
    }

    func readExactly(_ buffer: inout [UInt8], count: Int) throws {
        var got = 0
        while got < count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw n == 0 ? RedError(.ioError, "connection closed by the server") : Self.failure("recv") }
            got += n
        }
    }

    func close() { _ = Glibc.close(fd) }
}
