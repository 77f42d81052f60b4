import RedCore
import NIOCore
import Synchronization

/// The open network connections of every listener.
///
/// Invariants: an id is registered from accept until the connection's task
/// ends; `busy` is true only while a request is being processed. Once
/// `shuttingDown` is set, idle connections are closed at once and busy ones
/// close after their current request (`finishRequest` returns false); the same
/// for one connection that is `terminating`.
final class ConnectionRegistry: Sendable {
    struct Entry {
        let channel: any Channel
        let secretKey: Int32
        /// Cancels the statement running right now (PG CancelRequest).
        var cancelRunning: (@Sendable () -> Void)?
        /// Asks the connection to close once idle (HTTP, whose requests this registry does not see).
        var quiesce: (@Sendable () -> Void)?
        /// A PG-wire connection's session activity (`pg_stat_activity`).
        var activity: PGActivity?
        /// Ends an idle PG-wire connection with its FATAL goodbye (`pg_terminate_backend`).
        var terminateIdle: (@Sendable () -> Void)?
    }

    /// What every request reads and writes, apart from `Entry`: a PG-wire query in the
    /// extended protocol starts and finishes five requests (Parse, Bind, Describe, Execute,
    /// Sync), and reading a flag of `Entry` through the dictionary copied the whole entry (a
    /// channel and four closures, retained and released each time); these copy nothing.
    struct RequestFlags {
        var busy = false
        /// `pg_terminate_backend` asked this connection to end: it takes no further request.
        var terminating = false
        /// `cancelRunning` is set, so `finishRequest` must clear it.
        var cancellable = false
    }

    private struct State {
        var entries: [Int32: Entry] = [:]
        var flags: [Int32: RequestFlags] = [:]
        var nextID: Int32 = 1
        var shuttingDown = false
    }

    private let state = Mutex(State())

    var count: Int { state.withLock { $0.entries.count } }

    /// Registers a connection; nil when the server is at `limit` connections or shutting down.
    func register(_ channel: any Channel, limit: Int) -> (id: Int32, secretKey: Int32)? {
        state.withLock { s in
            guard !s.shuttingDown, s.entries.count < limit else { return nil }
            while s.entries[s.nextID] != nil || s.nextID <= 0 { s.nextID = s.nextID &+ 1 }
            let id = s.nextID
            s.nextID = s.nextID &+ 1
            let secret = Int32.random(in: Int32.min...Int32.max)
            s.entries[id] = Entry(channel: channel, secretKey: secret)
            s.flags[id] = RequestFlags()
            return (id, secret)
        }
    }

    func unregister(_ id: Int32) {
        state.withLock { s in
            s.entries.removeValue(forKey: id)
            s.flags.removeValue(forKey: id)
        }
    }

    /// Marks a request as started; false when the server is shutting down or the connection
    /// is being terminated (refuse it).
    func startRequest(_ id: Int32) -> Bool {
        state.withLock { s in
            s.flags[id]?.busy = true
            return !s.shuttingDown && s.flags[id]?.terminating != true
        }
    }



    /// Marks a request as finished; false when the connection must now close (shutdown).
    func finishRequest(_ id: Int32) -> Bool {
        state.withLock { s in
            s.flags[id]?.busy = false
            if s.flags[id]?.cancellable == true {
                s.entries[id]?.cancelRunning = nil
                s.flags[id]?.cancellable = false
            }
            return !s.shuttingDown && s.flags[id]?.terminating != true
        }
    }

    /// Shutdown asks this connection to quiesce instead of closing it outright.
    func setQuiesce(_ id: Int32, _ quiesce: @escaping @Sendable () -> Void) {
        let late = state.withLock { s -> Bool in
            s.entries[id]?.quiesce = quiesce
            return s.shuttingDown
        }
        if late { quiesce() }
    }

    func setCanceller(_ id: Int32, _ cancel: (@Sendable () -> Void)?) {
        state.withLock { s in
            s.entries[id]?.cancelRunning = cancel
            s.flags[id]?.cancellable = cancel != nil
        }
    }

    /// `activity` is what `pg_stat_activity` shows of connection `id`; `terminateIdle` ends it
    /// while it waits for the client (`pg_terminate_backend`).
    func setActivity(_ id: Int32, _ activity: PGActivity, terminateIdle: @escaping @Sendable () -> Void) {
        state.withLock {
            $0.entries[id]?.activity = activity
            $0.entries[id]?.terminateIdle = terminateIdle
        }
    }

    /// What `pg_stat_activity` lists: every open PG-wire connection's activity (not one
    /// closed whose task has yet to end), read after the registry's lock is let go.
    func activities() -> [PGActivity.Row] {
        state.withLock { $0.entries.values.filter { $0.channel.isActive }.compactMap(\.activity) }.map(\.current)
    }

    /// `pg_cancel_backend` (cancels connection `id`'s running statement) and, with
    /// `terminate`, `pg_terminate_backend`; false when no PG-wire connection has that id.
    /// `allowed` decides from the target's activity (its user) whether the caller may (42501
    /// otherwise).
    ///
    /// A terminated connection takes no further request and says goodbye as PostgreSQL's
    /// backends do, with FATAL 57P01 and nothing else: a running statement is cancelled and
    /// the connection's next flush sends the goodbye instead of the reply
    /// (`PGActivity.terminationRequested`); an idle one is ended on its event loop, where its
    /// pipeline answers too, once it is seen idle there.
    func signal(_ id: Int32, terminate: Bool, allowed: (PGActivity.Row) -> Bool) throws -> Bool {
        guard let row = state.withLock({ $0.entries[id]?.activity?.current }) else { return false }
        guard allowed(row) else {
            throw RedError(.insufficientPrivilege, terminate ? "must be a member of the role whose process is being terminated or member of pg_signal_backend"
                                                             : "must be a member of the role whose query is being canceled or member of pg_signal_backend")
        }
        guard let entry = state.withLock({ s -> Entry? in
            if terminate { s.flags[id]?.terminating = true }
            return s.entries[id]
        }) else { return false }
        if terminate { entry.activity?.requestTermination() }
        entry.cancelRunning?()
        if terminate {
            entry.channel.eventLoop.execute { [self] in
                let idle = state.withLock { s in s.flags[id].map { !$0.busy } ?? false }
                if idle { entry.terminateIdle?() }
            }
            // One that is (still) waiting for its client in the middle of a statement (COPY FROM
            // STDIN's data) would not notice: it is told and closed. A statement still running
            // ends at its next cancellation checkpoint and says goodbye itself.
            watchTermination(id, entry)
        }
        return true
    }

    /// Every 200 ms until connection `id` has closed: ends it once it is idle or waiting for its
    /// client mid-statement (`terminateIdle` says goodbye only once).
    private func watchTermination(_ id: Int32, _ entry: Entry) {
        entry.channel.eventLoop.scheduleTask(in: .milliseconds(200)) { [self] in
            guard entry.channel.isActive, let busy = state.withLock({ $0.flags[id]?.busy }) else { return }
            if !busy || entry.activity?.isAwaitingClient == true {
                entry.terminateIdle?()
            } else {
                watchTermination(id, entry)
            }
        }
    }

    /// Whether connection `id` is closed (or was never there), for `pg_terminate_backend`'s
    /// timeout. Its channel tells at once; the registry forgets it only once its task has
    /// ended, which on a busy pool may be much later.
    func isClosed(_ id: Int32) -> Bool {
        state.withLock { $0.entries[id].map { !$0.channel.isActive } ?? true }
    }

    /// Cancels the running statement of connection `id` if `secretKey` matches (else nothing,
    /// as PostgreSQL does, so a guesser learns nothing).
    func cancel(id: Int32, secretKey: Int32) {
        let cancel = state.withLock { s -> (@Sendable () -> Void)? in
            guard let entry = s.entries[id], entry.secretKey == secretKey else { return nil }
            return entry.cancelRunning
        }
        cancel?()
    }

    /// Stops new requests: closes idle connections now; busy ones close when they finish;
    /// connections that quiesce themselves are asked to.
    func beginShutdown() {
        let (idle, quiescing) = state.withLock { s -> ([any Channel], [@Sendable () -> Void]) in
            s.shuttingDown = true
            let entries = Array(s.entries)
            return (entries.filter { s.flags[$0.key]?.busy != true && $0.value.quiesce == nil }.map(\.value.channel),
                    entries.compactMap(\.value.quiesce))
        }
        for channel in idle { channel.close(promise: nil) }
        for quiesce in quiescing { quiesce() }
    }

    /// Cancels every running statement and closes every connection (the shutdown grace period is over).
    func closeAll() {
        let all = state.withLock { $0.entries.values.map { ($0.channel, $0.cancelRunning) } }
        for (channel, cancel) in all {
            cancel?()
            channel.close(promise: nil)
        }
    }
}
