import RedCore
import Synchronization

/// One session's hold on the database's `AdvisoryLockTable`: who it is, what the statement
/// attempt now running has locked and unlocked, and the warnings its unlocks raised.
///
/// The session drives each statement through it (`Session.runWaitingForLocks`):
/// `beginStatement`, then either `endStatement` (done, or failed) or — when a lock function
/// threw `AdvisoryLockWait`, or the attempt must be run again for another reason (a write
/// conflict in autocommit, texts to embed, the non-waiting path giving up) — `abandonAttempt`,
/// `wait` if it was for a lock, and a new attempt. Running a statement again must not repeat
/// its effects on locks, so:
/// - what an attempt locked stays held as reservations its next attempt claims (never taken
///   twice, never let go to another session in between);
/// - what an attempt unlocks is only noted, and given back when the statement ends
///   (`endStatement`) — an abandoned attempt's unlocks are forgotten, and the next attempt
///   makes them again. Other sessions see an unlock at the end of its statement rather than
///   in the middle of it, which no statement can tell apart.
///
/// Transaction-level locks are listed in the order the transaction took them, so ROLLBACK TO
/// SAVEPOINT gives back those taken after the savepoint, as PostgreSQL does. The lists stay
/// empty for sessions that never lock, and then the table is not touched at all.
public final class SessionAdvisoryLocks: Sendable {
    public let table: AdvisoryLockTable
    let ownerID: UInt64
    private let processIDValue: Atomic<Int32>

    private struct State {
        /// This attempt's locks (claimed reservations included).
        var acquired: [AdvisoryLockRequest] = []
        /// This attempt's unlocks, given back at the statement's end.
        var unlocks: [AdvisoryLockRequest: Int] = [:]
        var warnings: [String] = []
        /// The table may hold reservations for this session.
        var mayHaveReservations = false
        /// The open transaction's transaction-level locks, in the order taken.
        var transactionLocks: [AdvisoryLockRequest] = []
        /// Set once the session ended: later calls (a stream outliving it) take nothing.
        var ended = false
    }

    private let state = Mutex(State())

    public init(table: AdvisoryLockTable, ownerID: UInt64, processID: Int32) {
        self.table = table
        self.ownerID = ownerID
        self.processIDValue = Atomic(processID)
    }

    /// The id `pg_backend_pid()` and `pg_locks.pid` show (PG-wire sets its BackendKeyData id).
    public var processID: Int32 {
        get { processIDValue.load(ordering: .relaxed) }
        set { processIDValue.store(newValue, ordering: .relaxed) }
    }

    var owner: AdvisoryLockTable.Owner { .init(id: ownerID, processID: processID) }

    // MARK: What lock functions call

    /// Takes the lock; when another session holds it, false if `wait` is false, else
    /// `AdvisoryLockWait` (the session waits and runs the statement again).
    func lock(_ request: AdvisoryLockRequest, wait: Bool) throws -> Bool {
        if state.withLock({ $0.ended }) {
            throw RedError(.closed, "the session has ended: it can take no more advisory locks")
        }
        if try table.tryAcquire(owner, request) {
            state.withLock { s in
                s.acquired.append(request)
                if request.scope == .transaction { s.transactionLocks.append(request) }
            }
            return true
        }
        guard wait else { return false }
        state.withLock { $0.mayHaveReservations = true }
        throw AdvisoryLockWait(request: request)
    }

    /// Notes one session-level unlock, given back when the statement ends; false, with
    /// PostgreSQL's WARNING, when the session holds no such lock (left after earlier unlocks).
    func unlock(_ request: AdvisoryLockRequest) -> Bool {
        let held = table.holdCount(ownerID, request)
        return state.withLock { s in
            let pending = s.unlocks[request] ?? 0
            guard held > pending else {
                s.warnings.append("you don't own a lock of type \(request.modeName)")
                return false
            }
            s.unlocks[request] = pending + 1
            return true
        }
    }

    /// `pg_advisory_unlock_all()`: every session-level lock held now (transaction-level ones
    /// stay, and so do locks the statement takes after this call).
    func unlockAll() {
        let holds = table.sessionHolds(ownerID)
        state.withLock { s in
            for (request, count) in holds { s.unlocks[request] = count }
        }
    }

    // MARK: What the session calls

    /// A statement attempt starts.
    public func beginStatement() {
        state.withLock { s in
            s.acquired = []
            s.unlocks = [:]
            s.warnings = []
        }
    }

    /// The attempt will run again: what it locked is kept for the next attempt to claim, what
    /// it unlocked and warned is forgotten (the next attempt does it again).
    public func abandonAttempt() {
        let acquired = state.withLock { s -> [AdvisoryLockRequest] in
            let acquired = s.acquired
            for request in acquired where request.scope == .transaction {
                if let i = s.transactionLocks.lastIndex(of: request) { s.transactionLocks.remove(at: i) }
            }
            s.acquired = []
            s.unlocks = [:]
            s.warnings = []
            if !acquired.isEmpty { s.mayHaveReservations = true }
            return acquired
        }
        table.reserve(ownerID, acquired)
    }

    /// Waits until `request` is granted to this session (reserved for the next attempt).
    public func wait(for request: AdvisoryLockRequest) async throws {
        state.withLock { $0.mayHaveReservations = true }
        try await table.wait(owner, request)
    }

    /// The statement is over, done or failed: its unlocks take effect and reservations nobody
    /// claimed are given back. Returns its warnings.
    public func endStatement() -> [String] {
        let (unlocks, reservations, warnings) = state.withLock { s in
            defer {
                s.acquired = []
                s.unlocks = [:]
                s.warnings = []
                s.mayHaveReservations = false
            }
            return (s.unlocks, s.mayHaveReservations, s.warnings)
        }
        for (request, count) in unlocks { table.release(ownerID, request, count: count) }
        if reservations { table.dropReservations(ownerID) }
        return warnings
    }

    /// The transaction ended (committed or rolled back): its `xact` locks go.
    public func transactionEnded() {
        let held = state.withLock { s -> Bool in
            s.acquired.removeAll { $0.scope == .transaction }
            defer { s.transactionLocks = [] }
            return !s.transactionLocks.isEmpty || s.mayHaveReservations
        }
        if held { table.releaseAll(ownerID, scope: .transaction) }
    }

    /// How many transaction-level locks the open transaction holds: a savepoint's mark.
    public var transactionLockMark: Int { state.withLock { $0.transactionLocks.count } }

    /// ROLLBACK TO SAVEPOINT: gives back the transaction-level locks taken after `mark`.
    public func rollbackTransactionLocks(to mark: Int) {
        let released = state.withLock { s -> [AdvisoryLockRequest] in
            guard mark < s.transactionLocks.count else { return [] }
            defer { s.transactionLocks.removeSubrange(mark...) }
            return Array(s.transactionLocks[mark...])
        }
        for request in released { table.release(ownerID, request) }
    }

    /// The session ended: every lock it holds, reserved or waited for, goes.
    public func sessionEnded() {
        state.withLock { $0.ended = true }
        table.releaseAll(ownerID, scope: nil)
    }
}

/// The SQL functions: `pg_advisory_lock`, `pg_try_advisory_lock`, `pg_advisory_unlock`, their
/// `_shared` and `xact_` forms, `pg_advisory_unlock_all` and `pg_backend_pid`. All take a
/// bigint key or two integers, are strict (a NULL key locks nothing and returns NULL), and
/// run once per row they are called for (never folded into a constant).
enum AdvisoryLockFunctions {
    static var all: [ScalarFunction] {
        var functions: [ScalarFunction] = []
        for scope in [AdvisoryLockRequest.Scope.session, .transaction] {
            for shared in [false, true] {
                let infix = scope == .transaction ? "xact_" : ""
                let suffix = shared ? "_shared" : ""
                functions.append(function("pg_advisory_\(infix)lock\(suffix)") { key, locks in
                    _ = try locks.lock(AdvisoryLockRequest(key: key, shared: shared, scope: scope), wait: true)
                    return .null  // PostgreSQL's void
                })
                functions.append(function("pg_try_advisory_\(infix)lock\(suffix)") { key, locks in
                    .boolean(try locks.lock(AdvisoryLockRequest(key: key, shared: shared, scope: scope), wait: false))
                })
            }
        }
        functions.append(function("pg_advisory_unlock") { key, locks in
            .boolean(locks.unlock(AdvisoryLockRequest(key: key, shared: false, scope: .session)))
        })
        functions.append(function("pg_advisory_unlock_shared") { key, locks in
            .boolean(locks.unlock(AdvisoryLockRequest(key: key, shared: true, scope: .session)))
        })
        functions.append(ScalarFunction(name: "pg_advisory_unlock_all", arity: 0...0, acceptsNull: false, isDeterministicWithinStatement: false) { _, c in
            c.advisoryLocks?.unlockAll()
            return .null
        })
        functions.append(ScalarFunction(name: "pg_backend_pid", arity: 0...0, acceptsNull: false, isDeterministicWithinStatement: true) { _, c in
            .integer(Int64(c.advisoryLocks?.processID ?? 0))
        })
        return functions
    }

    /// Functions returning a boolean (the rest return void, sent as NULL).
    static let resultTypes: [String: DataType] = [
        "pg_try_advisory_lock": .boolean, "pg_try_advisory_lock_shared": .boolean, "pg_try_advisory_xact_lock": .boolean,
        "pg_try_advisory_xact_lock_shared": .boolean, "pg_advisory_unlock": .boolean, "pg_advisory_unlock_shared": .boolean,
        "pg_backend_pid": .integer,
    ]

    private static func function(_ name: String,
                                 _ body: @escaping @Sendable (AdvisoryLockKey, SessionAdvisoryLocks) throws -> Value) -> ScalarFunction {
        ScalarFunction(name: name, arity: 1...2, acceptsNull: false, isDeterministicWithinStatement: false) { a, c in
            guard let locks = c.advisoryLocks else {
                throw RedError(.featureNotSupported, "\(name)() needs a session: advisory locks belong to the connection that takes them")
            }
            return try body(try key(a, name), locks)
        }
    }

    /// `(bigint)` or `(integer, integer)`; a quoted number is read as one, as PostgreSQL reads
    /// an untyped literal.
    static func key(_ arguments: [Value], _ name: String) throws -> AdvisoryLockKey {
        func integer(_ v: Value) throws -> Int64 {
            switch v {
            case .integer(let i): return i
            case .text(let s):
                guard let i = Int64(s.trimmingSpaces()) else { throw RedError(.invalidTextRepresentation, "invalid input syntax for type bigint: \"\(s)\"") }
                return i
            default:
                throw RedError(.undefinedFunction, "function \(name)(\(arguments.map(\.kindName).joined(separator: ", "))) does not exist")
            }
        }
        if arguments.count == 1 { return AdvisoryLockKey(try integer(arguments[0])) }
        // A pair is of integers: a bigint there names a function PostgreSQL does not have.
        let values = [try integer(arguments[0]), try integer(arguments[1])]
        guard let first = Int32(exactly: values[0]), let second = Int32(exactly: values[1]) else {
            let types = values.map { Int32(exactly: $0) == nil ? "bigint" : "integer" }.joined(separator: ", ")
            throw RedError(.undefinedFunction, "function \(name)(\(types)) does not exist")
        }
        return AdvisoryLockKey(first, second)
    }
}
