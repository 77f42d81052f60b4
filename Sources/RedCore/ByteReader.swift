/// Reads little-endian integers, varints and length-prefixed bytes from a
/// byte array, checking every length before it reads.
///
/// Bytes from disk or a socket always go through this reader (or code that
/// checks the same way): a short or malformed input throws
/// `RedError(.dataCorrupted)` naming `context`; it never traps.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    /// Says where the bytes came from, for error messages ("WAL record at LSN 4096").
    public let context: String

    public init(_ bytes: [UInt8], offset: Int = 0, context: String) {
        self.bytes = bytes
        self.offset = offset
        self.context = context
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset >= bytes.count }

    private func fail(_ what: String) -> RedError {
        RedError(.dataCorrupted, "\(context): truncated or malformed \(what) at byte \(offset)")
    }

    private mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws {
        if n < 0 || n > remaining { throw fail(what()) }
    }

    public mutating func u8() throws -> UInt8 {
        try need(1, "u8")
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func u16() throws -> UInt16 { UInt16(truncatingIfNeeded: try fixed(2, "u16")) }
    public mutating func u32() throws -> UInt32 { UInt32(truncatingIfNeeded: try fixed(4, "u32")) }
    public mutating func u64() throws -> UInt64 { try fixed(8, "u64") }

    /// `count` little-endian f32s (a stored vector), checked once and copied in one pass.
    public mutating func littleEndianFloats(_ count: Int) throws -> [Float] {
        guard count <= Int.max / 4 else { throw fail("float array") }
        try need(count * 4, "float array")
        let at = offset
        offset += count * 4
        return bytes.withUnsafeBytes { raw in
            [Float](unsafeUninitializedCapacity: count) { floats, initialized in
                for i in 0..<count {
                    floats[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at + 4 * i, as: UInt32.self)))
                }
                initialized = count
            }
        }
    }

    public mutating func u32BigEndian() throws -> UInt32 {
        try need(4, "u32be")
        var v: UInt32 = 0
        for i in 0..<4 { v = (v << 8) | UInt32(bytes[offset + i]) }
        offset += 4
        return v
    }

    private mutating func fixed(_ n: Int, _ what: String) throws -> UInt64 {
        try need(n, what)
        let at = offset
        offset += n
        return bytes.withUnsafeBytes { raw in
            switch n {
            case 8: return UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            case 4: return UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
            case 2: return UInt64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
            default:
                var v: UInt64 = 0
                for i in 0..<n { v |= UInt64(raw[at + i]) << (8 * UInt64(i)) }
                return v
            }
        }
    }

    /// Unsigned LEB128, at most 10 bytes, rejecting overflow.
    /// Rows and records are full of them (column ids, lengths, timestamps), so the bytes are
    /// read through one bounds-checked buffer rather than a checked `u8()` per byte; a one-byte
    /// varint (most ids and lengths) returns before the loop.
    public mutating func varint() throws -> UInt64 {
        let start = offset
        if start < bytes.count, bytes[start] < 0x80 {
            offset = start + 1
            return UInt64(bytes[start])
        }
        let decoded = bytes.withUnsafeBytes { Varint.decode($0, at: start) }
        guard let decoded else { throw varintFailure(at: start) }
        offset = start + decoded.length
        return decoded.value
    }

    /// A varint that runs past the end, or past 10 bytes, or beyond 64 bits.
    private func varintFailure(at start: Int) -> RedError {
        RedError(.dataCorrupted, "\(context): truncated or malformed varint at byte \(start)")
    }

    /// A varint that must fit in `Int` and be at most `limit`.
    public mutating func count(limit: Int, _ what: String) throws -> Int {
        let v = try varint()
        guard v <= UInt64(limit) else {
            throw RedError(.dataCorrupted, "\(context): \(what) \(v) exceeds limit \(limit) at byte \(offset)")
        }
        return Int(v)
    }

    public mutating func take(_ n: Int) throws -> [UInt8] {
        try need(n, "byte run of \(n)")
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    public mutating func lengthPrefixed(limit: Int) throws -> [UInt8] {
        let n = try count(limit: limit, "length")
        return try take(n)
    }

    /// A length-prefixed UTF-8 string, decoded in place (no intermediate array).
    public mutating func lengthPrefixedString(limit: Int) throws -> String {
        let n = try count(limit: limit, "length")
        try need(n, "string of \(n) bytes")
        defer { offset += n }
        return String(decoding: bytes[offset..<offset + n], as: UTF8.self)
    }

    /// `n` bytes of UTF-8 as a string, made straight from the input (no intermediate array);
    /// nil if they are not valid UTF-8, unless `lossy` (then invalid sequences are replaced).
    public mutating func string(_ n: Int, lossy: Bool) throws -> String? {
        try need(n, "string of \(n) bytes")
        let at = offset
        offset += n
        return bytes.withUnsafeBufferPointer { buffer in
            let utf8 = UnsafeBufferPointer(rebasing: buffer[at..<(at + n)])
            return lossy ? String(decoding: utf8, as: UTF8.self) : String(validating: utf8, as: UTF8.self)
        }
    }

    /// Skips `n` bytes.
    public mutating func skip(_ n: Int) throws {
        try need(n, "byte run of \(n)")
        offset += n
    }
}
