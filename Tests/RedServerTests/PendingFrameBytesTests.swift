import Synchronization
import Testing
@testable import RedServer

/// The RedWire reader's byte budget: it admits while there is room, waits past it until
/// requests are answered, never strands a frame larger than the budget, and stops limiting
/// once a stream has failed.
struct PendingFrameBytesTests {
    @Test func admitsWithinTheLimitAndWaitsPastItUntilARelease() async {
        let budget = PendingFrameBytes(limitBytes: 100)
        await budget.acquire(60)
        await budget.acquire(40)
        #expect(budget.heldBytes == 100)
        let admitted = Flag()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await budget.acquire(30)
                admitted.set()
            }
            // It cannot get in until 30 bytes are given back: 10 is not enough.
            for _ in 0..<50 { await Task.yield() }
            #expect(!admitted.isSet)
            budget.release(10)
            for _ in 0..<50 { await Task.yield() }
            #expect(!admitted.isSet)
            budget.release(20)
            await group.waitForAll()
        }
        #expect(admitted.isSet)
        #expect(budget.heldBytes == 100)
    }

    @Test func aFrameLargerThanTheLimitIsAdmittedWhenNothingIsHeld() async {
        let budget = PendingFrameBytes(limitBytes: 100)
        await budget.acquire(500)
        #expect(budget.heldBytes == 500)
        budget.release(500)
        #expect(budget.heldBytes == 0)
    }

    @Test func abandoningLetsTheReaderRunOn() async {
        let budget = PendingFrameBytes(limitBytes: 100)
        await budget.acquire(100)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await budget.acquire(50) }
            for _ in 0..<50 { await Task.yield() }
            budget.abandon()
            await group.waitForAll()
        }
        await budget.acquire(1_000)  // no limit any more
    }
}

private final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
