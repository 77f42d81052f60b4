import Synchronization

/// The bytes one RedWire connection holds for requests it has read but not yet answered
/// (queued behind their stream's running request, or being handled), each request counted
/// as `RedWireConnection.pendingCharge` says: its payload, and at least 64 KiB.
///
/// Why: per-stream frame counts alone allow 1,024 streams × 1,024 frames × 16 MiB of queued
/// payloads. Over `limitBytes` the connection's reader stops reading (`acquire` waits) until
/// requests finish, so the kernel's socket buffer and TCP flow control push back on a client
/// that sends faster than its requests are served — a bulk load slows down instead of failing.
///
/// Invariants:
/// - `heldBytes` is the sum of `acquire`d sizes not yet `release`d;
/// - it exceeds `limitBytes` only by one frame: a frame larger than the room left is admitted
///   when nothing else is held, so a single large frame can never wait forever;
/// - one reader acquires (at most one waiter); any stream task releases.
final class PendingFrameBytes: Sendable {
    let limitBytes: Int
    private struct State {
        var heldBytes = 0
        var waiter: (bytes: Int, continuation: CheckedContinuation<Void, Never>)?
        /// Set once a stream's task has failed (the connection is going away): the frames left
        /// in its queue are never released, so limiting stops and the reader runs on to EOF.
        var abandoned = false
    }
    private let state = Mutex(State())

    init(limitBytes: Int) { self.limitBytes = limitBytes }

    var heldBytes: Int { state.withLock { $0.heldBytes } }

    /// Takes room for `bytes`, waiting while the connection holds too much.
    func acquire(_ bytes: Int) async {
        if state.withLock({ take(bytes, &$0) }) { return }
        await withCheckedContinuation { continuation in
            let admitted = state.withLock { s -> Bool in
                if take(bytes, &s) { return true }
                precondition(s.waiter == nil, "one reader acquires")
                s.waiter = (bytes, continuation)
                return false
            }
            if admitted { continuation.resume() }
        }
    }

    /// Gives back the room of a request that is answered (or refused).
    func release(_ bytes: Int) {
        let resumed = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.heldBytes -= bytes
            guard let waiter = s.waiter, take(waiter.bytes, &s) else { return nil }
            s.waiter = nil
            return waiter.continuation
        }
        resumed?.resume()
    }

    /// Stops limiting for good and lets a waiting reader go.
    func abandon() {
        let resumed = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.abandoned = true
            defer { s.waiter = nil }
            return s.waiter?.continuation
        }
        resumed?.resume()
    }

    /// Takes room for `bytes` if there is some (or limiting has stopped).
    private func take(_ bytes: Int, _ s: inout State) -> Bool {
        guard s.abandoned || s.heldBytes == 0 || s.heldBytes + bytes <= limitBytes else { return false }
        s.heldBytes += bytes
        return true
    }
}
