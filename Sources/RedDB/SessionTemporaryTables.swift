import RedCore
import RedEngine
import RedQuery

/// The session's side of temporary tables (`TemporaryNamespace`, `TemporaryTables`): every
/// transaction it begins carries its namespace, ON COMMIT actions run before each commit, and
/// DISCARD TEMP drops the tables (DISCARD SEQUENCES, beside it, forgets currval's values). The
/// session's end drops them too (`Session` deinit).
extension Session {
    /// Whether the session has made temporary tables (it may have some): work for it must run
    /// on it, not on a helper session, which cannot see them.
    public var hasTemporaryTables: Bool { temporaryTables.isUsed }

    /// A transaction of this session: its temporary tables are reachable in it.
    func beginTransaction() throws -> Transaction {
        let tx = try database.engine.begin()
        tx.temporaryNamespace = temporaryTables
        return tx
    }

    /// Runs the ON COMMIT actions of the temporary tables in `tx`, which is about to commit.
    func applyOnCommitActions(_ tx: Transaction) throws {
        guard temporaryTables.hasOnCommitActions else { return }
        try executor(tx, []).applyOnCommitActions()
    }

    /// DISCARD SEQUENCES: currval and lastval forget the values nextval gave this session.
    public func discardSequenceValues() { sequenceValues.forget() }

    /// DISCARD TEMP: drops the session's temporary tables now, in the open transaction block
    /// or in a transaction of its own.
    public func discardTemporaryTables() async throws {
        try await asRequest {
            guard temporaryTables.isUsed else { return }
            switch state {
            case .active(let tx):
                _ = try executor(tx, []).dropTemporaryTables()
            case .failed:
                throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
            case .idle:
                let tx = try beginTransaction()
                do {
                    _ = try executor(tx, []).dropTemporaryTables()
                    try await tx.commit()
                } catch {
                    tx.rollback()
                    throw error
                }
            }
        }
    }
}
