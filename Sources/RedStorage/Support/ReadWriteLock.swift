#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RedCore

/// A reader-writer lock (pthread_rwlock) for the B+tree: many readers or one
/// writer. Writers hold it only while applying a commit; readers hold it for
/// one leaf batch at a time, so neither waits long for the other.
///
/// **Spin before sleeping.** A small commit holds the lock for 2–3 µs, but a thread
/// that finds it taken and sleeps in pthread's futex pays a context switch, and its
/// waker a wake-up, of about 10 µs each on a small VM. With two commits racing on two
/// cores that cost dominated: 8 writers without fsync reached only 0.69× the rate of
/// one (`red bench storage --commits-only --sync-mode off --writers 1 --writers 8`;
/// 40 % of the time in futex wait and wake). So a contended acquire first retries
/// for a bounded number of rounds, each giving up the core with `sched_yield` (a
/// runnable thread on this core goes first; none, and it returns at once), and
/// only then blocks. The bound (`spinRounds`, tens of µs) keeps a waiter behind a
/// long holder, such as a bulk load's batch, from burning a core for long.
public final class ReadWriteLock: @unchecked Sendable {
    /// Retries of a contended acquire before it blocks.
    static let spinRounds = 64
    /// Retries before a reader or writer that must not wait (on an event loop) gives up.
    static let nonBlockingSpinRounds = 4

    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    public init() {
        lock = .allocate(capacity: 1)
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        #if canImport(Glibc)
        // Prefer writers so a stream of readers cannot starve commits.
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        #endif
        pthread_rwlock_init(lock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    /// Under `NonBlockingExecution` a reader that would wait for a writer throws `WouldBlock`
    /// instead, after a few retries only (a small commit's hold), since it runs on an event loop;
    /// the try comes first, so the uncontended path costs what a plain lock does.
    public func withReadLock<R>(_ body: () throws -> R) throws -> R {
        if pthread_rwlock_tryrdlock(lock) != 0 {
            let rounds = NonBlockingExecution.isActive ? Self.nonBlockingSpinRounds : Self.spinRounds
            if !spin(rounds: rounds, { pthread_rwlock_tryrdlock($0) }) {
                try NonBlockingExecution.refuseIfActive(.treeLocked)
                pthread_rwlock_rdlock(lock)
            }
        }
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    /// A writer that must not wait (an inline commit on an event loop, `refusing`) throws
    /// `WouldBlock` after a few retries instead of blocking: another commit, a vacuum step or
    /// a checkpoint may hold the lock for milliseconds, and every connection on that loop
    /// would wait with it. Nothing has run under the lock then, so the caller can still go
    /// the waiting way.
    public func withWriteLock<R>(refusing: Bool, _ body: () throws -> R) throws -> R {
        guard refusing else { return try withWriteLock(body) }
        if pthread_rwlock_trywrlock(lock) != 0 && !spin(rounds: Self.nonBlockingSpinRounds, { pthread_rwlock_trywrlock($0) }) {
            throw WouldBlock(reason: .treeLocked)
        }
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    public func withWriteLock<R>(_ body: () throws -> R) rethrows -> R {
        if pthread_rwlock_trywrlock(lock) != 0 && !spin(rounds: Self.spinRounds, { pthread_rwlock_trywrlock($0) }) {
            pthread_rwlock_wrlock(lock)
        }
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    /// Retries `attempt` up to `rounds` times, yielding the core between tries; true once it succeeds.
    private func spin(rounds: Int, _ attempt: (UnsafeMutablePointer<pthread_rwlock_t>) -> Int32) -> Bool {
        for _ in 0..<rounds {
            sched_yield()
            if attempt(lock) == 0 { return true }
        }
        return false
    }
}
