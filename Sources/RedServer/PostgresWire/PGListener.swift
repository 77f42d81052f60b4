import Logging
import NIOCore
import NIOPosix
import NIOSSL
import RedCore
import ServiceLifecycle
import Synchronization

/// The PostgreSQL wire protocol listener, run as a service of the server's
/// `ServiceGroup`.
///
/// Each accepted connection becomes a child task of this service (structured
/// concurrency: the service does not return while a connection runs). On
/// graceful shutdown the listening socket closes first, idle connections are
/// closed, busy ones finish their current request and then close, and after
/// `shutdownGraceMilliseconds` every remaining connection is closed.
public final class PGListener: Service, Sendable {
    let context: ServerContext
    let address: BindAddress
    private let bound = ListenerAddress()

    public init(context: ServerContext, address: BindAddress) {
        self.context = context
        self.address = address
    }

    /// The address actually bound (port 0 resolved), once listening; nil if binding failed.
    public func boundAddress() async -> BindAddress? { await bound.wait() }

    public func run() async throws {
        try await TCPListenerLoop.accept(
            context: context, address: address, protocolName: "PostgreSQL wire protocol", transport: "postgres", bound: bound,
            initializer: { channel in
                channel.eventLoop.makeCompletedFuture {
                    try PGChannel.wrap(channel)
                }
            },
            serve: { [context] in await PGConnection.serve($0, context: context) })
    }
}

/// Checks on a Unix socket path (RedWire's `--wire-bind unix:///path`).
enum UnixSocketFile {
    /// The file's device and inode, to tell our socket from a later one at the same path.
    static func identity(_ path: String) -> (dev: UInt64, ino: UInt64)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }

    /// True when something accepts connections on the socket at `path`.
    static func isAnswering(_ path: String) -> Bool {
        guard identity(path) != nil else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
    }
}

/// Counts the bytes a PG-wire connection receives before TLS starts, so that SSLRequest is
/// answered `S` only when nothing followed it: a client (or someone in between) that sends
/// a startup packet or queries behind its SSLRequest, unencrypted, would otherwise have them
/// run as if they had come over TLS (PostgreSQL's CVE-2021-23214). Event-loop confined.
final class PGPlaintextCounter: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private(set) var bytes = 0
    /// Until the client has logged in (`PGConnection` lifts it), the most bytes it may send:
    /// a startup packet and a password exchange are a few kilobytes, while the decoder
    /// would otherwise buffer a 64 MiB message from anyone who connects.
    var limitBeforeLogin: Int? = PGLimits.maxBytesBeforeLogin

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bytes += unwrapInboundIn(data).readableBytes
        if let limit = limitBeforeLogin, bytes > limit {
            context.fireErrorCaught(RedError(.protocolViolation, "more than \(limit) bytes before logging in"))
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }

    /// The counter and the PG-wire decoder, at the end of `channel`'s pipeline (on its event loop).
    static func addDecoding(to channel: any Channel) throws {
        try channel.pipeline.syncOperations.addHandler(PGPlaintextCounter())
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PGFrontendDecoder()))
    }
}

/// The accept loop every TCP listener of the server shares: bind, publish the bound
/// address, run each connection as a child task, and on graceful shutdown stop accepting,
/// close idle connections and, after `shutdownGraceMilliseconds`, every remaining one.
enum TCPListenerLoop {
    /// `initializer` sets up each accepted channel (on its event loop) and
    /// `serve` runs what it produced as a child task.
    static func accept<Output: Sendable>(
        context: ServerContext, address: BindAddress, protocolName: String, transport: String, bound: ListenerAddress,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Output>,
        serve: @escaping @Sendable (Output) async -> Void
    ) async throws {
        let serverChannel: NIOAsyncChannel<Output, Never>
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        var socketIdentity: (dev: UInt64, ino: UInt64)?
        do {
            if let path = address.unixPath {
                // A stale socket file from a server that died is replaced (NIO removes only sockets);
                // one that a live server still answers on is not.
                if UnixSocketFile.isAnswering(path) {
                    throw RedError(.ioError, "another server is listening on unix://\(path)")
                }
                serverChannel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true,
                                                         childChannelInitializer: initializer)
                socketIdentity = UnixSocketFile.identity(path)
            } else {
                serverChannel = try await bootstrap.childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                    .bind(host: address.host, port: address.port, childChannelInitializer: initializer)
            }
        } catch {
            bound.set(nil)
            throw RedError(.ioError, "cannot listen for \(protocolName) clients on \(address): \(error)")
        }
        // Removed at the end only if it is still ours: a server started while this one drained may own the path now.
        defer { if let path = address.unixPath, let socketIdentity, UnixSocketFile.identity(path).map({ $0 == socketIdentity }) == true { unlink(path) } }
        var resolved = address
        if address.unixPath == nil { resolved.port = serverChannel.channel.localAddress?.port ?? address.port }
        context.noteListening(transport, resolved)
        bound.set(resolved)
        context.logger.info("\(protocolName) listening", metadata: ["address": "\(resolved)"])
        let connections = context.connections
        let grace = context.configuration.shutdownGraceMilliseconds
        try await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                do {
                    try await serverChannel.executeThenClose { inbound in
                        for try await connection in inbound {
                            group.addTask { await serve(connection) }
                        }
                    }
                } catch {
                    context.logger.debug("\(protocolName) listener stopped accepting: \(error)")
                }
            }
        } onGracefulShutdown: {
            serverChannel.channel.close(promise: nil)
            connections.beginShutdown()
            Task {
                try? await Task.sleep(for: .milliseconds(grace))
                connections.closeAll()
            }
        }
    }
}

/// The address a listener bound, published once (nil when binding failed) to any number of waiters.
final class ListenerAddress: Sendable {
    private let address = Mutex<BindAddress?>(nil)
    private let signal = AsyncSignal()

    func set(_ bound: BindAddress?) {
        address.withLock { $0 = bound }
        signal.signal()
    }

    func wait() async -> BindAddress? {
        await signal.wait()
        return address.withLock { $0 }
    }
}

/// A one-shot signal that any number of tasks can await.
final class AsyncSignal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func signal() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.fired = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let fired = state.withLock { s -> Bool in
                if s.fired { return true }
                s.waiters.append(c)
                return false
            }
            if fired { c.resume() }
        }
    }
}
