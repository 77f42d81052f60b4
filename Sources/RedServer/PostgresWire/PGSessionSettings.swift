import RedCore
import Synchronization

/// One PG-wire connection's run-time settings, shared by the wire layer (SET, RESET, SHOW)
/// and the statements the engine runs for the connection (`pg_settings`,
/// `current_setting`, `set_config`, through `PGSystemCatalog`): both read and change the
/// same values, so `SET application_name = 'x'` is what `current_setting('application_name')`
/// returns, and `set_config('statement_timeout', '5s', false)` takes effect like SET.
///
/// Settings are transactional, as in PostgreSQL:
/// - `SET LOCAL` and `set_config(…, true)` last until the transaction ends: the value before
///   the first local change is kept and put back after the first statement that leaves the
///   connection outside a transaction (`statementEnded`) — the COMMIT or ROLLBACK, or the
///   statement itself outside a transaction block. A pooled connection therefore never
///   carries one request's local settings (PostgREST's JWT claims, say) into the next.
/// - A session-wide SET (or RESET) inside a transaction block stays only if the block
///   commits: the values before the block's first change are kept, and put back when it ends
///   without a commit (ROLLBACK, a failed block, an implicit transaction that failed). The
///   session's count of committed blocks tells the two apart. A statement that fails outside
///   a block undoes its session-wide changes too (`statementFailed`). (ROLLBACK TO SAVEPOINT keeps
///   them, where PostgreSQL would undo the changes made after the savepoint.)
///
/// Changes to reported parameters are queued and sent as ParameterStatus by the connection
/// before its next ReadyForQuery, whichever path made them.
final class PGSessionSettings: Sendable {
    private struct State {
        var settings = PGSettings()
        /// Names changed locally in the current transaction → their value before (nil: unset).
        var localOriginals: [String: String?] = [:]
        /// Names changed since the last statement that ended outside a transaction → their
        /// value before: put back if the transaction they were changed in does not commit.
        var sessionOriginals: [String: String?] = [:]
        /// The session's committed-block count when the open transaction was first seen; nil
        /// when none is open.
        var commitsAtTransactionStart: UInt64?
        /// ParameterStatus messages owed to the client: the latest value of each parameter
        /// changed, in the order first changed (a statement that sets one a million times owes one).
        var reports: [(String, String)] = []

        mutating func report(_ status: (String, String)) {
            if let i = reports.firstIndex(where: { $0.0 == status.0 }) { reports[i].1 = status.1 } else { reports.append(status) }
        }

        /// After a statement: notes an open transaction, or, once none is open, ends it —
        /// local changes undone, session changes kept if it committed and undone if not.
        mutating func statementEnded(idle: Bool, commits: UInt64) {
            guard idle else {
                if commitsAtTransactionStart == nil { commitsAtTransactionStart = commits }
                return
            }
            end(rolledBack: commitsAtTransactionStart.map { commits == $0 } ?? false)
        }

        /// Ends the transaction's changes: local ones undone, session ones too unless it committed.
        mutating func end(rolledBack: Bool) {
            var restore = localOriginals
            if rolledBack {
                for (key, original) in sessionOriginals where restore[key] == nil { restore[key] = .some(original) }
            }
            for (key, original) in restore.sorted(by: { $0.key < $1.key }) {
                if let status = settings.restore(key, to: original) { report(status) }
            }
            localOriginals = [:]
            sessionOriginals = [:]
            commitsAtTransactionStart = nil
        }

        mutating func noteSessionChange(_ key: String, before: String?) {
            if sessionOriginals[key] == nil { sessionOriginals[key] = .some(before) }
        }
    }

    private let state = Mutex(State())

    func read<T>(_ body: (PGSettings) throws -> T) rethrows -> T {
        try state.withLock { try body($0.settings) }
    }

    func applyStartup(_ parameters: [String: String]) -> RedError? {
        state.withLock { $0.settings.applyStartup(parameters) }
    }

    /// SET (or RESET with a nil value), for the session or, when `local`, for the transaction.
    func set(_ name: String, _ value: String?, local: Bool) throws {
        try state.withLock { s in
            let key = name.lowercased()
            let before = s.settings.values[key]
            if let status = try s.settings.set(name, value) { s.report(status) }
            if local {
                if s.localOriginals[key] == nil { s.localOriginals[key] = .some(before) }
            } else {
                // A session-wide SET outlives the transaction if it commits, as in PostgreSQL:
                // the value before the transaction is what a rollback restores.
                if let original = s.localOriginals.removeValue(forKey: key) { s.noteSessionChange(key, before: original) }
                s.noteSessionChange(key, before: before)
            }
        }
    }

    func resetAll() {
        state.withLock { s in
            for (key, value) in s.settings.values {
                let before: String? = s.localOriginals[key] ?? .some(value)
                s.noteSessionChange(key, before: before)
            }
            s.settings.resetAll()
            s.localOriginals = [:]
        }
    }

    /// After each statement: when `idle` (no transaction is open, so the statement's own or
    /// its block's has ended) the transaction's changes end as described above; `commits` is
    /// the session's committed-block count. Returns the statement timeout for the next
    /// statement, which a `set_config` may have changed.
    func statementEnded(idle: Bool, commits: UInt64) -> Int {
        state.withLock { s in
            s.statementEnded(idle: idle, commits: commits)
            return s.settings.statementTimeoutMilliseconds
        }
    }

    /// After a statement failed, with `idle` telling whether a transaction is still open. When
    /// none is (the statement ran in a transaction of its own, or in an implicit block now
    /// rolled back), everything it changed is undone, session-wide changes included: in
    /// PostgreSQL `SELECT set_config('app.tenant', '42', false), 1/0` leaves the setting as it
    /// was. In a block, the block's end decides (a failed block never commits).
    func statementFailed(idle: Bool) {
        state.withLock { s in
            guard idle else { return }
            s.end(rolledBack: true)
        }
    }

    /// Before ReadyForQuery: as `statementEnded`, and the ParameterStatus messages owed.
    func beforeReadyForQuery(idle: Bool, commits: UInt64) -> (reports: [(String, String)], statementTimeoutMilliseconds: Int) {
        state.withLock { s in
            s.statementEnded(idle: idle, commits: commits)
            defer { s.reports = [] }
            return (s.reports, s.settings.statementTimeoutMilliseconds)
        }
    }
}
