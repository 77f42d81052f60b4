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
