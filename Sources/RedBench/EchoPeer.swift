import Foundation
import Glibc
import RedCore

/// The loopback floor of `red bench surfaces`: a process of its own that echoes bytes back,
/// reached from the same blocking-socket probe as the servers.
///
/// Why a process, not a thread of the bench: on this VM (two vCPUs, no guest halt polling) a
/// round trip between two threads of one process was 5.7 µs in one run and 60 µs in the next
/// (a C pair of threads measured the same), depending on whether the scheduler kept both on
/// one vCPU or woke a halted one for each message. Between two processes it was 6.5–6.6 µs in
/// every run, as the servers are: each is a process of its own. With the echo in a thread the
/// floor read 52–56 µs while RedWire's `SELECT 1` from the same probe took 19 µs, a floor above
/// the thing it bounds.
public enum EchoPeer {
    /// The first line the peer prints: this prefix, then its port.
    static let readyPrefix = "echo-peer port="

    /// Serves until killed, or until the bench that started it is gone: prints the ready line,
    /// then echoes each connection in turn until it closes.
    public static func serve() throws {
        let bench = getppid()
        let listener = try LoopbackSocket.listenLoopback()
        FileHandle.standardOutput.write(Data((readyPrefix + String(try listener.localPort()) + "\n").utf8))
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            guard let connection = try? listener.accept() else {
                // The listener's wait limit ran out: go if the bench died without stopping us.
                if getppid() != bench { return }
                continue
            }
            while let n = try? connection.readSome(&buffer), n > 0 {
                if (try? connection.writeAll(buffer[0..<n])) == nil { break }
            }
            connection.close()
        }
    }
}

/// `red bench echo-peer`, started by the bench and stopped by it (or by the cleanup on Ctrl-C).
final class EchoPeerProcess: @unchecked Sendable {
    private let child: SpawnedProcess
    let port: Int
    private var cleanupToken: Int?

    init(executable: String) throws {
        let child = try SpawnedProcess([executable, "bench", "echo-peer"], stdout: .capture, stderr: .inherit)
        self.child = child
        cleanupToken = DuelCleanup.shared.add {
            kill(child.pid, SIGKILL)
            child.waitForExit()
        }
        guard let line = child.readLine(startingWith: EchoPeer.readyPrefix, timeout: .seconds(30)),
              let port = Int(line.dropFirst(EchoPeer.readyPrefix.count)) else {
            if let token = cleanupToken { DuelCleanup.shared.remove(token) }
            kill(child.pid, SIGKILL)
            child.waitForExit()
            close(child.outputFD)
            throw RedError(.internalError, "the echo peer (red bench echo-peer) did not start")
        }
        self.port = port
    }

    func stop() {
        guard let token = cleanupToken else { return }
        cleanupToken = nil
        DuelCleanup.shared.remove(token)
        kill(child.pid, SIGKILL)
        child.waitForExit()
        close(child.outputFD)
    }
}
