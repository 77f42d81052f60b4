import RedCore
import RedStorage
import Synchronization

/// What replication needs from the engine (spec: replication-mcp-ai-ops §1; the design is
/// ours). The unit shipped is the WAL commit record: a commit's key writes in the shared
/// keyspace, catalog included, so a replica that applies every record in LSN order holds
/// the same keys and values as its primary.
/// - A primary reads its commit records back from the WAL files (`replicationRecords`) and
///   keeps the segments a replica still needs (`walRetention`).
/// - A new replica first copies every key at one snapshot (`beginReplicationSnapshot` and
///   `replicationCursor`) that comes with the LSN it is consistent with, then follows the
///   log from there.
/// - A replica applies what it receives as its own commits (`applyReplicated`,
///   `applyReplicatedEntries`), with its own WAL, so a crash of the replica loses nothing it
///   has acknowledged to the primary.
extension StorageEngine {
    /// A part of a commit record from the log (see `WALReader.Part`).
    public typealias ReplicationPart = WALReader.Part

    public struct ReplicationBatch: Sendable {
        public var parts: [ReplicationPart]
        /// The log's readable end: a replica that has applied up to here is caught up.
        public var currentLSN: UInt64
        /// The oldest LSN the primary can still serve.
        public var oldestLSN: UInt64
    }

    /// Commit records after `lsn` (an LSN a replica applied up to), from the WAL files.
    /// Throws `WALReader.ReadError.gap` when the log before `lsn` is gone.
    public func replicationRecords(after lsn: UInt64, payloadOffset: Int = 0, maxRecords: Int, maxBytes: Int) throws -> ReplicationBatch {
        let end = wal.readableLSN
        let bases = wal.segmentBases
        let parts = try WALReader(log: wal).read(from: lsn, payloadOffset: payloadOffset, upTo: end, bases: bases,
                                                 maxRecords: maxRecords, maxBytes: maxBytes)
        return ReplicationBatch(parts: parts.filter { $0.kind == CommitRecord.kind }, currentLSN: end, oldestLSN: bases.first ?? end)
    }

    /// A snapshot of every key and the LSN it is consistent with: every commit whose record
    /// ends at or before the LSN is visible in it, and none after. Taken under the tree lock
    /// (where commits append and apply), then made durable before it is returned, so a
    /// replica never copies what its primary could still lose.
    public func beginReplicationSnapshot() async throws -> (transaction: Transaction, lsn: UInt64) {
        let (ts, lsn) = store.write { _ -> (UInt64, UInt64) in
            let ts = lastCommitTS.load(ordering: .relaxed)
            snapshots.register(ts)
            return (ts, wal.appendedLSN)
        }
        let transaction = Transaction(engine: self, snapshot: ts)
        do {
            try await wal.sync(upTo: lsn)
        } catch {
            transaction.rollback()
            throw error
        }
        return (transaction, lsn)
    }

    /// Makes every commit applied so far durable, whatever the sync mode: a replica calls it
    /// before it reports an LSN durable to its primary. In `full` mode each commit already
    /// was; in `batched` or `off` it was not, and a primary waiting for acknowledgements
    /// (`ack_n`) would count commits its replica could still lose to a power failure.
    public func syncAppliedCommits() async throws {
        guard options.syncMode != .full else { return }
        try await wal.sync(upTo: wal.appendedLSN)
    }

    /// Every collection id that may hold keys: the reserved ones and every id handed out.
    public func replicationCollectionIDs(_ transaction: Transaction) throws -> [UInt32] {
        var next = Keyspace.firstUserID
        if let stored = try transaction.get(Transaction.system, Transaction.nextCollectionIDKey) {
            var r = ByteReader(stored, context: "collection id counter")
            next = try r.u32()
        }
        return Array(0..<max(Keyspace.firstUserID, next))
    }

    /// The keys of one collection id, reserved ones included.
    public func replicationCursor(_ transaction: Transaction, collectionID: UInt32) throws -> RangeCursor {
        try transaction.scan(Collection(id: collectionID, name: "#\(collectionID)", metadata: []))
    }

    /// Applies one of the primary's commit records as a local commit, together with the
    /// replica's own bookkeeping (catalog-storage keys), so both land or neither does.
    /// A write conflict with the replica's own background work throws serializationFailure:
    /// the caller retries.
    /// Returns the catalog-storage keys the record wrote (so the caller can reload what it
    /// keeps of them in memory, such as users).
    /// `skippingCatalogPrefix`: catalog-storage keys under it are not applied (a cascading
    /// replica's own bookkeeping, which its downstream replicas keep for themselves).
    @discardableResult
    public func applyReplicated(_ payload: [UInt8], lsn: UInt64, bookkeeping: [(key: [UInt8], value: [UInt8])],
                                skippingCatalogPrefix: [UInt8]? = nil) async throws -> [[UInt8]] {
        let decoded = try Self.replicatedWrites(payload, lsn: lsn, skippingCatalogPrefix: skippingCatalogPrefix)
        try await commitReplicated(decoded.writes, extra: [], bookkeeping: bookkeeping, changes: decoded.changes)
        // A replicated DROP: let the replica's vacuum find its marker.
        if decoded.dropsCollection { dropGeneration.add(1, ordering: .sequentiallyConsistent) }
        return decoded.catalogKeys
    }

    /// Applies several commit records, in order, as one local commit (a later record's write
    /// of a key replaces an earlier one's): what a point-in-time restore replays between two
    /// stopping points, where committing each record on its own cost most of the time.
    public func applyReplicated(batch records: [(payload: [UInt8], lsn: UInt64)]) async throws {
        var writes: [([UInt8], Transaction.Write)] = []
        var changes: [PendingChange] = []
        var dropsCollection = false
        for record in records {
            let decoded = try Self.replicatedWrites(record.payload, lsn: record.lsn, skippingCatalogPrefix: nil)
            writes += decoded.writes
            changes += decoded.changes
            dropsCollection = dropsCollection || decoded.dropsCollection
        }
        guard !writes.isEmpty else { return }
        try await commitReplicated(writes, extra: [], bookkeeping: [], changes: changes)
        if dropsCollection { dropGeneration.add(1, ordering: .sequentiallyConsistent) }
    }

    /// A commit record's writes as the replica applies them (see `applyReplicated`), the
    /// catalog-storage keys it wrote, and whether it drops a collection.
    static func replicatedWrites(_ payload: [UInt8], lsn: UInt64, skippingCatalogPrefix: [UInt8]?) throws
        -> (writes: [([UInt8], Transaction.Write)], changes: [PendingChange], catalogKeys: [[UInt8]], dropsCollection: Bool) {
        let record = try CommitRecord.decode(payload, lsn: lsn)
        func skipped(_ key: [UInt8]) -> Bool {
            guard let prefix = skippingCatalogPrefix, Keyspace.collectionID(of: key) == Keyspace.catalogID else { return false }
            return key.dropFirst(4).starts(with: prefix)
        }
        let catalogKeys = record.mutations.compactMap { m -> [UInt8]? in
            guard let key = m.key, Keyspace.collectionID(of: key) == Keyspace.catalogID else { return nil }
            return Array(key[4...])
        }
        var writes: [([UInt8], Transaction.Write)] = []
        writes.reserveCapacity(record.mutations.count)
        var dropsCollection = false
        for mutation in record.mutations {
            switch mutation {
            case .put(let key, let value):
                if skipped(key) { continue }
                if isDropMarker(key) { dropsCollection = true }
                writes.append((key, .put(value)))
            case .delete(let key):
                if skipped(key) { continue }
                // The primary's vacuum removing a dropped collection: the replica's own vacuum
                // does that once no snapshot open here can still see the collection.
                if isDropMarker(key) { continue }
                writes.append((key, .delete))
            case .deleteCollection:
                continue
            }
        }
        return (writes, record.changes, catalogKeys, dropsCollection)
    }

    /// Deletes every key of every collection, catalog included: a replica starting a new copy
    /// of its primary clears what an interrupted copy left.
    public func removeEverythingForReplication() async throws {
        let transaction = try begin()
        let ids = try replicationCollectionIDs(transaction).filter { id in try replicationCursor(transaction, collectionID: id).next() != nil }
        transaction.rollback()
        guard !ids.isEmpty else { return }
        try await commitReplicated([], extra: ids.map { .deleteCollection(id: $0) }, bookkeeping: [])
    }

    /// Writes keys copied from a primary's snapshot (`collectionID`, user key, value).
    public func applyReplicatedEntries(_ entries: [(collectionID: UInt32, key: [UInt8], value: [UInt8])],
                                       bookkeeping: [(key: [UInt8], value: [UInt8])]) async throws {
        let writes: [([UInt8], Transaction.Write)] = entries.map { (Keyspace.key($0.collectionID, $0.key), .put($0.value)) }
        try await commitReplicated(writes, extra: [], bookkeeping: bookkeeping)
        if writes.contains(where: { Self.isDropMarker($0.0) }) { dropGeneration.add(1, ordering: .sequentiallyConsistent) }
    }

    static func isDropMarker(_ key: [UInt8]) -> Bool {
        Keyspace.collectionID(of: key) == Keyspace.systemID && key.dropFirst(4).starts(with: Transaction.droppedPrefix)
    }

    private func commitReplicated(_ writes: [([UInt8], Transaction.Write)], extra: [CommitRecord.Mutation],
                                  bookkeeping: [(key: [UInt8], value: [UInt8])], changes: [PendingChange] = []) async throws {
        var writes = writes
        for entry in bookkeeping { writes.append((Keyspace.key(Keyspace.catalogID, entry.key), .put(entry.value))) }
        let snapshot = snapshots.acquire()
        defer { snapshots.release(snapshot) }
        _ = try await commit(WriteSet(writes), extra: extra, changes: changes, snapshot: snapshot) { _ in }
        if extra.contains(where: { if case .deleteCollection = $0 { return true } else { return false } }) {
            dropGeneration.add(1, ordering: .sequentiallyConsistent)
        }
    }
}

extension SnapshotRegistry {
    /// Opens a snapshot at `ts` (at most the newest commit); the caller holds the tree lock,
    /// so no commit can trim the versions it needs before it is counted.
    func register(_ ts: UInt64) {
        withState { s in s.open[ts, default: 0] += 1 }
    }
}

extension StorageEngine {
    /// The collection id of catalog storage (`Transaction.catalogGet`) in replication cursors.
    public static var catalogCollectionID: UInt32 { Keyspace.catalogID }

    /// The end of the log a primary can serve now.
    public var replicationReadableLSN: UInt64 { wal.readableLSN }
    /// The oldest LSN still in the WAL files.
    public var replicationOldestLSN: UInt64 { wal.segmentBases.first ?? wal.readableLSN }
}

extension StorageEngine {
    /// The wall-clock time (Unix milliseconds) a commit record was committed at, read from its
    /// payload; nil for records written before commit times were recorded.
    public static func commitTime(ofRecord payload: [UInt8]) -> Int64? { CommitRecord.commitTime(of: payload) }

    /// Whole commit records after `lsn`, about `maxBytes` of payload (always at least one
    /// record, however large), and the log's readable end: what the WAL archiver uploads as
    /// one segment. A record the reader returns in parts is joined and its CRC checked.
    /// Throws `WALReader.ReadError.gap` when the log before `lsn` is gone.
    public func wholeCommitRecords(after lsn: UInt64, maxBytes: Int) throws -> (records: [(endLSN: UInt64, payload: [UInt8])], currentLSN: UInt64) {
        var records: [(endLSN: UInt64, payload: [UInt8])] = []
        var since = lsn
        var total = 0
        var partial: [UInt8] = []
        var current = replicationReadableLSN
        while total < maxBytes || !partial.isEmpty {
            let batch = try replicationRecords(after: since, payloadOffset: partial.count, maxRecords: 4_096,
                                               maxBytes: max(1 << 20, maxBytes - total))
            current = batch.currentLSN
            guard !batch.parts.isEmpty else { break }
            for part in batch.parts {
                if part.isWhole {
                    records.append((part.endLSN, part.bytes))
                    since = part.endLSN
                } else {
                    guard part.offset == partial.count else {
                        throw RedError(.dataCorrupted, "WAL record ending at \(part.endLSN) came back in parts out of order")
                    }
                    partial += part.bytes
                    guard partial.count == part.payloadLength else { continue }
                    guard CRC32.checksum(partial) == part.payloadCRC else {
                        throw RedError(.dataCorrupted, "WAL record ending at \(part.endLSN) fails its checksum")
                    }
                    records.append((part.endLSN, partial))
                    since = part.endLSN
                    partial = []
                }
                total += part.bytes.count
            }
        }
        return (records, current)
    }
}
