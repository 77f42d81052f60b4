import RedCore
import RedStorage

/// Committing without suspending, for a caller that must not (a server answering a short
/// autocommit write on the connection's event loop): the commit is made durable on the
/// calling thread (`WriteAheadLog.syncNow`), or, when that would mean waiting, nothing is done
/// and the caller commits the usual way.
///
/// A caller asks `invitesCommitNow` before it runs the statement: not while the log has a
/// round under way or concurrent committers to gather (`invitesInlineSync`), a definition gate
/// may be closed, or commits wait for replicas. `commitNow` itself declines (nil) only for a
/// gate closed on a collection the transaction writes, replicas to wait for, or the tree's lock
/// held by another (a large commit applying its writes holds it for milliseconds, and the
/// caller's event loop would stall with it); a round begun
/// since the caller asked is waited for (`syncNow` polls it). Past those checks it is
/// `commit`: the same conflict checks, WAL record and tree update under the tree lock
/// (`logAndApply`), durable before it returns, visible after.
extension StorageEngine {
    /// Whether `commitNow` would go ahead now, as far as the engine can tell before a write
    /// set exists: a caller checks it before running a statement it would then commit so.
    public var invitesCommitNow: Bool {
        wal.invitesInlineSync && commitAcknowledgement.withLock { $0 == nil } && !definitionGates.anyClosedNow
    }

    /// `starting` runs once the commit no longer declines, before anything is written.
    func commitNow(_ writes: WriteSet, changes: [PendingChange], snapshot: UInt64, definitions: DefinitionChanges, guards: ReadGuards,
                   began: ContinuousClock.Instant?, starting: () -> Void, assigned: (UInt64) -> Void) throws -> CommitInfo? {
        // The log is not asked again: the caller asked before running the statement (a round
        // started since is waited for in `syncNow`), and declining now would undo its work.
        guard commitAcknowledgement.withLock({ $0 == nil }) else { return nil }
        if fenced.load(ordering: .sequentiallyConsistent), let fence = writeFenceReason { throw fence }
        let runs = writes.sortedRuns()
        let written = runs.compactMap { $0.firstKey.map(Keyspace.collectionID(of:)) }.filter { $0 >= Keyspace.firstUserID }
        guard !definitionGates.wouldWait(writing: written, passing: definitions.basedOnData) else { return nil }
        let (commitTS, endLSN): (UInt64, UInt64)
        var committing = false
        do {
            (commitTS, endLSN) = try logAndApply(runs, written: written, extra: [], changes: changes, snapshot: snapshot, definitions: definitions,
                                                 guards: guards, ignoringFence: false, began: began, refusingToWait: true,
                                                 starting: { committing = true; starting() }, assigned: assigned)
        } catch is WouldBlock where !committing {
            return nil  // the tree is held (a large commit, a vacuum step): nothing was done
        }
        do {
            try wal.syncNow(upTo: endLSN)
        } catch {
            throw fail(error)
        }
        return finishCommit(commitTS: commitTS, endLSN: endLSN, definitions: definitions)
    }
}

extension Transaction {
    /// Commits as `commit` does, without suspending: nil when it would have to wait, with the
    /// transaction still open and unchanged (call `commit` then). See `StorageEngine.commitNow`.
    public func commitNow() throws -> CommitInfo? {
        let (writes, drops, changes, definitions, guards): (WriteSet, Bool, [PendingChange], DefinitionChanges, ReadGuards) = try state.withLock { s in
            try Self.requireActive(s)
            return (s.writes, s.dropsCollection, s.changes, s.definitions, s.guards)
        }
        if writes.isEmpty {
            state.withLock { $0.status = .committed }
            engine.snapshots.release(firstSnapshot)
            return CommitInfo(commitTS: snapshot, lsn: nil)
        }
        var started = false
        let info: CommitInfo?
        do {
            info = try engine.commitNow(writes, changes: changes, snapshot: firstSnapshot, definitions: definitions, guards: guards, began: began,
                                        starting: { started = true; state.withLock { $0.status = .committed } },
                                        assigned: { self.commitTimestamp = $0 })
        } catch {
            if started {
                state.withLock { $0.status = .rolledBack }
                engine.snapshots.release(firstSnapshot)
            }
            throw error
        }
        guard let info else { return nil }
        engine.snapshots.release(firstSnapshot)
        if drops { engine.dropGeneration.add(1, ordering: .sequentiallyConsistent) }
        return info
    }
}
