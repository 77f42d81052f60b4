import Dispatch
import Synchronization

/// The queue `OffThreadWork` runs on: a serial queue of its own targets Dispatch's
/// overcommitting pool, which starts a thread whenever none is free, so the work never waits
/// for the very threads blocked on it. (Commits that use it hold the tree's lock, so one
/// runs at a time.)
private let offThreadQueue = DispatchQueue(label: "reddb.off-thread-work", qos: .userInitiated)

/// One piece of work run on a Dispatch thread while the caller does another, then joined.
///
/// Why a Dispatch queue and not a task: the caller joins synchronously, under the tree's write
/// lock, and a task would need a thread of Swift's cooperative pool, which may be the very
/// thread blocked joining it (the pool has one thread per core). Handing work over costs a
/// thread wake-up (tens of µs on a small VM), so this is for work of a millisecond or more:
/// a large commit's WAL record.
final class OffThreadWork<T: Sendable>: Sendable {
    private let outcome = Mutex<Result<T, any Error>?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts `body` on another thread.
    init(_ body: @escaping @Sendable () throws -> T) {
        offThreadQueue.async { [self] in
            let result = Result { try body() }
            outcome.withLock { $0 = result }
            finished.signal()
        }
    }

    /// Waits for the work and returns its result (or throws its error). Call once.
    func join() throws -> T {
        finished.wait()
        return try outcome.withLock { $0! }.get()
    }
}
