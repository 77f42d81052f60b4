import RedCore
import Synchronization

/// PostgreSQL's advisory locks (`pg_advisory_lock` and its family): locks on numbers an
/// application chooses, which the database only keeps, queues and releases. Migration tools
/// (Prisma, Rails, sqlx, golang-migrate, Flyway) take one so two deploys never migrate at once.
///
/// One `AdvisoryLockTable` per database holds every session's locks; a session reaches it
/// through its `SessionAdvisoryLocks`. As in PostgreSQL:
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
/// When its lock is taken it throws `AdvisoryLockWait`; the session gives back what the attempt
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
public final class AdvisoryLockTable: Sendable {
    /// Distinct keys one session may hold at once; PostgreSQL's shared lock table is bounded
    /// too (`max_locks_per_transaction`), and past it a client could grow the server's memory.
    public static let maxKeysPerSession = 65_536

    /// A lock holder or waiter: a session, and the process id `pg_locks` shows for it.
    public struct Owner: Hashable, Sendable {
        public var id: UInt64
        public var processID: Int32
    }

    /// One row of `pg_locks`: a lock held (or waited for) by a session.
    public struct LockRow: Sendable {
        public var key: AdvisoryLockKey
        public var shared: Bool
        public var processID: Int32
        public var granted: Bool
    }

    /// How many times a session holds one key, by mode and scope.
    private struct Holds {
        /// Indexed by `AdvisoryLockRequest.slot`.
        var counts = [0, 0, 0, 0]
        var processID: Int32
        var isEmpty: Bool { counts == [0, 0, 0, 0] }
        var exclusive: Bool { counts[0] + counts[2] > 0 }
        var shared: Bool { counts[1] + counts[3] > 0 }
    }

    private struct Waiter {
        var id: UInt64
        var owner: Owner
        var request: AdvisoryLockRequest
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct Entry {
        var holders: [UInt64: Holds] = [:]
        var queue: [Waiter] = []
        var isEmpty: Bool { holders.isEmpty && queue.isEmpty }
    }

    private struct State {
        var entries: [AdvisoryLockKey: Entry] = [:]
        /// Owner id → the key it waits for.
        var waiting: [UInt64: AdvisoryLockKey] = [:]
        /// Owner id → grants received while waiting, not yet claimed by a statement.
        var reservations: [UInt64: [AdvisoryLockRequest]] = [:]
        /// Owner id → the keys it holds: what `releaseAll` visits, and `maxKeysPerSession`'s count.
        var ownedKeys: [UInt64: Set<AdvisoryLockKey>] = [:]
        var nextWaiterID: UInt64 = 1
    }

    private let state = Mutex(State())

    public init() {}

    // MARK: Taking and giving back

    /// Takes the lock if no other session's lock (or earlier waiter) stands in the way, or
    /// claims a reservation for it; false when it would have to wait.
    func tryAcquire(_ owner: Owner, _ request: AdvisoryLockRequest) throws -> Bool {
        try state.withLock { s in
            if var reserved = s.reservations[owner.id], let i = reserved.firstIndex(of: request) {
                reserved.remove(at: i)
                s.reservations[owner.id] = reserved.isEmpty ? nil : reserved
                return true
            }
            let entry = s.entries[request.key] ?? Entry()
            guard Self.blockers(of: owner.id, request, in: entry, queuedAhead: entry.queue[...]).isEmpty else { return false }
            try Self.grant(owner, request, in: &s)
            return true
        }
    }

    /// Gives back `count` holds of the request's mode and scope (as many as there are).
    func release(_ owner: UInt64, _ request: AdvisoryLockRequest, count: Int = 1) {
        let woken = state.withLock { s -> [Wakeup] in
            guard Self.ungrant(owner, request, count: count, in: &s) else { return [] }
            return Self.wake(request.key, in: &s)
        }
        Self.resume(woken)
    }

    /// How many holds of the request's mode and scope `owner` has (reserved ones included).
    func holdCount(_ owner: UInt64, _ request: AdvisoryLockRequest) -> Int {
        state.withLock { $0.entries[request.key]?.holders[owner]?.counts[request.slot] ?? 0 }
    }

    /// `owner`'s session-level holds, each with its count.
    func sessionHolds(_ owner: UInt64) -> [(AdvisoryLockRequest, Int)] {
        state.withLock { s in
            (s.ownedKeys[owner] ?? []).flatMap { key -> [(AdvisoryLockRequest, Int)] in
                guard let holds = s.entries[key]?.holders[owner] else { return [] }
                return [0, 1].compactMap { slot in holds.counts[slot] > 0 ? (AdvisoryLockRequest(slot: slot, key: key), holds.counts[slot]) : nil }
            }
        }
    }

    /// Gives back every hold of `owner` in `scope` (nil: both), and its reservations then.
    func releaseAll(_ owner: UInt64, scope: AdvisoryLockRequest.Scope?) {
        let woken = state.withLock { s -> [Wakeup] in
            var keys: [AdvisoryLockKey] = []
            for key in s.ownedKeys[owner] ?? [] {
                guard let holds = s.entries[key]?.holders[owner] else { continue }
                for slot in 0..<4 where holds.counts[slot] > 0 {
                    let request = AdvisoryLockRequest(slot: slot, key: key)
                    guard scope == nil || request.scope == scope else { continue }
                    _ = Self.ungrant(owner, request, count: holds.counts[slot], in: &s)
                    keys.append(key)
                }
            }
            if let scope, let reserved = s.reservations[owner] {
                let kept = reserved.filter { $0.scope != scope }
                s.reservations[owner] = kept.isEmpty ? nil : kept
            } else if scope == nil {
                s.reservations[owner] = nil
            }
            return keys.flatMap { Self.wake($0, in: &s) }
        }
        Self.resume(woken)
    }

    /// Keeps holds `owner` already has as reservations: its next statement attempt claims
    /// them instead of taking the locks again.
    func reserve(_ owner: UInt64, _ requests: [AdvisoryLockRequest]) {
        guard !requests.isEmpty else { return }
        state.withLock { $0.reservations[owner, default: []] += requests }
    }

    /// Releases the grants `owner` received while waiting and no statement claimed.
    func dropReservations(_ owner: UInt64) {
        let woken = state.withLock { s -> [Wakeup] in
            guard let reserved = s.reservations.removeValue(forKey: owner) else { return [] }
            for request in reserved { _ = Self.ungrant(owner, request, count: 1, in: &s) }
            return Set(reserved.map(\.key)).flatMap { Self.wake($0, in: &s) }
        }
        Self.resume(woken)
    }

    /// Waits until the lock is granted to `owner`, as a reservation its next attempt claims.
    /// Throws 40P01 at once when the wait would deadlock, and 57014 when the task is cancelled.
    func wait(_ owner: Owner, _ request: AdvisoryLockRequest) async throws {
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
                        return (Self.reserveGrant(owner, request, in: &s), [])
                    }
                    var woken: [Wakeup] = []
                    if Self.deadlock(owner.id, request, in: s) != nil {
                        // PostgreSQL reorders wait queues before it calls a cycle a deadlock: a
                        // request kept back only by queued ones, not by any holder, goes first.
                        if Self.blockers(of: owner.id, request, in: entry, queuedAhead: []).isEmpty {
                            return (Self.reserveGrant(owner, request, in: &s), [])
                        }
                        woken = Self.grantOutOfTurn(in: &s)
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
                return (waiter, Self.wake(key, in: &s))
            }
            if let (waiter, woken) = removed {
                waiter.continuation.resume(throwing: StatementCancellation.error(.userRequest))
                Self.resume(woken)
            }
        }
    }

    // MARK: Reading

    /// Every lock held or waited for, for `pg_locks`.
    public func rows() -> [LockRow] {
        let rows = state.withLock { s in
            var rows: [LockRow] = []
            for (key, entry) in s.entries {
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

    // MARK: Under the lock

    /// Sessions whose locks, or earlier queued requests, keep `owner` from `request` now. A
    /// session that already holds the key only waits for holders, not for the queue: a request
    /// queued behind it may be waiting for it, and queueing behind that would deadlock.
    private static func blockers(of owner: UInt64, _ request: AdvisoryLockRequest, in entry: Entry,
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
    private static func deadlock(_ owner: UInt64, _ request: AdvisoryLockRequest, in s: State) -> RedError? {
        guard let entry = s.entries[request.key] else { return nil }
        var pending = Array(blockers(of: owner, request, in: entry, queuedAhead: entry.queue[...]))
        var seen = Set<UInt64>()
        while let session = pending.popLast() {
            if session == owner {
                return RedError(.deadlockDetected, "deadlock detected",
                                detail: "Waiting for \(request.modeName) on advisory lock \(request.key.displayText) would wait for a session that waits for this one.")
            }
            guard seen.insert(session).inserted, let key = s.waiting[session], let waited = s.entries[key],
                  let position = waited.queue.firstIndex(where: { $0.owner.id == session }) else { continue }
            pending += blockers(of: session, waited.queue[position].request, in: waited, queuedAhead: waited.queue[..<position])
        }
        return nil
    }

    /// Grants the request as a reservation (what a wait ends with).
    private static func reserveGrant(_ owner: Owner, _ request: AdvisoryLockRequest, in s: inout State) -> Result<Void, any Error> {
        do {
            try grant(owner, request, in: &s)
            s.reservations[owner.id, default: []].append(request)
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    /// Grants every queued request that no holder keeps back, out of queue order.
    private static func grantOutOfTurn(in s: inout State) -> [Wakeup] {
        var woken: [Wakeup] = []
        for key in Array(s.entries.keys) {
            guard var entry = s.entries[key], !entry.queue.isEmpty else { continue }
            var position = 0
            while position < entry.queue.count {
                let waiter = entry.queue[position]
                guard blockers(of: waiter.owner.id, waiter.request, in: entry, queuedAhead: []).isEmpty else {
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

    private static func grant(_ owner: Owner, _ request: AdvisoryLockRequest, in s: inout State) throws {
        var entry = s.entries[request.key] ?? Entry()
        var holds = entry.holders[owner.id] ?? Holds(processID: owner.processID)
        if holds.isEmpty {
            let owned = s.ownedKeys[owner.id]?.count ?? 0
            guard owned < maxKeysPerSession else {
                throw RedError(.limitExceeded, "a session may hold advisory locks on at most \(maxKeysPerSession) keys at once; unlock some first")
            }
            s.ownedKeys[owner.id, default: []].insert(request.key)
        }
        holds.counts[request.slot] += 1
        entry.holders[owner.id] = holds
        s.entries[request.key] = entry
    }

    /// Takes `count` holds of the request's slot from `owner`; false when it has none.
    private static func ungrant(_ owner: UInt64, _ request: AdvisoryLockRequest, count: Int, in s: inout State) -> Bool {
        guard var entry = s.entries[request.key], var holds = entry.holders[owner], holds.counts[request.slot] > 0 else { return false }
        holds.counts[request.slot] -= min(count, holds.counts[request.slot])
        if holds.isEmpty {
            entry.holders[owner] = nil
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
    private static func wake(_ key: AdvisoryLockKey, in s: inout State) -> [Wakeup] {
        guard var entry = s.entries[key], !entry.queue.isEmpty else { return [] }
        var woken: [Wakeup] = []
        var position = 0
        while position < entry.queue.count {
            let waiter = entry.queue[position]
            guard blockers(of: waiter.owner.id, waiter.request, in: entry, queuedAhead: entry.queue[..<position]).isEmpty else {
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

/// An advisory lock's key: `pg_advisory_lock(bigint)` or `pg_advisory_lock(int, int)`.
public struct AdvisoryLockKey: Hashable, Sendable {
    /// The bigint, or the pair as `first << 32 | second`.
    public var value: Int64
    /// Made from two integers: its own key space, as PostgreSQL's `objsubid` 2 is.
    public var isPair: Bool

    public init(_ value: Int64) {
        self.value = value
        self.isPair = false
    }

    public init(_ first: Int32, _ second: Int32) {
        self.value = Int64(first) << 32 | Int64(UInt32(bitPattern: second))
        self.isPair = true
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
public struct AdvisoryLockRequest: Hashable, Sendable {
    public enum Scope: Sendable { case session, transaction }

    public var key: AdvisoryLockKey
    public var shared: Bool
    public var scope: Scope

    public init(key: AdvisoryLockKey, shared: Bool, scope: Scope) {
        self.key = key
        self.shared = shared
        self.scope = scope
    }

    /// The request counted in `slot` of a holder's counts.
    init(slot: Int, key: AdvisoryLockKey) {
        self.init(key: key, shared: slot & 1 == 1, scope: slot & 2 == 2 ? .transaction : .session)
    }

    /// Where a holder counts it: exclusive/shared × session/transaction.
    var slot: Int { (shared ? 1 : 0) + (scope == .transaction ? 2 : 0) }

    /// PostgreSQL's name for the mode (`pg_locks.mode`, messages).
    public var modeName: String { shared ? "ShareLock" : "ExclusiveLock" }
}

/// Thrown by a lock function whose lock another session holds: the session waits for it and
/// runs the statement again (see `AdvisoryLockTable`).
public struct AdvisoryLockWait: Error, Sendable {
    public var request: AdvisoryLockRequest
}
