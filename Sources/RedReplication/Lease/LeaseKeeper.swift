import Foundation
import Logging
import RedCore
import RedEngine
import Synchronization

/// Holds a server's writer lease (`RED_LEASE_REQUIRED=true`; spec ops §1.10) and fences the
/// engine when it is lost.
///
/// - At start the lease must be acquired, or the server does not start.
/// - It is refreshed every `max(ttl / 3, 1 s)`. A failed refresh — or one that takes longer
///   than a third of the TTL — fences every commit at once (fail closed: the lease may run
///   out, and another server may then write), well before the lease expires.
/// - A fence from a *replaced* lease (another holder or generation) is final: that server was
///   promoted, this one must come back as a replica. A fence from an unreachable backend lifts
///   when a later refresh finds the lease still ours (same holder and generation: nobody took
///   it meanwhile, so nobody else wrote).
/// - At shutdown the lease is released, so a successor need not wait for it to expire.
public final class LeaseKeeper: Sendable {
    public enum State: String, Sendable { case held, notHeld = "not_held" }

    public struct Settings: Sendable {
        public var holderID: String
        public var ttlMilliseconds: Int64 = 60_000
        public var prefix = "leases/"

        public init(holderID: String) { self.holderID = holderID }

        /// `RED_LEASE_REQUIRED` (nil unless true/1/yes), `RED_LEASE_TTL_SECS` (60),
        /// `RED_LEASE_HOLDER_ID` (or `_FILE`; else `<hostname>-<pid>`), `RED_LEASE_PREFIX` (leases/).
        public static func fromEnvironment(_ env: [String: String]) throws -> Settings? {
            guard let flag = env["RED_LEASE_REQUIRED"], ["true", "1", "yes", "on"].contains(flag.lowercased()) else { return nil }
            var settings = Settings(holderID: try holder(env))
            if let text = env["RED_LEASE_TTL_SECS"] {
                // At least 3 s: refreshes every TTL/3 need a second each to fence in time.
                guard let seconds = Int64(text), (3...86_400).contains(seconds) else { throw RedError(.invalidArgument, "RED_LEASE_TTL_SECS must be 3…86400") }
                settings.ttlMilliseconds = seconds * 1000
            }
            if let prefix = env["RED_LEASE_PREFIX"], !prefix.isEmpty { settings.prefix = prefix.hasSuffix("/") ? prefix : prefix + "/" }
            return settings
        }

        public static func holder(_ env: [String: String]) throws -> String {
            if let id = env["RED_LEASE_HOLDER_ID"], !id.isEmpty { return id }
            if let file = env["RED_LEASE_HOLDER_ID_FILE"], !file.isEmpty {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw RedError(.invalidArgument, "RED_LEASE_HOLDER_ID_FILE: cannot read \(file)") }
                return text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let host = env["HOSTNAME"] ?? env["HOST"] ?? ProcessInfo.processInfo.hostName
            return "\(host.isEmpty ? "unknown-host" : host)-\(getpid())"
        }
    }

    public let store: LeaseStore
    public let settings: Settings
    let engine: StorageEngine
    let logger: Logger
    private let state: Mutex<(state: State, lease: WriterLease, final: Bool)>

    /// Acquires the lease; throws (and the server must not start) when another holder has it.
    public init(store: LeaseStore, settings: Settings, engine: StorageEngine, logger: Logger) async throws {
        self.store = store
        self.settings = settings
        self.engine = engine
        self.logger = logger
        let lease = try await store.acquire(holder: settings.holderID, ttlMilliseconds: settings.ttlMilliseconds)
        state = Mutex((.held, lease, false))
        logger.notice("writer lease \(store.key) acquired by \(lease.holderID), generation \(lease.generation)")
    }

    public var current: (state: State, lease: WriterLease) {
        state.withLock { ($0.state, $0.lease) }
    }

    /// Refreshes until cancelled.
    public func run() async {
        let interval = Duration.milliseconds(max(settings.ttlMilliseconds / 3, 100))
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            await refreshOnce()
        }
    }

    /// One refresh: extends the lease, or fences the engine. A refresh that takes longer than
    /// a third of the TTL counts as failed (a backend that hangs must not let the lease run
    /// out while this server still writes); so does finding the lease about to expire.
    public func refreshOnce() async {
        let (lease, final) = state.withLock { ($0.lease, $0.final) }
        guard !final else { return }
        let store = self.store
        let ttl = settings.ttlMilliseconds
        // Less than a third of the TTL left: fence now; a refresh that succeeds lifts it.
        if Int64(Date().timeIntervalSince1970 * 1000) >= lease.expiresAtMilliseconds - ttl / 3 {
            fence(RedError(.readOnlyTransaction, "writer lease not held — writes rejected (serverless fence): it is about to expire unrefreshed"), final: false)
        }
        do {
            let renewed = try await withThrowingTaskGroup(of: WriterLease?.self) { group in
                group.addTask { try await store.refresh(lease, ttlMilliseconds: ttl) }
                group.addTask { [weak self] in
                    try await Task.sleep(for: .milliseconds(max(ttl / 3, 500)))
                    // Fenced here, at once: the refresh may be stuck where cancellation cannot reach.
                    self?.fence(RedError(.readOnlyTransaction, "writer lease not held — writes rejected (serverless fence): the refresh takes longer than \(max(ttl / 3, 500)) ms"), final: false)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let renewed = first else {
                    throw RedError(.ioError, "the refresh took longer than \(max(ttl / 3, 500)) ms")
                }
                return renewed
            }
            let wasFenced = state.withLock { s -> Bool in
                defer { s.state = .held; s.lease = renewed }
                return s.state == .notHeld
            }
            if wasFenced {
                engine.setWriteFence(nil)
                logger.notice("writer lease \(store.key) refreshed again; writes resume")
            }
        } catch let error as RedError where error.code == .readOnlyTransaction {
            fence(RedError(.readOnlyTransaction, "writer lease not held — writes rejected (serverless fence): \(error.message)"), final: true)
        } catch {
            fence(RedError(.readOnlyTransaction, "writer lease not held — writes rejected (serverless fence): cannot refresh it: \(error)"), final: false)
        }
    }

    func fence(_ error: RedError, final: Bool) {
        engine.setWriteFence(error)
        let changed = state.withLock { s -> Bool in
            defer { s.state = .notHeld; s.final = s.final || final }
            return s.state == .held
        }
        if changed { logger.error("\(error.message)") }
    }

    /// Gives the lease up (graceful shutdown), fencing first: nothing commits once a successor may.
    public func release() async {
        let (lease, held) = state.withLock { ($0.lease, $0.state == .held) }
        guard held else { return }
        engine.setWriteFence(RedError(.readOnlyTransaction, "writer lease released: this server is shutting down"))
        do {
            try await store.release(lease)
            logger.info("writer lease \(store.key) released")
        } catch {
            logger.warning("cannot release the writer lease \(store.key): \(error)")
        }
    }
}
