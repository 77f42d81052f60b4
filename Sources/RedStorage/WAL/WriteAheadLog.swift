#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RedCore
import Synchronization

/// The write-ahead log: every commit is a record here before it is
/// acknowledged; a checkpoint lets the log before it be deleted.
/// The byte layout is described in `WALFormat`.
///
/// **Group commit.**
/// 1. `append` encodes the record into an in-memory buffer under one short
///    lock and returns its end LSN. It never does I/O.
/// 2. `waitForCommit(lsn)` (sync mode `full`) returns once `durableLSN ≥ lsn`.
///    The first waiter to find no leader becomes the *leader*: it takes the
///    whole buffer, releases the lock, writes the bytes and fsyncs once, then
///    publishes the new `durableLSN` and wakes the waiters it covered. If
///    waiters remain whose records arrived after it took the buffer, it hands
///    leadership to one of them. Others wait as suspended continuations —
///    no thread is parked per committer, and no one polls.
/// 3. **Wake chain.** The leader resumes one covered waiter and queues the rest in
///    `wakeChain`; every covered waiter, once running, resumes the next. Resuming
///    a task on an idle pool makes Dispatch wake a thread (a futex call, costly on
///    small VMs); a leader resuming 30 committers at once paid that again and again
///    (about 10 % of the time in a profile), while a chain resumes each from a
///    thread that is already running, when the pool has work. 32 writers: about
///    120,000–130,000 commits/s against 84,000–91,000 (`red bench storage`,
///    alternating runs); 1 and 8 writers unchanged. Only the order of wake-ups
///    changes: every waiter in the chain is already durable.
/// 4. **One thread.** In a process that may use one CPU, Swift's pool has a single thread,
///    and a leader's fsync holds it: no one else can append until the fsync ends. Each round
///    then carried one commit, and a committer that led again at once kept the thread from the
///    rest (8 writers under `taskset -c 0`: 6,100 commits/s, one per fsync). With
///    `WALOptions.committersShareOneThread` a leader yields once before it syncs, so every
///    runnable committer appends first, and `lead` resumes all it covered directly (there is
///    no other thread to wake): 33,200 commits/s, 8 per fsync; 32 writers 6,200 → 93,600.
/// 5. **Polling.** On a fast disk a committer whose round is under way polls for it instead of
///    suspending, so no thread falls idle during the fsync and needs waking after it
///    (`spinUntilCovered`).
///
/// Invariants:
/// - at most one leader at a time, so bytes land in LSN order at their offsets;
/// - `wakeChain` holds only waiters whose LSN is durable, and whenever it is not empty a
///   resumed covered waiter is yet to pop from it (the leader queues the rest only together
///   with resuming one), so every one of them is resumed;
/// - no write or fsync happens under the append lock;
/// - `durableLSN` only grows, and only after a successful fsync;
/// - a failed write or fsync sets `failure` forever: the kernel may have
///   dropped the dirty pages, so retrying could report a commit durable that
///   is not. Every waiter and every later call gets `.storageFailed`.
///
/// Relaxed modes: `batched` and `off` acknowledge at once; a background task
/// writes the buffer every `batchedSyncDelayMilliseconds`, fsyncing in
/// `batched` mode only. `sync(upTo:)` always fsyncs (checkpoints, close).
public final class WriteAheadLog: @unchecked Sendable {
    public let directory: String
    public let options: WALOptions
    public let fileSystem: any FileSystem

    enum WaitOutcome { case covered, lead }

    struct Waiter {
        var lsn: UInt64
        var continuation: CheckedContinuation<WaitOutcome, Error>
    }

    struct State {
        var buffer: [UInt8] = []
        var bufferStartLSN: UInt64
        var appendedLSN: UInt64
        var writtenLSN: UInt64
        var durableLSN: UInt64
        var leaderActive = false
        var waiters: [Waiter] = []
        /// Covered committers not resumed yet: each one resumed resumes the next (see `lead`).
        var wakeChain: [CheckedContinuation<WaitOutcome, Error>] = []
        var failure: RedError?
        var closed = false
        /// Records appended since the buffer was last taken.
        var bufferRecords = 0
        /// Records written by rounds without an fsync since the last fsync round.
        var writtenRecords = 0
        /// Records the current (or last) fsync round carries.
        var lastRoundRecords = 0
        /// Committers the previous fsync round saw: those it covered plus those that appended while it ran.
        var concurrentCommitters = 0
        /// Time between committers appending while a leader gathers them (a moving average).
        var arrivalInterval: Duration = .zero
        /// How long the previous fsync took.
        var lastSyncDuration: Duration = .zero
        var statistics = Statistics()
    }

    /// Counters for operators and benchmarks.
    public struct Statistics: Sendable {
        /// Leader rounds that ended in an fsync.
        public var fsyncs: UInt64 = 0
        /// Records those fsyncs made durable (records per fsync = group commit's effect).
        public var recordsSynced: UInt64 = 0
        /// Time leaders spent waiting for concurrent committers before syncing.
        public var gatherNanoseconds: UInt64 = 0
        /// Time spent in fsync.
        public var fsyncNanoseconds: UInt64 = 0
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Longest a leader waits for the committers of the previous round to append again.
    static let maxGatherMicroseconds = 200

    /// The segment appends go to; touched only by the leader, and by `removeSegments`.
    private struct Segments {
        var current: any StorageFile
        var currentBase: UInt64
        /// LSN just past the bytes written into the current segment.
        var writtenEnd: UInt64
        /// LSN up to which the current segment's file has been zero-filled.
        var preallocatedEnd: UInt64
        var bases: [UInt64]
    }

    let state: Mutex<State>
    /// Mirrors of `State.durableLSN` and `State.leaderActive`, written under the state lock and
    /// read without it by spinning committers (see `spinUntilCovered`).
    private let publishedDurableLSN: Atomic<UInt64>
    let leaderPublished = Atomic<Bool>(false)
    private let segments: Mutex<Segments>
    private let flusher = Mutex<Task<Void, Never>?>(nil)

    private init(directory: String, fileSystem: any FileSystem, options: WALOptions, current: any StorageFile,
                 currentBase: UInt64, end: UInt64, bases: [UInt64]) {
        self.directory = directory
        self.fileSystem = fileSystem
        self.options = options
        state = Mutex(State(bufferStartLSN: end, appendedLSN: end, writtenLSN: end, durableLSN: end))
        publishedDurableLSN = Atomic(end)
        segments = Mutex(Segments(current: current, currentBase: currentBase, writtenEnd: end, preallocatedEnd: end,
                                  bases: bases))
    }

    // MARK: Open

    /// Opens the log in `directory` (creating it if absent), replays every record from
    /// `startLSN` through `replay`, repairs a torn tail, and prepares for appends.
    public static func open(directory: String, fileSystem: any FileSystem, startLSN: UInt64,
                            options: WALOptions, replay: (WALRecord) throws -> Void) throws -> WriteAheadLog {
        if !fileSystem.fileExists(directory) {
            try fileSystem.createDirectory(directory)
            try fileSystem.syncDirectory(FilePath.parent(of: directory))
        }
        let recovery = WALRecovery(directory: directory, fileSystem: fileSystem)
        var found = try recovery.segments()
        if found.isEmpty {
            guard startLSN == 0 else {
                throw RedError(.dataCorrupted, "\(directory) holds no WAL segment, but the checkpoint needs the log from LSN \(startLSN)")
            }
            let file = try createSegment(base: 0, directory: directory, fileSystem: fileSystem)
            let wal = WriteAheadLog(directory: directory, fileSystem: fileSystem, options: options, current: file,
                                    currentBase: 0, end: 0, bases: [0])
            wal.startFlusher()
            return wal
        }
        let scan = try recovery.validate(found, from: startLSN)
        try recovery.repair(found, scan)
        found.removeAll { dropped in scan.discard.contains { $0.path == dropped.path } }
        try recovery.replay(found, from: startLSN, to: scan.end, replay)

        let file: any StorageFile
        let currentBase: UInt64
        var bases = found.map(\.base)
        if let index = scan.segmentIndex {
            file = try fileSystem.openFile(found[index].path, create: false)
            try file.sync()  // what recovery accepted is durable from now on
            currentBase = found[index].base
        } else {
            file = try createSegment(base: scan.end, directory: directory, fileSystem: fileSystem)
            currentBase = scan.end
            bases.append(scan.end)
        }
        let wal = WriteAheadLog(directory: directory, fileSystem: fileSystem, options: options, current: file,
                                currentBase: currentBase, end: scan.end, bases: bases)
        wal.startFlusher()
        return wal
    }

    private static func createSegment(base: UInt64, directory: String, fileSystem: any FileSystem) throws -> any StorageFile {
        let file = try fileSystem.openFile(FilePath.join(directory, WALFormat.segmentName(base: base)), create: true)
        try file.truncate(to: 0)
        try file.write(WALFormat.segmentHeader(base: base), at: 0)
        try file.sync()
        try fileSystem.syncDirectory(directory)
        return file
    }

    // MARK: Positions

    public var appendedLSN: UInt64 { state.withLock { $0.appendedLSN } }
    public var durableLSN: UInt64 { state.withLock { $0.durableLSN } }
    public var failure: RedError? { state.withLock { $0.failure } }

    /// WAL bytes appended since `lsn`.
    public func bytes(since lsn: UInt64) -> UInt64 {
        let end = appendedLSN
        return end > lsn ? end - lsn : 0
    }

    // MARK: Append

    /// Buffers one record; returns its end LSN (what `waitForCommit` takes). No I/O.
    public func append(kind: UInt8, payload: [UInt8]) throws -> UInt64 {
        guard payload.count <= Limits.maxTransactionBytes else {
            throw RedError(.limitExceeded, "WAL record of \(payload.count) bytes exceeds \(Limits.maxTransactionBytes)")
        }
        let payloadCRC = CRC32.checksum(payload)
        let length = WALFormat.recordHeaderBytes + payload.count
        let padding = WALFormat.padded(length) - length
        return try state.withLock { s in
            if let failure = s.failure { throw failure }
            if s.closed { throw RedError(.closed, "the WAL in \(directory) is closed") }
            let at = s.buffer.count
            s.buffer.append(contentsOf: repeatElement(0, count: WALFormat.recordHeaderBytes))
            WALFormat.writeRecordHeader(into: &s.buffer, at: at, length: length, lsn: s.appendedLSN,
                                        syncedLSN: s.durableLSN, kind: kind, payloadCRC: payloadCRC)
            s.buffer.append(contentsOf: payload)
            if padding > 0 { s.buffer.append(contentsOf: repeatElement(0, count: padding)) }
            s.appendedLSN += UInt64(length + padding)
            s.bufferRecords += 1
            return s.appendedLSN
        }
    }

    // MARK: Durability

    /// Waits until the record ending at `lsn` may be acknowledged under the sync mode.
    public func waitForCommit(_ lsn: UInt64) async throws {
        switch options.syncMode {
        case .full: try await sync(upTo: lsn)
        case .batched, .off: if let failure { throw failure }
        }
    }

    /// Waits until every byte below `lsn` is written and fsynced, leading a sync if no one is.
    public func sync(upTo lsn: UInt64) async throws {
        if await spinUntilCovered(lsn) { return }
        while true {
            let outcome: WaitOutcome = try await withCheckedThrowingContinuation { continuation in
                let immediate: Result<WaitOutcome, Error>? = state.withLock { s in
                    if s.durableLSN >= lsn { return .success(.covered) }
                    if let failure = s.failure { return .failure(failure) }
                    if !s.leaderActive {
                        s.leaderActive = true
                        leaderPublished.store(true, ordering: .releasing)
                        return .success(.lead)
                    }
                    s.waiters.append(Waiter(lsn: lsn, continuation: continuation))
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
            switch outcome {
            case .covered:
                // Any order will do (all are durable); popLast keeps each step O(1) with many committers.
                if let next = state.withLock({ $0.wakeChain.popLast() }) { next.resume(returning: .covered) }
                return
            case .lead:
                if options.committersShareOneThread {
                    // The fsync below holds the only thread: no one else could append before it ends,
                    // so every round would carry one commit, and a committer leading again at once
                    // would keep the thread from the rest. One yield runs every runnable committer
                    // (`lead` resumed all it covered) until it appends and waits here.
                    await Task.yield()
                } else {
                    await gatherConcurrentCommits()
                }
                try lead(fsync: true)
            }
        }
    }

    /// Waits for a round already under way to cover `lsn` by polling, instead of suspending;
    /// true once it does, false when the caller must wait as usual (lead, or suspend).
    ///
    /// A suspended committer costs a wake-up when its round ends, and when the pool's other
    /// threads sat idle through the fsync, that wake-up crosses cores: on a small VM the
    /// leader paid 15–25 µs per round before it could return (an inter-processor interrupt
    /// per idle thread woken), and each woken committer as much again before it appended its
    /// next commit, all while the disk stood idle. A committer that keeps polling keeps its
    /// thread awake instead: it yields between polls (`Task.yield`), so any other work on
    /// the pool goes first, and it reads the durable LSN and the leader flag without a lock.
    ///
    /// It polls only while a leader is at work, only when the last fsync was short
    /// (`maxSpinFsync`, InnoDB's threshold for the same trade in its redo log: on a slow disk
    /// one wake-up is noise, and the polling would run for milliseconds), and for at most
    /// twice the last fsync; then it waits as before. On one thread
    /// (`committersShareOneThread`) it never polls: the fsync holds that thread.
    ///
    /// `red bench storage --commits-only --writers 1 8`, four alternated runs each: 8 writers
    /// 43,000 / 45,700 / 44,000 / 29,600 commits/s against 38,900 / 38,300 / 39,100 / 31,900
    /// without it; the leader's work after its fsync fell from 16–23 µs to 1–4 µs per round.
    private func spinUntilCovered(_ lsn: UInt64) async -> Bool {
        guard options.pollForRound, !options.committersShareOneThread else { return false }
        if publishedDurableLSN.load(ordering: .acquiring) >= lsn { return true }
        guard leaderPublished.load(ordering: .acquiring) else { return false }
        let lastSync = state.withLock { $0.lastSyncDuration }
        guard lastSync > .zero, lastSync <= Self.maxSpinFsync else { return false }
        let deadline = ContinuousClock.now + lastSync * 2
        var polls = 0
        while true {
            await Task.yield()
            if publishedDurableLSN.load(ordering: .acquiring) >= lsn { return true }
            if !leaderPublished.load(ordering: .acquiring) { return false }  // lead, or see the failure
            polls += 1
            if polls % 16 == 0, ContinuousClock.now >= deadline { return false }
        }
    }

    /// The longest last fsync for which a committer polls for its round rather than suspending.
    static let maxSpinFsync = Duration.microseconds(400)

    /// One leader round: write the buffer, optionally fsync, publish, wake the covered waiters.
    /// The caller holds leadership; it is released or handed on before this returns.
    func lead(fsync: Bool) throws {
        let (bytes, start, end) = state.withLock { s -> ([UInt8], UInt64, UInt64) in
            if fsync {
                s.lastRoundRecords = s.bufferRecords + s.writtenRecords
                s.writtenRecords = 0
            } else {
                s.writtenRecords += s.bufferRecords
            }
            s.bufferRecords = 0
            let taken = s.buffer
            s.buffer = []
            s.buffer.reserveCapacity(min(taken.count, 1 << 20))  // steady commits reuse it; one large record need not
            let start = s.bufferStartLSN
            s.bufferStartLSN = s.appendedLSN
            return (taken, start, s.appendedLSN)
        }
        var outcome: Result<Void, RedError> = .success(())
        do {
            try segments.withLock { seg in
                if !bytes.isEmpty { try write(bytes, at: start, into: &seg) }
                if fsync {
                    let started = ContinuousClock.now
                    try seg.current.sync()
                    let took = ContinuousClock.now - started
                    state.withLock {
                        $0.lastSyncDuration = took
                        $0.statistics.fsyncNanoseconds += UInt64(took.wholeNanoseconds)
                    }
                }
            }
        } catch {
            let cause = (error as? RedError)?.message ?? "\(error)"
            outcome = .failure(RedError(.storageFailed,
                "WAL \(fsync ? "write or fsync" : "write") failed in \(directory): \(cause); the database accepts no more writes"))
        }
        var covered: [CheckedContinuation<WaitOutcome, Error>] = []  // resumed here; the rest go to `wakeChain`
        var failed: [CheckedContinuation<WaitOutcome, Error>] = []
        var nextLeader: CheckedContinuation<WaitOutcome, Error>?
        state.withLock { s in
            switch outcome {
            case .success:
                s.writtenLSN = max(s.writtenLSN, end)
                if fsync {
                    s.durableLSN = max(s.durableLSN, end)
                    publishedDurableLSN.store(s.durableLSN, ordering: .releasing)
                    s.concurrentCommitters = s.lastRoundRecords + s.bufferRecords
                    s.statistics.fsyncs += 1
                    s.statistics.recordsSynced += UInt64(s.lastRoundRecords)
                }
                var remaining: [Waiter] = []
                for w in s.waiters {
                    if w.lsn > s.durableLSN {
                        remaining.append(w)
                    } else if covered.isEmpty || options.committersShareOneThread {
                        covered.append(w.continuation)  // one thread: no thread to wake, and `sync` wants all runnable
                    } else {
                        s.wakeChain.append(w.continuation)
                    }
                }
                if !remaining.isEmpty {
                    nextLeader = remaining.removeFirst().continuation  // leadership passes on
                } else {
                    s.leaderActive = false
                    leaderPublished.store(false, ordering: .releasing)
                }
                s.waiters = remaining
            case .failure(let error):
                if s.failure == nil { s.failure = error }
                failed = s.waiters.map(\.continuation)
                s.waiters = []
                s.leaderActive = false
                leaderPublished.store(false, ordering: .releasing)
            }
        }
        nextLeader?.resume(returning: .lead)
        for c in covered { c.resume(returning: .covered) }
        let failure = state.withLock { $0.failure }
        for c in failed { c.resume(throwing: failure!) }
        if case .failure = outcome { throw failure! }
    }

    /// Without this, N steady committers fall into a convoy: the committers one fsync
    /// woke come back during the next fsync, so rounds alternate between two halves and
    /// an fsync covers about N/2 commits. A round carrying all N instead costs an fsync
    /// plus the time W the woken ones need to append again, so it pays when W < fsync
    /// (N per fsync + W against N/2 per fsync). The leader predicts W from how fast
    /// committers arrived in earlier gathers (`arrivalInterval`) and the number the
    /// previous round saw (covered, plus appended while it ran):
    /// - W within half an fsync: it waits for all of them, at most that long;
    /// - else (many committers on few cores): it waits for half the previous round's count,
    ///   at most one fsync, and the rest append during this round's fsync and lead off the next.
    /// Both waits are capped by `maxGatherMicroseconds`. A lone committer never waits. The
    /// wait yields its thread (`Task.yield`) so the very committers it waits for can run on it.
    ///
    /// `red bench storage --commits-only`, three alternated runs against the half rule alone:
    /// 8 writers 46,000–54,000 commits/s against 44,000–46,000 (7.7 commits per fsync against
    /// 4.5), 32 writers 133,000–161,000 against 145,000–156,000.
    private func gatherConcurrentCommits() async {
        let (committers, lastRound, lastSync, interval, first) = state.withLock { s in
            (s.concurrentCommitters, s.lastRoundRecords, s.lastSyncDuration, s.arrivalInterval, s.bufferRecords)
        }
        guard committers > 1, lastSync > .zero else { return }
        let cap = Duration.microseconds(Self.maxGatherMicroseconds)
        var target = committers
        var budget = min(lastSync / 2, cap)
        if interval * (committers - first) > budget {
            // Too many to wait for: gather half the previous round and let the rest form the next.
            target = max(2, lastRound / 2)
            budget = min(lastSync, cap)
        }
        let started = ContinuousClock.now
        let deadline = started + budget
        var buffered = first
        defer {
            let waited = ContinuousClock.now - started
            state.withLock { s in
                s.statistics.gatherNanoseconds += UInt64(waited.wholeNanoseconds)
                if buffered > first {
                    let observed = waited / (buffered - first)
                    s.arrivalInterval = s.arrivalInterval == .zero ? observed : (s.arrivalInterval * 3 + observed) / 4
                }
            }
        }
        while ContinuousClock.now < deadline {
            buffered = state.withLock { $0.bufferRecords }
            if buffered >= target { return }  // see above
            await Task.yield()
        }
    }

    /// Writes buffered records starting at `start`, beginning a new segment first if the current one is full.
    private func write(_ bytes: [UInt8], at start: UInt64, into seg: inout Segments) throws {
        precondition(start == seg.writtenEnd, "WAL bytes out of order: \(start) after \(seg.writtenEnd)")
        if seg.writtenEnd > seg.currentBase && seg.writtenEnd - seg.currentBase >= options.segmentBytes {
            // The old segment ends exactly at its last record (its zero-filled slack is cut off) and is
            // durable before the next one exists: only the last segment can ever end in zeros.
            try seg.current.truncate(to: UInt64(WALFormat.segmentHeaderBytes) + (seg.writtenEnd - seg.currentBase))
            try seg.current.sync()
            let next = try Self.createSegment(base: seg.writtenEnd, directory: directory, fileSystem: fileSystem)
            try? seg.current.close()
            seg.current = next
            seg.currentBase = seg.writtenEnd
            seg.preallocatedEnd = seg.writtenEnd
            seg.bases.append(seg.writtenEnd)
        }
        let end = start + UInt64(bytes.count)
        try seg.current.write(bytes, at: UInt64(WALFormat.segmentHeaderBytes) + (start - seg.currentBase))
        if end > seg.preallocatedEnd && options.preallocateBytes > 0 {
            // Zero-fill the next chunk now; the fsync that follows makes its blocks and the file size
            // durable once, and later fsyncs in it flush data pages only. Recovery reads zeros as the end.
            let chunk = min(options.preallocateBytes, max(options.segmentBytes, 4096))
            let target = (end - seg.currentBase + chunk) / chunk * chunk + seg.currentBase
            let zeros = [UInt8](repeating: 0, count: Int(target - end))
            try seg.current.write(zeros, at: UInt64(WALFormat.segmentHeaderBytes) + (end - seg.currentBase))
            seg.preallocatedEnd = target
        }
        seg.writtenEnd = end
    }

    /// Writes what is buffered to the file now, without an fsync, unless a leader is already
    /// at work: a large record then reaches the kernel while its committer is still busy
    /// (applying it to the tree), and the leader that syncs it later only has to fsync.
    public func writeBuffered() {
        leadIfIdle(fsync: false)
    }

    /// Leads one round (writing, and with `fsync` syncing, what is pending) unless a leader
    /// is at work or nothing is pending. A failure is recorded in `failure` for every waiter.
    private func leadIfIdle(fsync: Bool) {
        let shouldLead = state.withLock { s -> Bool in
            guard !s.leaderActive, s.failure == nil, s.appendedLSN > (fsync ? s.durableLSN : s.writtenLSN) else { return false }
            s.leaderActive = true
            leaderPublished.store(true, ordering: .releasing)
            return true
        }
        if shouldLead { try? lead(fsync: fsync) }
    }

    // MARK: Background flushing (batched / off)

    private func startFlusher() {
        guard options.syncMode != .full else { return }
        let delay = max(1, options.batchedSyncDelayMilliseconds)
        let task = Task.detached { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(delay))
                guard let self else { return }
                self.flushInBackground()
            }
        }
        flusher.withLock { $0 = task }
    }

    /// Takes leadership if no one holds it and there is something to write.
    private func flushInBackground() {
        leadIfIdle(fsync: options.syncMode == .batched)
    }

    // MARK: Maintenance

    /// Base LSNs of the segments on disk, oldest first (for `WALReader`).
    public var segmentBases: [UInt64] { segments.withLock { $0.bases } }

    /// How far the log can be read back for replication: its durable end, so that a replica
    /// never holds a commit its primary could still lose (in the relaxed sync modes that is
    /// as far as the last fsync, which `batched` makes every few milliseconds and `off` only
    /// at checkpoints).
    public var readableLSN: UInt64 { state.withLock { $0.durableLSN } }

    /// Deletes segments that lie entirely before `lsn` (never the current one).
    public func removeSegments(before lsn: UInt64) throws {
        try segments.withLock { seg in
            var removed = false
            while seg.bases.count > 1, seg.bases[1] <= lsn {
                try fileSystem.removeFile(FilePath.join(directory, WALFormat.segmentName(base: seg.bases[0])))
                seg.bases.removeFirst()
                removed = true
            }
            if removed { try fileSystem.syncDirectory(directory) }
        }
    }

    /// Makes everything appended durable and stops background work.
    public func close() async throws {
        let task = flusher.withLock { t -> Task<Void, Never>? in
            defer { t = nil }
            return t
        }
        task?.cancel()
        await task?.value
        if failure == nil { try await sync(upTo: appendedLSN) }
        state.withLock { $0.closed = true }
        try segments.withLock { try $0.current.close() }
    }
}
