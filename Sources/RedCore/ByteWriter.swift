/// Where the value and row encoders write: a growing array (`ByteWriter`) or memory sized
/// beforehand (`RawByteWriter`, a row written straight into a write set's arena). One
/// encoder serves both; it is specialized for each, so neither pays for the other.
public protocol ByteSink {
    mutating func u8(_ v: UInt8)
    mutating func u32(_ v: UInt32)
    mutating func u64(_ v: UInt64)
    mutating func varint(_ v: UInt64)
    /// varint length followed by the bytes.
    mutating func lengthPrefixed(_ raw: [UInt8])
    /// varint length followed by a string's UTF-8 (no intermediate array).
    mutating func lengthPrefixed(utf8 s: String)
}

/// Appends little-endian integers, LEB128 varints and length-prefixed bytes
/// to a growing buffer. The counterpart of `ByteReader`.
public struct ByteWriter: ByteSink, Sendable {
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
    public mutating func varint(_ v: UInt64) { Varint.forEachByte(of: v) { bytes.append($0) } }

    public mutating func append(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }
    public mutating func append(_ raw: ArraySlice<UInt8>) { bytes.append(contentsOf: raw) }
    /// Empties the writer, keeping its buffer for the next use.
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }
    /// Drops the last `n` bytes written.
    public mutating func removeLast(_ n: Int) { bytes.removeLast(n) }

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
}

/// Writes through a pointer into memory its caller sized beforehand (an upper bound): the
/// encoders that run once per row or per key use it instead of `ByteWriter`, which checks
/// capacity and goes through the array on every append.
public struct RawByteWriter: ByteSink {
    public private(set) var pointer: UnsafeMutablePointer<UInt8>

    public init(_ start: UnsafeMutablePointer<UInt8>) { pointer = start }

    @inline(__always) public mutating func u32(_ v: UInt32) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: v.littleEndian, as: UInt32.self)
        pointer += 4
    }

    @inline(__always) public mutating func lengthPrefixed(_ raw: [UInt8]) {
        raw.withUnsafeBytes { lengthPrefixed($0) }
    }

    @inline(__always) public mutating func lengthPrefixed(utf8 s: String) {
        var s = s
        s.withUTF8 { lengthPrefixed(UnsafeRawBufferPointer($0)) }
    }

    @inline(__always) public mutating func u8(_ v: UInt8) {
        pointer.pointee = v
        pointer += 1
    }

    @inline(__always) public mutating func u64(_ v: UInt64) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: v.littleEndian, as: UInt64.self)
        pointer += 8
    }

    @inline(__always) public mutating func varint(_ v: UInt64) { Varint.forEachByte(of: v) { u8($0) } }

    @inline(__always) public mutating func bytes(_ raw: UnsafeRawBufferPointer) {
        guard raw.count > 0 else { return }
        UnsafeMutableRawPointer(pointer).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
        pointer += raw.count
    }

    /// A varint length, then the bytes.
    @inline(__always) public mutating func lengthPrefixed(_ raw: UnsafeRawBufferPointer) {
        varint(UInt64(raw.count))
        bytes(raw)
    }
}

/// Unsigned LEB128, the varint of every format here: seven bits a byte, low bits first, the
/// high bit set on every byte but the last.
public enum Varint {
    /// Calls `body` with each byte of `value`'s encoding, in order.
    @inline(__always)
    public static func forEachByte(of value: UInt64, _ body: (UInt8) -> Void) {
        var v = value
        while v >= 0x80 {
            body(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        body(UInt8(v))
    }

    /// The value and length of the varint at `start`; nil when it runs past the end, past
    /// 10 bytes, or beyond 64 bits. Shared by `ByteReader` and `RawByteReader`.
    ///
    /// With eight bytes left, a varint of up to eight bytes (56 bits: every timestamp, length
    /// and id a row holds) is decoded from one load, without a loop: the first clear high bit
    /// ends it, and its 7-bit groups are packed together in three steps.
    @inlinable public static func decode(_ buffer: UnsafeRawBufferPointer, at start: Int) -> (value: UInt64, length: Int)? {
        if start >= 0, buffer.count - start >= 8 {
            let word = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: start, as: UInt64.self))
            let ends = ~word & 0x8080_8080_8080_8080
            if ends != 0 {
                let length = (ends.trailingZeroBitCount + 1) / 8
                var x = (length == 8 ? word : word & ((1 &<< UInt64(length * 8)) &- 1)) & 0x7F7F_7F7F_7F7F_7F7F
                x = (x & 0x007F_007F_007F_007F) | ((x & 0x7F00_7F00_7F00_7F00) >> 1)
                x = (x & 0x0000_3FFF_0000_3FFF) | ((x & 0x3FFF_0000_3FFF_0000) >> 2)
                x = (x & 0x0000_0000_0FFF_FFFF) | ((x & 0x0FFF_FFFF_0000_0000) >> 4)
                return (x, length)
            }
        }
        guard start < buffer.count else { return nil }
        let first = buffer[start]
        if first < 0x80 { return (UInt64(first), 1) }
        var result = UInt64(first & 0x7F)
        var shift: UInt64 = 7
        var index = start + 1
        while index < buffer.count && index - start < 10 {
            let b = buffer[index]
            if index - start == 9 && b > 1 { return nil }  // overflow
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return (result, index - start + 1) }
            shift += 7
            index += 1
        }
        return nil
    }
}
