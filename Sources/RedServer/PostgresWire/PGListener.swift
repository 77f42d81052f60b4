import Logging
import NIOCore
import NIOPosix
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
        let serverChannel: NIOAsyncChannel<NIOAsyncChannel<PGFrontendMessage, ByteBuffer>, Never>
        do {
            serverChannel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: address.host, port: address.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PGFrontendDecoder()))
                        return try NIOAsyncChannel<PGFrontendMessage, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            bound.set(nil)
            throw RedError(.ioError, "cannot listen for PostgreSQL clients on \(address): \(error)")
        }
        let port = serverChannel.channel.localAddress?.port ?? address.port
        context.noteListening("postgres", BindAddress(host: address.host, port: port))
        bound.set(BindAddress(host: address.host, port: port))
        context.logger.info("PostgreSQL wire protocol listening", metadata: ["address": "\(address.host):\(port)"])
        let connections = context.connections
        let grace = context.configuration.shutdownGraceMilliseconds
        try await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                do {
                    try await serverChannel.executeThenClose { inbound in
                        for try await connection in inbound {
                            group.addTask { await PGConnection.serve(connection, context: self.context) }
                        }
                    }
                } catch {
                    self.context.logger.debug("pg listener stopped accepting: \(error)")
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
