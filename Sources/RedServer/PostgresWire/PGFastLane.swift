import NIOCore
import RedCore
import Synchronization

/// A PG-wire channel as the listeners hand it to `PGConnection.serve`: the async channel the
/// connection's reader task uses, and the fast lane in front of it.
struct PGChannel: Sendable {
    let connection: NIOAsyncChannel<PGFrontendMessage, ByteBuffer>
    let lane: PGFastLane
    let inbox: PGNotificationInbox

    /// Sets up an accepted channel's pipeline (on its event loop): plaintext counter, message
    /// decoder, notification gate, fast lane, async channel.
    static func wrap(_ channel: any Channel) throws -> PGChannel {
        let lane = PGFastLane(loop: channel.eventLoop)
        try PGPlaintextCounter.addDecoding(to: channel)
        let gate = PGNotificationGate()
        try channel.pipeline.syncOperations.addHandler(gate)
        try channel.pipeline.syncOperations.addHandler(PGFastLaneHandler(lane: lane))
        return PGChannel(connection: try NIOAsyncChannel(wrappingChannelSynchronously: channel), lane: lane,
                         inbox: PGNotificationInbox(loop: channel.eventLoop, gate: gate))
    }
}

/// Answers the messages that need no waiting (`PGConnection.answerNow`: Parse, Bind,
/// Describe, Close, Sync, Flush, and a Query or Execute of a short cached read) inside the
/// channel pipeline, as they are decoded, while the connection's reader task is idle.
///
/// Why: the reader already answered them on the event loop, but each read still went
/// through NIOAsyncChannel's inbound sequence, a task job on the loop and NIOAsyncWriter on
/// the way out; on RedWire the same machinery was about a third of the server's own time
/// in a `SELECT 1` loop, and bypassing it took a blocking client's round trip from about
/// 30 to 21 µs (`RedWireFastLane`).
///
/// **Who touches the connection.** `PGConnection` is the reader's: its writer, portals,
/// statements and session. The lane uses it only while the reader cannot:
/// - `held` is 0: every message passed on has been taken by the reader, so the one at hand
///   comes after all of them;
/// - the reader is idle: it has finished the last message it took (replies flushed, request
///   accounted), and waits for the next. It is busy from taking a message (`consumed`) to
///   the end of handling it (`readerIdle`), including a COPY's CopyData taken meanwhile;
/// - the socket is writable: otherwise the reader answers, and its flush waiting for the
///   socket is what stops further reads (backpressure).
///
/// The lock orders the two sides' accesses. The reader task runs on the event loop too
/// (`EventLoopTaskExecutor`), but after a message handled on the shared pool it may go on
/// there for a while, with its reply's write queued to the loop. So what lets the lane act
/// (`open`, `readerIdle`) takes effect through the loop's queue when it comes from off the
/// loop, after that write; what holds the lane back takes effect at once. Messages the lane handles leave their replies
/// in the connection's writer exactly as the reader would, so a Parse/Bind answered here
/// and an Execute passed on still reply in order. A message offered and declined is passed
/// on marked (`consumed` returns true), so the reader does not offer it again.
final class PGFastLane: Sendable {
    private struct State {
        var connection: LoopConfined<PGConnection>?
        var held = 0
        var readerBusy = true
        var declined = false
        /// Messages the reader has taken: a release queued to the loop applies only if the
        /// reader has taken none since it was made.
        var taken = 0
    }

    private let state = Mutex(State())
    private let loop: any EventLoop

    init(loop: any EventLoop) { self.loop = loop }

    /// From the reader, after startup: the lane may answer from now on.
    func open(_ connection: PGConnection) {
        let confined = LoopConfined(connection)
        state.withLock { $0.connection = confined }
        readerIdle()
    }

    /// From the reader, when it stops: the lane passes everything on from now on (a release
    /// still queued finds no connection to hand out).
    func close() {
        state.withLock { $0.connection = nil }
    }

    /// From the reader, for every message it takes: the reader is busy from now on. True
    /// when the lane offered this message to `answerNow`, which declined.
    func consumed() -> Bool {
        state.withLock { s in
            s.held -= 1
            s.taken += 1
            s.readerBusy = true
            defer { s.declined = false }
            return s.declined
        }
    }

    /// From the reader, once it has finished a message.
    func readerIdle() {
        let taken = state.withLock { $0.taken }
        let release: @Sendable () -> Void = { [self] in
            state.withLock { s in if s.taken == taken { s.readerBusy = false } }
        }
        if loop.inEventLoop { release() } else { loop.execute(release) }
    }

    /// The connection, when the lane may use it now.
    fileprivate func idleConnection() -> LoopConfined<PGConnection>? {
        state.withLock { s in s.held == 0 && !s.readerBusy ? s.connection : nil }
    }

    fileprivate func passOn(declined: Bool) {
        state.withLock { s in
            if declined { s.declined = true }
            s.held += 1
        }
    }
}

/// A value only ever used on one event loop, passed between the tasks and handlers there.
/// `PGFastLane` hands its handler the connection only while the reader is idle.
final class LoopConfined<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// The pipeline half of `PGFastLane`: between the message decoder and the async channel.
final class PGFastLaneHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = PGFrontendMessage
    typealias InboundOut = PGFrontendMessage
    typealias OutboundOut = ByteBuffer

    private let lane: PGFastLane
    private var replies = ReadBatchedReplies()

    init(lane: PGFastLane) { self.lane = lane }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Not while the socket is full: the reader's flush then waits, and reading stops with it.
        if context.channel.isWritable, let connection = lane.idleConnection() {
            switch connection.value.answerInPipeline(unwrapInboundIn(data)) {
            case .answered(let answer, let close):
                if let answer { replies.write(answer, context: context) }
                if close {
                    replies.flush(context: context)
                    context.close(promise: nil)
                }
                return
            case .declined:
                lane.passOn(declined: true)
                return context.fireChannelRead(data)
            case .passOn:
                break
            }
        }
        lane.passOn(declined: false)
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        replies.readComplete(context: context)
    }
}

extension PGConnection {
    enum PipelineOutcome {
        /// Handled: the replies to write now, if any are due, and whether to close after them.
        case answered(ByteBuffer?, close: Bool)
        /// Offered to `answerNow`, which declined: for the reader, marked so.
        case declined
        /// Not offered: for the reader as it came (a revoked login or a shutdown, which the reader reports).
        case passOn
    }

    /// One message handled as the reader's loop (`run`) would, with no suspension point.
    func answerInPipeline(_ message: PGFrontendMessage) -> PipelineOutcome {
        guard login?.holds() ?? true, context.connections.startRequest(id) else { return .passOn }
        noteBegin(message)
        guard let keepGoing = answerNow(message) else { return .declined }  // the reader notes its end
        let stayOpen = context.connections.finishRequest(id)
        noteEnd()
        if keepGoing && !stayOpen && activity.claimGoodbye() { writeShutdownTermination() }
        let due = !keepGoing || !stayOpen || Self.endsReply(message) || mustFlush
        return .answered(due && !writer.isEmpty ? writer.take() : nil, close: !keepGoing || !stayOpen)
    }
}
