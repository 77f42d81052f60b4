import RedStorage

/// How an engine runs. Defaults are safe: every commit is fsynced before it
/// is acknowledged.
public struct EngineOptions: Sendable {
    /// When a commit is acknowledged: `full` after fsync (default), `batched` at once with an fsync
    /// at most `batchedSyncDelayMilliseconds` later, `off` at once and fsync only at checkpoints.
    public var syncMode: SyncMode = .full
    public var batchedSyncDelayMilliseconds = 10
    /// Byte budget of the page cache.
    public var cacheBytes = 64 << 20
    /// Byte budget of the copies of vector collections' vectors that searches compare in
    /// memory (`VectorItemCache`); 0 turns it off (every search reads the records).
    public var vectorCacheBytes = 256 << 20
    /// A background checkpoint starts once this much WAL has accumulated since the last one…
    /// (Each checkpoint writes every page changed since the one before, so under a steady load a
    /// larger figure writes each hot page less often; recovery replays at most this much WAL.
    /// PostgreSQL's default `max_wal_size` is 1 GB.)
    public var checkpointWALBytes: UInt64 = 256 << 20
    /// …or this long after it, if anything was written.
    public var checkpointIntervalMilliseconds = 300_000
    /// Soft size of one WAL segment file.
    public var walSegmentBytes: UInt64 = 64 << 20
    /// Run checkpoints and version cleanup in the background.
    public var backgroundWork = true
    /// Check the B+tree invariants on open (reads every page: O(database size)).
    public var verifyOnOpen = false
    /// Keys remembered for version cleanup; beyond this, old versions wait for the key's next write.
    public var maxVacuumQueueKeys = 1 << 20

    public init() {}
}

/// Counters an operator (or `red bench`) reads.
public struct EngineStatistics: Sendable {
    public var commits: UInt64
    public var conflicts: UInt64
    public var checkpoints: UInt64
    public var lastCommitTS: UInt64
    public var walAppendedLSN: UInt64
    public var walDurableLSN: UInt64
    public var walBytesSinceCheckpoint: UInt64
    public var cache: PageCache.Statistics
    public var pageCount: UInt32
    public var vacuumQueueKeys: Int
    public var wal: WriteAheadLog.Statistics
}
