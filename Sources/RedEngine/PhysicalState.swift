import RedCore
import RedStorage

/// The engine's physical state as operators inspect it (gRPC `NativeHeader`,
/// `NativeRecoverySummary`, `PhysicalMetadata`, `Roots` …): our file format's facts, read
/// without I/O from what the engine already holds.
public struct PhysicalState: Sendable {
    /// The header slot published by the last checkpoint (what an open would start from).
    public var header: DatabaseHeader
    public var pageSize: Int
    /// Pages the file holds now (the checkpointed image plus pages written since).
    public var pageCount: UInt32
    public var freePages: Int
    public var walDirectory: String
    /// LSNs at which the WAL's segments begin, oldest first.
    public var walSegmentBases: [UInt64]
    public var walAppendedLSN: UInt64
    public var walDurableLSN: UInt64
    public var walBytesSinceCheckpoint: UInt64
    public var checkpoints: UInt64
    /// Seconds since the last checkpoint (or the open).
    public var secondsSinceCheckpoint: Double
    public var syncMode: String
}

extension StorageEngine {
    public var physicalState: PhysicalState {
        let (lsn, at) = lastCheckpoint.withLock { $0 }
        let since = ContinuousClock.now - at
        return PhysicalState(
            header: store.publishedHeader, pageSize: PageLayout.pageSize, pageCount: store.pageCount, freePages: store.freePageCount,
            walDirectory: Self.walDirectory(for: path), walSegmentBases: wal.segmentBases, walAppendedLSN: wal.appendedLSN,
            walDurableLSN: wal.durableLSN, walBytesSinceCheckpoint: wal.bytes(since: lsn),
            checkpoints: counters.withLock { $0.checkpoints },
            secondsSinceCheckpoint: Double(since.components.seconds) + Double(since.components.attoseconds) / 1e18,
            syncMode: options.syncMode.rawValue)
    }
}

extension StorageEngine {
    /// Before an idle spell (`ServerlessReclaim`): a checkpoint, so the WAL an open would replay
    /// is short and the dirty nodes are written, then the cache lets go of every clean node.
    /// Returns the checkpoint's LSN and what the cache released; reads refill it as they come.
    public func reclaimMemory() async throws -> (checkpointLSN: UInt64, nodes: Int, bytes: Int) {
        try await checkpoint()
        let released = store.dropCleanNodes()
        return (store.publishedHeader.checkpointLSN, released.nodes, released.bytes)
    }
}

extension StorageEngine {
    /// Both header slots as the file holds them (see `PagedStore.headerSlots`).
    public func headerSlots() throws -> [(slot: Int, epoch: UInt64?, problem: String?)] { try store.headerSlots() }

    /// Rewrites both header slots from the current state (`RepairNativeHeader`): each
    /// checkpoint publishes the next epoch into the other slot, so two in a row leave both
    /// slots current and verified — a slot a torn write or a bad sector damaged is replaced.
    /// The slot an open would take is never the one being written.
    public func rewriteHeaderSlots() async throws -> [(slot: Int, epoch: UInt64?, problem: String?)] {
        try await checkpoint()
        try await checkpoint()
        return try store.headerSlots()
    }
}
