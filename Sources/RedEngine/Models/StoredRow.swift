import RedCore

/// One stored item of a table, document collection or KV store.
///
/// Record layout (the value under the item's key):
///   u8 format (1) · varint expiresAt+1 (0 = never) · zig-zag varint createdAt ms ·
///   zig-zag varint updatedAt ms · varint n · n × (varint columnID · Value)
/// Keys: tables and documents use the rid as 8 bytes big-endian; KV uses the
/// user's key bytes. Documents store their body as column 0 (`.json`); KV
/// stores its value as column 0.
public struct StoredRow: Sendable, Equatable {
    /// Column id under which `WITH METADATA` is kept (a JSON object).
    public static let metadataColumnID = UInt16.max
    public var rid: Int64
    public var values: ColumnValues
    public var expiresAt: Int64?
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(rid: Int64, values: ColumnValues, expiresAt: Int64? = nil, createdAt: Int64, updatedAt: Int64) {
        self.rid = rid
        self.values = values
        self.expiresAt = expiresAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public func isVisible(at now: Int64) -> Bool {
        guard let expiresAt else { return true }
        return now < expiresAt
    }

    public func encoded() -> [UInt8] {
        var size = 32
        values.forEachInOrder { _, value in size += 3 + ValueCodec.estimatedSize(value) }
        var w = ByteWriter(capacity: size)
        encode(into: &w)
        return w.bytes
    }

    /// At most how many bytes `encode(into:)` writes, or nil when a value's size is only known
    /// while encoding (JSON).
    var encodedSizeBound: Int? {
        var size = 1 + 10 + 10 + 10 + 5  // format, three varints of 64 bits, the value count
        var bounded = true
        values.forEachInOrder { _, value in
            if let bound = ValueCodec.sizeBound(value) { size += 3 + bound } else { bounded = false }
        }
        return bounded ? size : nil
    }

    func encode<W: ByteSink>(into w: inout W) {
        w.u8(1)
        w.varint(expiresAt.map { UInt64(bitPattern: $0) &+ 1 } ?? 0)
        w.varint(ValueCodec.zigzag(createdAt))
        w.varint(ValueCodec.zigzag(updatedAt))
        w.varint(UInt64(values.count))
        values.forEachInOrder { id, value in
            w.varint(UInt64(id))
            ValueCodec.encode(value, into: &w)
        }
    }

    public static func decode(rid: Int64, _ bytes: [UInt8]) throws -> StoredRow {
        var r = ByteReader(bytes, context: "stored row")
        let (header, count) = try readHeader(&r)
        var values = ColumnValues()
        values.reserveCapacity(count)
        for _ in 0..<count {
            let id = try r.varint()
            guard id <= UInt64(UInt16.max) else { throw RedError(.dataCorrupted, "row \(rid) has a column id out of range") }
            values[UInt16(id)] = try ValueCodec.decode(&r)
        }
        return StoredRow(rid: rid, values: values, expiresAt: header.expiresAt, createdAt: header.createdAt, updatedAt: header.updatedAt)
    }

    /// The format byte, times and column count that start every record.
    static func readHeader<R: ByteSource>(_ r: inout R) throws -> (Header, count: Int) {
        guard try r.u8() == 1 else { throw RedError(.dataCorrupted, "a stored row has an unknown format") }
        let expires = try r.varint()
        let created = ValueCodec.unzigzag(try r.varint())
        let updated = ValueCodec.unzigzag(try r.varint())
        let count = try r.count(limit: Int(UInt16.max), "column count")
        return (Header(expiresAt: expires == 0 ? nil : Int64(bitPattern: expires &- 1), createdAt: created, updatedAt: updated), count)
    }

    /// The header fields every row carries.
    public struct Header: Sendable {
        public var expiresAt: Int64?
        public var createdAt: Int64
        public var updatedAt: Int64
        public func isVisible(at now: Int64) -> Bool { expiresAt.map { now < $0 } ?? true }
    }

    /// Decodes a row straight into `out` (the scan hot path: no dictionary, no unused values).
    /// Column id `c` lands at `out[positions[c]]` when `c < positions.count` and that entry is
    /// not negative; other columns are skipped. The metadata column lands at `metadataPosition`.
    /// The bytes are read where the scan's cursor keeps them (`RangeCursor.next(_:)`).
    public static func decode(_ bytes: UnsafeRawBufferPointer, positions: [Int], metadataPosition: Int?, into out: inout [Value]) throws -> Header {
        var r = RawByteReader(bytes, context: "stored row")
        let (header, count) = try readHeader(&r)
        for _ in 0..<count {
            let id = try r.varint()
            let position: Int
            if id < UInt64(positions.count) { position = positions[Int(id)] }
            else if id == UInt64(metadataColumnID), let metadataPosition { position = metadataPosition }
            else { position = -1 }
            if position >= 0 { out[position] = try ValueCodec.decode(&r) } else { try ValueCodec.skip(&r) }
        }
        return header
    }

    /// Where a vector lies in a record's bytes, without decoding it: the header, and the byte
    /// offset and component count of column `column`'s little-endian f32s (column 0: a vector
    /// item's vector). A nil `offset` means the column holds no vector: it is NULL or absent,
    /// or — `other` — holds a value of another kind. Every length is checked against `bytes`.
    public static func vectorLocation(_ bytes: [UInt8], column: UInt64 = 0) throws -> (header: Header, offset: Int?, count: Int, other: Bool) {
        var r = ByteReader(bytes, context: "stored row")
        let (header, columns) = try readHeader(&r)
        for _ in 0..<columns {
            let id = try r.varint()
            guard id == column else {
                try ValueCodec.skip(&r)
                continue
            }
            let tag = try r.u8()
            guard tag == 11 else { return (header, nil, 0, tag != 0) }
            let count = try r.count(limit: Limits.maxValueBytes / 4, "vector length")
            let offset = r.offset
            try r.skip(count * 4)
            return (header, offset, count, false)
        }
        return (header, nil, 0, false)
    }

    public static func key(rid: Int64) -> [UInt8] {
        withUnsafeBytes(of: UInt64(bitPattern: rid).bigEndian) { Array($0) }
    }

    public static func rid(fromKey key: [UInt8]) -> Int64 {
        key.withUnsafeBytes { rid(fromKey: $0) }
    }

    public static func rid(fromKey key: UnsafeRawBufferPointer) -> Int64 {
        guard key.count == 8 else { return 0 }
        return Int64(bitPattern: UInt64(bigEndian: key.loadUnaligned(as: UInt64.self)))
    }
}
