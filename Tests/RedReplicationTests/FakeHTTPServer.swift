import Hummingbird
import Logging
import NIOCore

/// A Hummingbird server on a free loopback port whose every request goes to one closure: the
/// fake backends' shared start-up (`FakeS3`, `FakeBlobService`).
enum FakeHTTPServer {
    struct Handler: RouterMiddleware {
        typealias Context = BasicRequestContext
        let handle: @Sendable (Request) async throws -> Response
        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            try await handle(request)
        }
    }

    /// Starts serving; returns the port once bound and the task to cancel to stop.
    static func start(label: String, _ handle: @escaping @Sendable (Request) async throws -> Response) async throws -> (port: Int, task: Task<Void, any Error>) {
        let router = Router()
        router.add(middleware: Handler(handle: handle))
        let ready = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in ready.continuation.yield(channel.localAddress?.port ?? 0) },
                              logger: Logger(label: label, factory: { _ in SwiftLogNoOpLogHandler() }))
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        for await port in ready.stream { return (port, task) }
        return (0, task)
    }
}
