import ArgumentParser
import Foundation
import Logging
import RedDB
import RedReplication
import RedServer

/// `red server`: serve one database file over RedWire, PostgreSQL, HTTP/JSON and gRPC.
///
/// Settings come from, in increasing precedence: defaults, `--config FILE` (JSON),
/// environment variables (`REDDB_PATH`, `REDDB_BIND_ADDR`, `REDDB_PG_BIND_ADDR`, `REDDB_HTTP_BIND_ADDR`,
/// `REDDB_WIRE_BIND_ADDR`, `REDDB_GRPC_BIND_ADDR`, `REDDB_SYNC_MODE`, `REDDB_LOG_LEVEL`,
/// `REDDB_USERS` as `name:password,…`, `REDDB_USERNAME` + `REDDB_PASSWORD`/`REDDB_PASSWORD_FILE`
/// to bootstrap the first stored admin, and the TLS settings below), then flags.
///
/// TLS: `--wire-tls-bind`, `--http-tls-bind` and `--grpc-tls-bind` add listeners of their own
/// (`reds://`, `https://`, `grpcs://`), `--router-tls on` lets the one-port router take TLS
/// connections too, and `--pg-tls on|required` lets PG-wire clients negotiate TLS (on its
/// own listener and the router). Each presents `--<surface>-tls-cert`/
/// `-key` if given, else `--tls-cert`/`--tls-key`, else a self-signed certificate kept next to
/// the database file; `--<surface>-tls-client-ca` turns on mutual TLS. Environment:
/// `REDDB_{WIRE,HTTP,GRPC}_TLS_BIND`, `REDDB_{HTTP,GRPC}_TLS_{CERT,KEY,CLIENT_CA}` (and
/// `…_FILE`, the same paths under upstream's other name), `REDDB_TLS_CERT`, `REDDB_TLS_KEY`,
/// `REDDB_PG_TLS`, `REDDB_ROUTER_TLS`.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Serve a database over RedWire, the PostgreSQL wire protocol, HTTP/JSON and gRPC.",
        discussion: """
            Defaults: ./data.rdb, every surface on one port, 127.0.0.1:5050 (each connection is routed by \
            its first bytes), trust authentication (any user name, no password) until the database has users \
            (POST /auth/bootstrap, red bootstrap, REDDB_USERNAME/REDDB_PASSWORD) or --user is given.
            Give any --pg-bind/--http-bind/--wire-bind/--grpc-bind to run only the listeners you name \
            (add --bind to keep the router too).
            Connect with: psql -h 127.0.0.1 -p 5050   or   curl -d 'SELECT 1' http://127.0.0.1:5050/query   or   red shell red://127.0.0.1:5050
            """)

    @Option(name: [.customShort("d"), .long], help: "Database file.")
    var path: String?

    @Option(help: "PostgreSQL protocol listener of its own, host:port or 'off'.")
    var pgBind: String?

    @Option(help: "HTTP/JSON listener of its own, host:port or 'off'.")
    var httpBind: String?

    @Option(help: "RedWire (binary protocol) listener of its own: host:port, a Unix socket (unix:///path or /path), or 'off'.")
    var wireBind: String?

    @Option(help: "gRPC (reddb.v1.RedDb over HTTP/2) listener of its own, host:port or 'off'.")
    var grpcBind: String?

    @Option(help: "RedWire over TLS (reds://), a listener of its own: host:port or 'off'.")
    var wireTlsBind: String?

    @Option(help: "HTTPS, a listener of its own: host:port or 'off'.")
    var httpTlsBind: String?

    @Option(help: "gRPC over TLS (grpcs://), a listener of its own: host:port or 'off'.")
    var grpcTlsBind: String?

    @Option(help: "The router also accepts TLS (reds://, grpcs://, https://, PostgreSQL direct TLS) on its port, next to plaintext: on or off.")
    var routerTls: String?

    @Option(help: "Router mutual TLS: TLS clients of the router must present a certificate signed by a CA in this PEM file.")
    var routerTlsClientCa: String?

    @Option(help: "PostgreSQL protocol TLS: off (SSLRequest is refused with N), on, or required (plaintext logins refused).")
    var pgTls: String?

    @Option(help: "Certificate chain (PEM) every TLS listener presents unless it has its own. Default: a self-signed one kept next to the database file.")
    var tlsCert: String?

    @Option(help: "Private key (PEM) of --tls-cert.")
    var tlsKey: String?

    @Option(help: "RedWire TLS certificate (PEM), instead of --tls-cert.")
    var wireTlsCert: String?
    @Option(help: "RedWire TLS private key (PEM).")
    var wireTlsKey: String?
    @Option(help: "RedWire mutual TLS: clients must present a certificate signed by a CA in this PEM file.")
    var wireTlsClientCa: String?

    @Option(help: "HTTPS certificate (PEM), instead of --tls-cert.")
    var httpTlsCert: String?
    @Option(help: "HTTPS private key (PEM).")
    var httpTlsKey: String?
    @Option(help: "HTTPS mutual TLS: clients must present a certificate signed by a CA in this PEM file.")
    var httpTlsClientCa: String?

    @Option(help: "gRPC TLS certificate (PEM), instead of --tls-cert.")
    var grpcTlsCert: String?
    @Option(help: "gRPC TLS private key (PEM).")
    var grpcTlsKey: String?
    @Option(help: "gRPC mutual TLS: clients must present a certificate signed by a CA in this PEM file.")
    var grpcTlsClientCa: String?

    @Option(help: "PostgreSQL TLS certificate (PEM), instead of --tls-cert.")
    var pgTlsCert: String?
    @Option(help: "PostgreSQL TLS private key (PEM).")
    var pgTlsKey: String?
    @Option(help: "PostgreSQL mutual TLS: clients must present a certificate signed by a CA in this PEM file.")
    var pgTlsClientCa: String?

    @Option(help: "The one-port router (RedWire, PostgreSQL, HTTP and gRPC, told apart by their first bytes) host:port, or 'off'. Default 127.0.0.1:5050 when no other listener is given.")
    var bind: String?

    @Option(help: "Commit durability: full (fsync before acknowledging), batched or off.")
    var syncMode: String?

    @Option(help: "Page cache size in MiB. Default: a quarter of the memory (of the container's limit when lower), at least 64.")
    var cacheMib: Int?

    @Option(help: "Memory in MiB for the in-memory copies of vector collections' vectors that VECTOR SEARCH compares; 0 turns them off. Default 256.")
    var vectorCacheMib: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Option(name: .customLong("user"), help: "A user as NAME:PASSWORD (repeatable). With users, clients must authenticate.")
    var users: [String] = []

    @Option(help: "PostgreSQL password exchange when users are configured: scram-sha-256 or password (cleartext).")
    var pgAuth: String?

    @Option(name: [.customShort("r"), .long], help: "Replication role: standalone (default), primary (serves replicas) or replica (a read-only copy of --primary-addr).")
    var role: String?

    @Option(help: "The primary a replica follows: host:port or grpc[s]://[user:password@]host:port[?token=…&ca=…] (its gRPC listener or router). Default 127.0.0.1:5050.")
    var primaryAddr: String?

    @Option(help: "Where clients reach this server (host:port), as the replication topology advertises it; a replica tells its primary.")
    var advertiseAddr: String?

    @Option(help: "This server's region in the replication topology (default local).")
    var region: String?

    @Option(help: "Most simultaneous PostgreSQL protocol connections.")
    var maxConnections: Int?

    @Flag(help: "Start read-only: every write is refused (25006) until POST /admin/readonly {\"enabled\": false}. Also RED_READONLY=true.")
    var readOnly = false

    @Option(help: "How long a graceful shutdown lets in-flight requests finish before closing their connections, in ms (default 10000).")
    var shutdownGraceMs: Int?

    @Option(help: "JSON configuration file with any of: path, pg_bind, http_bind, sync_mode, cache_mib, vector_cache_mib, log_level, users {name: password}, pg_auth, max_connections, max_http_body_bytes, shutdown_grace_ms.")
    var config: String?

    /// Prints one line `ready pg=HOST:PORT http=HOST:PORT` on stdout once listening (tests use it with port 0).
    @Flag(help: .hidden)
    var printReady = false

    func run() async throws {
        MemoryTuning.applyForServer(environment: ProcessInfo.processInfo.environment)
        let settings = try ServerSettings.resolve(command: self, environment: ProcessInfo.processInfo.environment)
        let level = settings.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "reddb.server")
        for warning in settings.warnings { logger.warning("\(warning)") }
        if settings.server.commitPolicy.waits {
            logger.info("commits wait for replicas", metadata: ["acknowledgers": "\(settings.server.commitPolicy.acknowledgers)",
                                                               "timeout_ms": "\(settings.server.commitPolicy.timeoutMilliseconds)",
                                                               "fail_on_timeout": "\(settings.server.commitPolicy.failOnTimeout)"])
        }
        let server: RedServer
        do {
            server = try await RedServer.open(path: settings.path, options: settings.databaseOptions,
                                              configuration: settings.server, logger: logger)
        } catch let error as RedError {
            FileHandle.standardError.write(Data("red server: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
        let allBinds = [settings.server.routerBind, settings.server.pgBind, settings.server.httpBind, settings.server.wireBind, settings.server.grpcBind,
                        settings.server.wireTLSBind, settings.server.httpTLSBind, settings.server.grpcTLSBind]
        for bind in allBinds.compactMap({ $0 }) where !bind.isLoopback && !server.requiresAuthentication {
            logger.warning("listening on \(bind) with no users: anyone who can reach it can read and write (bootstrap an admin with POST /auth/bootstrap or REDDB_USERNAME/REDDB_PASSWORD, or use --user NAME:PASSWORD)")
        }
        for surface in settings.server.surfaceTLS.keys.sorted(by: { $0.rawValue < $1.rawValue }) where !settings.server.usesTLS(surface) {
            logger.warning("TLS settings for \(surface.rawValue) are ignored: that surface does not use TLS (see --\(surface == .redwire ? "wire" : surface == .postgres ? "pg" : surface.rawValue)-tls…)")
        }
        let printReady = self.printReady
        try await server.run { addresses in
            let parts = ["router", "pg", "http", "wire", "grpc", "wire-tls", "http-tls", "grpc-tls"].compactMap { name in addresses[name].map { "\(name)=\($0)" } }
            if printReady {
                FileHandle.standardOutput.write(Data(("ready " + parts.joined(separator: " ") + "\n").utf8))
            }
            logger.info("RedDB \(RedDB.version) ready", metadata: ["path": "\(settings.path)", "listeners": "\(parts.joined(separator: " "))",
                                                             "cache_mib": "\(settings.databaseOptions.engine.cacheBytes >> 20)"])
        }
    }
}

/// The server's settings after merging defaults, config file, environment and flags.
struct ServerSettings {
    var path = "./data.rdb"
    var server = ServerConfiguration()
    var databaseOptions = DatabaseOptions()
    var logLevel = Logger.Level.info
    /// Settings that were understood only in part, logged once logging is up.
    var warnings: [String] = []

    static func resolve(command c: ServerCommand, environment env: [String: String]) throws -> ServerSettings {
        var s = ServerSettings()
        var file: [String: JSONValue] = [:]
        if let configPath = c.config {
            guard let data = FileManager.default.contents(atPath: configPath) else {
                throw ValidationError("cannot read config file \(configPath)")
            }
            guard case .object(let members) = try JSONValue.parse(String(decoding: data, as: UTF8.self)) else {
                throw ValidationError("config file \(configPath) must hold a JSON object")
            }
            let known: Set = ["path", "bind", "pg_bind", "http_bind", "wire_bind", "grpc_bind", "sync_mode", "cache_mib", "vector_cache_mib", "log_level", "users", "pg_auth", "max_connections",
                              "max_http_body_bytes", "shutdown_grace_ms", "wire_tls_bind", "http_tls_bind", "grpc_tls_bind", "pg_tls", "tls_cert", "tls_key", "router_tls", "role", "primary_addr"]
            for (key, value) in members {
                guard known.contains(key) else { throw ValidationError("unknown setting \"\(key)\" in \(configPath)") }
                file[key] = value
            }
        }
        func string(_ flag: String?, _ envName: String, _ fileKey: String) -> String? {
            if let flag { return flag }
            if let v = env[envName], !v.isEmpty { return v }
            if case .string(let v)? = file[fileKey] { return v }
            return nil
        }
        func integer(_ flag: Int?, _ fileKey: String) -> Int? {
            if let flag { return flag }
            if case .integer(let v)? = file[fileKey] { return Int(v) }
            return nil
        }
        if let p = string(c.path, "REDDB_PATH", "path") { s.path = p }
        // Surface listeners of their own only when asked for; with none, the router serves every surface on one port.
        var surfaceGiven = false
        func bind(_ flag: String?, _ envName: String, _ fileKey: String) throws -> BindAddress? {
            guard let v = string(flag, envName, fileKey) else { return nil }
            surfaceGiven = true
            return v == "off" ? nil : try parseBind(v)
        }
        func tcp(_ address: BindAddress?, _ flag: String) throws -> BindAddress? {
            guard address?.unixPath == nil else { throw ValidationError("\(flag) takes host:port; only --wire-bind listens on a Unix socket") }
            return address
        }
        s.server.pgBind = try tcp(bind(c.pgBind, "REDDB_PG_BIND_ADDR", "pg_bind"), "--pg-bind")
        s.server.httpBind = try tcp(bind(c.httpBind, "REDDB_HTTP_BIND_ADDR", "http_bind"), "--http-bind")
        s.server.wireBind = try bind(c.wireBind, "REDDB_WIRE_BIND_ADDR", "wire_bind")
        s.server.grpcBind = try tcp(bind(c.grpcBind, "REDDB_GRPC_BIND_ADDR", "grpc_bind"), "--grpc-bind")
        s.server.wireTLSBind = try tcp(bind(c.wireTlsBind, "REDDB_WIRE_TLS_BIND", "wire_tls_bind"), "--wire-tls-bind")
        s.server.httpTLSBind = try tcp(bind(c.httpTlsBind, "REDDB_HTTP_TLS_BIND", "http_tls_bind"), "--http-tls-bind")
        s.server.grpcTLSBind = try tcp(bind(c.grpcTlsBind, "REDDB_GRPC_TLS_BIND", "grpc_tls_bind"), "--grpc-tls-bind")
        if let v = string(c.bind, "REDDB_BIND_ADDR", "bind") {
            s.server.routerBind = v == "off" ? nil : try tcp(parseBind(v), "--bind")
        } else if surfaceGiven {
            s.server.routerBind = nil
        }
        try resolveTLS(c, into: &s.server, string: string)  // after the router: router TLS needs it
        if let v = string(c.syncMode, "REDDB_SYNC_MODE", "sync_mode") {
            guard let mode = SyncMode(rawValue: v) else { throw ValidationError("sync mode must be full, batched or off") }
            s.databaseOptions.engine.syncMode = mode
        }
        if let mib = integer(c.cacheMib, "cache_mib") {
            guard mib >= 1, mib <= 1 << 20 else { throw ValidationError("cache size must be 1 MiB … 1 TiB") }
            s.databaseOptions.engine.cacheBytes = mib << 20
        } else {
            s.databaseOptions.engine.cacheBytes = ServerMemory.defaultCacheBytes()
        }
        if let mib = integer(c.vectorCacheMib, "vector_cache_mib") {
            guard mib >= 0, mib <= 1 << 20 else { throw ValidationError("vector cache size must be 0 … 1,048,576 MiB") }
            s.databaseOptions.engine.vectorCacheBytes = mib << 20
        }
        if let v = string(c.logLevel, "REDDB_LOG_LEVEL", "log_level") {
            guard let level = Logger.Level(rawValue: v) else { throw ValidationError("unknown log level \(v)") }
            s.logLevel = level
        }
        // Spec ops §1.1: the role comes from the flags (and the config file), not the environment.
        let primaryAddr = c.primaryAddr ?? { if case .string(let v)? = file["primary_addr"] { return v } else { return nil } }()
        switch c.role ?? { if case .string(let v)? = file["role"] { return v } else { return nil } }() {
        case nil, "standalone"?:
            guard primaryAddr == nil else { throw ValidationError("--primary-addr needs --role replica") }
            // A standalone server has no replicas to wait for, but may wait for its WAL archive.
            let (policy, warning) = CommitAckWaiter.Policy.from(environment: env)
            if policy.remoteWAL { s.server.commitPolicy = policy }
            if policy.waits { s.warnings.append("RED_PRIMARY_COMMIT_POLICY=\(policy.quorum == nil ? "ack_n" : "quorum") needs --role primary; commits do not wait") }
            if let warning { s.warnings.append(warning) }
        case "primary"?:
            guard primaryAddr == nil else { throw ValidationError("--primary-addr needs --role replica") }
            s.server.replication = .primary
            let (policy, warning) = CommitAckWaiter.Policy.from(environment: env)
            s.server.commitPolicy = policy
            if let warning { s.warnings.append(warning) }
        case "replica"?:
            let address = primaryAddr ?? "127.0.0.1:5050"
            do { _ = try GRPCReplicationSource.Address(address) } catch let error as RedError { throw ValidationError(error.message) }
            s.server.replication = .replica(primaryAddress: address)
        case let other?:
            throw ValidationError("--role must be standalone, primary or replica, not \(other)")
        }
        do {
            s.server.backup = try BackupSettings.fromEnvironment(env)
        } catch let error as RedError {
            throw ValidationError(error.message)
        }
        do {
            s.server.lease = try LeaseKeeper.Settings.fromEnvironment(env)
        } catch let error as RedError {
            throw ValidationError(error.message)
        }
        if s.server.commitPolicy.remoteWAL, s.server.backup == nil {
            s.warnings.append("RED_PRIMARY_COMMIT_POLICY=remote_wal needs a backup backend (RED_BACKEND); commits do not wait")
        }
        if s.server.lease != nil, !(s.server.backup?.backend is any ConditionalBackend) {
            throw ValidationError("RED_LEASE_REQUIRED needs a backend with atomic compare-and-swap: RED_BACKEND=fs, s3, or http with RED_HTTP_CONDITIONAL_WRITES=true")
        }
        let readOnlyVariable = (env["RED_READONLY"] ?? env["REDDB_READONLY"]).map { ["1", "true", "yes", "on"].contains($0.lowercased()) } ?? false
        s.server.readOnly = c.readOnly || readOnlyVariable
        if let token = env["RED_ADMIN_TOKEN"], !token.isEmpty {
            s.server.adminToken = token
        } else if let file = env["RED_ADMIN_TOKEN_FILE"], !file.isEmpty {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("RED_ADMIN_TOKEN_FILE names \(file), which cannot be read") }
            s.server.adminToken = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let token = s.server.adminToken, token.utf8.count < 16 {
            throw ValidationError("RED_ADMIN_TOKEN must be at least 16 characters")
        }
        if let flag = env["RED_AUTO_RESTORE"], ["false", "0", "no", "off"].contains(flag.lowercased()) {
            s.server.autoRestore = nil
        } else {
            do {
                let time = try env["RED_RESTORE_TO_TIMESTAMP"].flatMap(PointInTimeRestore.Target.parseTime)
                let lsn = try env["RED_RESTORE_TO_LSN"].map { text -> UInt64 in
                    guard let n = UInt64(text) else { throw ValidationError("RED_RESTORE_TO_LSN must be a number") }
                    return n
                }
                s.server.autoRestore = PointInTimeRestore.Target(timeMilliseconds: time, lsn: lsn)
            } catch let error as RedError {
                throw ValidationError(error.message)
            }
        }
        if let v = string(c.advertiseAddr, "REDDB_ADVERTISE_ADDR", "advertise_addr") {
            guard v.utf8.count <= 255 else { throw ValidationError("--advertise-addr is limited to 255 bytes") }
            s.server.advertiseAddress = v
        }
        if let v = string(c.region, "REDDB_REGION", "region") {
            guard !v.isEmpty, v.utf8.count <= 64 else { throw ValidationError("--region must be 1 to 64 bytes") }
            s.server.region = v
        }
        if let v = string(c.pgAuth, "REDDB_PG_AUTH", "pg_auth") {
            guard let method = PGPasswordMethod(rawValue: v) else { throw ValidationError("--pg-auth must be scram-sha-256 or password") }
            s.server.pgPasswordMethod = method
        }
        if let n = integer(c.maxConnections, "max_connections") {
            guard n >= 1 else { throw ValidationError("max connections must be at least 1") }
            s.server.maxConnections = n
        }
        if let n = integer(c.shutdownGraceMs, "shutdown_grace_ms") {
            guard (0...3_600_000).contains(n) else { throw ValidationError("--shutdown-grace-ms must be 0 to 3600000") }
            s.server.shutdownGraceMilliseconds = n
        }
        if let n = integer(nil, "max_http_body_bytes") {
            guard n >= 1024 else { throw ValidationError("max_http_body_bytes must be at least 1024") }
            s.server.maxHTTPBodyBytes = n
        }
        if case .object(let members)? = file["users"] {
            for (name, value) in members {
                guard case .string(let password) = value else { throw ValidationError("users.\(name) must be a password string") }
                s.server.users[name] = password
            }
        }
        // Upstream's knobs (spec protocols §1.6.7): when a RedWire bulk stream commits what it holds.
        for (name, apply) in [("REDDB_BULK_STREAM_FLUSH_ROWS", { (n: Int) in s.server.bulkStreamFlushRows = n }),
                              ("REDDB_BULK_STREAM_FLUSH_BYTES", { (n: Int) in s.server.bulkStreamFlushBytes = n })] {
            guard let v = env[name], !v.isEmpty else { continue }
            guard let n = Int(v), n >= 0 else { throw ValidationError("\(name) must be a number ≥ 0 (0 disables that threshold)") }
            apply(n)
        }
        // Ours: whether a bulk stream also commits early (see `ServerConfiguration.bulkStreamEarlyCommit`).
        if let v = env["REDDB_BULK_STREAM_EARLY_COMMIT"], !v.isEmpty {
            let on = ["1", "true", "on", "yes"].contains(v.lowercased())
            guard on || ["0", "false", "off", "no"].contains(v.lowercased()) else {
                throw ValidationError("REDDB_BULK_STREAM_EARLY_COMMIT must be 1 or 0 (on or off)")
            }
            s.server.bulkStreamEarlyCommit = on
        }
        // Upstream's switch (spec protocols §1.6.8): RedWire Prepare and gRPC PrepareQuery answer an error.
        if let v = env["REDDB_DISABLE_PREPARED"], ["1", "true", "on", "yes"].contains(v.lowercased()) {
            s.server.preparedStatementsEnabled = false
        }
        // Spec ops §5.1: the first admin, created at start while the database has no users.
        let bootstrapPassword = try env["REDDB_PASSWORD_FILE"].flatMap { file -> String? in
            guard !file.isEmpty else { return nil }
            do { return try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .newlines) } catch {
                throw ValidationError("REDDB_PASSWORD_FILE: cannot read \(file)")
            }
        } ?? env["REDDB_PASSWORD"]
        if let name = env["REDDB_USERNAME"], !name.isEmpty {
            guard let password = bootstrapPassword, !password.isEmpty else {
                throw ValidationError("REDDB_USERNAME needs REDDB_PASSWORD (or REDDB_PASSWORD_FILE)")
            }
            s.server.bootstrapAdmin = (name, password)
        }
        var userSpecs = c.users
        if userSpecs.isEmpty, let v = env["REDDB_USERS"], !v.isEmpty { userSpecs = v.split(separator: ",").map(String.init) }
        for spec in userSpecs {
            guard let colon = spec.firstIndex(of: ":"), colon != spec.startIndex else {
                throw ValidationError("--user takes NAME:PASSWORD, got \(spec)")
            }
            s.server.users[String(spec[..<colon])] = String(spec[spec.index(after: colon)...])
        }
        return s
    }

    /// The certificates: server-wide, then per surface (a cert needs its key and the other way
    /// round), upstream's environment names included.
    static func resolveTLS(_ c: ServerCommand, into server: inout ServerConfiguration,
                           string: (String?, String, String) -> String?) throws {
        func pair(_ cert: String?, _ key: String?, _ what: String) throws -> TLSIdentity? {
            switch (cert, key) {
            case (nil, nil): return nil
            case (let cert?, let key?): return TLSIdentity(certificatePath: cert, keyPath: key)
            case (nil, _): throw ValidationError("\(what): a TLS key needs its certificate (…-tls-cert)")
            case (_, nil): throw ValidationError("\(what): a TLS certificate needs its key (…-tls-key)")
            }
        }
        server.tlsCertificate = try pair(string(c.tlsCert, "REDDB_TLS_CERT", "tls_cert"), string(c.tlsKey, "REDDB_TLS_KEY", "tls_key"),
                                         "--tls-cert/--tls-key")
        func upstream(_ flag: String?, _ name: String) -> String? {
            string(flag, name, "") ?? string(nil, name + "_FILE", "")
        }
        let surfaces: [(TLSSurface, String?, String?, String?, String)] = [
            (.redwire, c.wireTlsCert, c.wireTlsKey, c.wireTlsClientCa, "REDDB_WIRE_TLS"),
            (.http, c.httpTlsCert, c.httpTlsKey, c.httpTlsClientCa, "REDDB_HTTP_TLS"),
            (.grpc, c.grpcTlsCert, c.grpcTlsKey, c.grpcTlsClientCa, "REDDB_GRPC_TLS"),
            (.postgres, c.pgTlsCert, c.pgTlsKey, c.pgTlsClientCa, "REDDB_PG_TLS"),
            (.router, nil, nil, c.routerTlsClientCa, "REDDB_ROUTER_TLS"),
        ]
        for (surface, cert, key, clientCA, env) in surfaces {
            let settings = SurfaceTLS(certificate: try pair(upstream(cert, env + "_CERT"), upstream(key, env + "_KEY"), "\(surface.rawValue) TLS"),
                                      clientCAPath: upstream(clientCA, env + "_CLIENT_CA"))
            if settings != SurfaceTLS() { server.surfaceTLS[surface] = settings }
        }
        if let v = string(c.routerTls, "REDDB_ROUTER_TLS", "router_tls") {
            guard ["on", "off"].contains(v) else { throw ValidationError("--router-tls must be on or off") }
            server.routerTLS = v == "on"
            if server.routerTLS && server.routerBind == nil {
                throw ValidationError("--router-tls on needs the router: add --bind HOST:PORT (other listeners turn it off)")
            }
        }
        if let v = string(c.pgTls, "REDDB_PG_TLS", "pg_tls") {
            guard let mode = PGTLSMode(rawValue: v) else { throw ValidationError("--pg-tls must be off, on or required") }
            server.pgTLS = mode
        }
    }

    static func parseBind(_ text: String) throws -> BindAddress {
        do {
            return try BindAddress(parsing: text)
        } catch let error as RedError {
            throw ValidationError(error.message)
        }
    }
}
