import RedCore
import RedEngine

/// `CHECKPOINT`, as in PostgreSQL: every committed change is written into the database file
/// now, instead of when the WAL's size or the interval next calls for it (`EngineOptions`),
/// and the log behind it is truncated. An operator runs it before copying the file or to
/// shorten the next start's replay.
///
/// PostgreSQL lets superusers and `pg_checkpoint` members run it; here any session whose role
/// may write, on a replica too (whose file is its own, as a standby's restartpoint). It changes no
/// data, so it runs inside a transaction block too (whose uncommitted writes it leaves out),
/// but not in an aborted one.
extension Session {
    func runCheckpoint() async throws -> QueryResult {
        if case .failed = state {
            throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
        }
        switch access {
        case .readOnly(let principal), .standby(_, let principal?):
            if case .active(let tx) = state { state = .failed(tx) }
            throw RedError(.insufficientPrivilege, "permission denied: \(principal) may only read, not run CHECKPOINT")
        case .readWrite, .standby: break
        }
        try await database.engine.checkpoint()
        return QueryResult(columns: [], rows: [], statementType: "checkpoint", commandTag: "CHECKPOINT", message: "CHECKPOINT")
    }
}
