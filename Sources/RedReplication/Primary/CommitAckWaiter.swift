import Foundation
import RedCore
import Synchronization

/// `RED_PRIMARY_COMMIT_POLICY=ack_n=N`: a primary's commit is answered only once N replicas
/// report it durable (`AckReplicaLsn`, `durable_lsn ≥` the commit's LSN), or after
/// `RED_REPLICATION_ACK_TIMEOUT_MS` (5,000 by default). On timeout the commit is answered
/// anyway — or, with `RED_COMMIT_FAIL_ON_TIMEOUT`, fails with `commit_not_acknowledged`
/// (SQLSTATE 08007, HTTP 504, gRPC DEADLINE_EXCEEDED) although it *is* committed locally: the
/// write is never rolled back, as upstream. `remote_wal` (ours; upstream parses it and never
/// waits) holds a commit until the WAL archiver has uploaded it to the backup backend, with
/// the same timeout rules: the archive is the one acknowledger. `local` (the default) and
/// `quorum` (parsed, as upstream, never waited on) answer at once.
///
/// Waiters are woken by the acknowledgement that satisfies them, not by polling.
public final class CommitAckWaiter: Sendable {
    public struct Policy: Sendable, Equatable {
        /// Replicas that must acknowledge; 0: no wait.
        public var replicas: Int
        public var timeoutMilliseconds: Int
        public var failOnTimeout: Bool
        /// `remote_wal`: wait for the WAL archive instead of replicas.
        public var remoteWAL = false

        public static let local = Policy(replicas: 0, timeoutMilliseconds: 5000, failOnTimeout: false)

        public init(replicas: Int, timeoutMilliseconds: Int, failOnTimeout: Bool) {
            self.replicas = replicas
            self.timeoutMilliseconds = timeoutMilliseconds
            self.failOnTimeout = failOnTimeout
        }

        /// From `RED_PRIMARY_COMMIT_POLICY`, `RED_REPLICATION_ACK_TIMEOUT_MS` and
        /// `RED_COMMIT_FAIL_ON_TIMEOUT`; an unknown policy is `local` (and `warning` says why).
        public static func from(environment: [String: String]) -> (Policy, warning: String?) {
            let raw = (environment["RED_PRIMARY_COMMIT_POLICY"] ?? "").trimmingSpaces().lowercased()
            let timeout = environment["RED_REPLICATION_ACK_TIMEOUT_MS"].flatMap { Int($0.trimmingSpaces()) }.map { max(1, min($0, 3_600_000)) } ?? 5000
            let fail = ["1", "true", "yes"].contains((environment["RED_COMMIT_FAIL_ON_TIMEOUT"] ?? "").trimmingSpaces().lowercased())
            switch raw {
            case "", "local", "quorum": return (Policy(replicas: 0, timeoutMilliseconds: timeout, failOnTimeout: fail), nil)
            case "remote_wal":
                var policy = Policy(replicas: 0, timeoutMilliseconds: timeout, failOnTimeout: fail)
                policy.remoteWAL = true
                return (policy, nil)
            default:
                if raw.hasPrefix("ack_n="), let n = UInt32(raw.dropFirst(6)) {
                    return (Policy(replicas: Int(n), timeoutMilliseconds: timeout, failOnTimeout: fail), nil)
                }
                return (Policy(replicas: 0, timeoutMilliseconds: timeout, failOnTimeout: fail),
                        "unknown RED_PRIMARY_COMMIT_POLICY '\(raw)'; using local (no replica waits). Use local, ack_n=N or remote_wal")
            }
        }
    }

    public enum Outcome: String, Sendable { case reached, timedOut = "timed_out", notRequired = "not_required" }

    private struct Waiter {
        let id: UInt64
        let lsn: UInt64
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var durable: [String: UInt64] = [:]
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        /// Timers that fired before their waiter was registered.
        var expiredEarly: Set<UInt64> = []
        var counts: [Outcome: Int] = [:]
    }

    public let policy: Policy
    /// Who acknowledges, for the timeout's message.
    let acknowledgers: String
    private let state = Mutex(State())

    public init(policy: Policy, acknowledgers: String? = nil) {
        self.policy = policy
        self.acknowledgers = acknowledgers ?? "\(policy.replicas) replica(s)"
    }

    /// A replica's durable position (only moves forward).
    public func noteDurable(replicaID: String, lsn: UInt64) {
        let ready = state.withLock { s -> [CheckedContinuation<Bool, Never>] in
            s.durable[replicaID] = max(s.durable[replicaID] ?? 0, lsn)
            let met = s.waiters.filter { Self.acknowledged($0.lsn, s.durable) >= policy.replicas }
            s.waiters.removeAll { w in met.contains { $0.id == w.id } }
            return met.map(\.continuation)
        }
        for continuation in ready { continuation.resume(returning: true) }
    }

    /// A replica that is gone no longer counts.
    public func forget(replicaID: String) {
        state.withLock { _ = $0.durable.removeValue(forKey: replicaID) }
    }

    static func acknowledged(_ lsn: UInt64, _ durable: [String: UInt64]) -> Int { durable.values.lazy.filter { $0 >= lsn }.count }

    /// Waits (per the policy) until enough replicas hold the commit ending at `lsn`.
    public func waitForCommit(_ lsn: UInt64) async throws {
        let outcome = await wait(lsn)
        state.withLock { $0.counts[outcome, default: 0] += 1 }
        if outcome == .timedOut, policy.failOnTimeout {
            throw RedError(.commitNotAcknowledged, "commit not acknowledged by \(acknowledgers) within \(policy.timeoutMilliseconds) ms; "
                           + "it is committed on the primary and was not rolled back")
        }
    }

    private func wait(_ lsn: UInt64) async -> Outcome {
        guard policy.replicas > 0 else { return .notRequired }
        let id: UInt64? = state.withLock { s -> UInt64? in
            if Self.acknowledged(lsn, s.durable) >= policy.replicas { return nil }
            s.nextID += 1
            return s.nextID
        }
        guard let id else { return .reached }
        let timeout = policy.timeoutMilliseconds
        let timer = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(timeout))
            self?.expire(id)
        }
        let reached = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let resumeNow = state.withLock { s -> Bool? in
                // Acknowledged, or timed out, between the check above and now.
                if Self.acknowledged(lsn, s.durable) >= policy.replicas { return true }
                if s.expiredEarly.remove(id) != nil { return false }
                s.waiters.append(Waiter(id: id, lsn: lsn, continuation: continuation))
                return nil
            }
            if let resumeNow { continuation.resume(returning: resumeNow) }
        }
        timer.cancel()
        await timer.value  // so a late timer cannot leave its id behind
        state.withLock { _ = $0.expiredEarly.remove(id) }
        return reached ? .reached : .timedOut
    }

    private func expire(_ id: UInt64) {
        let expired = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            guard let i = s.waiters.firstIndex(where: { $0.id == id }) else {
                s.expiredEarly.insert(id)
                return nil
            }
            return s.waiters.remove(at: i).continuation
        }
        expired?.resume(returning: false)
    }

    /// `reddb_commit_wait_total{outcome}` so far.
    public var outcomes: [Outcome: Int] { state.withLock { $0.counts } }
}
