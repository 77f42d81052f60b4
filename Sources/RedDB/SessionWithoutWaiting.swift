import RedCore
import RedEngine
import RedQuery

/// Running a short request on the caller's thread, or not at all.
///
/// A network surface reads requests on an event loop thread. Handing each to Swift's shared
/// pool and its reply back costs two thread wake-ups, more than a point `SELECT` itself, so
/// the surface first offers the request here, on the loop:
/// - it runs only if it is one read-only statement (`SELECT`, `EXPLAIN`, `SHOW`, `KV GET`),
///   one autocommit INSERT, UPDATE or DELETE the log can commit at once
///   (`writeWithoutWaiting`), one inside a transaction block (`writeInBlockWithoutWaiting`),
///   or BEGIN, ROLLBACK or a COMMIT the log can make durable at once
///   (`transactionControlWithoutWaiting`), and no other request of this session is running;
/// - it runs under `NonBlockingExecution`: a page not in the cache, the tree locked by a
///   commit, or the statement's first few thousand rows make it give up;
/// - giving up returns nil with nothing changed (the statement wrote nothing, an open
///   transaction stays as it was), and the surface runs the request as usual with
///   `execute`, from the start.
///
/// Errors other than giving up are the statement's own and are reported as `execute` would
/// (an error inside a transaction block aborts it). No statement timeout is armed: the work
/// is bounded far below any timeout worth setting.
extension Session {
    /// Runs `sql` now if it can finish without waiting; nil when it cannot (see the type's comment).
    public func executeWithoutWaiting(_ sql: String, parameters: [Value] = []) throws -> QueryResult? {
        guard lock.tryLock() else { return nil }
        defer {
            cancellation.reset()
            lock.unlock()
        }
        let (statements, plans) = try parseWithPlans(sql)
        guard statements.count == 1 else { return nil }
        return try runWithoutWaiting(statements[0].0, parameters, plans: plans)
    }

    /// Runs a prepared statement now if it can finish without waiting; nil when it cannot.
    public func executeWithoutWaiting(_ prepared: AutoParameterizedStatement, parameters: [Value]) throws -> QueryResult? {
        try Self.checkSlots(prepared, parameters)
        guard lock.tryLock() else { return nil }
        defer {
            cancellation.reset()
            lock.unlock()
        }
        try refuseHiddenPublicNames(prepared.source)
        return try runWithoutWaiting(prepared.statement, parameters, plans: prepared.plans)
    }

    /// Describes `sql` (as `describe`) now if that needs no waiting: planning reads the catalog,
    /// which may mean a page not cached. Nil when it cannot, with nothing changed.
    public func describeWithoutWaiting(_ sql: String, parameterTypes declared: [DataType?] = []) throws -> StatementDescription? {
        guard lock.tryLock() else { return nil }
        defer { lock.unlock() }
        do {
            return try NonBlockingExecution.$isActive.withValue(true) { try describeLocked(sql, declared) }
        } catch is WouldBlock {
            return nil
        } catch {
            abortOpenTransaction()
            throw error
        }
    }

    /// Caller holds the lock.
    private func runWithoutWaiting(_ statement: Statement, _ parameters: [Value], plans: PlanMemo?) throws -> QueryResult? {
        sequenceValues.dropReplay()  // a new request: values kept for an earlier one's run are not its own
        switch statement {
        case .begin, .commit, .rollback: return try transactionControlWithoutWaiting(statement)
        case .checkpoint: return nil  // writes pages and fsyncs: the waiting path runs it
        default: break
        }
        guard StatementExecutor.isReadOnly(statement) else { return try writeWithoutWaiting(statement, parameters, plans: plans) }
        if case .ask = statement { return nil }  // calls out to an AI provider
        func attempt(_ tx: Transaction) throws -> QueryResult {
            do {
                return try NonBlockingExecution.$isActive.withValue(true) { try executor(tx, parameters, plans: plans).execute(statement) }
            } catch is EmbeddingsNeeded {
                throw WouldBlock(reason: .longRunning)  // the texts are embedded on the waiting path
            } catch is LockWait {
                throw WouldBlock(reason: .longRunning)  // and advisory locks waited for there
            }
        }
        locks.beginStatement()
        do {
            var result: QueryResult
            switch state {
            case .failed:
                return nil  // `execute` reports the aborted transaction
            case .active(let tx):
                do {
                    takeStatementSnapshot(tx)
                    result = try attempt(tx)
                } catch {
                    if !(error is WouldBlock) { state = .failed(tx) }
                    throw error
                }
            case .idle:
                // Read-only, so ending the transaction either way is the same; rolling back never waits.
                let tx = try beginTransaction()
                defer {
                    tx.rollback()
                    locks.transactionEnded()
                }
                do {
                    result = try attempt(tx)
                } catch let error as RedError where error.code == .serializationFailure {
                    throw WouldBlock(reason: .longRunning)  // `execute` runs it again on a fresh snapshot
                }
            }
            result.warnings += locks.endStatement()
            return result
        } catch is WouldBlock {
            // What the attempt locked stays reserved for the waiting path's run of the statement.
            locks.abandonAttempt()
            return nil
        } catch {
            _ = locks.endStatement()
            throw error
        }
    }

    /// An autocommit INSERT, UPDATE or DELETE run and committed now, durable before it returns
    /// (`Transaction.commitNow`); nil, with nothing committed, when any step would wait.
    ///
    /// Why: on the waiting path the statement runs on the connection's task and its reply
    /// goes back to the event loop, two hand-offs between threads that cost more than the
    /// fsync on a small VM (see `WriteAheadLog.syncNow`). PostgreSQL's backend does it all on
    /// one thread.
    ///
    /// Declined (nil): in a transaction block (`writeInBlockWithoutWaiting` tries those), in a session that may not write or has
    /// temporary tables (their ON COMMIT actions), for any other statement, while the engine
    /// does not invite an inline commit (`invitesCommitNow`: a commit round under way,
    /// concurrent committers to gather, a slow disk), and whenever a step would wait — a page
    /// not cached, a lock held by someone else, texts to embed, a sequence to persist, a write
    /// conflict to retry. The attempt is rolled back, and the waiting path runs the statement
    /// again from the start; the values nextval gave the attempt go to that run
    /// (`SessionSequenceValues.recordAttempt`).
    /// Caller holds the lock.
    private func writeWithoutWaiting(_ statement: Statement, _ parameters: [Value], plans: PlanMemo?) throws -> QueryResult? {
        switch statement {
        case .insert, .update, .delete: break
        default: return nil
        }
        if case .active(let tx) = state { return try writeInBlockWithoutWaiting(tx, statement, parameters, plans: plans) }
        guard case .idle = state, access == .readWrite, !temporaryTables.isUsed, database.engine.invitesCommitNow else { return nil }
        locks.beginStatement()
        let tx = try beginTransaction()
        var committed = false
        var declined = false
        sequenceValues.recordAttempt()
        let rowIDs = RowIDAttempt()
        defer {
            if !committed { tx.rollback() }
            locks.transactionEnded()
            sequenceValues.endAttempt(declined: declined)  // the run again gets its values back
            if declined { database.store.giveBack(rowIDs) }  // and its row ids (after the rollback)
        }
        do {
            var result = try attempt(rowIDs) { try executor(tx, parameters, plans: plans).execute(statement) }
            // Outside the non-blocking scope: past its last check a commit must not stop
            // half-way (a page it reads back from disk is read here, on this thread).
            guard database.store.sequences.isSettled, try tx.commitNow() != nil else { throw WouldBlock(reason: .longRunning) }
            committed = true
            result.warnings += locks.endStatement()
            return result
        } catch let error where Self.declines(error) {
            locks.abandonAttempt()
            declined = true
            return nil
        } catch {
            _ = locks.endStatement()
            throw error
        }
    }

    /// An INSERT, UPDATE or DELETE inside a transaction block, run now (nothing to commit: the
    /// block's COMMIT is the durable point); nil, with the block as it was, when a step would
    /// wait.
    ///
    /// A statement that gives up half-way has written into the block's transaction, so it
    /// runs from a savepoint: giving up returns to it (writes, guarded reads, deferred checks
    /// queued; locks and nextval's values are kept for the run again, as for an autocommit
    /// write). The savepoint shares the transaction's write set, and the first write after it
    /// copies it, so only blocks holding little (`maxBlockBytesWithoutWaiting`) are tried.
    /// Declined also: a read-only block or session, a session with temporary tables.
    /// Caller holds the lock.
    private func writeInBlockWithoutWaiting(_ tx: Transaction, _ statement: Statement, _ parameters: [Value],
                                            plans: PlanMemo?) throws -> QueryResult? {
        guard access == .readWrite, !readOnlyTransaction, !temporaryTables.isUsed,
              tx.heldBytes <= Self.maxBlockBytesWithoutWaiting else { return nil }
        let savepoint = try tx.savepoint()
        let checks = deferredConstraints.mark
        locks.beginStatement()
        sequenceValues.recordAttempt()
        var declined = false
        let rowIDs = RowIDAttempt()
        defer { sequenceValues.endAttempt(declined: declined) }
        do {
            takeStatementSnapshot(tx)
            var result = try attempt(rowIDs) { try executor(tx, parameters, plans: plans).execute(statement) }
            guard database.store.sequences.isSettled else { throw WouldBlock(reason: .longRunning) }  // its reservation is persisted there
            result.warnings += locks.endStatement()
            return result
        } catch let error where Self.declines(error) {
            locks.abandonAttempt()
            deferredConstraints.forgetChecks(queuedAfter: checks)
            declined = true
            try tx.rollback(to: savepoint, restoringReads: true)  // (throws only for a transaction no longer open)
            database.store.giveBack(rowIDs)
            return nil
        } catch {
            _ = locks.endStatement()
            state = .failed(tx)  // an error aborts the block, as on the usual path
            throw error
        }
    }

    /// Runs an attempt's statement refusing to wait, noting the row ids it reserves.
    private func attempt<T>(_ rowIDs: RowIDAttempt, _ body: () throws -> T) throws -> T {
        try TableStore.$rowIDAttempt.withValue(rowIDs) { try NonBlockingExecution.$isActive.withValue(true) { try body() } }
    }

    /// The most a block may hold (writes and guarded reads) for its writes to be tried on the
    /// caller's thread (see `writeInBlockWithoutWaiting`).
    static let maxBlockBytesWithoutWaiting = 64 << 10

    /// Whether an attempt that met `error` gives way to the waiting path, which waits (or, for
    /// a write conflict, retries after backing off) where the attempt could not.
    private static func declines(_ error: Error) -> Bool {
        switch error {
        case is WouldBlock, is EmbeddingsNeeded, is LockWait: return true
        case let error as RedError: return error.code == .serializationFailure
        default: return false
        }
    }
}
