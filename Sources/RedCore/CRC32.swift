/// CRC-32/ISO-HDLC (the zlib/PNG/IEEE 802.3 CRC): reflected polynomial
/// 0xEDB88320, initial value and final XOR 0xFFFFFFFF.
///
/// Used for every page and every WAL record. Slicing-by-16 (16 table lookups per
/// 16 bytes, 16 KiB of tables) keeps it well under a cycle per byte, which matters
/// because every page read verifies one and every checkpoint and commit computes
/// them: with slicing-by-8 it was 8 % of a bulk load's CPU.
/// Check values: "123456789" → 0xCBF43926, "hello" → 0x3610A686, empty → 0.
public enum CRC32 {
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
        var c = ~crc
        var count = bytes.count
        guard count > 0, var p = bytes.baseAddress else { return crc }
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
        return ~c
    }
}
