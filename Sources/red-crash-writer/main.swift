// red-crash-writer: a test helper for DurabilityTests.ProcessKillTests.
//
// Usage: red-crash-writer <database path> <ack file> <workers>
//
// Opens the database (full sync mode), then runs <workers> concurrent loops.
// Worker w continues from the last transaction it committed (key "w/<w>/last")
// and forever commits transaction j = last + 1, which sets "w/<w>/last" = j,
// sets "w/<w>/k/<j % 20>" to a payload (large every 50th), and deletes
// "w/<w>/k/<(j + 10) % 20>". After each acknowledged commit it appends
// "<w> <j>\n" to the ack file with one write(2), so the line survives the
// SIGKILL the test sends at a random moment.
#if canImport(Glibc)
import Glibc
#endif
import RedDB

@main
struct CrashWriter {
    static func payload(worker: Int, transaction j: Int) -> [UInt8] {
        let unit = Array("w\(worker)j\(j);".utf8)
        let size = j % 50 == 0 ? 20_000 : 64
        return (0..<size).map { unit[$0 % unit.count] }
    }

    static func main() async throws {
        let args = CommandLine.arguments
        guard args.count == 4, let workers = Int(args[3]) else {
            print("usage: red-crash-writer <database path> <ack file> <workers>")
            exit(2)
        }
        var options = EngineOptions()
        options.checkpointWALBytes = 256 << 10
        options.walSegmentBytes = 64 << 10
        options.cacheBytes = 512 << 10
        let engine = try await StorageEngine.open(path: args[1], options: options)
        let collection = try await engine.transaction { tx in
            try tx.collectionIfExists(named: "t") ?? tx.createCollection("t")
        }
        let ackFD = open(args[2], O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard ackFD >= 0 else { exit(3) }
        // The test kills this process; should the test process itself die first (a crash), the
        // writer would commit forever on its own, holding both cores. It leaves once orphaned.
        let parent = getppid()
        Task.detached {
            while getppid() == parent { try? await Task.sleep(for: .milliseconds(200)) }
            exit(5)
        }

        await withTaskGroup(of: Void.self) { group in
            for w in 0..<workers {
                group.addTask {
                    do {
                        let last = try await engine.transaction { tx in
                            try tx.get(collection, Array("w/\(w)/last".utf8)).map { Int(String(decoding: $0, as: UTF8.self))! } ?? 0
                        }
                        var j = last
                        while true {
                            j += 1
                            let tx = try engine.begin()
                            try tx.put(collection, Array("w/\(w)/last".utf8), Array(String(j).utf8))
                            try tx.put(collection, Array("w/\(w)/k/\(j % 20)".utf8), payload(worker: w, transaction: j))
                            try tx.delete(collection, Array("w/\(w)/k/\((j + 10) % 20)".utf8))
                            try await tx.commit()
                            let line = Array("\(w) \(j)\n".utf8)
                            _ = line.withUnsafeBytes { write(ackFD, $0.baseAddress, $0.count) }
                        }
                    } catch {
                        print("worker \(w) stopped: \(error)")
                        exit(4)
                    }
                }
            }
        }
    }
}
