import Foundation
import Hummingbird
import RedCore
import RedDB
import RedEngine
import RedReplication

/// The operator's read-only switch and a restore into the running server (spec ops §1.7, §7.4).
///
/// `POST /admin/readonly {"enabled": bool}` (true when the body is empty) turns read-only mode
/// on or off (`ReadOnlyMode`) → `{"ok": true, "read_only": bool, "previous": bool}`.
///
/// `POST /admin/restore {"to_timestamp_ms"?: n, "to_timestamp"?: seconds, "to_lsn"?: n}` (none,
/// or 0: the latest archived state) replaces this server's data with the backup as of the
/// target, while it runs:
/// 1. the point-in-time restore builds the database in `<data file>.admin-restore` (every
///    segment checked before anything is applied, as `red pitr-restore` does);
/// 2. the engine swaps its contents for that database's (`StorageEngine.replaceContents`),
///    committing only the difference: new transactions wait with 55000 meanwhile, so no one
///    reads a half-swapped database, and a crash in the middle is finished at the next start;
/// 3. users and keys are reloaded from the restored data.
/// The swap is a series of ordinary commits in this server's log: a primary's replicas follow
/// it, and once writes are allowed again the WAL archive carries it (a backup afterwards gives
/// later restores a shorter path).
///
/// 409 unless the server is read-only (`POST /admin/readonly` first, as upstream), on a replica
/// (it copies its primary: remove its data to copy it anew; upstream lets a replica restore,
/// which would leave it following a primary it no longer matches), and while another restore
/// runs; 412 without a backup backend. Admin-only once the server has users.
///
/// `GET /admin/status` is the operator's one look (upstream's fields, plus the log position
/// a failover runbook compares across replicas): `{"version", "phase", "uptime_secs",
/// "started_at_unix_ms", "db_size_bytes", "read_only", "replication_role", "remote_backend"?,
/// "durable_lsn", "applied_lsn"? (a replica's), "writer_lease"}`.
///
/// `POST /admin/drain` (upstream's) moves the phase to `draining` and refuses writes from then
/// on, on every surface (an engine fence, 25006 "instance is draining"), ahead of a shutdown
/// or a switch to another server; reads go on, and `/health/ready` still answers 200 as in
/// upstream. One way: only a restart ends it. `{"ok", "phase"}`; idempotent.
///
/// `POST /admin/shutdown` starts the graceful shutdown SIGTERM starts (see Lifecycle in
/// docs/server.md) and answers at once, before it runs: `{"ok", "shutting_down": true,
/// "grace_ms", "final_archive"}`. (Upstream shuts down first and reports after; the reply
/// would then race the listener closing.)
extension HTTPRoutes {
    func registerAdminRestore(on router: Router<BasicRequestContext>) {
        router.get("/admin/status") { _, _ in
            try self.requireAdminOnceAuthenticated("/admin/status")
            return Self.json(self.adminStatus())
        }
        router.post("/admin/drain") { _, _ in
            try self.requireAdminOnceAuthenticated("/admin/drain")
            if self.context.phase == .ready || self.context.phase == .starting { self.context.phase = .draining }
            self.context.database.engine.setWriteFence(RedError(.readOnlyTransaction, "instance is draining — writes rejected (POST /admin/drain); restart it to take writes again"),
                                                       by: "draining")
            self.context.logger.notice("draining: writes refused from now on (POST /admin/drain)")
            return Self.json(.object([("ok", .bool(true)), ("phase", .string(self.context.phase.rawValue))]))
        }
        router.post("/admin/shutdown") { _, _ in
            try self.requireAdminOnceAuthenticated("/admin/shutdown")
            guard let trigger = self.context.shutdownTrigger.withLock({ $0 }) else {
                return Self.errorResponse(RedError(.objectNotInPrerequisiteState, "the server is not running under its lifecycle"), status: .conflict)
            }
            self.context.logger.notice("shutdown requested (POST /admin/shutdown)")
            Task {
                try? await Task.sleep(for: .milliseconds(50))  // the reply leaves first
                await trigger()
            }
            return Self.json(.object([("final_archive", .bool(self.context.backup != nil)), ("grace_ms", .integer(Int64(self.context.configuration.shutdownGraceMilliseconds))),
                                      ("ok", .bool(true)), ("shutting_down", .bool(true))]))
        }
        router.post("/admin/readonly") { request, _ in
            try self.requireAdminOnceAuthenticated("/admin/readonly")
            let body = try await Self.bodyText(request, limit: 64 << 10)
            let json = body.isBlank ? JSONValue.object([]) : try JSONValue.parse(body)
            let enabled: Bool
            switch json["enabled"] {
            case nil, .null?: enabled = true
            case .bool(let on)?: enabled = on
            default: throw RedError(.invalidArgument, "the body must be {\"enabled\": true|false}")
            }
            let previous = try self.context.readOnly.set(enabled)
            self.context.logger.notice("read-only mode \(enabled ? "on" : "off") (POST /admin/readonly)")
            return Self.json(.object([("ok", .bool(true)), ("read_only", .bool(enabled)), ("previous", .bool(previous))]))
        }
        router.post("/admin/restore") { request, _ in
            try self.requireAdminOnceAuthenticated("/admin/restore")
            let body = try await Self.bodyText(request, limit: 64 << 10)
            let json = body.isBlank ? JSONValue.object([]) : try JSONValue.parse(body)
            return try await self.restoreIntoRunningServer(target: try Self.restoreTarget(json))
        }
    }

    func adminStatus() -> JSONValue {
        let uptime = ContinuousClock.now - context.startedAt
        let size = (try? FileManager.default.attributesOfItem(atPath: context.database.engine.path))?[.size] as? NSNumber
        var members: [(String, JSONValue)] = [
            ("version", .string(RedDB.version)), ("phase", .string(context.phase.rawValue)),
            ("uptime_secs", .float(Double(uptime.components.seconds) + Double(uptime.components.attoseconds) / 1e18)),
            ("started_at_unix_ms", .integer(context.startedAtUnixMilliseconds)), ("db_size_bytes", .integer(size?.int64Value ?? 0)),
            ("read_only", .bool(context.readOnly.isEnabled)), ("replication_role", .string(context.configuration.replication.name)),
            ("durable_lsn", .integer(Int64(context.database.engine.durableLSN))),
            ("writer_lease", .string(context.leaseKeeper.map { $0.current.state.rawValue } ?? "not_required")),
        ]
        if let backend = context.configuration.backup?.backend.description { members.append(("remote_backend", .string(backend))) }
        if let replica = context.replica { members.append(("applied_lsn", .integer(Int64(replica.appliedLSN)))) }
        members.append(("ok", .bool(true)))
        return .object(members)
    }

    static func restoreTarget(_ json: JSONValue) throws -> PointInTimeRestore.Target {
        guard case .object = json else { throw RedError(.invalidArgument, "the body must be a JSON object {\"to_timestamp_ms\"?, \"to_timestamp\"?, \"to_lsn\"?}") }
        func number(_ name: String) throws -> Int64? {
            switch json[name] {
            case nil, .null?: return nil
            case .integer(let n)? where n >= 0: return n
            default: throw RedError(.invalidArgument, "\(name) must be a non-negative integer")
            }
        }
        var target = PointInTimeRestore.Target()
        if let ms = try number("to_timestamp_ms"), ms > 0 {
            target.timeMilliseconds = ms
        } else if let seconds = try number("to_timestamp"), seconds > 0 {
            guard seconds < Int64.max / 1000 else { throw RedError(.invalidArgument, "to_timestamp is out of range") }
            target.timeMilliseconds = seconds * 1000
        }
        if let lsn = try number("to_lsn"), lsn > 0 { target.lsn = UInt64(lsn) }
        return target
    }

    func restoreIntoRunningServer(target: PointInTimeRestore.Target) async throws -> Response {
        if let reason = context.standbyReason {
            return Self.errorResponse(RedError(.invalidOperation, "restore refused: \(reason); a replica copies its primary (remove its data file to copy it anew)"),
                                      status: .conflict)
        }
        guard let settings = context.backup?.settings ?? context.configuration.backup else {
            return Self.errorResponse(RedError(.invalidOperation, "no backup backend is configured (RED_BACKEND=none)"), status: .preconditionFailed)
        }
        guard context.readOnly.isEnabled else {
            return Self.errorResponse(RedError(.invalidOperation,
                "POST /admin/restore requires the server to be read-only, so no write races the restore: POST /admin/readonly first"), status: .conflict)
        }
        guard context.adminRestoreRunning.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            return Self.errorResponse(RedError(.invalidOperation, "a restore is already running on this server; wait for its answer"), status: .conflict)
        }
        defer { context.adminRestoreRunning.store(false, ordering: .releasing) }
        let engine = context.database.engine
        let destination = engine.path + ".admin-restore"
        let files = FileManager.default
        for leftover in [destination, StorageEngine.walDirectory(for: destination), destination + ".restoring",
                         StorageEngine.walDirectory(for: destination + ".restoring")] {
            try? files.removeItem(atPath: leftover)
        }
        let started = ContinuousClock.now
        context.logger.notice("restore: building the backup as of \(target.timeMilliseconds.map { "\($0) ms" } ?? target.lsn.map { "LSN \($0)" } ?? "the latest state") in \(destination)")
        let summary = try await PointInTimeRestore.restore(backend: settings.backend, layout: settings.layout, target: target, destination: destination)
        let changed: Int
        do {
            changed = try await engine.replaceContents(withDatabaseAt: destination)
        } catch let error as RedError where error.code == .objectNotInPrerequisiteState {
            return Self.errorResponse(error, status: .conflict)
        }
        context.auth.reload()
        let elapsed = ContinuousClock.now - started
        context.logger.notice("restore: \(changed) keys changed to snapshot \(summary.snapshotUsed) plus \(summary.recordsApplied) archived commits")
        guard case .object(var members) = summary.json else { return Self.json(summary.json) }
        members.append(("keys_changed", .integer(Int64(changed))))
        members.append(("duration_ms", .integer(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)))
        return Self.json(.object(members))
    }
}
