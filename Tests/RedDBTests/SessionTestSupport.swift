import Foundation
import Testing
import RedDB
import RedStorage

/// What suites running several sessions against one database share: a statement's rows or
/// SQLSTATE, and waiting until a session blocks on a lock.
protocol SessionTestSupport {}

/// Turns among tests that hold fsyncs back. A held sync blocks a thread of Swift's cooperative
/// pool (the WAL leader waits inside `SimulatedFileSystem.sync`), and a 2-core machine's pool
/// has two: two such tests at once blocked both, and neither test could go on to release its
/// sync (a CI run hung so).
actor HeldSyncTurns {
    static let shared = HeldSyncTurns()
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func begin() async {
        guard busy else { busy = true; return }
        await withCheckedContinuation { waiting.append($0) }
    }

    func end() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }  // the turn passes on
    }
}

extension SessionTestSupport {
    /// A database at /db/data.rdb on a simulated disk, in full sync mode and without background
    /// work, so that durability is what is tested (`fs.crash(seed:)` then reopens it).
    func durable(_ fs: SimulatedFileSystem) async throws -> Database {
        var options = DatabaseOptions()
        options.engine.backgroundWork = false
        options.engine.syncMode = .full
        return try await Database.open(path: "/db/data.rdb", options: options, fileSystem: fs)
    }

    /// Runs `body` with `fs`'s fsyncs held back (`holdSyncs`), released when it returns or
    /// throws, one such test at a time (`HeldSyncTurns`). A sync the body left held past the
    /// hold's limit (the test's own thread stuck in it) is a failure, not a hang.
    func withSyncsHeld<T>(_ fs: SimulatedFileSystem, _ body: () async throws -> T) async throws -> T {
        await HeldSyncTurns.shared.begin()
        fs.holdSyncs()
        defer { if fs.syncHoldExpired { Issue.record("a sync stayed held past \(SimulatedFileSystem.maxSyncHoldSeconds) s") } }
        do {
            let result = try await body()
            fs.releaseSyncs()
            await HeldSyncTurns.shared.end()
            return result
        } catch {
            fs.releaseSyncs()
            await HeldSyncTurns.shared.end()
            throw error
        }
    }

    /// Polls until a commit's fsync is being held back (`fs.holdSyncs()`). It throws after
    /// five minutes, rather than let the test go on to steps that rely on the hold: in a full
    /// run on two cores, long CPU-bound tests can keep the committing task from running for
    /// a minute (returning quietly then, as this once did, sent the test's own commit into
    /// the hold it was meant to be declined by, and hung the run).
    func waitUntilASyncIsHeld(_ fs: SimulatedFileSystem) async throws {
        let deadline = ContinuousClock.now + .seconds(300)
        while fs.heldSyncs == 0 {
            guard ContinuousClock.now < deadline else { throw RedError(.internalError, "no sync was held within five minutes") }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// The rows `sql` returns on `session`.
    func rows(_ session: Session, _ sql: String) async throws -> [[Value]] {
        try await session.execute(sql).rows
    }

    /// The SQLSTATE `body` fails with (nil: it succeeded; "?" for an error that is not a `RedError`).
    func code(_ body: () async throws -> Void) async -> String? {
        do { try await body(); return nil } catch let e as RedError { return e.sqlState } catch { return "?" }
    }

    /// Polls until `session` waits for a lock (advisory or row), so a test lets go only then.
    func waitUntilWaiting(_ db: Database, _ session: Session) async throws {
        for _ in 0..<2_000 {
            if db.locks.waitingProcessIDs().contains(session.processID) { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("the session never started waiting")
    }
}
