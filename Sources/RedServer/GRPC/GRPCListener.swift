import GRPCCore
import GRPCNIOTransportHTTP2
import NIOPosix
import RedCore
import ServiceLifecycle
import Synchronization

/// The gRPC listener (HTTP/2 cleartext, or TLS for `grpcs://` when given a `TLSIdentity`;
/// mutual TLS when the identity names a client CA): grpc-swift 2's server on the NIO
/// HTTP/2 transport, serving `reddb.v1.RedDb` and `grpc.health.v1.Health`, run as a service
/// of the server's `ServiceGroup`.
///
/// Shutdown: on graceful shutdown the server stops accepting calls and lets running ones
/// finish; after `shutdownGraceMilliseconds` the rest (long streams such as health Watch)
/// are cancelled.
public final class GRPCListener: Service, Sendable {
    let context: ServerContext
    let address: BindAddress
    /// A loopback listener that only the router reaches: not reported as a public listener.
    let isInternal: Bool
    let tls: TLSIdentity?
    private let bound = ListenerAddress()
    /// The running server, for `beginGracefulShutdown`; `shutdownAsked` covers a request that
    /// comes before it runs.
    private let running = Mutex<(server: GRPCServer<HTTP2ServerTransport.Posix>?, shutdownAsked: Bool)>((nil, false))
    /// Largest request or response message (spec: 256 MiB both ways).
    static let maxMessageBytes = 256 << 20
    /// Calls in flight on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); clients queue beyond.
    static let maxConcurrentStreams = 100

    public init(context: ServerContext, address: BindAddress, isInternal: Bool = false, tls: TLSIdentity? = nil) {
        self.context = context
        self.address = address
        self.isInternal = isInternal
        self.tls = tls
    }

    /// Plaintext h2c, or TLS with our certificate (ALPN `h2`, as gRPC clients require).
    private var transportSecurity: HTTP2ServerTransport.Posix.TransportSecurity {
        guard let tls else { return .plaintext }
        return .tls(certificateChain: [.file(path: tls.certificatePath, format: .pem)],
                    privateKey: .file(path: tls.keyPath, format: .pem)) { config in
            if let ca = tls.clientCAPath {
                config.clientCertificateVerification = .noHostnameVerification
                config.trustRoots = .certificates([.file(path: ca, format: .pem)])
            }
        }
    }

    /// Starts this listener's graceful shutdown now, ahead of the server's: the router calls
    /// it when it stops, so that the clients it spliced here get GOAWAY and close their idle
    /// connections, instead of the router holding each one for the whole grace period.
    public func beginGracefulShutdown() {
        let server = running.withLock { state -> GRPCServer<HTTP2ServerTransport.Posix>? in
            state.shutdownAsked = true
            return state.server
        }
        server?.beginGracefulShutdown()
    }

    /// The address actually bound (port 0 resolved), once listening; nil if binding failed.
    public func boundAddress() async -> BindAddress? { await bound.wait() }

    private enum Event { case served, listening, graceExpired }

    public func run() async throws {
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: address.host, port: address.port),
            transportSecurity: transportSecurity,
            config: .defaults {
                $0.rpc.maxRequestPayloadSize = Self.maxMessageBytes
                // Each stream may hold a message of up to 256 MiB being decoded; unlimited streams
                // (the transport's default) let one connection hold any number of them.
                $0.http2.maxConcurrentStreams = Self.maxConcurrentStreams
                // gzip and deflate requests are accepted (zstd has no package here); a reply is
                // compressed with the request's algorithm when the client accepts it.
                $0.compression.enabledAlgorithms = [.gzip, .deflate]
                // Flush coalescing holds each flush up to 100 µs to batch writes; a unary call makes
                // several, and with it on SELECT 1 took about 780 µs instead of about 600.
                $0.connection.flushCoalescing = nil
                // Callers without a valid token may send only small uncompressed requests.
                $0.channelDebuggingCallbacks.onAcceptHTTP2Stream = { [auth = context.auth] stream in
                    GRPCUnauthenticatedLimit.install(on: stream, auth: auth)
                }
            })
        let server = GRPCServer(transport: transport, services: [GRPCServiceRegistration(service: GRPCService(context: context)), GRPCHealthService(context: context)],
                                interceptors: [GRPCCallInterceptor()])
        let grace = Duration.milliseconds(context.configuration.shutdownGraceMilliseconds)
        let asked = running.withLock { state -> Bool in
            state.server = server
            return state.shutdownAsked
        }
        if asked { server.beginGracefulShutdown() }
        try await withThrowingTaskGroup(of: Event.self) { group in
            // grpc-swift's connection and call tasks run on the transport's loops (see EventLoopGroupTaskExecutor);
            // each call's handler and reply run on the shared pool (GRPCCallInterceptor).
            group.addTask(executorPreference: EventLoopGroupTaskExecutor(MultiThreadedEventLoopGroup.singleton)) {
                do {
                    try await server.serve()
                } catch let error as RuntimeError where error.code == .serverIsStopped {
                    // Stopped before it started: the router's early shutdown came first.
                }
                return .served
            }
            group.addTask { [bound, context, address, isInternal, tls] in
                do {
                    let local = try await transport.listeningAddress
                    let resolved = BindAddress(host: local.ipv4?.host ?? address.host, port: local.ipv4?.port ?? address.port)
                    let name = tls == nil ? "gRPC" : "gRPC over TLS"
                    if !isInternal { context.noteListening(tls == nil ? "grpc" : "grpc-tls", resolved) }
                    context.logger.info(isInternal ? "\(name) listening for the router on \(resolved)" : "\(name) listening on \(resolved)")
                    bound.set(resolved)
                } catch {
                    bound.set(nil)
                }
                return .listening
            }
            group.addTask {
                try? await gracefulShutdown()
                server.beginGracefulShutdown()
                try? await Task.sleep(for: grace)
                return .graceExpired
            }
            while let event = try await group.next() {
                if event != .listening { break }
            }
            group.cancelAll()
        }
        // Stopped early by the router (`beginGracefulShutdown`): a service that returns before
        // its group asks it to is a failure to ServiceLifecycle, so wait for that turn.
        if running.withLock({ $0.shutdownAsked }) { try? await gracefulShutdown() }
    }
}
