import RedCore
import Synchronization

/// One PG-wire connection's run-time settings, shared by the wire layer (SET, RESET, SHOW)
/// and the statements the engine runs for the connection (`pg_settings`,
/// `current_setting`, `set_config`, through `PGSystemCatalog`): both read and change the
/// same values, so `SET application_name = 'x'` is what `current_setting('application_name')`
/// returns, and `set_config('statement_timeout', '5s', false)` takes effect like SET.
///
/// `SET LOCAL` and `set_config(…, true)` last until the transaction ends: the value before
/// the first local change is kept and put back after the first statement that leaves the
/// connection outside a transaction (`statementEnded`) — the COMMIT or ROLLBACK, or the
/// statement itself outside a transaction block — as PostgreSQL puts it back at the end of
/// the transaction. (A session-wide SET inside a transaction that rolls back stays, where
/// PostgreSQL would undo it.) A pooled connection therefore
/// never carries one request's local settings (PostgREST's JWT claims, say) into the next.
///
/// Changes to reported parameters are queued and sent as ParameterStatus by the connection
/// before its next ReadyForQuery, whichever path made them.
final class PGSessionSettings: Sendable {
    private struct State {
        var settings = PGSettings()
        /// Names changed locally in the current transaction → their value before (nil: unset).
        var localOriginals: [String: String?] = [:]
        /// ParameterStatus messages owed to the client: the latest value of each parameter
        /// changed, in the order first changed (a statement that sets one a million times owes one).
        var reports: [(String, String)] = []

        mutating func report(_ status: (String, String)) {
            if let i = reports.firstIndex(where: { $0.0 == status.0 }) { reports[i].1 = status.1 } else { reports.append(status) }
        }

        /// Undoes the local changes when the transaction has ended.
        mutating func endLocalChanges() {
            guard !localOriginals.isEmpty else { return }
            for (key, original) in localOriginals.sorted(by: { $0.key < $1.key }) {
                if let status = settings.restore(key, to: original) { report(status) }
            }
            localOriginals = [:]
        }
    }

    private let state = Mutex(State())

    func read<T>(_ body: (PGSettings) throws -> T) rethrows -> T {
        try state.withLock { try body($0.settings) }
    }

    func applyStartup(_ parameters: [String: String]) {
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
                s.localOriginals[key] = nil  // a session-wide SET outlives the transaction, as in PostgreSQL
            }
        }
    }

    func resetAll() {
        state.withLock { s in
            s.settings.resetAll()
            s.localOriginals = [:]
        }
    }

    /// After each statement: when `idle` (no transaction is open, so the statement's own or
    /// its block's has ended) local changes are undone; returns the statement timeout for
    /// the next statement, which a `set_config` may have changed.
    func statementEnded(idle: Bool) -> Int {
        state.withLock { s in
            if idle { s.endLocalChanges() }
            return s.settings.statementTimeoutMilliseconds
        }
    }

    /// Before ReadyForQuery: as `statementEnded`, and the ParameterStatus messages owed.
    func beforeReadyForQuery(idle: Bool) -> (reports: [(String, String)], statementTimeoutMilliseconds: Int) {
        state.withLock { s in
            if idle { s.endLocalChanges() }
            defer { s.reports = [] }
            return (s.reports, s.settings.statementTimeoutMilliseconds)
        }
    }
}
