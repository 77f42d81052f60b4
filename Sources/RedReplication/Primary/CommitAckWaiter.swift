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
/// the same timeout rules: the archive is the one acknowledger. `local` (the default) answers
/// at once.
///
/// `quorum` (upstream parses it and never waits; its docs promise majority semantics, built
/// here as documented) holds a commit until a majority of the cluster holds it durably: the
/// primary plus every replica it knows (registered, copying ones included, until forgotten
/// after the replica timeout), so `(known + 1) / 2` replica acknowledgements. A primary that
/// knows no replica is a cluster of one and waits for nobody. With `RED_QUORUM_REGIONS=a,b`
/// every listed region must also hold it (the primary's own region holds it already); a listed
/// region with no known replica cannot be met, and the commit is answered at once as
/// `insufficient_replicas` — failing, under `RED_COMMIT_FAIL_ON_TIMEOUT`, like a timeout. Its
/// timeout defaults to 10 s, as upstream's regions mode, when `RED_REPLICATION_ACK_TIMEOUT_MS`
/// is not set.
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
        /// `quorum`: a majority of the cluster (and the listed regions) instead of `replicas`.
        public var quorum: Quorum?

        public struct Quorum: Sendable, Equatable {
            /// Regions that must each hold the commit (`RED_QUORUM_REGIONS`).
            public var regions: [String]
            /// The primary's own region, which holds every commit (the server sets it).
            public var primaryRegion: String

            public init(regions: [String] = [], primaryRegion: String = "local") {
                self.regions = regions
                self.primaryRegion = primaryRegion
            }
        }

        /// Whether commits wait at all under this policy.
        public var waits: Bool { replicas > 0 || quorum != nil }

        /// How the start-up log and errors describe who acknowledges.
        public var acknowledgers: String {
            if remoteWAL { return "the WAL archive (remote_wal)" }
            guard let quorum else { return "\(replicas) replica(s)" }
            return quorum.regions.isEmpty ? "a quorum (majority) of replicas" : "a quorum (majority) of replicas and regions \(quorum.regions.joined(separator: ", "))"
        }

        public static let local = Policy(replicas: 0, timeoutMilliseconds: 5000, failOnTimeout: false)

        public init(replicas: Int, timeoutMilliseconds: Int, failOnTimeout: Bool) {
            self.replicas = replicas
            self.timeoutMilliseconds = timeoutMilliseconds
            self.failOnTimeout = failOnTimeout
        }

        /// From `RED_PRIMARY_COMMIT_POLICY`, `RED_REPLICATION_ACK_TIMEOUT_MS`,
        /// `RED_COMMIT_FAIL_ON_TIMEOUT` and `RED_QUORUM_REGIONS`; an unknown policy is `local`
        /// (and `warning` says why).
        public static func from(environment: [String: String]) -> (Policy, warning: String?) {
            let raw = (environment["RED_PRIMARY_COMMIT_POLICY"] ?? "").trimmingSpaces().lowercased()
            let givenTimeout = environment["RED_REPLICATION_ACK_TIMEOUT_MS"].flatMap { Int($0.trimmingSpaces()) }.map { max(1, min($0, 3_600_000)) }
            let timeout = givenTimeout ?? 5000
            let fail = ["1", "true", "yes"].contains((environment["RED_COMMIT_FAIL_ON_TIMEOUT"] ?? "").trimmingSpaces().lowercased())
            switch raw {
            case "", "local": return (Policy(replicas: 0, timeoutMilliseconds: timeout, failOnTimeout: fail), nil)
            case "quorum":
                let regions = (environment["RED_QUORUM_REGIONS"] ?? "").split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
                var policy = Policy(replicas: 0, timeoutMilliseconds: givenTimeout ?? (regions.isEmpty ? 5000 : 10_000), failOnTimeout: fail)
                policy.quorum = Quorum(regions: Array(Set(regions)).sorted())
                return (policy, nil)
            case "remote_wal":
                var policy = Policy(replicas: 0, timeoutMilliseconds: timeout, failOnTimeout: fail)
                policy.remoteWAL = true
                return (policy, nil)
            default:
                if raw.hasPrefix("ack_n="), let n = UInt32(raw.dropFirst(6)) {
                    return (Policy(replicas: Int(n), timeoutMilliseconds: timeout, failOnTimeout: fail), nil)
                }
                return (Policy(replicas: 0, timeoutMilliseconds: timeout, failOnTimeout: fail),
                        "unknown RED_PRIMARY_COMMIT_POLICY '\(raw)'; using local (no replica waits). Use local, ack_n=N, quorum or remote_wal")
            }
        }
    }

    public enum Outcome: String, Sendable, CaseIterable {
        case reached, timedOut = "timed_out", notRequired = "not_required"
        /// `quorum` with a required region where no replica is known: it cannot be met.
        case insufficientReplicas = "insufficient_replicas"
    }

    private struct Waiter {
        let id: UInt64
        let lsn: UInt64
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var durable: [String: UInt64] = [:]
        /// The replicas the primary knows, with their regions, nil until reported (`quorum`
        /// counts its majority over them).
        var members: [String: String?] = [:]
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
        self.acknowledgers = acknowledgers ?? policy.acknowledgers
    }

    /// A replica's durable position (only moves forward).
    public func noteDurable(replicaID: String, lsn: UInt64) {
        changeState { s in s.durable[replicaID] = max(s.durable[replicaID] ?? 0, lsn) }
    }

    /// A replica the primary knows, and its region: nil while it has not said (a replica still
    /// copying, or one remembered from before a restart), which may be any.
    public func noteMember(replicaID: String, region: String?) {
        guard state.withLock({ $0.members[replicaID] != .some(region) }) else { return }
        changeState { s in s.members[replicaID] = region }
    }

    /// A replica that is gone no longer counts, neither as an acknowledgement nor as a member.
    public func forget(replicaID: String) {
        changeState { s in
            s.durable.removeValue(forKey: replicaID)
            s.members.removeValue(forKey: replicaID)
        }
    }

    /// Applies `change`, then wakes every waiter it satisfies (an acknowledgement, or a
    /// forgotten member shrinking the majority).
    private func changeState(_ change: (inout State) -> Void) {
        let ready = state.withLock { s -> [CheckedContinuation<Bool, Never>] in
            change(&s)
            let met = s.waiters.filter { satisfied($0.lsn, s) }
            guard !met.isEmpty else { return [] }
            s.waiters.removeAll { w in met.contains { $0.id == w.id } }
            return met.map(\.continuation)
        }
        for continuation in ready { continuation.resume(returning: true) }
    }

    /// Whether the commit ending at `lsn` is held by enough replicas under the policy.
    private func satisfied(_ lsn: UInt64, _ s: State) -> Bool {
        guard let quorum = policy.quorum else { return s.durable.values.lazy.filter { $0 >= lsn }.count >= policy.replicas }
        let holding = s.members.filter { (s.durable[$0.key] ?? 0) >= lsn }
        guard holding.count >= (s.members.count + 1) / 2 else { return false }
        return quorum.regions.allSatisfy { region in region == quorum.primaryRegion || holding.values.contains(region) }
    }

    /// `quorum`'s required regions that no known replica is in (nor may be, having not said
    /// yet): the commit cannot be met.
    private func missingRegions(_ s: State) -> [String] {
        guard let quorum = policy.quorum, !s.members.values.contains(nil) else { return [] }
        let known = Set(s.members.values.compactMap { $0 })
        return quorum.regions.filter { $0 != quorum.primaryRegion && !known.contains($0) }
    }

    /// Waits (per the policy) until enough replicas hold the commit ending at `lsn`.
    public func waitForCommit(_ lsn: UInt64) async throws {
        let (outcome, missing) = await wait(lsn)
        state.withLock { $0.counts[outcome, default: 0] += 1 }
        guard policy.failOnTimeout else { return }
        switch outcome {
        case .timedOut:
            throw RedError(.commitNotAcknowledged, "commit not acknowledged by \(acknowledgers) within \(policy.timeoutMilliseconds) ms; "
                           + "it is committed on the primary and was not rolled back")
        case .insufficientReplicas:
            throw RedError(.commitNotAcknowledged, "commit not acknowledged: the quorum needs region(s) \(missing.joined(separator: ", ")), "
                           + "where no replica is known; it is committed on the primary and was not rolled back")
        case .reached, .notRequired:
            return
        }
    }

    private func wait(_ lsn: UInt64) async -> (Outcome, missing: [String]) {
        guard policy.waits else { return (.notRequired, []) }
        enum Start { case met, missing([String]), wait(UInt64) }
        let start = state.withLock { s -> Start in
            if satisfied(lsn, s) { return .met }
            let missing = missingRegions(s)
            if !missing.isEmpty { return .missing(missing) }
            s.nextID += 1
            return .wait(s.nextID)
        }
        let id: UInt64
        switch start {
        case .met: return (.reached, [])
        case .missing(let regions): return (.insufficientReplicas, regions)
        case .wait(let waiting): id = waiting
        }
        let timeout = policy.timeoutMilliseconds
        let timer = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(timeout))
            self?.expire(id)
        }
        let reached = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let resumeNow = state.withLock { s -> Bool? in
                // Acknowledged, or timed out, between the check above and now.
                if satisfied(lsn, s) { return true }
                if s.expiredEarly.remove(id) != nil { return false }
                s.waiters.append(Waiter(id: id, lsn: lsn, continuation: continuation))
                return nil
            }
            if let resumeNow { continuation.resume(returning: resumeNow) }
        }
        timer.cancel()
        await timer.value  // so a late timer cannot leave its id behind
        state.withLock { _ = $0.expiredEarly.remove(id) }
        return (reached ? .reached : .timedOut, [])
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
