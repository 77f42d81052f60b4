import RedCore
import RedReplication

/// How `red server` is set up: which surfaces listen where, who may connect,
/// and the limits each surface enforces. Defaults bind loopback only.
public struct ServerConfiguration: Sendable {
    /// The one-port router: RedWire, PostgreSQL, HTTP and gRPC on one listener, told apart by
    /// each connection's first bytes (nil = off). The default when no surface listener is set.
    public var routerBind: BindAddress? = BindAddress(host: "127.0.0.1", port: 5050)
    /// PostgreSQL wire protocol listener of its own (nil = off; the router serves it too).
    public var pgBind: BindAddress?
    /// RedWire binary protocol listener of its own (nil = off; the router serves it too).
    public var wireBind: BindAddress?
    /// gRPC listener of its own (`reddb.v1.RedDb` and `grpc.health.v1.Health` over HTTP/2 cleartext; nil = off).
    public var grpcBind: BindAddress?
    /// HTTP/JSON listener of its own, also serving `/metrics` and `/health` (nil = off).
    public var httpBind: BindAddress?
    /// RedWire over TLS (`reds://`), a listener of its own (nil = off).
    public var wireTLSBind: BindAddress?
    /// HTTPS, a listener of its own (nil = off).
    public var httpTLSBind: BindAddress?
    /// gRPC over TLS (`grpcs://`), a listener of its own (nil = off).
    public var grpcTLSBind: BindAddress?
    /// The router also accepts TLS connections (a ClientHello first), on the same port as plaintext ones.
    public var routerTLS = false
    /// How PG-wire (its own listener and the router) answers SSLRequest.
    public var pgTLS: PGTLSMode = .off
    /// The certificate every TLS surface presents unless `surfaceTLS` gives it its own; nil:
    /// a self-signed one kept next to the database file (`SelfSignedCertificate`).
    public var tlsCertificate: TLSIdentity?
    /// Per-surface certificates and client CAs (mutual TLS), overriding `tlsCertificate`.
    public var surfaceTLS: [TLSSurface: SurfaceTLS] = [:]
    /// Admins held in memory (`--user NAME:PASSWORD`), beside the users stored in the
    /// database (`AuthStore`). With neither, every caller is trusted as anonymous.
    public var users: [String: String] = [:]
    /// The first admin to create at start when the database has none yet (`REDDB_USERNAME`
    /// and `REDDB_PASSWORD`); ignored once bootstrap has run.
    public var bootstrapAdmin: (username: String, password: String)?
    /// Standalone, a replication primary, or a read-only replica of one (`--role`).
    public var replication = ReplicationRole.standalone
    /// Start read-only (`--read-only`, `RED_READONLY`): see `ReadOnlyMode`.
    public var readOnly = false
    /// `RED_ADMIN_TOKEN` (or `RED_ADMIN_TOKEN_FILE`): the bearer token `/admin/…` and `/metrics`
    /// take over HTTP (see `HTTPAuthMiddleware`); nil: the usual rules.
    public var adminToken: String?
    /// A primary's commit policy (`RED_PRIMARY_COMMIT_POLICY`, `RED_REPLICATION_ACK_TIMEOUT_MS`,
    /// `RED_COMMIT_FAIL_ON_TIMEOUT`): answer commits at once (`local`) or after N replicas hold them.
    public var commitPolicy = CommitAckWaiter.Policy.local
    /// Where clients reach this server, as the replication topology (gRPC `Topology`, RedWire
    /// HelloAck) shows it; a replica tells its primary. nil: not advertised.
    public var advertiseAddress: String?
    /// This server's region in the topology.
    public var region = "local"
    /// Backups and WAL archiving to a remote backend (`RED_BACKEND` …); nil: none. Ignored on a replica.
    public var backup: BackupSettings?
    /// With a backup backend and no data file at start: restore from it first, as of this
    /// target (`RED_AUTO_RESTORE`, on by default; `RED_RESTORE_TO_TIMESTAMP`, `RED_RESTORE_TO_LSN`).
    public var autoRestore: PointInTimeRestore.Target? = .latest
    /// The writer lease (`RED_LEASE_REQUIRED=true` …): a primary or standalone server writes only
    /// while it holds it. Needs `backup` on a compare-and-swap backend (fs, s3, or http with conditional writes). Also the
    /// holder and TTL a replica's `POST /admin/failover/promote` uses by default.
    public var lease: LeaseKeeper.Settings?
    /// PBKDF2 iterations of new SCRAM verifiers (at least 4,096; the spec's 16,384 by default).
    public var scramIterations = 16_384
    /// How PG-wire asks for a password when users are configured.
    public var pgPasswordMethod: PGPasswordMethod = .scramSHA256
    /// Most simultaneous PG-wire connections; further ones get SQLSTATE 53300.
    public var maxConnections = 1_000
    /// How long shutdown lets in-flight requests finish before closing their connections.
    public var shutdownGraceMilliseconds = 10_000
    /// Largest HTTP request body; larger requests get 413.
    public var maxHTTPBodyBytes = 1 << 20
    /// RedWire Prepare and gRPC PrepareQuery (off with `REDDB_DISABLE_PREPARED=1`).
    public var preparedStatementsEnabled = true
    /// A RedWire bulk stream commits its pending rows once this many are waiting (0: no row threshold).
    public var bulkStreamFlushRows = 50_000
    /// … or once their estimated size reaches this many bytes (0: no byte threshold).
    public var bulkStreamFlushBytes = 8 << 20
    /// … and commits earlier, once it holds an eighth of a threshold while no earlier batch is
    /// committing (`REDDB_BULK_STREAM_EARLY_COMMIT=0` turns this off: batches then end exactly
    /// at the thresholds).
    public var bulkStreamEarlyCommit = true
    /// Most rows `/collections/{c}/scan` returns in one page.
    public static let maxScanPageRows = 1_000
    /// Most events one `/changes` call returns.
    public static let maxChangeEvents = 10_000

    public init() {}

    /// Whether `surface` takes TLS connections in this configuration (a TLS listener of its
    /// own, PG-wire's SSLRequest, or the router's TLS).
    public func usesTLS(_ surface: TLSSurface) -> Bool {
        switch surface {
        case .redwire: wireTLSBind != nil
        case .http: httpTLSBind != nil
        case .grpc: grpcTLSBind != nil
        case .postgres: pgTLS != .off
        case .router: routerTLS && routerBind != nil
        }
    }
}

/// The surfaces that can speak TLS.
public enum TLSSurface: String, Sendable, CaseIterable {
    case redwire, http, grpc, postgres, router
}

/// One surface's TLS settings; anything unset falls back to the server-wide certificate.
public struct SurfaceTLS: Sendable, Equatable {
    /// Its own certificate and key (nil: the server-wide one).
    public var certificate: TLSIdentity?
    /// Clients must present a certificate signed by a CA in this PEM file (mutual TLS).
    public var clientCAPath: String?

    public init(certificate: TLSIdentity? = nil, clientCAPath: String? = nil) {
        self.certificate = certificate
        self.clientCAPath = clientCAPath
    }
}

/// PG-wire password exchange when users are configured.
/// A server's part in replication (spec: replication-mcp-ai-ops §1.1).
public enum ReplicationRole: Sendable, Equatable {
    /// No replicas: the WAL is trimmed at every checkpoint.
    case standalone
    /// Serves `PullWalRecords`, `AckReplicaLsn` and snapshots to replicas.
    case primary
    /// Copies and follows the primary at this address; read-only on every surface.
    case replica(primaryAddress: String)

    public var isReplica: Bool {
        if case .replica = self { return true }
        return false
    }

    public var name: String {
        switch self {
        case .standalone: return "standalone"
        case .primary: return "primary"
        case .replica: return "replica"
        }
    }
}

public enum PGPasswordMethod: String, Sendable, CaseIterable {
    /// SASL SCRAM-SHA-256 (RFC 7677): the password never crosses the wire.
    case scramSHA256 = "scram-sha-256"
    /// AuthenticationCleartextPassword, for old clients; only safe on loopback or under TLS.
    case cleartext = "password"
}

/// A `host:port` to listen on (port 0 asks the OS for a free port; tests use it), or a Unix
/// domain socket path (RedWire only: `--wire-bind unix:///run/red.sock`).
public struct BindAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// A Unix domain socket instead of TCP (`host` and `port` unused).
    public var unixPath: String?

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(unixPath: String) {
        self.init(host: "", port: 0)
        self.unixPath = unixPath
    }

    /// Parses `host:port`, `[v6]:port`, `:port` (loopback), or a Unix socket: `unix:///path` or `/path`.
    public init(parsing text: String) throws {
        if text.hasPrefix("unix://") || text.hasPrefix("/") {
            let path = text.hasPrefix("unix://") ? String(text.dropFirst("unix://".count)) : text
            guard path.hasPrefix("/") else { throw RedError(.invalidArgument, "a Unix socket needs an absolute path: unix:///path, got \(text)") }
            // sockaddr_un holds 108 bytes, the terminating NUL included.
            guard path.utf8.count < 108 else { throw RedError(.invalidArgument, "Unix socket path is longer than 107 bytes: \(path)") }
            self.init(unixPath: path)
            return
        }
        var hostPart: Substring, portPart: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw RedError(.invalidArgument, "expected [host]:port, got \(text)") }
            portPart = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw RedError(.invalidArgument, "expected host:port, got \(text)") }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        if hostPart.isEmpty { hostPart = "127.0.0.1" }
        guard let port = Int(portPart), (0...65_535).contains(port) else {
            throw RedError(.invalidArgument, "invalid port in \(text): expected 0-65535")
        }
        self.init(host: String(hostPart), port: port)
    }

    /// True for addresses only this machine can reach.
    public var isLoopback: Bool {
        unixPath != nil || host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    public var description: String {
        if let unixPath { return "unix://\(unixPath)" }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
