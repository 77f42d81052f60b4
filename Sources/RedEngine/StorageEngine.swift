import RedCore
import RedStorage
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The transactional storage engine: named collections of ordered key →
/// value records inside snapshot-isolated transactions, durable through a
/// write-ahead log with group commit, paged from disk through a page cache.
///
/// Files for a database at `path` (e.g. `data.rdb`):
/// - `data.rdb` — the paged B+tree image of the last checkpoint (`PagedStore`)
/// - `data.rdb-wal/` — WAL segments since then (`WriteAheadLog`)
///
/// **Commit** (`commit(_:snapshot:)`), under the tree's exclusive lock:
/// check every written key's newest version against the snapshot (first
/// committer wins), take the next commit timestamp, append the commit record
/// to the WAL buffer (no I/O), apply the new versions to the tree. Then,
/// with the lock released, wait for group commit to make the record durable
/// (`full` mode) and publish the timestamp so new snapshots see it. Readers
/// never see a commit before it may be acknowledged, because versions newer
/// than the visible timestamp are invisible to every snapshot.
///
/// **Recovery** (`open`): load the newest valid header's image, replay every
/// WAL record from its checkpoint LSN (the WAL itself truncates a torn tail
/// and refuses mid-log corruption), then continue. Open time is bounded by
/// the WAL since the last checkpoint, not by the database size.
///
/// **Failure** is fail-stop: a failed WAL fsync, a failed checkpoint write or
/// an error while applying a commit to the tree leaves in-memory state that
/// cannot be trusted, so the engine refuses every later write with
/// `.storageFailed` (reads continue). Reopening recovers from disk.
public final class StorageEngine: @unchecked Sendable {
    public let path: String
    public let options: EngineOptions
    let store: PagedStore
    let wal: WriteAheadLog
    let snapshots: SnapshotRegistry
    let lastCommitTS: Atomic<UInt64>
    /// Asked at each checkpoint for the oldest LSN the WAL must keep, by holder: a replication
    /// primary answers what its slowest live replica has not read yet, the WAL archiver what
    /// it has not archived yet. The log keeps back to the lowest; `.max`: nothing held.
    public let walRetention = Mutex<[String: @Sendable () -> UInt64]>([:])
    let failure = Mutex<RedError?>(nil)
    /// Set while this server may not write, by holder: `lease` (a primary that lost its writer
    /// lease), `read_only` (an operator's read-only mode). Every commit with writes fails with
    /// the first holder's error before anything is logged. Reads go on.
    private let writeFences = Mutex<[String: RedError]>([:])
    /// On a replication primary: commit records carry their change-feed changes (op 5), so
    /// replicas publish the same changes (`/changes`, KV watch) as they apply the records.
    public let logsChanges = Atomic<Bool>(false)
    let fenced = Atomic<Bool>(false)
    let checkpointLock = AsyncMutex()
    let counters = Mutex((commits: UInt64(0), conflicts: UInt64(0), checkpoints: UInt64(0)))
    /// When each collection's definition and data last changed (see `CollectionStamps`).
    let collectionStamps = Mutex(CollectionStamps())
    /// Collections whose writers wait for a definition change to finish (see `DefinitionGates`).
    let definitionGates = DefinitionGates()
    /// Bumped (with the commit's timestamp) by every commit that changes the collection registry,
    /// before that commit becomes visible, so layers above can cache what they derive from it.
    let catalog = Mutex((version: UInt64(0), changeTS: UInt64(0)))

    /// The registry's change counter and the commit timestamp of its latest change.
    /// A transaction whose snapshot is at or after `changeTS` sees the registry as of `version`.
    public var catalogState: (version: UInt64, changeTS: UInt64) { catalog.withLock { $0 } }
    /// Like `catalog`, bumped by every commit that changes a definition of any kind: the
    /// registry, or catalog storage (views, graph projections, users, AI settings; on a replica
    /// also its bookkeeping, so there it changes at every applied record). What layers above
    /// derive from definitions beyond the collections themselves (a statement's description
    /// reads views) is cached against this one.
    let definitionVersion = Mutex((version: StorageEngine.firstDefinitionVersion(), changeTS: UInt64(0)))

    /// Where an engine's definition versions start: each engine of the process (an application
    /// that opens two databases, the test suite) counts from a range of its own, 2^40 wide, so
    /// no two share a version, and a plan kept under one version — PL/pgSQL functions' plans
    /// are shared by every database of the process (`RoutinePlans`) — is never taken for
    /// another database's.
    private static func firstDefinitionVersion() -> UInt64 { versionRanges.add(1, ordering: .relaxed).newValue << 40 }
    private static let versionRanges = Atomic<UInt64>(0)

    /// The definitions' change counter and the commit timestamp of their latest change; as
    /// `catalogState`, a snapshot at or after `changeTS` sees them as of `version`.
    public var definitionState: (version: UInt64, changeTS: UInt64) { definitionVersion.withLock { $0 } }
    let lastCheckpoint: Mutex<(lsn: UInt64, at: ContinuousClock.Instant)>
    /// Per collection, a tree key at or above every key it has ever held (see `keyCeiling`).
    let keyCeilings = Mutex<[UInt32: [UInt8]]>([:])
    let vacuumQueue = Mutex(Set<[UInt8]>())
    /// Bumped after every committed `dropCollection`; starts ahead of `vacuumedDropGeneration`
    /// because markers survive restarts. Vacuum scans for drop markers only when the two differ,
    /// so idle background rounds do not open a transaction.
    let dropGeneration = Atomic<UInt64>(1)
    /// The generation whose markers vacuum last found all gone.
    let vacuumedDropGeneration = Atomic<UInt64>(0)
    private let background = Mutex<Task<Void, Never>?>(nil)
    private let closed = Atomic<Bool>(false)
    /// Set while `replaceContents` runs (one at a time).
    let replacing = Atomic<Bool>(false)

    private init(path: String, options: EngineOptions, store: PagedStore, wal: WriteAheadLog, lastCommitTS: UInt64) {
        self.path = path
        self.options = options
        self.store = store
        self.wal = wal
        self.snapshots = SnapshotRegistry(visibleTS: lastCommitTS)
        self.lastCommitTS = Atomic(lastCommitTS)
        lastCheckpoint = Mutex((store.openedHeader.checkpointLSN, ContinuousClock.now))
    }

    /// Run after every committed transaction with its end LSN, before the committer is
    /// answered: a replication primary's commit policy (`ack_n`) waits here for replicas.
    /// Replicated applies do not pass through it.
    public let commitAcknowledgement = Mutex<(@Sendable (UInt64) async throws -> Void)?>(nil)

    /// The directory holding the WAL segments of the database at `path`.
    public static func walDirectory(for path: String) -> String { path + "-wal" }

    /// Opens (creating if needed) the database at `path`, recovering from the WAL.
    public static func open(path: String, options: EngineOptions = EngineOptions(),
                            fileSystem: any FileSystem = PosixFileSystem()) async throws -> StorageEngine {
        let walDirectory = walDirectory(for: path)
        let store = try PagedStore.open(path: path, fileSystem: fileSystem, cacheBytes: options.cacheBytes,
                                        mayInitialize: !fileSystem.fileExists(walDirectory))
        do {
            var lastTS = store.openedHeader.lastCommitTS
            var walOptions = WALOptions()
            walOptions.segmentBytes = options.walSegmentBytes
            walOptions.syncMode = options.syncMode
            walOptions.batchedSyncDelayMilliseconds = options.batchedSyncDelayMilliseconds
            let wal = try WriteAheadLog.open(
                directory: walDirectory, fileSystem: fileSystem, startLSN: store.openedHeader.checkpointLSN,
                options: walOptions
            ) { record in
                guard record.kind == CommitRecord.kind else {
                    throw RedError(.dataCorrupted, "WAL record at LSN \(record.lsn) has unknown kind \(record.kind)")
                }
                let commit = try CommitRecord.decode(record.payload, lsn: record.lsn)
                guard commit.commitTS > lastTS else {
                    throw RedError(.dataCorrupted, "WAL record at LSN \(record.lsn) has commit timestamp \(commit.commitTS) out of order")
                }
                let (keys, writes, rest) = CommitRecord.splitLeadingKeyWrites(commit.mutations)
                try store.write { tree in
                    _ = try Self.apply([KeyWrites(keys: keys, writes: writes)], then: rest, at: commit.commitTS,
                                       horizon: commit.commitTS, to: tree)
                }
                lastTS = commit.commitTS
            }
            let engine = StorageEngine(path: path, options: options, store: store, wal: wal, lastCommitTS: lastTS)
            if options.verifyOnOpen { _ = try store.verify() }
            do {
                try await finishInterruptedReplacement(engine)
            } catch {
                try? await wal.close()
                throw error
            }
            if options.backgroundWork { engine.startBackgroundWork() }
            return engine
        } catch {
            try? store.close()
            throw error
        }
    }

    // MARK: Transactions

    /// Begins a transaction whose snapshot is the newest acknowledged commit.
    public func begin() throws -> Transaction {
        guard !closed.load(ordering: .relaxed) else { throw RedError(.closed, "the database at \(path) is closed") }
        return Transaction(engine: self, snapshot: try snapshots.acquireForTransaction())
    }

    /// `begin` for the engine's own background work, which a replacement in progress does not stop.
    func beginInternal() -> Transaction { Transaction(engine: self, snapshot: snapshots.acquire()) }

    /// Longest pause between two attempts of `transaction(maxAttempts:_:)`.
    static let maxRetryBackoffMicroseconds = 10_000

    /// Runs `body` in a transaction and commits it, retrying on serialization failures
    /// (after a short, growing, jittered pause).
    nonisolated(nonsending)
    public func transaction<R: Sendable>(maxAttempts: Int = 16, _ body: (Transaction) async throws -> R) async throws -> R {
        var attempt = 0
        while true {
            attempt += 1
            let tx = try begin()
            do {
                let result = try await body(tx)
                try await tx.commit()
                return result
            } catch let error as RedError where error.code == .serializationFailure && attempt < maxAttempts {
                tx.rollback()
                // The winner is usually still waiting for its fsync, so an immediate retry would take
                // the same snapshot and lose again — and, never suspending, could starve the very task
                // that publishes the winner. Sleep a little, longer each time, with jitter.
                let ceiling = min(Self.maxRetryBackoffMicroseconds, 50 << min(attempt, 8))
                try await Task.sleep(for: .microseconds(Int.random(in: ceiling / 2...ceiling)))
                continue
            } catch {
                tx.rollback()
                throw error
            }
        }
    }

    /// A tree key at or above every key `collectionID` holds in the tree (empty: it holds none),
    /// for `Transaction.getUnlikely`.
    ///
    /// Read from the tree once per collection, then kept up to date by every commit (which
    /// raises it to its own largest key; deletes never lower it, which only costs a probe).
    /// Why not read the tree each time: a bulk load's next batch would then wait, at its first
    /// unique-index probe, for the previous batch's commit to release the tree, and the two
    /// would run one after the other instead of side by side.
    ///
    /// The first read happens under the tree's shared lock and fills the entry before releasing
    /// it, so no commit can apply in between; commits raise only entries that exist.
    func keyCeiling(collectionID: UInt32) throws -> [UInt8] {
        if let known = keyCeilings.withLock({ $0[collectionID] }) { return known }
        return try store.read { try cachedKeyCeiling(collectionID, tree: $0) }
    }

    /// The cached ceiling of `collectionID`, read from `tree` and cached first if there is none.
    /// The caller holds the tree's lock (shared or exclusive), so no commit applies meanwhile.
    private func cachedKeyCeiling(_ collectionID: UInt32, tree: BTree) throws -> [UInt8] {
        if let known = keyCeilings.withLock({ $0[collectionID] }) { return known }
        let last = try tree.reverseBatch(before: Keyspace.prefix(collectionID + 1), inclusive: false).first?.key
        let found = last.flatMap { Keyspace.collectionID(of: $0) == collectionID ? $0 : nil } ?? []
        return keyCeilings.withLock { ceilings in
            if let known = ceilings[collectionID] { return known }
            ceilings[collectionID] = found
            return found
        }
    }

    /// Raises the ceilings of the collections a commit wrote to (under the tree's exclusive lock).
    private func raiseKeyCeilings(_ runs: [KeyWrites], _ extra: [CommitRecord.Mutation]) {
        let largest = runs.compactMap { $0.lastKey?.array } + extra.compactMap(\.key)
        guard !largest.isEmpty else { return }
        keyCeilings.withLock { ceilings in
            for key in largest {
                let id = Keyspace.collectionID(of: key)
                if let known = ceilings[id], compareKeys(key, known) > 0 { ceilings[id] = key }
            }
        }
    }

    /// The committed value of a tree key visible at `snapshot`.
    func readCommitted(_ treeKey: [UInt8], at snapshot: UInt64) throws -> [UInt8]? {
        let bytes = try store.read { tree in try tree.get(treeKey) }
        guard let bytes else { return nil }
        return try VersionChain.visibleValue(in: bytes, at: snapshot, context: "record (\(Keyspace.describe(treeKey)))")
    }

    /// The commit timestamp of the newest commit that wrote to `collection` since the engine
    /// opened (0: none). Recorded before the commit is published, so a snapshot that sees a
    /// write to the collection finds a value at least as new as that write here.
    public func lastWriteTS(of collection: Collection) -> UInt64 {
        collectionStamps.withLock { $0.lastWrites[collection.id] ?? 0 }
    }

    /// The error that stopped this engine accepting writes, if any.
    public var failureReason: RedError? { failure.withLock { $0 } }

    func fail(_ error: Error) -> RedError {
        let red = (error as? RedError) ?? RedError(.ioError, "\(error)")
        let reported = RedError(.storageFailed,
                                "the database at \(path) stopped accepting writes after a storage failure: \(red.message)")
        return failure.withLock { current in
            if current == nil { current = reported }
            return current!
        }
    }

    /// Fences (or, with nil, lifts `holder`'s fence on) every commit: see `writeFences`.
    public func setWriteFence(_ error: RedError?, by holder: String = "lease") {
        writeFences.withLock { fences in
            fences[holder] = error
            fenced.store(!fences.isEmpty, ordering: .sequentiallyConsistent)
        }
    }

    /// Why commits are fenced: the fence of the first holder by name (`lease` before `read_only`).
    public var writeFenceReason: RedError? { writeFences.withLock { $0.min { $0.key < $1.key }?.value } }

    /// Commits a write set (plus engine-internal `extra` mutations) read at `snapshot`.
    /// `definitions` says which collections' definitions the transaction changed and on which
    /// collections' data it based that (see `DefinitionChanges`).
    /// `guards`: keys the writes rely on, which no later commit may have changed (`ReadGuards`).
    /// `ignoringFence`: a write the fences do not stop (replacing the contents in a restore).
    func commit(_ writes: WriteSet, extra: [CommitRecord.Mutation] = [], changes: [PendingChange] = [], snapshot: UInt64,
                definitions: DefinitionChanges = DefinitionChanges(), guards: ReadGuards = ReadGuards(), ignoringFence: Bool = false,
                began: ContinuousClock.Instant? = nil, assigned: (UInt64) -> Void) async throws -> CommitInfo {
        if !ignoringFence, fenced.load(ordering: .sequentiallyConsistent), let fence = writeFenceReason { throw fence }
        let runs = writes.sortedRuns()
        let written = runs.compactMap { $0.firstKey.map(Keyspace.collectionID(of:)) }.filter { $0 >= Keyspace.firstUserID }
        if !ignoringFence { try await definitionGates.wait(writing: written, passing: definitions.basedOnData) }
        let (commitTS, endLSN) = try logAndApply(runs, written: written, extra: extra, changes: changes, snapshot: snapshot, definitions: definitions,
                                                 guards: guards, ignoringFence: ignoringFence, began: began, assigned: assigned)
        do {
            try await wal.waitForCommit(endLSN)
        } catch {
            throw fail(error)
        }
        return finishCommit(commitTS: commitTS, endLSN: endLSN, definitions: definitions)
    }

    /// A commit's part under the tree lock: the conflict checks, its WAL record appended (not
    /// yet durable) and its writes applied to the tree. Returns its timestamp and the LSN
    /// after its record. Shared by `commit` and `commitNow`, which differ only in how they wait.
    /// `refusingToWait`: `WouldBlock`, with nothing done, when another holds the tree's lock;
    /// `starting` runs once the lock is held, before anything is checked or written.
    func logAndApply(_ runs: [KeyWrites], written: [UInt32], extra: [CommitRecord.Mutation], changes: [PendingChange], snapshot: UInt64,
                     definitions: DefinitionChanges, guards: ReadGuards, ignoringFence: Bool, began: ContinuousClock.Instant?,
                     refusingToWait: Bool = false, starting: () -> Void = {},
                     assigned: (UInt64) -> Void) throws -> (commitTS: UInt64, endLSN: UInt64) {
        let emptied = extra.compactMap { mutation -> UInt32? in if case .deleteCollection(let id) = mutation { id } else { nil } }
        var payload = CommitRecord.encode(runs, then: extra,
                                          changes: changes.isEmpty || !logsChanges.load(ordering: .relaxed) ? [] : changes.map { $0.encoded() })
        let touchesCatalog = runs.contains { $0.firstKey.map(Keyspace.collectionID(of:)) == Keyspace.collectionsID }
        let touchesDefinitions = touchesCatalog || runs.contains { $0.firstKey.map(Keyspace.collectionID(of:)) == Keyspace.catalogID }
            || extra.contains { if case .deleteCollection(let id) = $0 { id == Keyspace.collectionsID || id == Keyspace.catalogID } else { false } }

        return try namingConflicts { try store.write(refusing: refusingToWait) { tree in
            starting()
            if let failure = failure.withLock({ $0 }) { throw failure }
            // Before anything is stamped or logged: a refused commit must leave no trace.
            guard payload.count <= Limits.maxTransactionBytes else {
                throw RedError(.limitExceeded, "WAL record of \(payload.count) bytes exceeds \(Limits.maxTransactionBytes)")
            }
            // Checked again where commits are ordered: none is logged after the fence is set.
            if !ignoringFence, fenced.load(ordering: .sequentiallyConsistent), let fence = writeFenceReason { throw fence }
            // First committer wins: any newer version of a key we write means a concurrent commit.
            // The records read here (one descent per leaf: the keys are sorted) are reused by the apply below.
            // A run whose smallest key is above its collection's ceiling (a load appending) has no
            // record in the tree to read: under this lock the ceiling covers every key there.
            // A collection without a cached ceiling gets one here (one descent), so that its next
            // commits skip the reads too: a table's rows are never probed by `getUnlikely`.
            let ceilings = try runs.map { run in
                try run.firstKey.map { try cachedKeyCeiling(Keyspace.collectionID(of: $0), tree: tree) }
            }
            let existing = try zip(runs, ceilings).map { run, ceiling -> [[UInt8]?] in
                if let ceiling, let first = run.firstKey, ceiling.withUnsafeBytes({ compareKeys(first, $0) }) > 0 {
                    return Array(repeating: nil, count: run.count)
                }
                return try tree.getSorted(run.writes.map(\.key))
            }  // parallel to `runs` and their keys
            for (run, records) in zip(runs, existing) {
                for (write, bytes) in zip(run.writes, records) {
                    guard let bytes else { continue }
                    if try VersionChain.newestCommitTS(of: bytes, context: "record (\(Keyspace.describe(write.key.array)))") > max(snapshot, write.base) {
                        counters.withLock { $0.conflicts += 1 }
                        throw WriteConflict(collectionID: Keyspace.collectionID(of: write.key)) {
                            "could not serialize access due to concurrent update of a key in \($0); retry the transaction"
                        }
                    }
                    try VersionChain.checkFits(record: bytes.count, adding: write.value?.count ?? 0) { Keyspace.describe(write.key.array) }
                }
            }
            if !guards.isEmpty {
                do { try guards.check(in: tree, snapshot: snapshot) } catch {
                    counters.withLock { $0.conflicts += 1 }
                    throw error
                }
            }
            let ts = lastCommitTS.load(ordering: .relaxed) + 1
            try collectionStamps.withLock { stamps in
                do {
                    try stamps.check(writing: written, definitions: definitions, snapshot: snapshot) { id in
                        runs.first { $0.firstKey.map(Keyspace.collectionID(of:)) == id }?.writes.lazy.map(\.base).min() ?? 0
                    }
                } catch {
                    counters.withLock { $0.conflicts += 1 }
                    definitionGates.close(definitions.basedOnData, tookSince: began)  // its retry finds the writers waiting
                    throw error
                }
                stamps.record(writing: written, emptied: emptied, definitions: definitions, ts: ts, horizon: snapshots.horizon)
            }
            if touchesCatalog { catalog.withLock { $0 = ($0.version + 1, ts) } }
            if touchesDefinitions { definitionVersion.withLock { $0 = ($0.version + 1, ts) } }
            CommitRecord.patchCommitTS(&payload, ts)
            CommitRecord.patchCommitTime(&payload, Self.unixMilliseconds())
            let horizon = snapshots.horizon
            let end: UInt64
            if payload.count >= Self.walAlongsideBytes {
                // A large commit (a bulk load's batch): its record is checksummed, buffered and
                // written to the WAL file on another core while this one applies it to the tree.
                // Both finish before the lock is released, so commits stay in LSN order. Past
                // the size check (above), appending fails only on a closed or failed log: fatal either way.
                let (wal, record) = (wal, payload)
                assigned(ts)  // from here on the record may be in the WAL
                let logging = OffThreadWork { () throws -> UInt64 in
                    let end = try wal.append(kind: CommitRecord.kind, payload: record)
                    wal.writeBuffered()
                    return end
                }
                do {
                    try apply(runs, extra, ts: ts, horizon: horizon, tree: tree, existing: existing)
                } catch {
                    _ = try? logging.join()
                    throw fail(error)
                }
                do { end = try logging.join() } catch { throw fail(error) }  // the tree has a commit the WAL lacks
            } else {
                end = try wal.append(kind: CommitRecord.kind, payload: payload)
                assigned(ts)
                do {
                    try apply(runs, extra, ts: ts, horizon: horizon, tree: tree, existing: existing)
                } catch {
                    throw fail(error)  // the WAL holds a commit the tree only partly has
                }
            }
            // Under the tree lock, so the feed is in LSN order; readers wait for durability.
            if !changes.isEmpty { changeFeed.append(changes, lsn: end, timestamp: Self.unixMilliseconds()) }
            lastCommitTS.store(ts, ordering: .relaxed)
            return (ts, end)
        } }
    }

    /// A commit's end once its record is durable: readers may see it, and gates it held open close.
    func finishCommit(commitTS: UInt64, endLSN: UInt64, definitions: DefinitionChanges) -> CommitInfo {
        snapshots.publish(commitTS)
        definitionGates.open(definitions.basedOnData)
        counters.withLock { $0.commits += 1 }
        return CommitInfo(commitTS: commitTS, lsn: endLSN)
    }

    /// WAL records at least this large are logged on another core while the tree is updated.
    static let walAlongsideBytes = 256 << 10

    /// `apply` and what follows it in a commit: the key ceilings and the vacuum queue.
    private func apply(_ runs: [KeyWrites], _ extra: [CommitRecord.Mutation], ts: UInt64, horizon: UInt64, tree: BTree,
                       existing: [[[UInt8]?]]) throws {
        let garbage = try Self.apply(runs, then: extra, at: ts, horizon: horizon, to: tree, current: existing)
        raiseKeyCeilings(runs, extra)
        if !garbage.isEmpty { enqueueForVacuum(garbage) }
    }

    /// Applies a commit at `ts`: the key writes of `runs` (in key order), then `extra`,
    /// trimming versions below `horizon`; returns the keys whose records still hold reclaimable
    /// versions.
    ///
    /// `current` holds the records of each run's keys as just read under the same lock (nil: no
    /// record); without it they are read here. Runs of new records go to the tree as one `putSorted`
    /// batch, so a sorted write set costs about one descent per leaf. A key with no record yet
    /// (a load's every row) gets its one-version record as a `ValueHead` in front of the value,
    /// so no record is built as an array of its own.
    static func apply(_ runs: [KeyWrites], then extra: [CommitRecord.Mutation] = [],
                      at ts: UInt64, horizon: UInt64, to tree: BTree, current: [[[UInt8]?]]? = nil) throws -> [[UInt8]] {
        let known = try current ?? runs.map { try tree.getSorted($0.writes.map(\.key)) }
        var batch = TreeBatch(tree: tree, ts: ts, horizon: horizon)
        batch.entries.reserveCapacity(min(runs.reduce(0) { $0 + $1.count }, TreeBatch.entriesPerFlush))
        try withExtendedLifetime(runs) {
            for (part, records) in zip(runs, known) {
                for (pending, record) in zip(part.writes, records) {
                    try batch.write(pending.key, pending.value, record: record)
                }
            }
            for mutation in extra {
                switch mutation {
                case .put(let key, let value): try batch.write(batch.scratch.copy(key), batch.scratch.copy(value), record: try tree.get(key))
                case .delete(let key): try batch.write(batch.scratch.copy(key), nil, record: try tree.get(key))
                case .deleteCollection(let id):
                    try batch.flush()
                    while try deleteRecords(ofCollection: id, in: tree, atMost: .max) > 0 {}
                }
            }
            try batch.flush()
        }
        return batch.garbage
    }

    /// Deletes up to about `limit` records of collection `id` (a leaf's worth at a time);
    /// returns how many it deleted (0: none are left).
    static func deleteRecords(ofCollection id: UInt32, in tree: BTree, atMost limit: Int) throws -> Int {
        let start = Keyspace.prefix(id)
        let end = Keyspace.prefix(id + 1)
        var deleted = 0
        while deleted < limit {
            let doomed = try tree.batch(after: start, inclusive: true).map(\.key).filter { compareKeys($0, end) < 0 }
            if doomed.isEmpty { break }
            for key in doomed { try tree.delete(key) }
            deleted += doomed.count
        }
        return deleted
    }

    /// The tree writes of one commit, gathered into `putSorted` batches. A struct with mutating
    /// methods rather than nested functions: those would capture the batch in a box whose every
    /// use is checked for exclusive access at run time, once or twice per key.
    private struct TreeBatch {
        let tree: BTree
        let ts: UInt64
        let horizon: UInt64
        /// Records rebuilt here (a key that already had versions) and `extra`'s keys and values:
        /// `TreeEntry` points to bytes, so these live here until the batch is written.
        let scratch = ByteArena()
        var entries: [TreeEntry] = []
        /// Keys whose records still hold versions a later vacuum can reclaim.
        var garbage: [[UInt8]] = []

        init(tree: BTree, ts: UInt64, horizon: UInt64) {
            self.tree = tree
            self.ts = ts
            self.horizon = horizon
        }

        /// Entries handed to `putSorted` at a time: one more descent per this many keys, and the
        /// array stays small and warm instead of growing to a load's 100,000 entries (fresh
        /// memory, page faults) each commit.
        static let entriesPerFlush = 4_096

        mutating func flush() throws {
            if !entries.isEmpty { try tree.putSorted(entries) }
            entries.removeAll(keepingCapacity: true)
        }

        /// Adds the version `value` (nil: a tombstone) to the key's `record`.
        mutating func write(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer?, record: [UInt8]?) throws {
            if entries.count >= Self.entriesPerFlush { try flush() }
            if record == nil, let value {
                entries.append(TreeEntry(key: key, head: VersionChain.singleHead(commitTS: ts, valueLength: value.count), body: value))
                return
            }
            let next = try versioned(key: key.array, value: value?.array, at: ts, horizon: horizon, current: record)
            if let bytes = next.record {
                entries.append(TreeEntry(key: key, body: scratch.copy(bytes)))
                if next.holdsGarbage { garbage.append(key.array) }
            } else if record != nil {
                try flush()
                try tree.delete(key.array)
            }
        }
    }

    /// The record of `key` after adding the version `value` (nil: a tombstone) at `ts` to its
    /// `current` record and trimming; a nil record means the key should have none.
    private static func versioned(key: [UInt8], value: [UInt8]?, at ts: UInt64, horizon: UInt64,
                                  current: [UInt8]?) throws -> (record: [UInt8]?, holdsGarbage: Bool) {
        guard let bytes = current else {
            guard let value else { return (nil, false) }  // deleting what is not there
            return (VersionChain.encodeSingle(commitTS: ts, value: value), false)
        }
        var chain = try VersionChain(decoding: bytes, context: "record (\(Keyspace.describe(key)))")
        chain.versions.insert(VersionChain.Version(commitTS: ts, value: value), at: 0)
        chain.trim(horizon: horizon)
        if chain.versions.isEmpty { return (nil, false) }
        return (chain.encode(), chain.holdsGarbage)
    }

    // MARK: Checkpoint

    /// Writes a new durable image of the tree and drops the WAL before it.
    public func checkpoint() async throws {
        try await checkpointLock.withLock {
            if let failure = failure.withLock({ $0 }) { throw failure }
            let frozen = store.freeze { (wal.appendedLSN, lastCommitTS.load(ordering: .relaxed)) }
            do {
                try await wal.sync(upTo: frozen.header.checkpointLSN)
                try store.write(frozen)
                // A primary keeps the log its replicas have yet to read (`walRetention`).
                let floor = walRetention.withLock { Array($0.values) }.map { $0() }.min() ?? .max
                try wal.removeSegments(before: min(frozen.header.checkpointLSN, floor))
            } catch {
                throw fail(error)
            }
            lastCheckpoint.withLock { $0 = (frozen.header.checkpointLSN, ContinuousClock.now) }
            counters.withLock { $0.checkpoints += 1 }
        }
    }

    // MARK: Lifecycle

    /// Stops background work, checkpoints, syncs and releases the files.
    public func close() async throws {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        let task = background.withLock { t -> Task<Void, Never>? in
            defer { t = nil }
            return t
        }
        task?.cancel()
        await task?.value
        var firstError: Error?
        if failure.withLock({ $0 }) == nil {
            do { try await checkpoint() } catch { firstError = error }
        }
        do { try await wal.close() } catch { firstError = firstError ?? error }
        do { try store.close() } catch { firstError = firstError ?? error }
        if let firstError { throw firstError }
    }

    /// Checks the B+tree invariants (reads every page).
    public func verify() throws -> BTreeReport { try store.verify() }

    /// Recent committed item changes (see `ChangeFeed`).
    public let changeFeed = ChangeFeed()

    /// The log position every acknowledged commit lies at or before (a change-feed cursor for "from now").
    public var durableLSN: UInt64 { wal.durableLSN }

    /// The format version of the image this engine opened (`DatabaseHeader.formatVersion` for a
    /// new file); `Database.open` upgrades an older one.
    public var openedFormatVersion: UInt32 { store.openedHeader.version }

    /// Tells checkpoints to write the current format version from now on: the caller has
    /// committed the upgrade from `openedFormatVersion`.
    public func markFormatCurrent() { store.markFormatCurrent() }

    /// Durable committed changes after `lsn`, oldest first, at most `limit` (a commit is never split).
    public func changes(since lsn: UInt64, limit: Int) -> ChangePage {
        changeFeed.page(since: lsn, limit: max(1, limit), durable: wal.durableLSN)
    }

    static func unixMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    public var statistics: EngineStatistics {
        let c = counters.withLock { $0 }
        return EngineStatistics(
            commits: c.commits, conflicts: c.conflicts, checkpoints: c.checkpoints,
            lastCommitTS: lastCommitTS.load(ordering: .relaxed), walAppendedLSN: wal.appendedLSN,
            walDurableLSN: wal.durableLSN, walBytesSinceCheckpoint: wal.bytes(since: lastCheckpoint.withLock { $0.lsn }),
            cache: store.cacheStatistics, pageCount: store.pageCount,
            vacuumQueueKeys: vacuumQueue.withLock { $0.count }, wal: wal.statistics)
    }

    /// Interval between two rounds of background work.
    static let backgroundRoundMilliseconds = 50

    private func startBackgroundWork() {
        let task = Task.detached { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Self.backgroundRoundMilliseconds))
                guard let self, !Task.isCancelled else { return }
                await self.runBackgroundRound()
            }
        }
        background.withLock { $0 = task }
    }

    /// Runs checkpoints and version cleanup until the calling task is cancelled.
    ///
    /// For hosts that own their background work (the server runs it as a service in its
    /// `ServiceGroup`): open the engine with `options.backgroundWork = false` and call this.
    public func runBackgroundWork() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(Self.backgroundRoundMilliseconds))
            guard !Task.isCancelled else { return }
            await runBackgroundRound()
        }
    }

    /// One round of background work: a checkpoint when due, then version cleanup.
    func runBackgroundRound() async {
        guard failure.withLock({ $0 }) == nil else { return }
        let (lsn, at) = lastCheckpoint.withLock { $0 }
        let walBytes = wal.bytes(since: lsn)
        let overdue = at.duration(to: .now) >= .milliseconds(options.checkpointIntervalMilliseconds)
        if walBytes >= options.checkpointWALBytes || (overdue && walBytes > 0) {
            try? await checkpoint()
        }
        _ = try? await vacuum(limit: 10_000)
    }
}

