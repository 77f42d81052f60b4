import Synchronization

/// A lock for async code: at most one holder, waiters suspend (no thread is
/// blocked). Used to run one checkpoint at a time.
public final class AsyncMutex: Sendable {
    public init() {}
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    public func lock() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { s in
                if !s.locked {
                    s.locked = true
                    return true
                }
                s.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    /// Takes the lock if it is free, without waiting; true when taken.
    public func tryLock() -> Bool {
        state.withLock { s in
            if s.locked { return false }
            s.locked = true
            return true
        }
    }

    public func unlock() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.locked = false
                return nil
            }
            return s.waiters.removeFirst()  // stays locked: ownership passes to the waiter
        }
        next?.resume()
    }

    public func withLock<R: Sendable>(_ body: () async throws -> R) async throws -> R {
        await lock()
        defer { unlock() }
        return try await body()
    }
}
