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

/// The open network connections of every listener.
///
/// Invariants: an id is registered from accept until the connection's task
/// ends; `busy` is true only while a request is being processed. Once
/// `shuttingDown` is set, idle connections are closed at once and busy ones
/// close after their current request (`finishRequest` returns false).
final class ConnectionRegistry: Sendable {
    struct Entry {
        let channel: any Channel
        let secretKey: Int32
        var busy = false
        /// Cancels the statement running right now (PG CancelRequest).
        var cancelRunning: (@Sendable () -> Void)?
        /// Asks the connection to close once idle (HTTP, whose requests this registry does not see).
        var quiesce: (@Sendable () -> Void)?
        /// A PG-wire connection's session activity (`pg_stat_activity`).
        var activity: PGActivity?
    }

    private struct State {
        var entries: [Int32: Entry] = [:]
        var nextID: Int32 = 1
        var shuttingDown = false
    }

    private let state = Mutex(State())

    var count: Int { state.withLock { $0.entries.count } }

    /// Registers a connection; nil when the server is at `limit` connections or shutting down.
    func register(_ channel: any Channel, limit: Int) -> (id: Int32, secretKey: Int32)? {
        state.withLock { s in
            guard !s.shuttingDown, s.entries.count < limit else { return nil }
            while s.entries[s.nextID] != nil || s.nextID <= 0 { s.nextID = s.nextID &+ 1 }
            let id = s.nextID
            s.nextID = s.nextID &+ 1
            let secret = Int32.random(in: Int32.min...Int32.max)
            s.entries[id] = Entry(channel: channel, secretKey: secret)
            return (id, secret)
        }
    }

    func unregister(_ id: Int32) {
        _ = state.withLock { $0.entries.removeValue(forKey: id) }
    }

    /// Marks a request as started; false when the server is shutting down (refuse it).
    func startRequest(_ id: Int32) -> Bool {
        state.withLock { s in
            s.entries[id]?.busy = true
            return !s.shuttingDown
        }
    }

    /// Marks a request as finished; false when the connection must now close (shutdown).
    func finishRequest(_ id: Int32) -> Bool {
        state.withLock { s in
            s.entries[id]?.busy = false
            s.entries[id]?.cancelRunning = nil
            return !s.shuttingDown
        }
    }

    /// Shutdown asks this connection to quiesce instead of closing it outright.
    func setQuiesce(_ id: Int32, _ quiesce: @escaping @Sendable () -> Void) {
        let late = state.withLock { s -> Bool in
            s.entries[id]?.quiesce = quiesce
            return s.shuttingDown
        }
        if late { quiesce() }
    }

    func setCanceller(_ id: Int32, _ cancel: (@Sendable () -> Void)?) {
        state.withLock { $0.entries[id]?.cancelRunning = cancel }
    }

    func setActivity(_ id: Int32, _ activity: PGActivity) {
        state.withLock { $0.entries[id]?.activity = activity }
    }

    /// What `pg_stat_activity` lists: every PG-wire connection's activity, read after the
    /// registry's lock is let go.
    func activities() -> [PGActivity.Row] {
        state.withLock { $0.entries.values.compactMap(\.activity) }.map(\.current)
    }

    /// `pg_cancel_backend` (cancels connection `id`'s running statement) and, with
    /// `terminate`, `pg_terminate_backend` (closes the connection too); false when no PG-wire
    /// connection has that id. `allowed` decides from the target's activity (its user) whether
    /// the caller may (42501 otherwise).
    func signal(_ id: Int32, terminate: Bool, allowed: (PGActivity.Row) -> Bool) throws -> Bool {
        guard let (entry, row) = state.withLock({ s in s.entries[id].flatMap { e in e.activity.map { (e, $0.current) } } }) else { return false }
        guard allowed(row) else {
            throw RedError(.insufficientPrivilege, terminate ? "must be a member of the role whose process is being terminated or member of pg_signal_backend"
                                                             : "must be a member of the role whose query is being canceled or member of pg_signal_backend")
        }
        entry.cancelRunning?()
        if terminate { entry.channel.close(promise: nil) }
        return true
    }

    /// Cancels the running statement of connection `id` if `secretKey` matches (else nothing,
    /// as PostgreSQL does, so a guesser learns nothing).
    func cancel(id: Int32, secretKey: Int32) {
        let cancel = state.withLock { s -> (@Sendable () -> Void)? in
            guard let entry = s.entries[id], entry.secretKey == secretKey else { return nil }
            return entry.cancelRunning
        }
        cancel?()
    }

    /// Stops new requests: closes idle connections now; busy ones close when they finish;
    /// connections that quiesce themselves are asked to.
    func beginShutdown() {
        let (idle, quiescing) = state.withLock { s -> ([any Channel], [@Sendable () -> Void]) in
            s.shuttingDown = true
            let entries = Array(s.entries.values)
            return (entries.filter { !$0.busy && $0.quiesce == nil }.map(\.channel), entries.compactMap(\.quiesce))
        }
        for channel in idle { channel.close(promise: nil) }
        for quiesce in quiescing { quiesce() }
    }

    /// Cancels every running statement and closes every connection (the shutdown grace period is over).
    func closeAll() {
        let all = state.withLock { $0.entries.values.map { ($0.channel, $0.cancelRunning) } }
        for (channel, cancel) in all {
            cancel?()
            channel.close(promise: nil)
        }
    }
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

