import RedCore
import Synchronization

/// One session's hold on the database's `AdvisoryLockTable`: who it is, what the statement
/// attempt now running has locked, and the warnings its unlocks raised.
///
/// The session drives a statement through it (`Session.runWaitingForLocks`):
/// `beginStatement`, then either `endStatement` (done: reservations nobody claimed are given
/// back) or, when a lock function threw `AdvisoryLockWait`, `abandonAttempt` — what the attempt
/// locked stays held as reservations its next attempt claims, so running again neither takes
/// a lock twice nor lets it go to another session in between — then `wait`, then a new attempt.
public final class SessionAdvisoryLocks: Sendable {
    public let table: AdvisoryLockTable
    let ownerID: UInt64
    private let processIDValue: Atomic<Int32>

    private struct Attempt {
        var acquired: [AdvisoryLockRequest] = []
        var warnings: [String] = []
    }

    private let attempt = Mutex(Attempt())

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
        if try table.tryAcquire(owner, request) {
            attempt.withLock { $0.acquired.append(request) }
            return true
        }
        if wait { throw AdvisoryLockWait(request: request) }
        return false
    }

    /// Gives back one session-level hold; false, with PostgreSQL's WARNING, when there is none.
    func unlock(_ request: AdvisoryLockRequest) -> Bool {
        if table.release(owner, request) { return true }
        attempt.withLock { $0.warnings.append("you don't own a lock of type \(request.modeName)") }
        return false
    }

    /// `pg_advisory_unlock_all()`: every session-level lock (transaction-level ones stay).
    func unlockAll() { table.releaseAll(ownerID, scope: .session) }

    // MARK: What the session calls

    /// A statement attempt starts.
    public func beginStatement() { attempt.withLock { $0 = Attempt() } }

    /// The attempt stopped to wait: what it locked is kept for the next attempt to claim.
    public func abandonAttempt() {
        let acquired = attempt.withLock { a -> [AdvisoryLockRequest] in
            defer { a = Attempt() }
            return a.acquired
        }
        table.reserve(ownerID, acquired)
    }

    /// Waits until `request` is granted to this session (reserved for the next attempt).
    public func wait(for request: AdvisoryLockRequest) async throws { try await table.wait(owner, request) }

    /// The statement is over: unclaimed reservations are given back; returns its warnings.
    public func endStatement() -> [String] {
        table.dropReservations(ownerID)
        return attempt.withLock { a in
            defer { a = Attempt() }
            return a.warnings
        }
    }

    /// The transaction ended (committed or rolled back): its `xact` locks go.
    public func transactionEnded() {
        attempt.withLock { $0.acquired.removeAll { $0.scope == .transaction } }
        table.releaseAll(ownerID, scope: .transaction)
    }

    /// The session ended: every lock it holds, reserved or waited for, goes.
    public func sessionEnded() { table.releaseAll(ownerID, scope: nil) }
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
