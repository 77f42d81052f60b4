import RedCore
import RedEngine
import RedQuery

/// `DO $$ … $$`: running an anonymous PL/pgSQL block on a session.
///
/// Where it runs: inside the open transaction block, or, in autocommit, in a block of its
/// own that commits when the DO ends and rolls back if it fails, as PostgreSQL runs a DO.
/// Its statements run one by one through `run`, exactly as a client's statements inside a
/// block would (locks waited for, read-only and role checks, DDL); `PLpgSQLRun` is the
/// interpreter that decides which run next. A block with EXCEPTION handlers runs its body
/// under a savepoint of its own (`BlockSavepoint`), so a handler sees the block's writes
/// undone and the transaction usable again — PostgreSQL's subtransaction.
extension Session {
    /// How deep DO blocks may run one another (`EXECUTE 'DO …'`).
    static let maxDoNesting = 16

    /// The block's error, carrying what the block raised before it (RAISE NOTICE, its statements'
    /// notices) ahead of what the failing statement raised itself.
    static func raisedBefore(_ run: PLpgSQLRun<SessionStatementRunner>, _ error: any Error) -> any Error {
        guard let error = error as? RedError else { return error }
        let raised = run.result
        return error.raisedAfter(notices: raised.notices, warnings: raised.warnings)
    }

    func runDoBlock(_ block: PLBlock) async throws -> QueryResult {
        guard doNesting < Self.maxDoNesting else {
            throw RedError(.limitExceeded, "DO blocks nest more than \(Self.maxDoNesting) deep")
        }
        doNesting += 1
        let outerVariables = routineVariables
        defer {
            doNesting -= 1
            routineVariables = outerVariables
        }
        switch state {
        case .failed:
            throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
        case .active(let tx):
            var run = PLpgSQLRun(runner: SessionStatementRunner(session: self, canEndTransaction: false))
            do {
                try await run.runOutermost(block)
            } catch {
                // An error the block did not handle aborts the transaction block, as any
                // statement's does (RAISE, STRICT and the like fail no SQL statement themselves).
                if case .active = state { state = .failed(tx) }
                throw Self.raisedBefore(run, error)
            }
            return run.result
        case .idle:
            _ = try beginBlock(readOnly: false, isolation: nil)
            var run = PLpgSQLRun(runner: SessionStatementRunner(session: self, canEndTransaction: true))
            do {
                try await run.runOutermost(block)
            } catch {
                _ = rollbackBlock()
                throw Self.raisedBefore(run, error)
            }
            guard case .active(let tx) = state else {
                _ = rollbackBlock()
                throw RedError(.internalError, "the DO block's transaction ended early")
            }
            _ = try await commitBlock(tx) { try await tx.commit() }
            return run.result
        }
    }

    /// COMMIT or ROLLBACK inside a DO that runs in a transaction of its own: ends that
    /// transaction and begins the next, which the DO goes on in.
    func endDoTransaction(commit: Bool) async throws -> QueryResult {
        guard case .active(let tx) = state else {
            throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
        }
        let result = commit ? try await commitBlock(tx) { try await tx.commit() } : rollbackBlock()
        _ = try beginBlock(readOnly: false, isolation: nil)
        return result
    }

    /// What an EXCEPTION block returns to when its body fails.
    struct BlockSavepoint {
        let transaction: Transaction
        let point: Transaction.Savepoint
        let constraints: DeferredConstraints.Saved
        let lockMark: Int
        let savepointCount: Int
    }

    func blockSavepoint() throws -> BlockSavepoint {
        guard case .active(let tx) = state else {
            throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
        }
        return BlockSavepoint(transaction: tx, point: try tx.savepoint(), constraints: deferredConstraints.save(),
                              lockMark: locks.transactionLockMark, savepointCount: savepoints.count)
    }

    /// Undoes everything since `point` and makes the transaction usable again, as ROLLBACK TO does.
    func rollback(to point: BlockSavepoint) throws {
        try point.transaction.rollback(to: point.point)
        deferredConstraints.restore(point.constraints)
        locks.rollbackTransactionLocks(to: point.lockMark)
        if savepoints.count > point.savepointCount { savepoints.removeSubrange(point.savepointCount...) }
        state = .active(point.transaction)
    }
}

/// A DO block's statements, run on its session as a client's statements inside a transaction
/// block run (`Session.run`): locks are waited for, access and read-only checks apply, and
/// in a DO that began its own transaction COMMIT and ROLLBACK end it and begin the next.
struct SessionStatementRunner: PLStatementRunner {
    let session: Session
    let canEndTransaction: Bool
    var mayYield: Bool { true }

    func parse(_ sql: String) throws -> [(Statement, String)] {
        let statements = try session.database.statementCache.statements(for: sql)
        try session.refuseHiddenPublicNames(sql)
        return statements
    }

    /// A DO block runs once: its statements plan where they run, as the session's statements do.
    func run(_ statement: Statement, parameters: [Value], variables: RoutineVariables?, plans: PlanMemo?) async throws -> QueryResult {
        session.routineVariables = PLpgSQLRun<SessionStatementRunner>.seesVariables(statement) ? variables : nil
        defer { session.routineVariables = nil }
        return try await session.run(statement, parameters: parameters)
    }

    func endTransaction(commit: Bool) async throws -> QueryResult {
        try await session.endDoTransaction(commit: commit)
    }

    func savepoint() throws -> Session.BlockSavepoint { try session.blockSavepoint() }
    func rollback(to savepoint: Session.BlockSavepoint) throws { try session.rollback(to: savepoint) }

    func checkCancelled() throws {
        if session.cancellation.isCancelled { throw StatementCancellation.error(session.cancellation.reason) }
    }
}
