import Dispatch
import RedCore
import Synchronization
import Testing
@testable import RedStorage

@Suite struct WALTests {
    let dir = "/wal"

    func open(_ fs: SimulatedFileSystem, from start: UInt64 = 0, mode: SyncMode = .full, segmentBytes: UInt64 = 64 << 20,
              replayed: inout [WALRecord]) throws -> WriteAheadLog {
        var options = WALOptions()
        options.syncMode = mode
        options.segmentBytes = segmentBytes
        var seen: [WALRecord] = []
        let wal = try WriteAheadLog.open(directory: dir, fileSystem: fs, startLSN: start, options: options) { seen.append($0) }
        replayed = seen
        return wal
    }

    func payload(_ i: Int) -> [UInt8] {
        let size = i % 17 == 0 ? 200_000 : i % 5 == 0 ? 0 : 1 + i % 300
        return (0..<size).map { UInt8(truncatingIfNeeded: $0 &+ i) }
    }

    @Test func recordsRoundTripAcrossReopenAndSegmentRollover() async throws {
        let fs = SimulatedFileSystem()
        var replayed: [WALRecord] = []
        let wal = try open(fs, segmentBytes: 4096, replayed: &replayed)
        var ends: [UInt64] = []
        for i in 0..<60 {
            let end = try wal.append(kind: UInt8(i % 3), payload: payload(i))
            try await wal.waitForCommit(end)
            #expect(wal.durableLSN >= end)
            ends.append(end)
        }
        try await wal.close()
        let names = try fs.listDirectory(dir).sorted()
        #expect(names.count >= 4)
        // Finished segments end exactly at the next one's base; only the last may carry zero-filled slack.
        let bases = names.compactMap { WALFormat.base(ofSegmentNamed: $0) }
        for (name, (base, next)) in zip(names, zip(bases, bases.dropFirst())) {
            #expect(fs.contents(FilePath.join(dir, name))!.count == WALFormat.segmentHeaderBytes + Int(next - base))
        }
        _ = try open(fs, segmentBytes: 4096, replayed: &replayed)
        #expect(replayed.map(\.payload) == (0..<60).map(payload))
        #expect(replayed.map(\.endLSN) == ends)
        #expect(replayed.map(\.kind) == (0..<60).map { UInt8($0 % 3) })
        #expect(zip(replayed.dropFirst(), replayed).allSatisfy { $0.lsn == $1.endLSN })
        // Starting mid-log replays only the suffix, and LSNs keep growing after reopen.
        let again = try open(fs, from: ends[29], segmentBytes: 4096, replayed: &replayed)
        #expect(replayed.count == 30)
        #expect(try again.append(kind: 1, payload: [1]) > ends.last!)
    }

    @Test func oneLeaderSyncsForEveryoneAppendedSoFar() async throws {
        let fs = SimulatedFileSystem()
        var replayed: [WALRecord] = []
        let wal = try open(fs, replayed: &replayed)
        let ends = try (0..<32).map { i in try wal.append(kind: 1, payload: [UInt8](repeating: UInt8(i), count: 50)) }
        let before = fs.syncCount
        try await withThrowingTaskGroup(of: Void.self) { group in
            for end in ends {
                group.addTask {
                    try await wal.waitForCommit(end)
                    #expect(wal.durableLSN >= end)
                }
            }
            try await group.waitForAll()
        }
        // The first waiter leads, takes all 32 records and syncs once; the rest piggyback.
        #expect(fs.syncCount - before == 1)
        #expect(wal.statistics.recordsSynced == 32)
        #expect(wal.durableLSN == wal.appendedLSN)
    }

    /// Gathering waits only for committers a previous round saw: one committing alone (each
    /// round covers just its own record) never waits, however slow the fsync.
    @Test func aLoneCommitterNeverWaitsToGather() async throws {
        let fs = SimulatedFileSystem()
        fs.setSyncLatency(microseconds: 300)
        var replayed: [WALRecord] = []
        let wal = try open(fs, replayed: &replayed)
        for i in 0..<30 {
            try await wal.waitForCommit(try wal.append(kind: 1, payload: [UInt8(i)]))
        }
        #expect(wal.statistics.fsyncs == 30)
        #expect(wal.statistics.gatherNanoseconds == 0)
    }

    /// Many committers in a loop: rounds overlap, each round's covered waiters are woken through
    /// the wake chain (one resumes the next), and every commit returns, durable. The committers
    /// run as tasks of their own so that a lost wake-up fails the test instead of hanging it.
    /// (How many commits share an fsync depends on scheduling; `oneLeaderSyncsForEveryone…`
    /// checks sharing where it is deterministic.)
    /// With `polling`, the fsync takes 100 µs so that committers poll for their rounds (the
    /// path a fast disk takes) alongside suspended ones; without it every one suspends.
    @Test(arguments: [false, true]) func everyCoveredCommitterIsWokenAcrossOverlappingRounds(polling: Bool) async throws {
        let fs = SimulatedFileSystem()
        if polling { fs.setSyncLatency(microseconds: 100) }
        var options = WALOptions()
        options.pollForRound = polling
        let wal = try WriteAheadLog.open(directory: dir, fileSystem: fs, startLSN: 0, options: options) { _ in }
        let writers = 16, commits = 20
        let acknowledged = AcknowledgedCount()
        for writer in 0..<writers {
            Task {
                for i in 0..<commits {
                    let end = try wal.append(kind: 1, payload: [UInt8(writer), UInt8(i)])
                    try await wal.waitForCommit(end)
                    #expect(wal.durableLSN >= end)
                    acknowledged.add()
                }
            }
        }
        for _ in 0..<12_000 where acknowledged.value < writers * commits {  // up to two minutes (CI runs suites in parallel)
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(acknowledged.value == writers * commits)
        #expect(wal.statistics.recordsSynced == UInt64(writers * commits))
    }

    /// On one thread (Swift's pool in a process pinned to one CPU) the leader's fsync holds the
    /// thread every other committer needs. A leader that synced at once carried one commit per
    /// round and, leading again straight away, kept the thread from the rest: 8 writers ran at the
    /// rate of one. Every round must carry every committer's record.
    @Test func committersSharingOneThreadShareEachFsync() async throws {
        let fs = SimulatedFileSystem()
        fs.setSyncLatency(microseconds: 200)
        var options = WALOptions()
        options.committersShareOneThread = true  // with false here, this test sees 1.0 records per fsync
        let wal = try WriteAheadLog.open(directory: dir, fileSystem: fs, startLSN: 0, options: options) { _ in }
        let writers = 8, commits = 20
        try await withTaskExecutorPreference(SerialQueueExecutor()) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        for i in 0..<commits {
                            try await wal.waitForCommit(try wal.append(kind: 1, payload: [UInt8(writer), UInt8(i)]))
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let statistics = wal.statistics
        #expect(statistics.recordsSynced == UInt64(writers * commits))
        let perFsync = Double(statistics.recordsSynced) / Double(statistics.fsyncs)
        #expect(perFsync >= 6, "records per fsync on one thread: \(perFsync)")
    }

    @Test func rolloverInterruptedBeforeTheNewHeaderIsDurableRecovers() async throws {
        for seed in 0..<40 as Range<UInt64> {
            let fs = SimulatedFileSystem()
            var replayed: [WALRecord] = []
            let wal = try open(fs, segmentBytes: 256, replayed: &replayed)
            var end: UInt64 = 0
            for i in 0..<4 { end = try wal.append(kind: 1, payload: [UInt8](repeating: UInt8(i), count: 100)); try await wal.waitForCommit(end) }
            // The next write rolls over; stop the disk somewhere inside creating the new segment.
            fs.failAfter(operations: Int(seed % 6))
            _ = try? wal.append(kind: 1, payload: [9])
            try? await wal.sync(upTo: wal.appendedLSN)
            let reopened = try open(fs.crash(seed: seed), from: end, segmentBytes: 256, replayed: &replayed)
            #expect(reopened.appendedLSN >= end, "seed \(seed)")
        }
    }

    @Test func aFailedFsyncIsFatal() async throws {
        let fs = SimulatedFileSystem()
        var replayed: [WALRecord] = []
        let wal = try open(fs, replayed: &replayed)
        let durable = wal.durableLSN
        fs.setFailSyncs(true)
        let end = try wal.append(kind: 1, payload: [1, 2, 3])
        let error = await #expect(throws: RedError.self) { try await wal.waitForCommit(end) }
        #expect(error?.code == .storageFailed)
        #expect(wal.durableLSN == durable)
        fs.setFailSyncs(false)
        #expect(throws: RedError.self) { _ = try wal.append(kind: 1, payload: [4]) }
        await #expect(throws: RedError.self) { try await wal.sync(upTo: end) }
    }

    /// Committers polling for a round whose fsync fails see the failure: the leader flag
    /// they poll drops, and the locked path reports `storageFailed`. None waits forever.
    @Test func pollingCommittersSeeAFailedFsync() async throws {
        let fs = SimulatedFileSystem()
        fs.setSyncLatency(microseconds: 300)
        var replayed: [WALRecord] = []
        let wal = try open(fs, replayed: &replayed)
        for i in 0..<3 { try await wal.waitForCommit(try wal.append(kind: 1, payload: [UInt8(i)])) }  // a last fsync time to poll by
        fs.setFailSyncs(true)
        let failures = AcknowledgedCount()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    do {
                        try await wal.waitForCommit(try wal.append(kind: 1, payload: [UInt8(writer)]))
                    } catch let error as RedError {
                        #expect(error.code == .storageFailed)
                        failures.add()
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(failures.value == 8)
    }

    @Test func tornTailsAreTruncatedAndAcknowledgedRecordsKept() async throws {
        for seed in 0..<200 as Range<UInt64> {
            let fs = SimulatedFileSystem()
            var replayed: [WALRecord] = []
            let wal = try open(fs, segmentBytes: 2048, replayed: &replayed)
            var acknowledged = 0
            for i in 0..<10 {
                let end = try wal.append(kind: 1, payload: payload(i + 1))
                try await wal.waitForCommit(end)
                acknowledged += 1
            }
            // Unacknowledged appends, written but not synced (as a crashing leader might leave them).
            for i in 10..<(10 + Int(seed % 6)) { _ = try wal.append(kind: 1, payload: payload(i + 1)) }
            if seed % 2 == 0 { try await wal.sync(upTo: wal.appendedLSN) }
            fs.setFailSyncs(true)
            _ = try wal.append(kind: 1, payload: payload(99))
            try? await wal.sync(upTo: wal.appendedLSN)  // writes, then fails the fsync: the tail is unsynced
            let survivor = fs.crash(seed: seed)
            let reopened = try open(survivor, segmentBytes: 2048, replayed: &replayed)
            #expect(replayed.count >= acknowledged, "seed \(seed)")
            for (i, record) in replayed.enumerated() where i < 10 { #expect(record.payload == payload(i + 1)) }
            // Appends after recovery land right behind the valid log and survive another reopen.
            let end = try reopened.append(kind: 7, payload: [42])
            try await reopened.waitForCommit(end)
            try await reopened.close()
            _ = try open(survivor, segmentBytes: 2048, replayed: &replayed)
            #expect(replayed.last?.payload == [42], "seed \(seed)")
        }
    }

    @Test func damageBeforeDurableRecordsRefusesToOpenAndChangesNothing() async throws {
        let fs = SimulatedFileSystem()
        var replayed: [WALRecord] = []
        let wal = try open(fs, replayed: &replayed)
        for i in 0..<20 { try await wal.waitForCommit(try wal.append(kind: 1, payload: payload(i + 1))) }
        let segment = FilePath.join(dir, try fs.listDirectory(dir)[0])
        fs.corruptByte(segment, at: 32 + 40)
        let before = fs.contents(segment)
        let error = #expect(throws: RedError.self) { _ = try open(fs, replayed: &replayed) }
        #expect(error?.code == .dataCorrupted)
        #expect(error?.message.contains("refusing to open") == true)
        #expect(fs.contents(segment) == before)
    }

    @Test func removeSegmentsDeletesOnlyFullyCoveredOnes() async throws {
        let fs = SimulatedFileSystem()
        var replayed: [WALRecord] = []
        let wal = try open(fs, segmentBytes: 1024, replayed: &replayed)
        var ends: [UInt64] = []
        for i in 0..<40 { ends.append(try wal.append(kind: 1, payload: [UInt8](repeating: UInt8(i), count: 200))); try await wal.waitForCommit(ends.last!) }
        let segments = try fs.listDirectory(dir).count
        try wal.removeSegments(before: ends[20])
        let left = try fs.listDirectory(dir).count
        #expect(left < segments && left > 1)
        _ = try open(fs, from: ends[20], segmentBytes: 1024, replayed: &replayed)
        #expect(replayed.count == 19)
    }

    @Test func relaxedModesAcknowledgeAtOnceAndCatchUp() async throws {
        let fs = SimulatedFileSystem()
        var replayed: [WALRecord] = []
        var options = WALOptions()
        options.syncMode = .batched
        options.batchedSyncDelayMilliseconds = 5
        let wal = try WriteAheadLog.open(directory: dir, fileSystem: fs, startLSN: 0, options: options) { replayed.append($0) }
        let end = try wal.append(kind: 1, payload: [1])
        try await wal.waitForCommit(end)
        for _ in 0..<200 where wal.durableLSN < end { try await Task.sleep(for: .milliseconds(5)) }
        #expect(wal.durableLSN >= end)
        try await wal.close()
    }

    @Test func garbageSegmentsNeverCrashOpen() throws {
        var rng = SplitMix64(seed: 3)
        for _ in 0..<300 {
            let fs = SimulatedFileSystem()
            try fs.createDirectory(dir)
            let file = try fs.openFile(FilePath.join(dir, WALFormat.segmentName(base: 0)), create: true)
            var bytes = rng.next() % 2 == 0 ? WALFormat.segmentHeader(base: 0) : []
            bytes += (0..<Int(rng.next() % 400)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if rng.next() % 3 == 0 && bytes.count > 44 { bytes[36] = 0xFF; bytes[37] = 0xFF; bytes[38] = 0xFF; bytes[39] = 0x7F }
            try file.write(bytes, at: 0)
            var replayed: [WALRecord] = []
            _ = try? open(fs, replayed: &replayed)
        }
    }
}

@Suite struct WALHostileInputTests {
    @Test func absurdSegmentBasesAndStartLSNsAreErrorsNotTraps() throws {
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/wal")
        let base: UInt64 = .max - 7
        let file = try fs.openFile(FilePath.join("/wal", WALFormat.segmentName(base: base)), create: true)
        try file.write(WALFormat.segmentHeader(base: base) + [UInt8](repeating: 0xAB, count: 64), at: 0)
        let error = #expect(throws: RedError.self) {
            _ = try WriteAheadLog.open(directory: "/wal", fileSystem: fs, startLSN: 0, options: WALOptions()) { _ in }
        }
        #expect(error?.code == .dataCorrupted)
        let empty = SimulatedFileSystem()
        _ = try WriteAheadLog.open(directory: "/w", fileSystem: empty, startLSN: 0, options: WALOptions()) { _ in }
        #expect(throws: RedError.self) {
            _ = try WriteAheadLog.open(directory: "/w", fileSystem: empty, startLSN: .max, options: WALOptions()) { _ in }
        }
    }
}

/// Runs every job on one serial queue: a cooperative pool one thread wide.
private final class SerialQueueExecutor: TaskExecutor, Sendable {
    private let queue = DispatchQueue(label: "one-thread-pool")

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

private final class AcknowledgedCount: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
