import RedCore
import RedStorage
import Synchronization
import Testing
@testable import RedEngine

/// `DefinitionGates`: a definition change built from a collection's rows finishes under a
/// steady stream of writes to it (writers wait for it once it failed), and writers go on after.
@Suite struct DefinitionGateTests {
    final class Flag: Sendable {
        let stop = Atomic<Bool>(false)
        let commits = Atomic<Int>(0)
    }

    @Test func aChangeBuiltFromRowsFinishesUnderSteadyWrites() async throws {
        let engine = try await EngineHarness().open()
        let busy = try await engine.makeCollection("busy")
        let definitions = try await engine.makeCollection("definitions")
        let flag = Flag()
        let writers = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for w in 0..<4 {
                    group.addTask {
                        var i = 0
                        while !flag.stop.load(ordering: .relaxed) {
                            try await engine.transaction { try $0.put(busy, bytes("w\(w)-\(i)"), bytes("v")) }
                            flag.commits.add(1, ordering: .relaxed)
                            i += 1
                            await Task.yield()  // a stream of writes, not a monopoly of the test's threads
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        while flag.commits.load(ordering: .relaxed) < 50 { try await Task.sleep(for: .milliseconds(1)) }
        // Like CREATE INDEX: read every row, take a while, record a definition built from them.
        // The first attempt lasts until a write has committed after its snapshot, so it must
        // fail (however the machine schedules the writers); the retries must not.
        let attempts = Atomic<Int>(0)
        let rows = try await engine.transaction(maxAttempts: 8) { tx in
            let attempt = attempts.add(1, ordering: .relaxed).newValue
            let before = flag.commits.load(ordering: .relaxed)
            let count = try tx.scan(busy).collect().count
            if attempt == 1 {
                while flag.commits.load(ordering: .relaxed) < before + 2 { try await Task.sleep(for: .milliseconds(1)) }
            }
            tx.noteDefinitionChange(of: busy, basedOnData: true)
            try tx.put(definitions, bytes("busy_index"), bytes("\(count)"))
            return count
        }
        #expect(attempts.load(ordering: .relaxed) >= 2, "the first attempt met a concurrent write")
        let after = flag.commits.load(ordering: .relaxed)
        while flag.commits.load(ordering: .relaxed) < after + 20 { try await Task.sleep(for: .milliseconds(1)) }  // writers go on
        flag.stop.store(true, ordering: .relaxed)
        try await writers.value
        #expect(rows > 0)
        try await engine.close()
    }

    @Test func aGateOpensByItselfAndOnlyHoldsItsCollection() async throws {
        let gates = DefinitionGates()
        gates.close([7], tookSince: nil)
        let other = Task { try await gates.wait(writing: [8], passing: []) }
        try await other.value  // another collection: no wait
        try await gates.wait(writing: [7], passing: [7])  // the change itself passes
        let started = ContinuousClock.now
        let held = Task { try await gates.wait(writing: [7], passing: []) }
        try await Task.sleep(for: .milliseconds(50))
        gates.open([7])
        try await held.value
        #expect(ContinuousClock.now - started >= .milliseconds(50), "it waited for the gate to open")
    }
}
