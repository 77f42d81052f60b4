#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RedCore

/// A reader-writer lock (pthread_rwlock) for the B+tree: many readers or one
/// writer. Writers hold it only while applying a commit; readers hold it for
/// one leaf batch at a time, so neither waits long for the other.
public final class ReadWriteLock: @unchecked Sendable {
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
    /// instead; the try comes first, so the uncontended path costs what a plain lock does.
    public func withReadLock<R>(_ body: () throws -> R) throws -> R {
        if pthread_rwlock_tryrdlock(lock) != 0 {
            try NonBlockingExecution.refuseIfActive(.treeLocked)
            pthread_rwlock_rdlock(lock)
        }
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    public func withWriteLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}
