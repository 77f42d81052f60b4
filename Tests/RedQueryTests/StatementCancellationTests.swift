import RedCore
import Testing
@testable import RedQuery

/// The per-session cancel switch: reasons, and timers that fire too late.
struct StatementCancellationTests {
    @Test func aLateTimerCannotStopTheNextStatement() {
        let switchboard = StatementCancellation()
        let first = switchboard.epoch
        switchboard.reset()  // the first statement ended
        switchboard.cancelIfStill(first, reason: .statementTimeout)
        #expect(!switchboard.isCancelled)
        switchboard.cancelIfStill(switchboard.epoch, reason: .statementTimeout)
        #expect(switchboard.reason == .statementTimeout)
        switchboard.cancel()  // the first reason stays
        #expect(StatementCancellation.error(switchboard.reason).message == "canceling statement due to statement timeout")
        switchboard.reset()
        switchboard.cancel()
        #expect(StatementCancellation.error(switchboard.reason).message == "canceling statement due to user request")
    }
}
