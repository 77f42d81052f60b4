import Foundation
import RedCore
import RedStorage
import Testing
@testable import RedEngine

/// Starts the real `red-crash-writer` executable, SIGKILLs it at random moments,
/// and checks every acknowledged commit after reopening.
@Suite struct ProcessKillTests {
    static let workers = 4

    /// The helper sits next to the test bundle in the build directory.
    static func helperPath() throws -> String {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var dir = (exe as NSString).deletingLastPathComponent
        if dir.hasSuffix(".xctest/Contents/MacOS") { dir = ((dir as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent }
        let candidate = dir + "/red-crash-writer"
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw RedError(.internalError, "red-crash-writer not found at \(candidate); run `swift build` first")
        }
        return candidate
    }

    static func payload(worker: Int, transaction j: Int) -> [UInt8] {
        let unit = Array("w\(worker)j\(j);".utf8)
        let size = j % 50 == 0 ? 20_000 : 64
        return (0..<size).map { unit[$0 % unit.count] }
    }

    /// The keys "w/<w>/k/…" worker w's first `count` transactions leave. Every key is set
    /// and deleted once in any 20 transactions in a row, so the last 20 decide them all.
    static func expectedKeys(worker w: Int, count: Int) -> [String: [UInt8]] {
        var keys: [String: [UInt8]] = [:]
        for j in stride(from: max(1, count - 19), through: count, by: 1) {
            keys["w/\(w)/k/\(j % 20)"] = payload(worker: w, transaction: j)
            keys["w/\(w)/k/\((j + 10) % 20)"] = nil
        }
        return keys
    }

    /// Starts `executable` and SIGKILLs it `milliseconds` later, timed on a Dispatch queue and
    /// awaited through the termination handler: on a loaded machine (the whole suite at once)
    /// a test task can resume tens of seconds after its sleep ends, and the writer would run,
    /// and grow the database, all that time. No thread of the shared pool blocks meanwhile.
    static func runAndKill(_ executable: String, _ arguments: [String], after milliseconds: Int) async throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try await withCheckedThrowingContinuation { (exited: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in exited.resume() }
            do {
                try process.run()
            } catch {
                return exited.resume(throwing: error)
            }
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds)) { kill(pid, SIGKILL) }
        }
        return process
    }

    @Test func acknowledgedCommitsSurviveSIGKILL() async throws {
        let helper = try Self.helperPath()
        let dir = try temporaryDirectory("kill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/data.rdb"
        let ackPath = dir + "/acks.txt"
        var rng = SplitMix64(seed: 2026)
        var totalAcks = 0
        // What each worker's last transaction was after the previous cycle: a commit that became
        // durable there without its ack (killed in between) is where the next cycle continues,
        // so this cycle may hold one more transaction past it than past the acks.
        var survived = [Int](repeating: 0, count: Self.workers)
        for cycle in 0..<20 {
            let runMilliseconds = 150 + Int(rng.next() % 500)
            let process = try await Self.runAndKill(helper, [path, ackPath, String(Self.workers)], after: runMilliseconds)
            #expect(process.terminationReason == .uncaughtSignal, "cycle \(cycle): helper exited by itself (\(process.terminationStatus))")

            var acked = [Int](repeating: 0, count: Self.workers)
            let lines = (try? String(contentsOfFile: ackPath, encoding: .utf8)) ?? ""
            for line in lines.split(separator: "\n") {
                let parts = line.split(separator: " ").compactMap { Int($0) }
                guard parts.count == 2 else { continue }  // a line cut by the kill was never acknowledged
                acked[parts[0]] = max(acked[parts[0]], parts[1])
            }
            totalAcks = acked.reduce(0, +)

            var options = EngineOptions()
            options.backgroundWork = false
            options.verifyOnOpen = true
            let engine = try await StorageEngine.open(path: path, options: options)
            let state = try await dumpBytes(engine, "t")
            for w in 0..<Self.workers {
                let last = state["w/\(w)/last"].map { Int(String(decoding: $0, as: UTF8.self))! } ?? 0
                #expect(last >= acked[w], "cycle \(cycle): worker \(w) acknowledged \(acked[w]) but only \(last) survived")
                #expect(last <= max(acked[w], survived[w]) + 1,
                        "cycle \(cycle): worker \(w) has \(last), more than one past its last ack \(acked[w]) and the \(survived[w]) found last cycle")
                survived[w] = last
                let keys = state.filter { $0.key.hasPrefix("w/\(w)/k/") }
                #expect(keys == Self.expectedKeys(worker: w, count: last), "cycle \(cycle): worker \(w) state is not that of transaction \(last)")
            }
            try await engine.close()
        }
        #expect(totalAcks > 100)
    }
}
