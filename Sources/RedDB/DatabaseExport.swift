import Foundation
import RedCore
import RedEngine
import RedStorage

/// Online exports: a consistent copy of the whole database in a new file, taken while it
/// serves (`POST /export`, gRPC `CreateExport`, `CreateSnapshot`).
///
/// The copy is every key visible at one snapshot (the replication snapshot: catalog, rows,
/// indexes, users), written into a fresh database with commits of `batchBytes` and no fsync
/// per commit, then checkpointed and synced when it is closed — so a copy that finished is
/// durable and opens like any database (`red server -d copy.rdb`), and one that failed is
/// removed. The copy is written under a temporary name (`<path>.partial`) and renamed when
/// complete, so a crash mid-copy never leaves a file that looks like a finished export. Writers are never blocked: the snapshot holds old versions, not locks. The
/// export's files are `<path>` and its `<path>-wal` directory; copy both.
extension Database {
    public struct ExportSummary: Sendable {
        public var path: String
        /// The LSN the copy is consistent with.
        public var lsn: UInt64
        public var keys: Int
        /// Size of the exported main file.
        public var bytes: Int64
        public var milliseconds: Int64
    }

    /// Bytes of keys and values per commit into the copy.
    static let exportBatchBytes = 4 << 20
    /// Bytes copied between two checkpoints of the copy.
    static let exportCheckpointBytes = 64 << 20

    /// Copies the database as of now into a new database at `path` (which must not exist).
    ///
    /// ```swift
    /// let summary = try await db.export(to: "/backups/data-2026-12-02.rdb")
    /// ```
    public func export(to path: String) async throws -> ExportSummary {
        let started = ContinuousClock.now
        let files = FileManager.default
        guard !files.fileExists(atPath: path), !files.fileExists(atPath: StorageEngine.walDirectory(for: path)) else {
            throw RedError(.duplicateObject, "\(path) already exists; choose another name or remove it")
        }
        let (transaction, lsn) = try await engine.beginReplicationSnapshot()
        defer { transaction.rollback() }
        var options = EngineOptions()
        options.syncMode = .off  // one sync at the end covers the whole copy
        options.backgroundWork = false
        // Small segments and a checkpoint every `exportCheckpointBytes`: the copy's log is
        // dropped as it goes (bounding disk and dirty pages), and the export ships one short segment.
        options.walSegmentBytes = UInt64(Self.exportBatchBytes * 4)
        let partial = path + ".partial"
        try? files.removeItem(atPath: partial)  // left by a crash
        try? files.removeItem(atPath: StorageEngine.walDirectory(for: partial))
        let target: StorageEngine
        do {
            target = try await StorageEngine.open(path: partial, options: options)
        } catch {
            throw RedError(.ioError, "cannot create \(partial): \((error as? RedError)?.message ?? "\(error)")")
        }
        var keys = 0
        var sinceCheckpoint = 0
        var moved: [String] = []
        do {
            var batch: [(collectionID: UInt32, key: [UInt8], value: [UInt8])] = []
            var batchBytes = 0
            for id in try engine.replicationCollectionIDs(transaction) {
                let cursor = try engine.replicationCursor(transaction, collectionID: id)
                while let (key, value) = try cursor.next() {
                    batch.append((id, key, value))
                    batchBytes += key.count + value.count
                    keys += 1
                    if batchBytes >= Self.exportBatchBytes {
                        try await target.applyReplicatedEntries(batch, bookkeeping: [])
                        sinceCheckpoint += batchBytes
                        batch.removeAll(keepingCapacity: true)
                        batchBytes = 0
                        if sinceCheckpoint >= Self.exportCheckpointBytes {
                            try await target.checkpoint()
                            sinceCheckpoint = 0
                        }
                        try Task.checkCancellation()
                    }
                }
            }
            if !batch.isEmpty { try await target.applyReplicatedEntries(batch, bookkeeping: []) }
            try await target.close()
            // The WAL directory first: a main file alone under the final name is never half a copy.
            try files.moveItem(atPath: StorageEngine.walDirectory(for: partial), toPath: StorageEngine.walDirectory(for: path))
            moved.append(StorageEngine.walDirectory(for: path))
            try files.moveItem(atPath: partial, toPath: path)
            moved.append(path)
            try PosixFileSystem().syncDirectory((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent)
        } catch {
            try? await target.close()
            for doomed in [partial, StorageEngine.walDirectory(for: partial)] + moved {
                try? files.removeItem(atPath: doomed)
            }
            throw error
        }
        let size = (try? files.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
        let elapsed = ContinuousClock.now - started
        return ExportSummary(path: path, lsn: lsn, keys: keys, bytes: size,
                             milliseconds: elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
    }
}

extension Database {
    /// Reads every entry of index `name` once, so its pages are in the page cache before the
    /// queries that need them (gRPC `WarmupIndex`). Returns the index's table and entry count.
    public func warmIndex(named name: String) throws -> (table: String, entries: Int) {
        let tx = try engine.begin()
        defer { tx.rollback() }
        for handle in try store.list(tx) {
            guard let index = handle.schema.indexes.first(where: { $0.name == name }) else { continue }
            let cursor = try tx.scan(try tx.collection(named: index.storageName))
            var entries = 0
            while try cursor.next() != nil { entries += 1 }
            return (handle.name, entries)
        }
        throw RedError(.undefinedCollection, "relation \"\(name)\" does not exist")
    }
}

extension Database {
    /// Sets an index's operator marks (gRPC `MarkIndex*`, `FailIndex`, `SetIndexEnabled`): a
    /// catalog change committed like DDL, refused to callers whose `access` cannot write.
    /// Returns the index's table and its definition as stored.
    public func markIndex(named name: String, status: IndexDefinition.Status?, enabled: Bool?,
                          access: SessionAccess) async throws -> (table: String, index: IndexDefinition) {
        if let refusal = access.writeRefusal("ALTER INDEX") { throw refusal }
        let tx = try engine.begin()
        do {
            guard let handle = try store.list(tx).first(where: { $0.schema.indexes.contains { $0.name == name } }) else {
                throw RedError(.undefinedCollection, "relation \"\(name)\" does not exist")
            }
            let (_, index) = try store.markIndex(tx, handle, named: name, status: status, enabled: enabled)
            _ = try await tx.commit()
            return (handle.name, index)
        } catch {
            tx.rollback()
            throw error
        }
    }
}
