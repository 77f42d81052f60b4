import Foundation
import RedCore
import RedQuery
import Synchronization

/// What `pg_stat_activity` shows of one PG-wire connection, kept by the connection itself and
/// read by any session's catalog query (through `ConnectionRegistry.activities`).
///
/// The connection notes each request that runs a statement (a simple Query, or an Execute of
/// a portal: `begin`) and its end (`end`). A lock of its own per connection, taken twice per
/// statement and never by another connection's statements but for a catalog read, so it costs
/// the statement path no contention.
///
/// States as PostgreSQL names them: `active` while a statement runs, `idle`, `idle in
/// transaction` in an open block, `idle in transaction (aborted)` in a failed one. `query` is
/// the last statement's text, kept after it ends (as PostgreSQL keeps it); `xact_start` the
/// start of the statement that opened the block, or of the running autocommit statement.
final class PGActivity: Sendable {
    struct Row: Sendable {
        var pid: Int32
        var user = ""
        var applicationName = ""
        var clientAddress: String?
        var clientPort: Int?
        /// Microseconds since the epoch.
        var backendStart: Int64
        var transactionStart: Int64?
        var queryStart: Int64?
        var stateChange: Int64?
        var state = "idle"
        var query = ""
    }

    /// The longest query text kept (PostgreSQL's `track_activity_query_size` default, 1 kB).
    static let maxQueryBytes = 1024

    private let row: Mutex<Row>
    /// `pg_terminate_backend` asked the connection to end; read at every flush, so an atomic.
    private let terminating = Atomic<Bool>(false)

    /// The connection's FATAL goodbye is being sent (by its own task or by `terminateIdle` on
    /// its event loop): whoever claims it first sends it, so it goes once.
    private let goodbye = Atomic<Bool>(false)

    var terminationRequested: Bool { terminating.load(ordering: .acquiring) }

    func requestTermination() { terminating.store(true, ordering: .releasing) }

    /// In the middle of a statement, waiting for the client (COPY FROM STDIN's data).
    private let awaitingClient = Atomic<Bool>(false)

    var isAwaitingClient: Bool { awaitingClient.load(ordering: .acquiring) }

    func setAwaitingClient(_ waiting: Bool) { awaitingClient.store(waiting, ordering: .releasing) }

    /// True for the one caller that may send the goodbye.
    func claimGoodbye() -> Bool { goodbye.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged }

    init(pid: Int32, clientAddress: String?, clientPort: Int?) {
        row = Mutex(Row(pid: pid, clientAddress: clientAddress, clientPort: clientPort, backendStart: Self.now()))
    }

    static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1_000_000).rounded()) }

    var current: Row { row.withLock { $0 } }

    /// Who logged in, once startup is done.
    func loggedIn(user: String, applicationName: String) {
        row.withLock {
            $0.user = user
            $0.applicationName = applicationName
            $0.stateChange = Self.now()
        }
    }

    /// A statement starts (`query` nil: its text is unknown, and the last one stays).
    func begin(query: String?) {
        let now = Self.now()
        row.withLock { r in
            if let query { r.query = Self.truncated(query) }
            r.queryStart = now
            r.stateChange = now
            r.transactionStart = r.transactionStart ?? now
            r.state = "active"
        }
    }

    /// The statement ended; the session is now in a block, a failed one, or neither.
    func end(inTransaction: Bool, failed: Bool) {
        let now = Self.now()
        row.withLock { r in
            r.stateChange = now
            r.state = failed ? "idle in transaction (aborted)" : inTransaction ? "idle in transaction" : "idle"
            if !inTransaction { r.transactionStart = nil }
        }
    }

    /// `query` cut to `maxQueryBytes` at a character boundary.
    static func truncated(_ query: String) -> String {
        guard query.utf8.count > maxQueryBytes else { return query }
        var end = query.utf8.index(query.utf8.startIndex, offsetBy: maxQueryBytes)
        while end > query.startIndex, end.samePosition(in: query.unicodeScalars) == nil { end = query.utf8.index(before: end) }
        return String(query[..<end])
    }
}

/// `pg_stat_activity`, PostgreSQL 15's columns: a row per PG-wire connection (RedWire, gRPC
/// and HTTP clients have no PostgreSQL session to show).
enum PGActivityCatalog {
    static let columns: [SurfaceColumn] = [
        SurfaceColumn("datid", .integer), SurfaceColumn("datname", .text), SurfaceColumn("pid", .integer), SurfaceColumn("leader_pid", .integer),
        SurfaceColumn("usesysid", .integer), SurfaceColumn("usename", .text), SurfaceColumn("application_name", .text),
        SurfaceColumn("client_addr", .text, surfaceType: "inet"), SurfaceColumn("client_hostname", .text), SurfaceColumn("client_port", .integer, surfaceType: "int4"),
        SurfaceColumn("backend_start", .timestamp, surfaceType: "timestamptz"), SurfaceColumn("xact_start", .timestamp, surfaceType: "timestamptz"),
        SurfaceColumn("query_start", .timestamp, surfaceType: "timestamptz"), SurfaceColumn("state_change", .timestamp, surfaceType: "timestamptz"),
        SurfaceColumn("wait_event_type", .text), SurfaceColumn("wait_event", .text), SurfaceColumn("state", .text),
        SurfaceColumn("backend_xid", .integer), SurfaceColumn("backend_xmin", .integer), SurfaceColumn("query_id", .integer),
        SurfaceColumn("query", .text), SurfaceColumn("backend_type", .text),
    ]

    /// `mayRead`: whether the caller may see a connection's details; for others, as PostgreSQL
    /// shows other roles' sessions, the query is `<insufficient privilege>` and the client,
    /// times and state are NULL.
    static func relation(_ activities: @escaping @Sendable () -> [PGActivity.Row], mayRead: @escaping @Sendable (PGActivity.Row) -> Bool) -> SurfaceRelation {
        SurfaceRelation(columns: columns) { _ in
            activities().sorted { $0.pid < $1.pid }.map { r -> [Value] in
                func instant(_ us: Int64?) -> Value { us.map(Value.timestamp) ?? .null }
                guard mayRead(r) else {
                    return [.integer(PGCatalogModel.databaseOID), .text(PGCatalogModel.databaseName), .integer(Int64(r.pid)), .null,
                            .integer(PGCatalogModel.ownerOID), .text(PGCatalogModel.ownerName(r.user)), .text(r.applicationName),
                            .null, .null, .null, .null, .null, .null, .null, .null, .null, .null, .null, .null, .null,
                            .text("<insufficient privilege>"), .text("client backend")]
                }
                return [.integer(PGCatalogModel.databaseOID), .text(PGCatalogModel.databaseName), .integer(Int64(r.pid)), .null,
                        .integer(PGCatalogModel.ownerOID), .text(PGCatalogModel.ownerName(r.user)), .text(r.applicationName),
                        r.clientAddress.map(Value.text) ?? .null, .null, r.clientPort.map { .integer(Int64($0)) } ?? .integer(-1),
                        instant(r.backendStart), instant(r.transactionStart), instant(r.queryStart), instant(r.stateChange),
                        r.state == "active" ? .null : .text("Client"), r.state == "active" ? .null : .text("ClientRead"), .text(r.state),
                        .null, .null, .null, .text(r.query), .text("client backend")]
            }
        }
    }
}

extension PGActivityCatalog {
    /// `pg_cancel_backend(pid)` and `pg_terminate_backend(pid [, timeout])`: true once signalled,
    /// false for a pid that is no PG-wire connection (PostgreSQL warns and answers false).
    /// With a timeout (milliseconds) `pg_terminate_backend` waits for the connection to end and
    /// answers false if it has not by then, as PostgreSQL 14 and later do.
    /// `caller`: the calling connection's own activity, so that ending itself does not wait for
    /// its own end, and a wait ends when it is itself terminated.
    static func functions(_ registry: ConnectionRegistry, mayAct: @escaping @Sendable (PGActivity.Row) -> Bool, caller: PGActivity?) -> [String: SurfaceFunction] {
        func signal(terminate: Bool) -> SurfaceFunction {
            SurfaceFunction(arity: terminate ? 1...2 : 1...1, resultType: .boolean) { args, _ in
                let pid = try PGCatalogFunctions.integer(args[0])
                let timeout = args.count > 1 ? try PGCatalogFunctions.integer(args[1]) : 0
                guard timeout >= 0 else { throw RedError(.invalidArgument, "\"timeout\" must not be negative") }
                // Waiting for the connection to end is no work for an event loop: run it on the pool.
                if timeout > 0 { try NonBlockingExecution.refuseIfActive(.longRunning) }
                guard let id = Int32(exactly: pid), try registry.signal(id, terminate: terminate, allowed: mayAct) else { return .boolean(false) }
                if timeout == 0 || caller?.current.pid == id { return .boolean(true) }
                return .boolean(waitUntilClosed(id, registry, milliseconds: timeout, caller: caller))
            }
        }
        return ["pg_cancel_backend": signal(terminate: false), "pg_terminate_backend": signal(terminate: true)]
    }

    /// Polls (10 ms naps) until connection `id` has ended or `milliseconds` have passed.
    private static func waitUntilClosed(_ id: Int32, _ registry: ConnectionRegistry, milliseconds: Int64, caller: PGActivity?) -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(milliseconds)
        while !registry.isClosed(id) {
            guard ContinuousClock.now < deadline, caller?.terminationRequested != true else { return false }
            usleep(10_000)
        }
        return true
    }
}

extension PGConnection {
    /// A request starts: a Query or an Execute runs a statement (`pg_stat_activity`'s `active`).
    func noteBegin(_ message: PGFrontendMessage) {
        guard !activityBegun else { return }  // declined in the pipeline, begun there already
        switch message {
        case .query(let sql): activity.begin(query: sql)
        case .execute(let portal, _): activity.begin(query: portals[portal]?.statement.sql)
        default: return
        }
        activityBegun = true
    }

    /// The request ended: idle, or idle in a (failed) block.
    func noteEnd() {
        guard activityBegun else { return }
        activityBegun = false
        activity.end(inTransaction: session.inTransaction, failed: session.transactionFailed)
    }
}
