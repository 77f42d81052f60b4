import Foundation
import Logging
import RedCore
import RedDB

/// `MANIFEST.json` in the namespace: one document listing every snapshot and WAL segment there,
/// in upstream's backup manifest format v1.0, for people, verifiers and orchestrators:
///
///     {"version": "1.0", "engine_version": "…", "latest_lsn": n,
///      "snapshots": [{"id", "lsn", "ts", "bytes", "key", "checksum": "sha256:<hex>"}],
///      "wal_segments": [{"lsn_start", "lsn_end", "key", "bytes"?, "checksum"?}]}
///
/// Keys are whole backend keys (as the sidecars name them); `lsn` is a snapshot's base LSN;
/// a segment holds the commits after `lsn_start` up to and including the one ending at
/// `lsn_end` (our LSNs are byte offsets in the database's log, as in the sidecars). Restores
/// never read this document: the sidecars are what they trust.
///
/// **When it is written.** A primary archives a segment every second or so, and rewriting a
/// document that lists all of them each time would cost more than the archive itself. So the
/// service notes what it uploads and deletes (`pending`), and folds that into the document
/// after each backup (upstream's cadence: per snapshot), at a clean shutdown, and whenever
/// 10,000 segments are pending. Folding reads the current document and writes it whole
/// (atomically on every backend: temp and rename on fs, one PUT elsewhere). A document that
/// is missing or unreadable is rebuilt from a listing; segments found that way carry no
/// `bytes` or `checksum` (both optional in the format). A failed write is logged, and the
/// next one carries it.
///
/// The document grows with the archive, as the namespace does: `RED_BACKUP_KEEP_SNAPSHOTS`
/// bounds both. Past `maxBytes` it is no longer rewritten (a warning says so).
struct BackupCatalog: Sendable, Equatable {
    struct Snapshot: Sendable, Equatable {
        var id: Int64
        var lsn: UInt64
        var time: Int64
        var bytes: Int64
        var key: String
        var sha256: String?
    }

    struct Segment: Sendable, Equatable {
        var lsnStart: UInt64
        var lsnEnd: UInt64
        var key: String
        var bytes: Int64?
        var sha256: String?
    }

    var snapshots: [String: Snapshot] = [:]
    var segments: [String: Segment] = [:]

    static let formatVersion = "1.0"
    static let maxBytes = 64 << 20
    /// Pending segments that make the archive fold them in without waiting for a backup.
    static let foldEverySegments = 10_000

    var isEmpty: Bool { snapshots.isEmpty && segments.isEmpty }

    /// Adds (or replaces, by key) every entry of `other`.
    mutating func merge(_ other: BackupCatalog) {
        snapshots.merge(other.snapshots) { _, new in new }
        segments.merge(other.segments) { _, new in new }
    }

    mutating func remove(_ keys: Set<String>) {
        for key in keys {
            snapshots[key] = nil
            segments[key] = nil
        }
    }

    /// The document, its arrays in a stable order (snapshots by id, segments by key).
    func encoded() -> [UInt8] {
        let snapshotList = snapshots.values.sorted { ($0.id, $0.key) < ($1.id, $1.key) }
        let segmentList = segments.values.sorted { $0.key < $1.key }
        let latest = max(snapshotList.map(\.lsn).max() ?? 0, segmentList.map(\.lsnEnd).max() ?? 0)
        let snapshotsJSON: [JSONValue] = snapshotList.map { s in
            var members: [(String, JSONValue)] = [("id", .integer(s.id)), ("lsn", .integer(Int64(s.lsn))), ("ts", .integer(s.time)),
                                                  ("bytes", .integer(s.bytes)), ("key", .string(s.key))]
            if let sha = s.sha256 { members.append(("checksum", .string("sha256:" + sha))) }
            return .object(members)
        }
        let segmentsJSON: [JSONValue] = segmentList.map { s in
            var members: [(String, JSONValue)] = [("lsn_start", .integer(Int64(s.lsnStart))), ("lsn_end", .integer(Int64(s.lsnEnd))), ("key", .string(s.key))]
            if let bytes = s.bytes { members.append(("bytes", .integer(bytes))) }
            if let sha = s.sha256 { members.append(("checksum", .string("sha256:" + sha))) }
            return .object(members)
        }
        let document = JSONValue.object([("version", .string(Self.formatVersion)), ("engine_version", .string(RedDB.version)),
                                         ("latest_lsn", .integer(Int64(latest))), ("snapshots", .array(snapshotsJSON)),
                                         ("wal_segments", .array(segmentsJSON))])
        return document.utf8
    }

    init() {}

    /// Reads a document; throws when it is not one of this format's major version.
    init(json: JSONValue, key: String) throws {
        let fields = try ManifestFields(json, key)
        guard try fields.string("version").hasPrefix("1.") else { throw RedError(.dataCorrupted, "\(key) is not of format 1.x") }
        func checksum(_ entry: JSONValue) -> String? {
            guard case .string(let text)? = entry["checksum"], text.hasPrefix("sha256:") else { return nil }
            return String(text.dropFirst("sha256:".count))
        }
        func optional(_ entry: JSONValue, _ name: String) -> Int64? {
            if case .integer(let n)? = entry[name], n >= 0 { return n }
            return nil
        }
        guard case .array(let snapshotEntries)? = json["snapshots"], case .array(let segmentEntries)? = json["wal_segments"] else {
            throw RedError(.dataCorrupted, "\(key) lacks its snapshots or wal_segments")
        }
        for entry in snapshotEntries {
            let f = try ManifestFields(entry, key)
            let snapshot = Snapshot(id: try f.integer("id"), lsn: UInt64(try f.integer("lsn")), time: try f.integer("ts"),
                                    bytes: optional(entry, "bytes") ?? 0, key: try f.string("key"), sha256: checksum(entry))
            snapshots[snapshot.key] = snapshot
        }
        for entry in segmentEntries {
            let f = try ManifestFields(entry, key)
            let segment = Segment(lsnStart: UInt64(try f.integer("lsn_start")), lsnEnd: UInt64(try f.integer("lsn_end")), key: try f.string("key"),
                                  bytes: optional(entry, "bytes"), sha256: checksum(entry))
            segments[segment.key] = segment
        }
    }

    /// The catalog of what the namespace holds, from listings: each snapshot's sidecar, and
    /// each segment's key (its LSN range is in its name).
    static func rebuild(backend: any BackupBackend, layout: BackupLayout) async throws -> BackupCatalog {
        var catalog = BackupCatalog()
        for manifest in try await PointInTimeRestore.snapshotManifests(backend: backend, layout: layout) {
            catalog.snapshots[manifest.snapshotKey] = Snapshot(id: manifest.snapshotID, lsn: manifest.baseLSN, time: manifest.snapshotTime,
                                                               bytes: manifest.bytes, key: manifest.snapshotKey, sha256: manifest.sha256)
        }
        for key in try await backend.list(prefix: layout.walPrefix) where key.hasSuffix(".wal" + BackupLayout.manifestSuffix) {
            let segmentKey = String(key.dropLast(BackupLayout.manifestSuffix.count))
            let directory = String(segmentKey[...(segmentKey.lastIndex(of: "/") ?? segmentKey.startIndex)])
            guard let range = BackupService.segmentRange(segmentKey, prefix: directory) else { continue }
            catalog.segments[segmentKey] = Segment(lsnStart: range.start, lsnEnd: range.end, key: segmentKey)
        }
        return catalog
    }
}

extension BackupService {
    /// Notes a blob this service uploaded, for the next fold into `MANIFEST.json`.
    func noteInCatalog(_ change: (inout BackupCatalog) -> Void) {
        state.withLock { change(&$0.catalogPending) }
    }

    /// Notes blobs this service deleted.
    func noteRemovedFromCatalog(_ keys: [String]) {
        state.withLock { s in
            for key in keys {
                s.catalogRemoved.insert(key)
                s.catalogPending.remove([key])
            }
        }
    }

    /// Compare-and-swap attempts of one `MANIFEST.json` fold on a conditional backend.
    static let foldAttempts = 5

    /// Folds what is pending into `MANIFEST.json` (see `BackupCatalog`). Under the chain lock,
    /// so two folds of this server never race. Another server folding into the same namespace
    /// (an old primary and a new one, for a while after a failover) could: on a backend with
    /// conditional writes the fold is a compare-and-swap, read again and merged again when
    /// the document changed under it (up to `foldAttempts` times), so neither loses the
    /// other's entries. Never throws: the catalog is informational, and a failed fold is
    /// retried by the next.
    func foldCatalogLocked() async {
        let (pending, removed, oversized) = state.withLock { ($0.catalogPending, $0.catalogRemoved, $0.catalogOversized) }
        guard !oversized, !pending.isEmpty || !removed.isEmpty else { return }
        let backend = settings.backend
        let conditional = backend as? any ConditionalBackend
        do {
            var written = false
            for _ in 0..<(conditional == nil ? 1 : Self.foldAttempts) {
                var catalog: BackupCatalog
                var version: String?
                let current: [UInt8]?
                if let conditional {
                    let found = try await conditional.getVersioned(layout.catalogKey)
                    (current, version) = (found?.bytes, found?.version)
                } else {
                    current = try await backend.get(layout.catalogKey)
                }
                if let current, let existing = try? BackupCatalog(json: ManifestFields.load(current, key: layout.catalogKey), key: layout.catalogKey) {
                    catalog = existing
                } else {
                    logger.info("backup: building \(layout.catalogKey) from a listing of the namespace")
                    catalog = try await BackupCatalog.rebuild(backend: backend, layout: layout)
                }
                catalog.remove(removed)
                catalog.merge(pending)
                let document = catalog.encoded()
                guard document.count <= BackupCatalog.maxBytes else {
                    logger.warning("backup: \(layout.catalogKey) would take \(document.count) bytes, past \(BackupCatalog.maxBytes), and is no longer rewritten; set RED_BACKUP_KEEP_SNAPSHOTS to bound the archive")
                    state.withLock { s in
                        s.catalogOversized = true
                        s.catalogPending = BackupCatalog()
                        s.catalogRemoved = []
                    }
                    return
                }
                try refuseWhileFenced()
                if let conditional {
                    // Written only if the document is still the one read (or still absent). A store
                    // that refuses conditional writes outright (some S3-compatible ones answer 501)
                    // gets the plain write this fold made before.
                    do {
                        written = try await conditional.put(layout.catalogKey, bytes: document, ifVersion: version)
                    } catch {
                        logger.debug("backup: conditional write of \(layout.catalogKey) refused (\(error)); writing it unconditionally")
                        try await backend.put(layout.catalogKey, bytes: document)
                        written = true
                    }
                } else {
                    try await backend.put(layout.catalogKey, bytes: document)
                    written = true
                }
                if written { break }
            }
            guard written else {
                logger.warning("backup: \(layout.catalogKey) kept changing under \(Self.foldAttempts) folds (another server writes it); the next fold retries")
                return
            }
            // Only what was folded: a backup may have noted its snapshot meanwhile.
            state.withLock { s in
                for (key, snapshot) in pending.snapshots where s.catalogPending.snapshots[key] == snapshot { s.catalogPending.snapshots[key] = nil }
                for (key, segment) in pending.segments where s.catalogPending.segments[key] == segment { s.catalogPending.segments[key] = nil }
                s.catalogRemoved.subtract(removed)
            }
        } catch {
            logger.warning("backup: refreshing \(layout.catalogKey) failed (the next backup retries): \(error)")
        }
    }
}
