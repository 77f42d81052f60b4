import RedCore
import RedEngine
import RedQuery
import Synchronization

/// Which snapshot a transaction block's statements read (`IsolationLevel`): READ COMMITTED a
/// fresh one per statement, REPEATABLE READ one taken at the block's first statement.
extension Session {
    /// SET CONSTRAINTS reads nothing: as in PostgreSQL it may come before SET TRANSACTION
    /// ISOLATION LEVEL, so it does not take the block's snapshot.
    static func leavesSnapshotUntaken(_ statement: Statement) -> Bool {
        if case .setConstraints = statement { return true }
        return false
    }

    /// Before each attempt of a statement in a transaction block: READ COMMITTED reads a fresh
    /// snapshot every time, REPEATABLE READ takes its one snapshot at the block's first
    /// statement (as PostgreSQL does, not at BEGIN).
    func takeStatementSnapshot(_ tx: Transaction) {
        if blockIsolation == .readCommitted || !blockHasRunStatement { refreshUnlessStreaming(tx) }
        blockHasRunStatement = true
    }

    /// Moves the block's snapshot forward, unless one of its streams is still open: a stream's
    /// table scans keep the snapshot they began with, but its index lookups read the
    /// transaction's current one, and the two must agree.
    func refreshUnlessStreaming(_ tx: Transaction) {
        if openBlockStreams.load(ordering: .acquiring) <= 0 { tx.refreshSnapshot() }
    }

    /// The isolation level of the open block, or the one a block would get (`SHOW transaction_isolation`).
    public var isolation: IsolationLevel { inTransaction ? blockIsolation : defaultIsolation() }

    /// `SET TRANSACTION ISOLATION LEVEL …`: only inside a transaction block, before its first
    /// statement (25001 after, as PostgreSQL says).
    public func setTransactionIsolation(_ level: IsolationLevel) throws {
        guard case .active = state else {
            if case .failed = state {
                throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
            }
            throw RedError(.transactionClosed, "SET TRANSACTION can only be used in transaction blocks")
        }
        guard !blockHasRunStatement || level == blockIsolation else {
            throw RedError(.activeSQLTransaction, "SET TRANSACTION ISOLATION LEVEL must be called before any query")
        }
        blockIsolation = level
    }
}

/// Set once: a stream's finish may be called more than once, its count given back once.
final class FinishedFlag: Sendable {
    private let value = Atomic<Bool>(false)
    /// True the first time only.
    func setOnce() -> Bool { !value.exchange(true, ordering: .acquiringAndReleasing) }
}
