import Dispatch
import Synchronization

/// One piece of work run on a Dispatch thread while the caller does another, then joined.
///
/// Why a Dispatch queue and not a task: the caller joins synchronously, under the tree's write
/// lock, and a task would need a thread of Swift's cooperative pool, which may be the very
/// thread blocked joining it (the pool has one thread per core). Dispatch's own queues grow a
/// thread when theirs are busy. Handing work over costs a thread wake-up (tens of µs on a
/// small VM), so this is for work of a millisecond or more: a large commit's WAL record.
final class OffThreadWork<T: Sendable>: Sendable {
    private let outcome = Mutex<Result<T, any Error>?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    private static var queue: DispatchQueue { DispatchQueue.global(qos: .userInitiated) }

    /// Starts `body` on another thread.
    init(_ body: @escaping @Sendable () throws -> T) {
        Self.queue.async { [self] in
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
