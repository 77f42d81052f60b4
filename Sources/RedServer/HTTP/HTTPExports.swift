import Hummingbird
import RedCore

/// Exports and snapshots over HTTP (bodies in ExportOperations.swift).
extension HTTPRoutes {
    /// `POST /export {"name"}`, `GET /exports`, `POST /snapshot`, `GET /snapshots` (ExportOperations.swift).
    func registerExports(on router: Router<BasicRequestContext>) {
        router.post("/export") { request, _ in
            try self.requireAdminOnceAuthenticated("/export")
            return Self.json(try await self.operations.createExport(try await self.body(request)))
        }
        router.get("/exports") { _, _ in
            try self.requireAdminOnceAuthenticated("/exports")
            return Self.json(try self.operations.exports(snapshots: false))
        }
        router.post("/snapshot") { _, _ in
            try self.requireAdminOnceAuthenticated("/snapshot")
            return Self.json(try await self.operations.createSnapshot())
        }
        router.get("/snapshots") { _, _ in
            try self.requireAdminOnceAuthenticated("/snapshots")
            return Self.json(try self.operations.exports(snapshots: true))
        }
    }

    func requireAdminOnceAuthenticated(_ what: String) throws {
        // With an admin token configured, a server without users is guarded too: the token.
        if context.auth.authRequired || context.configuration.adminToken != nil { try Self.caller().requireAdmin(what) }
    }
}
