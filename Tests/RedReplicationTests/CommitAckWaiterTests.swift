import RedCore
import RedReplication
import Testing

@Suite struct CommitAckWaiterTests {
    @Test func policiesParseAsUpstreamReadsThem() {
        #expect(CommitAckWaiter.Policy.from(environment: [:]).0.replicas == 0)
        let (two, none) = CommitAckWaiter.Policy.from(environment: ["RED_PRIMARY_COMMIT_POLICY": "ACK_N=2", "RED_REPLICATION_ACK_TIMEOUT_MS": "250",
                                                                     "RED_COMMIT_FAIL_ON_TIMEOUT": "yes"])
        #expect(two == CommitAckWaiter.Policy(replicas: 2, timeoutMilliseconds: 250, failOnTimeout: true) && none == nil)
        let quorum = CommitAckWaiter.Policy.from(environment: ["RED_PRIMARY_COMMIT_POLICY": "quorum"]).0
        #expect(quorum.quorum == .init() && quorum.waits && quorum.timeoutMilliseconds == 5000)
        let regional = CommitAckWaiter.Policy.from(environment: ["RED_PRIMARY_COMMIT_POLICY": "Quorum", "RED_QUORUM_REGIONS": " eu , us,eu,"]).0
        #expect(regional.quorum?.regions == ["eu", "us"] && regional.timeoutMilliseconds == 10_000, "regions mode waits 10 s by default")
        let (remote, noWarning) = CommitAckWaiter.Policy.from(environment: ["RED_PRIMARY_COMMIT_POLICY": "Remote_WAL"])
        #expect(remote.remoteWAL && remote.replicas == 0 && noWarning == nil)
        let (fallback, warning) = CommitAckWaiter.Policy.from(environment: ["RED_PRIMARY_COMMIT_POLICY": "majority"])
        #expect(fallback.replicas == 0 && warning != nil)
    }

    @Test func aCommitWaitsForEnoughReplicas() async throws {
        let waiter = CommitAckWaiter(policy: CommitAckWaiter.Policy(replicas: 2, timeoutMilliseconds: 60_000, failOnTimeout: true))
        let wait = Task { try await waiter.waitForCommit(100) }
        waiter.noteDurable(replicaID: "a", lsn: 150)
        waiter.noteDurable(replicaID: "b", lsn: 90)   // not yet
        waiter.noteDurable(replicaID: "b", lsn: 100)  // now two replicas hold LSN 100
        try await wait.value
        try await waiter.waitForCommit(100)  // already held: no wait
        #expect(waiter.outcomes[.reached] == 2)
    }

    @Test func aTimeoutFailsOnlyWhenAskedAndTheCommitStands() async throws {
        let failing = CommitAckWaiter(policy: CommitAckWaiter.Policy(replicas: 1, timeoutMilliseconds: 20, failOnTimeout: true))
        await #expect(throws: RedError.self) { try await failing.waitForCommit(10) }
        let lenient = CommitAckWaiter(policy: CommitAckWaiter.Policy(replicas: 1, timeoutMilliseconds: 20, failOnTimeout: false))
        try await lenient.waitForCommit(10)
        #expect(failing.outcomes[.timedOut] == 1 && lenient.outcomes[.timedOut] == 1)
    }

    static func quorum(regions: [String] = [], timeout: Int = 60_000) -> CommitAckWaiter {
        var policy = CommitAckWaiter.Policy(replicas: 0, timeoutMilliseconds: timeout, failOnTimeout: true)
        policy.quorum = .init(regions: regions, primaryRegion: "home")
        return CommitAckWaiter(policy: policy)
    }

    /// A majority of primary + known replicas: (known + 1) / 2 replica acknowledgements.
    @Test func aQuorumIsAMajorityOfTheKnownCluster() async throws {
        let waiter = Self.quorum()
        try await waiter.waitForCommit(10)  // no replica known: a cluster of one
        for id in ["a", "b", "c"] { waiter.noteMember(replicaID: id, region: "home") }
        // 4 nodes: the primary and two replicas make a majority.
        let wait = Task { try await waiter.waitForCommit(100) }
        waiter.noteDurable(replicaID: "a", lsn: 100)
        waiter.noteDurable(replicaID: "b", lsn: 99)
        try await Task.sleep(for: .milliseconds(50))
        #expect(waiter.outcomes[.reached] == 1, "one replica of three is not a majority")
        waiter.noteDurable(replicaID: "c", lsn: 120)
        try await wait.value
        // A known replica that never acknowledges still counts: 5 nodes need 2 replicas more.
        waiter.noteMember(replicaID: "d", region: "home")
        let next = Task { try await waiter.waitForCommit(200) }
        waiter.noteDurable(replicaID: "d", lsn: 200)
        try await Task.sleep(for: .milliseconds(50))
        #expect(waiter.outcomes[.reached] == 2)
        // Forgetting the silent ones (gone past the replica timeout) shrinks the cluster: 3 nodes.
        waiter.forget(replicaID: "a")
        waiter.forget(replicaID: "b")
        try await next.value
        #expect(waiter.outcomes[.reached] == 3)
    }

    @Test func aRegionalQuorumNeedsEveryListedRegion() async throws {
        let waiter = Self.quorum(regions: ["home", "eu", "us"])
        waiter.noteMember(replicaID: "e1", region: "eu")
        // No replica is known in "us": answered at once, and failing under fail-on-timeout.
        await #expect { try await waiter.waitForCommit(10) } throws: { error in
            (error as? RedError)?.code == .commitNotAcknowledged && (error as? RedError)?.message.contains("region(s) us") == true
        }
        #expect(waiter.outcomes[.insufficientReplicas] == 1)
        // A replica that has not said its region yet may be in "us": the commit waits.
        waiter.noteMember(replicaID: "u1", region: nil)
        let wait = Task { try await waiter.waitForCommit(50) }
        waiter.noteMember(replicaID: "u1", region: "us")
        waiter.noteMember(replicaID: "u2", region: "us")
        waiter.noteDurable(replicaID: "u1", lsn: 50)
        waiter.noteDurable(replicaID: "u2", lsn: 50)  // a majority, but no copy in "eu" yet
        try await Task.sleep(for: .milliseconds(50))
        #expect(waiter.outcomes[.reached, default: 0] == 0)
        waiter.noteDurable(replicaID: "e1", lsn: 60)
        try await wait.value
        #expect(waiter.outcomes[.reached] == 1)
        let timingOut = Self.quorum(regions: ["eu"], timeout: 20)
        timingOut.noteMember(replicaID: "e1", region: "eu")
        await #expect(throws: RedError.self) { try await timingOut.waitForCommit(10) }
        #expect(timingOut.outcomes[.timedOut] == 1)
    }
}
