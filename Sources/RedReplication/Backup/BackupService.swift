import Crypto
import Foundation
import Logging
import RedCore
import RedDB
import RedEngine
import RedStorage
import Synchronization

/// Backups of a primary (or standalone server) to a remote backend, and continuous WAL
/// archiving (spec ops §7.2–7.3; the design is ours).
///
/// - **Backup** (`trigger`, `POST /backup/trigger`, the `red.config.backup.*` scheduler): an online
///   export (`Database.export`, consistent at an LSN, writers never blocked), packed into one
///   blob (`SnapshotArchive`), uploaded, then its manifest (with the blob's SHA-256 and the
///   LSN), then the WAL archived up to now, then the head.
/// - **WAL archiving** (`archive`, every `RED_WAL_ARCHIVE_INTERVAL_MS`, 1 s): the commit records
///   after the last archived LSN, read back from the WAL, uploaded as one segment whose manifest
///   carries its SHA-256 and the previous segment's (a hash chain), then the head. Upstream
///   archives only at backup time; its documented 1 s cadence is what we build, so the data a
///   lost primary takes with it is about a second of commits.
/// - **Retention**: the WAL keeps every record not yet archived (`walRetention["archive"]`), up to
///   `maxRetainedBytes` behind the log's end; past that (a backend down for long) the chain has
///   a gap, and the next backup starts a new one from its snapshot.
/// - **Identity**: LSNs here are offsets in this database's own log, so segments are kept per
///   database (`wal/<database_id>/…`; the id lives in `<db>-backup.json`). A database restored
///   from a backup gets a new id, and its first backup starts its own chain in the same
///   namespace without touching the old one's.
/// - Uploads come before the manifests that name them, and the head last, so a crash leaves
///   at worst blobs no manifest names; segments past the head's LSN are removed at start-up
///   and archived again.
public final class BackupService: Sendable {
    public struct BackupResult: Sendable {
        public var snapshotID: Int64
        public var snapshotKey: String
        public var baseLSN: UInt64
        public var archivedLSN: UInt64
        public var bytes: Int64
        public var timestamp: Int64
        public var durationMilliseconds: Int64

        public var json: JSONValue {
            .object([("ok", .bool(true)), ("snapshot_id", .integer(snapshotID)), ("snapshot_key", .string(snapshotKey)),
                     ("uploaded", .bool(true)), ("base_lsn", .integer(Int64(baseLSN))), ("archived_lsn", .integer(Int64(archivedLSN))),
                     ("bytes", .integer(bytes)), ("timestamp", .integer(timestamp)), ("duration_ms", .integer(durationMilliseconds))])
        }
    }

    struct State {
        var head: BackupHead?
        var headLoaded = false
        /// The last LSN archived on this database's chain; nil: no chain yet (a backup starts one).
        var archivedLSN: UInt64?
        var previousHash = ""
        /// When `head.json` was last written, and whether archiving has moved past it since.
        var headWrittenAt: ContinuousClock.Instant?
        var headBehind = false
        var backupRunning = false
        /// While a backup runs: the log from here on is kept, so a chain it starts at its
        /// snapshot's LSN finds the WAL still there however long the copy took.
        var pinnedLSN: UInt64?
        var totalBackups = 0
        var failures = 0
        var lastBackup: BackupResult?
        var lastSuccessUnixMilliseconds: Int64?
        var segmentsArchived = 0
        var archiveFailures = 0
        var chainRestarts = 0
        var lastError: String?
        /// Uploads and deletions not yet folded into `MANIFEST.json` (`BackupCatalog`).
        var catalogPending = BackupCatalog()
        var catalogRemoved: Set<String> = []
        /// The catalog grew past `BackupCatalog.maxBytes` and is no longer rewritten.
        var catalogOversized = false
    }

    public let database: Database
    public let settings: BackupSettings
    public let databaseID: String
    let logger: Logger
    /// One archive or backup at a time: both extend the chain.
    let chain = AsyncMutex()
    let state = Mutex(State())
    /// Wakes the archive loop early: a commit waits for the archive (`remote_wal`).
    let doorbell = Doorbell()
    /// With `RED_PRIMARY_COMMIT_POLICY=remote_wal`: commits wait here until archived.
    public let archiveWaiter: CommitAckWaiter?

    var engine: StorageEngine { database.engine }
    var layout: BackupLayout { settings.layout }
    var walPrefix: String { layout.walPrefix + databaseID + "/" }

    public init(database: Database, settings: BackupSettings, logger: Logger, commitPolicy: CommitAckWaiter.Policy = .local) throws {
        self.database = database
        if commitPolicy.remoteWAL {
            var policy = commitPolicy
            policy.replicas = 1
            archiveWaiter = CommitAckWaiter(policy: policy, acknowledgers: "the WAL archive (remote_wal)")
        } else {
            archiveWaiter = nil
        }
        self.settings = settings
        self.logger = logger
        databaseID = try Self.loadDatabaseID(database.engine.path + "-backup.json")
        database.engine.walRetention.withLock { $0["archive"] = { [weak self] in self?.retentionFloor() ?? .max } }
    }

    /// The oldest LSN the WAL must keep for archiving: everything not archived yet (all of it
    /// until the head is read), but never more than `maxRetainedBytes` behind the end.
    func retentionFloor() -> UInt64 {
        let end = engine.replicationReadableLSN
        let floor = end > settings.maxRetainedBytes ? end - settings.maxRetainedBytes : 0
        return state.withLock { s in min(max(floor, s.headLoaded ? (s.archivedLSN ?? end) : 0), s.pinnedLSN ?? .max) }
    }

    // MARK: Start-up

    /// Reads the head (once), adopting its chain when it is this database's, and removes
    /// segments of ours past it (a crash between a segment and its head).
    func loadHeadIfNeeded() async throws {
        guard !state.withLock({ $0.headLoaded }) else { return }
        let head = try await settings.backend.get(layout.headKey).map { try BackupHead(json: ManifestFields.load($0, key: layout.headKey), key: layout.headKey) }
        var archived: UInt64?
        var hash = ""
        if let head, head.walPrefix == walPrefix {
            var end = head.lastArchivedLSN
            hash = head.lastSegmentHash
            // Segments archived after the head was last written (a crash or a failed head write
            // in between) that continue the chain are adopted; anything else past its end (a
            // segment whose manifest never made it) is removed and archived again.
            let keys = try await settings.backend.list(prefix: walPrefix)
            var byStart: [UInt64: [(end: UInt64, key: String)]] = [:]
            for key in keys where key.hasSuffix(".wal" + BackupLayout.manifestSuffix) {
                if let range = Self.segmentRange(key, prefix: walPrefix), range.start >= end { byStart[range.start, default: []].append((range.end, key)) }
            }
            // A chain restarted at a newer snapshot of ours (the head was not rewritten before a crash).
            let restarts = try await PointInTimeRestore.snapshotManifests(backend: settings.backend, layout: layout)
                .filter { $0.walPrefix == walPrefix && $0.snapshotID > head.snapshotID && $0.baseLSN >= end }
            var relaxed = false
            adopting: while true {
                // Longest first: of two segments from one LSN (an archive retried), the one that goes further.
                for candidate in (byStart[end] ?? []).sorted(by: { $0.end > $1.end }) {
                    guard let bytes = try await settings.backend.get(candidate.key),
                          let manifest = try? SegmentManifest(json: ManifestFields.load(bytes, key: candidate.key), key: candidate.key),
                          relaxed || hash.isEmpty || manifest.previousHash == hash else { continue }
                    logger.info("backup: adopting \(manifest.key), archived after the head was last written")
                    end = manifest.lsnEnd
                    hash = manifest.sha256
                    relaxed = false
                    continue adopting
                }
                // Stalled: the chain may go on from a snapshot that restarted it further on.
                guard let restart = restarts.filter({ $0.baseLSN > end }).min(by: { $0.baseLSN < $1.baseLSN }) else { break }
                logger.info("backup: the chain restarted at snapshot \(restart.snapshotID) (LSN \(restart.baseLSN))")
                end = restart.baseLSN
                relaxed = true
            }
            archived = end
            // Only blobs no manifest names (an upload cut short) are removed; a segment with a
            // manifest stays, whatever the chain, and restores pick the one that links.
            let named = Set(keys.filter { $0.hasSuffix(BackupLayout.manifestSuffix) }.map { String($0.dropLast(BackupLayout.manifestSuffix.count)) })
            for key in keys where key.hasSuffix(".wal") && !named.contains(key) {
                guard let range = Self.segmentRange(key, prefix: walPrefix), range.start >= end else { continue }
                logger.info("backup: removing \(key), uploaded without its manifest; it is archived again")
                try await settings.backend.delete(key)
            }
        }
        state.withLock { s in
            s.head = head
            s.archivedLSN = archived
            s.previousHash = hash
            s.headLoaded = true
        }
    }

    /// `<start>-<end>.wal[.manifest.json]` under `prefix` → its LSN range.
    static func segmentRange(_ key: String, prefix: String) -> (start: UInt64, end: UInt64)? {
        guard key.hasPrefix(prefix) else { return nil }
        var name = key.dropFirst(prefix.count)
        if name.hasSuffix(BackupLayout.manifestSuffix) { name = name.dropLast(BackupLayout.manifestSuffix.count) }
        guard name.hasSuffix(".wal") else { return nil }
        let parts = name.dropLast(4).split(separator: "-")
        guard parts.count == 2, let start = UInt64(parts[0]), let end = UInt64(parts[1]), start < end else { return nil }
        return (start, end)
    }

    // MARK: Backup

    /// Takes a snapshot, uploads it, archives the WAL up to now and publishes the head.
    public func trigger() async throws -> BackupResult {
        try refuseWhileFenced()
        let claimed = state.withLock { s -> Bool in
            guard !s.backupRunning else { return false }
            s.backupRunning = true
            return true
        }
        guard claimed else { throw RedError(.duplicateObject, "a backup is already running") }
        defer { state.withLock { $0.backupRunning = false } }
        do {
            let result = try await backup()
            state.withLock { s in
                s.totalBackups += 1
                s.lastBackup = result
                s.lastSuccessUnixMilliseconds = result.timestamp
            }
            logger.notice("backup: snapshot \(result.snapshotID) at LSN \(result.baseLSN) uploaded to \(settings.backend.description) (\(result.bytes) bytes, \(result.durationMilliseconds) ms)")
            if settings.keepSnapshots > 0 {
                do {
                    let removed = try await chain.withLock { try await self.prune(keeping: self.settings.keepSnapshots) }
                    if removed > 0 { logger.info("backup: removed \(removed) blobs no kept snapshot needs") }
                } catch {
                    logger.warning("backup: pruning old snapshots failed (the backup itself succeeded): \(error)")
                }
            }
            _ = try? await chain.withLock { await self.foldCatalogLocked() }
            return result
        } catch {
            state.withLock { s in
                s.failures += 1
                s.lastError = "\(error)"
            }
            logger.error("backup failed: \(error)")
            throw error
        }
    }

    /// The copy and its upload run outside the chain lock (archiving, and commits waiting on it
    /// under `remote_wal`, go on meanwhile; the pinned LSN keeps the WAL the chain may restart
    /// from); only joining the snapshot to the chain takes it.
    private func backup() async throws -> BackupResult {
        let started = ContinuousClock.now
        try await chain.withLock { try await self.loadHeadIfNeeded() }
        let files = FileManager.default
        let work = engine.path + ".backup-tmp"
        try? files.removeItem(atPath: work)
        try files.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? files.removeItem(atPath: work) }
        state.withLock { $0.pinnedLSN = engine.replicationReadableLSN }
        defer { state.withLock { $0.pinnedLSN = nil } }
        let export = try await database.export(to: work + "/snapshot.rdb")
        let blob = work + "/snapshot.blob"
        let (sha, bytes) = try SnapshotArchive.pack(databasePath: export.path, into: blob)
        // The export's files are in the blob now: free their space before the upload.
        try? files.removeItem(atPath: export.path)
        try? files.removeItem(atPath: StorageEngine.walDirectory(for: export.path))
        let time = SystemClock().nowMilliseconds()
        let id = (state.withLock { $0.head?.snapshotID } ?? 0) + 1
        let key = layout.snapshotKey(id: id, time: time)
        try await settings.backend.putFile(key, from: blob)
        let manifest = SnapshotManifest(timelineID: layout.timelineID, snapshotKey: key, snapshotID: id, snapshotTime: time, baseLSN: export.lsn,
                                        sha256: sha, bytes: bytes, walPrefix: walPrefix)
        try await settings.backend.put(key + BackupLayout.manifestSuffix, bytes: manifest.json.utf8)
        noteInCatalog { $0.snapshots[key] = BackupCatalog.Snapshot(id: id, lsn: export.lsn, time: time, bytes: bytes, key: key, sha256: sha) }
        return try await chain.withLock {
            try await self.join(snapshot: key, id: id, time: time, lsn: export.lsn, bytes: bytes, started: started)
        }
    }

    /// Under the chain lock: starts the chain at the snapshot if there is none to continue,
    /// archives the WAL up to now and publishes the head naming the snapshot.
    private func join(snapshot key: String, id: Int64, time: Int64, lsn: UInt64, bytes: Int64, started: ContinuousClock.Instant) async throws -> BackupResult {
        try refuseWhileFenced()  // the lease may have gone while the copy was uploaded
        // No chain yet, or one the WAL can no longer continue: start it at this snapshot.
        let restart = state.withLock { s -> Bool in
            guard let archived = s.archivedLSN, archived >= engine.replicationOldestLSN || archived >= lsn else {
                s.archivedLSN = lsn
                return true
            }
            return false
        }
        if restart {
            state.withLock { $0.chainRestarts += 1 }
            logger.info("backup: the WAL chain starts at LSN \(lsn) with snapshot \(id)")
        }
        var head = BackupHead(timelineID: layout.timelineID, snapshotKey: key, snapshotID: id, snapshotTime: time,
                              currentLSN: engine.replicationReadableLSN, lastArchivedLSN: state.withLock { $0.archivedLSN ?? lsn },
                              lastSegmentHash: state.withLock { $0.previousHash }, walPrefix: walPrefix)
        state.withLock { $0.head = head }
        try await archiveLocked()
        head = state.withLock { $0.head } ?? head
        try await writeHead(head)
        // Commits up to the snapshot are in the backend now, archived or not (remote_wal).
        archiveWaiter?.noteDurable(replicaID: "archive", lsn: max(lsn, head.lastArchivedLSN))
        let elapsed = ContinuousClock.now - started
        return BackupResult(snapshotID: id, snapshotKey: key, baseLSN: lsn, archivedLSN: head.lastArchivedLSN, bytes: bytes, timestamp: time,
                            durationMilliseconds: elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
    }

    /// A server that lost its writer lease stops writing to the backend too: another server
    /// owns the namespace now, and this one's backups, archive, pruning or head would be stale.
    func refuseWhileFenced() throws {
        if let fence = engine.writeFenceReason {
            throw RedError(.readOnlyTransaction, "backups stopped: \(fence.message)")
        }
    }

    // MARK: Pruning

    /// Deletes every snapshot but the newest `keep` (of any database in the namespace), and
    /// the WAL segments no kept snapshot can roll forward with: a database's segments ending at
    /// or before its oldest kept snapshot's LSN, and all of a database with no kept snapshot
    /// (its own chain's live segments aside). Manifests go before their blobs, so a listing
    /// never names a blob that is gone. Returns how many blobs were deleted.
    func prune(keeping keep: Int) async throws -> Int {
        try refuseWhileFenced()
        let backend = settings.backend
        let snapshots = try await PointInTimeRestore.snapshotManifests(backend: backend, layout: layout)
        guard snapshots.count > keep else { return 0 }
        let kept = snapshots.suffix(keep)
        var removed = 0
        for snapshot in snapshots.dropLast(keep) {
            try await backend.delete(snapshot.snapshotKey + BackupLayout.manifestSuffix)
            try await backend.delete(snapshot.snapshotKey)
            noteRemovedFromCatalog([snapshot.snapshotKey])
            removed += 2
        }
        // Another database's segments go only when all its snapshots are older than every kept
        // one (a database that was replaced); a database that is still writing keeps its chain.
        let oldestKept = kept.map(\.snapshotTime).min() ?? .max
        let prefixes = Set(snapshots.map(\.walPrefix)).filter { prefix in
            prefix == walPrefix || kept.contains { $0.walPrefix == prefix }
                || snapshots.filter { $0.walPrefix == prefix }.allSatisfy { $0.snapshotTime < oldestKept }
        }
        for prefix in prefixes {
            // The oldest LSN a kept snapshot of this database starts from; this database's own
            // chain keeps what it archives from here on.
            var floor = kept.filter { $0.walPrefix == prefix }.map(\.baseLSN).min()
            if prefix == walPrefix { floor = min(floor ?? .max, state.withLock { $0.archivedLSN } ?? .max) }
            for segment in try await PointInTimeRestore.segmentManifests(backend: backend, prefix: prefix) where floor.map({ segment.lsnEnd <= $0 }) ?? true {
                try await backend.delete(segment.key + BackupLayout.manifestSuffix)
                try await backend.delete(segment.key)
                noteRemovedFromCatalog([segment.key])
                removed += 2
            }
        }
        return removed
    }

    // MARK: WAL archiving

    /// Archives every commit after the last archived LSN (in segments of at most
    /// `segmentMaxBytes`); returns how many segments were uploaded. Nothing before the first
    /// backup: a chain needs a snapshot to start from.
    @discardableResult
    public func archive() async throws -> Int {
        try refuseWhileFenced()
        do {
            return try await chain.withLock {
                try await self.loadHeadIfNeeded()
                return try await self.archiveLocked()
            }
        } catch {
            state.withLock { s in
                s.archiveFailures += 1
                s.lastError = "\(error)"
            }
            throw error
        }
    }

    @discardableResult
    private func archiveLocked() async throws -> Int {
        var uploaded = 0
        while let from = state.withLock({ $0.archivedLSN }), state.withLock({ $0.head?.walPrefix == walPrefix }) {
            let batch: (records: [(endLSN: UInt64, payload: [UInt8])], currentLSN: UInt64)
            do {
                batch = try engine.wholeCommitRecords(after: from, maxBytes: settings.segmentMaxBytes)
            } catch WALReader.ReadError.gap(let oldest) {
                // The log before `oldest` is gone (retention gave up): the next backup starts a new chain.
                state.withLock { $0.archivedLSN = nil }
                throw RedError(.dataCorrupted, "the WAL after LSN \(from) is gone (oldest is \(oldest)); the next backup starts a new chain")
            }
            guard let last = batch.records.last else { break }
            let records = batch.records.map {
                WALSegment.Record(endLSN: $0.endLSN, timeMilliseconds: StorageEngine.commitTime(ofRecord: $0.payload) ?? 0, payload: $0.payload)
            }
            let bytes = WALSegment.encode(records)
            let sha = S3Signer.hex(SHA256.hash(data: bytes))
            let key = walPrefix + String(format: "%012llu-%012llu.wal", from, last.endLSN)
            let manifest = SegmentManifest(key: key, lsnStart: from, lsnEnd: last.endLSN, sha256: sha, previousHash: state.withLock { $0.previousHash },
                                           records: records.count, firstTime: records.first?.timeMilliseconds ?? 0, lastTime: records.last?.timeMilliseconds ?? 0)
            try refuseWhileFenced()
            try await settings.backend.put(key, bytes: bytes)
            try await settings.backend.put(key + BackupLayout.manifestSuffix, bytes: manifest.json.utf8)
            let pendingSegments = state.withLock { s -> Int in
                s.catalogPending.segments[key] = BackupCatalog.Segment(lsnStart: from, lsnEnd: last.endLSN, key: key, bytes: Int64(bytes.count), sha256: sha)
                return s.catalogPending.segments.count
            }
            if pendingSegments >= BackupCatalog.foldEverySegments { await foldCatalogLocked() }
            // The segment is in the chain once its manifest is: the head that follows is a hint
            // (a start-up adopts segments past it), so a failed head write never forks the chain.
            let head = state.withLock { s -> BackupHead? in
                s.archivedLSN = last.endLSN
                s.previousHash = sha
                s.segmentsArchived += 1
                s.head?.lastArchivedLSN = last.endLSN
                s.head?.lastSegmentHash = sha
                s.head?.currentLSN = batch.currentLSN
                return s.head
            }
            archiveWaiter?.noteDurable(replicaID: "archive", lsn: last.endLSN)
            uploaded += 1
            if let head {
                let due = state.withLock { s -> Bool in
                    s.headBehind = true
                    guard let written = s.headWrittenAt else { return true }
                    return ContinuousClock.now - written >= .milliseconds(settings.headRefreshMilliseconds)
                }
                if due { try await writeHead(head) }
            }
            try Task.checkCancellation()
        }
        return uploaded
    }

    // MARK: Schedule

    /// Runs until cancelled: archives the WAL every `archiveIntervalMilliseconds`; takes the
    /// first backup when this database has no chain; takes one every
    /// `red.config.backup.interval_secs` (3600) while `red.config.backup.enabled` is true.
    /// Failures are logged and retried with a backoff of up to a minute.
    public func run() async {
        var lastBackupAt = ContinuousClock.now
        var nextAttempt = ContinuousClock.now
        var backoff = Duration.seconds(1)
        var schedule = (enabled: false, interval: Duration.seconds(3600))
        var scheduleReadAt = ContinuousClock.now - .seconds(3600)
        var backupTask: BackgroundBackup?
        let tick = Duration.milliseconds(max(100, settings.archiveIntervalMilliseconds == 0 ? 1_000 : settings.archiveIntervalMilliseconds))
        while !Task.isCancelled {
            if ContinuousClock.now - scheduleReadAt >= .seconds(10) {
                schedule = await readSchedule()
                scheduleReadAt = ContinuousClock.now
            }
            if let finished = backupTask, finished.isDone {
                backupTask = nil
                if finished.succeeded {
                    lastBackupAt = ContinuousClock.now
                    backoff = .seconds(1)
                } else {
                    nextAttempt = ContinuousClock.now + backoff
                    backoff = min(backoff * 2, .seconds(60))
                }
            }
            if ContinuousClock.now >= nextAttempt, engine.writeFenceReason == nil {
                do {
                    try await chain.withLock { try await self.loadHeadIfNeeded() }
                    let needsChain = state.withLock { $0.archivedLSN == nil || $0.head?.walPrefix != walPrefix }
                    // A backup runs beside this loop, which goes on archiving the chain meanwhile.
                    if backupTask == nil, needsChain || (schedule.enabled && ContinuousClock.now - lastBackupAt >= schedule.interval) {
                        let flag = BackgroundBackup()
                        flag.task = Task { [weak self] in
                            let succeeded = (try? await self?.trigger()) != nil
                            flag.finish(succeeded)
                            self?.doorbell.ring()
                        }
                        backupTask = flag
                    }
                    if !needsChain, settings.archiveIntervalMilliseconds > 0 || archiveWaiter != nil {
                        try await archive()
                    }
                } catch is CancellationError {
                    break
                } catch {
                    logger.warning("backup: \(error); trying again in \(backoff)")
                    nextAttempt = ContinuousClock.now + backoff
                    backoff = min(backoff * 2, .seconds(60))
                }
            }
            await doorbell.wait(upTo: tick)
        }
        backupTask?.task?.cancel()
        await backupTask?.task?.value
    }

    /// From now on (`remote_wal`), every commit waits until it is archived: the engine's
    /// acknowledgement hook rings the archive loop and waits for the segment holding it.
    public func startHoldingCommits() {
        guard let waiter = archiveWaiter else { return }
        let doorbell = self.doorbell
        engine.commitAcknowledgement.withLock {
            $0 = { lsn in
                doorbell.ring()
                try await waiter.waitForCommit(lsn)
            }
        }
    }

    func readSchedule() async -> (enabled: Bool, interval: Duration) {
        let enabled = (try? await database.configValue("red.config.backup.enabled")).map { ["true", "1", "yes", "on"].contains($0.lowercased()) } ?? false
        let seconds = (try? await database.configValue("red.config.backup.interval_secs")).flatMap { Int($0) }.map { max(10, min($0, 86_400 * 7)) } ?? 3600
        return (enabled, .seconds(seconds))
    }

    /// Writes `head.json` (the caller holds `chain`).
    private func writeHead(_ head: BackupHead) async throws {
        try refuseWhileFenced()
        try await settings.backend.put(layout.headKey, bytes: head.json.utf8)
        state.withLock { s in
            s.headWrittenAt = .now
            s.headBehind = s.head.map { $0.lastArchivedLSN != head.lastArchivedLSN } ?? false
        }
    }

    /// At shutdown: archive what is left, so a clean stop loses nothing, and bring
    /// `head.json` and `MANIFEST.json` up to date.
    public func finish() async {
        do { try await archive() } catch { logger.warning("backup: the final WAL archive failed: \(error)") }
        do {
            try await chain.withLock {
                guard let head = self.state.withLock({ $0.headBehind ? $0.head : nil }) else { return }
                try await self.writeHead(head)
            }
        } catch {
            logger.warning("backup: the final head.json write failed (the next start-up adopts the segments past it): \(error)")
        }
        _ = try? await chain.withLock { await self.foldCatalogLocked() }
    }

    // MARK: Status

    /// `GET /backup/status`.
    public var status: JSONValue {
        let s = state.withLock { $0 }
        var members: [(String, JSONValue)] = [("ok", .bool(true)), ("running", .bool(s.backupRunning)), ("backend", .string(settings.backend.description)),
                                              ("database_id", .string(databaseID)),
                                              ("total_backups", .integer(Int64(s.totalBackups))), ("total_failures", .integer(Int64(s.failures)))]
        if let last = s.lastBackup { members.append(("last_backup", last.json)) }
        var wal: [(String, JSONValue)] = [("current_lsn", .integer(Int64(engine.replicationReadableLSN))),
                                          ("archive_interval_ms", .integer(Int64(settings.archiveIntervalMilliseconds))),
                                          ("segments_archived", .integer(Int64(s.segmentsArchived))),
                                          ("archive_failures", .integer(Int64(s.archiveFailures))),
                                          ("chain_restarts", .integer(Int64(s.chainRestarts)))]
        if let archived = s.archivedLSN { wal.append(("last_archived_lsn", .integer(Int64(archived)))) }
        members.append(("wal", .object(wal)))
        if let error = s.lastError { members.append(("last_error", .string(error))) }
        return .object(members)
    }

    /// Figures for `/metrics`.
    public var figures: (lastSuccessUnixMilliseconds: Int64?, lastDurationMilliseconds: Int64?, total: Int, failures: Int,
                         archivedLSN: UInt64?, currentLSN: UInt64, segments: Int, archiveFailures: Int) {
        let s = state.withLock { $0 }
        return (s.lastSuccessUnixMilliseconds, s.lastBackup?.durationMilliseconds, s.totalBackups, s.failures, s.archivedLSN,
                engine.replicationReadableLSN, s.segmentsArchived, s.archiveFailures)
    }

    // MARK: Identity

    static func loadDatabaseID(_ path: String) throws -> String {
        if let data = FileManager.default.contents(atPath: path), let json = try? JSONValue.parse(utf8: [UInt8](data)),
           case .string(let id)? = json["database_id"], !id.isEmpty, id.utf8.count <= 64, !id.contains("/") {
            return id
        }
        let id = UUID().uuidString.lowercased()
        try DurableFile.replace(path, with: JSONValue.object([("database_id", .string(id))]).utf8)
        return id
    }
}

/// A backup the schedule started, running beside the archive loop.
final class BackgroundBackup: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    private var ok = false
    var task: Task<Void, Never>?

    func finish(_ succeeded: Bool) {
        lock.lock(); defer { lock.unlock() }
        done = true
        ok = succeeded
    }

    var isDone: Bool { lock.lock(); defer { lock.unlock() }; return done }
    var succeeded: Bool { lock.lock(); defer { lock.unlock() }; return ok }
}
