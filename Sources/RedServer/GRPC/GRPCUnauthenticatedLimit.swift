import NIOCore
import NIOHPACK
import NIOHTTP2

/// Holds a gRPC call whose caller has not authenticated to a small, uncompressed request,
/// before the transport buffers and decodes it.
///
/// Why: grpc-swift's transport reads a call's DATA as it arrives and assembles each message
/// (up to `GRPCListener.maxMessageBytes`, 256 MiB, inflating a compressed one to that size)
/// before any handler runs, and our handlers check the bearer token only once they have the
/// message. Anyone who could reach the port could make the server hold 256 MiB per call,
/// 100 calls per connection, without a token.
///
/// So this handler sits first in every HTTP/2 stream's pipeline and decides on the call's
/// HEADERS. When the server has users and the call carries no token that resolves
/// (`authorization: Bearer …` or `x-reddb-token`), the call's DATA may total
/// `unauthenticatedBytes` and no message may be compressed: the rpcs such a caller may use
/// (health, ready, topology, login, bootstrap, change password, the standard health service)
/// take a few hundred bytes. Beyond either, the call ends with UNAUTHENTICATED (a
/// trailers-only response, unless the reply has begun) and the stream closes; the bytes
/// never reach the transport's decoder. Callers with a valid token, and every caller of a
/// server without users, keep the full limits. The handler does not authorise anything:
/// each rpc still checks its own gate (`GRPCService.Gate`).
///
/// Gzip/deflate requests without a token are refused, not limited: 64 KiB of gzip can inflate
/// to about 64 MiB inside the transport, where no limit of ours applies.
final class GRPCUnauthenticatedLimit: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// Request bytes (message prefixes included) a call without a valid token may send.
    static let unauthenticatedBytes = 64 << 10

    private enum State {
        /// Before the call's HEADERS.
        case awaitingHeaders
        /// A caller with a valid token, or a server without users: frames pass untouched.
        case unlimited
        /// A caller without a valid token: DATA is counted and its gRPC message prefixes read.
        case limited
        /// Over the limit: the call has been ended; later frames are dropped.
        case refused
    }

    private let auth: AuthStore
    private var state = State.awaitingHeaders
    private var received = 0
    /// Where the current gRPC message prefix (flag byte, u32 length) has got to, and the bytes
    /// of the message body still to come after it.
    private var prefixBytes = 0
    private var declaredLength = 0
    private var bodyRemaining = 0
    /// Whether the server's reply HEADERS have gone out (then a refusal can only reset the stream).
    private var replyStarted = false

    init(auth: AuthStore) { self.auth = auth }

    /// Adds the handler in front of `channel`'s (an HTTP/2 stream's) gRPC handler; the
    /// transport's `onAcceptHTTP2Stream` callback.
    static func install(on channel: any Channel, auth: AuthStore) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(GRPCUnauthenticatedLimit(auth: auth), position: .first)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch state {
        case .awaitingHeaders:
            if case .headers(let headers) = frame {
                let token = GRPCService.token(authorization: headers.headers["authorization"], redDBToken: headers.headers["x-reddb-token"])
                state = !auth.authRequired || token.flatMap(auth.resolve) != nil ? .unlimited : .limited
            }
        case .unlimited:
            break
        case .limited:
            if case .data(let payload) = frame, case .byteBuffer(let bytes) = payload.data, let refusal = count(bytes) {
                return refuse(refusal, context: context)
            }
        case .refused:
            return
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .headers = unwrapOutboundIn(data) { replyStarted = true }
        context.write(data, promise: promise)
    }

    /// Counts `bytes` of a limited call; the reason to refuse it, if they go over.
    private func count(_ bytes: ByteBuffer) -> String? {
        received += bytes.readableBytes
        if received > Self.unauthenticatedBytes {
            return "authenticate first: a call without a valid bearer token may send at most \(Self.unauthenticatedBytes >> 10) KiB"
        }
        var index = bytes.readerIndex
        while index < bytes.writerIndex {
            if bodyRemaining > 0 {
                let skipped = min(bodyRemaining, bytes.writerIndex - index)
                bodyRemaining -= skipped
                index += skipped
                continue
            }
            let byte = Int(bytes.getInteger(at: index, as: UInt8.self)!)
            index += 1
            if prefixBytes == 0 {
                if byte & 1 != 0 { return "authenticate first: a call without a valid bearer token may not send compressed messages" }
                declaredLength = 0
            } else {
                declaredLength = declaredLength << 8 | byte
            }
            prefixBytes += 1
            if prefixBytes == 5 {
                prefixBytes = 0
                bodyRemaining = declaredLength
            }
        }
        return nil
    }

    /// Ends the call with UNAUTHENTICATED and closes its stream.
    private func refuse(_ reason: String, context: ChannelHandlerContext) {
        state = .refused
        if !replyStarted {
            replyStarted = true
            let trailers = HPACKHeaders([(":status", "200"), ("content-type", "application/grpc"),
                                         ("grpc-status", "16"), ("grpc-message", reason)])
            context.write(wrapOutboundOut(.headers(.init(headers: trailers, endStream: true))), promise: nil)
        }
        context.flush()
        context.close(promise: nil)
    }
}
