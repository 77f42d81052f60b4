import Foundation
import RedCore

/// A child started with posix_spawn and reaped with waitpid.
///
/// Foundation's `Process.waitUntilExit` relies on a SIGCHLD source that was seen to miss
/// `runuser`'s exit after `pg_ctl start` (the child stayed a zombie and the duel hung),
/// so the duel starts and reaps its children itself.
struct SpawnedProcess: Sendable {
    enum Output { case inherit, capture }

    let pid: pid_t
    /// Read end of the pipe carrying the child's captured stdout/stderr, or -1.
    let outputFD: Int32

    init(_ argv: [String], stdout: Output, stderr: Output) throws {
        var fds: [Int32] = [-1, -1]
        let capturing = stdout == .capture || stderr == .capture
        if capturing {
            guard pipe(&fds) == 0 else { throw RedError(.ioError, "pipe() failed: errno \(errno)") }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if stdout == .capture { posix_spawn_file_actions_adddup2(&actions, fds[1], 1) }
        if stderr == .capture { posix_spawn_file_actions_adddup2(&actions, fds[1], 2) }
        if capturing {
            posix_spawn_file_actions_addclose(&actions, fds[0])
            posix_spawn_file_actions_addclose(&actions, fds[1])
        }
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var childPID: pid_t = 0
        let result = posix_spawn(&childPID, argv[0], &actions, nil, cArguments, environ)
        if capturing { close(fds[1]) }
        guard result == 0 else {
            if capturing { close(fds[0]) }
            throw RedError(.internalError, "could not start \(argv[0]): \(String(cString: strerror(result)))")
        }
        pid = childPID
        outputFD = fds[0]
    }

    /// Everything the child writes until it closes its output; closes our end.
    func readAll() -> String {
        guard outputFD >= 0 else { return "" }
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(outputFD, &buffer, buffer.count)
            if n > 0 { data.append(contentsOf: buffer[0..<n]); continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        close(outputFD)
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads output until a line starting with `prefix` arrives; nil at EOF or after `timeout`.
    func readLine(startingWith prefix: String, timeout: Duration) -> String? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var collected = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while clock.now < deadline {
            var poller = pollfd(fd: outputFD, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 200)
            if ready < 0 && errno != EINTR { return nil }
            guard ready > 0 else { continue }
            let n = read(outputFD, &buffer, buffer.count)
            if n == 0 { return nil }
            if n < 0 { if errno == EINTR { continue }; return nil }
            collected.append(contentsOf: buffer[0..<n])
            let text = String(decoding: collected, as: UTF8.self)
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) { return String(line) }
        }
        return nil
    }

    /// Blocks until the child exits; its exit status (128 + signal when killed).
    @discardableResult
    func waitForExit() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Whether the child has exited (reaping it if so).
    func hasExited() -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == pid
    }
}
