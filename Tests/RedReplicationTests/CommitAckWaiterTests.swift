import RedCore
import RedReplication
import Testing

@Suite struct CommitAckWaiterTests {
    @Test func policiesParseAsUpstreamReadsThem() {
        #expect(CommitAckWaiter.Policy.from(environment: [:]).0.replicas == 0)
        let (two, none) = CommitAckWaiter.Policy.from(environment: ["RED_PRIMARY_COMMIT_POLICY": "ACK_N=2", "RED_REPLICATION_ACK_TIMEOUT_MS": "250",
                                                                     "RED_COMMIT_FAIL_ON_TIMEOUT": "yes"])
        #expect(two == CommitAckWaiter.Policy(replicas: 2, timeoutMilliseconds: 250, failOnTimeout: true) && none == nil)
        #expect(CommitAckWaiter.Policy.from(environment: ["RED_PRIMARY_COMMIT_POLICY": "quorum"]).0.replicas == 0)
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
}
