import Foundation
import Testing
@testable import RedBench

/// `ProcessCPU`: the server CPU column of `red bench surfaces`' loads.
struct ProcessCPUTests {
    @Test func statFieldsAreCountedAfterTheCommandName() {
        // A command name may hold spaces and parentheses: fields are counted after its last ')'.
        let line = "4242 (red (x) y) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 40 7 3 20 0 9 0 123 456 789"
        #expect(ProcessCPU.parse(line) == ProcessCPU.Stat(parent: 17, ownTicks: 290, reapedChildrenTicks: 10))
        #expect(ProcessCPU.parse("4242 (red) S 17") == nil)
        #expect(ProcessCPU.parse("no parentheses") == nil)
    }

    #if os(Linux)
    /// A child's CPU counts for its parent's tree: while it runs, and once reaped.
    @Test func aProcessTreeCountsItsChildrensTime() throws {
        let me = getpid()
        let before = try #require(ProcessCPU.seconds(ofTree: me))
        let child = try SpawnedProcess(["/bin/sh", "-c", "i=0; while [ $i -lt 600000 ]; do i=$((i+1)); done"], stdout: .inherit, stderr: .inherit)
        _ = child.waitForExit()
        let after = try #require(ProcessCPU.seconds(ofTree: me))
        #expect(after - before >= 0.05, "a busy child's time is counted: \(after - before) s")
        #expect(ProcessCPU.seconds(ofTree: Int32.max) == nil)
    }
    #endif
}
