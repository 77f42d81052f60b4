import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import RedCore
import RedDB
import ServiceLifecycle

/// The HTTP/JSON surface (spec: protocols §4), served by Hummingbird.
///
/// Every route turns its request into the one engine call (`Session.execute`
/// or a typed helper over it) and encodes the `QueryResult`/`RedError` as the
/// spec's JSON. Bodies are capped at `maxHTTPBodyBytes` (413 beyond it);
/// every error, including unknown routes, uses the error envelope
/// `{"code","error","message","ok":false,"sqlstate"}`.
///
/// With a TLS configuration it is the HTTPS listener (HTTP/1.1 over TLS 1.2/1.3; mutual TLS
/// when the configuration names a client CA).
public final class HTTPListener: Service, Sendable {
    let context: ServerContext
    let address: BindAddress
    /// A loopback listener that only the router reaches: not reported as a public listener.
    let isInternal: Bool
    let tls: TLSConfiguration?
    private let bound = ListenerAddress()

    public init(context: ServerContext, address: BindAddress, isInternal: Bool = false, tls: TLSConfiguration? = nil) {
        self.context = context
        self.address = address
        self.isInternal = isInternal
        self.tls = tls
    }

    /// The address actually bound (port 0 resolved), once listening; nil if binding failed.
    public func boundAddress() async -> BindAddress? { await bound.wait() }

    /// The routes and middleware every HTTP connection is answered by (this listener's and
    /// the router's).
    static func makeRouter(context: ServerContext) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.middlewares.add(JSONErrorMiddleware(metrics: context.metrics))
        router.middlewares.add(HTTPAuthMiddleware(auth: context.auth, adminToken: context.configuration.adminToken))
        HTTPRoutes(context: context).register(on: router)
        return router
    }

    public func run() async throws {
        let router = Self.makeRouter(context: context)
        let bound = self.bound
        let host = address.host
        let logger = context.logger
        let serverContext = context
        let isInternal = self.isInternal
        let name = tls == nil ? "HTTP" : "HTTPS"
        let app = Application(
            router: router,
            server: try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
            configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port), serverName: "RedDB"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                if !isInternal { serverContext.noteListening(name == "HTTP" ? "http" : "https", BindAddress(host: host, port: port)) }
                bound.set(BindAddress(host: host, port: port))
                logger.info(isInternal ? "\(name) listening for the router" : "\(name) listening", metadata: ["address": "\(host):\(port)"])
            },
            logger: context.logger)
        do {
            // The app is one service of our group (`runService()` would start a second group that
            // traps SIGTERM itself and races ours at shutdown).
            try await app.run()
        } catch {
            bound.set(nil)
            throw RedError(.ioError, "\(name) listener on \(address) failed: \(error)")
        }
    }
}

/// Turns every thrown error (RedError, Hummingbird's HTTP errors, anything else)
/// into the JSON error envelope with the right status.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        metrics.httpRequests.increment()
        do {
            return try await next(request, context)
        } catch let error as RedError {
            metrics.recordError(surface: "http", sqlState: error.sqlState)
            return HTTPRoutes.errorResponse(error, status: HTTPRoutes.status(for: error))
        } catch let error as any HTTPResponseError {
            if error.status == .notFound, HTTPRoutes.knownPath(request.uri.path) {
                // The path exists with other methods: 405, as the spec's router answers.
                return HTTPRoutes.errorResponse(RedError(.undefinedObject, "method \(request.method) is not allowed on \(request.uri.path)"),
                                                status: .methodNotAllowed)
            }
            let message: String
            switch error.status {
            case .notFound: message = "route not found: \(request.method) \(request.uri.path)"
            case .contentTooLarge: message = "request body is larger than the server's limit"
            case .methodNotAllowed: message = "method \(request.method) is not allowed on \(request.uri.path)"
            default: message = (error as? HTTPError)?.body ?? error.status.reasonPhrase
            }
            let code: RedError.Code
            switch error.status {
            case .contentTooLarge: code = .limitExceeded
            case .notFound, .methodNotAllowed: code = .undefinedObject
            default: code = .invalidArgument
            }
            return HTTPRoutes.errorResponse(RedError(code, message), status: error.status)
        } catch {
            return HTTPRoutes.errorResponse(RedError(.internalError, "\(error)"), status: .internalServerError)
        }
    }
}
