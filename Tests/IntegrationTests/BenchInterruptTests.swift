import Foundation
import Testing

/// Ctrl-C in the middle of a bench that runs its own servers (`red bench replication`:
/// a primary and a replica) stops them and removes their data, and the bench exits 130.
/// Until this was handled, both servers kept running and their directories stayed.
@Suite struct BenchInterruptTests {
    @Test func interruptedReplicationBenchLeavesNothingBehind() throws {
        // The bench keeps its data under the temporary directory, here one of this test's own.
        let directory = NSTemporaryDirectory() + "red-bench-interrupt-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ServerProcess.redPath())
        process.arguments = ["bench", "replication", "--rows", "5000000"]
        process.environment = ProcessInfo.processInfo.environment.merging(["TMPDIR": directory + "/"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // Both servers up: the primary and the replica run with their data under `directory`.
        let deadline = Date().addingTimeInterval(120)
        while BenchDuelSmokeTests.processes(mentioning: directory).count < 2, process.isRunning, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(BenchDuelSmokeTests.processes(mentioning: directory).count >= 2, "the bench's servers never started")
        kill(process.processIdentifier, SIGINT)

        // Not `waitUntilExit` at once: servers left running would keep it waiting (they inherit
        // what Foundation watches for the bench's exit), so a regression would hang the suite.
        let stop = Date().addingTimeInterval(60)
        while process.isRunning || !Self.pids(mentioning: directory).isEmpty, Date() < stop { Thread.sleep(forTimeInterval: 0.1) }
        let leftovers = BenchDuelSmokeTests.processes(mentioning: directory)
        for pid in Self.pids(mentioning: directory) { kill(pid, SIGKILL) }
        process.waitUntilExit()
        #expect(leftovers.isEmpty, "still running: \(leftovers)")
        #expect(process.terminationStatus == 130)
        #expect((try FileManager.default.contentsOfDirectory(atPath: directory)).isEmpty, "left behind")
    }

    static func pids(mentioning text: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(text) ? pid : nil
        }
    }
}
