import Hummingbird
import RedCore
import RedDB
import RedReplication

/// Backups over HTTP (spec ops §7.4): `GET /backup/status`, `POST /backup/trigger` (and its
/// alias `POST /admin/backup`), `GET /recovery/restore-points`. Admin-only once the server has
/// users. 412 without a backend (`RED_BACKEND`); 403 on a replica, whose primary backs up.
/// Restoring is done at start (auto-restore) or offline (`red pitr-restore`), never into a
/// running database.
extension HTTPRoutes {
    func registerBackup(on router: Router<BasicRequestContext>) {
        router.get("/backup/status") { _, _ in
            try self.requireAdminOnceAuthenticated("/backup/status")
            guard let backup = self.context.backup else { return self.noBackend() }
            return Self.json(backup.status)
        }
        for path in ["/backup/trigger", "/admin/backup"] {
            router.post(RouterPath(path)) { _, _ in
                try self.requireAdminOnceAuthenticated(path)
                guard let backup = self.context.backup else { return self.noBackend() }
                return Self.json(try await backup.trigger().json)
            }
        }
        router.get("/recovery/restore-points") { _, _ in
            try self.requireAdminOnceAuthenticated("/recovery/restore-points")
            guard let backup = self.context.backup else { return self.noBackend() }
            let points = try await PointInTimeRestore.restorePoints(backend: backup.settings.backend, layout: backup.settings.layout)
            return Self.json(.object([("ok", .bool(true)), ("backend", .string(backup.settings.backend.description)),
                                      ("restore_points", .array(points.map(\.json)))]))
        }
    }

    private func noBackend() -> Response {
        if let reason = context.standbyReason {
            return Self.errorResponse(RedError(.readOnlyTransaction, "backups run on the primary: \(reason)"), status: .forbidden)
        }
        return Self.errorResponse(RedError(.invalidOperation, "no backup backend is configured; set RED_BACKEND (fs, s3 or http) and restart"),
                                  status: .preconditionFailed)
    }

    /// Backup figures for `/metrics` (spec ops §6.4).
    func backupMetrics() -> String {
        guard let backup = context.backup else { return "" }
        let f = backup.figures
        var text = ""
        func metric(_ name: String, _ type: String, _ help: String, _ value: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        if let last = f.lastSuccessUnixMilliseconds {
            let now = SystemClock().nowMilliseconds()
            metric("reddb_backup_age_seconds", "gauge", "Seconds since the last successful backup.", "\(Double(max(0, now - last)) / 1000)")
            metric("reddb_backup_last_success_timestamp_seconds", "gauge", "Unix time of the last successful backup.", "\(Double(last) / 1000)")
        }
        if let duration = f.lastDurationMilliseconds {
            metric("reddb_backup_last_duration_seconds", "gauge", "How long the last successful backup took.", "\(Double(duration) / 1000)")
        }
        metric("reddb_backup_total_total", "counter", "Successful backups since start.", "\(f.total)")
        metric("reddb_backup_failures_total", "counter", "Failed backups since start.", "\(f.failures)")
        if let archived = f.archivedLSN {
            metric("reddb_wal_last_archived_lsn", "gauge", "The last LSN archived to the backup backend.", "\(archived)")
            metric("reddb_wal_archive_lag_records", "gauge", "WAL not archived yet (bytes of log: LSNs are byte offsets).",
                   "\(f.currentLSN &- min(f.currentLSN, archived))")
        }
        metric("reddb_wal_archive_segments_total", "counter", "WAL segments archived since start.", "\(f.segments)")
        metric("reddb_wal_archive_failures_total", "counter", "Failed WAL archive attempts since start.", "\(f.archiveFailures)")
        return text
    }
}
