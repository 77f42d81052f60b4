import Synchronization

/// Wakes a loop that otherwise sleeps: `wait(upTo:)` returns when `ring()` is called or the
/// time is up; a ring while nobody waits is kept for the next wait (so none is lost).
final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var nextID: UInt64 = 0
        /// A wait whose timer fired before the wait registered: it returns at once.
        var expired: UInt64?
    }

    private let state = Mutex(State())

    func ring() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let waiter = s.waiter else {
                s.rung = true
                return nil
            }
            s.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }

    /// One waiter at a time (the loop that owns the bell).
    func wait(upTo duration: Duration) async {
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1
            return s.nextID
        }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: duration)
            self?.wake(id)
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.rung || s.expired == id {
                    s.rung = false
                    return true
                }
                s.waiter = (id, continuation)
                return false
            }
            if now { continuation.resume() }
        }
        timer.cancel()
    }

    /// The timer of wait `id`: resumes that wait only (a late timer finds nothing to do).
    private func wake(_ id: UInt64) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let waiter = s.waiter, waiter.id == id else {
                if s.nextID == id { s.expired = id }  // the wait has not registered yet
                return nil
            }
            s.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }
}
