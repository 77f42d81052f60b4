import Foundation
import RedCore
import RedStorage
import Synchronization

/// Replacing every key of a running database with another database's (a restore into a
/// running server, `POST /admin/restore`), never leaving it half replaced for good.
///
/// 1. **Intent.** A file beside the database, `<path>-replacing`, names the source (with a
///    checksum, so a torn one is recognised as never written) and is fsynced with its
///    directory before anything changes. From then on an interrupted replacement is finished
///    by the next `open` (`finishInterruptedReplacement`), since the source is kept until the end.
/// 2. **Gate.** `begin()` refuses new transactions with 55000 until the end, so no reader
///    sees the replacement half done; and it first waits for the transactions already open to
///    end, so that none spans it: up to `waitingUpTo` (30 s), else it fails having changed
///    nothing. This comes before the intent, so a refusal leaves nothing to finish.
/// 3. **Copy.** Both databases are walked in key order, catalog included, and only the
///    difference is committed (`copyEverything`), about 8 MiB per commit: versioned puts and
///    deletes at this engine's own timestamps, which replicas and the WAL archive carry like
///    any commit. These commits pass the write fences (`ignoringFence`): a restore runs on a
///    server that is read-only. They are made durable whatever the sync mode.
/// 4. **Done.** The intent file goes, then the source.
///
/// Every file goes through the engine's `FileSystem`, so the simulated one can crash it.
/// The layers above notice through the catalog version, which the copied registry bumps.
extension StorageEngine {
    /// Where the intent of a replacement in progress is kept.
    public static func replacementIntentPath(for path: String) -> String { path + "-replacing" }

    /// Replaces every key with those of the database at `source` (closed, not open elsewhere,
    /// on the same file system) and removes `source` afterwards; returns how many keys changed.
    public func replaceContents(withDatabaseAt source: String, waitingUpTo wait: Duration = .seconds(30)) async throws -> Int {
        guard replacing.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged else {
            throw RedError(.objectNotInPrerequisiteState, "the database at \(path) is already being replaced")
        }
        defer { replacing.store(false, ordering: .sequentiallyConsistent) }
        let fs = wal.fileSystem
        guard fs.fileExists(source) else { throw RedError(.invalidArgument, "no database at \(source) to replace \(path) with") }
        snapshots.closeToTransactions(Self.restoringError)
        defer { snapshots.closeToTransactions(nil) }
        let deadline = ContinuousClock.now + wait
        while snapshots.openCount > 0 {
            guard ContinuousClock.now < deadline else {
                throw RedError(.objectNotInPrerequisiteState,
                               "the restore waits for open transactions to end, and \(snapshots.openCount) are still open after \(wait); end them and try again")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        try Self.writeIntent(source: source, for: path, fs)
        return try await copyAndFinish(from: source)
    }

    /// Run by `open`: finishes a replacement a crash interrupted.
    static func finishInterruptedReplacement(_ engine: StorageEngine) async throws {
        let fs = engine.wal.fileSystem
        let intent = replacementIntentPath(for: engine.path)
        guard fs.fileExists(intent) else { return }
        guard let source = try readIntent(intent, fs) else {
            // Torn before it was synced: nothing was changed after it.
            try fs.removeFile(intent)
            try fs.syncDirectory(FilePath.parent(of: engine.path))
            return
        }
        guard fs.fileExists(source) else {
            throw RedError(.dataCorrupted, "\(engine.path) was being replaced by \(source) when it stopped, and that database is gone: "
                + "the contents are partly replaced. Restore again, or remove \(intent) to open what is there")
        }
        engine.snapshots.closeToTransactions(restoringError)
        defer { engine.snapshots.closeToTransactions(nil) }
        _ = try await engine.copyAndFinish(from: source)
    }

    static let restoringError = RedError(.objectNotInPrerequisiteState, "the database is being restored (POST /admin/restore); try again when it finishes")

    private func copyAndFinish(from source: String) async throws -> Int {
        let fs = wal.fileSystem
        var sourceOptions = EngineOptions()
        sourceOptions.cacheBytes = min(options.cacheBytes, 32 << 20)
        sourceOptions.backgroundWork = false
        let from = try await StorageEngine.open(path: source, options: sourceOptions, fileSystem: fs)
        let copied: Int
        do {
            copied = try await copyEverything(from: from)
            try await from.close()
        } catch {
            try? await from.close()
            throw error
        }
        try await wal.sync(upTo: wal.appendedLSN)  // every copy commit durable, whatever the sync mode, before the intent goes
        try fs.removeFile(Self.replacementIntentPath(for: path))
        try fs.syncDirectory(FilePath.parent(of: path))
        // The source is not needed any more; what cannot be removed here is removed before the next restore.
        try? fs.removeFile(source)
        let sourceWAL = Self.walDirectory(for: source)
        for name in (try? fs.listDirectory(sourceWAL)) ?? [] { try? fs.removeFile(FilePath.join(sourceWAL, name)) }
        return copied
    }

    /// Walks both databases collection by collection in key order and commits the difference:
    /// a key only here is deleted, a key only in the source or with another value there is
    /// written. Every change is an ordinary versioned put or delete, so replicas and a
    /// point-in-time replay of the archive apply it as they apply any commit (a physical
    /// `deleteCollection` they would skip: that is the primary's vacuum). Returns the keys changed.
    private func copyEverything(from source: StorageEngine) async throws -> Int {
        let live = beginInternal()
        defer { live.rollback() }
        let reader = try source.begin()
        defer { reader.rollback() }
        let ids = Set(try replicationCollectionIDs(live)).union(try source.replicationCollectionIDs(reader)).sorted()
        var batch: [([UInt8], Transaction.Write)] = []
        var bytes = 0
        var changed = 0
        func add(_ id: UInt32, _ key: [UInt8], _ write: Transaction.Write, _ size: Int) async throws {
            batch.append((Keyspace.key(id, key), write))
            bytes += key.count + size + 16
            changed += 1
            if bytes >= Self.replacementBatchBytes {
                try await commitIgnoringFences(batch, extra: [])
                batch = []
                bytes = 0
            }
        }
        for id in ids {
            let here = try replicationCursor(live, collectionID: id)
            let there = try source.replicationCursor(reader, collectionID: id)
            var mine = try here.next()
            var theirs = try there.next()
            while mine != nil || theirs != nil {
                let order = mine.flatMap { m in theirs.map { compareKeys(m.0, $0.0) } } ?? (mine == nil ? 1 : -1)
                if order < 0, let (key, _) = mine {
                    try await add(id, key, .delete, 0)
                    mine = try here.next()
                } else if order > 0, let (key, value) = theirs {
                    try await add(id, key, .put(value), value.count)
                    theirs = try there.next()
                } else if let (key, value) = theirs, let (_, current) = mine {
                    if value != current { try await add(id, key, .put(value), value.count) }
                    mine = try here.next()
                    theirs = try there.next()
                }
            }
        }
        if !batch.isEmpty { try await commitIgnoringFences(batch, extra: []) }
        dropGeneration.add(1, ordering: .sequentiallyConsistent)  // drop markers the source brought, if any
        return changed
    }

    static let replacementBatchBytes = 8 << 20

    private func commitIgnoringFences(_ writes: [([UInt8], Transaction.Write)], extra: [CommitRecord.Mutation]) async throws {
        let snapshot = snapshots.acquire()
        defer { snapshots.release(snapshot) }
        _ = try await commit(WriteSet(writes), extra: extra, snapshot: snapshot, ignoringFence: true) { _ in }
    }

    /// `RDREPLACE1 <crc32 of the path, hex> <source path>`.
    private static func writeIntent(source: String, for path: String, _ fs: any FileSystem) throws {
        let body = Array(source.utf8)
        let text = Array("RDREPLACE1 \(String(CRC32.checksum(body), radix: 16)) ".utf8) + body
        let file = try fs.openFile(replacementIntentPath(for: path), create: true)
        do {
            try file.truncate(to: 0)
            try file.write(text, at: 0)
            try file.sync()
            try file.close()
        } catch {
            try? file.close()
            throw error
        }
        try fs.syncDirectory(FilePath.parent(of: path))
    }

    /// The source an intent names; nil when it is torn (not all written).
    private static func readIntent(_ intent: String, _ fs: any FileSystem) throws -> String? {
        let file = try fs.openFile(intent, create: false)
        defer { try? file.close() }
        let size = try file.size()
        guard size <= 1 << 16 else { return nil }
        let bytes = try file.readExactly(Int(size), at: 0)
        let parts = bytes.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, Array(parts[0]) == Array("RDREPLACE1".utf8),
              let crc = UInt32(String(decoding: parts[1], as: UTF8.self), radix: 16), crc == CRC32.checksum(Array(parts[2])) else { return nil }
        return String(decoding: parts[2], as: UTF8.self)
    }
}
