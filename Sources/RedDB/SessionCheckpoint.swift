import RedCore
import RedEngine

/// `CHECKPOINT`, as in PostgreSQL: every committed change is written into the database file
/// now, instead of when the WAL's size or the interval next calls for it (`EngineOptions`),
/// and the log behind it is truncated. An operator runs it before copying the file or to
/// shorten the next start's replay.
///
/// PostgreSQL lets superusers and `pg_checkpoint` members run it; here any session that may
/// write, and a replica's (whose file is its own, as a standby's restartpoint). It changes no
/// data, so it runs inside a transaction block too (whose uncommitted writes it leaves out),
/// but not in an aborted one.
extension Session {
    func runCheckpoint() async throws -> QueryResult {
        if case .readOnly = access, let refusal = access.writeRefusal("CHECKPOINT") {
            if case .active(let tx) = state { state = .failed(tx) }
            throw refusal
        }
        if case .failed = state {
            throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
        }
        try await database.engine.checkpoint()
        return QueryResult(columns: [], rows: [], statementType: "checkpoint", commandTag: "CHECKPOINT", message: "CHECKPOINT")
    }
}
