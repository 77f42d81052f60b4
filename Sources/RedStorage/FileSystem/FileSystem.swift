import RedCore

/// Every byte RedStorage reads or writes goes through this seam.
///
/// Two implementations exist: `PosixFileSystem` (pread/pwrite, fdatasync,
/// flock) for real use, and `SimulatedFileSystem`, which keeps written but
/// unsynced data apart so a test can "pull the plug" and see exactly what a
/// power loss could leave behind.
///
/// Durability contract the engine relies on (and the simulation enforces):
/// - `write` is not durable until `sync` on the same file returns.
/// - A newly created file, or a removed one, is not durable until
///   `syncDirectory` on its parent returns.
/// - Unsynced writes may be lost, torn at sector granularity, or persisted
///   out of order after a crash.
public protocol FileSystem: Sendable {
    /// Opens (optionally creating) a regular file for reading and writing.
    func openFile(_ path: String, create: Bool) throws -> any StorageFile
    func fileExists(_ path: String) -> Bool
    func removeFile(_ path: String) throws
    /// Names (not paths) of the entries in a directory.
    func listDirectory(_ path: String) throws -> [String]
    /// Creates a directory if it does not exist (parents must exist).
    func createDirectory(_ path: String) throws
    /// Makes creations and removals of entries in `path` durable.
    func syncDirectory(_ path: String) throws
}

/// An open file. Offsets are absolute; there is no file position.
public protocol StorageFile: AnyObject, Sendable {
    var path: String { get }
    /// Reads up to `buffer.count` bytes at `offset`; returns fewer only at end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int
    /// Writes all of `bytes` at `offset`, extending the file if needed.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws
    func size() throws -> UInt64
    func truncate(to size: UInt64) throws
    /// Makes every earlier write to this file durable (fdatasync).
    func sync() throws
    /// Takes an exclusive advisory lock without waiting; throws `.databaseLocked` if held elsewhere.
    func lockExclusive() throws
    func close() throws
}

extension StorageFile {
    /// Reads exactly `count` bytes at `offset`, or throws `.dataCorrupted` if the file is shorter.
    public func readExactly(_ count: Int, at offset: UInt64) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let n = try out.withUnsafeMutableBytes { try read(into: $0, at: offset) }
        guard n == count else {
            throw RedError(.dataCorrupted, "\(path): expected \(count) bytes at offset \(offset), file ends after \(n)")
        }
        return out
    }

    /// Reads up to `count` bytes at `offset` (fewer at end of file).
    public func readUpTo(_ count: Int, at offset: UInt64) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let n = try out.withUnsafeMutableBytes { try read(into: $0, at: offset) }
        if n < count { out.removeLast(count - n) }
        return out
    }

    public func write(_ bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { try write($0, at: offset) }
    }
}

/// Path helpers (no Foundation dependency on hot paths).
public enum FilePath {
    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    public static func name(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
