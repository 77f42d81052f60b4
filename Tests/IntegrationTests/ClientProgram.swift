import Foundation
import Testing

/// Runs the client programs the client tests drive (python3, javac, java) and reports ones
/// that are not installed: a notice and a skipped test, or a failure when the environment
/// variable scripts/test sets says they must be there.
enum ClientProgram {
    /// Runs `tool` (found on PATH) with `arguments`: its exit status, standard output and error.
    /// The wait is on a thread of its own (`offPool`).
    static func run(_ tool: String, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await offPool { try runBlocking(tool, arguments) }
    }

    private static func runBlocking(_ tool: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    /// `what` is missing: a failure if `variable` is "1", else a notice that `test` is skipped.
    /// Returns false, for `guard available else { return }`.
    static func missing(_ what: String, requiredBy variable: String, installer: String, skipping test: String) -> Bool {
        if ProcessInfo.processInfo.environment[variable] == "1" {
            Issue.record("\(what) missing (\(installer))")
        } else {
            print("notice: \(what) not installed; skipping \(test)")
        }
        return false
    }
}
