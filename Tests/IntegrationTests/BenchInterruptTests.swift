import Foundation
import Testing

/// A bench that runs its own servers leaves nothing behind when it is interrupted or fails:
/// the servers stop, their data goes, and the exit code says what happened (130 for Ctrl-C).
/// Until this was handled `red bench replication` left its primary and replica running, and
/// `red bench surfaces` failing after its clients connected trapped (AsyncHTTPClient's check
/// for a client released unclosed), leaving its servers and data.
@Suite struct BenchInterruptTests {
    /// `settle`: seconds from the servers' start until the bench is measuring (surfaces first
    /// starts PostgreSQL, then connects a client per surface).
    @Test(arguments: [(["replication", "--rows", "5000000"], 1.0), (["surfaces", "--requests", "1000000", "--loads", "0"], 10.0)])
    func interruptedBenchLeavesNothingBehind(_ arguments: [String], settle: Double) async throws {
        // The bench keeps its data under the temporary directory, here one of this test's own.
        let directory = NSTemporaryDirectory() + "rbi-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        // Waits on a thread of its own (`offPool`): the bench runs for a while.
        let (started, leftovers, status) = try await offPool {
            let process = try Self.start(arguments, in: directory, errors: nil)
            // Its servers up (a primary and a replica; our server and PostgreSQL), data under `directory`.
            let deadline = Date().addingTimeInterval(120)
            while BenchDuelSmokeTests.processes(mentioning: directory).count < 2, process.isRunning, Date() < deadline {
                Thread.sleep(forTimeInterval: 0.1)
            }
            let started = BenchDuelSmokeTests.processes(mentioning: directory).count >= 2
            Thread.sleep(forTimeInterval: settle)
            kill(process.processIdentifier, SIGINT)
            return (started, Self.finish(process, directory: directory), process.terminationStatus)
        }
        #expect(started, "the bench's servers never started")
        #expect(leftovers.isEmpty, "still running: \(leftovers)")
        #expect(status == 130)
        #expect((try FileManager.default.contentsOfDirectory(atPath: directory)).isEmpty, "left behind")
    }

    /// A bench that fails after connecting its clients (an unknown `--only` name) reports the
    /// error and exits 1, leaving nothing behind.
    @Test func aFailingSurfacesBenchReportsItsErrorAndLeavesNothingBehind() async throws {
        let directory = NSTemporaryDirectory() + "rbf-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let errorsPath = directory + ".stderr"
        _ = FileManager.default.createFile(atPath: errorsPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errorsPath) }

        let (leftovers, status) = try await offPool {
            let process = try Self.start(["surfaces", "--only", "bogus", "--loads", "0"], in: directory, errors: errorsPath)
            return (Self.finish(process, directory: directory), process.terminationStatus)
        }
        let written: Data = FileManager.default.contents(atPath: errorsPath) ?? Data()
        let message = String(decoding: written, as: UTF8.self)
        #expect(status == 1, "\(message)")
        #expect(message.contains("no surface named bogus"), "\(message)")
        #expect(leftovers.isEmpty, "still running: \(leftovers)")
        #expect((try FileManager.default.contentsOfDirectory(atPath: directory)).isEmpty, "left behind")
    }

    /// `red bench ARGUMENTS` with its temporary directory under `directory`; stderr to `errors`.
    static func start(_ arguments: [String], in directory: String, errors: String?) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ServerProcess.redPath())
        process.arguments = ["bench"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["TMPDIR": directory + "/"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors.flatMap { FileHandle(forWritingAtPath: $0) } ?? FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Waits up to a minute for the bench and every process mentioning `directory` to end,
    /// kills what is left and returns its command lines. Not `waitUntilExit` at once: servers
    /// left running keep it waiting (they inherit what Foundation watches for the exit), so a
    /// regression would hang the suite.
    static func finish(_ process: Process, directory: String) -> [String] {
        let stop = Date().addingTimeInterval(60)
        while process.isRunning || !pids(mentioning: directory).isEmpty, Date() < stop { Thread.sleep(forTimeInterval: 0.1) }
        let leftovers = BenchDuelSmokeTests.processes(mentioning: directory)
        for pid in pids(mentioning: directory) { kill(pid, SIGKILL) }
        process.waitUntilExit()
        return leftovers
    }

    static func pids(mentioning text: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(text) ? pid : nil
        }
    }
}
