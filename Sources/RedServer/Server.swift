import Foundation
import Logging
import RedCore
import RedDB
import RedEngine
import RedReplication
import ServiceLifecycle

/// `red server`: one database served over PG-wire, HTTP, RedWire and gRPC under a
/// `ServiceGroup`.
///
/// Lifecycle: open the database (a second server on the same file fails here
/// with 55006 "database is locked") → start the listeners → phase `ready` once
/// every listener is bound → on SIGINT/SIGTERM: phase `draining`, listeners
/// stop accepting, in-flight requests finish (bounded by
/// `shutdownGraceMilliseconds`) → checkpoint and close the files → `stopped`.
public struct RedServer: Sendable {
    public let context: ServerContext
    public let pg: PGListener?
    public let http: HTTPListener?
    public let redwire: RedWireListener?
    public let grpc: GRPCListener?
    public let router: RouterListener?
    /// The TLS listeners of their own: `reds://`, HTTPS and `grpcs://`.
    public let redwireTLS: RedWireListener?
    public let httpTLS: HTTPListener?
    public let grpcTLS: GRPCListener?

    /// Opens the database at `path` and prepares (does not start) the listeners.
    public static func open(path: String, options: DatabaseOptions, configuration: ServerConfiguration, logger: Logger) async throws -> RedServer {
        let binds = [configuration.routerBind, configuration.pgBind, configuration.httpBind, configuration.wireBind, configuration.grpcBind,
                     configuration.wireTLSBind, configuration.httpTLSBind, configuration.grpcTLSBind]
        for (flag, address) in [("--bind", configuration.routerBind), ("--pg-bind", configuration.pgBind), ("--http-bind", configuration.httpBind),
                                ("--grpc-bind", configuration.grpcBind), ("--wire-tls-bind", configuration.wireTLSBind),
                                ("--http-tls-bind", configuration.httpTLSBind), ("--grpc-tls-bind", configuration.grpcTLSBind)]
        where address?.unixPath != nil {
            throw RedError(.invalidArgument, "\(flag) takes host:port; only --wire-bind listens on a Unix socket")
        }
        guard binds.contains(where: { $0 != nil }) else {
            throw RedError(.invalidArgument, "at least one listener must be enabled (--bind, --pg-bind, --http-bind, --wire-bind, --grpc-bind or a --*-tls-bind)")
        }
        // Certificates are read (and the self-signed one made) before the database opens:
        // a bad file stops the server with its name, not a listener later.
        let tls = try TLSPlan(configuration: configuration, dataPath: path)
        // Checkpoints, vacuum and the TTL sweep run as a service of the group (BackgroundWorkService),
        // so shutdown stops them in order before the database closes.
        var options = options
        options.engine.backgroundWork = false
        if case .replica = configuration.replication {
            options.expirySweepIntervalMilliseconds = 0  // the primary's sweep deletes replicate
        }
        if let backup = configuration.backup, let target = configuration.autoRestore, !configuration.replication.isReplica {
            try await Self.restoreIfMissing(path, from: backup, target: target, logger: logger)
        }
        let database = try await Database.open(path: path, options: options)
        var leaseKeeper: LeaseKeeper?
        if let lease = configuration.lease, let backup = configuration.backup, !configuration.replication.isReplica {
            guard let backend = backup.backend as? any ConditionalBackend else {
                throw RedError(.invalidArgument, "RED_LEASE_REQUIRED needs a backend with atomic compare-and-swap: RED_BACKEND=fs, s3, or http with RED_HTTP_CONDITIONAL_WRITES=true")
            }
            do {
                leaseKeeper = try await LeaseKeeper(store: LeaseStore(backend: backend, prefix: lease.prefix, databaseKey: backup.remoteKey),
                                                    settings: lease, engine: database.engine, logger: logger)
            } catch {
                try? await database.close()
                throw RedError((error as? RedError)?.code ?? .ioError,
                               "cannot acquire the writer lease, so this server may not write: \((error as? RedError)?.message ?? "\(error)")")
            }
        }
        let context = try ServerContext(database: database, configuration: configuration, logger: logger, pgTLS: tls.postgres,
                                        leaseKeeper: leaseKeeper)
        if let replica = context.replica, let primaryAddress = context.primaryAddress, !replica.isBootstrapped {
            try await Self.copyPrimary(replica, from: primaryAddress, logger: logger)
        }
        if let admin = configuration.bootstrapAdmin, context.replica == nil {
            if context.auth.isSealed {
                logger.info("REDDB_USERNAME is set but bootstrap has already run; the stored users are unchanged")
            } else {
                _ = try await context.auth.bootstrap(username: admin.username, password: admin.password,
                                                     caller: configuration.users.keys.first.flatMap { context.auth.identity(of: $0) })
                logger.notice("bootstrapped admin user \(admin.username) from REDDB_USERNAME/REDDB_PASSWORD")
            }
        }
        context.replicationPrimary?.startHoldingCommits()
        context.backup?.startHoldingCommits()
        // The router serves HTTP itself and splices gRPC to its listener: the explicit one, or a loopback one of its own.
        let loopback = BindAddress(host: "127.0.0.1", port: 0)
        let routed = configuration.routerBind != nil
        let http = configuration.httpBind.map { HTTPListener(context: context, address: $0) }
        let grpc = (configuration.grpcBind ?? (routed ? loopback : nil)).map {
            GRPCListener(context: context, address: $0, isInternal: configuration.grpcBind == nil)
        }
        let router = configuration.routerBind.map { address in
            RouterListener(context: context, address: address,
                           grpcTarget: { await grpc?.boundAddress() }, stopGRPC: { grpc?.beginGracefulShutdown() }, tls: tls.router)
        }
        return RedServer(context: context,
                         pg: configuration.pgBind.map { PGListener(context: context, address: $0) },
                         http: http,
                         redwire: configuration.wireBind.map { RedWireListener(context: context, address: $0) },
                         grpc: grpc, router: router,
                         redwireTLS: configuration.wireTLSBind.map { RedWireListener(context: context, address: $0, tls: tls.redwire) },
                         httpTLS: configuration.httpTLSBind.map { HTTPListener(context: context, address: $0, tls: tls.http) },
                         grpcTLS: configuration.grpcTLSBind.map { GRPCListener(context: context, address: $0, tls: tls.grpc) })
    }

    /// A new replica copies its primary before it serves anyone, waiting for the primary as
    /// long as it takes (Ctrl-C stops it); a copy cut short starts again from scratch.
    static func copyPrimary(_ replica: ReplicaFollower, from address: GRPCReplicationSource.Address, logger: Logger) async throws {
        logger.notice("replica: copying the primary at \(address)")
        while true {
            do {
                try await GRPCReplicationSource.withConnection(to: address) { try await replica.bootstrap(from: $0) }
                return
            } catch {
                logger.warning("replica: cannot copy the primary at \(address) yet: \(error)")
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// A database file that does not exist yet is first restored from the backup backend, when
    /// it holds a snapshot (spec ops §7.4 auto-restore); an empty backend starts an empty database.
    static func restoreIfMissing(_ path: String, from backup: BackupSettings, target: PointInTimeRestore.Target, logger: Logger) async throws {
        guard !FileManager.default.fileExists(atPath: path) else { return }
        let wal = StorageEngine.walDirectory(for: path)
        if FileManager.default.fileExists(atPath: wal) {
            throw RedError(.duplicateObject, "\(path) is missing but its log \(wal) is not (a deleted database, or a restore cut short): "
                           + "remove \(wal) to restore from \(backup.backend.description), or put the data file back")
        }
        let points = try await PointInTimeRestore.restorePoints(backend: backup.backend, layout: backup.layout)
        guard !points.isEmpty else {
            logger.info("backup: \(backup.backend.description) holds no snapshot yet; starting an empty database")
            return
        }
        logger.notice("backup: \(path) does not exist; restoring it from \(backup.backend.description)")
        let summary = try await PointInTimeRestore.restore(backend: backup.backend, layout: backup.layout, target: target, destination: path)
        logger.notice("backup: restored snapshot \(summary.snapshotUsed) and \(summary.recordsApplied) commits from \(summary.segmentsReplayed) WAL segments, up to \(summary.recoveredToTime) ms")
    }

    /// True once the server has users (configured or stored): every request must authenticate.
    public var requiresAuthentication: Bool { context.auth.authRequired }

    /// Serves until SIGINT/SIGTERM (or `shutdown` is triggered), then closes the database.
    /// `onReady` runs once every listener is bound, with their addresses.
    public func run(onReady: @escaping @Sendable ([String: BindAddress]) -> Void = { _ in }) async throws {
        let logger = context.logger
        // Shutdown runs in reverse order: listeners first, background work last.
        var services: [any Service] = [BackgroundWorkService(database: context.database)]
        // Released after the last archive, before the database closes.
        if let keeper = context.leaseKeeper { services.append(LeaseRefreshService(keeper: keeper)) }
        // Stopped after the listeners: its last archive holds every commit they answered.
        if let backup = context.backup { services.append(BackupArchiveService(backup: backup)) }
        if let replica = context.replica, let address = context.primaryAddress {
            services.append(ReplicaService(follower: replica, address: address))
        }
        if let http { services.append(http) }
        if let pg { services.append(pg) }
        if let redwire { services.append(redwire) }
        if let grpc { services.append(grpc) }
        for tlsListener in [redwireTLS as (any Service)?, httpTLS, grpcTLS].compactMap({ $0 }) { services.append(tlsListener) }
        // Last in, first out: the router stops accepting before the listeners it splices to.
        if let router { services.append(router) }
        services.append(ReadinessService(server: self, onReady: onReady))
        let group = ServiceGroup(configuration: .init(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        context.shutdownTrigger.withLock { $0 = { await group.triggerGracefulShutdown() } }
        do {
            try await group.run()
        } catch {
            logger.error("server stopped with an error: \(error)")
            try? await context.database.close()
            context.phase = .stopped
            throw error
        }
        logger.info("listeners stopped; checkpointing and closing the database")
        try await context.database.close()
        context.phase = .stopped
        logger.info("server stopped")
    }
}

/// The engine's checkpoints and version cleanup plus the expired-item sweep, stopped on graceful shutdown.
struct BackgroundWorkService: Service {
    let database: Database

    func run() async throws {
        await cancelWhenGracefulShutdown { await database.runBackgroundWork() }
    }
}

/// WAL archiving and scheduled backups until graceful shutdown, then a last archive.
struct BackupArchiveService: Service {
    let backup: BackupService

    func run() async throws {
        await cancelWhenGracefulShutdown { await backup.run() }
        await backup.finish()
    }
}

/// Refreshes the writer lease until graceful shutdown, then releases it.
struct LeaseRefreshService: Service {
    let keeper: LeaseKeeper

    func run() async throws {
        await cancelWhenGracefulShutdown { await keeper.run() }
        await keeper.release()
    }
}

/// A replica following its primary until graceful shutdown.
struct ReplicaService: Service {
    let follower: ReplicaFollower
    let address: GRPCReplicationSource.Address

    func run() async throws {
        let address = self.address
        await cancelWhenGracefulShutdown {
            await follower.run { body in
                try await GRPCReplicationSource.withConnection(to: address) { try await body($0) }
            }
        }
    }
}

/// Waits for every listener to bind, then marks the server ready; on graceful shutdown marks
/// it draining (health probes report it while requests finish).
struct ReadinessService: Service {
    let server: RedServer
    let onReady: @Sendable ([String: BindAddress]) -> Void

    func run() async throws {
        var addresses: [String: BindAddress] = [:]
        var expected = 0
        func wait(_ name: String, _ bound: (() async -> BindAddress?)?) async {
            guard let bound else { return }
            expected += 1
            if let address = await bound() { addresses[name] = address }
        }
        await wait("pg", server.pg?.boundAddress)
        await wait(server.http?.isInternal == true ? "http-internal" : "http", server.http?.boundAddress)
        await wait("wire", server.redwire?.boundAddress)
        await wait(server.grpc?.isInternal == true ? "grpc-internal" : "grpc", server.grpc?.boundAddress)
        await wait("router", server.router?.boundAddress)
        await wait("wire-tls", server.redwireTLS?.boundAddress)
        await wait("http-tls", server.httpTLS?.boundAddress)
        await wait("grpc-tls", server.grpcTLS?.boundAddress)
        guard addresses.count == expected else {
            // A listener failed and is ending the group with its error (a port in use, a socket
            // another server answers on); returning now would end it first, with a vaguer one.
            try? await gracefulShutdown()
            return
        }
        server.context.phase = .ready
        onReady(addresses.filter { !$0.key.hasSuffix("-internal") })
        try? await gracefulShutdown()
        server.context.phase = .draining
    }
}
