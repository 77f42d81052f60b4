#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RedCore

/// Making a commit durable on the committing thread itself, blocking it, for a committer that
/// cannot suspend: a server answering a short autocommit write on the connection's event
/// loop, as PostgreSQL's backend writes and flushes its own commit record.
///
/// Why: a commit that suspends to wait for its round (`sync(upTo:)`) is resumed by another
/// thread, and its reply then crosses to the event loop again. On a small VM each such hand-off
/// wakes an idle core (15–50 µs), more than the fsync itself on a fast disk: a lone client's
/// INSERT over PG-wire took 290 µs against PostgreSQL's 115.
///
/// When: only while the log invites it (`invitesInlineSync`): in full sync mode, with more than
/// one thread, no round under way or queued, the last round carrying one commit, and the last
/// fsync short (`maxInlineFsync`: a slow disk's would hold up the loop's other connections); in
/// the other modes a commit waits for no fsync, so always. The commit also takes the tree lock
/// on the caller's thread; when a large commit, a vacuum step or a checkpoint holds it, the
/// commit declines before anything is logged (`StorageEngine.commitNow`). Concurrent
/// committers are thus left to group commit, which an inline round would break up (each would
/// pay an fsync of its own). The check and the round are not atomic: a round that another
/// committer starts in between is waited for by polling (it ends within one fsync), and the
/// next one led here if it did not cover this commit.
///
/// Invariants (those of `sync(upTo:)`): only the leader writes and fsyncs, one round at a
/// time; `durableLSN` only grows; a failure is reported to every committer.
///
/// What the polling relies on: the round it waits for is led by a committer that can run
/// meanwhile. The caller found no leader and no waiter when it asked, and blocks its own
/// thread from then on, so a leader since is a committer on another thread — the servers'
/// statements commit on Swift's shared pool (PG-wire's, RedWire's and gRPC's handlers), never
/// on an event loop, so none waits for the loop this blocks.
extension WriteAheadLog {
    /// Whether a committer may make its commit durable with `syncNow` instead of waiting.
    public var invitesInlineSync: Bool {
        switch options.syncMode {
        case .batched, .off:
            return state.withLock { $0.failure == nil && !$0.closed }  // a commit waits for no fsync
        case .full:
            guard !options.committersShareOneThread else { return false }
            return state.withLock { s in
                !s.leaderActive && s.waiters.isEmpty && s.concurrentCommitters <= 1 && s.failure == nil && !s.closed
                    && s.lastSyncDuration <= Self.maxInlineFsync
            }
        }
    }

    /// Returns once every byte below `lsn` is durable (`waitForCommit`'s guarantee), leading
    /// the round on this thread, or polling while another leader's round is under way.
    public func syncNow(upTo lsn: UInt64) throws {
        switch options.syncMode {
        case .batched, .off:
            if let failure { throw failure }
            return
        case .full: break
        }
        enum Step { case covered, lead, wait }
        while true {
            let step: Step = try state.withLock { s in
                if s.durableLSN >= lsn { return .covered }
                if let failure = s.failure { throw failure }
                guard !s.leaderActive else { return .wait }
                s.leaderActive = true
                leaderPublished.store(true, ordering: .releasing)
                return .lead
            }
            switch step {
            case .covered: return
            case .lead: try lead(fsync: true)  // hands leadership on to a queued waiter, or releases it
            case .wait: usleep(Self.inlinePollMicroseconds)
            }
        }
    }

    /// The longest last fsync for which a commit is made durable inline: on a slow disk an fsync
    /// on the caller's thread would hold up every other connection of its event loop that long.
    static let maxInlineFsync = maxSpinFsync

    /// How long `syncNow` sleeps between looks at another leader's round.
    static let inlinePollMicroseconds: UInt32 = 5
}
