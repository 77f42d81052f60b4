import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import RedCore
import ServiceLifecycle
import Synchronization

/// The one-port front door (default `127.0.0.1:5050`): each connection is routed by its
/// first bytes (`ProtocolSniffer`).
///
/// - RedWire, PostgreSQL and HTTP are served in this process, on the connection itself:
///   the sniffer hands the channel the surface's handlers (for HTTP, Hummingbird's HTTP/1.1
///   channel over the HTTP listener's routes: `HTTPConnectionServing`) and the bytes it
///   already read, and the connection runs as on the surface's own listener (same limits,
///   registry and shutdown; an HTTP connection is asked to quiesce, so a request in flight
///   finishes).
/// - gRPC is spliced byte for byte to the gRPC listener (the explicit one, or a loopback
///   listener on an ephemeral port started for the router): grpc-swift's transport builds
///   its HTTP/2 pipeline only on sockets it accepted itself. This costs one loopback hop on
///   gRPC only.
///
/// - **TLS** (with `--router-tls on`): a connection that opens with a ClientHello gets a TLS
///   server session (ALPN: `http/1.1`, `h2`, `redwire/1`, `postgresql`, in that order of preference, so
///   browsers and curl speak HTTP/1.1 and gRPC clients HTTP/2), and its decrypted bytes are
///   sniffed as above: `reds://`, `grpcs://`, `https://` and PG-wire's direct TLS all reach
///   the one port, next to their plaintext forms.
///
/// A connection that sends nothing recognisable within `ProtocolSniffer.maxBytes` bytes,
/// or nothing at all for `sniffTimeout` (TLS handshake included), is closed.
public final class RouterListener: Service, Sendable {
    let context: ServerContext
    let address: BindAddress
    /// HTTP connections are answered here.
    let http: HTTPConnectionServing
    /// Where gRPC connections are spliced to, once that listener is bound.
    let grpcTarget: @Sendable () async -> BindAddress?
    /// Starts the gRPC listener's graceful shutdown (see `splice`).
    let stopGRPC: @Sendable () -> Void
    /// Terminates TLS connections when set (`--router-tls on`).
    let tls: NIOSSLContext?
    private let bound = ListenerAddress()
    private let proxied = Atomic<Int>(0)
    /// Runs between connecting to a surface's listener and gluing the two channels; tests
    /// use it to widen that window, in which a listener that speaks first must not be lost.
    let beforeGlue: (@Sendable () async -> Void)?
    static let sniffTimeout = TimeAmount.seconds(10)

    init(context: ServerContext, address: BindAddress,
         grpcTarget: @escaping @Sendable () async -> BindAddress?, stopGRPC: @escaping @Sendable () -> Void = {},
         tls: NIOSSLContext? = nil, beforeGlue: (@Sendable () async -> Void)? = nil) {
        self.stopGRPC = stopGRPC
        self.beforeGlue = beforeGlue
        self.tls = tls
        self.context = context
        self.address = address
        self.http = HTTPConnectionServing(context: context)
        self.grpcTarget = grpcTarget
    }

    public func boundAddress() async -> BindAddress? { await bound.wait() }

    enum Routed: Sendable {
        case redwire(RedWireChannel)
        case postgres(PGChannel)
        case http(HTTP1Channel.Value)
        case splice(any Channel, ProtocolSniffer.Surface)
        case refused
    }

    public func run() async throws {
        try await TCPListenerLoop.accept(
            context: context, address: address, protocolName: "router (RedWire, PostgreSQL, HTTP, gRPC)", transport: "router",
            bound: bound,
            initializer: { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Half-closed HTTP and gRPC clients keep receiving through the splice.
                    try channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
                    let promise = channel.eventLoop.makePromise(of: Routed.self)
                    try channel.pipeline.syncOperations.addHandler(SniffHandler(promise: promise, tls: self.tls, http: self.http,
                                                                                 logger: self.context.logger))
                    return promise.futureResult
                }
            },
            serve: { routed in await self.serve(routed) })
    }

    private func serve(_ routed: EventLoopFuture<Routed>) async {
        guard let routed = try? await routed.get() else { return }
        switch routed {
        case .redwire(let connection): await RedWireConnection.serve(connection, context: context)
        case .postgres(let connection): await PGConnection.serve(connection, context: context)
        case .http(let connection): await serveHTTP(connection)
        case .splice(let channel, let surface): await splice(channel, to: surface)
        case .refused: break
        }
    }

    /// An HTTP connection, registered like the others; on shutdown it is asked to quiesce
    /// (Hummingbird closes it once idle, after the response in flight).
    private func serveHTTP(_ connection: HTTP1Channel.Value) async {
        let channel = connection.channel
        let admitted = await context.serveRegistered(channel) { registration in
            context.connections.setQuiesce(registration.id) {
                channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            }
            await http.serve(connection, logger: context.logger)
        }
        if !admitted { try? await channel.close() }
    }

    /// Connects to the surface's listener on the same event loop and glues the two channels.
    private func splice(_ channel: any Channel, to surface: ProtocolSniffer.Surface) async {
        guard surface == .grpc else { try? await channel.close(); return }
        let target = await grpcTarget()
        guard let target, proxied.wrappingAdd(1, ordering: .relaxed).oldValue < context.configuration.maxConnections else {
            proxied.wrappingSubtract(1, ordering: .relaxed)
            try? await channel.close()
            return
        }
        defer { proxied.wrappingSubtract(1, ordering: .relaxed) }
        var connected: (any Channel)?
        do {
            let peer = try await ClientBootstrap(group: channel.eventLoop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelOption(.allowRemoteHalfClosure, value: true)
                // The listener may speak first (HTTP/2 servers send SETTINGS at once): nothing
                // is read from it until the glue is in place, or those bytes would be dropped.
                .channelOption(.autoRead, value: false)
                .connect(host: target.host == "0.0.0.0" ? "127.0.0.1" : target.host, port: target.port).get()
            connected = peer
            await beforeGlue?()
            try await channel.eventLoop.submit {
                let sniffer = try channel.pipeline.syncOperations.handler(type: SniffHandler.self)
                let (inner, outer) = GlueHandler.matchedPair()
                try channel.pipeline.syncOperations.addHandler(outer)
                try peer.pipeline.syncOperations.addHandler(inner)
                if let bytes = sniffer.takeBuffered() { peer.writeAndFlush(bytes, promise: nil) }
                channel.pipeline.syncOperations.removeHandler(sniffer, promise: nil)
                channel.setOption(.autoRead, value: true).whenComplete { _ in channel.read() }
                peer.setOption(.autoRead, value: true).whenComplete { _ in peer.read() }
            }.get()
            // On shutdown the gRPC listener behind a spliced connection (an idle client, a
            // replica's long poll) is told to stop at once, ahead of its own turn after the
            // router: it sends GOAWAY, running calls finish, and clients close their
            // connections, which ends the splice. Whatever is still open after the grace
            // period other connections get is closed.
            let grace = context.configuration.shutdownGraceMilliseconds
            try await withGracefulShutdownHandler {
                try await channel.closeFuture.get()
            } onGracefulShutdown: { [stopGRPC] in
                stopGRPC()
                Task {
                    try? await Task.sleep(for: .milliseconds(grace))
                    channel.close(promise: nil)
                }
            }
            try? await peer.close()
        } catch {
            context.logger.debug("router could not reach the \(surface.rawValue) listener at \(target): \(error)")
            try? await channel.close()
            try? await connected?.close()  // a glue that failed half way leaves no loopback connection behind
        }
    }
}

/// Reads a connection's first bytes until `ProtocolSniffer` decides, then re-plumbs the
/// pipeline for that surface and passes the bytes on.
final class SniffHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let promise: EventLoopPromise<RouterListener.Routed>
    private var buffered: ByteBuffer?
    private var decided = false
    private var timeout: Scheduled<Void>?
    /// The router's TLS context; nil once a TLS session is in place (TLS inside TLS is refused).
    private var tls: NIOSSLContext?
    private let http: HTTPConnectionServing?
    private let logger: Logger

    init(promise: EventLoopPromise<RouterListener.Routed>, tls: NIOSSLContext? = nil, http: HTTPConnectionServing? = nil,
         logger: Logger = Logger(label: "reddb.router")) {
        self.promise = promise
        self.tls = tls
        self.http = http
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: RouterListener.sniffTimeout) { [self] in
            guard !decided else { return }
            refuse(context: loopBound.value)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
        if !decided {
            decided = true
            promise.succeed(.refused)
        }
    }

    func takeBuffered() -> ByteBuffer? {
        defer { buffered = nil }
        return buffered
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !decided else {
            // Bytes that arrive while a splice connects wait here until the glue takes over.
            var more = unwrapInboundIn(data)
            if buffered == nil { buffered = more } else { buffered!.writeBuffer(&more) }
            return
        }
        var incoming = unwrapInboundIn(data)
        if buffered == nil { buffered = incoming } else { buffered!.writeBuffer(&incoming) }
        switch ProtocolSniffer.decide(buffered!.readableBytesView) {
        case .needMore:
            if buffered!.readableBytes >= ProtocolSniffer.maxBytes { refuse(context: context) }
        case .unknown:
            refuse(context: context)
        case .surface(.tls):
            guard let tls else { return refuse(context: context) }
            startTLS(tls, context: context)
        case .surface(let surface):
            decided = true
            timeout?.cancel()
            do {
                try route(surface, context: context)
            } catch {
                promise.succeed(.refused)
                context.close(promise: nil)
            }
        }
    }

    /// Puts a TLS server session at the head of the pipeline and feeds it the ClientHello
    /// read so far, at once (a later socket read must not overtake it); the plaintext it
    /// yields comes back here to be sniffed again, under the same timeout.
    private func startTLS(_ tls: NIOSSLContext, context: ChannelHandlerContext) {
        self.tls = nil
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
        } catch {
            return refuse(context: context)
        }
        if let hello = takeBuffered() { context.pipeline.fireChannelRead(hello) }
    }

    private func route(_ surface: ProtocolSniffer.Surface, context: ChannelHandlerContext) throws {
        let channel = context.channel
        switch surface {
        case .redwire:
            promise.succeed(.redwire(try RedWireChannel.wrap(channel)))
        case .postgres:
            promise.succeed(.postgres(try PGChannel.wrap(channel)))
        case .tls:
            throw RedError(.protocolViolation, "TLS is decided before routing")
        case .http where http != nil:
            // The handlers are in place when `setUp` returns (it runs on this event loop).
            let failed = NIOLoopBoundBox(false, eventLoop: context.eventLoop)
            let promise = self.promise
            http!.setUp(channel, logger: logger).whenComplete { result in
                switch result {
                case .success(let connection): promise.succeed(.http(connection))
                case .failure:
                    failed.value = true
                    promise.succeed(.refused)
                    channel.close(promise: nil)
                }
            }
            if failed.value { return }
        case .http, .grpc:
            // Stop reading until the splice is in place; the bytes so far stay buffered here.
            channel.setOption(.autoRead, value: false).whenComplete { _ in }
            promise.succeed(.splice(channel, surface))
            return
        }
        if let bytes = takeBuffered() { context.fireChannelRead(wrapInboundOut(bytes)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func refuse(context: ChannelHandlerContext) {
        guard !decided else { return }
        decided = true
        promise.succeed(.refused)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !decided {
            decided = true
            promise.succeed(.refused)
        }
        context.fireChannelInactive()
    }
}
