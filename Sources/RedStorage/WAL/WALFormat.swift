import RedCore

/// The bytes of the write-ahead log.
///
/// The WAL is a directory (`data.rdb-wal/`) of *segment* files named
/// `<16 lowercase hex digits of the segment's base LSN>.wal`.
///
/// **LSN** (log sequence number) = a global byte position in the log that
/// never resets: segment headers are not counted, so the record at LSN p
/// lives at file offset `32 + (p − base)` of the segment whose base ≤ p.
/// The first segment of a new log has base 0. A commit is identified by the
/// *end* LSN of its record: "LSN L is durable" means every byte below L is.
///
/// Segment header (32 bytes):
/// ```
/// [8] "RDBWAL01" | u32 version (1) | u32 0 | u64 baseLSN | u32 crc32(bytes 0..<24) | u32 0
/// ```
/// Record (32-byte header, payload, zero padding to a multiple of 8):
/// ```
/// u32 headerCRC   crc32 of header bytes 4..<32
/// u32 length      header + payload, unpadded
/// u64 lsn         the record's own position (a copy found elsewhere is not mistaken for it)
/// u64 syncedLSN   the durable LSN when the record was appended
/// u8  kind | 3 zero bytes
/// u32 payloadCRC  crc32 of the payload (computed outside the append lock)
/// ```
/// `syncedLSN` is what lets recovery tell a torn tail from damage: if a
/// valid record follows an invalid one at P and says P was already durable
/// when it was appended, P was acknowledged data the disk has since damaged.
enum WALFormat {
    static let segmentHeaderBytes = 32
    static let recordHeaderBytes = 32
    static let segmentMagic = Array("RDBWAL01".utf8)
    static let version: UInt32 = 1
    static let maxRecordBytes = recordHeaderBytes + Limits.maxTransactionBytes
    /// Largest LSN accepted from disk (4 EiB of log): arithmetic on LSNs read from a
    /// damaged or hostile file can then never overflow.
    static let maxLSN: UInt64 = 1 << 62

    static func padded(_ length: Int) -> Int { (length + 7) & ~7 }

    static func segmentName(base: UInt64) -> String {
        let hex = String(base, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex + ".wal"
    }

    /// The base LSN encoded in a segment file name, nil for other files.
    static func base(ofSegmentNamed name: String) -> UInt64? {
        guard name.count == 20, name.hasSuffix(".wal") else { return nil }
        return UInt64(name.prefix(16), radix: 16)
    }

    /// Throws unless `lsn` is within `maxLSN`.
    static func checkLSN(_ lsn: UInt64, _ what: @autoclosure () -> String) throws {
        guard lsn <= maxLSN else {
            throw RedError(.dataCorrupted, "\(what()): LSN \(lsn) is beyond the largest valid LSN \(maxLSN)")
        }
    }

    static func segmentHeader(base: UInt64) -> [UInt8] {
        var w = ByteWriter(capacity: segmentHeaderBytes)
        w.append(segmentMagic)
        w.u32(version)
        w.u32(0)
        w.u64(base)
        w.u32(CRC32.checksum(w.bytes))
        w.u32(0)
        return w.bytes
    }

    /// The base LSN of a valid segment header, nil if the header is damaged or absent.
    static func parseSegmentHeader(_ bytes: ArraySlice<UInt8>) throws -> UInt64? {
        guard bytes.count >= segmentHeaderBytes else { return nil }
        let h = Array(bytes.prefix(segmentHeaderBytes))
        guard Array(h[0..<8]) == segmentMagic, CRC32.checksum(Array(h[0..<24])) == le32(h, 24) else { return nil }
        let version = le32(h, 8)
        guard version <= Self.version else {
            throw RedError(.unsupportedFormat, "WAL segment format version \(version) is newer than this build supports")
        }
        return le64(h, 16)
    }

    /// Writes a record header into `buffer` at `offset` (which must hold 32 bytes).
    static func writeRecordHeader(into buffer: inout [UInt8], at offset: Int, length: Int, lsn: UInt64,
                                  syncedLSN: UInt64, kind: UInt8, payloadCRC: UInt32) {
        func put32(_ o: Int, _ v: UInt32) { for i in 0..<4 { buffer[offset + o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) } }
        func put64(_ o: Int, _ v: UInt64) { for i in 0..<8 { buffer[offset + o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
        put32(4, UInt32(length))
        put64(8, lsn)
        put64(16, syncedLSN)
        buffer[offset + 24] = kind
        buffer[offset + 25] = 0
        buffer[offset + 26] = 0
        buffer[offset + 27] = 0
        put32(28, payloadCRC)
        let crc = buffer.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[(offset + 4)..<(offset + 32)])) }
        put32(0, crc)
    }

    /// A record header that passed its own checksum.
    struct RecordHeader {
        var length: Int
        var lsn: UInt64
        var syncedLSN: UInt64
        var kind: UInt8
        var payloadCRC: UInt32
    }

    /// Parses the header at `offset` of `data` if its checksum holds and it claims position `lsn`.
    static func recordHeader(in data: [UInt8], at offset: Int, expectedLSN lsn: UInt64) -> RecordHeader? {
        guard offset >= 0, offset + recordHeaderBytes <= data.count else { return nil }
        guard le64(data, offset + 8) == lsn else { return nil }
        let crc = data.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[(offset + 4)..<(offset + 32)])) }
        guard crc == le32(data, offset) else { return nil }
        let length = Int(le32(data, offset + 4))
        guard length >= recordHeaderBytes, length <= maxRecordBytes else { return nil }
        return RecordHeader(length: length, lsn: lsn, syncedLSN: le64(data, offset + 16), kind: data[offset + 24],
                            payloadCRC: le32(data, offset + 28))
    }

    static func le32(_ b: [UInt8], _ o: Int) -> UInt32 {
        UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
    }

    static func le64(_ b: [UInt8], _ o: Int) -> UInt64 { UInt64(le32(b, o)) | UInt64(le32(b, o + 4)) << 32 }
}

/// One record read back from the log.
public struct WALRecord: Sendable {
    public var lsn: UInt64
    public var endLSN: UInt64
    public var kind: UInt8
    public var payload: [UInt8]
}

/// When a commit may be acknowledged.
public enum SyncMode: String, Sendable, CaseIterable {
    /// After an fsync covering the commit (group commit). Nothing acknowledged is ever lost.
    case full
    /// At once; a background fsync follows within `batchedSyncDelayMilliseconds`.
    case batched
    /// At once; written to the OS within the same delay, fsynced only by `sync(upTo:)` (checkpoints) and close.
    case off
}

public struct WALOptions: Sendable {
    /// Soft size limit of a segment: a new one starts once a segment holds more.
    public var segmentBytes: UInt64 = 64 << 20
    /// The current segment is zero-filled this far ahead of the log's end, so that most
    /// fdatasyncs flush only data: appending into new blocks also commits file-system metadata.
    public var preallocateBytes: UInt64 = 1 << 20
    public var syncMode: SyncMode = .full
    public var batchedSyncDelayMilliseconds = 10
    /// Whether committers run on a single thread: Swift's cooperative pool has one thread when
    /// the process may use only one CPU. A leader then lets the others append before it syncs
    /// (see `WriteAheadLog.sync(upTo:)`); tests set it to run that path on a one-thread executor.
    public var committersShareOneThread = ProcessorAffinity.cpuCount == 1
    /// Whether a committer whose round is under way polls for it on a fast disk rather than
    /// suspending (see `WriteAheadLog.spinUntilCovered`); tests turn it off to cover the other path.
    public var pollForRound = true
    public init() {}
}
