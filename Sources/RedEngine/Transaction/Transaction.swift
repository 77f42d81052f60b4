import RedCore
import RedStorage
import Synchronization

/// A snapshot-isolated transaction over the collections of one engine.
///
/// Reads see the database as of `snapshot` (the newest acknowledged commit
/// when the transaction began, or when `refreshSnapshot` last moved it) plus
/// the transaction's own writes; they never wait for writers. Writes are kept in a private write set until `commit`,
/// so an uncommitted or rolled-back transaction leaves no trace anywhere,
/// not in memory, not in the tree and not in the WAL.
///
/// At commit the first committer wins: if any key written here was changed by
/// a transaction that committed after the snapshot the write was made under, commit
/// throws `RedError(.serializationFailure)` (SQLSTATE 40001) and nothing is applied.
///
/// **Moving the snapshot** (`refreshSnapshot`, READ COMMITTED's statement snapshots): later
/// reads see every commit visible then. Each write and read guard keeps the snapshot it was
/// made under, so moving never hides a conflict with an earlier statement's write. The
/// first snapshot stays registered until the end, which keeps every version a later one
/// needs (the registry's horizon is its oldest open snapshot).
///
/// A transaction is meant for one task at a time; its methods are
/// thread-safe but interleaving them from several tasks is not useful.
///
/// ```swift
/// let tx = try engine.begin()
/// let users = try tx.createCollection("users")
/// try tx.put(users, Array("alice".utf8), Array("{\"age\":30}".utf8))
/// try await tx.commit()
/// ```
public final class Transaction: @unchecked Sendable {
    enum Status { case active, committed, rolledBack }

    enum Write {
        case put([UInt8])
        case delete
    }

    struct State {
        var status = Status.active
        /// Tree key → pending write.
        var writes = WriteSet()
        var writeBytes = 0
        /// Writes recorded so far, never decreasing (a savepoint rollback keeps it).
        var writesRecorded = 0
        /// Set by `dropCollection`: a committed drop must wake the vacuum.
        var dropsCollection = false
        /// Set by any write to the collection registry (DDL).
        var writesCatalog = false
        /// Set by any write to the registry or the catalog (views, types, comments): what
        /// moves the definitions version on at commit. Kept through a savepoint rollback.
        var writesDefinitions = false
        /// Item changes for the change feed, in statement order.
        var changes: [PendingChange] = []
        /// Definitions changed, and the data they were based on (see `CollectionStamps`).
        var definitions = DefinitionChanges()
        /// Per collection, the largest tree key it held when `getUnlikely` first asked ([] = none).
        var committedCeilings: [UInt32: [UInt8]] = [:]
        /// What the writes rely on without writing it (see `ReadGuards`).
        var guards = ReadGuards()
    }

    let engine: StorageEngine
    /// The temporary tables of the session running this transaction (`TemporaryNamespace`),
    /// set by the session before the transaction is used; nil outside a session.
    public var temporaryNamespace: TemporaryNamespace?
    /// The schemas unqualified relation names are looked up in, in order (`SchemaCatalog`), as
    /// the session's `search_path` lists them; nil is `public` alone. Set by the session before
    /// each statement. Locked: a block's earlier statement may still be streaming rows (and
    /// calling nextval) while the next one sets it.
    public var searchPath: [String]? {
        get { path.withLock { $0 } }
        set { path.withLock { $0 = newValue } }
    }
    private let path = Mutex<[String]?>(nil)
    /// The snapshot the transaction began with, registered until it ends.
    public let firstSnapshot: UInt64
    private let currentSnapshot: Atomic<UInt64>
    /// Commit timestamp of the newest commit this transaction sees: `firstSnapshot` until
    /// `refreshSnapshot` moves it.
    public var snapshot: UInt64 { currentSnapshot.load(ordering: .acquiring) }
    let state = Mutex(State())
    /// Set once commit has assigned a timestamp (tests read it even if durability then failed).
    public internal(set) var commitTimestamp: UInt64? {
        get { timestamp.withLock { $0 } }
        set { timestamp.withLock { $0 = newValue } }
    }
    private let timestamp = Mutex<UInt64?>(nil)

    /// When it began: a definition change that fails holds writers back about as long again
    /// (`DefinitionGates`).
    let began = ContinuousClock.now

    init(engine: StorageEngine, snapshot: UInt64) {
        self.engine = engine
        self.firstSnapshot = snapshot
        self.currentSnapshot = Atomic(snapshot)
    }

    deinit {
        let wasActive = state.withLock { $0.status == .active }
        if wasActive { engine.snapshots.release(firstSnapshot) }
    }

    /// Moves the snapshot to the newest acknowledged commit, for the reads and writes that
    /// follow (a READ COMMITTED statement; a REPEATABLE READ block's first statement). Cursors
    /// already open keep theirs. Does nothing on a finished transaction.
    public func refreshSnapshot() {
        let now = engine.snapshots.visibleTS
        state.withLock { s in
            guard s.status == .active, now > currentSnapshot.load(ordering: .relaxed) else { return }
            currentSnapshot.store(now, ordering: .releasing)
            s.writes.base = now
            s.committedCeilings = [:]  // a key ceiling read at the older snapshot may be too low now
        }
    }

    public var isActive: Bool { state.withLock { $0.status == .active } }

    /// Bytes the transaction holds: its writes and its guarded reads. A savepoint shares them,
    /// so the first write after one copies them: callers taking one per statement bound this.
    public var heldBytes: Int { state.withLock { $0.writeBytes + $0.guards.bytes } }

    /// A point to return to inside this transaction (SQL SAVEPOINT): its writes so far.
    public struct Savepoint: Sendable {
        fileprivate let writes: WriteSet
        fileprivate let writeBytes: Int
        fileprivate let dropsCollection: Bool
        fileprivate let writesCatalog: Bool
        fileprivate let changeCount: Int
        /// The length of the last change run then (later inserts may have extended it).
        fileprivate let lastChangeRunLength: Int
        /// The reads guarded then (`rollback(to:restoringReads:)`).
        fileprivate let guards: ReadGuards
        /// The definition changes noted then: those undone with their writes must not fail the
        /// commit, or close their collections' gates, as if they had happened.
        fileprivate let definitions: DefinitionChanges
    }

    /// Remembers the writes so far; `rollback(to:)` returns to exactly them.
    public func savepoint() throws -> Savepoint {
        try state.withLock { s in
            try Self.requireActive(s)
            return Savepoint(writes: s.writes, writeBytes: s.writeBytes, dropsCollection: s.dropsCollection, writesCatalog: s.writesCatalog,
                             changeCount: s.changes.count, lastChangeRunLength: s.changes.last?.count ?? 0, guards: s.guards,
                             definitions: s.definitions)
        }
    }

    /// Discards every write made since `savepoint`; the transaction stays open. With
    /// `restoringReads`, the reads guarded since are forgotten too (`guardUnchanged`): for a
    /// statement that is run again from its start, which guards what it reads again. (SQL's
    /// ROLLBACK TO keeps them: the client saw what those reads returned.)
    public func rollback(to savepoint: Savepoint, restoringReads: Bool = false) throws {
        try state.withLock { s in
            try Self.requireActive(s)
            if restoringReads { s.guards = savepoint.guards }
            s.writes = savepoint.writes
            s.writes.base = currentSnapshot.load(ordering: .relaxed)
            s.writeBytes = savepoint.writeBytes
            s.dropsCollection = savepoint.dropsCollection
            s.writesCatalog = savepoint.writesCatalog
            s.definitions = savepoint.definitions
            s.changes.removeSubrange(min(savepoint.changeCount, s.changes.count)...)
            if savepoint.changeCount > 0, savepoint.changeCount == s.changes.count {
                s.changes[s.changes.count - 1].count = savepoint.lastChangeRunLength
            }
        }
    }

    /// Whether this transaction has pending writes to `collection`, so its reads there differ
    /// from its snapshot's.
    public func hasWrites(in collection: Collection) -> Bool {
        state.withLock { $0.writes.hasWrites(collectionID: collection.id) }
    }

    /// How many writes this transaction has recorded; it only grows. A statement that finds it
    /// unchanged since it started has written nothing, so it can be run again from the start
    /// (what waiting for a lock needs).
    public var writeCount: Int { state.withLock { $0.writesRecorded } }

    /// Whether a transaction that committed after this one's snapshot changed or deleted
    /// `key` of `collection` (PostgreSQL's "concurrent update" under REPEATABLE READ: a row
    /// locked FOR UPDATE must still be the version the snapshot shows).
    public func changedSinceSnapshot(_ collection: Collection, key: [UInt8]) throws -> Bool {
        try validate(key: key)
        let treeKey = Keyspace.key(collection.id, key)
        // The record stays in the tree while this (live) snapshot can see one of its versions.
        guard let bytes = try engine.store.read({ tree in try tree.get(treeKey) }) else { return false }
        return try VersionChain.newestCommitTS(of: bytes, context: "record (\(Keyspace.describe(treeKey)))") > snapshot
    }

    /// True once this transaction has created, dropped, renamed or re-described a collection.
    public var hasCatalogWrites: Bool { state.withLock { $0.writesCatalog } }

    /// True once this transaction has written a definition: a collection, or a catalog record
    /// (a view, a type). Its snapshot then sees definitions no committed version describes.
    public var hasDefinitionWrites: Bool { state.withLock { $0.writesDefinitions } }

    // MARK: Reads

    /// The value of `key` in `collection` as this transaction sees it.
    public func get(_ collection: Collection, _ key: [UInt8]) throws -> [UInt8]? {
        try validate(key: key)
        return try read(Keyspace.key(collection.id, key))
    }

    func read(_ treeKey: [UInt8]) throws -> [UInt8]? {
        let pending: Write? = try state.withLock { s in
            try Self.requireActive(s)
            return s.writes[treeKey]
        }
        switch pending {
        case .put(let value): return value
        case .delete: return nil
        case nil: return try engine.readCommitted(treeKey, at: snapshot)
        }
    }

    /// `get` for a key that usually does not exist yet (a load's unique-index probe).
    ///
    /// Every commit this snapshot sees was applied to the tree before the snapshot was
    /// taken, and a record stays in the tree while a live snapshot can see one of its
    /// versions; so a key above the collection's key ceiling (at or above every key it ever
    /// held, `StorageEngine.keyCeiling`), read once after the snapshot, has no version visible
    /// here. Such keys (ascending ids, appended data) are answered from this transaction's own
    /// writes without descending the tree; others read as `get` does.
    public func getUnlikely(_ collection: Collection, _ key: [UInt8]) throws -> [UInt8]? {
        try validate(key: key)
        return try getUnlikely(treeKey: Keyspace.key(collection.id, key), collectionID: collection.id)
    }

    /// `getUnlikely` for a tree key the caller built (`Keyspace`), already validated.
    func getUnlikely(treeKey: [UInt8], collectionID: UInt32) throws -> [UInt8]? {
        switch try ownWriteOrCeiling(treeKey: treeKey, collectionID: collectionID) {
        case .own(let value): return value
        case .aboveCeiling: return nil
        case .inTree: return try engine.readCommitted(treeKey, at: snapshot)
        }
    }

    /// What a unique-index probe finds for a key (`probeUnique`).
    enum UniqueProbe {
        /// No version this transaction sees, and none committed after its snapshot either.
        case absent
        /// The value this transaction sees (its own write, or its snapshot's).
        case visible([UInt8])
        /// Invisible here, but a transaction that committed after the snapshot wrote it (this
        /// newest value) and it still exists: the duplicate PostgreSQL's uniqueness check
        /// reports (23505) whatever the snapshot, since it looks at the newest committed version.
        case committedAfterSnapshot([UInt8])
    }

    /// `getUnlikely` for a unique index's key, which also tells a key that a commit this
    /// snapshot does not see inserted (one tree read either way). Keys above the collection's
    /// ceiling are not read: one committed after the ceiling was read is left to the commit's
    /// write-write check.
    func probeUnique(treeKey: [UInt8], collectionID: UInt32) throws -> UniqueProbe {
        switch try ownWriteOrCeiling(treeKey: treeKey, collectionID: collectionID) {
        case .own(let value): return value.map(UniqueProbe.visible) ?? .absent
        case .aboveCeiling: return .absent
        case .inTree: break
        }
        guard let bytes = try engine.store.read({ tree in try tree.get(treeKey) }) else { return .absent }
        let context = { "record (\(Keyspace.describe(treeKey)))" }
        if let value = try VersionChain.visibleValue(in: bytes, at: snapshot, context: context()) { return .visible(value) }
        guard try VersionChain.newestCommitTS(of: bytes, context: context()) > snapshot,
              let newest = try VersionChain.visibleValue(in: bytes, at: .max, context: context()) else { return .absent }
        return .committedAfterSnapshot(newest)
    }

    private enum OwnWriteOrCeiling {
        /// This transaction wrote the key: its value, nil when it deleted it.
        case own([UInt8]?)
        /// Above the collection's key ceiling: no committed version visible here.
        case aboveCeiling
        case inTree
    }

    /// The part of `getUnlikely` that needs no tree read.
    private func ownWriteOrCeiling(treeKey: [UInt8], collectionID: UInt32) throws -> OwnWriteOrCeiling {
        let (pending, ceiling): (Write?, [UInt8]?) = try state.withLock { s in
            try Self.requireActive(s)
            return (s.writes[treeKey], s.committedCeilings[collectionID])
        }
        switch pending {
        case .put(let value): return .own(value)
        case .delete: return .own(nil)
        case nil: break
        }
        var top = ceiling
        if top == nil {
            let found = try engine.keyCeiling(collectionID: collectionID)
            state.withLock { $0.committedCeilings[collectionID] = found }
            top = found
        }
        return top!.isEmpty || compareKeys(treeKey, top!) > 0 ? .aboveCeiling : .inTree
    }

    /// A cursor over `range` of `collection`, in key order (or descending with `reverse`).
    /// It sees the writes this transaction made before the cursor was created.
    public func scan(_ collection: Collection, _ range: KeyRange = .all, reverse: Bool = false) throws -> RangeCursor {
        try state.withLock { try Self.requireActive($0) }
        return RangeCursor(transaction: self, collectionID: collection.id, range: range, reverse: reverse)
    }

    /// Sorted pending writes of one collection within `range`, as user keys.
    func pendingWrites(collectionID: UInt32, range: KeyRange) -> [([UInt8], Write)] {
        state.withLock { s in
            let pending = s.writes.sorted(collectionID: collectionID)
            var out: [([UInt8], Write)] = []
            for (key, write) in zip(pending.keys, pending.writes) {
                let user = Array(key[4...])
                if range.contains(user) { out.append((user, write)) }
            }
            return out
        }
    }

    // MARK: Writes

    /// Sets `key` in `collection` to `value`.
    public func put(_ collection: Collection, _ key: [UInt8], _ value: [UInt8]) throws {
        try validate(key: key)
        try put(treeKey: Keyspace.key(collection.id, key), value)
    }

    /// `put` for a tree key the caller built (`Keyspace`, collection prefix included), so the
    /// insert path builds each key once instead of building the user key and then copying it.
    func put(treeKey: [UInt8], _ value: [UInt8]) throws {
        try treeKey.withUnsafeBytes { key in try value.withUnsafeBytes { try put(treeKey: key, $0) } }
    }

    /// `put` for bytes the caller holds anywhere (a key built on the stack): the write set
    /// copies them into its arena.
    func put(treeKey: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
        try validate(keyBytes: treeKey.count - 4)
        guard value.count <= Limits.maxValueBytes else {
            throw RedError(.limitExceeded, "value of \(value.count) bytes exceeds the limit of \(Limits.maxValueBytes)")
        }
        try state.withLock { s in
            try Self.recordWrite(&s, treeKey: treeKey, bytes: treeKey.count - 4 + value.count)
            s.writes.put(treeKey, value)
        }
    }

    /// Removes `key` from `collection`; returns whether it was present for this transaction.
    @discardableResult
    public func delete(_ collection: Collection, _ key: [UInt8]) throws -> Bool {
        try validate(key: key)
        return try delete(treeKey: Keyspace.key(collection.id, key))
    }

    /// `delete` for a tree key the caller built (`Keyspace`), already validated.
    @discardableResult
    func delete(treeKey: [UInt8]) throws -> Bool {
        guard try read(treeKey) != nil else { return false }
        try record(treeKey, .delete, bytes: treeKey.count - 4)
        return true
    }

    /// `put` of a value `encode` writes straight into the write set (at most `valueBound`
    /// bytes, which must not exceed the value limit): no array is built for it.
    func put(treeKey: UnsafeRawBufferPointer, valueBound: Int, encode: (inout RawByteWriter) -> Void) throws {
        try validate(keyBytes: treeKey.count - 4)
        precondition(valueBound <= Limits.maxValueBytes, "a value encoded in place must be bounded by the value limit")
        try state.withLock { s in
            // Checked against the bound (the size is known only once written), then counted exactly.
            try Self.recordWrite(&s, treeKey: treeKey, bytes: treeKey.count - 4 + valueBound)
            s.writeBytes -= valueBound - s.writes.put(treeKey, valueBound: valueBound, encode: encode)
        }
    }

    func record(_ treeKey: [UInt8], _ write: Write, bytes: Int) throws {
        try state.withLock { s in
            try treeKey.withUnsafeBytes { try Self.recordWrite(&s, treeKey: $0, bytes: bytes) }
            s.writes.set(treeKey, write)
        }
    }

    /// Checks and counts a write about to be recorded (under the state lock).
    private static func recordWrite(_ s: inout State, treeKey: UnsafeRawBufferPointer, bytes: Int) throws {
        try requireActive(s)
        guard s.writeBytes + bytes <= Limits.maxTransactionBytes else {
            throw RedError(.limitExceeded, "transaction writes exceed \(Limits.maxTransactionBytes) bytes; commit in smaller batches")
        }
        s.writeBytes += bytes
        s.writesRecorded += 1
        switch Keyspace.collectionID(of: treeKey) {
        case Keyspace.collectionsID: s.writesCatalog = true; s.writesDefinitions = true
        case Keyspace.catalogID: s.writesDefinitions = true
        default: break
        }
    }

    private func validate(key: [UInt8]) throws { try validate(keyBytes: key.count) }

    private func validate(keyBytes: Int) throws {
        guard keyBytes <= Limits.maxKeyBytes else {
            throw RedError(.limitExceeded, "key of \(keyBytes) bytes exceeds the limit of \(Limits.maxKeyBytes)")
        }
    }

    static func requireActive(_ s: State) throws {
        switch s.status {
        case .active: return
        case .committed: throw RedError(.transactionClosed, "the transaction has already committed")
        case .rolledBack: throw RedError(.transactionClosed, "the transaction was rolled back")
        }
    }

    // MARK: Guards

    /// Fails this transaction's commit with 40001 if a transaction committing after its
    /// snapshot changes `key` of `collection`: a row this one's writes rely on, such as the
    /// parent row a new foreign key value names (see `ReadGuards`). A savepoint rollback keeps
    /// the guard (at worst a retry that was not needed), unless it restores reads too
    /// (`rollback(to:restoringReads:)`, for a statement run again from its start).
    public func guardUnchanged(_ collection: Collection, key: [UInt8]) throws {
        try validate(key: key)
        let treeKey = Keyspace.key(collection.id, key)
        try state.withLock { s in
            try Self.requireActive(s)
            try Self.requireRoom(s, treeKey.count + ReadGuards.overheadBytes)
            s.guards.insert(key: treeKey, base: currentSnapshot.load(ordering: .relaxed))
        }
    }

    /// `guardUnchanged` for every key of `collection` starting with `prefix`, present or not:
    /// one inserted there by a later commit fails this one too (the children of a deleted parent).
    public func guardUnchanged(_ collection: Collection, keysStartingWith prefix: [UInt8]) throws {
        try validate(key: prefix)
        let lower = Keyspace.key(collection.id, prefix)
        let range = ReadGuards.Range(lower: lower, upper: KeyEncoding.successor(ofPrefix: lower))
        try state.withLock { s in
            try Self.requireActive(s)
            try Self.requireRoom(s, lower.count * 2 + ReadGuards.overheadBytes)
            s.guards.insert(range, base: currentSnapshot.load(ordering: .relaxed))
        }
    }

    /// Guards count with the writes against the transaction's size limit (not undone by a
    /// savepoint rollback, which keeps them, unless it restores reads).
    private static func requireRoom(_ s: State, _ bytes: Int) throws {
        guard s.writeBytes + s.guards.bytes + bytes <= Limits.maxTransactionBytes else {
            throw RedError(.limitExceeded,
                           "transaction writes and the rows its foreign key checks rely on exceed \(Limits.maxTransactionBytes) bytes; commit in smaller batches")
        }
    }

    // MARK: End

    /// Makes the writes durable and visible (per the engine's sync mode), or throws
    /// `.serializationFailure` if a concurrent transaction committed a conflicting write first.
    /// Either way the transaction is over afterwards.
    @discardableResult
    public func commit() async throws -> CommitInfo {
        let (writes, drops, changes, definitions, guards): (WriteSet, Bool, [PendingChange], DefinitionChanges, ReadGuards) = try state.withLock { s in
            try Self.requireActive(s)
            s.status = .committed
            return (s.writes, s.dropsCollection, s.changes, s.definitions, s.guards)
        }
        defer { engine.snapshots.release(firstSnapshot) }
        if writes.isEmpty { return CommitInfo(commitTS: snapshot, lsn: nil) }
        let info: CommitInfo
        do {
            info = try await engine.commit(writes, changes: changes, snapshot: firstSnapshot, definitions: definitions, guards: guards,
                                           began: began) { self.commitTimestamp = $0 }
            // After the drop is visible, so a vacuum that read the older generation rescans.
            if drops { engine.dropGeneration.add(1, ordering: .sequentiallyConsistent) }
        } catch {
            state.withLock { $0.status = .rolledBack }  // later use says "rolled back", not "committed"
            throw error
        }
        // Committed: a primary's commit policy may still hold the answer back (or fail it) until
        // replicas acknowledge; the transaction stays committed either way.
        if let lsn = info.lsn, let acknowledgement = engine.commitAcknowledgement.withLock({ $0 }) { try await acknowledgement(lsn) }
        return info
    }

    /// Notes that this transaction changes `collection`'s definition — based on its rows as
    /// this snapshot sees them when `basedOnData` — so that it and concurrent writers of the
    /// collection cannot both commit (`CollectionStamps`).
    public func noteDefinitionChange(of collection: Collection, basedOnData: Bool) {
        state.withLock { s in
            s.definitions.changed.insert(collection.id)
            if basedOnData { s.definitions.basedOnData.insert(collection.id) }
        }
    }

    /// Records an item change for the change feed; it is published only if the transaction commits.
    func noteChange(_ change: PendingChange) {
        state.withLock { s in
            if let last = s.changes.indices.last, s.changes[last].isContinued(by: change) {
                s.changes[last].count += 1
            } else {
                s.changes.append(change)
            }
        }
    }

    /// `noteChange` for a change to a table or document row: a load's next row only extends the
    /// run the previous one started, without a change being built for it.
    func noteRowChange(collection: String, kind: String, operation: ChangeEvent.Operation, rid: Int64) {
        state.withLock { s in
            if let last = s.changes.indices.last, s.changes[last].isContinued(collection: collection, kind: kind, operation: operation, rid: rid) {
                s.changes[last].count += 1
            } else {
                s.changes.append(PendingChange(collection: collection, kind: kind, operation: operation, rid: rid))
            }
        }
    }

    /// Discards every write. Calling it on a finished transaction does nothing.
    public func rollback() {
        let wasActive = state.withLock { s in
            guard s.status == .active else { return false }
            s.status = .rolledBack
            s.writes = WriteSet()
            return true
        }
        if wasActive { engine.snapshots.release(firstSnapshot) }
    }
}

/// What a successful commit produced.
public struct CommitInfo: Sendable, Equatable {
    /// The commit's timestamp (for a read-only transaction: its snapshot).
    public var commitTS: UInt64
    /// End LSN of the commit's WAL record; nil if the transaction wrote nothing.
    public var lsn: UInt64?
}
