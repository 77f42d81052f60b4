import Foundation
import RedCore
import RedDB
import RedEngine
import RedStorage
import Synchronization

/// The primary's side of replication (spec: replication-mcp-ai-ops §1.1-1.4, §1.9): serves
/// commit records from its WAL, keeps the log its replicas still need, copies snapshots for
/// new replicas, and tracks what each replica has applied.
///
/// Retention: the WAL normally loses its segments at each checkpoint. A primary instead keeps
/// them back to the oldest LSN a replica seen in the last `replicaTimeout` still needs (and to
/// a snapshot handed out in that time), but never more than `maxRetainedBytes` behind the log's
/// end: a replica further behind finds a gap and must be bootstrapped again, rather than the
/// primary's disk filling up.
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
        /// A snapshot handed out, kept until its replica starts pulling (or times out).
        public var isSnapshotHold: Bool
    }

    public let database: Database
    public let maxRetainedBytes: UInt64
    public let replicaTimeoutMilliseconds: Int64
    private let replicas = Mutex<[String: ReplicaInfo]>([:])
    private let now: @Sendable () -> Int64

    public init(database: Database, maxRetainedBytes: UInt64 = 1 << 30, replicaTimeoutMilliseconds: Int64 = 15 * 60_000,
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.database = database
        self.maxRetainedBytes = maxRetainedBytes
        self.replicaTimeoutMilliseconds = replicaTimeoutMilliseconds
        self.now = now
    }

    var engine: StorageEngine { database.engine }

    // MARK: ReplicationSource

    /// `PullWalRecords`: commit records after `sinceLSN`. A `sinceLSN` older than the log the
    /// primary still has answers no records and an `oldestLSN` above it: the replica's gap.
    public func pullRecords(_ request: PullRequest) throws -> PulledRecords {
        let batch: StorageEngine.ReplicationBatch
        do {
            batch = try engine.replicationRecords(after: request.sinceLSN, payloadOffset: request.offset,
                                                  maxRecords: request.maxCount, maxBytes: request.maxBytes)
        } catch WALReader.ReadError.gap(let oldest) {
            return PulledRecords(records: [], currentLSN: engine.replicationReadableLSN, oldestLSN: max(oldest, request.sinceLSN + 1))
        }
        let records = batch.parts.map { part in
            part.isWhole ? PulledRecord(lsn: part.endLSN, data: part.bytes)
                : PulledRecord(lsn: part.endLSN, data: part.bytes, offset: part.offset, total: part.payloadLength, crc: part.payloadCRC)
        }
        if let id = request.replicaID {
            let time = now()
            replicas.withLock { all in
                var info = all[id] ?? ReplicaInfo(id: id, neededLSN: request.sinceLSN, lastSentLSN: request.sinceLSN, appliedLSN: request.sinceLSN,
                                                  durableLSN: request.sinceLSN, connectedAtUnixMilliseconds: time, lastSeenAtUnixMilliseconds: time,
                                                  isSnapshotHold: false)
                info.neededLSN = request.sinceLSN
                info.lastSentLSN = records.last?.lsn ?? request.sinceLSN
                info.lastSeenAtUnixMilliseconds = time
                all[id] = info
                // A replica pulling on its own no longer needs the snapshot it started from.
                all = all.filter { !$0.value.isSnapshotHold || $0.value.neededLSN < request.sinceLSN }
            }
            updateRetention()
        }
        return PulledRecords(records: records, currentLSN: batch.currentLSN, oldestLSN: batch.oldestLSN)
    }

    public func pull(_ request: PullRequest) async throws -> PulledRecords { try pullRecords(request) }

    /// `AckReplicaLsn`: positions only move forward.
    public func acknowledge(replicaID: String, appliedLSN: UInt64, durableLSN: UInt64) {
        let time = now()
        replicas.withLock { all in
            var info = all[replicaID] ?? ReplicaInfo(id: replicaID, neededLSN: appliedLSN, lastSentLSN: appliedLSN, appliedLSN: appliedLSN,
                                                     durableLSN: durableLSN, connectedAtUnixMilliseconds: time, lastSeenAtUnixMilliseconds: time,
                                                     isSnapshotHold: false)
            info.appliedLSN = max(info.appliedLSN, appliedLSN)
            info.durableLSN = max(info.durableLSN, durableLSN)
            info.neededLSN = max(info.neededLSN, info.durableLSN)
            info.lastSeenAtUnixMilliseconds = time
            all[replicaID] = info
        }
        updateRetention()
    }

    public func ack(replicaID: String, appliedLSN: UInt64, durableLSN: UInt64) async throws {
        acknowledge(replicaID: replicaID, appliedLSN: appliedLSN, durableLSN: durableLSN)
    }

    /// `ReplicationSnapshotStream`: every key at one snapshot, about `SnapshotChunk.targetBytes`
    /// per chunk, values longer than that in parts. The log from the snapshot's LSN is held
    /// until the replica pulls.
    public func snapshot(_ receive: @Sendable (SnapshotChunk) async throws -> Void) async throws {
        let (transaction, lsn) = try await engine.beginReplicationSnapshot()
        defer { transaction.rollback() }
        let time = now()
        let hold = "snapshot-\(UUID().uuidString)"
        replicas.withLock {
            $0[hold] = ReplicaInfo(id: hold, neededLSN: lsn, lastSentLSN: lsn, appliedLSN: lsn, durableLSN: lsn, connectedAtUnixMilliseconds: time,
                                   lastSeenAtUnixMilliseconds: time, isSnapshotHold: true)
        }
        updateRetention()
        var writer = ByteWriter(capacity: SnapshotChunk.targetBytes + 4096)
        var count = 0
        func flush(done: Bool) async throws {
            try await receive(SnapshotChunk(snapshotLSN: lsn, entries: writer.bytes, entryCount: count, done: done))
            writer = ByteWriter(capacity: SnapshotChunk.targetBytes + 4096)
            count = 0
        }
        for id in try engine.replicationCollectionIDs(transaction) {
            let cursor = try engine.replicationCursor(transaction, collectionID: id)
            while let (key, value) = try cursor.next() {
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
    }

    // MARK: Status

    /// The replicas seen in the last `replicaTimeout`, by id (snapshot holds left out).
    public var replicaInfos: [ReplicaInfo] {
        let cutoff = now() - replicaTimeoutMilliseconds
        return replicas.withLock { $0.values.filter { !$0.isSnapshotHold && $0.lastSeenAtUnixMilliseconds >= cutoff } }.sorted { $0.id < $1.id }
    }

    /// `/replication/status` and `ReplicationStatus` on a primary.
    public var status: JSONValue {
        let current = engine.replicationReadableLSN
        let time = now()
        let infos = replicaInfos.map { info -> JSONValue in
            .object([("applied_lsn", .integer(Int64(info.appliedLSN))), ("durable_lsn", .integer(Int64(info.durableLSN))),
                     ("id", .string(info.id)), ("lag_bytes", .integer(Int64(current &- min(current, info.appliedLSN)))),
                     ("last_seen_ms_ago", .integer(time - info.lastSeenAtUnixMilliseconds)), ("last_sent_lsn", .integer(Int64(info.lastSentLSN)))])
        }
        return .object([("current_lsn", .integer(Int64(current))), ("ok", .bool(true)),
                        ("oldest_lsn", .integer(Int64(engine.replicationOldestLSN))), ("replica_count", .integer(Int64(infos.count))),
                        ("replicas", .array(infos)), ("role", .string("primary")), ("wal_lsn", .integer(Int64(current)))])
    }

    /// Keeps the WAL back to what the live replicas (and fresh snapshots) still need.
    func updateRetention() {
        let cutoff = now() - replicaTimeoutMilliseconds
        let needed = replicas.withLock { all -> UInt64? in
            all = all.filter { $0.value.lastSeenAtUnixMilliseconds >= cutoff }
            return all.values.map(\.neededLSN).min()
        }
        let end = engine.replicationReadableLSN
        let floor = needed.map { max($0, end > maxRetainedBytes ? end - maxRetainedBytes : 0) } ?? .max
        engine.walRetentionFloor.store(floor, ordering: .relaxed)
    }
}
