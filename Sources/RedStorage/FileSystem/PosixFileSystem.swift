#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import RedCore

/// The real file system: pread/pwrite, fdatasync, flock.
public struct PosixFileSystem: FileSystem {
    public init() {}

    public func openFile(_ path: String, create: Bool) throws -> any StorageFile {
        let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0)
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else { throw PosixFileSystem.error("open", path) }
        return PosixFile(fd: fd, path: path)
    }

    public func fileExists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    public func removeFile(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else { throw PosixFileSystem.error("unlink", path) }
    }

    public func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw PosixFileSystem.error("opendir", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public func createDirectory(_ path: String) throws {
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw PosixFileSystem.error("mkdir", path) }
    }

    public func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PosixFileSystem.error("open directory", path) }
        defer { _ = Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw PosixFileSystem.error("fsync directory", path) }
    }

    static func error(_ call: String, _ path: String) -> RedError {
        let code = errno
        let text = String(cString: strerror(code))
        return RedError(.ioError, "\(call) \(path) failed: \(text) (errno \(code))")
    }
}

/// One open file descriptor. Thread-safe: pread/pwrite carry their own offset.
public final class PosixFile: StorageFile, @unchecked Sendable {
    public let path: String
    private let fd: Int32

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { _ = Glibc.close(fd) }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw PosixFileSystem.error("pread", path)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw PosixFileSystem.error("pwrite", path)
            }
            done += n
        }
    }

    public func size() throws -> UInt64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw PosixFileSystem.error("fstat", path) }
        return UInt64(st.st_size)
    }

    public func truncate(to size: UInt64) throws {
        guard ftruncate(fd, off_t(size)) == 0 else { throw PosixFileSystem.error("ftruncate", path) }
    }

    public func sync() throws {
        guard fdatasync(fd) == 0 else { throw PosixFileSystem.error("fdatasync", path) }
    }

    public func lockExclusive() throws {
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            if errno == EWOULDBLOCK {
                throw RedError(.databaseLocked, "\(path) is locked by another process (is another server running on it?)")
            }
            throw PosixFileSystem.error("flock", path)
        }
    }

    public func close() throws {
        // The descriptor closes in deinit so that concurrent users never see a reused fd.
        _ = flock(fd, LOCK_UN)
    }
}
