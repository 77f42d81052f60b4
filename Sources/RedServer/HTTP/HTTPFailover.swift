import Foundation
import Hummingbird
import RedCore
import RedReplication

/// Manual promotion (spec ops §1.11): `POST /admin/failover/promote {"holder_id"?, "ttl_ms"?}`
/// on a replica takes the writer lease for the server about to become primary. It does not
/// change the running role: the operator restarts the node with `--role primary` and
/// `RED_LEASE_REQUIRED=true` (the same holder id), and the old primary, if it still runs with
/// the lease required, fails its next refresh and refuses every write.
///
/// 409 when this is not a replica, when its apply state is `stalled_gap`, `divergence` or
/// `apply_error`, or when another holder's lease is live (the message names it); 412 without
/// a compare-and-swap backend. Admin-only once the server has users.
extension HTTPRoutes {
    func registerFailover(on router: Router<BasicRequestContext>) {
        router.post("/admin/failover/promote") { request, _ in
            try self.requireAdminOnceAuthenticated("/admin/failover/promote")
            let body = try await Self.bodyText(request, limit: 64 << 10)
            let json = body.isBlank ? JSONValue.object([]) : try JSONValue.parse(body)
            return try await self.promote(json)
        }
    }

    func promote(_ body: JSONValue) async throws -> Response {
        guard case .object = body else { throw RedError(.invalidArgument, "the body must be a JSON object {\"holder_id\"?, \"ttl_ms\"?}") }
        guard let replica = context.replica else {
            return Self.errorResponse(RedError(.invalidOperation, "promotion only allowed on a replica; this server is \(context.configuration.replication.name)"),
                                      status: .conflict)
        }
        guard let backend = context.configuration.backup?.backend as? any ConditionalBackend, let backup = context.configuration.backup else {
            return Self.errorResponse(RedError(.invalidOperation, "promotion needs a backend with compare-and-swap for the writer lease: set RED_BACKEND=fs, s3, or http with RED_HTTP_CONDITIONAL_WRITES=true"),
                                      status: .preconditionFailed)
        }
        let state = replica.state
        guard replica.isBootstrapped else {
            return Self.errorResponse(RedError(.invalidOperation, "promotion refused: this replica has not finished copying its primary"), status: .conflict)
        }
        guard ![.stalledGap, .diverged, .applyError].contains(state) else {
            return Self.errorResponse(RedError(.invalidOperation, "promotion refused: this replica's apply state is \(state.rawValue)"), status: .conflict)
        }
        // Defaults as the lease itself reads them, whether or not this server requires one.
        let environment = ProcessInfo.processInfo.environment
        var holder = try context.configuration.lease?.holderID ?? LeaseKeeper.Settings.holder(environment)
        switch body["holder_id"] {
        case nil, .null?: break
        case .string(let id)? where !id.isEmpty && id.utf8.count <= 256: holder = id
        default: throw RedError(.invalidArgument, "holder_id must be a string of 1 to 256 bytes")
        }
        var ttl = context.configuration.lease?.ttlMilliseconds ?? environment["RED_LEASE_TTL_SECS"].flatMap { Int64($0) }.map { $0 * 1000 } ?? 60_000
        switch body["ttl_ms"] {
        case nil, .null?: break
        case .integer(let n)? where n > 0 && n <= 86_400_000: ttl = n
        default: throw RedError(.invalidArgument, "ttl_ms must be an integer of 1 to 86400000")
        }
        let store = LeaseStore(backend: backend, prefix: context.configuration.lease?.prefix ?? "leases/", databaseKey: backup.remoteKey)
        let lease: WriterLease
        do {
            lease = try await store.acquire(holder: holder, ttlMilliseconds: ttl)
        } catch let error as RedError where error.code == .invalidOperation || error.code == .serializationFailure {
            context.logger.warning("admin/failover/promote refused: \(error.message)")
            return Self.errorResponse(RedError(.invalidOperation, "promotion refused: \(error.message)"), status: .conflict)
        }
        context.logger.notice("admin/failover/promote: writer lease taken by \(lease.holderID), generation \(lease.generation)")
        var members: [(String, JSONValue)] = [("ok", .bool(true))]
        if case .object(let fields) = lease.json { members += fields.filter { $0.0 != "database_key" } }
        members.append(("next_step", .string("restart this server with --role primary and RED_LEASE_REQUIRED=true (RED_LEASE_HOLDER_ID=\(lease.holderID)) to start accepting writes")))
        return Self.json(.object(members))
    }

    /// `reddb_writer_lease_state{state}` = 1 for the current state (spec ops §1.10).
    func leaseMetrics() -> String {
        let state = context.leaseKeeper.map { $0.current.state.rawValue } ?? "not_required"
        return "# HELP reddb_writer_lease_state The writer lease's state (1 for the current one).\n# TYPE reddb_writer_lease_state gauge\n"
            + "reddb_writer_lease_state{state=\"\(state)\"} 1\n"
    }
}
