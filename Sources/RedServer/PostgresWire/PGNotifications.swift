import NIOCore
import RedCore
import Synchronization

/// `LISTEN`, `UNLISTEN` and `NOTIFY` (and `pg_notify(channel, payload)`), PostgreSQL's
/// asynchronous notifications between the connections of one server.
///
/// **Transactions.** As in PostgreSQL, what a transaction block does here takes effect when
/// it commits, and nothing of it when it rolls back: its notifications are sent at COMMIT,
/// in the order made, an identical channel and payload once; its LISTEN and UNLISTEN change
/// what the connection listens to at COMMIT. Outside a block a statement's own take effect
/// when it succeeds. (`PGPendingNotifications` holds them; `settleNotifications` decides.)
///
/// **Delivery.** A listener gets a notification (NotificationResponse: the sender's process
/// id, the channel, the payload) only between transactions, never inside a response: each
/// connection's `PGNotificationGate`, in its channel pipeline, watches the replies going out
/// and sends what it holds right after a ReadyForQuery that says idle, or at once while the
/// connection is idle. So a listener that sits in a transaction gets them after it ends.
/// A connection notifying a channel it listens to gets its own notification too, just before
/// its ReadyForQuery.
///
/// **Limits.** Payloads under 8,000 bytes and channel names up to 63 bytes (22023 past them,
/// as PostgreSQL); at most `PGNotificationGate.maxHeldBytes` held for one connection, past
/// which that listener is disconnected rather than let anything be dropped unseen.
struct PGNotification: Hashable, Sendable {
    var processID: Int32
    var channel: String
    var payload: String

    static let maxPayloadBytes = 8_000
    static let maxChannelBytes = 63

    /// The checks `pg_notify` and NOTIFY apply, with PostgreSQL's messages.
    static func check(channel: String, payload: String) throws {
        guard !channel.isEmpty else { throw RedError(.invalidArgument, "channel name cannot be empty") }
        guard channel.utf8.count <= maxChannelBytes else { throw RedError(.invalidArgument, "channel name too long") }
        guard payload.utf8.count < maxPayloadBytes else { throw RedError(.invalidArgument, "payload string too long") }
    }
}

/// What a connection's current block (or statement) has asked for, applied when it commits.
/// Shared with `pg_notify`, which the engine evaluates off the connection's task.
final class PGPendingNotifications: Sendable {
    enum Action: Equatable, Sendable {
        case notify(PGNotification)
        case listen(String)
        /// A channel, or nil for every channel (`UNLISTEN *`).
        case unlisten(String?)
    }

    private struct State {
        var actions: [Action] = []
        var notified: Set<PGNotification> = []
        var bytes = 0
    }

    private let state = Mutex(State())
    /// Past this many actions, or this many bytes of channels and payloads, in one block,
    /// NOTIFY (or LISTEN) fails with 54000 instead of holding more.
    static let maxPerBlock = 100_000
    static let maxBytesPerBlock = 64 << 20

    var isEmpty: Bool { state.withLock { $0.actions.isEmpty } }

    func add(_ action: Action) throws {
        try state.withLock { s in
            guard s.actions.count < Self.maxPerBlock, s.bytes < Self.maxBytesPerBlock else {
                throw RedError(.limitExceeded, "too many notifications and LISTENs in one transaction (limits \(Self.maxPerBlock), \(Self.maxBytesPerBlock >> 20) MiB)")
            }
            switch action {
            case .notify(let notification):
                guard s.notified.insert(notification).inserted else { return }  // folded, as PostgreSQL does
                s.bytes += notification.channel.utf8.count + notification.payload.utf8.count
            case .listen(let channel), .unlisten(let channel?):
                s.bytes += channel.utf8.count
            case .unlisten(nil):
                break
            }
            s.actions.append(action)
        }
    }

    func takeAll() -> [Action] {
        state.withLock { s in
            defer { s = State() }
            return s.actions
        }
    }
}

/// Which connections listen to which channel, for the whole server.
final class PGNotificationHub: Sendable {
    private let listeners = Mutex<[String: [Int32: PGNotificationInbox]]>([:])

    func listen(_ channel: String, _ id: Int32, _ inbox: PGNotificationInbox) {
        listeners.withLock { $0[channel, default: [:]][id] = inbox }
    }

    func unlisten(_ channel: String, _ id: Int32) {
        listeners.withLock { all in
            all[channel]?[id] = nil
            if all[channel]?.isEmpty == true { all[channel] = nil }
        }
    }

    func unlistenAll(_ id: Int32, channels: some Sequence<String>) {
        for channel in channels { unlisten(channel, id) }
    }

    /// Hands each notification to every connection listening on its channel, but the one
    /// `except` (the sender, which writes its own before its ReadyForQuery, as PostgreSQL does).
    func publish(_ notifications: [PGNotification], except sender: Int32) {
        let deliveries = listeners.withLock { all in
            notifications.flatMap { n in (all[n.channel] ?? [:]).filter { $0.key != sender }.map { ($0.value, n) } }
        }
        for (inbox, notification) in deliveries { inbox.post(notification) }
    }
}

/// A connection's address for notifications: posts to its gate on the channel's event loop.
final class PGNotificationInbox: Sendable {
    private let loop: any EventLoop
    private let gate: LoopConfined<PGNotificationGate>

    init(loop: any EventLoop, gate: PGNotificationGate) {
        self.loop = loop
        self.gate = LoopConfined(gate)
    }

    func post(_ notification: PGNotification) {
        let gate = self.gate
        loop.execute { gate.value.deliver(notification) }
    }

    /// From the connection's first LISTEN on: the gate reads the replies going out. Queued to
    /// the loop before the LISTEN's own reply is, so it sees that reply's ReadyForQuery.
    func activate() {
        let gate = self.gate
        if loop.inEventLoop { gate.value.watching = true } else { loop.execute { gate.value.watching = true } }
    }
}

/// Sends a connection's notifications between transactions (see `PGNotification`). In the
/// pipeline between the message decoder and `PGFastLaneHandler`, so the replies of both the
/// lane and the reader pass it as whole messages. Until the connection first listens it only
/// passes them on.
final class PGNotificationGate: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = PGFrontendMessage
    typealias InboundOut = PGFrontendMessage
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Bytes of notifications held for a connection that is not idle; past them it is closed.
    static let maxHeldBytes = 64 << 20

    var watching = false
    /// Every Query and Sync received has had its ReadyForQuery, and the last said 'I'.
    private var idle = false
    /// Queries and Syncs received whose ReadyForQuery has not gone out yet (a client may
    /// pipeline several; the connection is idle only after the last one's).
    private var awaitingReady = 0
    private var held: [ByteBuffer] = []
    private var heldBytes = 0
    /// Bytes of an outgoing message still to come in a later write. (`PGBackendWriter` hands
    /// out whole messages, so a message's 5-byte header is never split; a body may be.)
    private var unfinished = 0
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        idle = false
        switch unwrapInboundIn(data) {
        case .query, .sync: awaitingReady += 1
        default: break
        }
        context.fireChannelRead(data)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if idle, context.channel.isWritable { sendHeld(context) }
        context.fireChannelWritabilityChanged()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard watching else { return context.write(data, promise: promise) }
        let buffer = unwrapOutboundIn(data)
        let (readies, lastIdle) = readyForQueries(in: buffer)
        awaitingReady = max(0, awaitingReady - readies)
        context.write(data, promise: promise)
        if readies > 0, lastIdle, awaitingReady == 0 {
            idle = true
            sendHeld(context)
        } else if buffer.readableBytes > 0 {
            idle = false
        }
    }

    func deliver(_ notification: PGNotification) {
        guard let context else { return }
        var writer = PGBackendWriter()
        writer.notification(notification)
        let message = writer.take()
        // Straight out only while idle and the socket takes it: a listener that stops reading
        // has its notifications held, under the cap below, not piled up in the channel.
        if idle, context.channel.isWritable {
            context.writeAndFlush(wrapOutboundOut(message), promise: nil)
            return
        }
        heldBytes += message.readableBytes
        held.append(message)
        if heldBytes > Self.maxHeldBytes {
            // A listener that never reads (or never ends its transaction): closed, not silently short of notifications.
            held.removeAll()
            heldBytes = 0
            context.close(promise: nil)
        }
    }

    private func sendHeld(_ context: ChannelHandlerContext) {
        guard !held.isEmpty, context.channel.isWritable else { return }
        for message in held { context.write(wrapOutboundOut(message), promise: nil) }
        held.removeAll()
        heldBytes = 0
        context.flush()
    }

    /// Walks the messages of `buffer` (type byte, Int32 length counting itself): how many are
    /// ReadyForQuery, and whether the last message ends here and is ReadyForQuery 'I'.
    private func readyForQueries(in buffer: ByteBuffer) -> (count: Int, lastIdle: Bool) {
        var offset = buffer.readerIndex
        let end = buffer.writerIndex
        if unfinished > 0 {
            let skipped = min(unfinished, end - offset)
            unfinished -= skipped
            offset += skipped
            if unfinished > 0 { return (0, false) }
        }
        var count = 0, lastIsIdle = false
        while offset < end {
            guard end - offset >= 5, let type = buffer.getInteger(at: offset, as: UInt8.self),
                  let length = buffer.getInteger(at: offset + 1, as: Int32.self), length >= 4 else { return (count, false) }
            let total = 1 + Int(length)
            guard total <= end - offset else {
                unfinished = total - (end - offset)
                return (count, false)
            }
            let isReady = type == UInt8(ascii: "Z") && length == 5
            if isReady { count += 1 }
            lastIsIdle = isReady && buffer.getInteger(at: offset + 5, as: UInt8.self) == UInt8(ascii: "I")
            offset += total
        }
        return (count, lastIsIdle)
    }
}
