import NIOCore
import RedCore
import ServiceLifecycle

/// The RedWire listener (binary protocol, default port 5050), a service of the server's
/// `ServiceGroup` like the PG-wire one: same accept loop, same graceful shutdown.
public final class RedWireListener: Service, Sendable {
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
        try await TCPListenerLoop.run(context: context, address: address, protocolName: "RedWire", transport: "redwire",
                                      bound: bound, decoder: { ByteToMessageHandler(RedWireInboundDecoder()) },
                                      serve: { [context] in await RedWireConnection.serve($0, context: context) })
    }
}
