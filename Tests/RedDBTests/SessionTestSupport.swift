import Foundation
import Testing
import RedDB
import RedStorage
import Synchronization

/// What suites running several sessions against one database share: a statement's rows or
/// SQLSTATE, and waiting until a session blocks on a lock.
protocol SessionTestSupport {}

/// Turns among tests that hold fsyncs back. A held sync blocks its thread (the WAL leader waits
/// inside `SimulatedFileSystem.sync`); the writes meant to be held run on threads of their own
/// (`writeOnOwnThread`), but a test's commit that went to disk by mistake would block a thread
/// of Swift's cooperative pool, and a 2-core machine's pool has two: two such tests at once
/// blocked both, and neither could go on to release its sync (a CI run hung so).
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

    /// Runs `statement` (an autocommit write, answered at once: `executeWithoutWaiting`) on a
    /// thread of its own, so that its commit reaches a held fsync however busy Swift's pool is.
    /// A task did not always: in full runs on two cores it waited for a pool thread for minutes
    /// while other tests kept both busy, and the test gave up ("no sync was held within five
    /// minutes"). A thread outside the pool is scheduled by the kernel like any other.
    func writeOnOwnThread(_ session: Session, _ statement: String) -> OwnThreadWrite {
        let write = OwnThreadWrite()
        let thread = Thread {
            do {
                guard let answered = try session.executeWithoutWaiting(statement) else {
                    throw RedError(.internalError, "\(statement) was declined")
                }
                write.finish(.success(answered))
            } catch {
                write.finish(.failure(error))
            }
        }
        thread.start()
        return write
    }

    /// Polls until `write`'s fsync is being held back (`fs.holdSyncs()`); it throws if the
    /// write ended without reaching the hold (declined, failed, or not held), rather than let
    /// the test go on to steps that rely on the hold.
    func waitUntilASyncIsHeld(_ fs: SimulatedFileSystem, by write: OwnThreadWrite) async throws {
        while fs.heldSyncs == 0 {
            if let result = write.result {
                _ = try result.get()
                throw RedError(.internalError, "the write finished without its fsync being held")
            }
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

/// The outcome of `writeOnOwnThread`, once its thread has finished.
final class OwnThreadWrite: Sendable {
    private let outcome = Mutex<Result<QueryResult, any Error>?>(nil)

    var result: Result<QueryResult, any Error>? { outcome.withLock { $0 } }

    func finish(_ result: Result<QueryResult, any Error>) { outcome.withLock { $0 = result } }

    /// Waits for the thread to finish (it is blocked in a held fsync until the test releases it).
    func value() async throws -> QueryResult {
        while true {
            if let result { return try result.get() }
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}
