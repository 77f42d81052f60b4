import Crypto
import Foundation
import RedCore
import RedEngine
import RedStorage

/// Restores a database from a backend as of a point in time (spec ops §7.4): the newest
/// snapshot taken at or before the target, then the archived commits after it up to the target.
///
/// Everything is verified before anything is applied: the snapshot's SHA-256, each segment's
/// SHA-256, that each segment names its predecessor's hash (`prev_hash`) and starts where it
/// ends, and that no segment is missing before the target. Commits are replayed in LSN order
/// and the replay stops at the first one committed after the target time (or past the target
/// LSN), so the result is exactly the state the database had at one commit.
///
/// The database is built under `<destination>.restoring` and renamed into place when done, so
/// a name that exists is a complete restore; a failed one is left under `.restoring` for a look.
public enum PointInTimeRestore {
    /// A replay batch ends at this many payload bytes or records (one local commit each; a
    /// commit per record made the replay about 13,000 records/s).
    static let replayBatchBytes = 8 << 20
    static let replayBatchRecords = 10_000
    public struct Target: Sendable, Equatable {
        /// Unix milliseconds; nil: the latest state archived.
        public var timeMilliseconds: Int64?
        /// Stop after the commit ending at or before this LSN (of the snapshot's database).
        public var lsn: UInt64?

        public init(timeMilliseconds: Int64? = nil, lsn: UInt64? = nil) {
            self.timeMilliseconds = timeMilliseconds
            self.lsn = lsn
        }

        public static let latest = Target()

        /// `unix:<s>`, `unix_ms:<ms>`, `ms:<ms>`, or a bare number (below 10¹² seconds, else
        /// milliseconds); 0 or empty: the latest.
        public static func parseTime(_ text: String) throws -> Int64? {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            func number(_ s: Substring) throws -> Int64 {
                guard let n = Int64(s), n >= 0 else {
                    throw RedError(.invalidArgument, "restore time \"\(text)\": use unix:<seconds>, unix_ms:<ms> or a number")
                }
                return n
            }
            let ms: Int64
            if trimmed.hasPrefix("unix_ms:") { ms = try number(trimmed.dropFirst(8)) }
            else if trimmed.hasPrefix("ms:") { ms = try number(trimmed.dropFirst(3)) }
            else if trimmed.hasPrefix("unix:") { ms = try number(trimmed.dropFirst(5)).multipliedReportingOverflow(by: 1000).partialValue }
            else if trimmed.isEmpty { return nil }
            else {
                let n = try number(trimmed[...])
                ms = n < 1_000_000_000_000 ? n * 1000 : n
            }
            return ms == 0 ? nil : ms
        }
    }

    public struct RestorePoint: Sendable {
        public var snapshot: SnapshotManifest
        public var segmentCount: Int
        /// The newest commit time this snapshot and its chain reach (its own time without segments).
        public var latestRecoverableTime: Int64

        public var json: JSONValue {
            .object([("snapshot_id", .integer(snapshot.snapshotID)), ("snapshot_key", .string(snapshot.snapshotKey)),
                     ("snapshot_time", .integer(snapshot.snapshotTime)), ("base_lsn", .integer(Int64(snapshot.baseLSN))),
                     ("wal_segment_count", .integer(Int64(segmentCount))), ("latest_recoverable_time", .integer(latestRecoverableTime))])
        }
    }

    public struct Summary: Sendable {
        public var snapshotUsed: Int64
        public var segmentsReplayed: Int
        public var recordsApplied: Int
        public var recoveredToLSN: UInt64
        /// Commit time of the last record applied (the snapshot's time when none was).
        public var recoveredToTime: Int64

        public var json: JSONValue {
            .object([("ok", .bool(true)), ("snapshot_used", .integer(snapshotUsed)), ("wal_segments_replayed", .integer(Int64(segmentsReplayed))),
                     ("records_applied", .integer(Int64(recordsApplied))), ("recovered_to_lsn", .integer(Int64(recoveredToLSN))),
                     ("recovered_to_time", .integer(recoveredToTime))])
        }
    }

    /// Every snapshot in the backend, oldest first, with how far its chain reaches.
    public static func restorePoints(backend: any BackupBackend, layout: BackupLayout) async throws -> [RestorePoint] {
        let snapshots = try await snapshotManifests(backend: backend, layout: layout)
        var refsByPrefix: [String: [SegmentRef]] = [:]
        var points: [RestorePoint] = []
        for snapshot in snapshots {
            if refsByPrefix[snapshot.walPrefix] == nil {
                refsByPrefix[snapshot.walPrefix] = try await segmentRefs(backend: backend, prefix: snapshot.walPrefix)
            }
            // From the key names alone (a listing, not a verification): the contiguous run of
            // segments after the snapshot, and the last one's manifest for its newest commit time.
            let refs = refsByPrefix[snapshot.walPrefix] ?? []
            let byStart = Dictionary(grouping: refs, by: \.start)
            var run: [SegmentRef] = []
            var current = refs.filter { $0.start <= snapshot.baseLSN && $0.end > snapshot.baseLSN }.max { $0.end < $1.end }
            while let segment = current {
                run.append(segment)
                current = byStart[segment.end]?.max { $0.end < $1.end }
            }
            var latest = snapshot.snapshotTime
            if let last = run.last, let manifest = try? await loadSegment(last, backend: backend) { latest = max(latest, manifest.lastTime) }
            points.append(RestorePoint(snapshot: snapshot, segmentCount: run.count, latestRecoverableTime: latest))
        }
        return points
    }

    /// Restores into `destination` (which must not exist) as of `target`.
    public static func restore(backend: any BackupBackend, layout: BackupLayout, target: Target, destination: String) async throws -> Summary {
        let files = FileManager.default
        guard !files.fileExists(atPath: destination), !files.fileExists(atPath: StorageEngine.walDirectory(for: destination)) else {
            throw RedError(.duplicateObject, "\(destination) already exists; restore into a new path")
        }
        let snapshots = try await snapshotManifests(backend: backend, layout: layout)
        // An LSN means a position in one database's log: the newest database's (the one whose
        // snapshot is newest in the namespace).
        let database = snapshots.last?.walPrefix
        guard let snapshot = snapshots.last(where: { s in
            (target.timeMilliseconds.map { s.snapshotTime <= $0 } ?? true)
                && (target.lsn.map { s.baseLSN <= $0 && s.walPrefix == database } ?? true)
        }) else {
            throw RedError(.undefinedObject, snapshots.isEmpty ? "the backend \(backend.description) holds no snapshot"
                                                               : "no snapshot was taken at or before the target")
        }
        let segments = try await chain(after: snapshot, refs: try await segmentRefs(backend: backend, prefix: snapshot.walPrefix),
                                       target: target, backend: backend)

        let work = destination + ".restoring"
        let workWAL = StorageEngine.walDirectory(for: work)
        try? files.removeItem(atPath: work)
        try? files.removeItem(atPath: workWAL)
        let downloads = destination + ".restore-download"
        try? files.removeItem(atPath: downloads)
        try files.createDirectory(atPath: downloads, withIntermediateDirectories: true)
        defer { try? files.removeItem(atPath: downloads) }

        // Fetch and verify everything first.
        let blob = downloads + "/snapshot.blob"
        guard try await backend.getFile(snapshot.snapshotKey, to: blob) else {
            throw RedError(.dataCorrupted, "snapshot \(snapshot.snapshotKey) is named by its manifest but missing")
        }
        var verified: [(manifest: SegmentManifest, path: String)] = []
        for (index, manifest) in segments.enumerated() {
            guard let bytes = try await backend.get(manifest.key) else {
                throw RedError(.dataCorrupted, "WAL segment \(manifest.key) is named by its manifest but missing")
            }
            guard S3Signer.hex(SHA256.hash(data: bytes)) == manifest.sha256 else {
                throw RedError(.dataCorrupted, "WAL segment \(manifest.key) does not match its SHA-256; nothing was restored")
            }
            // Its frames too, before anything is applied: in LSN order, inside its range.
            let records = try WALSegment.decode(bytes, key: manifest.key)
            var previous = manifest.lsnStart
            for record in records {
                guard record.endLSN > previous, record.endLSN <= manifest.lsnEnd else {
                    throw RedError(.dataCorrupted, "WAL segment \(manifest.key) holds a record outside its LSN range; nothing was restored")
                }
                previous = record.endLSN
            }
            guard previous == manifest.lsnEnd, records.count == manifest.records else {
                throw RedError(.dataCorrupted, "WAL segment \(manifest.key) does not hold what its manifest says; nothing was restored")
            }
            let path = downloads + "/segment-\(index)"
            guard files.createFile(atPath: path, contents: Data(bytes)) else { throw RedError(.ioError, "cannot write \(path)") }
            verified.append((manifest, path))
        }
        try SnapshotArchive.unpack(blob, sha256: snapshot.sha256, into: work)

        // Replay.
        var options = EngineOptions()
        options.backgroundWork = false
        options.syncMode = .off  // closing checkpoints and syncs the whole restore once
        let engine = try await StorageEngine.open(path: work, options: options)
        var applied = 0
        var replayed = 0
        var lastLSN = snapshot.baseLSN
        var lastTime = snapshot.snapshotTime
        var sinceCheckpoint = 0
        // Records are applied in batches of up to `replayBatchBytes` (one local commit each),
        // always ending at a record boundary, and the batch in hand is applied before stopping.
        var batch: [(payload: [UInt8], lsn: UInt64)] = []
        var batchBytes = 0
        func flush() async throws {
            guard !batch.isEmpty else { return }
            try await engine.applyReplicated(batch: batch)
            applied += batch.count
            sinceCheckpoint += batchBytes
            batch.removeAll(keepingCapacity: true)
            batchBytes = 0
            if sinceCheckpoint >= 64 << 20 {  // bounds dirty pages and the restored log
                try await engine.checkpoint()
                sinceCheckpoint = 0
            }
        }
        do {
            replay: for (manifest, path) in verified {
                guard let data = files.contents(atPath: path) else { throw RedError(.ioError, "cannot read \(path)") }
                let records = try WALSegment.decode([UInt8](data), key: manifest.key)
                replayed += 1
                for record in records where record.endLSN > snapshot.baseLSN {
                    if let time = target.timeMilliseconds, record.timeMilliseconds > time { break replay }
                    if let lsn = target.lsn, record.endLSN > lsn { break replay }
                    batch.append((record.payload, record.endLSN))
                    batchBytes += record.payload.count
                    lastLSN = record.endLSN
                    lastTime = record.timeMilliseconds
                    if batchBytes >= Self.replayBatchBytes || batch.count >= Self.replayBatchRecords { try await flush() }
                }
            }
            try await flush()
            try await engine.close()
        } catch {
            try? await engine.close()
            throw RedError((error as? RedError)?.code ?? .ioError,
                           "restore failed after \(applied) commits; the partial database is left at \(work): \((error as? RedError)?.message ?? "\(error)")")
        }
        // A restored database is a new one: no backup id (it starts its own WAL chain) and no
        // replication state (its replicas must copy it anew) left from a file that had this name.
        for sidecar in ["-backup.json", "-replication.json"] { try? files.removeItem(atPath: destination + sidecar) }
        try files.moveItem(atPath: workWAL, toPath: StorageEngine.walDirectory(for: destination))
        try files.moveItem(atPath: work, toPath: destination)
        let parent = (destination as NSString).deletingLastPathComponent
        try PosixFileSystem().syncDirectory(parent.isEmpty ? "." : parent)
        return Summary(snapshotUsed: snapshot.snapshotID, segmentsReplayed: replayed, recordsApplied: applied, recoveredToLSN: lastLSN, recoveredToTime: lastTime)
    }

    // MARK: Manifests and the chain

    /// Every readable snapshot manifest, oldest first (an unreadable one is left out: the
    /// snapshots before it still restore).
    static func snapshotManifests(backend: any BackupBackend, layout: BackupLayout) async throws -> [SnapshotManifest] {
        var manifests: [SnapshotManifest] = []
        for key in try await backend.list(prefix: layout.snapshotPrefix) where key.hasSuffix(".snapshot" + BackupLayout.manifestSuffix) {
            guard let bytes = try await backend.get(key), let manifest = try? SnapshotManifest(json: ManifestFields.load(bytes, key: key), key: key) else { continue }
            manifests.append(manifest)
        }
        return manifests.sorted { ($0.snapshotTime, $0.snapshotID) < ($1.snapshotTime, $1.snapshotID) }
    }

    /// A segment as its manifest's key names it: `<prefix><start>-<end>.wal.manifest.json`.
    struct SegmentRef: Equatable {
        var start: UInt64
        var end: UInt64
        var manifestKey: String
    }

    /// The segments under `prefix`, from one listing (no manifest read).
    static func segmentRefs(backend: any BackupBackend, prefix: String) async throws -> [SegmentRef] {
        try await backend.list(prefix: prefix).compactMap { key in
            guard key.hasSuffix(".wal" + BackupLayout.manifestSuffix), let range = BackupService.segmentRange(key, prefix: prefix) else { return nil }
            return SegmentRef(start: range.start, end: range.end, manifestKey: key)
        }.sorted { $0.start < $1.start }
    }

    static func loadSegment(_ ref: SegmentRef, backend: any BackupBackend) async throws -> SegmentManifest {
        guard let bytes = try await backend.get(ref.manifestKey) else {
            throw RedError(.dataCorrupted, "backup manifest \(ref.manifestKey) disappeared while it was read")
        }
        let manifest = try SegmentManifest(json: ManifestFields.load(bytes, key: ref.manifestKey), key: ref.manifestKey)
        guard manifest.key + BackupLayout.manifestSuffix == ref.manifestKey, manifest.lsnStart == ref.start, manifest.lsnEnd == ref.end else {
            throw RedError(.dataCorrupted, "backup manifest \(ref.manifestKey) names another segment (\(manifest.key))")
        }
        return manifest
    }

    /// Every segment manifest under `prefix`, by LSN (pruning reads them all).
    static func segmentManifests(backend: any BackupBackend, prefix: String) async throws -> [SegmentManifest] {
        var manifests: [SegmentManifest] = []
        for ref in try await segmentRefs(backend: backend, prefix: prefix) { manifests.append(try await loadSegment(ref, backend: backend)) }
        return manifests
    }

    /// The segments that continue `snapshot` up to `target`, checked as a chain: the first holds
    /// the LSN after the snapshot, each starts where the previous ends and names its hash. A
    /// break the target lies beyond — a tampered link, a missing segment, a gap — is an error,
    /// never skipped. Only the manifests of the chain (and the first one's predecessor) are read.
    static func chain(after snapshot: SnapshotManifest, refs: [SegmentRef], target: Target, backend: any BackupBackend) async throws -> [SegmentManifest] {
        let byStart = Dictionary(grouping: refs, by: \.start)
        let base = snapshot.baseLSN
        func gapAfter(_ end: UInt64, lastTime: Int64) throws {
            guard let next = refs.first(where: { $0.start > end }) else { return }
            let beyond = (target.timeMilliseconds.map { $0 > lastTime } ?? true) && (target.lsn.map { $0 > end } ?? true)
            if beyond {
                throw RedError(.dataCorrupted, "the WAL chain has a gap between LSN \(end) and \(next.start); the target lies beyond it")
            }
        }
        // Longest first: of two segments from one LSN (an archive retried), the one that goes further.
        guard let firstRef = refs.filter({ $0.start <= base && $0.end > base }).max(by: { $0.end < $1.end }) else {
            try gapAfter(base, lastTime: snapshot.snapshotTime)
            return []
        }
        var current = try await loadSegment(firstRef, backend: backend)
        if !current.previousHash.isEmpty, let beforeRef = refs.first(where: { $0.end == current.lsnStart }),
           let before = try? await loadSegment(beforeRef, backend: backend), before.sha256 != current.previousHash {
            throw RedError(.dataCorrupted, "WAL segment \(current.key) does not name its predecessor's hash; the chain is broken")
        }
        var chain = [current]
        while needs(current, target, after: true) {
            let candidates = (byStart[current.lsnEnd] ?? []).sorted { $0.end > $1.end }
            var next: SegmentManifest?
            for ref in candidates {
                let manifest = try await loadSegment(ref, backend: backend)
                if manifest.previousHash == current.sha256 { next = manifest; break }
            }
            guard let next else {
                if let wrong = candidates.first {
                    throw RedError(.dataCorrupted, "WAL segment \(wrong.manifestKey.dropLast(BackupLayout.manifestSuffix.count)) does not name its predecessor's hash; the chain is broken")
                }
                try gapAfter(current.lsnEnd, lastTime: current.lastTime)
                break
            }
            chain.append(next)
            current = next
        }
        return chain
    }

    /// Whether replaying to `target` needs what follows `segment`.
    private static func needs(_ segment: SegmentManifest, _ target: Target, after: Bool) -> Bool {
        if let lsn = target.lsn, segment.lsnEnd >= lsn { return false }
        if let time = target.timeMilliseconds, segment.lastTime > time { return false }
        return true
    }
}
