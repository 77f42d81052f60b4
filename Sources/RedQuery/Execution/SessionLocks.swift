import RedCore
import RedEngine
import Synchronization

/// One session's hold on the database's `LockTable`: who it is, what the statement
/// attempt now running has locked and unlocked, and the warnings its unlocks raised.
///
/// The session drives each statement through it (`Session.runWaitingForLocks`):
/// `beginStatement`, then either `endStatement` (done, or failed) or — when a lock function
/// threw `LockWait`, or the attempt must be run again for another reason (a write
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
public final class SessionLocks: Sendable {
    public let table: LockTable
    let ownerID: UInt64
    private let processIDValue: Atomic<Int32>

    private struct State {
        /// This attempt's locks (claimed reservations included).
        var acquired: [LockRequest] = []
        /// This attempt's unlocks, given back at the statement's end.
        var unlocks: [LockRequest: Int] = [:]
        var warnings: [String] = []
        /// The table may hold reservations for this session.
        var mayHaveReservations = false
        /// The open transaction's transaction-level locks, in the order taken.
        var transactionLocks: [LockRequest] = []
        /// Set once the session ended: later calls (a stream outliving it) take nothing.
        var ended = false
    }

    private let state = Mutex(State())

    public init(table: LockTable, ownerID: UInt64, processID: Int32) {
        self.table = table
        self.ownerID = ownerID
        self.processIDValue = Atomic(processID)
    }

    /// The id `pg_backend_pid()` and `pg_locks.pid` show (PG-wire sets its BackendKeyData id).
    public var processID: Int32 {
        get { processIDValue.load(ordering: .relaxed) }
        set { processIDValue.store(newValue, ordering: .relaxed) }
    }

    var owner: LockTable.Owner { .init(id: ownerID, processID: processID) }

    // MARK: What lock functions call

    /// Takes the lock; when another session holds it, false if `wait` is false, else
    /// `LockWait` (the session waits and runs the statement again).
    func lock(_ request: LockRequest, wait: Bool, what: @autoclosure () -> String? = nil) throws -> Bool {
        if state.withLock({ $0.ended }) {
            throw RedError(.closed, "the session has ended: it can take no more locks")
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
        throw LockWait(request: request, what: what() ?? request.key.description)
    }

    // MARK: Row locks

    /// What `lockRow` did.
    enum RowLockOutcome { case alreadyHeld, taken, skipped }

    /// Locks row `rid` of `relation` for the open transaction (`SELECT … FOR UPDATE` is
    /// exclusive, `FOR SHARE` shared): taken now, or held already; skipped when another
    /// transaction holds a conflicting lock and `policy` is `.skipLocked`. `.noWait` then
    /// throws 55P03, and `.wait` throws `LockWait` (the session waits and runs the statement
    /// again).
    func lockRow(_ rid: Int64, of relation: (id: UInt32, name: String), shared: Bool, policy: LockingClause.WaitPolicy) throws -> RowLockOutcome {
        let request = LockRequest(key: LockKey(row: rid, collection: relation.id), shared: shared, scope: .transaction)
        // Locked already by this transaction: PostgreSQL's second lock of a row changes nothing,
        // and here it would only lengthen the lists (a loop re-locking one row in a long transaction).
        if table.holdsClaimed(ownerID, request) { return .alreadyHeld }
        switch policy {
        case .wait:
            _ = try lock(request, wait: true, what: "a row of relation \"\(relation.name)\"")
            return .taken
        case .noWait:
            if try lock(request, wait: false) { return .taken }
            throw RedError(.lockNotAvailable, "could not obtain lock on row in relation \"\(relation.name)\"")
        case .skipLocked:
            return try lock(request, wait: false) ? .taken : .skipped
        }
    }

    /// Gives back the row lock `lockRow` just took (`.taken`): SKIP LOCKED leaving out a row
    /// it could lock but should not return.
    func unlockRow(_ rid: Int64, of relation: UInt32, shared: Bool) {
        let request = LockRequest(key: LockKey(row: rid, collection: relation), shared: shared, scope: .transaction)
        let held = state.withLock { s -> Bool in
            guard let i = s.acquired.lastIndex(of: request) else { return false }
            s.acquired.remove(at: i)
            if let j = s.transactionLocks.lastIndex(of: request) { s.transactionLocks.remove(at: j) }
            return true
        }
        if held { table.release(ownerID, request) }
    }

    /// Called by UPDATE and DELETE, before they change any of `rids`: throws `LockWait` for
    /// the first row another session holds locked (or waits to lock), so the statement waits
    /// for that transaction to end and runs again. Rows nobody locks are not locked (writes
    /// conflict at commit); a row this session received while waiting is kept locked, and
    /// returned: the caller checks it was not changed meanwhile.
    func awaitRowsForWrite(_ rids: some Sequence<Int64>, of relation: (id: UInt32, name: String)) throws -> [Int64] {
        guard !table.noRowsLocked, table.hasRowLocks(in: relation.id) else { return [] }
        let reserved = state.withLock { $0.mayHaveReservations }
        var locked: [Int64] = []
        for rid in rids {
            let request = LockRequest(key: LockKey(row: rid, collection: relation.id), shared: false, scope: .transaction)
            if table.isBlocked(ownerID, request) || (reserved && table.isReserved(ownerID, request)) {
                _ = try lock(request, wait: true, what: "a row of relation \"\(relation.name)\"")
                locked.append(rid)
            }
        }
        return locked
    }

    /// Most rows one UPDATE or DELETE locks (`lockRowsForWrite`) inside a transaction block,
    /// and in autocommit; a statement changing more locks none, and its writes conflict at
    /// commit instead. An autocommit statement's locks only keep a block from taking its rows
    /// between its snapshot and its commit, so only small ones (a hot row's update) take them.
    public static let maxRowsLockedPerWrite = 10_000
    public static let maxRowsLockedPerAutocommitWrite = 100

    /// Called by UPDATE and DELETE, after `awaitRowsForWrite` and before their first write:
    /// locks `rids` exclusively until the transaction ends, so that another block writing them
    /// (or locking them FOR UPDATE) waits for this one to end, as PostgreSQL's row locks make
    /// it, rather than one of them failing at commit. A row another session
    /// locked since throws `LockWait`. Returns the rows taken now (not held already): the
    /// caller checks none changed after its snapshot.
    ///
    /// Bounded: the caller passes at most `maxRowsLockedPerWrite` rows, and one that would take
    /// the session past half of `LockTable.maxRowsPerSession` locks nothing (a bulk change is
    /// not made to fail by the lock table's limit; it conflicts at commit as before).
    func lockRowsForWrite(_ rids: [Int64], of relation: (id: UInt32, name: String)) throws -> [Int64] {
        guard mayLockRows(rids.count) else { return [] }
        return try rids.filter { try lockRow($0, of: relation, shared: false, policy: .wait) == .taken }
    }

    /// Whether a write may lock `count` more rows without taking the session past half of
    /// `LockTable.maxRowsPerSession` (the rest is left for SELECT … FOR UPDATE).
    func mayLockRows(_ count: Int) -> Bool {
        table.rowsHeld(by: ownerID) + count <= LockTable.maxRowsPerSession / 2
    }

    // MARK: Unique keys

    /// The lock standing for one key of a unique index: a "row" of the index's collection,
    /// numbered by the key's hash (row locks and these never share a collection id).
    private func request(for key: TableStore.UniqueKey) -> LockRequest {
        LockRequest(key: LockKey(row: key.hash, collection: key.index), shared: false, scope: .transaction)
    }

    /// Locks a unique key an INSERT is about to write, until the transaction ends, so that
    /// another transaction inserting the same key waits (PostgreSQL waits for the inserting
    /// transaction, then reports 23505 if it committed, and goes on if it rolled back).
    /// Another session holding it throws `LockWait` when `wait`; otherwise the key is left
    /// unlocked and its conflict to the commit check.
    func lockUniqueKey(_ key: TableStore.UniqueKey, wait: Bool) throws {
        let request = request(for: key)
        if table.holdsClaimed(ownerID, request) { return }
        _ = try lock(request, wait: wait, what: "a key of index \"\(key.indexName)\"")
    }

    /// Notes one session-level unlock, given back when the statement ends; false, with
    /// PostgreSQL's WARNING, when the session holds no such lock (left after earlier unlocks).
    func unlock(_ request: LockRequest) -> Bool {
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
        let acquired = state.withLock { s -> [LockRequest] in
            let acquired = s.acquired
            // The attempt's transaction-level locks are the last ones taken, in the same order.
            let ofTransaction = acquired.count { $0.scope == .transaction }
            s.transactionLocks.removeLast(min(ofTransaction, s.transactionLocks.count))
            s.acquired = []
            s.unlocks = [:]
            s.warnings = []
            if !acquired.isEmpty { s.mayHaveReservations = true }
            return acquired
        }
        table.reserve(ownerID, acquired)
    }

    /// Waits until `request` is granted to this session (reserved for the next attempt).
    public func wait(for request: LockRequest) async throws {
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
        let released = state.withLock { s -> [LockRequest] in
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

