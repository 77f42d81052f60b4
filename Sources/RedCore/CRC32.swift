import CRedCRC

/// CRC-32/ISO-HDLC (the zlib/PNG/IEEE 802.3 CRC): reflected polynomial
/// 0xEDB88320, initial value and final XOR 0xFFFFFFFF.
///
/// Used for every page and every WAL record, so it is on every page read, checkpoint and
/// commit. Two ways to compute it, same result:
/// - On x86-64 with PCLMULQDQ, runs of 64 bytes or more are folded by carry-less
///   multiplication (`CRedCRC`, many bytes per cycle) down to 16 bytes, which the table
///   finishes. The table alone was still 7.7 % of a pinned bulk load's server CPU, most of
///   it checksumming 4 KiB pages at checkpoints.
/// - Elsewhere, and for short runs, slicing-by-16 (16 table lookups per 16 bytes, 16 KiB of
///   tables), well under a cycle per byte.
/// Check values: "123456789" → 0xCBF43926, "hello" → 0x3610A686, empty → 0.
public enum CRC32 {
    /// Whether long runs are folded in hardware (`CRedCRC`); false off x86-64 or without
    /// PCLMULQDQ. Tests read it to know which path they cover.
    public static let foldsInHardware = red_crc32_fold_available() != 0

    /// Runs shorter than this go through the table only: folding ends in a 16-byte table
    /// step anyway, so it pays from a few blocks on.
    static let foldThreshold = 64

    /// 16 tables of 256 entries, table 0 being the classic byte-wise table.
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 16 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (0xEDB8_8320 ^ (c >> 1)) : (c >> 1) }
            t[i] = c
        }
        for i in 0..<256 {
            var c = t[i]
            for k in 1..<16 {
                c = t[Int(c & 0xFF)] ^ (c >> 8)
                t[k * 256 + i] = c
            }
        }
        return t
    }()

    /// The CRC of `bytes`.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        update(0, bytes)
    }

    /// The CRC of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { update(0, $0) }
    }

    /// Continues `crc` (a finished CRC of earlier bytes) over `bytes`, so that
    /// `update(checksum(a), b) == checksum(a + b)`.
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard bytes.count >= foldThreshold, foldsInHardware, let base = bytes.baseAddress else {
            return ~updateRegister(~crc, bytes)
        }
        let blocks = bytes.count / 16
        var folded: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &folded) { red_crc32_fold(~crc, base, blocks, $0.baseAddress) }
        let register = withUnsafeBytes(of: &folded) { updateRegister(0, $0) }
        return ~updateRegister(register, UnsafeRawBufferPointer(rebasing: bytes[(blocks * 16)...]))
    }

    /// The table-driven CRC (`update` without folding), for tests that compare the two.
    static func updateByTable(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        ~updateRegister(~crc, bytes)
    }

    /// Runs the raw (uninverted) CRC register over `bytes` with the tables.
    private static func updateRegister(_ register: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c = register
        var count = bytes.count
        guard count > 0, var p = bytes.baseAddress else { return register }
        tables.withUnsafeBufferPointer { t in
            while count >= 16 {
                let w0 = p.loadUnaligned(as: UInt32.self).littleEndian ^ c
                let w1 = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian
                let w2 = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian
                let w3 = p.loadUnaligned(fromByteOffset: 12, as: UInt32.self).littleEndian
                c = t[15 * 256 + Int(w0 & 0xFF)] ^ t[14 * 256 + Int((w0 >> 8) & 0xFF)]
                    ^ t[13 * 256 + Int((w0 >> 16) & 0xFF)] ^ t[12 * 256 + Int(w0 >> 24)]
                    ^ t[11 * 256 + Int(w1 & 0xFF)] ^ t[10 * 256 + Int((w1 >> 8) & 0xFF)]
                    ^ t[9 * 256 + Int((w1 >> 16) & 0xFF)] ^ t[8 * 256 + Int(w1 >> 24)]
                    ^ t[7 * 256 + Int(w2 & 0xFF)] ^ t[6 * 256 + Int((w2 >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((w2 >> 16) & 0xFF)] ^ t[4 * 256 + Int(w2 >> 24)]
                    ^ t[3 * 256 + Int(w3 & 0xFF)] ^ t[2 * 256 + Int((w3 >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((w3 >> 16) & 0xFF)] ^ t[Int(w3 >> 24)]
                p += 16
                count -= 16
            }
            while count > 0 {
                c = t[Int((c ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (c >> 8)
                p += 1
                count -= 1
            }
        }
        return c
    }
}
