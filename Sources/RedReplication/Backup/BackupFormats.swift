import Crypto
import Foundation
import RedCore
import RedEngine

/// Where a backup's blobs live in the backend (spec ops §7.2). The namespace is the parent of
/// `RED_REMOTE_KEY` (`clusters/dev/data.rdb` → `clusters/dev/`):
/// - snapshots: `<snapshots>/<snapshot_id:012>-<unix_ms>.snapshot` and `….snapshot.manifest.json`;
/// - WAL segments: `<wal>/<lsn_start:012>-<lsn_end:012>.wal` and `….wal.manifest.json`;
/// - the head: `manifests/head.json`, rewritten after every snapshot and segment.
public struct BackupLayout: Sendable, Equatable {
    public var snapshotPrefix: String
    public var walPrefix: String
    public var headKey: String
    /// `MANIFEST.json`: every snapshot and segment in the namespace (`BackupCatalog`).
    public var catalogKey: String
    public var timelineID: String

    public init(remoteKey: String = "clusters/dev/data.rdb", timelineID: String = "main") {
        let namespace = remoteKey.contains("/") ? String(remoteKey[...remoteKey.lastIndex(of: "/")!]) : ""
        snapshotPrefix = namespace + "snapshots/"
        walPrefix = namespace + "wal/"
        headKey = namespace + "manifests/head.json"
        catalogKey = namespace + "MANIFEST.json"
        self.timelineID = timelineID
    }

    func snapshotKey(id: Int64, time: Int64) -> String { snapshotPrefix + String(format: "%012lld-%lld.snapshot", id, time) }
    func segmentKey(start: UInt64, end: UInt64) -> String { walPrefix + String(format: "%012llu-%012llu.wal", start, end) }
    static let manifestSuffix = ".manifest.json"
}

/// A snapshot's sidecar manifest.
public struct SnapshotManifest: Sendable, Equatable {
    public var timelineID: String
    public var snapshotKey: String
    public var snapshotID: Int64
    /// Unix milliseconds when the snapshot was taken.
    public var snapshotTime: Int64
    /// The LSN the snapshot is consistent with: records after it are replayed on top.
    public var baseLSN: UInt64
    public var sha256: String
    public var bytes: Int64
    /// Where the WAL segments that continue this snapshot are (`wal/<database_id>/`).
    public var walPrefix: String

    static let formatVersion: Int64 = 1

    var json: JSONValue {
        .object([("timeline_id", .string(timelineID)), ("snapshot_key", .string(snapshotKey)), ("snapshot_id", .integer(snapshotID)),
                 ("snapshot_time", .integer(snapshotTime)), ("base_lsn", .integer(Int64(baseLSN))), ("schema_version", .integer(1)),
                 ("format_version", .integer(Self.formatVersion)), ("snapshot_sha256", .string(sha256)), ("bytes", .integer(bytes)),
                 ("wal_prefix", .string(walPrefix))])
    }
}

extension SnapshotManifest {
    /// Read back from the backend; errors name the blob.
    init(json: JSONValue, key: String) throws {
        let fields = try ManifestFields(json, key)
        timelineID = try fields.string("timeline_id")
        snapshotKey = try fields.string("snapshot_key")
        snapshotID = try fields.integer("snapshot_id")
        snapshotTime = try fields.integer("snapshot_time")
        baseLSN = UInt64(try fields.integer("base_lsn"))
        sha256 = try fields.string("snapshot_sha256")
        bytes = (try? fields.integer("bytes")) ?? 0
        walPrefix = try fields.string("wal_prefix")
        guard (try? fields.integer("format_version")) ?? 1 == Self.formatVersion else {
            throw RedError(.unsupportedFormat, "backup manifest \(key) has a format version this server cannot read")
        }
    }
}

/// A WAL segment's sidecar manifest: its hash and its predecessor's, which chain the segments.
public struct SegmentManifest: Sendable, Equatable {
    public var key: String
    public var lsnStart: UInt64
    public var lsnEnd: UInt64
    public var sha256: String
    /// The sha256 of the segment archived before this one; empty for the first.
    public var previousHash: String
    public var records: Int
    /// Commit times (Unix ms) of the first and last record; 0 when unknown.
    public var firstTime: Int64
    public var lastTime: Int64

    var json: JSONValue {
        .object([("segment_key", .string(key)), ("lsn_start", .integer(Int64(lsnStart))), ("lsn_end", .integer(Int64(lsnEnd))),
                 ("sha256", .string(sha256)), ("prev_hash", .string(previousHash)), ("records", .integer(Int64(records))),
                 ("first_timestamp", .integer(firstTime)), ("last_timestamp", .integer(lastTime))])
    }
}

extension SegmentManifest {
    /// Read back from the backend; errors name the blob.
    init(json: JSONValue, key: String) throws {
        let fields = try ManifestFields(json, key)
        self.key = try fields.string("segment_key")
        lsnStart = UInt64(try fields.integer("lsn_start"))
        lsnEnd = UInt64(try fields.integer("lsn_end"))
        sha256 = try fields.string("sha256")
        previousHash = try fields.string("prev_hash")
        records = Int(try fields.integer("records"))
        firstTime = try fields.integer("first_timestamp")
        lastTime = try fields.integer("last_timestamp")
        guard lsnStart < lsnEnd else { throw RedError(.dataCorrupted, "backup manifest \(key): lsn_start is not below lsn_end") }
    }
}

/// `manifests/head.json`: the newest snapshot and how far the WAL is archived.
public struct BackupHead: Sendable, Equatable {
    public var timelineID: String
    public var snapshotKey: String
    public var snapshotID: Int64
    public var snapshotTime: Int64
    public var currentLSN: UInt64
    public var lastArchivedLSN: UInt64
    public var lastSegmentHash: String
    public var walPrefix: String

    var json: JSONValue {
        .object([("timeline_id", .string(timelineID)), ("snapshot_key", .string(snapshotKey)), ("snapshot_id", .integer(snapshotID)),
                 ("snapshot_time", .integer(snapshotTime)), ("current_lsn", .integer(Int64(currentLSN))),
                 ("last_archived_lsn", .integer(Int64(lastArchivedLSN))), ("last_segment_hash", .string(lastSegmentHash)),
                 ("wal_prefix", .string(walPrefix))])
    }
}

extension BackupHead {
    /// Read back from the backend; errors name the blob.
    init(json: JSONValue, key: String) throws {
        let fields = try ManifestFields(json, key)
        timelineID = try fields.string("timeline_id")
        snapshotKey = try fields.string("snapshot_key")
        snapshotID = try fields.integer("snapshot_id")
        snapshotTime = try fields.integer("snapshot_time")
        currentLSN = UInt64(try fields.integer("current_lsn"))
        lastArchivedLSN = UInt64(try fields.integer("last_archived_lsn"))
        lastSegmentHash = (try? fields.string("last_segment_hash")) ?? ""
        walPrefix = try fields.string("wal_prefix")
    }
}

/// Reads a manifest's fields with errors that name the blob.
struct ManifestFields {
    let json: JSONValue
    let key: String

    init(_ json: JSONValue, _ key: String) throws {
        guard case .object = json else { throw RedError(.dataCorrupted, "backup manifest \(key) is not a JSON object") }
        self.json = json
        self.key = key
    }

    func string(_ name: String) throws -> String {
        guard case .string(let s)? = json[name] else { throw RedError(.dataCorrupted, "backup manifest \(key) lacks \(name)") }
        return s
    }

    func integer(_ name: String) throws -> Int64 {
        guard case .integer(let n)? = json[name], n >= 0 else { throw RedError(.dataCorrupted, "backup manifest \(key) lacks \(name)") }
        return n
    }

    static func load(_ bytes: [UInt8], key: String) throws -> JSONValue {
        do { return try JSONValue.parse(utf8: bytes) } catch { throw RedError(.dataCorrupted, "backup manifest \(key) is not JSON") }
    }
}

/// A WAL segment: commit records as the spec's spool frames (ops §1.3, v2), the LSN being the
/// record's end LSN and the payload our commit record:
/// `"RDLW" | 0x02 | lsn u64 | timestamp_ms u64 | payload_len u32 | payload | crc32 u32` (little-endian;
/// the CRC covers the version byte through the payload).
public enum WALSegment {
    public struct Record: Sendable, Equatable {
        public var endLSN: UInt64
        public var timeMilliseconds: Int64
        public var payload: [UInt8]
    }

    static let magic: [UInt8] = Array("RDLW".utf8)
    static let version: UInt8 = 2
    static let maxPayload = 256 << 20

    static func encode(_ records: [Record]) -> [UInt8] {
        var w = ByteWriter()
        for record in records {
            w.append(magic)
            let start = w.bytes.count
            w.u8(version)
            w.u64(record.endLSN)
            w.u64(UInt64(bitPattern: record.timeMilliseconds))
            w.u32(UInt32(record.payload.count))
            w.append(record.payload)
            let crc = w.bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[start...])) }
            w.u32(crc)
        }
        return w.bytes
    }

    /// Every frame, or an error naming the segment at the first bad one (no partial answers:
    /// a segment is verified whole before anything of it is applied).
    static func decode(_ bytes: [UInt8], key: String) throws -> [Record] {
        var records: [Record] = []
        var r = ByteReader(bytes, context: "WAL segment \(key)")
        while !r.isAtEnd {
            guard try r.take(4) == magic else { throw RedError(.dataCorrupted, "WAL segment \(key): bad frame magic") }
            let start = r.offset
            guard try r.u8() == version else { throw RedError(.dataCorrupted, "WAL segment \(key): unknown frame version") }
            let lsn = try r.u64()
            let time = Int64(bitPattern: try r.u64())
            let length = Int(try r.u32())
            guard length <= maxPayload else { throw RedError(.dataCorrupted, "WAL segment \(key): a frame claims \(length) bytes") }
            let payload = try r.take(length)
            let end = r.offset
            let crc = try r.u32()
            guard bytes.withUnsafeBytes({ CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }) == crc else {
                throw RedError(.dataCorrupted, "WAL segment \(key): a frame fails its checksum")
            }
            records.append(Record(endLSN: lsn, timeMilliseconds: time, payload: payload))
        }
        return records
    }
}

/// A snapshot blob: the files of an export (`Database.export`) in one stream, so one upload
/// carries a database that opens by itself.
/// `"RDBSNAP1" | { u16 name_len | name | u64 length | bytes }* | u16 0`; names are `main` for
/// the data file and `wal/<file>` for its WAL directory's files.
public enum SnapshotArchive {
    static let magic: [UInt8] = Array("RDBSNAP1".utf8)
    static let maxName = 255

    /// Packs the database at `databasePath` into `archivePath`; returns its SHA-256 (hex) and size.
    public static func pack(databasePath: String, into archivePath: String) throws -> (sha256: String, bytes: Int64) {
        let files = FileManager.default
        let walDirectory = StorageEngine.walDirectory(for: databasePath)
        var entries = [("main", databasePath)]
        for name in ((try? files.contentsOfDirectory(atPath: walDirectory)) ?? []).sorted() {
            entries.append(("wal/" + name, walDirectory + "/" + name))
        }
        guard files.createFile(atPath: archivePath, contents: nil), let out = FileHandle(forWritingAtPath: archivePath) else {
            throw RedError(.ioError, "cannot create \(archivePath)")
        }
        defer { try? out.close() }
        var hasher = SHA256()
        var total: Int64 = 0
        func emit(_ bytes: [UInt8]) throws {
            hasher.update(data: bytes)
            try out.write(contentsOf: Data(bytes))
            total += Int64(bytes.count)
        }
        try emit(magic)
        for (name, path) in entries {
            guard let input = FileHandle(forReadingAtPath: path) else { throw RedError(.ioError, "cannot read \(path)") }
            defer { try? input.close() }
            let size = try input.seekToEnd()
            try input.seek(toOffset: 0)
            var header = ByteWriter()
            header.u16(UInt16(name.utf8.count))
            header.append(Array(name.utf8))
            header.u64(size)
            try emit(header.bytes)
            var copied: UInt64 = 0
            while copied < size, let chunk = try input.read(upToCount: Int(min(4 << 20, size - copied))), !chunk.isEmpty {
                try emit([UInt8](chunk))
                copied += UInt64(chunk.count)
            }
            guard copied == size else { throw RedError(.ioError, "\(path) changed while it was archived") }
        }
        try emit([0, 0])
        try out.synchronize()
        return (S3Signer.hex(hasher.finalize()), total)
    }

    /// Checks the archive's SHA-256 against `sha256`, then unpacks it as the database at
    /// `databasePath` (which must not exist).
    static func unpack(_ archivePath: String, sha256 expected: String, into databasePath: String) throws {
        guard try hash(of: archivePath) == expected else {
            throw RedError(.dataCorrupted, "the snapshot's SHA-256 does not match its manifest; refusing to restore it")
        }
        guard let input = FileHandle(forReadingAtPath: archivePath) else { throw RedError(.ioError, "cannot read \(archivePath)") }
        defer { try? input.close() }
        func read(_ count: Int) throws -> [UInt8] {
            guard let data = try input.read(upToCount: count), data.count == count else {
                throw RedError(.dataCorrupted, "the snapshot archive ends early")
            }
            return [UInt8](data)
        }
        guard try read(magic.count) == magic else { throw RedError(.dataCorrupted, "not a RedDB snapshot archive") }
        let walDirectory = StorageEngine.walDirectory(for: databasePath)
        try FileManager.default.createDirectory(atPath: walDirectory, withIntermediateDirectories: true)
        while true {
            var r = ByteReader(try read(2), context: "snapshot archive")
            let nameLength = Int(try r.u16())
            if nameLength == 0 { break }
            guard nameLength <= maxName, let name = String(validating: try read(nameLength), as: UTF8.self) else {
                throw RedError(.dataCorrupted, "the snapshot archive has a bad file name")
            }
            var sizeReader = ByteReader(try read(8), context: "snapshot archive")
            let size = try sizeReader.u64()
            let target: String
            if name == "main" {
                target = databasePath
            } else if name.hasPrefix("wal/"), case let file = String(name.dropFirst(4)), !file.isEmpty, !file.contains("/"), file != "..", file != "." {
                target = walDirectory + "/" + file
            } else {
                throw RedError(.dataCorrupted, "the snapshot archive names an unexpected file \"\(name)\"")
            }
            guard FileManager.default.createFile(atPath: target, contents: nil), let out = FileHandle(forWritingAtPath: target) else {
                throw RedError(.ioError, "cannot create \(target)")
            }
            defer { try? out.close() }
            var left = size
            while left > 0 {
                let chunk = try read(Int(min(left, 4 << 20)))
                try out.write(contentsOf: Data(chunk))
                left -= UInt64(chunk.count)
            }
            try out.synchronize()
        }
    }

    static func hash(of path: String) throws -> String {
        guard let input = FileHandle(forReadingAtPath: path) else { throw RedError(.ioError, "cannot read \(path)") }
        defer { try? input.close() }
        var hasher = SHA256()
        while let chunk = try input.read(upToCount: 4 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return S3Signer.hex(hasher.finalize())
    }
}
