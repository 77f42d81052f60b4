/// A UUID's 128 bits as two 64-bit halves: `high` is the first eight bytes of the canonical
/// text form, `low` the last eight; ordered as the 128-bit number they make.
///
/// Why not `UInt128`: its 16-byte alignment made `Value` 16-byte aligned, so a `Value` took
/// 32 bytes instead of 24 in every array, and every `[Value]` (a decoded row, a row's
/// columns, a result row) was allocated with `posix_memalign` — Swift's runtime on Linux
/// hands only 8-byte-aligned requests to plain `malloc`. In a bulk load those were two thirds
/// of the server's allocations.
public struct UUIDBits: Sendable, Hashable, Comparable, ExpressibleByIntegerLiteral {
    public var high: UInt64
    public var low: UInt64

    public static let max = UUIDBits(high: .max, low: .max)

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public init(_ value: UInt128) {
        self.init(high: value._high, low: value._low)
    }

    public init(integerLiteral value: UInt128) {
        self.init(value)
    }

    /// From 16 bytes in the canonical (big-endian) order; nil for any other count.
    public init?<Bytes: Collection<UInt8>>(bigEndianBytes bytes: Bytes) {
        guard bytes.count == 16 else { return nil }
        var high: UInt64 = 0, low: UInt64 = 0
        for (i, byte) in bytes.enumerated() {
            if i < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(high: high, low: low)
    }

    /// The 128-bit number (for arithmetic: random UUIDs, hex parsing).
    public var value: UInt128 { UInt128(_low: low, _high: high) }

    /// Byte `i` (0…15) in the canonical order.
    @inline(__always)
    public func byte(_ i: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: i < 8 ? high >> (8 * (7 - i)) : low >> (8 * (15 - i)))
    }

    /// Appends the 16 bytes in the canonical order.
    public func appendBytes(to bytes: inout [UInt8]) {
        withUnsafeBytes(of: high.bigEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: low.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// The 16 bytes in the canonical order.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16)
        appendBytes(to: &out)
        return out
    }

    /// 32 lower-case hex digits, without hyphens.
    public var hex: String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 32 - digits.count) + digits
    }

    public static func < (a: UUIDBits, b: UUIDBits) -> Bool {
        a.high != b.high ? a.high < b.high : a.low < b.low
    }
}
