import NIOCore
import RedDB
import RedWire
import Synchronization

/// A RedWire channel as the listeners hand it to `RedWireConnection.serve`: the async channel
/// the connection's reader task uses, and the fast lane in front of it.
struct RedWireChannel: Sendable {
    let connection: NIOAsyncChannel<RedWireInbound, ByteBuffer>
    let lane: RedWireFastLane

    /// Sets up an accepted channel's pipeline (on its event loop): frame decoder, fast lane,
    /// async channel. TLS, when used, is already in place in front.
    static func wrap(_ channel: any Channel) throws -> RedWireChannel {
        let lane = RedWireFastLane(loop: channel.eventLoop)
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(ByteToMessageHandler(RedWireInboundDecoder()))
        try pipeline.addHandler(RedWireFastLaneHandler(lane: lane))
        return RedWireChannel(connection: try NIOAsyncChannel(wrappingChannelSynchronously: channel), lane: lane)
    }
}

/// Answers a short statement request inside the channel pipeline, as the frame is decoded,
/// so it never enters the connection's async stream.
///
/// Why: the reader task already answers such requests on the event loop
/// (`RedWireRequests.answerWithoutWaiting`), but each one still went through
/// NIOAsyncChannel's inbound sequence, a task job on the loop and NIOAsyncWriter on the way
/// out. A profile of a `SELECT 1` loop on one core put that machinery at about a third of
/// the server's own time per request; the statement itself was about as much again.
///
/// **Order.** A stream's replies must keep its requests' order, so the lane answers a frame
/// only when nothing that could still be answered before it is outstanding:
/// - `held`: elements passed on to the reader and not yet dispatched by it (queued to a
///   stream's task, or answered). While the reader holds one, whatever it holds could be
///   this stream's, so every later frame goes to the reader too;
/// - the stream's `StreamBacklog`: requests its task has not answered yet (see there for why
///   zero means their replies are on the channel);
/// - the channel must be writable, so no reply waits in NIOAsyncWriter's buffer.
///
/// Until the reader opens the lane (after the handshake) and registers a stream (its first
/// request goes through the reader), frames pass straight on. The reader closes the lane
/// when it stops; frames after that pass on to no one, as before.
///
/// The handler runs on the connection's event loop, and so does the reader task, under
/// `EventLoopTaskExecutor`, but a task may resume elsewhere for a while after an await. What
/// lets the lane act again (`dispatched`) therefore takes effect through the loop's queue
/// when it comes from off the loop: after any write the reader queued there before it, as
/// `StreamBacklog.removeAfterReply` does. What holds the lane back takes effect at once.
final class RedWireFastLane: Sendable {
    private struct Open {
        let requests: RedWireRequests
        let login: LoginCheck
        var streams: [UInt16: (session: Session, backlog: StreamBacklog)] = [:]
    }

    private let state = Mutex<Open?>(nil)
    /// Elements passed on to the reader and not yet dispatched by it.
    private let held = Atomic<Int>(0)
    private let loop: any EventLoop

    init(loop: any EventLoop) { self.loop = loop }

    /// From the reader, once the client is logged in.
    func open(requests: RedWireRequests, login: LoginCheck) {
        state.withLock { $0 = Open(requests: requests, login: login) }
    }

    /// From the reader, when it stops: frames after this are left to it (and go unanswered).
    func close() {
        state.withLock { $0 = nil }
    }

    /// From the reader, when it creates the entry of stream `id`.
    func register(stream id: UInt16, session: Session, backlog: StreamBacklog) {
        state.withLock { $0?.streams[id] = (session, backlog) }
    }

    /// From the reader, once it has dispatched an element the lane passed on.
    func dispatched() {
        if loop.inEventLoop {
            held.subtract(1, ordering: .relaxed)
        } else {
            loop.execute { self.held.subtract(1, ordering: .relaxed) }
        }
    }

    /// From the handler, for an element it passes on to the reader.
    fileprivate func passOn() {
        held.add(1, ordering: .relaxed)
    }

    enum Outcome {
        /// The reply, to write now.
        case answered(ByteBuffer)
        /// Offered to `Session.executeWithoutWaiting`, which declined: for the reader, marked so
        /// (the frame as offered, so one inflated here is not inflated again).
        case declined(Frame)
        /// Not offered: for the reader as it came.
        case passOn
    }

    /// Answers `frame` here when the lane may (see the type's comment).
    fileprivate func answer(_ received: Frame, writable: Bool) -> Outcome {
        guard writable, held.load(ordering: .relaxed) == 0, RedWireStatementRequest.isStatement(received.kind) else { return .passOn }
        // A compressed request is inflated here only as far as a request answered here may be
        // long; a larger one (or a bad one) is the reader's to inflate or refuse.
        var frame = received
        if received.flags.contains(.compressed) {
            guard let plain = try? Zstd.decompress(received.payload, maxBytes: RedWireRequests.maxWithoutWaitingPayloadBytes) else { return .passOn }
            frame.flags.remove(.compressed)
            frame.payload = plain
        }
        guard let (requests, login, stream) = state.withLock({ open in open.map { ($0.requests, $0.login, $0.streams[frame.streamID]) } }),
              let stream, stream.backlog.isEmpty, login.holds() else { return .passOn }
        return requests.replyWithoutWaiting(frame, session: stream.session).map(Outcome.answered) ?? .declined(frame)
    }
}

/// The pipeline half of `RedWireFastLane`: between the frame decoder and the async channel.
final class RedWireFastLaneHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = RedWireInbound
    typealias InboundOut = RedWireInbound
    typealias OutboundOut = ByteBuffer

    private let lane: RedWireFastLane
    private var replies = ReadBatchedReplies()

    init(lane: RedWireFastLane) { self.lane = lane }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .frame(let frame, _) = unwrapInboundIn(data) else {
            lane.passOn()
            return context.fireChannelRead(data)
        }
        switch lane.answer(frame, writable: context.channel.isWritable) {
        case .answered(let reply):
            replies.write(reply, context: context)
        case .declined(let offered):
            lane.passOn()
            context.fireChannelRead(wrapInboundOut(.frame(offered, declinedOnLoop: true)))
        case .passOn:
            lane.passOn()
            context.fireChannelRead(data)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        replies.readComplete(context: context)
    }
}
