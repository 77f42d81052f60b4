/// Running a statement on a network event loop's own thread, where it must not wait.
///
/// Why: a server that hands every request from its event loop to Swift's shared pool and
/// the reply back pays two thread wake-ups per round trip, more than the whole work of a
/// point `SELECT`. So a surface may first try a short read-only request right on the loop,
/// with `isActive` set. Inside that scope every place that could wait refuses instead, by
/// throwing `WouldBlock`:
/// - a page not in the page cache (reading it is disk I/O);
/// - the B+tree's shared lock while a commit holds it (a large commit holds it for
///   milliseconds);
/// - a statement's first cancellation checkpoint (every 4,096 rows scanned or produced),
///   so no more than that much work is done before giving up.
///
/// The surface then runs the same request again on the shared pool, from the start, as if
/// the first attempt never happened: only read-only statements are tried this way, so the
/// attempt changed nothing. Short waits for in-memory mutexes (held for a few hundred
/// nanoseconds) still happen: they are not worth a thread hop.
///
/// The flag is task-local and read only where a wait would begin, never on a fast path.
public enum NonBlockingExecution {
    /// Set by a surface around a statement it runs on its event loop.
    @TaskLocal public static var isActive = false

    /// Throws `WouldBlock` when the running statement must not wait for `reason`.
    @inline(__always)
    public static func refuseIfActive(_ reason: WouldBlock.Reason) throws {
        if isActive { throw WouldBlock(reason: reason) }
    }
}

/// A statement run under `NonBlockingExecution` reached something it would have to wait
/// for. Never reaches a client: the surface re-runs the request where waiting is allowed.
public struct WouldBlock: Error, Sendable, Equatable {
    public enum Reason: Sendable, Equatable {
        case pageNotCached, treeLocked, longRunning
    }

    public let reason: Reason

    public init(reason: Reason) { self.reason = reason }
}
