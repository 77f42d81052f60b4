import RedCore
import RedEngine
import RedQuery

/// BEGIN, COMMIT and ROLLBACK of transaction blocks, shared by `run` and the event loop's
/// path (`executeWithoutWaiting`), which answers them without a thread hop: BEGIN and ROLLBACK
/// never wait, and a COMMIT the log can make durable at once (`Transaction.commitNow`) is
/// committed there as an autocommit write is.
extension Session {
    /// BEGIN: opens a block (a notice, and no change, when one is open already).
    func beginBlock(readOnly: Bool, isolation: IsolationLevel?) throws -> QueryResult {
        if inTransaction { return QueryResult(columns: [], rows: [], statementType: "begin", commandTag: "BEGIN", message: "there is already a transaction in progress") }
        state = .active(try beginTransaction())
        startedBlocks &+= 1
        readOnlyTransaction = readOnly
        blockIsolation = isolation ?? defaultIsolation()
        blockHasRunStatement = false
        openBlockStreams.store(0, ordering: .releasing)  // a stream left open by an earlier block no longer counts
        deferredConstraints = DeferredConstraints()
        return QueryResult(columns: [], rows: [], statementType: "begin", commandTag: "BEGIN", message: "BEGIN")
    }

    /// ROLLBACK (a notice when no block is open).
    func rollbackBlock() -> QueryResult {
        switch state {
        case .idle:
            return QueryResult(columns: [], rows: [], statementType: "rollback", commandTag: "ROLLBACK", message: "there is no transaction in progress")
        case .active(let tx), .failed(let tx):
            tx.rollback()
            endBlock()
            return QueryResult(columns: [], rows: [], statementType: "rollback", commandTag: "ROLLBACK", message: "ROLLBACK")
        }
    }

    /// COMMIT with no active block: a notice when none is open; a failed block is rolled back
    /// (reported as ROLLBACK, as PostgreSQL does).
    func endBlockWithoutCommitting() -> QueryResult {
        switch state {
        case .failed(let tx):
            tx.rollback()
            endBlock()
            return QueryResult(columns: [], rows: [], statementType: "rollback", commandTag: "ROLLBACK", message: "the transaction had failed and was rolled back")
        case .idle, .active:
            return QueryResult(columns: [], rows: [], statementType: "commit", commandTag: "COMMIT", message: "there is no transaction in progress")
        }
    }

    /// COMMIT of the active block `tx`: its deferred foreign key checks (a failure rolls the
    /// block back, as in PostgreSQL), its temporary tables' ON COMMIT actions, then `commit`.
    /// Committed or not, the block is over.
    func commitBlock(_ tx: Transaction, _ commit: () async throws -> Void) async throws -> QueryResult {
        try prepareCommit(tx)
        defer { locks.transactionEnded() }
        try await commit()
        committedBlocks &+= 1
        return QueryResult(columns: [], rows: [], statementType: "commit", commandTag: "COMMIT", message: "COMMIT")
    }

    /// The part of a block's COMMIT before the commit itself; the block is over from here on.
    private func prepareCommit(_ tx: Transaction) throws {
        state = .idle
        savepoints = []
        do {
            if !deferredConstraints.isEmpty {
                if blockIsolation == .readCommitted { refreshUnlessStreaming(tx) }
                try executor(tx, []).checkDeferredConstraints(deferredConstraints)
            }
            try applyOnCommitActions(tx)
        } catch {
            tx.rollback()
            locks.transactionEnded()
            throw error
        }
    }

    /// BEGIN, ROLLBACK, or a COMMIT the log can make durable now, run on the caller's thread;
    /// nil (nothing done, the block as it was) for a COMMIT that would wait: deferred checks
    /// or ON COMMIT actions to run, a sequence to persist, a block holding more than
    /// `maxBlockBytesWithoutWaiting`, or an engine that does not invite an inline commit
    /// (`StorageEngine.invitesCommitNow` and `commitNow`: a round under way, concurrent
    /// committers to group, a definition gate closed, replicas to wait for, the tree's lock
    /// held by another). Caller holds the lock.
    func transactionControlWithoutWaiting(_ statement: Statement) throws -> QueryResult? {
        switch statement {
        case .begin(let readOnly, let isolation):
            return try beginBlock(readOnly: readOnly, isolation: isolation)
        case .rollback:
            return rollbackBlock()
        case .commit:
            guard case .active(let tx) = state else { return endBlockWithoutCommitting() }
            // A block holding much (a load inside BEGIN) would make the loop read, apply, log and
            // fsync all of it: the pool commits that.
            guard deferredConstraints.isEmpty, !temporaryTables.hasOnCommitActions, database.store.sequences.isSettled,
                  tx.heldBytes <= Self.maxBlockBytesWithoutWaiting, database.engine.invitesCommitNow else { return nil }
            // Tried before the block ends: a commit that declines leaves the block open, unchanged.
            do {
                guard try tx.commitNow() != nil else { return nil }
            } catch {
                tx.rollback()  // (a no-op unless it failed before committing began)
                endBlock()
                throw error
            }
            endBlock()
            committedBlocks &+= 1
            return QueryResult(columns: [], rows: [], statementType: "commit", commandTag: "COMMIT", message: "COMMIT")
        default:
            return nil
        }
    }

    /// The session's side of a block's end, whatever became of its transaction.
    private func endBlock() {
        state = .idle
        savepoints = []
        locks.transactionEnded()
    }
}
