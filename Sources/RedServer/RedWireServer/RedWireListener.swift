import NIOCore
import NIOSSL
import RedCore
import ServiceLifecycle

/// The RedWire listener (binary protocol, default port 5050), a service of the server's
/// `ServiceGroup` like the PG-wire one: same accept loop, same graceful shutdown. With a TLS
/// context it is the `reds://` listener: TLS 1.2/1.3, ALPN `redwire/1` offered but not
/// required (the spec's JS driver asks for it; upstream's server ignores it).
public final class RedWireListener: Service, Sendable {
    let context: ServerContext
    let address: BindAddress
    let tls: NIOSSLContext?
    private let bound = ListenerAddress()

    public init(context: ServerContext, address: BindAddress, tls: NIOSSLContext? = nil) {
        self.context = context
        self.address = address
        self.tls = tls
    }

    /// The address actually bound (port 0 resolved), once listening; nil if binding failed.
    public func boundAddress() async -> BindAddress? { await bound.wait() }

    public func run() async throws {
        try await TCPListenerLoop.accept(context: context, address: address, protocolName: tls == nil ? "RedWire" : "RedWire over TLS",
                                         transport: tls == nil ? "redwire" : "redwire-tls", bound: bound,
                                         initializer: { [tls] channel in
                                             channel.eventLoop.makeCompletedFuture {
                                                 if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                                                 return try RedWireChannel.wrap(channel)
                                             }
                                         },
                                         serve: { [context] in await RedWireConnection.serve($0, context: context) })
    }
}
