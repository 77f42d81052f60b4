import RedCore

/// What a PL/pgSQL run (`PLpgSQLRun`) needs from whoever runs it: a way to run one SQL
/// statement in the caller's transaction with the block's variables, savepoints for
/// EXCEPTION blocks, and the caller's cancel switch.
///
/// Two runners exist: a session's, for `DO` (`Session` in RedDB: each statement runs as a
/// client's statement inside a transaction block would, waiting for locks, and COMMIT may end
/// the transaction), and `ContextStatementRunner`, for a PL/pgSQL function called inside a
/// statement, whose statements run as parts of that statement on its transaction and never
/// wait (so the interpreter, although `async`, finishes without suspending; see
/// `PLpgSQLFunctionCall`).
public protocol PLStatementRunner {
    associatedtype Savepoint
    /// The statements of `sql`, parsed (from a cache where the runner has one).
    func parse(_ sql: String) throws -> [(Statement, String)]
    /// Runs `statement` with `parameters`; `variables` name the block's variables among them
    /// (nil for EXECUTE's dynamic SQL); `plans`, where the runner may keep the statement's plan
    /// for its next run (`RoutinePlans`).
    mutating func run(_ statement: Statement, parameters: [Value], variables: RoutineVariables?, plans: PlanMemo?) async throws -> QueryResult
    /// The value of `statement`, a `SELECT expression`, evaluated directly from the plan kept in
    /// `plans` when that plan is just the expression; nil when it is not (run it instead).
    mutating func evaluate(_ statement: Statement, parameters: [Value], variables: RoutineVariables, plans: PlanMemo) throws -> Value?
    /// Whether COMMIT and ROLLBACK may end the transaction here (a DO outside a transaction block).
    var canEndTransaction: Bool { get }
    mutating func endTransaction(commit: Bool) async throws -> QueryResult
    mutating func savepoint() throws -> Savepoint
    /// Undoes everything since `savepoint` and makes the transaction usable again.
    mutating func rollback(to savepoint: Savepoint) throws
    /// Throws when the statement running the block is cancelled or timed out.
    func checkCancelled() throws
    /// Whether a long loop may let other tasks run now and then (false: must not suspend).
    var mayYield: Bool { get }
}

extension PLStatementRunner {
    /// No direct evaluation: every expression runs as a query.
    public mutating func evaluate(_ statement: Statement, parameters: [Value], variables: RoutineVariables, plans: PlanMemo) throws -> Value? { nil }
}
