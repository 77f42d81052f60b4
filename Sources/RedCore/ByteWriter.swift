/// Appends little-endian integers, LEB128 varints and length-prefixed bytes
/// to a growing buffer. The counterpart of `ByteReader`.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }

    public mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    /// Big-endian u32: used where byte order must equal numeric order (key prefixes).
    public mutating func u32BigEndian(_ v: UInt32) { withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) } }

    /// Unsigned LEB128.
    public mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func append(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }
    public mutating func append(_ raw: ArraySlice<UInt8>) { bytes.append(contentsOf: raw) }

    /// varint length followed by the bytes.
    public mutating func lengthPrefixed(_ raw: [UInt8]) {
        varint(UInt64(raw.count))
        bytes.append(contentsOf: raw)
    }

    /// varint length followed by a string's UTF-8 (no intermediate array).
    public mutating func lengthPrefixed(utf8 s: String) {
        varint(UInt64(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }

    /// varint length followed by the bytes of a slice (no intermediate copy).
    public mutating func lengthPrefixed(_ raw: ArraySlice<UInt8>) {
        varint(UInt64(raw.count))
        bytes.append(contentsOf: raw)
    }
}
