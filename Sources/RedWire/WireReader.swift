import RedCore

/// Reads RedWire payloads (little-endian, `u32`/`u16` length prefixes) with the spec's
/// error texts (`truncated sql_len`, `<field> must be valid UTF-8`). Lengths are checked
/// before anything is read or allocated; malformed input throws, never traps.
struct WireReader {
    private var reader: ByteReader

    init(_ bytes: [UInt8]) { reader = ByteReader(bytes, context: "redwire payload") }

    var remaining: Int { reader.remaining }

    // Field names are autoclosures: they are only made into text for an error, not for each
    // value read (a bulk row's text value spelled "text length" every time).
    private mutating func field<T>(_ name: @autoclosure () -> String, _ read: (inout ByteReader) throws -> T) throws -> T {
        do { return try read(&reader) } catch { throw RedError(.protocolViolation, "truncated \(name())") }
    }

    mutating func u8(_ name: @autoclosure () -> String) throws -> UInt8 { try field(name()) { try $0.u8() } }
    mutating func u16(_ name: @autoclosure () -> String) throws -> UInt16 { try field(name()) { try $0.u16() } }
    mutating func u32(_ name: @autoclosure () -> String) throws -> UInt32 { try field(name()) { try $0.u32() } }
    mutating func u64(_ name: @autoclosure () -> String) throws -> UInt64 { try field(name()) { try $0.u64() } }
    mutating func bytes(_ count: Int, _ name: @autoclosure () -> String) throws -> [UInt8] { try field(name()) { try $0.take(count) } }

    /// UTF-8 text of `count` bytes; invalid UTF-8 is an error (`lossy`: replaced instead).
    mutating func text(_ count: Int, _ name: @autoclosure () -> String, lossy: Bool = false) throws -> String {
        guard let text = try field(name(), { try $0.string(count, lossy: lossy) }) else {
            throw RedError(.protocolViolation, "\(name()) must be valid UTF-8")
        }
        return text
    }

    mutating func text32(_ name: @autoclosure () -> String, lossy: Bool = false) throws -> String {
        try text(Int(try u32(name() + " length")), name(), lossy: lossy)
    }

    mutating func text16(_ name: @autoclosure () -> String) throws -> String {
        try text(Int(try u16(name() + " length")), name())
    }

    /// Throws when bytes are left after a payload that must be consumed whole.
    func expectEnd() throws {
        if reader.remaining > 0 { throw RedError(.protocolViolation, "\(reader.remaining) trailing bytes after payload") }
    }
}

extension ByteWriter {
    /// `u32` byte count, then the UTF-8 bytes.
    mutating func text32(_ text: String) {
        u32(UInt32(text.utf8.count))
        append(Array(text.utf8))
    }

    /// `u16` byte count, then the UTF-8 bytes (names; callers keep them under 64 KiB).
    mutating func text16(_ text: String) {
        u16(UInt16(truncatingIfNeeded: text.utf8.count))
        append(Array(text.utf8))
    }
}
