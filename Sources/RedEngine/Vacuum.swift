import RedCore
import RedStorage

/// Reclaims versions that no snapshot can see any more.
///
/// Every commit trims the records it writes. A record that still holds old
/// versions afterwards (an open snapshot needed them) is queued here; a
/// later pass trims it again once the horizon has moved past. Dropped
/// collections are removed once no open snapshot predates the drop: their
/// records in short unlogged steps, then their marker in one logged commit.
/// Trimming and deleting what nobody can see change no visible state, so they
/// need no WAL record: replay may simply keep a version (or a dropped
/// collection's records, until the marker's commit deletes them again) longer.
extension StorageEngine {
    func enqueueForVacuum(_ keys: [[UInt8]]) {
        vacuumQueue.withLock { q in
            for key in keys where q.count < options.maxVacuumQueueKeys { q.insert(key) }
        }
    }

    /// Trims up to `limit` queued records and removes dropped collections; returns records trimmed.
    @discardableResult
    public func vacuum(limit: Int = .max) async throws -> Int {
        if let failure = failure.withLock({ $0 }) { throw failure }
        let batch: [[UInt8]] = vacuumQueue.withLock { q in
            var taken: [[UInt8]] = []
            while taken.count < limit, let key = q.popFirst() { taken.append(key) }
            return taken
        }
        var trimmed = 0
        // In key order (neighbours share leaves), a chunk per hold of the tree's lock: a round
        // of 10,000 records held every commit and reader up for tens of milliseconds.
        let ordered = batch.sorted { compareKeys($0, $1) < 0 }
        for start in stride(from: 0, to: ordered.count, by: Self.vacuumStepRecords) {
            let chunk = ordered[start..<min(start + Self.vacuumStepRecords, ordered.count)]
            let requeue: [[UInt8]]
            do { requeue = try store.write { tree in
                let horizon = snapshots.horizon
                var again: [[UInt8]] = []
                // Read before any write: one descent per leaf (the chunk is sorted), and the
                // reader's remembered leaf is not one the writes below replace.
                let records = try tree.getSorted(Array(chunk))
                for (key, record) in zip(chunk, records) {
                    guard let bytes = record else { continue }
                    var chain = try VersionChain(decoding: bytes, context: "record (\(Keyspace.describe(key)))")
                    let before = chain.versions.count
                    chain.trim(horizon: horizon)
                    if chain.versions.count == before { again.append(key); continue }
                    trimmed += 1
                    if chain.versions.isEmpty { try tree.delete(key) } else { try tree.put(key, chain.encode()) }
                    if chain.holdsGarbage { again.append(key) }
                }
                return again
            } } catch {
                // The keys not done yet go back: taken off the queue, they would keep their old
                // versions until each is written again. (A key this chunk did trim is just
                // trimmed again later, which changes nothing.)
                enqueueForVacuum(Array(ordered[start...]))
                throw error
            }
            enqueueForVacuum(requeue)
        }
        try await removeDroppedCollections()
        return trimmed
    }

    /// Records trimmed per hold of the tree's lock.
    static let vacuumStepRecords = 512

    /// Records of a dropped collection deleted per hold of the tree's lock.
    static let dropStepRecords = 4_096

    /// Deletes the records of dropped collections no open snapshot can see.
    func removeDroppedCollections() async throws {
        // Read the generation before the snapshot: every drop it counts is visible to the snapshot,
        // and a drop committing later bumps it past what is recorded below.
        let generation = dropGeneration.load(ordering: .sequentiallyConsistent)
        guard generation != vacuumedDropGeneration.load(ordering: .sequentiallyConsistent) else { return }
        let tx = beginInternal()
        defer { tx.rollback() }
        let markers = try tx.scan(Transaction.system, .prefix(Transaction.droppedPrefix)).collect()
        guard !markers.isEmpty else {
            vacuumedDropGeneration.store(generation, ordering: .sequentiallyConsistent)
            return
        }
        let horizon = snapshots.horizon
        for marker in markers {
            var r = ByteReader(marker.value, context: "drop marker")
            let id = try r.u32()
            let treeKey = Keyspace.key(Keyspace.systemID, marker.key)
            let dropTS = try store.read { tree -> UInt64 in
                guard let bytes = try tree.get(treeKey) else { return .max }
                return try VersionChain(decoding: bytes, context: "drop marker").newestCommitTS
            }
            guard dropTS <= horizon else { continue }
            // A few thousand records per hold of the tree's lock, so that commits go on
            // meanwhile: one commit deleting a million-row table held them up for a second.
            // The pause lets a committer waiting for the lock take it: released and taken
            // again at once, the lock went back to this loop before a waiting thread woke.
            while try store.write({ tree in try Self.deleteRecords(ofCollection: id, in: tree, atMost: Self.dropStepRecords) }) > 0 {
                try? await Task.sleep(for: .milliseconds(1))
            }
            _ = try await commit(WriteSet([(treeKey, .delete)]), extra: [.deleteCollection(id: id)],
                                 snapshot: tx.snapshot) { _ in }
        }
    }
}
