import Foundation
import Testing
import RedDB
import RedStorage
import Synchronization

/// What suites running several sessions against one database share: a statement's rows or
/// SQLSTATE, and waiting until a session blocks on a lock.
protocol SessionTestSupport {}

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
    /// throws. A sync left held past the hold's limit (a commit expected to be declined that
    /// went to disk instead) is a failure, not a hang. A held sync blocks its thread; every
    /// step that may meet one runs on a thread of its own (`whileAWriteIsHeld`), never on
    /// Swift's pool, so tests holding syncs need not take turns.
    func withSyncsHeld<T>(_ fs: SimulatedFileSystem, _ body: () async throws -> T) async throws -> T {
        fs.holdSyncs()
        defer {
            fs.releaseSyncs()
            if fs.syncHoldExpired { Issue.record("a sync stayed held past \(SimulatedFileSystem.maxSyncHoldSeconds) s") }
        }
        return try await body()
    }

    /// With `fs`'s syncs held: `statement` (an autocommit write answered at once,
    /// `executeWithoutWaiting`) runs until its commit's fsync is held, then `whileHeld` runs,
    /// then the syncs are let go and the write finishes; `whileHeld`'s result is returned.
    ///
    /// Every step runs on threads of their own, outside Swift's pool: in full runs on two cores
    /// integration tests that wait for programs they start (psql, pgbench) can keep both pool
    /// threads blocked for minutes. A write run as a task then did not reach the hold in five
    /// minutes; one on its own thread did, but the test's task, polling for the hold, did not
    /// run again until the hold's limit (120 s) had let the write go.
    func whileAWriteIsHeld<T: Sendable>(_ fs: SimulatedFileSystem, _ session: Session, _ statement: String,
                                        _ whileHeld: @escaping @Sendable () throws -> T) async throws -> T {
        try await withSyncsHeld(fs) {
            try await onOwnThread {
                let write = OwnThreadWrite.start(session, statement)
                while fs.heldSyncs == 0 {
                    if let result = write.result {
                        _ = try result.get()
                        throw RedError(.internalError, "the write finished without its fsync being held")
                    }
                    usleep(200)
                }
                let outcome = Result { try whileHeld() }
                fs.releaseSyncs()
                while write.result == nil { usleep(200) }
                _ = try write.result!.get()
                return try outcome.get()
            }
        }
    }

    /// `body`'s result, computed on a thread of its own.
    func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
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

/// The outcome of a write `start` ran on a thread of its own, once that thread has finished.
final class OwnThreadWrite: Sendable {
    private let outcome = Mutex<Result<QueryResult, any Error>?>(nil)

    var result: Result<QueryResult, any Error>? { outcome.withLock { $0 } }

    func finish(_ result: Result<QueryResult, any Error>) { outcome.withLock { $0 = result } }

    /// Runs `statement` (an autocommit write, answered at once: `executeWithoutWaiting`) on a
    /// thread of its own (see `whileAWriteIsHeld`).
    static func start(_ session: Session, _ statement: String) -> OwnThreadWrite {
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
}
