import RedCore
import Synchronization

/// Tracks which commit timestamps are visible and which snapshots are open.
///
/// - `visibleTS`: the newest commit a new snapshot sees. It advances only
///   when a commit may be acknowledged (durable in `full` mode), and jumps:
///   durability is a prefix of commit order, so publishing T also covers
///   every commit below T.
/// - the *horizon*: the oldest open snapshot (or `visibleTS` if none). No
///   snapshot older than it can start any more, so versions hidden below it
///   are garbage.
final class SnapshotRegistry: Sendable {
    struct State {
        var visibleTS: UInt64
        var open: [UInt64: Int] = [:]
        /// Set while transactions may not begin (`closeToTransactions`): why.
        var closedToTransactions: RedError?
    }

    private let state: Mutex<State>

    init(visibleTS: UInt64) { state = Mutex(State(visibleTS: visibleTS)) }

    var visibleTS: UInt64 { state.withLock { $0.visibleTS } }

    func withState<R>(_ body: (inout State) -> R) -> R { state.withLock { body(&$0) } }

    /// Opens a snapshot at the current visible timestamp.
    func acquire() -> UInt64 {
        state.withLock { s in
            s.open[s.visibleTS, default: 0] += 1
            return s.visibleTS
        }
    }

    /// Opens a transaction's snapshot, unless transactions are shut out for now.
    func acquireForTransaction() throws -> UInt64 {
        try state.withLock { s in
            if let reason = s.closedToTransactions { throw reason }
            s.open[s.visibleTS, default: 0] += 1
            return s.visibleTS
        }
    }

    /// Shuts new transactions out (they fail with `reason`) until `reopenToTransactions`;
    /// snapshots already open stay, and the engine's own work goes on.
    func closeToTransactions(_ reason: RedError?) { state.withLock { $0.closedToTransactions = reason } }

    /// Snapshots open now, of transactions and of the engine's own work.
    var openCount: Int { state.withLock { $0.open.values.reduce(0, +) } }

    func release(_ ts: UInt64) {
        state.withLock { s in
            guard let n = s.open[ts] else { preconditionFailure("releasing unknown snapshot \(ts)") }
            s.open[ts] = n == 1 ? nil : n - 1
        }
    }

    func publish(_ ts: UInt64) {
        state.withLock { s in s.visibleTS = max(s.visibleTS, ts) }
    }

    var horizon: UInt64 {
        // Never above visibleTS: a replication snapshot registers the newest commit before it
        // is visible, and versions that readers at visibleTS still need must not be trimmed.
        state.withLock { s in min(s.open.keys.min() ?? s.visibleTS, s.visibleTS) }
    }
}
