import RedCore
import RedReplication

/// `DeploymentProfiles {profile}` and `GET /deployment/profiles[?profile=]`: upstream's preset
/// names (`simple`, `production`, `regulated`, `cloud`; HEAD-only there), each as the settings
/// it stands for, checked against this running server, so an operator sees what is missing
/// and how to set it: `{"ok", "profiles": [{"name", "description", "meets", "checks":
/// [{"check", "ok", "how"}]}]}`. An empty profile lists all four; another name is 22023.
extension ServerContext {
    struct ProfileCheck {
        var name: String
        var ok: Bool
        var how: String
    }

    func deploymentProfiles(_ profile: String) throws -> JSONValue {
        let c = configuration
        let durable = ProfileCheck(name: "every acknowledged commit is fsynced (sync_mode full)", ok: database.engine.options.syncMode == .full,
                                   how: "--sync-mode full (the default)")
        let users = ProfileCheck(name: "clients authenticate", ok: auth.authRequired,
                                 how: "--user NAME:PASSWORD, or REDDB_USERNAME and REDDB_PASSWORD to bootstrap an admin")
        let tlsSurfaces = [c.wireTLSBind, c.httpTLSBind, c.grpcTLSBind].contains { $0 != nil } || c.routerTLS || c.pgTLS != .off
        let tls = ProfileCheck(name: "connections can use TLS", ok: tlsSurfaces, how: "--router-tls on, --pg-tls on, or a --*-tls-bind listener")
        let backups = ProfileCheck(name: "backups and WAL archiving off the machine", ok: c.backup != nil || c.replication.isReplica,
                                   how: "RED_BACKEND=fs|s3|http with its settings (a replica's primary backs up)")
        let retention = ProfileCheck(name: "old snapshots are pruned", ok: (c.backup?.keepSnapshots ?? 0) > 0 || c.replication.isReplica,
                                     how: "RED_BACKUP_KEEP_SNAPSHOTS=N")
        let nothingLost = ProfileCheck(name: "a commit is answered only once it is off the machine",
                                       ok: c.commitPolicy.remoteWAL || c.commitPolicy.quorum != nil || c.commitPolicy.replicas > 0,
                                       how: "RED_PRIMARY_COMMIT_POLICY=remote_wal, ack_n=N or quorum")
        let mutualTLS = ProfileCheck(name: "clients present certificates (mutual TLS)", ok: c.surfaceTLS.values.contains { $0.clientCAPath != nil },
                                     how: "--{wire,http,grpc,pg}-tls-client-ca FILE")
        let adminGuard = ProfileCheck(name: "operator routes are guarded", ok: c.adminToken != nil || auth.authRequired,
                                      how: "RED_ADMIN_TOKEN, or users (admin routes then need an admin)")
        let lease = ProfileCheck(name: "one writer per database (writer lease)", ok: c.lease != nil || c.replication.isReplica,
                                 how: "RED_LEASE_REQUIRED=true with a compare-and-swap backend")
        let objectStore = ProfileCheck(name: "backups in an object store", ok: c.backup.map { !($0.backend is FileSystemBackend) } ?? false,
                                       how: "RED_BACKEND=s3 (or minio, r2) or http")
        let autoRestore = ProfileCheck(name: "a new disk restores itself from the backups", ok: c.autoRestore != nil && c.backup != nil,
                                       how: "RED_AUTO_RESTORE on (the default) with a backend")
        let profiles: [(String, String, [ProfileCheck])] = [
            ("simple", "one server for development or a small app: durable commits, nothing else required", [durable]),
            ("production", "a server others depend on: authenticated, encrypted, backed up", [durable, users, tls, backups, retention]),
            ("regulated", "production that loses no answered commit and knows every client",
             [durable, users, tls, backups, retention, nothingLost, mutualTLS, adminGuard]),
            ("cloud", "production on replaceable machines: object-store backups, one writer, self-restoring disks",
             [durable, users, tls, backups, retention, lease, objectStore, autoRestore]),
        ]
        let wanted = profile.trimmingCharacters(in: .whitespaces).lowercased()
        let chosen = wanted.isEmpty ? profiles : profiles.filter { $0.0 == wanted }
        guard !chosen.isEmpty else {
            throw RedError(.invalidArgument, "unknown deployment profile \"\(profile)\": use simple, production, regulated or cloud")
        }
        return .object([("ok", .bool(true)), ("profiles", .array(chosen.map { name, description, checks in
            .object([("checks", .array(checks.map { .object([("check", .string($0.name)), ("how", .string($0.how)), ("ok", .bool($0.ok))]) })),
                     ("description", .string(description)), ("meets", .bool(checks.allSatisfy(\.ok))), ("name", .string(name))])
        }))])
    }
}
