import Hummingbird
import RedCore

/// HTTP authentication (spec: protocols §4.2). With no users configured every request is
/// allowed. With users, a request needs `Authorization: Bearer <token>` (a token from
/// `POST /auth/login`, the same tokens gRPC and RedWire accept), except the public paths:
/// the health probes, `/ready` and `/auth/login` itself. Otherwise 401
/// `{"ok":false,"error":"unauthorized",…}`.
struct HTTPAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let tokens: TokenStore
    static var publicPaths: Set<String> { ["/health", "/ready", "/health/live", "/health/ready", "/health/startup", "/auth/login"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard tokens.authRequired, !Self.publicPaths.contains(request.uri.path) else { return try await next(request, context) }
        let header = request.headers[.authorization] ?? ""
        guard header.hasPrefix("Bearer "), tokens.resolve(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)) != nil else {
            var error = RedError(.invalidPassword, "unauthorized")
            error.detail = header.isEmpty ? "send Authorization: Bearer <token> (POST /auth/login issues one)" : "bearer token invalid or expired"
            return HTTPRoutes.errorResponse(error, status: .unauthorized)
        }
        return try await next(request, context)
    }
}

extension HTTPRoutes {
    /// `POST /auth/login` `{"username","password"}` → `{"expires_at","ok","role","token","username"}`.
    func login(_ request: Request) async throws -> Response {
        let body = try await Self.bodyJSON(request, limit: context.configuration.maxHTTPBodyBytes)
        guard case .string(let username)? = body["username"], case .string(let password)? = body["password"] else {
            throw RedError(.invalidArgument, "body must be {\"username\": …, \"password\": …}")
        }
        return Self.json(try context.tokens.login(username: username, password: password).json)
    }

    /// `GET /auth/whoami`: the caller's identity (the middleware has checked the token already).
    func whoAmI(_ request: Request) throws -> Response {
        let header = request.headers[.authorization] ?? ""
        let token = header.hasPrefix("Bearer ") ? String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces) : nil
        return Self.json(context.tokens.whoAmI(try context.tokens.authenticate(token: token)))
    }
}
