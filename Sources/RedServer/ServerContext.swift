import Logging
import RedCore
import NIOCore
import NIOSSL
import RedDB
import RedWire
import RedReplication
import Synchronization

/// Everything the listeners share: the one database, the configuration, the
/// logger, the metrics, the lifecycle phase and the registry of open
/// connections (for CancelRequest, the connection limit and shutdown).
public final class ServerContext: Sendable {
    public let database: Database
    public let configuration: ServerConfiguration
    public let logger: Logger
    let metrics: ServerMetrics
    let connections = ConnectionRegistry()
    /// PG-wire's LISTEN/NOTIFY: which connection listens to which channel.
    let notifications = PGNotificationHub()
    /// Users, API keys and login sessions, for every surface.
    let auth: AuthStore
    private let phaseState = Mutex(ServerPhase.starting)
    let startedAt = ContinuousClock.now
    let startedAtUnixMilliseconds: Int64
    /// PG-wire's TLS context when `configuration.pgTLS` is on or required (nil: SSLRequest gets `N`).
    let pgTLS: NIOSSLContext?
    /// Replication: the primary's side when `--role primary`, the replica's when `--role replica`.
    let replicationPrimary: ReplicationPrimary?
    let replica: ReplicaFollower?
    /// Backups and WAL archiving (a primary or standalone server with `RED_BACKEND`).
    let backup: BackupService?
    /// The writer lease this server holds (`RED_LEASE_REQUIRED`); nil: not required.
    let leaseKeeper: LeaseKeeper?
    /// The primary a replica follows, parsed once.
    let primaryAddress: GRPCReplicationSource.Address?
    /// Why this server refuses every write (it is a replica), nil when it does not.
    let standbyReason: String?
    /// The operator's read-only switch (`--read-only`, `POST /admin/readonly`).
    public let readOnly: ReadOnlyMode
    /// Set while `POST /admin/restore` runs: a second one (a client retrying after a timeout)
    /// would delete and rebuild the same scratch database under the first.
    let adminRestoreRunning = Atomic<Bool>(false)
    /// Starts the graceful shutdown SIGTERM starts (`POST /admin/shutdown`); set by `Server.run`.
    let shutdownTrigger = Mutex<(@Sendable () async -> Void)?>(nil)

    public init(database: Database, configuration: ServerConfiguration, logger: Logger, pgTLS: NIOSSLContext? = nil,
                leaseKeeper: LeaseKeeper? = nil) throws {
        self.database = database
        self.leaseKeeper = leaseKeeper
        self.pgTLS = pgTLS
        self.configuration = configuration
        self.logger = logger
        self.metrics = ServerMetrics()
        switch configuration.replication {
        case .replica(let address):
            let parsed = try GRPCReplicationSource.Address(address)
            primaryAddress = parsed
            standbyReason = "this server is a replica of \(parsed); send writes to the primary"
        case .standalone, .primary:
            primaryAddress = nil
            standbyReason = nil
        }
        readOnly = try ReadOnlyMode(configured: configuration.readOnly, engine: database.engine, isReplica: configuration.replication.isReplica)
        let auth = try AuthStore(database: database, configuredUsers: configuration.users, iterations: configuration.scramIterations,
                                 readOnlyReason: standbyReason)
        self.auth = auth
        // A replica serves replicas of its own too (cascading): they copy and follow it as they
        // would a primary, and it keeps the log they still need.
        var commitPolicy = configuration.commitPolicy
        commitPolicy.quorum?.primaryRegion = configuration.region  // the primary's own copy counts for its region
        self.replicationPrimary = configuration.replication == .primary || configuration.replication.isReplica
            ? try ReplicationPrimary(database: database, stateFile: database.engine.path + "-replication.json", commitPolicy: commitPolicy) : nil
        if let primaryAddress {
            var replicaLogger = logger
            replicaLogger[metadataKey: "replication"] = "replica"
            replica = try ReplicaFollower(database: database, primaryAddress: primaryAddress.description, logger: replicaLogger,
                                          advertiseAddress: configuration.advertiseAddress, region: configuration.region,
                                          onAuthChange: { [weak auth] in auth?.reload() })
            // An ASK here is audited on the primary (a replica never writes).
            database.askAuditForwarder.withLock {
                $0 = { row in try await GRPCReplicationSource.withConnection(to: primaryAddress) { try await $0.submitAskSideEffects(auditRow: row) } }
            }
        } else {
            replica = nil
        }
        var backupLogger = logger
        backupLogger[metadataKey: "component"] = "backup"
        if let settings = configuration.backup, !configuration.replication.isReplica {
            backup = try BackupService(database: database, settings: settings, logger: backupLogger, commitPolicy: configuration.commitPolicy)
        } else {
            backup = nil
        }
        self.startedAtUnixMilliseconds = SystemClock().nowMilliseconds()
        let metrics = self.metrics
        database.ai.transport.observer.withLock { $0 = { record in metrics.recordAIRequest(record) } }
    }

    /// What a session of `identity` may do: nothing but read on a replica; otherwise its role's share.
    func access(for identity: AuthIdentity) -> SessionAccess {
        RequestCaller.access(standbyReason: standbyReason, identity: identity)
    }

    /// A session for `identity`: a `read` caller's writes fail with 42501, anyone's on a replica with 25006.
    func session(for identity: AuthIdentity) -> Session {
        let session = database.session()
        session.access = access(for: identity)
        session.callerName = identity.username
        session.callerRole = identity.role.rawValue
        return session
    }

    /// A session for the caller of the request the current task serves (`RequestCaller`);
    /// read-only when no caller is bound.
    func callerSession() -> Session {
        let session = database.session()
        session.access = RequestCaller.access(standbyReason: standbyReason, identity: RequestCaller.identity)
        if let identity = RequestCaller.identity {
            session.callerName = identity.username
            session.callerRole = identity.role.rawValue
        }
        return session
    }

    /// The replication topology `identity` may see: a primary's replicas for an authenticated
    /// caller (or anyone, on a server without users); otherwise, and on other servers, this
    /// server alone (spec ops §2.1: denied callers get a primary-only payload, never an error).
    func topology(for identity: AuthIdentity?) -> Topology {
        let address = configuration.advertiseAddress ?? ""
        guard let primary = replicationPrimary, configuration.replication == .primary else {
            return Topology(primaryAddress: address, primaryRegion: configuration.region)
        }
        var topology = primary.topology(primaryAddress: address, region: configuration.region)
        if auth.authRequired, identity?.authenticated != true { topology.replicas = [] }
        return topology
    }

    /// `/replication/status` and gRPC `ReplicationStatus`.
    var replicationStatus: JSONValue {
        var status: JSONValue
        if let replica { status = replica.status }
        else if let replicationPrimary { status = replicationPrimary.status }
        else {
            status = .object([("current_lsn", .integer(Int64(database.engine.durableLSN))), ("ok", .bool(true)), ("replicas", .array([])),
                              ("role", .string("standalone"))])
        }
        if let leaseKeeper, case .object(var members) = status {
            let (state, lease) = leaseKeeper.current
            var leaseJSON: [(String, JSONValue)] = [("state", .string(state.rawValue))]
            if case .object(let fields) = lease.json { leaseJSON += fields }
            members.append(("writer_lease", .object(leaseJSON)))
            status = .object(members)
        }
        return status
    }


    private let listeners = Mutex<[(transport: String, address: BindAddress)]>([])

    /// The listeners that are accepting connections, for `/health`.
    var activeListeners: [(transport: String, address: BindAddress)] { listeners.withLock { $0 } }

    func noteListening(_ transport: String, _ address: BindAddress) {
        listeners.withLock { $0.append((transport, address)) }
    }

    /// Healthy when storage has not failed and the server is ready; `state` is healthy,
    /// degraded (starting or draining) or unhealthy (storage failed), as HTTP `/health` and
    /// gRPC `Health` report it.
    var health: (healthy: Bool, state: String, failure: RedError?) {
        let failure = database.engine.failureReason
        let healthy = failure == nil && phase == .ready
        return (healthy, failure != nil ? "unhealthy" : (healthy ? "healthy" : "degraded"), failure)
    }

    /// Where the server is in its life: starting → ready → draining → stopped.
    public var phase: ServerPhase {
        get { phaseState.withLock { $0 } }
        set { phaseState.withLock { $0 = newValue } }
    }
}

/// Lifecycle phases, as `/health/live` and `/health/ready` report them.
public enum ServerPhase: String, Sendable {
    case starting, ready, draining, stopped
}

extension ServerContext {
    /// Runs a connection's `serve` while it is registered (shutdown and limits see it) and
    /// counted in the connection metrics. Returns false, without running `serve`, when the
    /// server is at `maxConnections` or shutting down: the caller refuses the client its way.
    func serveRegistered(_ channel: any Channel, _ serve: ((id: Int32, secretKey: Int32)) async throws -> Void) async rethrows -> Bool {
        guard let registration = connections.register(channel, limit: configuration.maxConnections) else { return false }
        defer { connections.unregister(registration.id) }
        metrics.connectionsOpened.increment()
        metrics.connectionsActive.increment()
        defer { metrics.connectionsActive.decrement() }
        try await serve(registration)
        return true
    }
}

