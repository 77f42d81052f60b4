import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Synchronization

/// The HTTP surface on a connection the server accepted itself (the router's): Hummingbird's
/// HTTP/1.1 channel set up on that channel, answering through the same routes and middleware
/// as the HTTP listener, so a routed HTTP request crosses no loopback hop.
///
/// Hummingbird's `Application` owns its listening socket; this is the part of it that turns
/// a channel into requests and responses. Like `Application` it adds the `Date` and `Server`
/// headers, and an error that escapes the routes (none should: `JSONErrorMiddleware` answers
/// every error) becomes a bare 500.
struct HTTPConnectionServing: Sendable {
    let channel: HTTP1Channel
    /// Routed HTTP connections count against the server's connection limit with PG-wire and
    /// RedWire, so an idle keep-alive connection is closed after this long.
    static let idleTimeout = TimeAmount.seconds(60)

    init(context: ServerContext) {
        let responder = HTTPListener.makeRouter(context: context).buildResponder()
        let logger = context.logger
        channel = HTTP1Channel(responder: { request, writer, channel in
            let requestContext = BasicRequestContext(source: .init(channel: channel, logger: logger))
            var response: Response
            do {
                response = try await responder.respond(to: request, context: requestContext)
            } catch {
                response = Response(status: .internalServerError)
            }
            response.headers[.date] = HTTPDateHeader.now()
            response.headers[.server] = "RedDB"
            try await writer.write(response: response.head, body: response.body)
        }, configuration: HTTP1Channel.Configuration(idleTimeout: Self.idleTimeout))
    }

    /// Puts the HTTP/1.1 handlers at the end of `pipeline` (call on its event loop); the
    /// returned channel is then served with `serve`.
    func setUp(_ target: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        channel.setup(channel: target, logger: logger)
    }

    func serve(_ connection: HTTP1Channel.Value, logger: Logger) async {
        await channel.handle(value: connection, logger: logger)
    }
}

/// The `Date` header's IMF-fixdate (RFC 9110 §5.6.7), formatted once per second.
enum HTTPDateHeader {
    private static let cache = Mutex<(second: Int, text: String)>((-1, ""))
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func now() -> String {
        let second = Int(Date().timeIntervalSince1970)
        if let cached = cache.withLock({ $0.second == second ? $0.text : nil }) { return cached }
        let text = format(second)
        cache.withLock { $0 = (second, text) }
        return text
    }

    static func format(_ unixSeconds: Int) -> String {
        var time = time_t(unixSeconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
