import Foundation
import Logging
import RedCore
import RedDB
import RedEngine
@testable import RedReplication
import Synchronization
import Testing

/// The writer lease (spec ops §1.10) on both compare-and-swap backends: one winner in a race,
/// generations, expiry, refresh and release; and the keeper fencing the engine when the lease
/// is replaced (for good) or cannot be refreshed (until it can).
@Suite(.serialized) struct LeaseTests {
    @Test func aWriteWhoseReplyWasLostStillHoldsTheLease() async throws {
        let directory = try BackupTests.Directory()
        let backend = MisbehavingBackend(FileSystemBackend(root: directory.path))
        backend.loseConditionalReplies.withLock { $0 = true }
        let store = LeaseStore(backend: backend, databaseKey: "db")
        let lease = try await store.acquire(holder: "a", ttlMilliseconds: 60_000)
        let renewed = try await store.refresh(lease, ttlMilliseconds: 60_000)
        let stored = try await store.current()
        #expect(renewed.isSameAcquisition(as: lease) && stored == renewed)
        await #expect(throws: RedError.self) { _ = try await store.acquire(holder: "b", ttlMilliseconds: 60_000) }
    }

    static func race(_ backend: any ConditionalBackend) async throws {
        let store = LeaseStore(backend: backend, databaseKey: "clusters/dev/data.rdb")
        #expect(store.key == "leases/clusters/dev/data.rdb.lease.json")
        let outcomes = try await withThrowingTaskGroup(of: (String, WriterLease?).self) { group in
            for i in 0..<8 {
                group.addTask {
                    do { return ("node-\(i)", try await store.acquire(holder: "node-\(i)", ttlMilliseconds: 60_000)) } catch is RedError { return ("node-\(i)", nil) }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let winners = outcomes.compactMap(\.1)
        #expect(winners.count == 1, "exactly one winner: \(outcomes.map { "\($0.0)=\($0.1 != nil)" })")
        let winner = try #require(winners.first)
        #expect(try await store.current() == winner && winner.generation == 1)
        // The winner refreshes; a loser is told who holds it.
        let refreshed = try await store.refresh(winner, ttlMilliseconds: 60_000)
        #expect(refreshed.generation == 1 && refreshed.expiresAtMilliseconds >= winner.expiresAtMilliseconds)
        let loser = outcomes.first { $0.1 == nil }!.0
        await #expect { _ = try await store.acquire(holder: loser, ttlMilliseconds: 60_000) } throws: { error in
            (error as? RedError)?.message.contains(winner.holderID) == true
        }
        // The holder may take it again (a restart): a new generation.
        let again = try await store.acquire(holder: winner.holderID, ttlMilliseconds: 60_000)
        #expect(again.generation == 2)
        await #expect(throws: RedError.self) { _ = try await store.refresh(winner, ttlMilliseconds: 60_000) }
        try await store.release(again)
        let released = try #require(try await store.current())
        #expect(released.expiresAtMilliseconds == 0 && released.generation == 2, "released: expired, its generation kept")
        let next = try await store.acquire(holder: loser, ttlMilliseconds: 60_000)
        #expect(next.generation == 3, "generations never go back")
    }

    @Test func exactlyOneWinsARaceOnADirectory() async throws {
        let directory = try BackupTests.Directory()
        try await Self.race(FileSystemBackend(root: directory.path + "/backend"))
    }

    @Test func exactlyOneWinsARaceOnS3() async throws {
        let s3 = FakeS3()
        try await s3.start()
        defer { s3.stop() }
        let settings = try #require(try BackupSettings.fromEnvironment(s3.environment))
        try await Self.race(try #require(settings.backend as? S3Backend))
    }

    @Test func aHungRefreshFencesWithinAThirdOfTheTTL() async throws {
        let directory = try BackupTests.Directory()
        let backend = MisbehavingBackend(FileSystemBackend(root: directory.path + "/backend"))
        let database = try await Database.open(path: directory.path + "/data.rdb", options: ReplicationTests.options())
        var settings = LeaseKeeper.Settings(holderID: "p")
        // Long enough that a loaded machine cannot reach the lease's last third before the
        // refresh starts (that fences too, for the other reason, "about to expire").
        settings.ttlMilliseconds = 9_000
        let keeper = try await LeaseKeeper(store: LeaseStore(backend: backend, databaseKey: "db"), settings: settings,
                                           engine: database.engine, logger: Logger(label: "lease-test"))
        backend.stall()
        let refresh = Task { await keeper.refreshOnce() }
        // Fenced by the refresh's own timer (TTL/3) while the refresh is still stuck in the store:
        // the stall lasts until the test lifts it, so only that timer can have fenced.
        var polls = 0
        while database.engine.writeFenceReason == nil, polls < 3_000 {
            try await Task.sleep(for: .milliseconds(20))
            polls += 1
        }
        let fenced = database.engine.writeFenceReason != nil
        let reason = database.engine.writeFenceReason?.message ?? "none"
        #expect(fenced && backend.stalledReads.load(ordering: .relaxed) == 1,
                "fenced while the refresh hangs (stalled reads \(backend.stalledReads.load(ordering: .relaxed)), fence: \(reason))")
        #expect(reason.contains("takes longer than 3000 ms"), "\(reason)")
        backend.unstall()
        await refresh.value
        await keeper.refreshOnce()
        #expect(keeper.current.state == .held && database.engine.writeFenceReason == nil, "a refresh that works lifts the fence")
        try await database.close()
    }

    @Test func anExpiredLeaseIsTakenOver() async throws {
        let directory = try BackupTests.Directory()
        let clock = Mutex(Int64(1_000_000))
        let store = LeaseStore(backend: FileSystemBackend(root: directory.path), databaseKey: "db", now: { clock.withLock { $0 } })
        let first = try await store.acquire(holder: "a", ttlMilliseconds: 5_000)
        await #expect(throws: RedError.self) { _ = try await store.acquire(holder: "b", ttlMilliseconds: 5_000) }
        clock.withLock { $0 += 5_001 }
        let second = try await store.acquire(holder: "b", ttlMilliseconds: 5_000)
        #expect(second.generation == first.generation + 1 && second.holderID == "b")
        try await store.release(first)  // no longer first's: a no-op
        #expect(try await store.current() == second)
    }

    @Test func theKeeperFencesWritesWhenTheLeaseIsLostOrUnreachable() async throws {
        let directory = try BackupTests.Directory()
        let backend = MisbehavingBackend(FileSystemBackend(root: directory.path + "/backend"))
        let database = try await Database.open(path: directory.path + "/data.rdb", options: ReplicationTests.options())
        let store = LeaseStore(backend: backend, databaseKey: "db")
        var settings = LeaseKeeper.Settings(holderID: "primary-1")
        settings.ttlMilliseconds = 60_000
        let keeper = try await LeaseKeeper(store: store, settings: settings, engine: database.engine, logger: Logger(label: "lease-test"))
        let session = database.session()
        _ = try await session.execute("CREATE TABLE t (id INT)")

        // The backend cannot be reached: writes stop at once, reads go on; they resume once the lease refreshes again.
        backend.unreachable.withLock { $0 = true }
        await keeper.refreshOnce()
        #expect(keeper.current.state == .notHeld)
        await #expect { _ = try await session.execute("INSERT INTO t VALUES (1)") } throws: { error in
            (error as? RedError)?.code == .readOnlyTransaction && (error as? RedError)?.message.contains("writer lease not held") == true
        }
        _ = try await session.execute("SELECT count(*) FROM t")
        backend.unreachable.withLock { $0 = false }
        await keeper.refreshOnce()
        #expect(keeper.current.state == .held)
        _ = try await session.execute("INSERT INTO t VALUES (2)")

        // Another server takes the lease (a promotion): fenced for good.
        let current = try #require(try await store.current())
        let stored = try #require(try await backend.getVersioned(store.key))
        var taken = current
        taken.holderID = "replica-2"
        taken.generation += 1
        #expect(try await backend.put(store.key, bytes: taken.json.utf8, ifVersion: stored.version))
        await keeper.refreshOnce()
        await keeper.refreshOnce()
        #expect(keeper.current.state == .notHeld)
        await #expect(throws: RedError.self) { _ = try await session.execute("INSERT INTO t VALUES (3)") }
        await keeper.release()
        #expect(try await store.current()?.holderID == "replica-2", "a fenced server does not release another's lease")
        try await database.close()
    }
}
