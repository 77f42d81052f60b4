import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import RedCore
import RedDB
import RedWire
import Synchronization

/// `red://`: RedWire over TCP; `reds://`: over TLS (ALPN `redwire/1` offered).
///
/// Pooling is by streams, not sockets: each connection multiplexes requests on RedWire
/// stream ids, each stream being a server-side session of its own. An autocommit statement
/// leases a free stream id for one round trip; a transaction leases one until it ends, so
/// its statements share the server session. `pool` connections (default 1) each carry up to
/// `streamsPerConnection` leases; a caller beyond that waits for one to be given back.
final class RedWireTransport: ClientTransport {
    let connections: [RedWireConnection]
    private let next = Atomic<Int>(0)

    init(connections: [RedWireConnection]) { self.connections = connections }

    static func connect(_ target: ConnectionString, options: RedClient.Options) async throws -> RedWireTransport {
        let count = max(1, min(options.poolSize, 64))
        var connections: [RedWireConnection] = []
        do {
            for _ in 0..<count { connections.append(try await RedWireConnection.open(target, options: options)) }
        } catch {
            for c in connections { await c.close() }
            throw error
        }
        return RedWireTransport(connections: connections)
    }

    /// The next connection in turn, or the one whose event loop the caller runs on (under
    /// `RedClient.withConnectionExecutor`), whose request then needs no thread hop at all.
    private func connection() -> RedWireConnection {
        if connections.count > 1, let local = connections.first(where: { $0.channel.eventLoop.inEventLoop }) { return local }
        return connections[next.wrappingAdd(1, ordering: .relaxed).oldValue % connections.count]
    }

    /// The first connection's event loop; its requests then run without a thread hop.
    var connectionExecutor: (any TaskExecutor)? { connections[0].executor }

    func execute(_ sql: String, _ parameters: [Value]) async throws -> QueryResult {
        let connection = connection()
        let stream = try await connection.streams.lease()
        defer { connection.streams.giveBack(stream) }
        return try await connection.query(sql, parameters, stream: stream)
    }

    /// The bulk stream (BulkStreamStart, pipelined BulkStreamRows of up to 1 MiB, BulkStreamCommit)
    /// on a leased stream: one round trip for the start, none per rows frame, one for the commit.
    /// The server commits every 50,000 rows; a failure reports the first error and what the
    /// server had committed before it stays.
    func bulkInsert(into table: String, columns: [String], rows: [[Value]]) async throws -> Int? {
        let connection = connection()
        let stream = try await connection.streams.lease()
        defer { connection.streams.giveBack(stream) }
        return try await connection.bulkStream(table, columns, rows, stream: stream)
    }

    /// RedWire's VectorSearch (0x26): the request JSON with `collection` added.
    func vectorSearch(collection: String, _ request: JSONValue) async throws -> QueryResult? {
        guard case .object(var members) = request else { return nil }
        members.append(("collection", .string(collection)))
        let connection = connection()
        let stream = try await connection.streams.lease()
        defer { connection.streams.giveBack(stream) }
        return try await connection.envelopeRoundTrip(.vectorSearch, payload: JSONValue.object(members).utf8, stream: stream)
    }

    /// RedWire's GraphTraverse (0x27).
    func graphTraverse(_ request: JSONValue) async throws -> QueryResult? {
        let connection = connection()
        let stream = try await connection.streams.lease()
        defer { connection.streams.giveBack(stream) }
        return try await connection.envelopeRoundTrip(.graphTraverse, payload: request.utf8, stream: stream)
    }

    func session() async throws -> any ClientSession {
        let connection = connection()
        return RedWireSession(connection: connection, stream: try await connection.streams.lease())
    }

    func close() async throws {
        for c in connections { await c.close() }
    }
}

struct RedWireSession: ClientSession {
    let connection: RedWireConnection
    let stream: UInt16

    func execute(_ sql: String, _ parameters: [Value]) async throws -> QueryResult {
        try await connection.query(sql, parameters, stream: stream)
    }

    func release(rollback: Bool) async {
        // The stream's server session may still hold a transaction: end it before reuse.
        if rollback { _ = try? await connection.query("ROLLBACK", [], stream: stream) }
        connection.streams.giveBack(stream)
    }
}

/// Free stream ids of one connection (1…`limit`; 0, the sequential stream, is not leased).
final class StreamLeases: Sendable {
    private struct State {
        var free: [UInt16]
        var waiters: [CheckedContinuation<UInt16, Never>] = []
    }

    private let state: Mutex<State>

    init(limit: Int) { state = Mutex(State(free: (1...UInt16(limit)).reversed())) }

    func lease() async throws -> UInt16 {
        if let id = state.withLock({ $0.free.popLast() }) { return id }
        let id = await withCheckedContinuation { continuation in
            let immediate: UInt16? = state.withLock { s in
                if let id = s.free.popLast() { return id }
                s.waiters.append(continuation)
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
        return id
    }

    func giveBack(_ id: UInt16) {
        let waiter = state.withLock { s -> CheckedContinuation<UInt16, Never>? in
            if !s.waiters.isEmpty { return s.waiters.removeFirst() }
            s.free.append(id)
            return nil
        }
        waiter?.resume(returning: id)
    }
}

/// One RedWire TCP connection: the handshake, then requests matched to replies by
/// correlation id by a reader task.
final class RedWireConnection: Sendable {
    static let streamsPerConnection = 1_000

    let streams = StreamLeases(limit: streamsPerConnection)
    let channel: any Channel
    /// Runs a task's jobs on this connection's event loop (`RedClient.withConnectionExecutor`).
    let executor: ClientLoopExecutor
    /// Requests waiting for their reply, with when they time out.
    private let pending = Mutex<(replies: [UInt64: Waiting], closed: RedError?)>(([:], nil))
    /// Abandons the requests past their deadline (`sweepExpired`); cancelled at `fail`.
    private let sweeper = Mutex<RepeatedTask?>(nil)

    private struct Waiting {
        var continuation: CheckedContinuation<Frame, any Error>
        var stream: UInt16
        var deadline: NIODeadline
    }
    private let nextID = Atomic<UInt64>(16)
    /// Error replies nobody waits for (a failed bulk-stream rows frame), by stream id.
    private let unclaimedErrors = Mutex<[UInt16: Frame]>([:])
    private let timeout: Duration
    /// Whether to compress request payloads: asked for with `?compress=zstd` and granted in HelloAck.
    private let compressing = Atomic<Bool>(false)
    private let wantsCompression: Bool

    private init(channel: any Channel, timeout: Duration, compression: Bool) {
        self.channel = channel
        self.executor = ClientLoopExecutor(channel.eventLoop)
        self.timeout = timeout
        self.wantsCompression = compression && Zstd.isAvailable
        let every = Self.sweepInterval(for: timeout)
        let task = channel.eventLoop.scheduleRepeatedTask(initialDelay: every, delay: every) { [weak self] _ in self?.sweepExpired() }
        sweeper.withLock { $0 = task }
    }

    deinit { sweeper.withLock { $0 }?.cancel() }

    /// How often requests are checked against their deadline: a tenth of the timeout, between
    /// 10 ms and 1 s, so a request times out at most that much late.
    ///
    /// One sweep per connection instead of a timer per request: arming and cancelling a timer
    /// for every request cost a `timerfd_settime` call each (the new timer was always the
    /// earliest), about 9 % of the client's CPU in a `SELECT 1` loop.
    static func sweepInterval(for timeout: Duration) -> TimeAmount {
        .nanoseconds(min(max(TimeAmount(timeout).nanoseconds / 10, 10_000_000), 1_000_000_000))
    }

    /// Abandons (cancels on the server, fails with 57014) every request past its deadline.
    private func sweepExpired() {
        let now = NIODeadline.now()
        let expired = pending.withLock { p in p.replies.filter { $0.value.deadline <= now }.map { ($0.key, $0.value.stream) } }
        for (id, stream) in expired {
            abandon(id, stream: stream, RedError(.queryCanceled, "request timed out after \(timeout)"))
        }
    }

    /// A request's bytes: zstd-compressed when the connection negotiated it (large payloads only).
    private func bytes(_ frame: Frame) -> ByteBuffer {
        ByteBuffer(bytes: (compressing.load(ordering: .relaxed) ? frame.compressed() : frame).encoded())
    }

    static func open(_ target: ConnectionString, options: RedClient.Options) async throws -> RedWireConnection {
        // The connection, once made; a failure the channel reports before that (a TLS handshake
        // refused at once) waits here for it, or the Hello would time out instead.
        let box = Mutex<(connection: RedWireConnection?, early: RedError?)>((nil, nil))
        let channel: any Channel
        // Built before connecting: a bad ca/cert/key file is reported as such, not as a refused connection.
        let tls = try target.tls.map { try NIOSSLContext(configuration: try $0.configuration(alpn: ["redwire/1"])) }
        let sni = target.tls?.serverHostname(for: target.host)
        let scheme = !target.path.isEmpty ? "red+unix" : tls == nil ? "red" : "reds"
        let place = target.path.isEmpty ? "\(target.host):\(target.port)" : target.path
        do {
            let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(Int64(options.connectTimeout.components.seconds * 1_000)))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: sni)) }
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ClientFrameDecoder()))
                        try channel.pipeline.syncOperations.addHandler(ReplyRouter { frame in box.withLock { $0.connection }?.deliver(frame) }
                                                                        closed: { error in
                                                                            let connection = box.withLock { state in
                                                                                if state.connection == nil, state.early == nil { state.early = error }
                                                                                return state.connection
                                                                            }
                                                                            connection?.fail(error)
                                                                        })
                    }
                }
            channel = try await (target.path.isEmpty ? bootstrap.connect(host: target.host, port: target.port)
                                                     : bootstrap.connect(unixDomainSocketPath: target.path)).get()
        } catch {
            throw RedError(.closed, "cannot connect to \(scheme)://\(place): \(ConnectionString.TLS.explain(error))")
        }
        let connection = RedWireConnection(channel: channel, timeout: options.timeout, compression: options.compression)
        if let early = box.withLock({ state -> RedError? in
            state.connection = connection
            return state.early
        }) {
            await connection.close()
            throw early
        }
        do {
            try await connection.handshake(target)
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    /// True once the server agreed to zstd in both directions.
    var isCompressing: Bool { compressing.load(ordering: .relaxed) }

    /// Hello (asking for structured errors), then anonymous, bearer or SCRAM as the target says.
    private func handshake(_ target: ConnectionString) async throws {
        let method: String
        if target.token != nil { method = "bearer" } else if target.user != nil { method = "scram-sha-256" } else { method = "anonymous" }
        let hello = JSONValue.object([("auth_methods", .array([.string(method)])), ("client_name", .string("reddb-swift")),
                                      ("features", .integer(wantsCompression ? 7 : 3)), ("versions", .array([.integer(1)]))])
        let ack = try await roundTrip(Frame(.hello, correlationID: 1, payload: hello.utf8))
        try Self.expect(ack, .helloAck)
        // Bit 2: the server compresses its replies and so accepts compressed requests.
        if wantsCompression, case .integer(let granted)? = try? JSONValue.parse(String(decoding: ack.payload, as: UTF8.self))["features"],
           granted & 4 != 0 {
            compressing.store(true, ordering: .relaxed)
        }
        var ok: Frame
        switch method {
        case "bearer":
            let body = JSONValue.object([("token", .string(target.token ?? ""))])
            ok = try await roundTrip(Frame(.authResponse, correlationID: 2, payload: body.utf8))
        case "scram-sha-256":
            var scram = SCRAMClient(user: target.user ?? "", password: target.password ?? "")
            let challenge = try await roundTrip(Frame(.authResponse, correlationID: 2, payload: Array(scram.first().utf8)))
            try Self.expect(challenge, .authRequest)
            let final = try scram.final(serverFirst: String(decoding: challenge.payload, as: UTF8.self))
            ok = try await roundTrip(Frame(.authResponse, correlationID: 3, payload: Array(final.utf8)))
            try Self.expect(ok, .authOk)
            guard case .string(let v)? = try JSONValue.parse(String(decoding: ok.payload, as: UTF8.self))["v"], scram.verify(serverSignature: v) else {
                throw RedError(.invalidPassword, "the server did not prove it knows the password (SCRAM signature mismatch)")
            }
        default:
            ok = try await roundTrip(Frame(.authResponse, correlationID: 2))
        }
        try Self.expect(ok, .authOk)
    }

    static func expect(_ frame: Frame, _ kind: MessageKind) throws {
        guard frame.kind != kind else { return }
        let text = String(decoding: frame.payload, as: UTF8.self)
        if frame.kind == .authFail {
            var reason = text
            if case .string(let r)? = (try? JSONValue.parse(text))?["reason"] { reason = r }
            throw RedError(.invalidPassword, "authentication failed: \(reason)")
        }
        throw RedError(.protocolViolation, "expected \(kind.name), got \(frame.kind.name): \(text)")
    }

    /// QueryWithParams on `stream`; the reply is the HTTP query envelope or a structured error.
    func query(_ sql: String, _ parameters: [Value], stream: UInt16) async throws -> QueryResult {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let request = Frame(.queryWithParams, correlationID: id, streamID: stream,
                            payload: ParamValueCodec.encode(.init(sql: sql, parameters: parameters)))
        guard request.payload.count + Frame.headerSize <= Frame.maximumSize else {
            throw RedError(.limitExceeded, "statement and parameters exceed RedWire's 16 MiB frame limit")
        }
        return try envelope(of: try await roundTrip(request))
    }

    /// A request on `stream` answered by a Result holding the HTTP query envelope.
    func envelopeRoundTrip(_ kind: MessageKind, payload: [UInt8], stream: UInt16) async throws -> QueryResult {
        let request = Frame(kind, correlationID: nextID.wrappingAdd(1, ordering: .relaxed).oldValue, streamID: stream, payload: payload)
        guard request.payload.count + Frame.headerSize <= Frame.maximumSize else {
            throw RedError(.limitExceeded, "the request exceeds RedWire's 16 MiB frame limit")
        }
        return try envelope(of: try await roundTrip(request))
    }

    private func envelope(of reply: Frame) throws -> QueryResult {
        let json = try JSONValue.parse(utf8: reply.payload)
        switch reply.kind {
        case .result: return ResultEnvelope.fromQueryEnvelope(json)
        case .error: throw ResultEnvelope.error(json) ?? RedError(.internalError, String(decoding: reply.payload, as: UTF8.self))
        default: throw RedError(.protocolViolation, "unexpected \(reply.kind.name) reply")
        }
    }

    func bulkStream(_ table: String, _ columns: [String], _ rows: [[Value]], stream: UInt16) async throws -> Int {
        let start = Frame(.bulkStreamStart, correlationID: nextID.wrappingAdd(1, ordering: .relaxed).oldValue, streamID: stream,
                          payload: BinaryValueCodec.encodeStreamStart(collection: table, columns: columns))
        unclaimedErrors.withLock { $0[stream] = nil }
        let ack = try await roundTrip(start)
        try Self.check(ack, .bulkStreamAck)
        var batch: [[Value]] = []
        var batchBytes = 0
        func send() {
            guard !batch.isEmpty else { return }
            let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
            // Rows frames get no reply on success; an error reply names this id and surfaces at the commit.
            // Each frame is flushed as soon as it is encoded, so the server inserts one while the
            // next is being encoded (flushing once at the end left it idle until then).
            channel.writeAndFlush(bytes(Frame(.bulkStreamRows, correlationID: id, streamID: stream,
                                              payload: BinaryValueCodec.encodeStreamRows(batch))), promise: nil)
            batch.removeAll(keepingCapacity: true)
            batchBytes = 0
        }
        for row in rows {
            batch.append(row)
            batchBytes += row.reduce(0) { $0 + BinaryValueCodec.estimatedSize($1) }
            if batchBytes >= 1 << 20 { send() }
        }
        send()
        let commit = try await roundTrip(Frame(.bulkStreamCommit, correlationID: nextID.wrappingAdd(1, ordering: .relaxed).oldValue, streamID: stream))
        // A rows frame that failed ended the stream; its error, not the commit's, is the one to report.
        if let failed = unclaimedErrors.withLock({ $0.removeValue(forKey: stream) }) { try Self.check(failed, .bulkOk) }
        try Self.check(commit, .bulkOk)
        guard commit.payload.count == 8 else { throw RedError(.protocolViolation, "BulkOk must carry a u64 count") }
        return Int(commit.payload.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    /// Throws the server's error when `frame` is an Error frame, or a protocol error when it is not `kind`.
    static func check(_ frame: Frame, _ kind: MessageKind) throws {
        guard frame.kind != kind else { return }
        if frame.kind == .error, let json = try? JSONValue.parse(String(decoding: frame.payload, as: UTF8.self)), let error = ResultEnvelope.error(json) {
            throw error
        }
        throw RedError(.protocolViolation, "expected \(kind.name), got \(frame.kind.name): \(String(decoding: frame.payload, as: UTF8.self))")
    }

    /// Sends `frame` and waits for the reply with its correlation id. After `timeout` (checked
    /// by the connection's sweep, so up to a tenth later), or when the calling task is
    /// cancelled, the request is cancelled on the server (in-band Cancel) and the call fails
    /// with 57014. A caller on the connection's event loop (`withConnectionExecutor`) writes
    /// the frame at once; any other hands it to the loop in one hop.
    func roundTrip(_ frame: Frame) async throws -> Frame {
        let id = frame.correlationID
        let bytes = bytes(frame)
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let closed: RedError? = pending.withLock { p in
                    if let closed = p.closed { return closed }
                    p.replies[id] = Waiting(continuation: continuation, stream: frame.streamID, deadline: deadline)
                    return nil
                }
                if let closed { continuation.resume(throwing: closed); return }
                // Cancelled before it was registered, the cancellation handler found nothing to
                // abandon: do not send a request nobody waits for.
                if Task.isCancelled {
                    if let waiting = pending.withLock({ $0.replies.removeValue(forKey: id) }) {
                        waiting.continuation.resume(throwing: RedError(.queryCanceled, "request cancelled by the client"))
                    }
                    return
                }
                channel.writeAndFlush(bytes, promise: nil)
            }
        } onCancel: {
            abandon(id, stream: frame.streamID, RedError(.queryCanceled, "request cancelled by the client"))
        }
    }

    /// Fails the request still waiting under `id` and asks the server to stop it.
    private func abandon(_ id: UInt64, stream: UInt16, _ error: RedError) {
        guard let waiting = pending.withLock({ $0.replies.removeValue(forKey: id) }) else { return }
        var target = ByteWriter(capacity: 8)
        target.u64(id)
        channel.writeAndFlush(ByteBuffer(bytes: Frame(.cancel, correlationID: id &+ (1 << 62), streamID: stream, payload: target.bytes).encoded()),
                              promise: nil)
        waiting.continuation.resume(throwing: error)
    }

    fileprivate func deliver(_ frame: Frame) {
        let waiting = pending.withLock { $0.replies.removeValue(forKey: frame.correlationID) }
        if let waiting {
            waiting.continuation.resume(returning: frame)
            return
        }
        if frame.kind == .error { unclaimedErrors.withLock { $0[frame.streamID] = $0[frame.streamID] ?? frame } }
    }

    fileprivate func fail(_ error: RedError) {
        let waiting = pending.withLock { p -> [Waiting] in
            if p.closed == nil { p.closed = error }
            defer { p.replies = [:] }
            return Array(p.replies.values)
        }
        sweeper.withLock { $0 }?.cancel()
        for w in waiting { w.continuation.resume(throwing: error) }
    }

    func close() async {
        fail(RedError(.closed, "connection closed by the client"))
        try? await channel.writeAndFlush(ByteBuffer(bytes: Frame(.bye, correlationID: 0).encoded()))
        try? await channel.close()
    }
}

/// Splits the server's bytes into frames (no preamble in this direction).
struct ClientFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = Frame

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .little, as: UInt32.self),
              buffer.readableBytes >= Frame.headerSize else { return .needMoreData }
        guard length >= UInt32(Frame.headerSize), length <= UInt32(Frame.maximumSize) else {
            throw RedError(.protocolViolation, "server sent a frame of \(length) bytes")
        }
        guard buffer.readableBytes >= Int(length), let bytes = buffer.readBytes(length: Int(length)) else { return .needMoreData }
        guard case .frame(let frame, _) = try FrameDecoder.decode(bytes[...]) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }
}

/// Hands each reply frame to the connection and reports the connection's end.
final class ReplyRouter: ChannelInboundHandler, Sendable {
    typealias InboundIn = Frame
    let deliver: @Sendable (Frame) -> Void
    let closed: @Sendable (RedError) -> Void

    init(deliver: @escaping @Sendable (Frame) -> Void, closed: @escaping @Sendable (RedError) -> Void) {
        self.deliver = deliver
        self.closed = closed
    }

    /// The preamble goes out the moment the connection opens, from the event loop: a server
    /// behind the one-port router decides the protocol from it, and it must not wait for the
    /// connecting task to be scheduled.
    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(ByteBuffer(bytes: RedWirePreamble.bytes)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        deliver(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed(RedError(.closed, "the server closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closed(RedError(.closed, "connection failed: \(ConnectionString.TLS.explain(error))"))
        context.close(promise: nil)
    }
}
