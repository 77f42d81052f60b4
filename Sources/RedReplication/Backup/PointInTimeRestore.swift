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
        var segmentsByPrefix: [String: [SegmentManifest]] = [:]
        var points: [RestorePoint] = []
        for snapshot in snapshots {
            if segmentsByPrefix[snapshot.walPrefix] == nil {
                segmentsByPrefix[snapshot.walPrefix] = try await segmentManifests(backend: backend, prefix: snapshot.walPrefix)
            }
            let chain = (try? chainAfter(snapshot, segments: segmentsByPrefix[snapshot.walPrefix] ?? [], target: .latest)) ?? []
            points.append(RestorePoint(snapshot: snapshot, segmentCount: chain.count,
                                       latestRecoverableTime: max(snapshot.snapshotTime, chain.last?.lastTime ?? 0)))
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
        guard let snapshot = snapshots.last(where: { s in
            target.timeMilliseconds.map { s.snapshotTime <= $0 } ?? true
        }) else {
            throw RedError(.undefinedObject, snapshots.isEmpty ? "the backend \(backend.description) holds no snapshot"
                                                               : "no snapshot was taken at or before the target time")
        }
        let segments = try chainAfter(snapshot, segments: try await segmentManifests(backend: backend, prefix: snapshot.walPrefix), target: target)

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
        do {
            replay: for (manifest, path) in verified {
                guard let data = files.contents(atPath: path) else { throw RedError(.ioError, "cannot read \(path)") }
                let records = try WALSegment.decode([UInt8](data), key: manifest.key)
                replayed += 1
                for record in records where record.endLSN > snapshot.baseLSN {
                    if let time = target.timeMilliseconds, record.timeMilliseconds > time { break replay }
                    if let lsn = target.lsn, record.endLSN > lsn { break replay }
                    try await engine.applyReplicated(record.payload, lsn: record.endLSN, bookkeeping: [])
                    sinceCheckpoint += record.payload.count
                    if sinceCheckpoint >= 64 << 20 {  // bounds dirty pages and the restored log
                        try await engine.checkpoint()
                        sinceCheckpoint = 0
                    }
                    applied += 1
                    lastLSN = record.endLSN
                    lastTime = record.timeMilliseconds
                }
            }
            try await engine.close()
        } catch {
            try? await engine.close()
            throw RedError((error as? RedError)?.code ?? .ioError,
                           "restore failed after \(applied) commits; the partial database is left at \(work): \((error as? RedError)?.message ?? "\(error)")")
        }
        try files.moveItem(atPath: workWAL, toPath: StorageEngine.walDirectory(for: destination))
        try files.moveItem(atPath: work, toPath: destination)
        let parent = (destination as NSString).deletingLastPathComponent
        try PosixFileSystem().syncDirectory(parent.isEmpty ? "." : parent)
        return Summary(snapshotUsed: snapshot.snapshotID, segmentsReplayed: replayed, recordsApplied: applied, recoveredToLSN: lastLSN, recoveredToTime: lastTime)
    }

    // MARK: Manifests and the chain

    static func snapshotManifests(backend: any BackupBackend, layout: BackupLayout) async throws -> [SnapshotManifest] {
        var manifests: [SnapshotManifest] = []
        for key in try await backend.list(prefix: layout.snapshotPrefix) where key.hasSuffix(".snapshot" + BackupLayout.manifestSuffix) {
            guard let bytes = try await backend.get(key) else { continue }
            manifests.append(try SnapshotManifest(json: ManifestFields.load(bytes, key: key), key: key))
        }
        return manifests.sorted { ($0.snapshotTime, $0.snapshotID) < ($1.snapshotTime, $1.snapshotID) }
    }

    static func segmentManifests(backend: any BackupBackend, prefix: String) async throws -> [SegmentManifest] {
        var manifests: [SegmentManifest] = []
        for key in try await backend.list(prefix: prefix) where key.hasSuffix(".wal" + BackupLayout.manifestSuffix) {
            guard let bytes = try await backend.get(key) else { continue }
            let manifest = try SegmentManifest(json: ManifestFields.load(bytes, key: key), key: key)
            guard manifest.key + BackupLayout.manifestSuffix == key else {
                throw RedError(.dataCorrupted, "backup manifest \(key) names another segment (\(manifest.key))")
            }
            manifests.append(manifest)
        }
        return manifests.sorted { $0.lsnStart < $1.lsnStart }
    }

    /// The segments that continue `snapshot` up to `target`, checked as a chain: the first holds
    /// the LSN after the snapshot, each starts where the previous ends and names its hash.
    /// A segment past a break that the target needs is an error, never silently skipped.
    static func chainAfter(_ snapshot: SnapshotManifest, segments: [SegmentManifest], target: Target) throws -> [SegmentManifest] {
        let later = segments.filter { $0.lsnEnd > snapshot.baseLSN }
        guard var current = later.first(where: { $0.lsnStart <= snapshot.baseLSN }) else {
            if let first = later.first, needs(first, target) {
                throw RedError(.dataCorrupted, "the WAL chain has a gap: no segment holds LSN \(snapshot.baseLSN) (the next starts at \(first.lsnStart))")
            }
            return []
        }
        if let before = segments.first(where: { $0.lsnEnd == current.lsnStart }), !current.previousHash.isEmpty, before.sha256 != current.previousHash {
            throw RedError(.dataCorrupted, "WAL segment \(current.key) does not name its predecessor's hash; the chain is broken")
        }
        var chain = [current]
        while needs(current, target, after: true) {
            let candidates = later.filter { $0.lsnStart == current.lsnEnd }
            guard let next = candidates.first(where: { $0.previousHash == current.sha256 }) else {
                if let wrong = candidates.first {
                    throw RedError(.dataCorrupted, "WAL segment \(wrong.key) does not name its predecessor's hash; the chain is broken")
                }
                if let gapAfter = later.first(where: { $0.lsnStart > current.lsnEnd }), needs(gapAfter, target) {
                    throw RedError(.dataCorrupted, "the WAL chain has a gap between LSN \(current.lsnEnd) and \(gapAfter.lsnStart)")
                }
                break
            }
            chain.append(next)
            current = next
        }
        return chain
    }

    /// Whether replaying to `target` needs `segment` (or, with `after`, what follows it).
    private static func needs(_ segment: SegmentManifest, _ target: Target, after: Bool = false) -> Bool {
        if let lsn = target.lsn, (after ? segment.lsnEnd : segment.lsnStart) >= lsn { return false }
        if let time = target.timeMilliseconds, (after ? segment.lastTime : segment.firstTime) > time { return false }
        return true
    }
}
