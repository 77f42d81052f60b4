/// What `ValueCodec` needs from a reader: the stored values are decoded from an owned array
/// (`ByteReader`) almost everywhere, and from bytes borrowed in place (`RawByteReader`) on the
/// scan path, by one decoding routine specialized for each.
public protocol ByteSource {
    var offset: Int { get }
    mutating func u8() throws -> UInt8
    mutating func u64() throws -> UInt64
    mutating func varint() throws -> UInt64
    mutating func count(limit: Int, _ what: String) throws -> Int
    mutating func take(_ n: Int) throws -> [UInt8]
    mutating func lengthPrefixed(limit: Int) throws -> [UInt8]
    mutating func lengthPrefixedString(limit: Int) throws -> String
    mutating func littleEndianFloats(_ count: Int) throws -> [Float]
    mutating func skip(_ n: Int) throws
}

extension ByteReader: ByteSource {}

/// A reader over bytes it does not own, for the scan's hot path: a table scan decodes each
/// stored row where its cursor keeps it, and a `ByteReader` would first need the row copied
/// into an array of its own, then pay a reference count and a closure per varint.
///
/// Valid only while `buffer` is: the caller reads within the closure that lends the bytes.
/// Every read is bounds-checked against `buffer`, with the errors `ByteReader` gives.
public struct RawByteReader: ByteSource {
    @usableFromInline let buffer: UnsafeRawBufferPointer
    /// The next byte to read.
    @usableFromInline var position: Int
    public var offset: Int { position }
    /// Where the bytes came from, for error messages (static: no reference count per row).
    @usableFromInline let context: StaticString

    public init(_ buffer: UnsafeRawBufferPointer, context: StaticString) {
        self.buffer = buffer
        self.position = 0
        self.context = context
    }

    public var remaining: Int { buffer.count - position }

    @usableFromInline func fail(_ what: String) -> RedError {
        RedError(.dataCorrupted, "\(context): truncated or malformed \(what) at byte \(position)")
    }

    @inlinable mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws {
        if n < 0 || n > buffer.count - position { throw fail(what()) }
    }

    @inlinable public mutating func u8() throws -> UInt8 {
        guard position < buffer.count else { throw fail("u8") }
        defer { position += 1 }
        return buffer[position]
    }

    public mutating func u64() throws -> UInt64 {
        try need(8, "u64")
        defer { position += 8 }
        return UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    /// Unsigned LEB128 (see `ByteReader.varint`); a one-byte varint returns before the loop.
    @inlinable public mutating func varint() throws -> UInt64 {
        if position < buffer.count, buffer[position] < 0x80 {
            defer { position += 1 }
            return UInt64(buffer[position])
        }
        guard let (value, length) = Varint.decode(buffer, at: position) else { throw fail("varint") }
        position += length
        return value
    }

    public mutating func count(limit: Int, _ what: String) throws -> Int {
        let v = try varint()
        guard v <= UInt64(limit) else {
            throw RedError(.dataCorrupted, "\(context): \(what) \(v) exceeds limit \(limit) at byte \(position)")
        }
        return Int(v)
    }

    public mutating func take(_ n: Int) throws -> [UInt8] {
        try need(n, "byte run of \(n)")
        defer { position += n }
        return Array(buffer[position..<position + n])
    }

    public mutating func lengthPrefixed(limit: Int) throws -> [UInt8] {
        try take(try count(limit: limit, "length"))
    }

    public mutating func lengthPrefixedString(limit: Int) throws -> String {
        let n = try count(limit: limit, "length")
        try need(n, "string of \(n) bytes")
        defer { position += n }
        return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[position..<position + n]), as: UTF8.self)
    }

    public mutating func littleEndianFloats(_ count: Int) throws -> [Float] {
        guard count <= Int.max / 4 else { throw fail("float array") }
        try need(count * 4, "float array")
        let at = position
        position += count * 4
        return [Float](unsafeUninitializedCapacity: count) { floats, initialized in
            for i in 0..<count {
                floats[i] = Float(bitPattern: UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: at + 4 * i, as: UInt32.self)))
            }
            initialized = count
        }
    }

    @inlinable public mutating func skip(_ n: Int) throws {
        try need(n, "byte run of \(n)")
        position += n
    }
}
