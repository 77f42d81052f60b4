import RedCore
import Synchronization

/// Lets a definition change built from a collection's rows (CREATE INDEX, a constraint
/// checked, a default written) finish on a collection that is written all the time.
///
/// `CollectionStamps` fails such a change with 40001 when a write to the collection committed
/// after its snapshot. An autocommit statement retries, but under a steady stream of writes
/// every retry met a new one, and CREATE INDEX on a busy table failed after its 8 attempts,
/// where PostgreSQL makes the writers wait instead. So a definition change that failed that
/// way closes a gate on the collection: commits writing it wait at the gate (before the tree
/// lock) rather than commit. The retry then starts after every write that got through, builds
/// from complete rows, and commits; its commit opens the gate. The writers that waited go on:
/// into the new definition, or, when their snapshots predate it, into 40001 and a retry as
/// before.
///
/// Writers never wait for a change that has not failed once. A gate opens by itself after one
/// second plus twice as long as the failed attempt took (its retry should take about as long),
/// so a change given up (an explicit transaction's COMMIT that failed, a session gone) holds
/// writers back about that long, no more. The change itself passes its own gate.
final class DefinitionGates: Sendable {
    private let gates = Mutex<[UInt32: ContinuousClock.Instant]>([:])
    /// Whether any gate may be closed: the common case checks only this.
    private let anyClosed = Atomic<Bool>(false)
    static let minimumHold = Duration.seconds(1)

    /// Closes the gates on `ids` for a change that failed after running since `began`.
    func close(_ ids: Set<UInt32>, tookSince began: ContinuousClock.Instant?) {
        guard !ids.isEmpty else { return }
        let now = ContinuousClock.now
        let until = now + Self.minimumHold + (began.map { (now - $0) * 2 } ?? .zero)
        gates.withLock { g in
            for id in ids { g[id] = max(g[id] ?? until, until) }
            anyClosed.store(true, ordering: .sequentiallyConsistent)
        }
    }

    func open(_ ids: Set<UInt32>) {
        guard !ids.isEmpty, anyClosed.load(ordering: .sequentiallyConsistent) else { return }
        gates.withLock { g in
            for id in ids { g[id] = nil }
            anyClosed.store(!g.isEmpty, ordering: .sequentiallyConsistent)
        }
    }

    /// Whether any gate is closed now (one atomic load when none is; expired gates are cleared).
    var anyClosedNow: Bool {
        guard anyClosed.load(ordering: .sequentiallyConsistent) else { return false }
        return gates.withLock { g in
            let now = ContinuousClock.now
            g = g.filter { $0.value > now }
            anyClosed.store(!g.isEmpty, ordering: .sequentiallyConsistent)
            return !g.isEmpty
        }
    }

    /// Whether `wait` would wait now: a gate is closed on a collection in `written` other
    /// than those in `passing` (`StorageEngine.commitNow` then leaves the commit to `commit`).
    func wouldWait(writing written: [UInt32], passing: Set<UInt32>) -> Bool {
        guard anyClosed.load(ordering: .sequentiallyConsistent) else { return false }
        let now = ContinuousClock.now
        return gates.withLock { g in written.contains { (g[$0].map { $0 > now } ?? false) && !passing.contains($0) } }
    }

    /// Returns once no gate is closed on a collection in `written`, other than those in
    /// `passing` (the ones the committing change builds on).
    func wait(writing written: [UInt32], passing: Set<UInt32>) async throws {
        guard anyClosed.load(ordering: .sequentiallyConsistent) else { return }
        while true {
            let blocked = gates.withLock { g -> Bool in
                let now = ContinuousClock.now
                g = g.filter { $0.value > now }
                anyClosed.store(!g.isEmpty, ordering: .sequentiallyConsistent)
                return written.contains { g[$0] != nil && !passing.contains($0) }
            }
            guard blocked else { return }
            try NonBlockingExecution.refuseIfActive(.longRunning)
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}
