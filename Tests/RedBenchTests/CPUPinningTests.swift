import Foundation
import Synchronization
import RedCore
import Testing
@testable import RedBench

/// `--server-cpus` / `--client-cpus`: the CPU lists taskset takes, and what pinning does to the
/// calling thread and to the children it spawns.
struct CPUPinningTests {
    @Test func listsAndRangesParseAsTasksetTakesThem() throws {
        #expect(try CPUPinning.parse("0") == [0])
        #expect(try CPUPinning.parse("0, 0-0") == [0, 0])
        let last = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) - 1
        #expect(try CPUPinning.parse("0-\(last)") == Array(0...last))
    }

    @Test func badListsAreClearErrors() {
        for (list, message) in [("x", "not a CPU number or range"), ("1-0", "not a CPU number or range"), ("", "no CPU named"),
                                ("-1", "not a CPU number or range"), ("4096", "does not exist")] {
            #expect(throws: RedError.self, "\(list)") { try CPUPinning.parse(list) }
            do { _ = try CPUPinning.parse(list) } catch let error as RedError {
                #expect(error.message.contains(message), "\(list): \(error.message)")
            } catch { Issue.record("\(error)") }
        }
    }

    /// A child spawned while the thread is pinned keeps the CPU; the thread gets its own CPUs back.
    @Test func aChildSpawnedWhilePinnedKeepsTheCPUAndTheThreadIsRestored() throws {
        try Self.onOwnThread {
            let before = try CPUPinning.callingThreadMask()
            let child = try CPUPinning.whileSpawning(on: [0]) {
                try SpawnedProcess(["/bin/sh", "-c", "grep Cpus_allowed_list /proc/self/status"], stdout: .capture, stderr: .inherit)
            }
            let output = child.readAll()
            child.waitForExit()
            #expect(output.contains("Cpus_allowed_list:\t0\n"), "\(output)")
            #expect(try CPUPinning.callingThreadMask() == before)
        }
    }

    /// Pinning changes the calling thread: the test's work gets a thread of its own, not one of
    /// Swift's pool.
    static func onOwnThread(_ body: @escaping @Sendable () throws -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        let failure = Mutex<(any Error)?>(nil)
        let thread = Thread {
            do { try body() } catch { failure.withLock { $0 = error } }
            done.signal()
        }
        thread.start()
        done.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
