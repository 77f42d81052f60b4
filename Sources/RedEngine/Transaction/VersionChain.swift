import RedCore
import RedStorage

/// The versions of one key, newest first, as stored as the key's B+tree value.
///
/// Multi-version concurrency control keeps every version some snapshot may
/// still need inside the key's own record:
/// ```
/// u8 format (1) | varint count | count × (varint commitTS | u8 flags | [varint length | bytes])
/// flags bit 0 = tombstone (the key was deleted at commitTS; no value follows)
/// ```
/// A snapshot taken at timestamp S sees the first version with commitTS ≤ S;
/// if that is a tombstone, or there is none, the key is absent for it.
///
/// Trimming against the *horizon* H (the oldest snapshot still open) keeps
/// every version newer than H plus the newest one at or below H, which is
/// all any open or future snapshot can see, then drops tombstones from the
/// old end (a tombstone with nothing older means the same as no record).
struct VersionChain: Equatable {
    struct Version: Equatable {
        var commitTS: UInt64
        /// nil for a tombstone.
        var value: [UInt8]?
    }

    static let format: UInt8 = 1
    static let maxVersions = 1 << 20
    /// The most bytes a version adds to a chain besides its value: its commit timestamp, flags
    /// and length, and the version count's growth.
    static let maxVersionOverhead = 32

    /// Throws unless a record of `record` bytes with a version of `adding` value bytes added
    /// still fits a tree record (`BTree.maxRecordBytes`); `key` names the key for the message.
    ///
    /// Why before the commit is logged (`StorageEngine.logAndApply`): a record the tree refused
    /// after that would stop the engine, and replaying the log would meet the same refusal at
    /// every open. A key's record may outgrow one value because it keeps every version an open
    /// snapshot still sees; a record with a single version always fits (a test holds this).
    static func checkFits(record: Int, adding value: Int, key: () -> String) throws {
        guard record + value + maxVersionOverhead > BTree.maxRecordBytes else { return }
        throw RedError(.limitExceeded, "the versions of a key in \(key()) would take more than \(BTree.maxRecordBytes) bytes: end the older transactions whose snapshots keep its earlier versions, or write a smaller value")
    }

    var versions: [Version]

    init(versions: [Version]) { self.versions = versions }

    /// Decodes a chain; `context` (which record this is) is only built if decoding fails.
    init(decoding bytes: [UInt8], context: @autoclosure () -> String) throws {
        do {
            try self.init(decoding: bytes)
        } catch let error as RedError {
            throw RedError(error.code, "\(context()): \(error.message)")
        }
    }

    private init(decoding bytes: [UInt8]) throws {
        var reader = ByteReader(bytes, context: "version chain")
        guard try reader.u8() == Self.format else {
            throw RedError(.dataCorrupted, "unknown version-chain format")
        }
        let count = try reader.count(limit: Self.maxVersions, "version count")
        versions = []
        versions.reserveCapacity(count)
        for _ in 0..<count {
            let ts = try reader.varint()
            let flags = try reader.u8()
            if flags & 1 != 0 {
                versions.append(Version(commitTS: ts, value: nil))
            } else {
                versions.append(Version(commitTS: ts, value: try reader.lengthPrefixed(limit: Limits.maxValueBytes)))
            }
        }
    }

    func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 16 + versions.reduce(0) { $0 + ($1.value?.count ?? 0) + 12 })
        w.u8(Self.format)
        w.varint(UInt64(versions.count))
        for v in versions {
            w.varint(v.commitTS)
            if let value = v.value {
                w.u8(0)
                w.lengthPrefixed(value)
            } else {
                w.u8(1)
            }
        }
        return w.bytes
    }

    /// The encoding of a chain holding just `value` at `commitTS` (same bytes as `encode()`).
    static func encodeSingle(commitTS: UInt64, value: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: 24 + value.count)
        w.u8(Self.format)
        w.varint(1)
        w.varint(commitTS)
        w.u8(0)
        w.lengthPrefixed(value)
        return w.bytes
    }

    /// The bytes `encodeSingle` puts before the value, as a `ValueHead`: head + value is that
    /// encoding, which the tree writes without the two being joined in a new array.
    static func singleHead(commitTS: UInt64, valueLength: Int) -> ValueHead {
        var head = ValueHead()
        head.append(Self.format)
        head.appendVarint(1)
        head.appendVarint(commitTS)
        head.append(0)
        head.appendVarint(UInt64(valueLength))
        return head
    }

    /// Commit timestamp of the newest version (the one a write-write conflict check compares).
    var newestCommitTS: UInt64 { versions.first?.commitTS ?? 0 }

    /// The newest commit timestamp of an encoded chain, without decoding its values.
    static func newestCommitTS(of bytes: [UInt8], context: @autoclosure () -> String) throws -> UInt64 {
        do {
            var reader = ByteReader(bytes, context: "version chain")
            guard try reader.u8() == Self.format else {
                throw RedError(.dataCorrupted, "unknown version-chain format")
            }
            guard try reader.varint() > 0 else { return 0 }
            return try reader.varint()
        } catch let error as RedError {
            throw RedError(error.code, "\(context()): \(error.message)")
        }
    }

    /// The value an encoded chain shows a snapshot, decoding only that version (the read hot path).
    static func visibleValue(in bytes: [UInt8], at snapshot: UInt64, context: @autoclosure () -> String) throws -> [UInt8]? {
        try bytes.withUnsafeBytes { try visibleValueRange(in: $0, at: snapshot, context: context()) }.map { Array(bytes[$0]) }
    }

    /// Where in an encoded chain the value a snapshot sees lies (nil: none), read in place:
    /// a scan takes it straight from the leaf and copies out only that value.
    static func visibleValueRange(in bytes: UnsafeRawBufferPointer, at snapshot: UInt64,
                                  context: @autoclosure () -> String) throws -> Range<Int>? {
        var reader = ChainReader(bytes: bytes)
        do {
            guard try reader.u8() == Self.format else { throw RedError(.dataCorrupted, "unknown version-chain format") }
            let count = try reader.count(limit: Self.maxVersions, "version count")
            for _ in 0..<count {
                let ts = try reader.varint()
                let tombstone = try reader.u8() & 1 != 0
                if ts <= snapshot { return tombstone ? nil : try reader.run(limit: Limits.maxValueBytes) }
                if !tombstone { _ = try reader.run(limit: Limits.maxValueBytes) }
            }
            return nil
        } catch let error as RedError {
            throw RedError(error.code, "\(context()): \(error.message)")
        }
    }

    /// Reads a chain in place, checking every length as `ByteReader` does.
    private struct ChainReader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        func fail(_ what: String) -> RedError {
            RedError(.dataCorrupted, "version chain: truncated or malformed \(what) at byte \(offset)")
        }

        mutating func u8() throws -> UInt8 {
            guard offset < bytes.count else { throw fail("u8") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func varint() throws -> UInt64 {
            var result: UInt64 = 0
            for index in 0..<10 {
                let b = try u8()
                if index == 9 && b > 1 { throw fail("varint (overflow)") }
                result |= UInt64(b & 0x7F) << UInt64(7 * index)
                if b & 0x80 == 0 { return result }
            }
            throw fail("varint (too long)")
        }

        mutating func count(limit: Int, _ what: String) throws -> Int {
            let v = try varint()
            guard v <= UInt64(limit) else { throw RedError(.dataCorrupted, "version chain: \(what) \(v) exceeds limit \(limit) at byte \(offset)") }
            return Int(v)
        }

        /// A length-prefixed run: its place, skipped over.
        mutating func run(limit: Int) throws -> Range<Int> {
            let n = try count(limit: limit, "length")
            guard n <= bytes.count - offset else { throw fail("byte run of \(n)") }
            defer { offset += n }
            return offset..<(offset + n)
        }
    }

    /// The value visible to a snapshot at `snapshot`, nil if absent for it.
    func visible(at snapshot: UInt64) -> [UInt8]? {
        for v in versions where v.commitTS <= snapshot { return v.value }
        return nil
    }

    /// Drops versions no snapshot at or after `horizon` can see.
    mutating func trim(horizon: UInt64) {
        if let firstOld = versions.firstIndex(where: { $0.commitTS <= horizon }), firstOld + 1 < versions.count {
            versions.removeSubrange((firstOld + 1)...)
        }
        while let last = versions.last, last.value == nil { versions.removeLast() }
    }

    /// True if trimming at a later horizon could reclaim something.
    var holdsGarbage: Bool { versions.count > 1 }
}
