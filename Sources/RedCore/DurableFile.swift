#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small state files beside a database (`-backup.json`, `-replication.json`,
/// `-runtime-state.json`) replaced whole: written to `<path>.tmp`, fsynced, renamed over
/// `path`, and the directory fsynced, so a crash or power loss leaves the old file or the new
/// one and a replacement that returned lasts.
public enum DurableFile {
    public static func replace(_ path: String, with bytes: [UInt8]) throws {
        let temporary = path + ".tmp"
        func failure(_ what: String) -> RedError {
            RedError(.ioError, "cannot \(what) \(temporary): \(String(cString: strerror(errno)))")
        }
        let fd = open(temporary, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("create") }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            let error = failure("write")
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let error = RedError(.ioError, "cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))")
            unlink(temporary)
            throw error
        }
        try syncDirectory(of: path)
    }

    /// Makes a rename or creation in `path`'s directory durable.
    public static func syncDirectory(of path: String) throws {
        var directory = path
        if let slash = directory.lastIndex(of: "/") {
            directory = slash == directory.startIndex ? "/" : String(directory[..<slash])
        } else {
            directory = "."
        }
        let fd = open(directory, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RedError(.ioError, "cannot open \(directory) to sync it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw RedError(.ioError, "cannot sync \(directory): \(String(cString: strerror(errno)))") }
    }
}
