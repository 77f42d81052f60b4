import Logging
import NIOCore
import RedCore
import RedDB
import RedWire
import Synchronization

/// One RedWire connection: preamble, handshake, then request frames until Bye or EOF.
///
/// - A wrong magic byte or a minor version above 1 closes the connection silently, and so
///   does any malformed frame (the decoder throws): framing cannot be resynchronised.
/// - Handshake failures answer AuthFail `{"reason": …}` and close.
/// - After the handshake every request gets exactly one reply carrying its correlation id
///   and stream id; errors are Error frames (UTF-8 message) and the connection stays usable.
/// - **Streams.** Each stream id is a session of its own: its requests run one after another,
///   in arrival order (stream 0 alone behaves exactly like upstream's sequential dispatch),
///   while different streams run concurrently and their replies interleave. A client
///   multiplexes independent queries, or transactions, by giving each its stream id. At
///   most `maxStreams` streams are open per connection and `maxPendingFrames` requests may
///   wait per stream; beyond either the request gets an Error frame. The payloads of requests
///   read but not yet answered are held to `maxPendingBytes` per connection by not reading
///   further (`PendingFrameBytes`): backpressure, not an error.
/// - **Where statements run.** The reader runs on the connection's event loop. A statement
///   request (Query, QueryWithParams, QueryBinary, ExecutePrepared) arriving on a stream with
///   nothing unanswered is first offered to `Session.executeWithoutWaiting`: a short
///   read-only statement whose pages are cached is answered with no thread hop, in the
///   pipeline itself when nothing else is outstanding (`RedWireFastLane`), else by the reader.
///   Anything that declines, and every other request, goes to the stream's task on the shared pool.
/// - Ping is answered at once; Bye waits for every stream's work, then echoes and closes.
/// - **Cancel** (0x20, payload: the `u64` correlation id of a running request) is handled
///   at once too, whatever stream it names: the running statement stops with
///   `canceling statement due to user request` in its Error reply, and the Cancel itself is
///   answered with a Result `{"cancelled":true|false,"ok":true}` (false: nothing was running
///   under that id).
final class RedWireConnection {
    typealias Inbound = NIOAsyncChannelInboundStream<RedWireInbound>.AsyncIterator
    typealias Outbound = NIOAsyncChannelOutboundWriter<ByteBuffer>

    let context: ServerContext
    let session: Session
    var inbound: Inbound
    let outbound: Outbound
    let id: Int32
    /// The channel's event loop, where this connection's frames are read.
    let loop: any EventLoop
    /// Answers short statements in the pipeline once this reader opens it (`RedWireFastLane`).
    let lane: RedWireFastLane
    var logger: Logger

    static let maxStreams = 1_024
    static let maxPendingFrames = 1_024
    /// Bytes of unanswered requests (`pendingCharge` each) one connection may hold before its
    /// reader pauses: so also at most `maxPendingFrames` requests across all its streams.
    static let maxPendingBytes = 64 << 20

    /// What a frame counts against `maxPendingBytes`: its payload, and at least a
    /// `maxPendingFrames`th of the limit. Why: frames of under 64 KiB could fill a stream's
    /// queue (`maxPendingFrames`) before the byte limit paused the reader, and the next one was
    /// dropped with an Error while later ones were taken (a bulk stream then committed around
    /// the hole). Counted so, the reader pauses first and no frame is dropped.
    static func pendingCharge(_ frame: Frame) -> Int { max(frame.payload.count, maxPendingBytes / maxPendingFrames) }

    init(context: ServerContext, inbound: Inbound, outbound: Outbound, id: Int32, loop: any EventLoop, lane: RedWireFastLane) {
        self.loop = loop
        self.lane = lane
        self.context = context
        self.session = context.database.session()
        self.inbound = inbound
        self.outbound = outbound
        self.id = id
        var logger = context.logger
        logger[metadataKey: "redwire_connection"] = "\(id)"
        self.logger = logger
    }

    static func serve(_ wrapped: RedWireChannel, context: ServerContext) async {
        // Frames are read on the connection's event loop (see EventLoopTaskExecutor), so Ping,
        // Cancel and short reads are answered without a thread hop; other statements run on the shared pool.
        await withTaskExecutorPreference(EventLoopTaskExecutor(wrapped.connection.channel.eventLoop)) {
            await serveOnEventLoop(wrapped, context: context)
        }
    }

    private static func serveOnEventLoop(_ wrapped: RedWireChannel, context: ServerContext) async {
        let connection = wrapped.connection
        let channel = connection.channel
        defer { wrapped.lane.close() }
        do {
            try await connection.executeThenClose { inbound, outbound in
                // Over the connection limit the connection just closes: RedWire has no pre-handshake error frame.
                _ = try await context.serveRegistered(channel) { registration in
                    let handler = RedWireConnection(context: context, inbound: inbound.makeAsyncIterator(), outbound: outbound,
                                                    id: registration.id, loop: channel.eventLoop, lane: wrapped.lane)
                    try await handler.run()
                }
            }
        } catch {
            context.logger.debug("redwire connection ended: \(error)")
        }
    }

    func run() async throws {
        let preamble = try await inbound.next()
        lane.dispatched()
        guard case .preamble(let magic, let minor)? = preamble,
              magic == RedWirePreamble.magic, minor <= RedWirePreamble.maximumMinorVersion else { return }
        // Read before the login is checked: a change made meanwhile is looked at again at once.
        let generation = context.auth.generation.load(ordering: .sequentiallyConsistent)
        guard let (features, identity, credential) = try await handshake() else { return }
        let login = LoginCheck(auth: context.auth, credential: credential, generation: generation)
        session.access = context.access(for: identity)
        session.callerName = identity.username
        session.callerRole = identity.role.rawValue
        let requests = RedWireRequests(context: context, outbound: outbound, activity: ConnectionActivity(id: id, context: context),
                                       running: RunningRequests(), structuredErrors: features & RedWireHandshake.structuredErrors != 0,
                                       compressReplies: features & RedWireHandshake.compressedReplies != 0)
        let pending = PendingFrameBytes(limitBytes: Self.maxPendingBytes)
        lane.open(requests: requests, login: login)
        try await withThrowingTaskGroup(of: Void.self) { group in
            var streams: [UInt16: StreamEntry] = [:]
            var prefetch = BulkRowsPrefetch()
            defer {
                lane.close()  // before the group waits for the streams' tasks: their sessions are theirs again
                for stream in streams.values { stream.queue?.finish() }
            }
            while case .frame(let received, let declinedOnLoop)? = try await inbound.next() {
                defer { lane.dispatched() }  // every path below has queued, answered or refused it
                // Inflated only now, one frame at a time, before its bytes are counted (`pending`).
                let frame = try received.inflated()
                // A login the auth store no longer honours (user removed, key revoked, the first
                // admin bootstrapped for an anonymous client) ends the connection.
                guard login.holds() else {
                    try await requests.fail(frame, LoginCheck.revokedError)
                    for stream in streams.values { stream.queue?.finish() }
                    streams.removeAll()
                    return
                }
                switch frame.kind {
                case .ping:
                    try await requests.send(.reply(.pong, to: frame))
                    continue
                case .cancel:
                    guard frame.payload.count == 8 else {
                        try await requests.fail(frame, RedError(.protocolViolation, "Cancel payload must be the u64 correlation id to cancel"))
                        continue
                    }
                    let target = frame.payload.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                    let cancelled = requests.running.cancel(target)
                    let reply = JSONValue.object([("cancelled", .bool(cancelled)), ("ok", .bool(true))])
                    try await requests.send(.reply(.result, to: frame, payload: reply.utf8))
                    continue
                case .bye:
                    for stream in streams.values { stream.queue?.finish() }
                    streams.removeAll()
                    try await group.waitForAll()
                    try await requests.send(.reply(.bye, to: frame))
                    return
                default:
                    break
                }
                var entry: StreamEntry
                if let known = streams[frame.streamID] {
                    entry = known
                } else {
                    guard streams.count < Self.maxStreams else {
                        try await requests.fail(frame, RedError(.limitExceeded, "redwire: more than \(Self.maxStreams) open streams on one connection"))
                        continue
                    }
                    entry = StreamEntry(session: frame.streamID == 0 ? session : context.session(for: identity), backlog: StreamBacklog(loop: loop))
                    streams[frame.streamID] = entry
                    lane.register(stream: frame.streamID, session: entry.session, backlog: entry.backlog)
                }
                // A short read-only statement, with nothing of its stream still waiting to be answered,
                // is answered right here on the event loop; anything else goes to the stream's task.
                if !declinedOnLoop, entry.backlog.isEmpty, try await requests.answerWithoutWaiting(frame, session: entry.session) { continue }
                await pending.acquire(Self.pendingCharge(frame))
                let queue: AsyncStream<InboundRequest>.Continuation
                if let existing = entry.queue {
                    queue = existing
                } else {
                    let (stream, continuation) = AsyncStream.makeStream(of: InboundRequest.self, bufferingPolicy: .bufferingOldest(Self.maxPendingFrames))
                    queue = continuation
                    entry.queue = continuation
                    streams[frame.streamID] = entry
                    group.addTask(executorPreference: globalConcurrentExecutor) { [session = entry.session, backlog = entry.backlog] in
                        try await Self.runStream(stream, session: session, backlog: backlog, requests: requests, pending: pending, login: login)
                    }
                }
                let request = prefetch.request(for: frame)
                entry.backlog.add()
                if case .dropped = queue.yield(request) {
                    entry.backlog.remove()
                    request.decodedRows?.done()
                    pending.release(Self.pendingCharge(frame))
                    try await requests.fail(frame, RedError(.limitExceeded, "redwire: more than \(Self.maxPendingFrames) requests waiting on stream \(frame.streamID)"))
                }
            }
        }
    }

    /// A stream's requests as its task sees them: run one after another on the shared pool,
    /// never on the event loop (a long one must not hold up the connection's reader — Ping,
    /// Cancel, other streams — or the loop's other connections).
    ///
    /// A stream's last commit finishes before its task does (so before the connection, and
    /// shutdown, and the database closing), whether the client committed the stream, replaced
    /// it or went away.
    private static func runStream(_ stream: AsyncStream<InboundRequest>, session: Session, backlog: StreamBacklog,
                                  requests: RedWireRequests, pending: PendingFrameBytes, login: LoginCheck) async throws {
        defer { session.abortOpenTransaction() }
        var bulk: BulkStream?
        var settings = RedWireSessionSettings()
        do {
            for await request in stream {
                defer {
                    pending.release(Self.pendingCharge(request.frame))
                    request.decodedRows?.done()
                    backlog.removeAfterReply()  // last, and after the reply's write (see StreamBacklog)
                }
                // Requests queued before a revocation do not run after it.
                guard login.holds() else {
                    try await requests.fail(request.frame, LoginCheck.revokedError)
                    continue
                }
                try await requests.handle(request.frame, prefetched: request.decodedRows, session: session, bulk: &bulk,
                                          settings: &settings)
            }
        } catch {
            pending.abandon()  // this stream's queued frames will never be released
            await bulk?.abandonOpenBatch()
            try? await bulk?.settle()
            throw error
        }
        await bulk?.abandonOpenBatch()  // rows of a stream never committed are not kept
        try? await bulk?.settle()
    }

    /// What the reader keeps per stream id: the stream's session (stream 0 uses the
    /// connection's), its task's queue once a request needed one, and how many requests that
    /// queue holds unanswered.
    struct StreamEntry {
        let session: Session
        var queue: AsyncStream<InboundRequest>.Continuation?
        let backlog: StreamBacklog
    }

    // MARK: Handshake

    /// Runs the handshake; the negotiated feature bits and the caller once authenticated,
    /// nil when refused.
    private func handshake() async throws -> (Int64, AuthIdentity, AuthStore.Credential)? {
        var primaryOnly = context.topology(for: nil)  // HelloAck comes before the login: this server alone
        primaryOnly.replicas = []
        var state = RedWireHandshake(auth: context.auth, topology: primaryOnly)
        let first = try await inbound.next()
        lane.dispatched()
        guard case .frame(let hello, _)? = first else { return nil }
        do {
            guard hello.kind == .hello else { throw RedError(.invalidAuthorization, "first frame after magic must be Hello") }
            try await send(.reply(.helloAck, to: hello, payload: try state.hello(hello.payload).utf8))
            while true {
                let next = try await inbound.next()
                lane.dispatched()
                guard case .frame(let response, _)? = next else { return nil }
                guard response.kind == .authResponse else {
                    throw RedError(.invalidAuthorization, "expected AuthResponse, got \(response.kind.name)")
                }
                do {
                    switch try state.authResponse(response.payload) {
                    case .challenge(let serverFirst):
                        try await send(.reply(.authRequest, to: response, payload: Array(serverFirst.utf8)))
                    case .done(let ok):
                        try await send(.reply(.authOk, to: response, payload: ok.utf8))
                        guard let identity = state.identity, let credential = state.credential else { return nil }
                        return (state.negotiatedFeatures, identity, credential)
                    }
                } catch let error as RedError {
                    try await authFail(error.message, to: response)
                    return nil
                }
            }
        } catch let error as RedError {
            try await authFail(error.message, to: hello)
            return nil
        }
    }

    private func authFail(_ reason: String, to request: Frame) async throws {
        logger.info("redwire handshake refused: \(reason)")
        try await send(.reply(.authFail, to: request, payload: JSONValue.object([("reason", .string(reason))]).utf8))
    }

    private func send(_ frame: Frame) async throws {
        try await outbound.write(ByteBuffer(bytes: frame.encoded()))
    }
}

/// Requests handed to a stream's task and not yet answered. The reader answers a request
/// itself only when this is empty, so a stream's replies keep their order.
///
/// The count only changes on the connection's event loop. A task's reply written from the
/// shared pool reaches the channel through the loop's queue (NIO hands a write made off the
/// loop to it), so the task lowers the count through that same queue, after its write
/// (`removeAfterReply`): by the time the reader sees the count at zero, every earlier reply
/// is on the channel, and an answer the reader writes itself comes after them.
final class StreamBacklog: Sendable {
    private let count = Atomic(0)
    let loop: any EventLoop

    init(loop: any EventLoop) { self.loop = loop }

    var isEmpty: Bool { count.load(ordering: .acquiring) == 0 }
    func add() { count.add(1, ordering: .relaxed) }
    /// On the loop: a request the reader queued and took back.
    func remove() { count.subtract(1, ordering: .releasing) }
    /// From the stream's task, once its reply is written.
    func removeAfterReply() { loop.execute { self.remove() } }
}

/// Marks the connection busy while any of its streams runs a request, so that graceful
/// shutdown closes it only between requests.
final class ConnectionActivity: Sendable {
    let id: Int32
    let context: ServerContext
    private let running = Mutex(0)

    init(id: Int32, context: ServerContext) { self.id = id; self.context = context }

    /// False when the server is shutting down: the request must not start (and needs no
    /// `end`). Refused, it takes its count back: left counted, the connection stayed busy and
    /// every later request, not being the first, started during the shutdown.
    func begin() -> Bool {
        let first = running.withLock { count in count += 1; return count == 1 }
        guard first else { return true }
        if context.connections.startRequest(id) { return true }
        end()
        return false
    }

    func end() {
        let last = running.withLock { count in count -= 1; return count == 0 }
        if last { _ = context.connections.finishRequest(id) }
    }
}

/// The statements running on one connection, by the correlation id of their request,
/// with what cancels each.
final class RunningRequests: Sendable {
    private let cancellers = Mutex<[UInt64: @Sendable () -> Void]>([:])

    func register(_ correlationID: UInt64, _ cancel: @escaping @Sendable () -> Void) {
        cancellers.withLock { $0[correlationID] = cancel }
    }

    func remove(_ correlationID: UInt64) {
        _ = cancellers.withLock { $0.removeValue(forKey: correlationID) }
    }

    /// Cancels the statement running under `correlationID`; false if none is.
    func cancel(_ correlationID: UInt64) -> Bool {
        guard let cancel = cancellers.withLock({ $0[correlationID] }) else { return false }
        cancel()
        return true
    }
}
