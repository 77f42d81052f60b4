import Logging
import NIOCore
import NIOSSL
import RedCore
import RedDB

/// One PostgreSQL-protocol connection, from startup to Terminate.
///
/// State machine:
/// 1. **Startup**: SSLRequest → `S` and a TLS handshake when the server has PG TLS on
///    (`--pg-tls on|required`), else `N`; GSSENCRequest → `N`; then wait again. With
///    `required`, a startup that did not negotiate TLS is refused (28000);
///    CancelRequest → cancel that backend's statement and close; StartupMessage
///    → authenticate (trust, or SCRAM-SHA-256 / cleartext when users are
///    configured) → ParameterStatus… BackendKeyData, ReadyForQuery.
/// 2. **Ready**: Query (simple protocol) or Parse/Bind/Describe/Execute/Close/
///    Flush/Sync (extended protocol). After an error in the extended protocol
///    every message up to the next Sync is skipped, as PostgreSQL does.
/// 3. **Copy in**: after `COPY … FROM STDIN`, CopyData until CopyDone/CopyFail.
///
/// Every statement is handed to the one `Session` of this connection (the
/// engine's execution path); this type only translates. Wire-only vocabulary
/// (SET/SHOW of settings, COPY, pg_catalog) lives in `PGWireCommand`.
/// ReadyForQuery reports the session's transaction status: I, T or E.
final class PGConnection {
    typealias Inbound = NIOAsyncChannelInboundStream<PGFrontendMessage>.AsyncIterator
    typealias Outbound = NIOAsyncChannelOutboundWriter<ByteBuffer>

    let context: ServerContext
    let channel: any Channel
    var inbound: Inbound
    let outbound: Outbound
    /// Answers what needs no waiting in the pipeline once `run` opens it (`PGFastLane`).
    let lane: PGFastLane
    /// The lane offered the message `nextMessage` last returned to `answerNow`, which declined.
    var lastMessageDeclinedInPipeline = false
    var writer = PGBackendWriter()
    let session: Session
    var logger: Logger
    let id: Int32
    let secretKey: Int32
    /// What `pg_stat_activity` shows of this connection (`PGActivity`).
    let activity: PGActivity
    /// Whether the request being handled runs a statement (`noteBegin`), so its end is noted.
    var activityBegun = false
    var statements: [String: PGPreparedStatement] = [:]
    var portals: [String: PGPortal] = [:]
    /// SQL cursors (`DECLARE … CURSOR`), by name; they share the portals' namespace.
    var cursors = PGSQLCursors()
    /// Where the server's notifications for this connection go (`PGNotifications`).
    let inbox: PGNotificationInbox
    /// The channels this connection listens to (committed LISTENs).
    var listening: Set<String> = []
    /// LISTEN/UNLISTEN/NOTIFY not yet in effect, and the block they wait for (`settleNotifications`).
    let pendingNotifications = PGPendingNotifications()
    var notificationBlock: (started: UInt64, commits: UInt64)?
    /// Notifications this connection sent itself, for its next ReadyForQuery.
    var ownNotifications: [PGNotification] = []
    var skipUntilSync = false
    /// `plainStatement` of the texts this connection sent lately: drivers send the same few
    /// texts again and again, and splitting and classifying one cost about 2 µs per Parse.
    var plainStatements: [String: String?] = [:]
    /// The connection's run-time settings; its catalog (`PGSystemCatalog`) shares them.
    let settings = PGSessionSettings()
    var user = ""
    /// This connection's login, checked again when the auth store changes: a user deleted (or
    /// the first user bootstrapped, for an anonymous one) ends it.
    var login: LoginCheck?
    /// The connection negotiated TLS (SSLRequest answered `S`).
    var encrypted = false
    /// Bytes of the SSLRequest/GSSENCRequest packets handled so far (8 each): before TLS
    /// starts, the connection must have received exactly these (`PGPlaintextCounter`).
    var negotiationBytes = 0

    /// Flush replies to the socket once this many bytes are pending (large results stream).
    static let flushThresholdBytes = 256 << 10

    init(context: ServerContext, channel: any Channel, inbound: Inbound, outbound: Outbound, lane: PGFastLane, inbox: PGNotificationInbox,
         id: Int32, secretKey: Int32) {
        self.context = context
        self.lane = lane
        self.inbox = inbox
        self.channel = channel
        self.inbound = inbound
        self.outbound = outbound
        self.session = context.database.session()
        // Read-only until authentication says who is connected.
        self.session.access = .readOnly(principal: "an unauthenticated connection")
        self.id = id
        self.session.processID = id  // pg_backend_pid() and pg_locks name the id BackendKeyData announces
        self.secretKey = secretKey
        activity = PGActivity(pid: id, clientAddress: channel.remoteAddress?.ipAddress, clientPort: channel.remoteAddress?.port)
        context.connections.setActivity(id, activity) { [channel, activity] in
            guard activity.claimGoodbye() else { return }  // the connection said it already
            var goodbye = PGBackendWriter()
            goodbye.error(Self.terminated, severity: "FATAL")
            channel.writeAndFlush(goodbye.take()).whenComplete { _ in channel.close(promise: nil) }
        }
        var logger = context.logger
        logger[metadataKey: "pg_backend"] = "\(id)"
        self.logger = logger
    }

    /// Accepts connections for one listener's channel; runs until the peer leaves or shutdown.
    static func serve(_ wrapped: PGChannel, context: ServerContext) async {
        let connection = wrapped.connection
        let channel = connection.channel
        defer { wrapped.lane.close() }
        do {
            // Through the TLS router a client may open with TLS directly (PostgreSQL 17's sslnegotiation=direct).
            let directTLS = (try? await channel.pipeline.handler(type: NIOSSLServerHandler.self).get()) != nil
            try await connection.executeThenClose { inbound, outbound in
                var iterator = inbound.makeAsyncIterator()
                let admitted = await context.serveRegistered(channel) { registration in
                    let handler = PGConnection(context: context, channel: channel, inbound: iterator, outbound: outbound,
                                               lane: wrapped.lane, inbox: wrapped.inbox, id: registration.id, secretKey: registration.secretKey)
                    defer { context.notifications.unlistenAll(registration.id, channels: handler.listening) }
                    handler.encrypted = directTLS
                    // Messages are read on the connection's event loop; see `run` for where they are handled.
                    await withTaskExecutorPreference(EventLoopTaskExecutor(channel.eventLoop)) { await handler.run() }
                }
                if !admitted {
                    // Drain the startup packet so the client reads our answer, then refuse.
                    _ = try? await iterator.next()
                    var writer = PGBackendWriter()
                    writer.error(RedError(.tooManyConnections, "sorry, too many clients already"), severity: "FATAL")
                    try await outbound.write(writer.take())
                }
            }
        } catch {
            context.logger.debug("pg connection ended: \(error)")
        }
    }

    /// Runs on the connection's event loop. Startup (SCRAM's key stretching is costly) and
    /// every message that may wait or run long are handled on Swift's shared pool; a message
    /// that needs no waiting is answered on the loop itself (`answerNow`), sparing the two
    /// thread wake-ups of going to the pool and back: in the pipeline by `PGFastLane` while
    /// this reader is idle, else here.
    func run() async {
        do {
            guard try await withTaskExecutorPreference(globalConcurrentExecutor, operation: { try await startup() }) else { return }
            lane.open(self)
            defer { lane.close() }
            while true {
                guard let message = try await nextMessage() else { return }
                guard context.connections.startRequest(id) else {
                    try await terminateForShutdown()
                    return
                }
                noteBegin(message)
                let keepGoing: Bool
                if try await !credentialStillHolds() {
                    keepGoing = false
                } else if !lastMessageDeclinedInPipeline, let answered = answerNow(message) {
                    if Self.endsReply(message) { try await flush() }
                    keepGoing = answered
                } else {
                    keepGoing = try await withTaskExecutorPreference(globalConcurrentExecutor) { try await handle(message) }
                }
                if activity.terminationRequested {
                    try await sayGoodbye()
                    return
                }
                if mustFlush { try await flush() }
                let stayOpen = context.connections.finishRequest(id)
                noteEnd()
                if !keepGoing { return }
                if !stayOpen {
                    try await terminateForShutdown()
                    return
                }
                lane.readerIdle()  // not on the way out: the lane closes first
            }
        } catch is Terminated {
            logger.debug("pg connection terminated by pg_terminate_backend")
        } catch let error as RedError where error.code == .protocolViolation {
            // Malformed input: say why, then hang up (the stream cannot be resynchronised).
            logger.info("pg protocol violation: \(error.message)")
            writer.error(error, severity: "FATAL")
            try? await flush()
        } catch {
            logger.debug("pg connection closed: \(error)")
        }
    }

    /// The next message from the client. The lane counts it off what it passed on, and
    /// treats the reader as busy until `readerIdle`.
    func nextMessage() async throws -> PGFrontendMessage? {
        let message = try await inbound.next()
        if message != nil { lastMessageDeclinedInPipeline = lane.consumed() }
        return message
    }

    private func terminateForShutdown() async throws {
        guard activity.claimGoodbye() else { return }
        writeShutdownTermination()
        try await outbound.write(writer.take())
    }

    /// The FATAL error that ends a connection on shutdown, into `writer`.
    func writeShutdownTermination() {
        writer.error(Self.terminated, severity: "FATAL")
    }

    /// `pg_terminate_backend` ended this connection: what is pending gives way to the FATAL
    /// goodbye (sent once), and the request unwinds (`Terminated`), as a PostgreSQL backend
    /// leaves in the middle of a statement.
    private func sayGoodbye() async throws {
        _ = writer.take()
        if activity.claimGoodbye() {
            writeShutdownTermination()
            try await outbound.write(writer.take())
        }
        throw Terminated()
    }

    struct Terminated: Error {}

    /// What a connection ended by shutdown or `pg_terminate_backend` is told (57P01).
    static let terminated = RedError(.closed, "terminating connection due to administrator command")

    // MARK: Startup

    /// Runs the startup exchange; false when the connection should close.
    private func startup() async throws -> Bool {
        while true {
            guard let message = try await nextMessage() else { return false }
            switch message {
            case .sslRequest where context.pgTLS != nil && !encrypted:
                negotiationBytes += 8
                try await startTLS(context.pgTLS!)
            case .sslRequest, .gssEncRequest:
                negotiationBytes += 8
                var reply = channel.allocator.buffer(capacity: 1)
                reply.writeInteger(UInt8(ascii: "N"))
                try await outbound.write(reply)
            case .cancelRequest(let processID, let secret):
                context.connections.cancel(id: processID, secretKey: secret)
                return false
            case .startup(let parameters):
                user = parameters["user"] ?? ""
                if context.configuration.pgTLS == .required && !encrypted {
                    writer.error(RedError(.invalidAuthorization, "SSL connection is required (this server runs with --pg-tls required)"),
                                 severity: "FATAL")
                    try await flush()
                    return false
                }
                guard try await authenticate(user: user) else { return false }
                let channel = self.channel
                try await channel.eventLoop.submit {
                    try channel.pipeline.syncOperations.handler(type: PGPlaintextCounter.self).limitBeforeLogin = nil
                }.get()
                if let refused = settings.applyStartup(parameters) {
                    writer.error(refused, severity: "FATAL")
                    try await flush()
                    return false
                }
                session.statementTimeoutMilliseconds = settings.read(\.statementTimeoutMilliseconds)
                let settings = self.settings
                session.lockTimeout = { settings.read(\.lockTimeoutMilliseconds) }
                session.timeZone = { settings.read(\.timeZone) }
                session.searchPath = { settings.read(\.searchPath) }
                session.defaultIsolation = { settings.read(\.defaultIsolation) }
                // Any connection's statement may be cancelled by an admin, by its own user, and by anyone while the server has no users.
                let caller = user, role = session.callerRole
                session.surfaceCatalog = PGSystemCatalog(user: user, settings: settings, locks: context.database.locks,
                                                         isolation: { [weak session = self.session] in session?.isolation },
                                                         notifications: PGNotifyFunction(pending: pendingNotifications, processID: id),
                                                         backends: (context.connections, { role.isEmpty || role == "admin" || $0.user == caller }, activity))
                activity.loggedIn(user: user, applicationName: settings.read { (try? $0.value("application_name")) ?? "" })
                for (name, value) in settings.read({ $0.reportedAtStartup(serverVersion: PGSettings.serverVersion) }) {
                    writer.parameterStatus(name, value)
                }
                writer.backendKeyData(processID: id, secretKey: secretKey)
                writer.readyForQuery(.idle)
                try await flush()
                logger.debug("pg session started", metadata: ["user": "\(user)", "database": "\(parameters["database"] ?? "")"])
                return true
            default:
                throw RedError(.protocolViolation, "expected a startup packet")
            }
        }
    }

    /// Answers SSLRequest with `S` and puts a TLS server session in front of the decoder, in
    /// one event-loop turn: the client sends its ClientHello only after reading `S`, so
    /// every byte after it reaches the TLS handler. The decoder stays in startup mode.
    /// Anything the client sent after its SSLRequest, before `S`, was unencrypted: the
    /// connection is refused (08P01), as PostgreSQL does.
    private func startTLS(_ tls: NIOSSLContext) async throws {
        let channel = self.channel
        let expected = negotiationBytes
        try await channel.eventLoop.submit {
            let counter = try channel.pipeline.syncOperations.handler(type: PGPlaintextCounter.self)
            guard counter.bytes == expected else {
                throw RedError(.protocolViolation, "received unencrypted data after SSL request")
            }
            var reply = channel.allocator.buffer(capacity: 1)
            reply.writeInteger(UInt8(ascii: "S"))
            channel.writeAndFlush(reply, promise: nil)
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
        }.get()
        encrypted = true
    }

    /// Trust while the server has no users; otherwise the configured password exchange
    /// against the user's stored SCRAM verifier. The session then takes the user's role.
    private func authenticate(user: String) async throws -> Bool {
        let auth = context.auth
        let generation = auth.generation.load(ordering: .sequentiallyConsistent)
        guard auth.authRequired else {
            session.access = context.access(for: .anonymous)
            login = LoginCheck(auth: auth, credential: .anonymous, generation: generation)
            writer.authenticationOK()
            return true
        }
        let ok: Bool
        switch context.configuration.pgPasswordMethod {
        case .cleartext: ok = try await authenticateCleartext(user: user, auth: auth)
        case .scramSHA256: ok = try await authenticateSCRAM(user: user, verifier: auth.scramVerifier(for: user))
        }
        if ok, let identity = auth.identity(of: user), let credential = auth.userCredential(user) {
            session.access = context.access(for: identity)
            session.callerName = identity.username
            session.callerRole = identity.role.rawValue
            login = LoginCheck(auth: auth, credential: credential, generation: generation)
            writer.authenticationOK()
            return true
        }
        writer.error(RedError(.invalidPassword, "password authentication failed for user \"\(user)\""), severity: "FATAL")
        try await flush()
        return false
    }

    private func authenticateCleartext(user: String, auth: AuthStore) async throws -> Bool {
        writer.authenticationCleartextPassword()
        try await flush()
        guard case .password(var body)? = try await nextMessage() else { return false }
        let password = try body.readPGString()
        return (try? await auth.checkPassword(username: user, password: password)) != nil
    }

    private func authenticateSCRAM(user: String, verifier: SCRAMVerifier) async throws -> Bool {
        writer.authenticationSASL(mechanisms: [SCRAMServer.mechanism])
        try await flush()
        guard case .password(var initial)? = try await nextMessage() else { return false }
        let mechanism = try initial.readPGString()
        guard mechanism == SCRAMServer.mechanism, let length = initial.readInteger(as: Int32.self), length >= 0,
              let clientFirst = initial.readString(length: Int(length)) else {
            throw RedError(.protocolViolation, "expected a SASLInitialResponse for \(SCRAMServer.mechanism)")
        }
        // An unknown user still runs the whole exchange (with a made-up verifier) and fails at the end.
        var scram = SCRAMServer(verifier: verifier)
        let serverFirst = try scram.receiveClientFirst(clientFirst)
        writer.authenticationSASLContinue(Array(serverFirst.utf8))
        try await flush()
        guard case .password(var response)? = try await nextMessage() else { return false }
        let clientFinal = response.readString(length: response.readableBytes) ?? ""
        guard let serverFinal = try scram.receiveClientFinal(clientFinal) else { return false }
        writer.authenticationSASLFinal(Array(serverFinal.utf8))
        return true
    }

    /// Re-checks the login after the auth store changed (a user deleted, the first admin
    /// bootstrapped); when it no longer holds, FATAL 28000 and the connection closes.
    private func credentialStillHolds() async throws -> Bool {
        guard let login, !login.holds() else { return true }
        writer.error(LoginCheck.revokedError, severity: "FATAL")
        try await flush()
        return false
    }

    // MARK: Dispatch

    /// Handles one message after startup; false on Terminate.
    func handle(_ message: PGFrontendMessage) async throws -> Bool {
        switch message {
        case .query(let sql):
            skipUntilSync = false
            await simpleQuery(sql)
            readyForQuery()
            try await flush()
        case .sync:
            skipUntilSync = false
            portals[""] = nil
            readyForQuery()
            try await flush()
        case .flush:
            try await flush()
        case .terminate:
            return false
        case .parse, .bind, .describe, .execute, .close:
            guard !skipUntilSync else { return true }
            do {
                try await extended(message)
            } catch {
                report(error)
                skipUntilSync = true
            }
        case .copyData, .copyDone, .copyFail:
            break  // stray COPY messages after a failed COPY are ignored, as PostgreSQL does
        case .password:
            throw RedError(.protocolViolation, "unexpected password message after authentication")
        case .unsupported(let tag):
            writer.error(RedError(.featureNotSupported, "unsupported frontend message type '\(PGFrontendDecoder.printable(tag))'"))
            readyForQuery()
            try await flush()
        case .sslRequest, .gssEncRequest, .cancelRequest, .startup:
            throw RedError(.protocolViolation, "startup packet received after startup")
        }
        return true
    }

    /// ReadyForQuery, after what the settings owe: local settings end with the transaction,
    /// and changed reported parameters go out as ParameterStatus (as PostgreSQL reports them
    /// just before ReadyForQuery).
    func readyForQuery() {
        closeCursorsOfEndedBlocks()
        settleNotifications()
        writeOwnNotifications()
        let status = transactionStatus
        let owed = settings.beforeReadyForQuery(idle: status == .idle, commits: session.committedBlocks)
        for (name, value) in owed.reports { writer.parameterStatus(name, value) }
        session.statementTimeoutMilliseconds = owed.statementTimeoutMilliseconds
        writer.readyForQuery(status)
    }

    /// After each statement: local settings end with the transaction, and a statement timeout
    /// `set_config` changed applies from the next statement on.
    func statementEnded() {
        closeCursorsOfEndedBlocks()
        settleNotifications()
        session.statementTimeoutMilliseconds = settings.statementEnded(idle: !session.inTransaction, commits: session.committedBlocks)
    }

    var transactionStatus: PGTransactionStatus {
        session.transactionFailed ? .failed : (session.inTransaction ? .inTransaction : .idle)
    }

    /// Writes an ErrorResponse for any thrown error and counts it.
    func report(_ error: any Error) {
        let red = Self.redError(error)
        session.abortOpenTransaction()
        settings.statementFailed(idle: !session.inTransaction)
        statementFailedForNotifications()
        context.metrics.recordError(surface: "pg", sqlState: red.sqlState)
        switch red.code {
        case .internalError, .ioError, .storageFailed, .dataCorrupted:
            logger.error("statement failed: \(red)")
        default:
            logger.debug("statement failed: \(red)")
        }
        writer.error(red)
    }

    static func redError(_ error: any Error) -> RedError {
        if let red = error as? RedError { return red }
        if error is CancellationError { return RedError(.queryCanceled, "canceling statement due to user request") }
        return RedError(.internalError, "\(error)")
    }

    // MARK: Output

    func flush() async throws {
        if activity.terminationRequested { try await sayGoodbye() }
        guard !writer.isEmpty else { return }
        try await outbound.write(writer.take())
    }

    /// Replies pending past `flushThresholdBytes`: flush before writing more. A property, not an
    /// async method, so a row loop pays no call (and no executor check) per row.
    var mustFlush: Bool { writer.buffer.readableBytes >= Self.flushThresholdBytes }

    /// How `columns` are written as text: intervals in ISO 8601 (`SET intervalstyle = iso_8601`),
    /// instants on the session's clocks. The settings are read once per result, and only when
    /// a column needs them.
    func textStyle(_ columns: [PGColumn]) -> PGTextStyle {
        var style = PGTextStyle()
        if columns.contains(where: { $0.type.oid == PGType.interval.oid && $0.format == .text }) {
            style.intervalsAsISO8601 = (try? settings.read { try $0.value("intervalstyle") })?.lowercased() == "iso_8601"
        }
        if columns.contains(where: { $0.type.oid == PGType.timestamptz.oid && $0.format == .text }) {
            style.timeZone = settings.read(\.timeZone)
        }
        return style
    }

    /// RowDescription (when the statement returns rows), DataRows and CommandComplete.
    func send(_ result: QueryResult, columns described: [PGColumn]?, sendDescription: Bool) async throws {
        if let columns = try beginResult(result, columns: described, sendDescription: sendDescription) {
            let style = textStyle(columns)
            for row in result.rows {
                try writer.dataRow(row, columns, style: style)
                if mustFlush { try await flush() }
            }
        }
        endResult(result)
    }

    /// `send` for a result known to be small (`Session.executeWithoutWaiting`'s): all of it
    /// into `writer`, with no flush and so no suspension.
    func append(_ result: QueryResult, columns described: [PGColumn]?, sendDescription: Bool) throws {
        if let columns = try beginResult(result, columns: described, sendDescription: sendDescription) {
            let style = textStyle(columns)
            for row in result.rows { try writer.dataRow(row, columns, style: style) }
        }
        endResult(result)
    }

    /// The columns `result`'s DataRows are encoded with, RowDescription written first when
    /// asked; nil when the statement returns no rows.
    private func beginResult(_ result: QueryResult, columns described: [PGColumn]?, sendDescription: Bool) throws -> [PGColumn]? {
        guard !result.columns.isEmpty || result.statementType == "select" else { return nil }
        let columns = described ?? result.columns.map { PGColumn(name: $0.name, type: PGType($0), format: .text) }
        guard columns.count == result.columns.count else {
            throw RedError(.internalError, "statement returned \(result.columns.count) columns, described \(columns.count)")
        }
        if sendDescription { try writer.rowDescription(columns) }
        return columns
    }

    private func endResult(_ result: QueryResult) {
        for notice in result.notices { writer.notice(severity: "NOTICE", code: QueryResult.noticeCode(notice), message: notice) }
        for warning in result.warnings { writer.notice(severity: "WARNING", code: "01000", message: warning) }
        if let note = result.transactionWarning {
            writer.notice(severity: "WARNING", code: "25001", message: note)
        }
        writer.commandComplete(result.commandTag)
    }

    // MARK: Execution

    /// Runs one statement on the session, cancellable by a CancelRequest, and counts it.
    func execute(_ sql: String, parameters: [Value]) async throws -> QueryResult {
        let session = self.session
        return try await run { try await session.execute(sql, parameters: parameters) }
    }

    /// Runs one statement where a CancelRequest can stop it, and records its time.
    func run(_ statement: () async throws -> QueryResult) async throws -> QueryResult {
        let session = self.session
        let started = ContinuousClock.now
        // On this task, with no task of its own: a CancelRequest flips the session's switch.
        context.connections.setCanceller(id) { session.cancelRunningStatement() }
        defer { context.connections.setCanceller(id, nil) }
        do {
            let result = try await statement()
            let elapsed = ContinuousClock.now - started
            context.metrics.recordStatement(surface: "pg", kind: result.statementType,
                                            nanoseconds: elapsed.wholeNanoseconds)
            return result
        } catch {
            throw Self.redError(error)
        }
    }

    /// The simple protocol: every statement of the string in order, stopping at the first error.
    /// Several statements outside a transaction run as one implicit transaction, as in PostgreSQL.
    private func simpleQuery(_ sql: String) async {
        let pieces = PGStatementSplitter.split(sql)
        guard !pieces.isEmpty else {
            writer.emptyQueryResponse()
            return
        }
        let implicit = pieces.count > 1 && !session.inTransaction && !pieces.contains(where: PGWireCommand.isTransactionControl)
        do {
            if implicit { try await session.execute("BEGIN") }
            for piece in pieces {
                if let command = try PGWireCommand.recognize(piece) {
                    try await runSimple(command)
                } else {
                    try await send(try await execute(piece, parameters: []), columns: nil, sendDescription: true)
                }
                statementEnded()
            }
            if implicit { try await session.execute("COMMIT") }
        } catch {
            if implicit, session.inTransaction { _ = try? await session.execute("ROLLBACK") }
            report(error)
        }
    }

    /// A wire-level command on the simple protocol (COPY talks to the client itself).
    private func runSimple(_ command: PGWireCommand) async throws {
        switch command {
        case .copyFrom(let copy): try await copyFromClient(copy)
        case .copyTo(let copy): try await copyToClient(copy)
        default: try await send(try await run(command), columns: nil, sendDescription: true)
        }
    }
}

extension QueryResult {
    /// PostgreSQL's WARNING for transaction control that did nothing (BEGIN inside a transaction …).
    var transactionWarning: String? {
        guard ["begin", "commit", "rollback"].contains(statementType), let message, message.hasPrefix("there is") else { return nil }
        return message
    }
}
