import RedCore
import Synchronization

/// The locks sessions take explicitly, one table per database, reached through each session's
/// `SessionLocks`:
/// - PostgreSQL's advisory locks (`pg_advisory_lock` and its family): locks on numbers an
///   application chooses, which the database only keeps, queues and releases. Migration tools
///   (Prisma, Rails, sqlx, golang-migrate, Flyway) take one so two deploys never migrate at once.
/// - Row locks (`SELECT … FOR UPDATE / FOR SHARE`, see `LockRowsNode`): a key per table row,
///   always transaction-level. UPDATE and DELETE of table and document rows wait for the row
///   locks others hold on the rows they change (`SessionLocks.awaitRowsForWrite`), then take
///   them themselves (`lockRowsForWrite`; up to 10,000 rows in a block, 100 in autocommit), so
///   a row locked FOR UPDATE or changed by an open block is changed by nobody else until its
///   transaction ends (`INSERT … ON CONFLICT DO UPDATE` too, for the row it updates). Writes
///   beyond those bounds, cascades and TRUNCATE take no row locks: they conflict at commit (40001).
/// Both kinds share one queue discipline and one deadlock check, so a cycle through an
/// advisory lock and a row lock is found too. As in PostgreSQL:
/// - a key is a bigint, or a pair of integers — a key space of its own: `(0, 1)` is not `1`;
/// - a lock is exclusive or shared: shared locks coexist, an exclusive one excludes every other
///   session's lock on the key; one session's own locks never conflict with each other;
/// - a session-level lock is held until unlocked as many times as it was locked, or until the
///   session ends, whatever its transactions do; a transaction-level (`xact`) one until the
///   transaction that took it ends, and it cannot be unlocked before;
/// - a request that must wait queues behind earlier requests it conflicts with (first come,
///   first served), and one whose wait would close a cycle of sessions waiting on each other
///   fails at once with 40P01 (PostgreSQL finds the cycle after `deadlock_timeout`) — unless,
///   as PostgreSQL does, granting queued requests out of turn (those only other queued
///   requests keep back) breaks the cycle.
///
/// Waiting: statements execute synchronously, so a lock function cannot wait where it stands.
/// When its lock is taken it throws `LockWait`; the session gives back what the attempt
/// locked, waits here (cancellable, under `statement_timeout`), receives the lock as a grant
/// *reserved* for its next attempt, and runs the statement again — which finds the reservation
/// in place of a free lock and goes on. Reservations the attempt does not claim are released
/// when it ends (`endStatement`), so a grant is never left held by nobody.
///
/// Invariants (under `state`'s lock):
/// - every count in `holders` is positive, no holder is empty and no entry is empty;
/// - a waiter is in exactly one queue, and `waiting` names it for its owner (a session waits
///   for one lock at a time);
/// - a reservation is also counted in `holders` (it is a held lock nobody has claimed yet).
public final class LockTable: Sendable {
    /// Distinct keys one session may hold at once; PostgreSQL's shared lock table is bounded
    /// too (`max_locks_per_transaction`), and past it a client could grow the server's memory.
    public static let maxKeysPerSession = 65_536
    /// Distinct rows one session may hold locked at once: about 300 bytes each here, where
    /// PostgreSQL marks the rows themselves. `SELECT … FOR UPDATE` over more rows fails (54000).
    public static let maxRowsPerSession = 100_000

    /// A lock holder or waiter: a session, and the process id `pg_locks` shows for it.
    public struct Owner: Hashable, Sendable {
        public var id: UInt64
        public var processID: Int32
    }

    /// One row of `pg_locks`: a lock held (or waited for) by a session.
    public struct LockRow: Sendable {
        public var key: LockKey
        public var shared: Bool
        public var processID: Int32
        public var granted: Bool
    }

    /// How many times a session holds one key, by mode and scope.
    private struct Holds {
        /// Indexed by `LockRequest.slot`.
        var counts = [0, 0, 0, 0]
        var processID: Int32
        var isEmpty: Bool { counts == [0, 0, 0, 0] }
        var exclusive: Bool { counts[0] + counts[2] > 0 }
        var shared: Bool { counts[1] + counts[3] > 0 }
    }

    private struct Waiter {
        var id: UInt64
        var owner: Owner
        var request: LockRequest
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct Entry {
        var holders: [UInt64: Holds] = [:]
        var queue: [Waiter] = []
        var isEmpty: Bool { holders.isEmpty && queue.isEmpty }
    }

    private struct State {
        var entries: [LockKey: Entry] = [:]
        /// Owner id → the key it waits for.
        var waiting: [UInt64: LockKey] = [:]
        /// Owner id → grants received while waiting, not yet claimed by a statement.
        /// (Counted: a statement waiting for its 1,000th row claims 999 back in constant time each.)
        var reservations: [UInt64: [LockRequest: Int]] = [:]
        /// Owner id → the keys it holds: what `releaseAll` visits, and `maxKeysPerSession`'s count.
        var ownedKeys: [UInt64: Set<LockKey>] = [:]
        /// Owner id → how many of its `ownedKeys` are rows.
        var ownedRows: [UInt64: Int] = [:]
        /// Relation id → how many of its rows (or unique keys, under an index's id) are locked.
        var lockedRowsByRelation: [UInt32: Int] = [:]
        var nextWaiterID: UInt64 = 1
    }

    private let state = Mutex(State())
    /// Rows some session holds locked, over all sessions: while 0 (no one uses row locks, the
    /// usual case) UPDATE and DELETE skip the table altogether.
    private let lockedRows = Atomic<Int>(0)

    public init() {}

    /// Whether another session holds a lock on `request`'s key that the request conflicts with,
    /// or an earlier request conflicting with it waits there.
    func isBlocked(_ owner: UInt64, _ request: LockRequest) -> Bool {
        state.withLock { s in
            guard let entry = s.entries[request.key] else { return false }
            return !Self.blockers(of: owner, request, in: entry, queuedAhead: entry.queue[...]).isEmpty
        }
    }

    /// Whether `owner` received `request` while waiting and has not claimed it yet.
    func isReserved(_ owner: UInt64, _ request: LockRequest) -> Bool {
        state.withLock { $0.reservations[owner]?[request] != nil }
    }

    /// Whether `owner` holds `request`'s key in its mode or a stronger one, and not merely as
    /// a reservation its statement has yet to claim.
    func holdsClaimed(_ owner: UInt64, _ request: LockRequest) -> Bool {
        state.withLock { s in
            guard let holds = s.entries[request.key]?.holders[owner] else { return false }
            let reserved = s.reservations[owner] ?? [:]
            var modes = [request]
            if request.shared { modes.append(LockRequest(key: request.key, shared: false, scope: request.scope)) }
            return modes.contains { holds.counts[$0.slot] > (reserved[$0] ?? 0) }
        }
    }

    /// True when no session holds any row lock.
    var noRowsLocked: Bool { lockedRows.load(ordering: .acquiring) == 0 }

    /// How many row locks are held now, by every session (tests and diagnostics).
    public var rowLocksHeld: Int { lockedRows.load(ordering: .acquiring) }

    /// Whether any session holds (or has been granted, for its next attempt) a lock on a row of
    /// `relation`: UPDATE and DELETE skip their per-row checks on a table whose rows nobody locks,
    /// however many unique keys other tables' inserts hold.
    func hasRowLocks(in relation: UInt32) -> Bool {
        state.withLock { $0.lockedRowsByRelation[relation] != nil }
    }

    /// How many rows `owner` holds locked.
    func rowsHeld(by owner: UInt64) -> Int { state.withLock { $0.ownedRows[owner] ?? 0 } }

    // MARK: Taking and giving back

    /// Takes the lock if no other session's lock (or earlier waiter) stands in the way, or
    /// claims a reservation for it; false when it would have to wait.
    func tryAcquire(_ owner: Owner, _ request: LockRequest) throws -> Bool {
        try state.withLock { s in
            if let count = s.reservations[owner.id]?[request] {
                s.reservations[owner.id]![request] = count > 1 ? count - 1 : nil
                if s.reservations[owner.id]!.isEmpty { s.reservations[owner.id] = nil }
                return true
            }
            let entry = s.entries[request.key] ?? Entry()
            guard Self.blockers(of: owner.id, request, in: entry, queuedAhead: entry.queue[...]).isEmpty else { return false }
            try grant(owner, request, in: &s)
            return true
        }
    }

    /// Gives back `count` holds of the request's mode and scope (as many as there are).
    func release(_ owner: UInt64, _ request: LockRequest, count: Int = 1) {
        let woken = state.withLock { s -> [Wakeup] in
            guard ungrant(owner, request, count: count, in: &s) else { return [] }
            return wake(request.key, in: &s)
        }
        Self.resume(woken)
    }

    /// How many holds of the request's mode and scope `owner` has (reserved ones included).
    func holdCount(_ owner: UInt64, _ request: LockRequest) -> Int {
        state.withLock { $0.entries[request.key]?.holders[owner]?.counts[request.slot] ?? 0 }
    }

    /// `owner`'s session-level holds, each with its count.
    func sessionHolds(_ owner: UInt64) -> [(LockRequest, Int)] {
        state.withLock { s in
            (s.ownedKeys[owner] ?? []).flatMap { key -> [(LockRequest, Int)] in
                guard let holds = s.entries[key]?.holders[owner] else { return [] }
                return [0, 1].compactMap { slot in holds.counts[slot] > 0 ? (LockRequest(slot: slot, key: key), holds.counts[slot]) : nil }
            }
        }
    }

    /// Gives back every hold of `owner` in `scope` (nil: both), and its reservations then.
    func releaseAll(_ owner: UInt64, scope: LockRequest.Scope?) {
        let woken = state.withLock { s -> [Wakeup] in
            var keys: [LockKey] = []
            for key in s.ownedKeys[owner] ?? [] {
                guard let holds = s.entries[key]?.holders[owner] else { continue }
                for slot in 0..<4 where holds.counts[slot] > 0 {
                    let request = LockRequest(slot: slot, key: key)
                    guard scope == nil || request.scope == scope else { continue }
                    _ = ungrant(owner, request, count: holds.counts[slot], in: &s)
                    keys.append(key)
                }
            }
            if let scope, let reserved = s.reservations[owner] {
                let kept = reserved.filter { $0.key.scope != scope }
                s.reservations[owner] = kept.isEmpty ? nil : kept
            } else if scope == nil {
                s.reservations[owner] = nil
            }
            return keys.flatMap { wake($0, in: &s) }
        }
        Self.resume(woken)
    }

    /// Keeps holds `owner` already has as reservations: its next statement attempt claims
    /// them instead of taking the locks again.
    func reserve(_ owner: UInt64, _ requests: [LockRequest]) {
        guard !requests.isEmpty else { return }
        state.withLock { s in
            for request in requests { s.reservations[owner, default: [:]][request, default: 0] += 1 }
        }
    }

    /// Releases the grants `owner` received while waiting and no statement claimed.
    func dropReservations(_ owner: UInt64) {
        let woken = state.withLock { s -> [Wakeup] in
            guard let reserved = s.reservations.removeValue(forKey: owner) else { return [] }
            for (request, count) in reserved { _ = ungrant(owner, request, count: count, in: &s) }
            return Set(reserved.keys.map(\.key)).flatMap { wake($0, in: &s) }
        }
        Self.resume(woken)
    }

    /// Waits until the lock is granted to `owner`, as a reservation its next attempt claims.
    /// Throws 40P01 at once when the wait would deadlock, and 57014 when the task is cancelled.
    func wait(_ owner: Owner, _ request: LockRequest) async throws {
        let waiterID = state.withLock { s -> UInt64 in
            defer { s.nextWaiterID += 1 }
            return s.nextWaiterID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (outcome, woken) = state.withLock { s -> (Result<Void, any Error>?, [Wakeup]) in
                    if Task.isCancelled { return (.failure(StatementCancellation.error(.userRequest)), []) }
                    let entry = s.entries[request.key] ?? Entry()
                    if Self.blockers(of: owner.id, request, in: entry, queuedAhead: entry.queue[...]).isEmpty {
                        return (reserveGrant(owner, request, in: &s), [])
                    }
                    var woken: [Wakeup] = []
                    if Self.deadlock(owner.id, request, in: s) != nil {
                        // PostgreSQL reorders wait queues before it calls a cycle a deadlock: a
                        // request kept back only by queued ones, not by any holder, goes first.
                        if Self.blockers(of: owner.id, request, in: entry, queuedAhead: []).isEmpty {
                            return (reserveGrant(owner, request, in: &s), [])
                        }
                        woken = grantOutOfTurn(in: &s)
                        if let cycle = Self.deadlock(owner.id, request, in: s) { return (.failure(cycle), woken) }
                    }
                    var queued = s.entries[request.key] ?? Entry()
                    queued.queue.append(Waiter(id: waiterID, owner: owner, request: request, continuation: continuation))
                    s.entries[request.key] = queued
                    s.waiting[owner.id] = request.key
                    return (nil, woken)
                }
                Self.resume(woken)
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let removed = state.withLock { s -> (Waiter, [Wakeup])? in
                guard let key = s.waiting[owner.id], var entry = s.entries[key],
                      let i = entry.queue.firstIndex(where: { $0.id == waiterID }) else { return nil }
                let waiter = entry.queue.remove(at: i)
                s.entries[key] = entry
                s.waiting[owner.id] = nil
                // Requests queued behind this one may now go ahead.
                return (waiter, wake(key, in: &s))
            }
            if let (waiter, woken) = removed {
                waiter.continuation.resume(throwing: StatementCancellation.error(.userRequest))
                Self.resume(woken)
            }
        }
    }

    // MARK: Reading

    /// Every advisory lock held or waited for, for `pg_locks` (row locks are not listed:
    /// PostgreSQL keeps them in the rows, not in its lock table, and does not list them either).
    public func rows() -> [LockRow] {
        let rows = state.withLock { s in
            var rows: [LockRow] = []
            for (key, entry) in s.entries where key.relation == nil {
                for holds in entry.holders.values {
                    if holds.exclusive { rows.append(LockRow(key: key, shared: false, processID: holds.processID, granted: true)) }
                    if holds.shared { rows.append(LockRow(key: key, shared: true, processID: holds.processID, granted: true)) }
                }
                for waiter in entry.queue {
                    rows.append(LockRow(key: key, shared: waiter.request.shared, processID: waiter.owner.processID, granted: false))
                }
            }
            return rows
        }
        return rows.sorted { ($0.processID, $0.key.value, $0.shared ? 1 : 0) < ($1.processID, $1.key.value, $1.shared ? 1 : 0) }
    }

    /// The process ids of the sessions waiting for a lock of either kind now.
    public func waitingProcessIDs() -> Set<Int32> {
        state.withLock { s in Set(s.entries.values.flatMap { $0.queue.map(\.owner.processID) }) }
    }

    // MARK: Under the lock

    /// Sessions whose locks, or earlier queued requests, keep `owner` from `request` now. A
    /// session that already holds the key only waits for holders, not for the queue: a request
    /// queued behind it may be waiting for it, and queueing behind that would deadlock.
    private static func blockers(of owner: UInt64, _ request: LockRequest, in entry: Entry,
                                 queuedAhead: ArraySlice<Waiter>) -> Set<UInt64> {
        var blocking = Set<UInt64>()
        for (other, holds) in entry.holders where other != owner {
            if holds.exclusive || (!request.shared && holds.shared) { blocking.insert(other) }
        }
        if entry.holders[owner] == nil {
            for waiter in queuedAhead where waiter.owner.id != owner && (!waiter.request.shared || !request.shared) {
                blocking.insert(waiter.owner.id)
            }
        }
        return blocking
    }

    /// 40P01 when `owner` waiting for `request` would close a cycle: some session it would wait
    /// for waits, directly or through others, for `owner`.
    private static func deadlock(_ owner: UInt64, _ request: LockRequest, in s: State) -> RedError? {
        guard let entry = s.entries[request.key] else { return nil }
        var pending = Array(blockers(of: owner, request, in: entry, queuedAhead: entry.queue[...]))
        var seen = Set<UInt64>()
        while let session = pending.popLast() {
            if session == owner {
                return RedError(.deadlockDetected, "deadlock detected",
                                detail: "Waiting for \(request.modeName) on \(request.key.description) would wait for a session that waits for this one.")
            }
            guard seen.insert(session).inserted, let key = s.waiting[session], let waited = s.entries[key],
                  let position = waited.queue.firstIndex(where: { $0.owner.id == session }) else { continue }
            pending += blockers(of: session, waited.queue[position].request, in: waited, queuedAhead: waited.queue[..<position])
        }
        return nil
    }

    /// Grants the request as a reservation (what a wait ends with).
    private func reserveGrant(_ owner: Owner, _ request: LockRequest, in s: inout State) -> Result<Void, any Error> {
        do {
            try grant(owner, request, in: &s)
            s.reservations[owner.id, default: [:]][request, default: 0] += 1
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    /// Grants every queued request that no holder keeps back, out of queue order.
    private func grantOutOfTurn(in s: inout State) -> [Wakeup] {
        var woken: [Wakeup] = []
        for key in Array(s.entries.keys) {
            guard var entry = s.entries[key], !entry.queue.isEmpty else { continue }
            var position = 0
            while position < entry.queue.count {
                let waiter = entry.queue[position]
                guard Self.blockers(of: waiter.owner.id, waiter.request, in: entry, queuedAhead: []).isEmpty else {
                    position += 1
                    continue
                }
                entry.queue.remove(at: position)
                s.entries[key] = entry
                s.waiting[waiter.owner.id] = nil
                let granted = reserveGrant(waiter.owner, waiter.request, in: &s)
                if case .failure(let error) = granted { woken.append((waiter.continuation, error)) } else { woken.append((waiter.continuation, nil)) }
                entry = s.entries[key] ?? Entry()
            }
        }
        return woken
    }

    private func grant(_ owner: Owner, _ request: LockRequest, in s: inout State) throws {
        var entry = s.entries[request.key] ?? Entry()
        var holds = entry.holders[owner.id] ?? Holds(processID: owner.processID)
        if holds.isEmpty {
            let rows = s.ownedRows[owner.id] ?? 0
            if let relation = request.key.relation {
                guard rows < Self.maxRowsPerSession else {
                    throw RedError(.limitExceeded, "a session may hold at most \(Self.maxRowsPerSession) rows locked at once (FOR UPDATE / FOR SHARE); lock fewer rows per transaction")
                }
                s.ownedRows[owner.id] = rows + 1
                s.lockedRowsByRelation[relation, default: 0] += 1
                lockedRows.add(1, ordering: .releasing)
            } else {
                guard (s.ownedKeys[owner.id]?.count ?? 0) - rows < Self.maxKeysPerSession else {
                    throw RedError(.limitExceeded, "a session may hold advisory locks on at most \(Self.maxKeysPerSession) keys at once; unlock some first")
                }
            }
            s.ownedKeys[owner.id, default: []].insert(request.key)
        }
        holds.counts[request.slot] += 1
        entry.holders[owner.id] = holds
        s.entries[request.key] = entry
    }

    /// Takes `count` holds of the request's slot from `owner`; false when it has none.
    private func ungrant(_ owner: UInt64, _ request: LockRequest, count: Int, in s: inout State) -> Bool {
        guard var entry = s.entries[request.key], var holds = entry.holders[owner], holds.counts[request.slot] > 0 else { return false }
        holds.counts[request.slot] -= min(count, holds.counts[request.slot])
        if holds.isEmpty {
            entry.holders[owner] = nil
            if let relation = request.key.relation {
                s.ownedRows[owner] = (s.ownedRows[owner] ?? 1) > 1 ? s.ownedRows[owner]! - 1 : nil
                s.lockedRowsByRelation[relation] = (s.lockedRowsByRelation[relation] ?? 1) > 1 ? s.lockedRowsByRelation[relation]! - 1 : nil
                lockedRows.subtract(1, ordering: .releasing)
            }
            s.ownedKeys[owner]?.remove(request.key)
            if s.ownedKeys[owner]?.isEmpty == true { s.ownedKeys[owner] = nil }
        } else {
            entry.holders[owner] = holds
        }
        s.entries[request.key] = entry.isEmpty ? nil : entry
        return true
    }

    /// A waiter to resume once the table's lock is let go: granted (nil) or failed.
    private typealias Wakeup = (continuation: CheckedContinuation<Void, any Error>, error: (any Error)?)

    /// Grants, in queue order, every waiter on `key` that nothing holds or queues ahead of.
    private func wake(_ key: LockKey, in s: inout State) -> [Wakeup] {
        guard var entry = s.entries[key], !entry.queue.isEmpty else { return [] }
        var woken: [Wakeup] = []
        var position = 0
        while position < entry.queue.count {
            let waiter = entry.queue[position]
            guard Self.blockers(of: waiter.owner.id, waiter.request, in: entry, queuedAhead: entry.queue[..<position]).isEmpty else {
                position += 1
                continue
            }
            entry.queue.remove(at: position)
            s.entries[key] = entry
            s.waiting[waiter.owner.id] = nil
            // A failure is the session's key limit: the waiter gets the error instead.
            if case .failure(let error) = reserveGrant(waiter.owner, waiter.request, in: &s) {
                woken.append((waiter.continuation, error))
            } else {
                woken.append((waiter.continuation, nil))
            }
            entry = s.entries[key] ?? Entry()
        }
        s.entries[key] = entry.isEmpty ? nil : entry
        return woken
    }

    private static func resume(_ woken: [Wakeup]) {
        for (continuation, error) in woken {
            if let error { continuation.resume(throwing: error) } else { continuation.resume() }
        }
    }
}

/// A lock's key: an advisory lock's (`pg_advisory_lock(bigint)` or `pg_advisory_lock(int, int)`)
/// or a table row's.
public struct LockKey: Hashable, Sendable, CustomStringConvertible {
    /// The bigint, or the pair as `first << 32 | second`; a row's id.
    public var value: Int64
    /// Made from two integers: its own key space, as PostgreSQL's `objsubid` 2 is.
    public var isPair: Bool
    /// A row's collection id; nil for an advisory lock.
    public var relation: UInt32?

    public init(_ value: Int64) {
        self.value = value
        self.isPair = false
    }

    public init(_ first: Int32, _ second: Int32) {
        self.value = Int64(first) << 32 | Int64(UInt32(bitPattern: second))
        self.isPair = true
    }

    /// The row `rid` of the collection with id `collection`.
    public init(row rid: Int64, collection: UInt32) {
        self.value = rid
        self.isPair = false
        self.relation = collection
    }

    /// For messages: "advisory lock 42", or "a row of relation id 7" (callers that know the
    /// table's name say it themselves).
    public var description: String {
        relation.map { "row \(value) of relation id \($0)" } ?? "advisory lock \(displayText)"
    }

    /// `pg_locks.classid`: the bigint's high half, or the pair's first integer.
    public var classID: UInt32 { UInt32(truncatingIfNeeded: value >> 32) }
    /// `pg_locks.objid`: the bigint's low half, or the pair's second integer.
    public var objectID: UInt32 { UInt32(truncatingIfNeeded: value) }
    /// `pg_locks.objsubid`: 1 for a bigint key, 2 for a pair.
    public var subID: Int16 { isPair ? 2 : 1 }

    public var displayText: String {
        isPair ? "(\(Int32(truncatingIfNeeded: value >> 32)), \(Int32(truncatingIfNeeded: value)))" : "\(value)"
    }
}

/// What one lock function call asks for.
public struct LockRequest: Hashable, Sendable {
    public enum Scope: Sendable { case session, transaction }

    public var key: LockKey
    public var shared: Bool
    public var scope: Scope

    public init(key: LockKey, shared: Bool, scope: Scope) {
        self.key = key
        self.shared = shared
        self.scope = scope
    }

    /// The request counted in `slot` of a holder's counts.
    init(slot: Int, key: LockKey) {
        self.init(key: key, shared: slot & 1 == 1, scope: slot & 2 == 2 ? .transaction : .session)
    }

    /// Where a holder counts it: exclusive/shared × session/transaction.
    var slot: Int { (shared ? 1 : 0) + (scope == .transaction ? 2 : 0) }

    /// PostgreSQL's name for the mode (`pg_locks.mode`, messages).
    public var modeName: String { shared ? "ShareLock" : "ExclusiveLock" }
}

/// Thrown by a lock function, or a statement locking rows, whose lock another session holds:
/// the session waits for it and runs the statement again (see `LockTable`).
public struct LockWait: Error, Sendable {
    public var request: LockRequest
    /// The lock for messages: "advisory lock 42", "a row of relation \"jobs\"".
    public var what: String
}
