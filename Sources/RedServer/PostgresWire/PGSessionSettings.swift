import RedCore
import Synchronization

/// One PG-wire connection's run-time settings, shared by the wire layer (SET, RESET, SHOW)
/// and the statements the engine runs for the connection (`pg_settings`,
/// `current_setting`, `set_config`, through `PGSystemCatalog`): both read and change the
/// same values, so `SET application_name = 'x'` is what `current_setting('application_name')`
/// returns, and `set_config('statement_timeout', '5s', false)` takes effect like SET.
///
/// `SET LOCAL` and `set_config(…, true)` last until the transaction ends: the value before
/// the first local change is kept and put back when the connection next becomes idle
/// (`beforeReadyForQuery`), as PostgreSQL puts it back at COMMIT or ROLLBACK; outside a
/// transaction block such a change ends with its statement. A pooled connection therefore
/// never carries one request's local settings (PostgREST's JWT claims, say) into the next.
///
/// Changes to reported parameters are queued and sent as ParameterStatus by the connection
/// before its next ReadyForQuery, whichever path made them.
final class PGSessionSettings: Sendable {
    private struct State {
        var settings = PGSettings()
        /// Names changed locally in the current transaction → their value before (nil: unset).
        var localOriginals: [String: String?] = [:]
        /// ParameterStatus messages owed to the client, in order.
        var reports: [(String, String)] = []
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
            if let status = try s.settings.set(name, value) { s.reports.append(status) }
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

    /// What the connection must do before ReadyForQuery: when `idle` (the transaction has
    /// ended), local changes are undone first; then the ParameterStatus messages owed and
    /// the statement timeout in force.
    func beforeReadyForQuery(idle: Bool) -> (reports: [(String, String)], statementTimeoutMilliseconds: Int) {
        state.withLock { s in
            if idle, !s.localOriginals.isEmpty {
                for (key, original) in s.localOriginals.sorted(by: { $0.key < $1.key }) {
                    if let status = s.settings.restore(key, to: original) { s.reports.append(status) }
                }
                s.localOriginals = [:]
            }
            defer { s.reports = [] }
            return (s.reports, s.settings.statementTimeoutMilliseconds)
        }
    }
}
