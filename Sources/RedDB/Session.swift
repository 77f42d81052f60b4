import RedCore
import RedEngine
import RedQuery
import Synchronization

/// One client's conversation with a database: the surface every protocol
/// (PG-wire, HTTP, RedWire, gRPC, MCP, CLI) drives through `execute`.
///
/// Transaction state machine (PostgreSQL's):
/// - `idle`: each statement runs in its own transaction and commits (autocommit);
///   a serialization failure is retried a few times, since nothing was acknowledged.
/// - `active` after BEGIN: statements share one transaction until COMMIT/ROLLBACK.
/// - `failed` after an error inside BEGIN: every statement but ROLLBACK/COMMIT is
///   refused with 25P02; COMMIT then rolls back (as PostgreSQL does) and says so.
/// - SAVEPOINT names a point inside the transaction; ROLLBACK TO returns to it (also out
///   of `failed`), RELEASE forgets it and the ones after it.
///
/// A session is used by one task at a time (like a connection); calls are serialised.
public final class Session: @unchecked Sendable {
    enum State {
        case idle
        case active(Transaction)
        case failed(Transaction)
    }

    /// Open savepoints of the current transaction, oldest first.
    var savepoints: [(name: String, point: Transaction.Savepoint, constraints: DeferredConstraints.Saved, lockMark: Int, number: UInt64)] = []

    /// The database this session talks to.
    public let database: Database
    /// The session's transaction state, as the statements running under `lock` see it: an
    /// active block whose streamed query failed while its rows were read reads as failed.
    var state: State {
        get {
            if case .active(let tx) = storedState, failedStreamTransaction.load(ordering: .acquiring) == Self.marker(tx) {
                return .failed(tx)
            }
            return storedState
        }
        set {
            storedState = newValue
            if case .failed = newValue { return }
            failedStreamTransaction.store(0, ordering: .releasing)  // a new block (or none): that failure is over
        }
    }
    private var storedState = State.idle
    /// The block whose streamed query threw while its rows were read. Rows are read outside the
    /// session's lock (a multiplexing surface may run the block's next statement meanwhile), so
    /// the stream cannot set `state`; it notes its transaction here instead, and from then on
    /// the block is failed, as PostgreSQL aborts a block on any error: what the query's
    /// functions wrote before the error must not commit.
    /// (An atomic, not a lock: `state` is read several times per statement.) 0: none.
    private let failedStreamTransaction = Atomic<UInt>(0)
    private static func marker(_ tx: Transaction) -> UInt { UInt(bitPattern: ObjectIdentifier(tx)) }
    /// Set by BEGIN … READ ONLY for the transaction it opens.
    var readOnlyTransaction = false
    /// The isolation level of a block opened without one, read at BEGIN (PG-wire reads the
    /// connection's `default_transaction_isolation`). See `IsolationLevel`.
    public var defaultIsolation: @Sendable () -> IsolationLevel = { .readCommitted }
    /// The open block's isolation level.
    var blockIsolation = IsolationLevel.readCommitted
    /// Whether a statement has run in the open block: its snapshot is taken then (so
    /// `SET TRANSACTION ISOLATION LEVEL` must come first, as in PostgreSQL).
    var blockHasRunStatement = false
    /// Streams still open in the block (a multiplexing surface runs statements beside them):
    /// while any is, the snapshot stays put, since a stream's index lookups read the
    /// transaction's current snapshot while its table scans keep the one they began with.
    /// Reset at BEGIN; a stream of an earlier block finishing later may take it below zero.
    let openBlockStreams = Atomic<Int>(0)
    /// The open transaction block's deferred foreign key checks, run at COMMIT.
    var deferredConstraints = DeferredConstraints()
    /// Whether this session may write at all; servers set it from the caller's role.
    public var access = SessionAccess.readWrite
    /// Relations, functions and casts the surface serving this session adds to its SQL (PG-wire
    /// sets PostgreSQL's system catalogs); nil for none.
    public var surfaceCatalog: (any SurfaceCatalog)?
    /// Who is calling and with which role, as ASK's audit rows record them ("" when unknown).
    public var callerName = "", callerRole = ""
    let lock = AsyncMutex()
    /// Stops the statement running on this session (see `cancelRunningStatement`).
    let cancellation = StatementCancellation()
    /// currval/lastval: the values nextval gave this session.
    let sequenceValues = SessionSequenceValues()
    /// `random()` after `setseed`.
    let random = SessionRandom()
    /// The `pg_advisory_lock` locks this session holds, and its statements' attempts at them.
    let locks: SessionLocks
    /// The session's temporary tables, named apart from everyone else's; every transaction the
    /// session begins carries it (`beginTransaction`).
    let temporaryTables: TemporaryNamespace
    private let timeoutMilliseconds = Atomic<Int>(0)

    /// PostgreSQL's `lock_timeout` for this session in milliseconds (0: none), read when a
    /// statement starts waiting for an advisory lock: a wait longer fails with 55P03 "canceling
    /// statement due to lock timeout". PG-wire reads the connection's setting.
    public var lockTimeout: @Sendable () -> Int = { 0 }

    /// The session's time zone (PostgreSQL's `TimeZone`), read as each statement starts: how it
    /// reads and shows instants (`SessionTimeZone`). PG-wire reads the connection's setting.
    public var timeZone: @Sendable () -> SessionTimeZone = { .utc }

    /// The session's search path (PostgreSQL's `search_path`, `$user` replaced by the user),
    /// read as each statement starts: the schemas unqualified names are looked up in
    /// (`applySearchPath`). Nil is `public` alone; PG-wire reads the connection's setting.
    public var searchPath: @Sendable () -> [String]? = { nil }
    /// The last path `applySearchPath` resolved, at a definitions version, and what it became.
    let lastSearchPath = Mutex<(version: UInt64, path: [String], effective: [String]?)?>(nil)

    /// The variables of the DO block whose statement is running (`PLpgSQLRun`), and how many
    /// DO blocks are running one inside another.
    var routineVariables: RoutineVariables?
    var doNesting = 0

    /// Retries of an autocommit statement that lost a write conflict.
    static let autocommitAttempts = 8

    init(database: Database, number: UInt64, processID: Int32) {
        self.database = database
        self.locks = SessionLocks(table: database.locks, ownerID: number, processID: processID)
        self.temporaryTables = TemporaryNamespace(sessions: database.temporarySessions, session: number)
    }

    /// A session holds its advisory locks and its temporary tables until it ends: the
    /// connection closing drops the tables (in a transaction of their own, after the session
    /// is gone), then lets the locks go — so once another session gets one of those locks, the
    /// tables are gone too.
    deinit {
        guard temporaryTables.isUsed else { return locks.sessionEnded() }
        let database = self.database, namespace = temporaryTables, locks = self.locks
        Task {
            await database.dropTemporaryTables(of: namespace)
            locks.sessionEnded()
        }
    }

    /// The id `pg_backend_pid()` returns and `pg_locks` shows for this session; PG-wire sets it
    /// to the process id its BackendKeyData announced, so cancel requests and `pg_locks` agree.
    public var processID: Int32 {
        get { locks.processID }
        set { locks.processID = newValue }
    }

    /// Cancels the statement this session is running, or the one about to start, with 57014,
    /// as cancelling its task would, from any thread. Once the request ends the switch is
    /// re-armed, so a cancel never reaches a later request. Servers use it to run statements
    /// on the request's own task without an extra task per statement.
    public func cancelRunningStatement() { cancellation.cancel() }

    /// PostgreSQL's `statement_timeout` for this session, in milliseconds (0: none). A request
    /// (one `execute`, or a stream until it is closed) running longer fails with 57014
    /// "canceling statement due to statement timeout"; an open transaction then fails too.
    public var statementTimeoutMilliseconds: Int {
        get { timeoutMilliseconds.load(ordering: .relaxed) }
        set { timeoutMilliseconds.store(max(0, newValue), ordering: .relaxed) }
    }

    /// Starts the statement timeout of the request about to run (caller holds the lock); the
    /// caller cancels the returned timer when the request ends. Costs nothing with no timeout.
    func armStatementTimeout() -> Task<Void, Never>? {
        let milliseconds = statementTimeoutMilliseconds
        guard milliseconds > 0 else { return nil }
        let cancellation = self.cancellation, epoch = cancellation.epoch
        cancellation.setTimeout(milliseconds: milliseconds)  // read by the statement itself (`StatementCancellation.reason`)
        return Task {
            try? await Task.sleep(for: .milliseconds(milliseconds))
            if !Task.isCancelled { cancellation.cancelIfStill(epoch, reason: .statementTimeout) }
        }
    }

    /// How many transaction blocks (explicit, or a surface's implicit ones) have committed on
    /// this session: a surface keeping state per transaction (PG-wire's settings) tells from it
    /// whether the block that just ended committed or rolled back.
    public internal(set) var committedBlocks: UInt64 = 0

    /// How many transaction blocks have begun on this session: with `committedBlocks`, what
    /// tells a surface's per-block state (PG-wire's SQL cursors) which block it belongs to.
    public internal(set) var startedBlocks: UInt64 = 0

    /// How many SAVEPOINTs this session has made; each savepoint is numbered by it.
    public internal(set) var savepointsMade: UInt64 = 0
    /// The last ROLLBACK TO SAVEPOINT: how many there have been, and the number of the
    /// savepoint it returned to. A surface closes what it opened in the block after that
    /// savepoint was made (PG-wire's SQL cursors), as PostgreSQL does.
    public internal(set) var lastRollbackToSavepoint: (count: UInt64, savepoint: UInt64) = (0, 0)

    /// True between BEGIN and COMMIT/ROLLBACK.
    public var inTransaction: Bool {
        if case .idle = state { return false }
        return true
    }

    /// True when an error has aborted the open transaction (only ROLLBACK is accepted).
    public var transactionFailed: Bool {
        if case .failed = state { return true }
        return false
    }

    /// Runs every statement of `sql` in order and returns the last result.
    ///
    /// ```swift
    /// let r = try await session.execute("SELECT name FROM users WHERE id = $1", parameters: [.integer(7)])
    /// ```
    @discardableResult
    public func execute(_ sql: String, parameters: [Value] = []) async throws -> QueryResult {
        let results = try await executeAll(sql, parameters: parameters)
        return results.last ?? QueryResult(columns: [], rows: [], statementType: "empty", commandTag: "")
    }

    /// Runs every statement of `sql` and returns one result per statement.
    public func executeAll(_ sql: String, parameters: [Value] = []) async throws -> [QueryResult] {
        try await asRequest { try await runAll(sql, parameters: parameters) }
    }

    /// One request on this session: holds its lock, runs under its statement timeout, and
    /// re-arms its cancel switch afterwards so a late cancel never reaches the next request.
    func asRequest<T>(_ body: () async throws -> T) async throws -> T {
        await lock.lock()
        let timer = armStatementTimeout()
        defer {
            timer?.cancel()
            cancellation.reset()
            lock.unlock()
        }
        return try await body()
    }

    private func runAll(_ sql: String, parameters: [Value]) async throws -> [QueryResult] {
        let (statements, plans) = try parseWithPlans(sql)
        var results: [QueryResult] = []
        for (statement, _) in statements {
            results.append(try await run(statement, parameters: parameters, plans: plans))
        }
        return results
    }

    /// The statements of `sql`, from the statement cache; a syntax error aborts an open
    /// transaction, as any error does in PostgreSQL.
    func parse(_ sql: String) throws -> [(Statement, String)] {
        try parseWithPlans(sql).statements
    }

    /// `parse`, with where the text's plan is kept (`StatementCache.statementsAndPlans`).
    func parseWithPlans(_ sql: String) throws -> (statements: [(Statement, String)], plans: PlanMemo?) {
        do {
            let parsed = try database.statementCache.statementsAndPlans(for: sql)
            try refuseHiddenPublicNames(sql)
            return parsed
        } catch {
            abortOpenTransaction()
            throw error
        }
    }

    /// `plans`: where the statement's plan is kept between executions (see `PlanMemo`).
    func run(_ statement: Statement, parameters: [Value], plans: PlanMemo? = nil) async throws -> QueryResult {
        defer { sequenceValues.dropReplay() }  // values a declined attempt left and this run did not use
        switch statement {
        case .begin(let readOnly, let isolation):
            return try beginBlock(readOnly: readOnly, isolation: isolation)
        case .commit:
            guard case .active(let tx) = state else { return endBlockWithoutCommitting() }
            return try await commitBlock(tx) { try await tx.commit() }
        case .rollback:
            return rollbackBlock()
        case .savepoint(let name):
            switch state {
            case .idle: throw RedError(.transactionClosed, "SAVEPOINT can only be used in transaction blocks")
            case .failed: throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
            case .active(let tx):
                savepointsMade &+= 1
                savepoints.append((name, try tx.savepoint(), deferredConstraints.save(), locks.transactionLockMark, savepointsMade))
                return QueryResult(columns: [], rows: [], statementType: "savepoint", commandTag: "SAVEPOINT", message: "SAVEPOINT \(name)")
            }
        case .releaseSavepoint(let name):
            guard case .active = state else {
                if case .idle = state { throw RedError(.transactionClosed, "RELEASE SAVEPOINT can only be used in transaction blocks") }
                throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
            }
            guard let i = savepoints.lastIndex(where: { $0.name == name }) else {
                if case .active(let tx) = state { state = .failed(tx) }  // an error aborts the block, as in PostgreSQL
                throw RedError(.invalidSavepoint, "savepoint \"\(name)\" does not exist")
            }
            savepoints.removeSubrange(i...)
            return QueryResult(columns: [], rows: [], statementType: "release", commandTag: "RELEASE", message: "RELEASE \(name)")
        case .rollbackToSavepoint(let name):
            let tx: Transaction
            switch state {
            case .idle: throw RedError(.transactionClosed, "ROLLBACK TO SAVEPOINT can only be used in transaction blocks")
            case .active(let t), .failed(let t): tx = t
            }
            guard let i = savepoints.lastIndex(where: { $0.name == name }) else {
                state = .failed(tx)
                throw RedError(.invalidSavepoint, "savepoint \"\(name)\" does not exist")
            }
            try tx.rollback(to: savepoints[i].point)
            deferredConstraints.restore(savepoints[i].constraints)  // SET CONSTRAINTS, and the checks as they were
            locks.rollbackTransactionLocks(to: savepoints[i].lockMark)  // and gives back the xact locks taken since
            lastRollbackToSavepoint = (lastRollbackToSavepoint.count &+ 1, savepoints[i].number)
            savepoints.removeSubrange((i + 1)...)
            state = .active(tx)
            return QueryResult(columns: [], rows: [], statementType: "rollback", commandTag: "ROLLBACK", message: "ROLLBACK TO SAVEPOINT \(name)")
        case .doBlock(let block):
            return try await runDoBlock(block)  // each statement inside is checked as it runs
        case .checkpoint:
            return try await runCheckpoint()
        default:
            break
        }
        if access != .readWrite, !StatementExecutor.isReadOnly(statement) {
            if case .active(let tx) = state { state = .failed(tx) }
            if let refusal = access.writeRefusal(StatementExecutor.verb(of: statement)) { throw refusal }
        }
        if case .ask(let ask) = statement {
            if case .failed = state {
                throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
            }
            return try await runAsk(ask, parameters: parameters)
        }
        switch state {
        case .failed:
            throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
        case .active(let tx):
            if case .reindex(_, _, let form?) = statement {
                state = .failed(tx)
                throw RedError(.activeSQLTransaction, "\(form) cannot run inside a transaction block")
            }
            if case .createIndex(_, _, _, _, _, _, _, true, _) = statement {
                state = .failed(tx)
                throw RedError(.activeSQLTransaction, "CREATE INDEX CONCURRENTLY cannot run inside a transaction block")
            }
            if readOnlyTransaction, !StatementExecutor.isReadOnly(statement) {
                state = .failed(tx)
                throw RedError(.readOnlyTransaction, "cannot execute \(StatementExecutor.verb(of: statement)) in a read-only transaction")
            }
            do {
                // A statement that wrote cannot be undone alone (no savepoint is taken per
                // statement), so only one that has written nothing yet may wait for a lock and
                // run again: SELECT … FOR UPDATE, an UPDATE whose rows are locked (it waits
                // before its first write), a lock function called before any write. Under READ
                // COMMITTED each attempt reads a fresh snapshot, and one that met a row changed
                // after its snapshot runs again instead of failing.
                let writesBefore = tx.writeCount
                let result = try await runWaitingForLocks(canRunAgain: { tx.writeCount == writesBefore },
                                                          rerunsOnConflict: blockIsolation == .readCommitted) {
                    if !Self.leavesSnapshotUntaken(statement) { takeStatementSnapshot(tx) }
                    return try await executeEmbedding { try executor(tx, parameters, embeddings: $0, plans: plans).execute(statement) }
                }
                try await settleSequences()
                return result
            } catch {
                state = .failed(tx)
                throw error
            }
        case .idle:
            // Each attempt is a transaction of its own, rolled back before waiting for a lock.
            return try await runWaitingForLocks(canRunAgain: { true }) {
                var attempt = 0
                while true {
                    attempt += 1
                    let tx = try beginTransaction()
                    defer { locks.transactionEnded() }
                    do {
                        let result = try await executeEmbedding { try executor(tx, parameters, embeddings: $0, plans: plans).execute(statement) }
                        try await settleSequences()
                        try applyOnCommitActions(tx)
                        try await tx.commit()
                        return result
                    } catch let error as RedError where error.code == .serializationFailure && attempt < Self.autocommitAttempts {
                        tx.rollback()
                        locks.abandonAttempt()  // the next try claims the session-level locks this one took
                        locks.transactionEnded()  // and rows it locked are free while it backs off
                        sequenceValues.endAttempt(declined: true)  // and its nextval values
                        sequenceValues.recordAttempt()
                        try await Task.sleep(for: .microseconds(Int.random(in: 50...(200 << min(attempt, 6)))))
                    } catch {
                        tx.rollback()
                        throw error
                    }
                }
            }
        }
    }

    /// Most times one statement waits for a lock and runs again.
    static let maxLockWaitsPerStatement = 1_000
    /// Most times a READ COMMITTED statement runs again because a row it locks or writes
    /// changed after its snapshot (each run waits a little longer first).
    static let maxConflictRerunsPerStatement = 100

    /// Runs a statement that may find a lock it needs taken by another session — an advisory
    /// lock, or a row it locks or changes (see `LockTable`): the attempt stops with `LockWait`,
    /// the session waits for the lock — until it is granted, the statement is cancelled or
    /// times out (57014), or the wait would deadlock (40P01) — and `attempt` runs again. Where a
    /// stopped attempt's writes cannot be undone (`canRunAgain` false) the wait is refused with
    /// 55P03 instead.
    /// With `rerunsOnConflict` (READ COMMITTED), an attempt that wrote nothing and failed with
    /// 40001 — a row it locks or changes was changed by a commit its snapshot does not see —
    /// runs again too, after a short pause (the change may be committed but not yet visible).
    /// Warnings of `pg_advisory_unlock` go into the result.
    func runWaitingForLocks(canRunAgain: () -> Bool, rerunsOnConflict: Bool = false,
                            _ attempt: () async throws -> QueryResult) async throws -> QueryResult {
        var waits = 0, reruns = 0
        while true {
            locks.beginStatement()
            // nextval's values in an attempt that runs again go to the next attempt, as its
            // locks do: the client sees one statement (`SessionSequenceValues.recordAttempt`).
            sequenceValues.recordAttempt()
            var runsAgain = false
            defer { sequenceValues.endAttempt(declined: runsAgain) }
            do {
                var result = try await attempt()
                result.warnings += locks.endStatement()
                return result
            } catch let error as RedError where error.code == .serializationFailure && rerunsOnConflict && canRunAgain()
                        && reruns < Self.maxConflictRerunsPerStatement {
                locks.abandonAttempt()  // what it locked is claimed by the next attempt
                runsAgain = true
                reruns += 1
                do {
                    if reruns > 1 { try await Task.sleep(for: .microseconds(Int.random(in: 20...(50 << min(reruns, 8))))) }
                    if cancellation.isCancelled { throw StatementCancellation.error(cancellation.reason) }
                } catch {
                    _ = locks.endStatement()
                    throw error
                }
            } catch let wait as LockWait {
                locks.abandonAttempt()
                runsAgain = true
                waits += 1
                do {
                    guard canRunAgain() else {
                        throw RedError(.lockNotAvailable, "could not obtain \(wait.request.modeName) on \(wait.what) held by another session: inside a transaction block a statement cannot wait for a lock once it has written; take the lock first, in a statement of its own (SELECT … FOR UPDATE, pg_advisory_xact_lock)")
                    }
                    guard waits <= Self.maxLockWaitsPerStatement else {
                        throw RedError(.lockNotAvailable, "could not obtain the statement's locks after \(Self.maxLockWaitsPerStatement) waits")
                    }
                    try await waitForLock(wait)
                } catch {
                    _ = locks.endStatement()
                    throw error
                }
            } catch {
                _ = locks.endStatement()
                throw error
            }
        }
    }

    /// Waits for a lock until it is granted, the statement is cancelled or times out (57014),
    /// or the session's `lockTimeout` passes (55P03).
    private func waitForLock(_ wait: LockWait) async throws {
        let locks = self.locks, milliseconds = lockTimeout(), request = wait.request
        do {
            try await waitForLock(request, locks, milliseconds)
        } catch let error as RedError where error.code == .deadlockDetected {
            throw RedError(.deadlockDetected, "deadlock detected",
                           detail: "Waiting for \(request.modeName) on \(wait.what) would wait for a session that waits for this one.")
        }
    }

    private func waitForLock(_ request: LockRequest, _ locks: SessionLocks, _ milliseconds: Int) async throws {
        try await whileNotCancelled {
            guard milliseconds > 0 else { return try await locks.wait(for: request) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await locks.wait(for: request) }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(milliseconds))
                    throw RedError(.lockNotAvailable, "canceling statement due to lock timeout")
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        }
    }

    /// Sequence values a statement took must be durable before it commits or answers (see
    /// `SequenceRegistry`): almost always already so, and then this returns at once.
    func settleSequences() async throws {
        let registry = database.store.sequences
        if !registry.isSettled { try await registry.settle() }
    }


    /// Plans `sql` without running it and reports its parameter types and result columns
    /// (PostgreSQL's Describe). `sql` must hold at most one statement.
    ///
    /// ```swift
    /// let d = try await session.describe("SELECT name FROM users WHERE id = $1")
    /// // d.parameterTypes == [.integer], d.columns?.map(\.name) == ["name"]
    /// ```
    public func describe(_ sql: String, parameterTypes declared: [DataType?] = []) async throws -> StatementDescription {
        await lock.lock()
        defer { lock.unlock() }
        do {
            return try describeLocked(sql, declared)
        } catch {
            abortOpenTransaction()
            throw error
        }
    }

    /// True inside a transaction opened with READ ONLY (or switched by `setTransactionReadOnly`).
    public var isReadOnlyTransaction: Bool { inTransaction && readOnlyTransaction }

    /// `SET TRANSACTION READ ONLY | READ WRITE`: only inside a transaction block.
    public func setTransactionReadOnly(_ readOnly: Bool) throws {
        guard case .active = state else {
            if case .failed = state {
                throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
            }
            throw RedError(.transactionClosed, "SET TRANSACTION can only be used in transaction blocks")
        }
        readOnlyTransaction = readOnly
    }

    /// Marks an open transaction as failed: surfaces call it when a request fails outside
    /// the engine (a protocol-level error) while a transaction block is open, as PostgreSQL does.
    public func abortOpenTransaction() {
        if case .active(let tx) = state { state = .failed(tx) }
    }

    func describeLocked(_ sql: String, _ declared: [DataType?]) throws -> StatementDescription {
        let statements = try database.statementCache.statements(for: sql)
        try refuseHiddenPublicNames(sql)
        guard statements.count <= 1 else {
            throw RedError(.syntaxError, "cannot insert multiple commands into a prepared statement")
        }
        let parameterCount = try database.statementCache.parameterCount(for: sql)
        guard let statement = statements.first?.0 else { return StatementDescription(parameterTypes: [], columns: nil) }
        switch statement {
        case .begin, .commit, .rollback, .savepoint, .releaseSavepoint, .rollbackToSavepoint:
            return StatementDescription(parameterTypes: [], columns: nil)
        default: break
        }
        // Inside a transaction the description must see its uncommitted DDL; otherwise a
        // throwaway snapshot serves (nothing is written either way).
        switch state {
        case .failed:
            throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
        case .active(let tx) where blockIsolation == .repeatableRead || tx.hasDefinitionWrites:
            return try executor(tx, []).describe(statement, parameterCount: parameterCount, declaredTypes: declared)
        case .active:
            // READ COMMITTED: the statement will run on a fresh snapshot, so it is described on
            // one (the block's own snapshot may predate a table it names). Nothing is written.
            let fresh = try beginTransaction()
            defer { fresh.rollback() }
            return try executor(fresh, []).describe(statement, parameterCount: parameterCount, declaredTypes: declared)
        case .idle:
            let tx = try beginTransaction()
            defer { tx.rollback() }
            // A snapshot older than the latest definition change is described afresh and not remembered.
            let version = definitionsVersion(seenBy: tx)
            if let version, let kept = database.statementCache.description(for: sql, declared: declared, version: version) {
                return kept
            }
            let description = try executor(tx, []).describe(statement, parameterCount: parameterCount, declaredTypes: declared)
            if let version { database.statementCache.remember(description, for: sql, declared: declared, version: version) }
            return description
        }
    }

    /// Runs a query and returns its rows as a stream instead of collecting them.
    ///
    /// ```swift
    /// for try await row in try await session.stream("SELECT * FROM big_table") { … }
    /// ```
    /// A statement that is not a query (INSERT … RETURNING, DDL, KV commands) runs to completion
    /// first; its rows, if any, are then delivered through the same stream.
    public func stream(_ sql: String, parameters: [Value] = []) async throws -> RowStream {
        if let stream = try await streamQuery(sql, parameters) { return stream }
        return RowStream(result: try await execute(sql, parameters: parameters))
    }

    /// The stream of a query, nil when the statement is not a query.
    private func streamQuery(_ sql: String, _ parameters: [Value]) async throws -> RowStream? {
        await lock.lock()
        defer { lock.unlock() }
        let statements = try database.statementCache.statements(for: sql)
        try refuseHiddenPublicNames(sql)
        guard statements.count == 1 else { throw RedError(.invalidArgument, "stream takes exactly one statement") }
        guard case .query = statements[0].0 else { return nil }
        return try await openStream(statements[0].0, parameters)
    }

    /// Opens the stream of a query; the caller holds the session lock.
    func openStream(_ statement: Statement, _ parameters: [Value]) async throws -> RowStream {
        // The stream's statement gets a fresh cancel switch, re-armed when the stream ends.
        cancellation.reset()
        let cancellation = self.cancellation
        let timer = armStatementTimeout()  // runs until the stream is closed, as PostgreSQL's covers sending rows
        // A stream's rows are made as they are read, after this returns: a lock function that
        // finds its lock taken then cannot stop the statement to wait, so it fails (55P03).
        let locks = self.locks
        locks.beginStatement()
        func rows(_ next: @escaping () throws -> [Value]?) -> () throws -> [Value]? {
            {
                do {
                    return try next()
                } catch let wait as LockWait {
                    throw RedError(.lockNotAvailable, "could not obtain \(wait.request.modeName) on \(wait.what) held by another session: a streamed query cannot wait for it; take the lock in a statement that is not streamed")
                }
            }
        }
        switch state {
        case .failed:
            timer?.cancel()
            throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
        case .active(let tx):
            takeStatementSnapshot(tx)
            do {
                let opened = try await executeEmbedding { try executor(tx, parameters, embeddings: $0).openQuery(statement) }
                let finished = FinishedFlag()
                openBlockStreams.add(1, ordering: .releasing)
                let next = rows(opened.next)
                return RowStream(columns: opened.columns, next: { [self] in
                    do { return try next() } catch {
                        failedStreamTransaction.store(Self.marker(tx), ordering: .releasing)
                        throw error
                    }
                }, finish: { [self] in
                    if finished.setOnce() { openBlockStreams.subtract(1, ordering: .releasing) }
                    _ = locks.endStatement()  // and the session lives until then: its locks with it
                    _ = self
                    timer?.cancel()
                    cancellation.reset()
                })
            } catch {
                _ = locks.endStatement()
                timer?.cancel()
                state = .failed(tx)  // an error aborts the block, as in PostgreSQL
                throw error
            }
        case .idle:
            let tx = try beginTransaction()
            do {
                let opened = try await executeEmbedding { embeddings in
                    var streamed = executor(tx, parameters, embeddings: embeddings)
                    streamed.rollsBack = true  // the stream's transaction ends in a rollback: nothing may write in it
                    return try streamed.openQuery(statement)
                }
                return RowStream(columns: opened.columns, next: rows(opened.next), finish: { [self] in
                    _ = self  // the session lives as long as its stream: its locks with it
                    tx.rollback()
                    locks.transactionEnded()
                    _ = locks.endStatement()
                    timer?.cancel()
                    cancellation.reset()
                })
            } catch {
                tx.rollback()
                locks.transactionEnded()
                _ = locks.endStatement()
                timer?.cancel()
                throw error
            }
        }
    }

    /// The definitions version `tx`'s snapshot sees exactly, when what was made against that
    /// version and shared by every session (a statement's description, its plan) is right for
    /// it; nil when it must be made afresh and not kept.
    ///
    /// Read after `begin`: when the latest definition change is visible to the snapshot, the
    /// snapshot sees the definitions as of `version` exactly (a change bumps the version
    /// before its commit becomes visible). Nil for an older snapshot, for a transaction that
    /// changed a definition itself (uncommitted), and in a session with temporary tables (they
    /// hide permanent tables of the same name).
    ///
    /// `anyPath`: for a plan, which `PlanMemo` keeps per search path; a description is shared by
    /// text alone, so only under the default path.
    func definitionsVersion(seenBy tx: Transaction, anyPath: Bool = false) -> UInt64? {
        guard !temporaryTables.isUsed, !tx.hasDefinitionWrites, anyPath || tx.searchPath == nil else { return nil }
        let definitions = database.engine.definitionState
        return tx.snapshot >= definitions.changeTS ? definitions.version : nil
    }

    /// `plans`: where the statement's plan is kept between executions; passed on only when
    /// `definitionsVersion(seenBy:)` says a kept plan is right for this snapshot.
    func executor(_ tx: Transaction, _ parameters: [Value], embeddings: [EmbeddingKey: [Float]] = [:], plans: PlanMemo? = nil) -> StatementExecutor {
        let now = database.options.clock.nowMicroseconds()  // one reading: NOW() and TTLs agree
        var executor = StatementExecutor(transaction: tx, store: database.store, parameters: parameters, now: CalendarMath.milliseconds(now),
                                         nowMicroseconds: now, limits: database.options.executionLimits, cancellation: cancellation)
        executor.embeddings = embeddings
        applySearchPath(tx)  // before the plan is looked up: a plan is kept per search path (`PlanMemo`)
        if let version = definitionsVersion(seenBy: tx, anyPath: true) {
            executor.definitionsVersion = version
            if let plans { executor.planMemo = (plans, version) }
        }
        if case .active = state { executor.deferredConstraints = deferredConstraints }
        executor.surfaceCatalog = surfaceCatalog
        executor.sessionSequences = sequenceValues
        executor.locks = locks
        executor.random = random
        executor.timeZone = timeZone()
        executor.routineVariables = routineVariables
        if case .active = state { executor.rowLocksPerWrite = SessionLocks.maxRowsLockedPerWrite } else {
            executor.rowLocksPerWrite = SessionLocks.maxRowsLockedPerAutocommitWrite
        }
        if case .active = state { executor.allowsSequenceWrites = access == .readWrite && !readOnlyTransaction } else {
            executor.allowsSequenceWrites = access == .readWrite
        }
        return executor
    }

    /// Runs a query and decodes each row into `T` by column name.
    ///
    /// ```swift
    /// struct User: Decodable { let id: Int; let name: String }
    /// let users: [User] = try await session.query(User.self, "SELECT id, name FROM users")
    /// ```
    public func query<T: Decodable>(_ type: T.Type, _ sql: String, parameters: [Value] = []) async throws -> [T] {
        let result = try await execute(sql, parameters: parameters)
        return try result.rows.map { try T(from: RowDecoder(columns: result.columns.map(\.name), row: $0)) }
    }
}

/// A collection as catalog listings show it.
public struct CollectionInfo: Sendable {
    public var name: String
    public var schema: CollectionSchema
}

/// What a session may do, whoever opened it. Transaction control, reads and searches are
/// always allowed; with `readOnly` every other statement fails with 42501
/// (insufficient_privilege) and aborts an open transaction, as any error does.
public enum SessionAccess: Sendable, Equatable {
    case readWrite
    /// `principal` names the caller in the error (`user "ana" (role read)`).
    case readOnly(principal: String)
    /// The whole server only reads (a replica): writes fail with 25006, as on a PostgreSQL
    /// hot standby; `reason` says where writes go instead. `readOnlyPrincipal` names the caller
    /// when their own role only reads (what a replica still allows writers: `CHECKPOINT`).
    case standby(reason: String, readOnlyPrincipal: String? = nil)

    /// The error a write (`verb`: `INSERT`, `saving embeddings` …) gets under this access; nil
    /// when writes are allowed.
    public func writeRefusal(_ verb: String) -> RedError? {
        switch self {
        case .readWrite: return nil
        case .readOnly(let principal): return RedError(.insufficientPrivilege, "permission denied: \(principal) may only read, not run \(verb)")
        case .standby(let reason, _): return RedError(.readOnlyTransaction, "cannot execute \(verb) in a read-only transaction: \(reason)")
        }
    }
}
