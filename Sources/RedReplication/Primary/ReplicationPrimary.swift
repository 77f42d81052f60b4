import Foundation
import RedCore
import RedWire
import RedDB
import RedEngine
import RedStorage
import Synchronization

/// The primary's side of replication (spec: replication-mcp-ai-ops §1.1-1.4, §1.9): serves
/// commit records from its WAL, keeps the log its replicas still need, copies snapshots for
/// new replicas, and tracks what each replica has applied.
///
/// Retention: the WAL normally loses its segments at each checkpoint. A primary instead keeps
/// them back to the oldest LSN a replica seen in the last `replicaTimeout` still needs (a
/// replica copying a snapshot needs the snapshot's LSN), but never more than
/// `maxRetainedBytes` behind the log's end: a replica further behind finds a gap and must be
/// bootstrapped again, rather than the primary's disk filling up.
///
/// `stateFile` (next to the database) keeps the replicas' positions and this primary's id
/// across restarts, so a restart neither trims log an offline replica needs nor lets a
/// replica follow a different primary by mistake: every reply names the primary's id, and a
/// replica refuses records from any other than the one it copied.
public final class ReplicationPrimary: ReplicationSource, Sendable {
    public struct ReplicaInfo: Sendable {
        public var id: String
        /// The LSN this replica will ask for next (it has applied everything before it).
        public var neededLSN: UInt64
        public var lastSentLSN: UInt64
        public var appliedLSN: UInt64
        public var durableLSN: UInt64
        public var connectedAtUnixMilliseconds: Int64
        public var lastSeenAtUnixMilliseconds: Int64
        /// Copying a snapshot: not pulling yet.
        public var isCopying: Bool
        /// Where clients reach it, as it advertises (`--advertise-addr`); nil: not advertised.
        public var advertiseAddress: String? = nil
        public var region: String? = nil
        /// Pulled since the primary started: `region` is what it reports (not yet known before).
        public var hasPulled = false
    }

    struct State {
        var replicas: [String: ReplicaInfo] = [:]
        var savedAt: Int64 = 0
        var dirty = false
    }

    public let database: Database
    /// Identifies this primary to its replicas (kept in `stateFile`).
    public let primaryID: String
    public let maxRetainedBytes: UInt64
    public let replicaTimeoutMilliseconds: Int64
    /// Longest a snapshot copy may take; its snapshot holds back version cleanup meanwhile.
    public let maxSnapshotDuration: Duration
    /// Holds commits back until replicas acknowledge them (`RED_PRIMARY_COMMIT_POLICY=ack_n=N`).
    public let commitWaiter: CommitAckWaiter
    let stateFile: String?
    private let state = Mutex(State())
    /// One save at a time, so an older copy of the file never lands after a newer one.
    private let saving = Mutex(())
    private let now: @Sendable () -> Int64

    public init(database: Database, stateFile: String? = nil, maxRetainedBytes: UInt64 = 1 << 30,
                replicaTimeoutMilliseconds: Int64 = 15 * 60_000, maxSnapshotDuration: Duration = .seconds(6 * 3600),
                commitPolicy: CommitAckWaiter.Policy = .local,
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) throws {
        self.database = database
        self.commitWaiter = CommitAckWaiter(policy: commitPolicy)
        self.stateFile = stateFile
        self.maxRetainedBytes = maxRetainedBytes
        self.replicaTimeoutMilliseconds = replicaTimeoutMilliseconds
        self.maxSnapshotDuration = maxSnapshotDuration
        self.now = now
        let saved = try stateFile.flatMap(Self.load)
        primaryID = saved?.id ?? UUID().uuidString.lowercased()
        let time = now()
        state.withLock { s in
            for (id, lsn) in saved?.positions ?? [:] {
                // Remembered replicas count as just seen: they have `replicaTimeout` to come back.
                s.replicas[id] = ReplicaInfo(id: id, neededLSN: lsn, lastSentLSN: lsn, appliedLSN: lsn, durableLSN: lsn,
                                             connectedAtUnixMilliseconds: time, lastSeenAtUnixMilliseconds: time, isCopying: false)
            }
            s.dirty = saved == nil
        }
        for (id, lsn) in saved?.positions ?? [:] {
            commitWaiter.noteMember(replicaID: id, region: nil)
            commitWaiter.noteDurable(replicaID: id, lsn: lsn)
        }
        engine.walRetention.withLock { $0["replication"] = { [weak self] in self?.retentionFloor() ?? .max } }
        // Replicas republish the primary's change-feed changes, which its commit records carry from now on.
        engine.logsChanges.store(true, ordering: .relaxed)
        try saveIfDue(force: true)
    }

    /// From now on, commits wait for replicas per the commit policy. A server calls it once its
    /// own start-up writes (a bootstrap admin) are done: no replica can be connected before its
    /// listeners open, so those would only time out.
    public func startHoldingCommits() {
        guard commitWaiter.policy.waits else { return }
        let waiter = commitWaiter
        engine.commitAcknowledgement.withLock { $0 = { lsn in try await waiter.waitForCommit(lsn) } }
    }

    var engine: StorageEngine { database.engine }

    // MARK: ReplicationSource

    /// `PullWalRecords`: commit records after `sinceLSN`. A `sinceLSN` older than the log the
    /// primary still has answers no records and an `oldestLSN` above it: the replica's gap.
    /// A `sinceLSN` beyond the log's end (a replica of another history) gets no records and
    /// a `currentLSN` below it, which the replica refuses.
    public func pullRecords(_ request: PullRequest) throws -> PulledRecords {
        let current = engine.replicationReadableLSN
        // A replica of another primary: its LSN means nothing here, so read nothing.
        if let expected = request.primaryID, expected != primaryID {
            return PulledRecords(records: [], currentLSN: current, oldestLSN: engine.replicationOldestLSN, primaryID: primaryID)
        }
        guard request.sinceLSN <= current else {
            return PulledRecords(records: [], currentLSN: current, oldestLSN: engine.replicationOldestLSN, primaryID: primaryID)
        }
        let batch: StorageEngine.ReplicationBatch
        do {
            batch = try engine.replicationRecords(after: request.sinceLSN, payloadOffset: request.offset,
                                                  maxRecords: request.maxCount, maxBytes: request.maxBytes)
        } catch WALReader.ReadError.gap(let oldest) {
            return PulledRecords(records: [], currentLSN: current, oldestLSN: max(oldest, request.sinceLSN + 1), primaryID: primaryID)
        }
        let records = batch.parts.map { part in
            part.isWhole ? PulledRecord(lsn: part.endLSN, data: part.bytes)
                : PulledRecord(lsn: part.endLSN, data: part.bytes, offset: part.offset, total: part.payloadLength, crc: part.payloadCRC)
        }
        if let id = request.replicaID {
            let time = now()
            update(id) { info in
                info.neededLSN = request.sinceLSN
                info.lastSentLSN = records.last?.lsn ?? request.sinceLSN
                info.lastSeenAtUnixMilliseconds = time
                info.isCopying = false
                info.hasPulled = true
                if let address = request.advertiseAddress { info.advertiseAddress = address.isEmpty ? nil : address }
                if let region = request.region { info.region = region.isEmpty ? nil : region }
            }
        }
        return PulledRecords(records: records, currentLSN: batch.currentLSN, oldestLSN: batch.oldestLSN, primaryID: primaryID)
    }

    /// `pullRecords`, after waiting up to `waitMilliseconds` for a commit past `sinceLSN` when
    /// there is none yet (checked every millisecond: a commit is seen about 1 ms after it is
    /// durable, without a replica polling over the network).
    public func pull(_ request: PullRequest) async throws -> PulledRecords {
        if request.waitMilliseconds > 0, request.offset == 0, request.primaryID.map({ $0 == primaryID }) ?? true,
           engine.replicationReadableLSN == request.sinceLSN {
            let deadline = ContinuousClock.now + .milliseconds(request.waitMilliseconds)
            while engine.replicationReadableLSN == request.sinceLSN, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        return try pullRecords(request)
    }

    /// `AckReplicaLsn`: positions only move forward, and never past what was sent.
    public func acknowledge(replicaID: String, appliedLSN: UInt64, durableLSN: UInt64) {
        let time = now()
        update(replicaID) { info in
            info.appliedLSN = max(info.appliedLSN, min(appliedLSN, info.lastSentLSN))
            info.durableLSN = max(info.durableLSN, min(durableLSN, info.appliedLSN))
            info.neededLSN = max(info.neededLSN, info.durableLSN)
            info.lastSeenAtUnixMilliseconds = time
        }
        if let durable = state.withLock({ $0.replicas[replicaID]?.durableLSN }) { commitWaiter.noteDurable(replicaID: replicaID, lsn: durable) }
    }

    public func ack(replicaID: String, appliedLSN: UInt64, durableLSN: UInt64) async throws {
        acknowledge(replicaID: replicaID, appliedLSN: appliedLSN, durableLSN: durableLSN)
    }

    /// `ReplicationSnapshotStream`: every key at one snapshot, about `SnapshotChunk.targetBytes`
    /// per chunk, values longer than that in parts. The log from the snapshot's LSN is kept
    /// for `replicaID` until it pulls; a copy running longer than `maxSnapshotDuration` is cut.
    public func snapshot(replicaID: String, _ receive: @Sendable (SnapshotChunk) async throws -> Void) async throws {
        let (transaction, lsn) = try await engine.beginReplicationSnapshot()
        defer { transaction.rollback() }
        let time = now()
        update(replicaID) { info in
            info = ReplicaInfo(id: replicaID, neededLSN: lsn, lastSentLSN: lsn, appliedLSN: lsn, durableLSN: lsn,
                               connectedAtUnixMilliseconds: time, lastSeenAtUnixMilliseconds: time, isCopying: true)
        }
        let deadline = ContinuousClock.now + maxSnapshotDuration
        var writer = ByteWriter(capacity: SnapshotChunk.targetBytes + 4096)
        var count = 0
        var first = true
        func flush(done: Bool) async throws {
            guard ContinuousClock.now < deadline else {
                throw RedError(.queryCanceled, "the replication snapshot took longer than \(maxSnapshotDuration) and was stopped")
            }
            try await receive(SnapshotChunk(snapshotLSN: lsn, entries: writer.bytes, entryCount: count, done: done,
                                            primaryID: first ? primaryID : nil))
            // A long copy stays alive: its hold on the log must not time out before it ends.
            let seen = now()
            update(replicaID) { $0.lastSeenAtUnixMilliseconds = seen }
            first = false
            writer = ByteWriter(capacity: SnapshotChunk.targetBytes + 4096)
            count = 0
        }
        do {
            for id in try engine.replicationCollectionIDs(transaction) {
                let cursor = try engine.replicationCursor(transaction, collectionID: id)
                while let (key, value) = try cursor.next() {
                    // A cascading replica's own bookkeeping stays with it.
                    if id == StorageEngine.catalogCollectionID, key.starts(with: ReplicaFollower.bookkeepingPrefix) { continue }
                    var offset = 0
                    repeat {
                        let room = max(4096, SnapshotChunk.targetBytes - writer.bytes.count)
                        let part = Array(value[offset..<min(value.count, offset + room)])
                        SnapshotChunk.append(SnapshotChunk.Entry(collectionID: id, key: key, valueLength: value.count, offset: offset, part: part),
                                             to: &writer)
                        count += 1
                        offset += part.count
                        if writer.bytes.count >= SnapshotChunk.targetBytes { try await flush(done: false) }
                    } while offset < value.count
                }
            }
            try await flush(done: true)
        } catch {
            forgetUnfinishedCopy(replicaID, startedAt: time, lsn: lsn)
            throw error
        }
    }

    /// Drops a replica whose copy was cut short (it went away, or took too long). Its entry
    /// held the log from the snapshot's LSN and counted towards a quorum: a replica that
    /// restarts mid-copy (a liveness probe killing it during a long copy, say) comes back for
    /// a new copy, and each such entry left behind was a member that would never acknowledge,
    /// for 15 minutes and again after every restart of this primary.
    ///
    /// Only this copy's entry (`startedAt`, `lsn`): a stream that fails late (its peer vanished
    /// without a reset) must not remove the entry of a newer copy the same replica started.
    private func forgetUnfinishedCopy(_ replicaID: String, startedAt: Int64, lsn: UInt64) {
        let forgotten = state.withLock { s -> Bool in
            guard let info = s.replicas[replicaID], info.isCopying, info.connectedAtUnixMilliseconds == startedAt,
                  info.neededLSN == lsn else { return false }
            s.replicas.removeValue(forKey: replicaID)
            s.dirty = true
            return true
        }
        if forgotten { commitWaiter.forget(replicaID: replicaID) }
    }

    // MARK: Status

    /// The replicas seen in the last `replicaTimeout`, by id.
    public var replicaInfos: [ReplicaInfo] {
        let cutoff = now() - replicaTimeoutMilliseconds
        return state.withLock { $0.replicas.values.filter { $0.lastSeenAtUnixMilliseconds >= cutoff } }.sorted { $0.id < $1.id }
    }

    /// A replica counts as healthy in the topology when seen this recently (upstream's 5 s).
    public static let topologyHealthyMilliseconds: Int64 = 5000

    /// The topology clients route reads by: this primary (`primaryAddress`, `region`) and its
    /// replicas that advertise an address, seen in the last `replicaTimeout`; healthy = seen
    /// in the last 5 s. Lag in milliseconds is not measured (`UInt32.max`, as upstream); the
    /// epoch changes whenever the list or a replica's health does.
    public func topology(primaryAddress: String, region: String) -> Topology {
        let time = now()
        let replicas = replicaInfos.compactMap { info -> Topology.Replica? in
            guard let address = info.advertiseAddress else { return nil }
            return Topology.Replica(address: address, region: info.region ?? "local",
                                    healthy: time - info.lastSeenAtUnixMilliseconds <= Self.topologyHealthyMilliseconds,
                                    lagMilliseconds: .max, lastAppliedLSN: info.appliedLSN)
        }
        let signature = replicas.map { "\($0.address)|\($0.region)|\($0.healthy)" }
        let epoch = topologyEpoch.withLock { e -> UInt64 in
            if e.signature != signature { e.signature = signature; e.epoch += 1 }
            return e.epoch
        }
        return Topology(epoch: epoch, primaryAddress: primaryAddress, primaryRegion: region, replicas: replicas)
    }

    private let topologyEpoch = Mutex<(epoch: UInt64, signature: [String])>((0, []))

    /// `/replication/status` and `ReplicationStatus` on a primary.
    public var status: JSONValue {
        let current = engine.replicationReadableLSN
        let time = now()
        let infos = replicaInfos.map { info -> JSONValue in
            .object([("applied_lsn", .integer(Int64(info.appliedLSN))), ("copying", .bool(info.isCopying)), ("durable_lsn", .integer(Int64(info.durableLSN))),
                     ("id", .string(info.id)), ("lag_bytes", .integer(Int64(current &- min(current, info.appliedLSN)))),
                     ("last_seen_ms_ago", .integer(time - info.lastSeenAtUnixMilliseconds)), ("last_sent_lsn", .integer(Int64(info.lastSentLSN)))])
        }
        return .object([("current_lsn", .integer(Int64(current))), ("ok", .bool(true)),
                        ("oldest_lsn", .integer(Int64(engine.replicationOldestLSN))), ("primary_id", .string(primaryID)),
                        ("replica_count", .integer(Int64(infos.count))), ("replicas", .array(infos)), ("role", .string("primary")),
                        ("wal_lsn", .integer(Int64(current)))])
    }

    // MARK: Retention and the state file

    /// Changes one replica's entry, then keeps the WAL back to what the live replicas need.
    private func update(_ id: String, _ change: (inout ReplicaInfo) -> Void) {
        let time = now()
        let (isNew, region) = state.withLock { s -> (Bool, String?) in
            let known = s.replicas[id]
            var info = known ?? ReplicaInfo(id: id, neededLSN: 0, lastSentLSN: 0, appliedLSN: 0, durableLSN: 0,
                                            connectedAtUnixMilliseconds: time, lastSeenAtUnixMilliseconds: time, isCopying: false)
            let before = info.neededLSN
            change(&info)
            s.replicas[id] = info
            if known == nil || info.neededLSN != before { s.dirty = true }
            return (known == nil, info.hasPulled ? info.region ?? "local" : nil)
        }
        commitWaiter.noteMember(replicaID: id, region: region)
        // A new replica is written down at once; later positions only move forward, so an
        // older saved one keeps more log than needed, never less.
        try? saveIfDue(force: isNew)
    }

    /// The oldest LSN the WAL must keep, asked by every checkpoint: what the replicas seen in
    /// the last `replicaTimeout` (copying ones included) still need, at most
    /// `maxRetainedBytes` behind the log's end. Replicas not seen for longer are forgotten here.
    func retentionFloor() -> UInt64 {
        let cutoff = now() - replicaTimeoutMilliseconds
        let end = engine.replicationReadableLSN
        let (floor, forgotten) = state.withLock { s -> (UInt64, [String]) in
            let gone = s.replicas.values.filter { $0.lastSeenAtUnixMilliseconds < cutoff }.map(\.id)
            for id in gone { s.replicas.removeValue(forKey: id) }
            if !gone.isEmpty { s.dirty = true }
            return (s.replicas.values.map(\.neededLSN).min().map { max($0, end > maxRetainedBytes ? end - maxRetainedBytes : 0) } ?? .max, gone)
        }
        // Nor do they count towards a quorum any more.
        for id in forgotten { commitWaiter.forget(replicaID: id) }
        return floor
    }

    static let saveIntervalMilliseconds: Int64 = 2_000

    /// Writes `{"primary_id","replicas":{id: needed LSN}}` (temp file, fsync, rename) when it
    /// changed, at most every two seconds.
    func saveIfDue(force: Bool) throws {
        guard let stateFile else { return }
        try saving.withLock { _ in
            let time = now()
            let snapshot: [String: UInt64]? = state.withLock { s in
                guard s.dirty, force || time - s.savedAt >= Self.saveIntervalMilliseconds else { return nil }
                return s.replicas.mapValues(\.neededLSN)
            }
            guard let snapshot else { return }
            let json = JSONValue.object([("primary_id", .string(primaryID)),
                                         ("replicas", .object(snapshot.sorted { $0.key < $1.key }.map { ($0.key, .integer(Int64($0.value))) }))])
            try DurableFile.replace(stateFile, with: json.utf8)
            // Marked clean only once written: a failed save is tried again by the next change.
            state.withLock { s in
                s.dirty = false
                s.savedAt = time
            }
        }
    }

    static func load(_ path: String) throws -> (id: String, positions: [String: UInt64])? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard let json = try? JSONValue.parse(String(decoding: data, as: UTF8.self)), case .string(let id)? = json["primary_id"],
              case .object(let members)? = json["replicas"] else {
            throw RedError(.dataCorrupted, "\(path) does not decode; remove it (replicas then copy this primary anew)")
        }
        var positions: [String: UInt64] = [:]
        for (replica, value) in members {
            if case .integer(let lsn) = value, lsn >= 0 { positions[replica] = UInt64(lsn) }
        }
        return (id, positions)
    }
}
