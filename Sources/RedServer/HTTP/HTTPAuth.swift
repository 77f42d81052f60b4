import Hummingbird
import RedCore

/// HTTP authentication (spec: protocols §4.2). While the server has no users every request
/// is anonymous. Once it has, a request needs `Authorization: Bearer <token>` (a session
/// token from `POST /auth/login` or an API key, the same ones gRPC and RedWire accept),
/// except on the public paths: the health probes, `/ready`, and the auth routes that carry
/// their own credentials (login, bootstrap, change-password). Otherwise 401
/// `{"ok":false,"error":"unauthorized",…}`.
///
/// The caller is bound to `RequestCaller` while the route runs, so the sessions it opens
/// carry the caller's role: a `read` user's writes answer 403 (42501). Unlike upstream, a
/// `read` user may still POST a query that only reads.
///
/// **Admin token.** With `RED_ADMIN_TOKEN` (or `RED_ADMIN_TOKEN_FILE`) set, `/admin`,
/// `/admin/…` and `/metrics` take exactly `Authorization: Bearer <that token>` (compared in
/// constant time) and nothing else: the token acts as an admin there, with or without users,
/// and any other credential gets 401. It guards the operator's switches (read-only, restore,
/// promotion, backups) on a server that has no users. The routes outside `/admin` that need
/// an admin (`requireAdminOnceAuthenticated`: exports, backups, AI credentials …) then need it
/// too, and take it as an admin's credential.
///
/// Paths are matched as the router matches them (`routedPath`): it skips empty segments, so
/// `//admin/shutdown` or `/metrics/` reach the admin routes and must meet the same check.
struct HTTPAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let auth: AuthStore
    var adminToken: String?
    static var publicPaths: Set<String> {
        ["/health", "/ready", "/health/live", "/health/ready", "/health/startup", "/auth/login", "/auth/bootstrap", "/auth/change-password",
         "/ready/query", "/ready/write", "/ready/repair", "/ready/serverless", "/ready/serverless/query", "/ready/serverless/write", "/ready/serverless/repair"]
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let token = HTTPRoutes.bearerToken(request)
        let identity: AuthIdentity
        let path = Self.routedPath(request.uri.path)
        if let adminToken, path == "/admin" || path.hasPrefix("/admin/") || path == "/metrics" {
            guard let token, Self.sameSecret(token, adminToken) else {
                var error = RedError(.invalidPassword, "unauthorized")
                error.detail = "\(path) needs Authorization: Bearer <RED_ADMIN_TOKEN>"
                return HTTPRoutes.errorResponse(error, status: .unauthorized)
            }
            identity = AuthIdentity(username: "admin token", role: .admin, authenticated: true)
        } else if let adminToken, let token, Self.sameSecret(token, adminToken) {
            identity = AuthIdentity(username: "admin token", role: .admin, authenticated: true)
        } else if Self.publicPaths.contains(path) {
            identity = auth.optionalCaller(token: token) ?? AuthIdentity(username: "anonymous", role: .read, authenticated: false)
        } else {
            do {
                identity = try auth.authenticate(token: token)
            } catch var error as RedError {
                error.message = "unauthorized"
                error.detail = token == nil ? "send Authorization: Bearer <token> (POST /auth/login issues one)" : "bearer token invalid or expired"
                return HTTPRoutes.errorResponse(error, status: .unauthorized)
            }
        }
        return try await RequestCaller.$identity.withValue(identity) { try await next(request, context) }
    }

    /// `path` as the router sees it: percent-decoded, empty segments (`//`, a trailing `/`)
    /// dropped. Hummingbird's router skips them, so a check on the raw path could be passed
    /// by a request that still reaches the route.
    static func routedPath(_ path: String) -> String {
        let decoded = path.removingPercentEncoding ?? path
        return "/" + decoded.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
    }

    /// Equal strings, compared in time that depends on their lengths only.
    static func sameSecret(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(truncatingIfNeeded: x.count ^ y.count)
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return difference == 0 && x.count == y.count
    }
}

/// The `/auth/…` routes; bodies and replies are `AuthRequests`', shared with gRPC.
extension HTTPRoutes {
    func registerAuth(on router: Router<BasicRequestContext>) {
        router.post("/auth/login") { request, _ in Self.json(try await self.context.auth.login(try await self.body(request))) }
        router.get("/auth/whoami") { _, _ in Self.json(self.context.auth.whoAmI(try Self.caller())) }
        router.post("/auth/bootstrap") { request, _ in
            Self.json(try await self.context.auth.bootstrap(try await self.body(request), caller: Self.authenticatedCaller()))
        }
        router.post("/auth/change-password") { request, _ in
            Self.json(try await self.context.auth.changePassword(try await self.body(request), caller: Self.authenticatedCaller()))
        }
        router.get("/auth/users") { _, _ in Self.json(try self.context.auth.listUsers(by: try Self.caller())) }
        router.post("/auth/users") { request, _ in
            Self.json(try await self.context.auth.createUser(try await self.body(request), by: try Self.caller()), status: .created)
        }
        router.delete("/auth/users/:user") { _, ctx in
            Self.json(try await self.context.auth.deleteUser(try Self.segment(ctx, "user"), by: try Self.caller()))
        }
        router.post("/auth/api-keys") { request, _ in
            Self.json(try await self.context.auth.createAPIKey(try await self.body(request), by: try Self.caller()), status: .created)
        }
        router.delete("/auth/api-keys/:key") { _, ctx in
            Self.json(try await self.context.auth.revokeAPIKey(try Self.segment(ctx, "key"), by: try Self.caller()))
        }
    }

    /// The caller the middleware authenticated.
    static func caller() throws -> AuthIdentity {
        guard let identity = RequestCaller.identity else { throw RedError(.invalidPassword, "unauthorized") }
        return identity
    }

    /// The caller if a valid token came along (public routes run for anyone).
    static func authenticatedCaller() -> AuthIdentity? {
        RequestCaller.identity.flatMap { $0.authenticated ? $0 : nil }
    }

    /// The token of `Authorization: Bearer <token>`, nil without one.
    static func bearerToken(_ request: Request) -> String? {
        let header = request.headers[.authorization] ?? ""
        guard header.hasPrefix("Bearer ") else { return nil }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}
