import Foundation
import RedCore

/// Runs helper programs (initdb, pg_ctl, our own `red server`) for the duel.
///
/// PostgreSQL refuses to run as root and these machines run as root, so when we are
/// root every PostgreSQL program runs through `runuser -u USER --` as the `postgres`
/// system user (or `nobody` where there is none); its directories are chowned to it.
enum ChildProcess {
    /// Runs a program to completion; throws with its output when it exits non-zero.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], asUser user: String? = nil) throws -> String {
        var argv = [executable] + arguments
        if let user {
            argv = [try locate("runuser", in: ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]), "-u", user, "--"] + argv
        }
        let child = try SpawnedProcess(argv, stdout: .capture, stderr: .capture)
        let output = child.readAll()
        let status = child.waitForExit()
        guard status == 0 else {
            let name = (executable as NSString).lastPathComponent
            throw RedError(.internalError, "\(name) \(arguments.joined(separator: " ")) failed (exit \(status)):\n\(output)")
        }
        return output
    }

    /// The first executable called `name` in `directories`, then on PATH.
    static func locate(_ name: String, in directories: [String]) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map(String.init) ?? []
        for directory in directories + path {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw RedError(.internalError, "\(name) not found (looked in \((directories + path).joined(separator: ", ")))")
    }

    /// The unprivileged user PostgreSQL runs as when we are root; nil when we are not root.
    static func postgresUser() -> (name: String, uid: uid_t, gid: gid_t)? {
        guard getuid() == 0 else { return nil }
        for name in ["postgres", "nobody"] {
            if let entry = getpwnam(name) { return (name, entry.pointee.pw_uid, entry.pointee.pw_gid) }
        }
        return nil
    }

    /// A loopback TCP port nobody listens on right now (bound to port 0, then released).
    static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RedError(.ioError, "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw RedError(.ioError, "bind() failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

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

/// Cleanup actions run once, on normal exit or on Ctrl-C / SIGTERM, so that neither the
/// PostgreSQL cluster nor our server outlives the duel, and their directories go too.
public final class DuelCleanup: @unchecked Sendable {
    public static let shared = DuelCleanup()
    private let lock = NSLock()
    private var actions: [(id: Int, action: () -> Void)] = []
    private var nextID = 0
    private var signalSources: [DispatchSourceSignal] = []
    private var interrupted = false

    /// True once Ctrl-C or SIGTERM arrived: the handler is tearing down and will exit 130.
    public var isInterrupted: Bool {
        lock.lock(); defer { lock.unlock() }
        return interrupted
    }

    /// After an interrupt, failures of the run are only the servers going away: park the
    /// caller until the handler's `exit(130)` so that no other exit code or report wins.
    public func parkIfInterrupted() async {
        while isInterrupted { try? await Task.sleep(for: .seconds(1)) }
    }

    /// Registers an action; returns a token for `remove`. Actions run last-registered first.
    func add(_ action: @escaping () -> Void) -> Int {
        lock.lock(); defer { lock.unlock() }
        nextID += 1
        actions.append((nextID, action))
        return nextID
    }

    func remove(_ id: Int) {
        lock.lock(); defer { lock.unlock() }
        actions.removeAll { $0.id == id }
    }

    /// Runs and forgets every registered action.
    public func runAll() {
        lock.lock()
        let pending = actions.reversed().map(\.action)
        actions.removeAll()
        lock.unlock()
        for action in pending { action() }
    }

    /// On SIGINT or SIGTERM: clean up, then exit 130 (the shell's code for Ctrl-C).
    public func installSignalHandlers() {
        lock.lock(); defer { lock.unlock() }
        guard signalSources.isEmpty else { return }
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [self] in
                lock.lock()
                interrupted = true
                lock.unlock()
                FileHandle.standardError.write(Data("\ninterrupted: stopping both servers and removing their data\n".utf8))
                runAll()
                exit(130)
            }
            source.resume()
            signalSources.append(source)
        }
    }
}
