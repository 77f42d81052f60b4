import Logging
import NIOCore
import NIOPosix
import RedDB
import Testing
@testable import RedServer

/// The router's byte-for-byte splice to the gRPC listener, against a listener that speaks
/// first the way HTTP/2 servers do (their SETTINGS frame goes out on accept).
struct RouterSpliceTests {
    @Test func whatTheListenerSaysFirstReachesTheClient() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let listener = try await ServerBootstrap(group: group)
            .childChannelInitializer { $0.pipeline.addHandler(GreetThenEcho()) }
            .bind(host: "127.0.0.1", port: 0).get()
        let listenerPort = try #require(listener.localAddress?.port)
        let context = try ServerContext(database: try await Database.inMemory(), configuration: ServerConfiguration(),
                                    logger: Logger(label: "router-splice-test"))
        // The router waits 20 ms between connecting to the listener and gluing the channels,
        // so the greeting always arrives in that window (on a loaded server it can anyway).
        let router = RouterListener(context: context, address: BindAddress(host: "127.0.0.1", port: 0),
                                    grpcTarget: { BindAddress(host: "127.0.0.1", port: listenerPort) },
                                    beforeGlue: { try? await Task.sleep(for: .milliseconds(20)) })
        let running = Task { try await router.run() }
        defer { running.cancel() }
        let routerPort = try #require(await router.boundAddress()).port

        for attempt in 0..<5 {
            let request = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\(attempt)\r\n\r\n"
            let heard = try await Self.exchange(port: routerPort, sending: request, group: group)
            #expect(heard == GreetThenEcho.greeting + request, "attempt \(attempt)")
        }
        try await listener.close()
    }

    /// Sends `text` and collects what comes back until the echo of its final blank line,
    /// or thirty seconds pass. The text goes out from the event loop the moment the
    /// connection is up: a test task that resumes late on a loaded machine must not look,
    /// to the router, like a client that sends nothing (it closes those after `sniffTimeout`).
    static func exchange(port: Int, sending text: String, group: any EventLoopGroup) async throws -> String {
        let promise = group.next().makePromise(of: String.self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { $0.pipeline.addHandler(CollectUntilBlankLine(promise: promise, sending: text)) }
            .connect(host: "127.0.0.1", port: port).get()
        channel.eventLoop.scheduleTask(in: .seconds(30)) { promise.succeed("(timed out)") }
        let heard = try await promise.futureResult.get()
        try? await channel.close()
        return heard
    }

    final class GreetThenEcho: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        static let greeting = "HELLO\n"

        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(NIOAny(ByteBuffer(string: Self.greeting)), promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.writeAndFlush(data, promise: nil)
        }
    }

    final class CollectUntilBlankLine: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<String>
        let request: String
        var text = ""

        init(promise: EventLoopPromise<String>, sending request: String) {
            self.promise = promise
            self.request = request
        }

        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(NIOAny(ByteBuffer(string: request)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            text += String(buffer: unwrapInboundIn(data))
            if text.hasSuffix("\r\n\r\n") { promise.succeed(text) }
        }

        func channelInactive(context: ChannelHandlerContext) { promise.succeed(text + "(closed)") }
    }
}
