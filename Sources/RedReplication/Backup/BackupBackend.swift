import Crypto
import Foundation
import RedCore
import RedStorage

/// Where backups go (spec: replication-mcp-ai-ops §7.1): a store of named blobs. Keys are
/// `/`-separated relative paths (`clusters/dev/snapshots/…`); every write replaces the blob
/// whole, so a reader sees the old blob or the new one, never a mix. Implemented by
/// `FileSystemBackend` (`RED_BACKEND=fs`) and `S3Backend` (`RED_BACKEND=s3|minio|r2`).
public protocol BackupBackend: Sendable {
    /// For logs and `/backup/status`: `fs:/var/backups`, `s3://bucket/prefix` (no secrets).
    var description: String { get }
    func put(_ key: String, bytes: [UInt8]) async throws
    /// Uploads the file at `path` without holding it in memory.
    func putFile(_ key: String, from path: String) async throws
    /// The blob, nil when there is none. At most `BackupLimits.maxBlobInMemory` bytes.
    func get(_ key: String) async throws -> [UInt8]?
    /// Downloads the blob into a new file at `path`; false when there is none.
    func getFile(_ key: String, to path: String) async throws -> Bool
    /// Every key starting with `prefix`, sorted.
    func list(prefix: String) async throws -> [String]
    func delete(_ key: String) async throws
}

/// A backend that can compare-and-swap a blob (spec ops §1.10), which the writer lease needs:
/// a write or delete that happens only if the blob is still the version read (or absent).
/// fs: the version is the content's SHA-256, checked and written under an exclusive lock;
/// S3: the ETag, with `If-Match` / `If-None-Match: *`.
public protocol ConditionalBackend: BackupBackend {
    /// The blob and its version token; nil when absent.
    func getVersioned(_ key: String) async throws -> (bytes: [UInt8], version: String)?
    /// Writes only if the blob is absent (`version` nil) or still at `version`; false when not.
    func put(_ key: String, bytes: [UInt8], ifVersion version: String?) async throws -> Bool
    /// Deletes only if the blob is still at `version`; false when not.
    func delete(_ key: String, ifVersion version: String) async throws -> Bool
}

public enum BackupLimits {
    /// Largest blob read into memory (manifests, WAL segments); snapshots go through files.
    public static let maxBlobInMemory = 512 << 20
    /// Longest key accepted.
    public static let maxKeyBytes = 1_024

    /// Refuses keys that could leave the backend's namespace or that no store accepts.
    static func check(_ key: String) throws {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard !key.isEmpty, key.utf8.count <= maxKeyBytes, !key.hasPrefix("/"),
              !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }),
              !key.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "\\" }) else {
            throw RedError(.invalidArgument, "invalid backup key \"\(key)\": use relative /-separated names without '.', '..' or empty parts")
        }
    }
}

/// A directory as a backend (`RED_BACKEND=fs`, `RED_FS_PATH`). Writes go to a temporary file
/// that is fsynced and renamed into place (then the directory fsynced), so a crash leaves the
/// old blob or the new one, and an acknowledged upload survives power loss.
public struct FileSystemBackend: ConditionalBackend {
    public let root: String
    public var description: String { "fs:\(root)" }

    public init(root: String) {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    func path(_ key: String) throws -> String {
        try BackupLimits.check(key)
        return root + "/" + key
    }

    public func put(_ key: String, bytes: [UInt8]) async throws {
        let target = try path(key)
        try write(to: target) { handle in try handle.write(contentsOf: Data(bytes)) }
    }

    public func putFile(_ key: String, from source: String) async throws {
        let target = try path(key)
        guard let input = FileHandle(forReadingAtPath: source) else { throw RedError(.ioError, "cannot read \(source)") }
        defer { try? input.close() }
        try write(to: target) { handle in
            while let chunk = try input.read(upToCount: 4 << 20), !chunk.isEmpty {
                try handle.write(contentsOf: chunk)
                try Task.checkCancellation()
            }
        }
    }

    private func write(to target: String, _ body: (FileHandle) throws -> Void) throws {
        let directory = (target as NSString).deletingLastPathComponent
        let files = FileManager.default
        // The directories this write creates, outermost first: each is fsynced into its parent,
        // so the blob's path survives power loss along with the blob.
        var created: [String] = []
        var missing = directory
        while !missing.isEmpty, missing != "/", !files.fileExists(atPath: missing) {
            created.insert(missing, at: 0)
            missing = (missing as NSString).deletingLastPathComponent
        }
        do {
            try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for path in created { try PosixFileSystem().syncDirectory((path as NSString).deletingLastPathComponent) }
        } catch {
            throw RedError(.ioError, "cannot create \(directory): \(error.localizedDescription)")
        }
        let temporary = target + ".tmp-" + UUID().uuidString.prefix(8)
        guard files.createFile(atPath: temporary, contents: nil), let handle = FileHandle(forWritingAtPath: temporary) else {
            throw RedError(.ioError, "cannot create \(temporary)")
        }
        do {
            try body(handle)
            try handle.synchronize()
            try handle.close()
            guard rename(temporary, target) == 0 else { throw RedError(.ioError, "cannot rename \(temporary) to \(target): errno \(errno)") }
            try PosixFileSystem().syncDirectory(directory)
        } catch {
            try? handle.close()
            try? files.removeItem(atPath: temporary)
            if let error = error as? RedError { throw error }
            throw RedError(.ioError, "cannot write \(target): \(error.localizedDescription)")
        }
    }

    public func get(_ key: String) async throws -> [UInt8]? {
        let source = try path(key)
        guard let handle = FileHandle(forReadingAtPath: source) else { return nil }
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        guard size <= UInt64(BackupLimits.maxBlobInMemory) else {
            throw RedError(.limitExceeded, "backup blob \(key) is \(size) bytes, over \(BackupLimits.maxBlobInMemory)")
        }
        try handle.seek(toOffset: 0)
        return [UInt8](try handle.readToEnd() ?? Data())
    }

    public func getFile(_ key: String, to destination: String) async throws -> Bool {
        let source = try path(key)
        guard FileManager.default.fileExists(atPath: source) else { return false }
        do {
            try FileManager.default.copyItem(atPath: source, toPath: destination)
        } catch {
            throw RedError(.ioError, "cannot copy \(source) to \(destination): \(error.localizedDescription)")
        }
        return true
    }

    public func list(prefix: String) async throws -> [String] {
        // Walk the deepest directory the prefix names, then filter by the whole prefix.
        let directoryPart = prefix.contains("/") ? String(prefix[..<prefix.lastIndex(of: "/")!]) : ""
        if !directoryPart.isEmpty { try BackupLimits.check(directoryPart) }
        let base = directoryPart.isEmpty ? root : root + "/" + directoryPart
        guard let walker = FileManager.default.enumerator(atPath: base) else { return [] }
        var keys: [String] = []
        while let relative = walker.nextObject() as? String {
            let key = directoryPart.isEmpty ? relative : directoryPart + "/" + relative
            guard key.hasPrefix(prefix), !relative.contains(".tmp-"), !relative.hasSuffix(".lock") else { continue }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: base + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue {
                keys.append(key)
            }
        }
        return keys.sorted()
    }

    public func delete(_ key: String) async throws {
        let target = try path(key)
        do {
            try FileManager.default.removeItem(atPath: target)
        } catch CocoaError.fileNoSuchFile {
            return
        } catch {
            if !FileManager.default.fileExists(atPath: target) { return }
            throw RedError(.ioError, "cannot delete \(target): \(error.localizedDescription)")
        }
    }

    // MARK: Compare-and-swap

    public func getVersioned(_ key: String) async throws -> (bytes: [UInt8], version: String)? {
        try await withKeyLock(key) { try await self.versioned(key) }
    }

    public func put(_ key: String, bytes: [UInt8], ifVersion version: String?) async throws -> Bool {
        try await withKeyLock(key) {
            guard try await self.versioned(key)?.version == version else { return false }
            try await self.put(key, bytes: bytes)
            return true
        }
    }

    public func delete(_ key: String, ifVersion version: String) async throws -> Bool {
        try await withKeyLock(key) {
            guard try await self.versioned(key)?.version == version else { return false }
            try await self.delete(key)
            return true
        }
    }

    private func versioned(_ key: String) async throws -> (bytes: [UInt8], version: String)? {
        try await get(key).map { ($0, S3Signer.hex(SHA256.hash(data: $0))) }
    }

    /// Holds an exclusive `flock` on `<key>.lock` (other processes and other calls here alike)
    /// while `body` reads and writes the blob; gives up after 10 s.
    private func withKeyLock<R: Sendable>(_ key: String, _ body: () async throws -> R) async throws -> R {
        let lockPath = try path(key) + ".lock"
        try FileManager.default.createDirectory(atPath: (lockPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RedError(.ioError, "cannot open \(lockPath): errno \(errno)") }
        defer { close(fd) }
        let deadline = ContinuousClock.now + .seconds(10)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR, ContinuousClock.now < deadline else {
                throw RedError(.ioError, "cannot lock \(lockPath): errno \(errno)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        defer { flock(fd, LOCK_UN) }
        return try await body()
    }
}
