#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Small files replaced whole (`-backup.json`, `-replication.json`, `-runtime-state.json`
/// beside a database; the self-signed TLS key and certificates): written to a fresh
/// `<path>.tmp-…`, fsynced, renamed over `path`, and the directory fsynced, so a crash or power
/// loss leaves the old file or the new one and a replacement that returned lasts.
public enum DurableFile {
    private static let counter = Atomic<Int>(0)

    /// `permissions` apply from the moment the file exists (a key is never readable by others,
    /// not even for a moment): the temporary file is always a new one. Its name carries the
    /// process and a counter, so two writers of one file (two requests, two processes) never
    /// write into each other's.
    public static func replace(_ path: String, with bytes: [UInt8], permissions: mode_t = 0o644) throws {
        let temporary = path + ".tmp-\(getpid())-\(counter.wrappingAdd(1, ordering: .relaxed).oldValue)"
        func failure(_ what: String) -> RedError {
            RedError(.ioError, "cannot \(what) \(temporary): \(String(cString: strerror(errno)))")
        }
        unlink(temporary)
        let fd = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, permissions)
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
