import Foundation
import Synchronization
import Testing
import RedCore
import RedDB

/// `pg_sleep`, `pg_sleep_for` (ended by the statement timeout like any statement) and
/// `setseed`, which makes a session's `random()` repeat.
@Suite struct SleepAndSeedTests: SessionTestSupport {
    @Test func sleepsReturnVoidAndTheTimeoutEndsThem() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        #expect(try await rows(s, "SELECT pg_sleep(0.01), pg_sleep(-1), pg_sleep(NULL), pg_sleep_for('5 milliseconds')") == [[.null, .null, .null, .null]])
        #expect(await code { _ = try await s.execute("SELECT pg_sleep('soon')") } == "42804")
        s.statementTimeoutMilliseconds = 50
        #expect(await code { _ = try await s.execute("SELECT pg_sleep(600)") } == "57014")
        #expect(await code { _ = try await s.execute("SELECT pg_sleep_for(interval '10 minutes')") } == "57014")
        s.statementTimeoutMilliseconds = 0
        #expect(try await rows(s, "SELECT 1") == [[.integer(1)]])
    }

    /// The statement reads its own deadline at its cancellation checkpoints, so the timeout
    /// stops it even when no thread of Swift's pool is free to run the session's timer task:
    /// here every other pool thread is kept busy (with that task alone, the sleep ran its 30 s).
    @Test func theTimeoutStopsAStatementWhenThePoolHasNoThreadForTheTimer() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        let blockers = PoolBlockers()
        let others = max(0, ProcessInfo.processInfo.activeProcessorCount - 1)
        for _ in 0..<others {
            Task.detached {
                blockers.busy.add(1, ordering: .relaxed)
                while !blockers.release.load(ordering: .relaxed) { usleep(200) }
            }
        }
        defer { blockers.release.store(true, ordering: .relaxed) }
        while blockers.busy.load(ordering: .relaxed) < others { try await Task.sleep(for: .milliseconds(1)) }
        s.statementTimeoutMilliseconds = 50
        #expect(await code { _ = try await s.execute("SELECT pg_sleep(30)") } == "57014")
    }

    @Test func aSeedMakesRandomRepeatInItsSession() async throws {
        let db = try await Database.inMemory()
        let a = db.session(), b = db.session()
        let draws = "SELECT random() FROM generate_series(1, 5)"
        try await a.execute("SELECT setseed(0.25)")
        let first = try await rows(a, draws)
        try await a.execute("SELECT setseed(0.25)")
        #expect(try await rows(a, draws) == first)
        #expect(Set(first.map { $0[0] }).count == 5, "a sequence, not one value")
        for row in first {
            guard case .float(let x) = row[0] else { Issue.record("random() gave \(row[0])"); continue }
            #expect(x >= 0 && x < 1)
        }
        try await a.execute("SELECT setseed(-0.25)")
        #expect(try await rows(a, draws) != first)
        #expect(try await rows(b, draws) != first, "another session's random() is its own")
        #expect(await code { _ = try await a.execute("SELECT setseed(1.5)") } == "22023")
    }
}

/// Tasks that keep pool threads busy until released.
final class PoolBlockers: Sendable {
    let release = Atomic<Bool>(false)
    let busy = Atomic<Int>(0)
}
