import Foundation
import Logging
import RedCore
import RedDB
import RedEngine
import Synchronization

/// A replica's side of replication (spec: replication-mcp-ai-ops §1.5-1.6, with the HEAD
/// behaviour the spec recommends: a stable replica id sent on every pull, and an ack after
/// each durable batch).
///
/// - **Bootstrap.** A replica that has never copied its primary clears its database, copies
///   every key of one primary snapshot, and records the snapshot's LSN as applied, in the
///   last commit of the copy. A copy cut short is started again from scratch.
/// - **Follow.** It then pulls the commit records after the last LSN it applied and applies
///   each as a local commit that also records that LSN, so a crash of the replica neither
///   loses nor repeats a commit. Records in parts are joined and checked (CRC32) first.
/// - **States** (`/replication/status`): `connecting` (no answer from the primary),
///   `bootstrapping`, `healthy`, `stalled_gap` (the primary no longer has the log this
///   replica needs: copy it again by removing its database), `apply_error`.
public final class ReplicaFollower: Sendable {
    public enum State: String, Sendable {
        case idle, connecting, bootstrapping, healthy
        case stalledGap = "stalled_gap"
        case applyError = "apply_error"
        /// Following another primary, or one that lost commits this replica has: stopped.
        case diverged = "divergence"
    }

    struct Progress {
        var state = State.idle
        var appliedLSN: UInt64 = 0
        var bootstrapped = false
        var replicaID: String
        /// The primary this replica copied (nil: copied before primaries had ids).
        var primaryID: String?
        var lastSeenPrimaryLSN: UInt64 = 0
        var lastSeenOldestLSN: UInt64 = 0
        var lastError: String?
        var updatedAt: Int64 = 0
        var appliedRecords: UInt64 = 0
        /// A record arriving in parts: its end LSN, CRC32, total length and bytes so far.
        var partial: (lsn: UInt64, crc: UInt32, total: Int, bytes: [UInt8])?
    }

    /// How long a caught-up pull may wait on the primary for new commits: the poll interval.
    var waitMilliseconds: Int { Int(pollInterval / .milliseconds(1)) }

    /// Catalog-storage keys of the replica's own bookkeeping (the primary never writes them).
    static let appliedKey = Array("replication/applied_lsn".utf8)
    static let replicaIDKey = Array("replication/replica_id".utf8)
    static let primaryIDKey = Array("replication/primary_id".utf8)
    /// Every key above: a cascading replica's own, never copied or applied downstream.
    public static let bookkeepingPrefix = Array("replication/".utf8)

    public let database: Database
    public let primaryAddress: String
    /// Where clients reach this replica and its region, told to the primary with every pull
    /// (it lists them in its topology).
    let advertiseAddress: String?
    let region: String?
    let pollInterval: Duration
    let logger: Logger
    /// Called after a replicated commit wrote users or API keys (`auth/…` catalog keys).
    let onAuthChange: @Sendable () -> Void
    private let progress: Mutex<Progress>

    public init(database: Database, primaryAddress: String, pollInterval: Duration = .milliseconds(100), logger: Logger,
                advertiseAddress: String? = nil, region: String? = nil,
                onAuthChange: @escaping @Sendable () -> Void = {}) throws {
        self.database = database
        self.advertiseAddress = advertiseAddress
        self.region = region
        self.primaryAddress = primaryAddress
        self.pollInterval = pollInterval
        self.logger = logger
        self.onAuthChange = onAuthChange
        let transaction = try database.engine.begin()
        defer { transaction.rollback() }
        var start = Progress(replicaID: UUID().uuidString.lowercased())
        if let applied = try transaction.catalogGet(Self.appliedKey) {
            var reader = ByteReader(applied, context: "replication/applied_lsn")
            start.appliedLSN = try reader.u64()
            start.bootstrapped = true
        }
        if let id = try transaction.catalogGet(Self.replicaIDKey) { start.replicaID = String(decoding: id, as: UTF8.self) }
        if let id = try transaction.catalogGet(Self.primaryIDKey) { start.primaryID = String(decoding: id, as: UTF8.self) }
        progress = Mutex(start)
    }

    public var isBootstrapped: Bool { progress.withLock { $0.bootstrapped } }
    public var appliedLSN: UInt64 { progress.withLock { $0.appliedLSN } }
    public var state: State { progress.withLock { $0.state } }
    public var replicaID: String { progress.withLock { $0.replicaID } }

    // MARK: Bootstrap

    /// Copies the primary into this (cleared) database.
    public func bootstrap(from source: any ReplicationSource) async throws {
        note(.bootstrapping)
        let engine = database.engine
        try await engine.removeEverythingForReplication()
        // This replica's id, kept from the start of the copy (the wipe above removed it): one
        // restarted mid-copy asks again under the same id, not as a new replica the primary
        // would count besides the one it never heard from again.
        try await engine.transaction { try $0.catalogPut(Self.replicaIDKey, Array(self.replicaID.utf8)) }
        let loader = SnapshotLoader(engine: engine, replicaID: replicaID)
        try await source.snapshot(replicaID: replicaID) { chunk in try await loader.receive(chunk) }
        guard let lsn = loader.finishedLSN else { throw RedError(.protocolViolation, "the replication snapshot ended without its last chunk") }
        progress.withLock { p in
            p.appliedLSN = lsn
            p.bootstrapped = true
            p.partial = nil
            p.primaryID = loader.primaryID
        }
        onAuthChange()
        logger.notice("replica copied its primary: \(loader.entries) keys at LSN \(lsn)")
    }

    // MARK: Follow

    struct Gap: Error {
        let applied: UInt64
        let oldest: UInt64
    }

    /// The primary is not the one this replica copied, or its log is behind this replica.
    struct Diverged: Error {
        let message: String
    }

    /// One pull and apply; true when the replica has caught up with the primary.
    @discardableResult
    public func step(_ source: any ReplicationSource) async throws -> Bool {
        let (applied, partial, id, primaryID) = progress.withLock { ($0.appliedLSN, $0.partial, $0.replicaID, $0.primaryID) }
        var request = PullRequest(sinceLSN: applied, offset: partial?.bytes.count ?? 0, replicaID: id,
                                  waitMilliseconds: waitMilliseconds, primaryID: primaryID)
        request.advertiseAddress = advertiseAddress
        request.region = region
        let pulled = try await source.pull(request)
        progress.withLock { p in
            p.lastSeenPrimaryLSN = pulled.currentLSN
            p.lastSeenOldestLSN = pulled.oldestLSN
        }
        if let primaryID, let theirs = pulled.primaryID, theirs != primaryID {
            throw Diverged(message: "the primary at \(primaryAddress) is \(theirs), not \(primaryID) that this replica copied; remove this replica's database to copy it anew")
        }
        guard pulled.currentLSN >= applied else {
            throw Diverged(message: "the primary's log ends at LSN \(pulled.currentLSN), before this replica's \(applied): it lost commits or is another database; remove this replica's database to copy it anew")
        }
        if pulled.records.isEmpty, applied < pulled.oldestLSN { throw Gap(applied: applied, oldest: pulled.oldestLSN) }
        var authChanged = false
        for record in pulled.records {
            guard let payload = try join(record) else { continue }
            let catalogKeys = try await apply(payload, lsn: record.lsn)
            if catalogKeys.contains(where: { $0.starts(with: Array("auth/".utf8)) }) { authChanged = true }
        }
        if authChanged { onAuthChange() }
        let now = progress.withLock { p -> UInt64 in
            p.state = .healthy
            p.lastError = nil
            p.updatedAt = Self.unixMilliseconds()
            return p.appliedLSN
        }
        if !pulled.records.isEmpty || now != applied {
            try await database.engine.syncAppliedCommits()  // "durable" must mean it here too
            try await source.ack(replicaID: id, appliedLSN: now, durableLSN: now)
        }
        return pulled.records.isEmpty && now >= pulled.currentLSN
    }

    /// A whole record's payload, or nil while its parts are still arriving.
    private func join(_ record: PulledRecord) throws -> [UInt8]? {
        if record.isWhole {
            progress.withLock { $0.partial = nil }
            return record.data
        }
        // Subtracted, not added: the peer's offset may be anything (an overflow would trap).
        guard record.total <= Limits.maxTransactionBytes, record.offset >= 0, record.offset <= record.total,
              record.data.count <= record.total - record.offset else {
            throw RedError(.protocolViolation, "replication: a record part does not fit its record")
        }
        return try progress.withLock { p -> [UInt8]? in
            var partial = p.partial ?? (record.lsn, record.crc ?? 0, record.total, [])
            guard partial.lsn == record.lsn, partial.bytes.count == record.offset else {
                p.partial = nil
                throw RedError(.protocolViolation, "replication: record parts out of order at LSN \(record.lsn)")
            }
            partial.bytes += record.data
            guard partial.bytes.count == partial.total else {
                p.partial = partial
                return nil
            }
            p.partial = nil
            guard CRC32.checksum(partial.bytes) == partial.crc else {
                throw RedError(.dataCorrupted, "replication: the record ending at LSN \(record.lsn) fails its checksum")
            }
            return partial.bytes
        }
    }

    /// Applies one record with the LSN it ends at; a conflict with the replica's own
    /// background work (vacuum) is retried.
    private func apply(_ payload: [UInt8], lsn: UInt64) async throws -> [[UInt8]] {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let keys = try await database.engine.applyReplicated(payload, lsn: lsn, bookkeeping: [(Self.appliedKey, Self.encode(lsn))],
                                                                     skippingCatalogPrefix: Self.bookkeepingPrefix)
                progress.withLock { p in
                    p.appliedLSN = lsn
                    p.appliedRecords += 1
                }
                return keys
            } catch let error as RedError where error.code == .serializationFailure && attempt < 32 {
                try await Task.sleep(for: .milliseconds(attempt))
            }
        }
    }

    /// Follows the primary until cancelled. `connect` opens a source (a gRPC connection) and
    /// runs the body on it; any failure is reported in the state and retried after a pause
    /// that doubles with each failure in a row (`retryDelay`).
    public func run(connect: @Sendable (@Sendable (any ReplicationSource) async throws -> Void) async throws -> Void) async {
        var failuresInARow = 0
        while !Task.isCancelled {
            let progressed = ProgressFlag()
            do {
                try await connect { source in
                    if !self.isBootstrapped { try await self.bootstrap(from: source) }
                    while !Task.isCancelled {
                        // A caught-up pull waited on the primary (long poll); a primary that
                        // answered at once instead gets the rest of the poll interval.
                        let started = ContinuousClock.now
                        let caughtUp = try await self.step(source)
                        progressed.set()
                        if caughtUp, ContinuousClock.now - started < self.pollInterval / 2 {
                            try await Task.sleep(for: self.pollInterval - (ContinuousClock.now - started))
                        }
                    }
                }
            } catch is CancellationError {
                return
            } catch where Task.isCancelled {
                return  // shutting down: the transport reports the cancellation its own way
            } catch let diverged as Diverged {
                fail(.diverged, diverged.message)
            } catch let gap as Gap {
                fail(.stalledGap, "replica is behind the oldest log its primary has (applied \(gap.applied), oldest \(gap.oldest)); remove its database and start it again to copy the primary anew")
            } catch let error as RedError where error.code == .dataCorrupted || error.code == .protocolViolation {
                fail(.applyError, error.message)
            } catch {
                fail(.connecting, "primary \(primaryAddress): \(error)")
            }
            if Task.isCancelled { return }
            failuresInARow = progressed.isSet ? 1 : failuresInARow + 1
            let base = max(pollInterval, .milliseconds(250)) * (state == .connecting ? 1 : 4)
            try? await Task.sleep(for: Self.retryDelay(base: base, failuresInARow: failuresInARow) * Double.random(in: 0.8...1.2))
        }
    }

    /// The pause before the next attempt: `base` after the first failure, doubling with each
    /// failure in a row, at most `maxRetryDelay`. Why: every attempt opens a connection and
    /// logs in again (a password hash on the primary, and a session it keeps for an hour); a
    /// primary that is down, or refuses this replica's user, was asked four times a second
    /// forever. A pull that works starts the count over.
    public static func retryDelay(base: Duration, failuresInARow: Int) -> Duration {
        let doublings = min(max(failuresInARow - 1, 0), 16)
        return min(base * (1 << doublings), maxRetryDelay)
    }

    public static let maxRetryDelay = Duration.seconds(30)

    /// Set once a connection has made progress (a pull answered), from the connection's task.
    private final class ProgressFlag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .relaxed) }
        var isSet: Bool { value.load(ordering: .relaxed) }
    }

    private func note(_ state: State) {
        progress.withLock { p in
            p.state = state
            p.updatedAt = Self.unixMilliseconds()
        }
    }

    private func fail(_ state: State, _ message: String) {
        let changed = progress.withLock { p -> Bool in
            let changed = p.state != state || p.lastError != message
            p.state = state
            p.lastError = message
            p.updatedAt = Self.unixMilliseconds()
            return changed
        }
        if changed { logger.warning("replication: \(message)") }
    }

    // MARK: Status

    /// `/replication/status` and `ReplicationStatus` on a replica.
    public var status: JSONValue {
        progress.withLock { p in
            var members: [(String, JSONValue)] = [
                ("applied_records", .integer(Int64(p.appliedRecords))), ("last_applied_lsn", .integer(Int64(p.appliedLSN))),
                ("last_seen_oldest_lsn", .integer(Int64(p.lastSeenOldestLSN))), ("last_seen_primary_lsn", .integer(Int64(p.lastSeenPrimaryLSN))),
                ("lag_bytes", .integer(Int64(p.lastSeenPrimaryLSN &- min(p.lastSeenPrimaryLSN, p.appliedLSN)))),
                ("ok", .bool(true)), ("primary_addr", .string(primaryAddress)), ("primary_id", p.primaryID.map { .string($0) } ?? .null),
                ("replica_id", .string(p.replicaID)),
                ("role", .string("replica")), ("state", .string(p.state.rawValue)), ("updated_at_unix_ms", .integer(p.updatedAt)),
            ]
            if let error = p.lastError { members.append(("last_error", .string(error))) }
            return .object(members.sorted { $0.0 < $1.0 })
        }
    }

    static func encode(_ lsn: UInt64) -> [UInt8] {
        var writer = ByteWriter(capacity: 8)
        writer.u64(lsn)
        return writer.bytes
    }

    static func unixMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

/// Receives snapshot chunks in order and writes their keys in batches; the last batch also
/// records the snapshot's LSN and the replica's id, which marks the copy complete.
final class SnapshotLoader: @unchecked Sendable {
    let engine: StorageEngine
    let replicaID: String
    private var batch: [(collectionID: UInt32, key: [UInt8], value: [UInt8])] = []
    private var batchBytes = 0
    private var partial: (collectionID: UInt32, key: [UInt8], length: Int, bytes: [UInt8])?
    private(set) var finishedLSN: UInt64?
    private(set) var primaryID: String?
    private(set) var entries = 0
    private var lsn: UInt64?

    static let batchBytes = 8 << 20

    init(engine: StorageEngine, replicaID: String) {
        self.engine = engine
        self.replicaID = replicaID
    }

    func receive(_ chunk: SnapshotChunk) async throws {
        guard finishedLSN == nil else { throw RedError(.protocolViolation, "replication snapshot: a chunk after the last one") }
        guard lsn == nil || lsn == chunk.snapshotLSN else { throw RedError(.protocolViolation, "replication snapshot: chunks of two snapshots") }
        lsn = chunk.snapshotLSN
        if let id = chunk.primaryID { primaryID = id }
        for entry in try chunk.decodedEntries() {
            if entry.offset == 0, entry.part.count == entry.valueLength {
                guard partial == nil else { throw RedError(.protocolViolation, "replication snapshot: a value's parts are cut short") }
                add(entry.collectionID, entry.key, entry.part)
                continue
            }
            var current = partial ?? (entry.collectionID, entry.key, entry.valueLength, [])
            guard current.collectionID == entry.collectionID, current.key == entry.key, current.length == entry.valueLength,
                  current.bytes.count == entry.offset else {
                throw RedError(.protocolViolation, "replication snapshot: value parts out of order")
            }
            current.bytes += entry.part
            if current.bytes.count == current.length {
                partial = nil
                add(current.collectionID, current.key, current.bytes)
            } else {
                partial = current
            }
        }
        if batchBytes >= Self.batchBytes { try await flush(bookkeeping: []) }
        if chunk.done {
            guard partial == nil else { throw RedError(.protocolViolation, "replication snapshot: the last value is cut short") }
            var bookkeeping: [(key: [UInt8], value: [UInt8])] = [(ReplicaFollower.appliedKey, ReplicaFollower.encode(chunk.snapshotLSN)),
                                                                 (ReplicaFollower.replicaIDKey, Array(replicaID.utf8))]
            if let primaryID { bookkeeping.append((ReplicaFollower.primaryIDKey, Array(primaryID.utf8))) }
            try await flush(bookkeeping: bookkeeping)
            finishedLSN = chunk.snapshotLSN
        }
    }

    private func add(_ collectionID: UInt32, _ key: [UInt8], _ value: [UInt8]) {
        batch.append((collectionID, key, value))
        batchBytes += key.count + value.count + 16
        entries += 1
    }

    private func flush(bookkeeping: [(key: [UInt8], value: [UInt8])]) async throws {
        try await engine.applyReplicatedEntries(batch, bookkeeping: bookkeeping)
        batch = []
        batchBytes = 0
    }
}
