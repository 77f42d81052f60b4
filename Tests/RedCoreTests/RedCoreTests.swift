import Testing
import Foundation
@testable import RedCore

@Suite struct CRC32Tests {
    @Test func matchesTheStandardCheckValues() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum(Array("hello".utf8)) == 0x3610_A686)
        #expect(CRC32.checksum([0]) == 0xD202_EF8D)
        #expect(CRC32.checksum([0, 0, 0, 0]) == 0x2144_DF1C)
        #expect(CRC32.checksum([]) == 0)
    }

    /// The sliced loop against the byte-at-a-time definition, for every length around its
    /// 16-byte steps and at unaligned starts.
    @Test func matchesTheBytewiseDefinitionAtEveryLengthAndOffset() {
        func reference(_ bytes: ArraySlice<UInt8>) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = (c & 1) != 0 ? (0xEDB8_8320 ^ (c >> 1)) : (c >> 1) }
            }
            return ~c
        }
        let data = (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 11) }
        for start in 0..<5 {
            for length in 0..<(200 - start) {
                let slice = data[start..<(start + length)]
                #expect(slice.withUnsafeBytes { CRC32.checksum($0) } == reference(slice))
            }
        }
    }

    /// Long runs are folded by carry-less multiplication where the CPU has it: it must agree
    /// with the table at every length past the threshold (the four-accumulator loop, its
    /// wind-down and the tail), at unaligned starts, and from any starting CRC.
    @Test func hardwareFoldingAgreesWithTheTable() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<9000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        data.withUnsafeBytes { all in
            for length in stride(from: 0, through: 600, by: 1) + [4092, 4096, 8191, 8999] {
                for start in [0, 1, 7] where start + length <= all.count {
                    let run = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    let seed = UInt32(truncatingIfNeeded: length &* 2_654_435_761)
                    #expect(CRC32.update(seed, run) == CRC32.updateByTable(seed, run), "length \(length) at \(start)")
                }
            }
        }
        // A page of zeros and one of ones: no lucky cancellation hides a wrong constant.
        for fill: UInt8 in [0, 0xFF] {
            let page = [UInt8](repeating: fill, count: 4096)
            #expect(page.withUnsafeBytes { CRC32.update(0, $0) == CRC32.updateByTable(0, $0) })
        }
    }

    /// The fast path is really taken on a CPU that offers it (else the test above compares the
    /// table with itself).
    @Test func foldsInHardwareWhereTheCPUCan() throws {
        #if arch(x86_64) && os(Linux)
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        #expect(CRC32.foldsInHardware == cpuinfo.contains(" pclmulqdq"))
        #endif
    }

    @Test func chainsOverConcatenations() {
        let a = Array("the quick brown fox ".utf8)
        let b = Array("jumps over the lazy dog, twice over".utf8)
        let chained = b.withUnsafeBytes { CRC32.update(CRC32.checksum(a), $0) }
        #expect(chained == CRC32.checksum(a + b))
    }
}

@Suite struct ByteCodingTests {
    @Test func roundTripsIntegersVarintsAndStrings() throws {
        var w = ByteWriter()
        w.u8(7); w.u16(0xBEEF); w.u32(0xDEAD_BEEF); w.u64(.max); w.varint(0); w.varint(300); w.varint(.max)
        w.lengthPrefixed(Array("héllo".utf8)); w.u32BigEndian(0x0102_0304)
        var r = ByteReader(w.bytes, context: "test")
        #expect(try r.u8() == 7)
        #expect(try r.u16() == 0xBEEF)
        #expect(try r.u32() == 0xDEAD_BEEF)
        #expect(try r.u64() == .max)
        #expect(try r.varint() == 0)
        #expect(try r.varint() == 300)
        #expect(try r.varint() == .max)
        #expect(try r.lengthPrefixed(limit: 100) == Array("héllo".utf8))
        #expect(try r.u32BigEndian() == 0x0102_0304)
        #expect(r.isAtEnd)
    }

    /// Every length of varint, read with eight or more bytes left (one load) and near the end
    /// of the input (byte by byte), by both readers, and followed by a sentinel that must come
    /// next: a wrong length would misplace it.
    @Test func varintsOfEveryLengthReadAlikeWhereverTheyLie() throws {
        var values: [UInt64] = [0, 1, 127, 128, 255, 16_383, 16_384, .max, .max - 1, 1 << 63]
        for bits in 1...64 { values += [(1 << UInt64(bits - 1)), UInt64.max >> UInt64(64 - bits), 0x5A5A_5A5A_5A5A_5A5A >> UInt64(64 - bits)] }
        for value in values {
            for padding in [0, 3, 12] {
                var w = ByteWriter()
                w.varint(value); w.u8(0xAB)
                let bytes = w.bytes + [UInt8](repeating: 0xFF, count: padding)
                var owned = ByteReader(bytes, context: "t")
                #expect(try owned.varint() == value, "\(value) padded by \(padding)")
                #expect(try owned.u8() == 0xAB)
                try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> Void in
                    var borrowed = RawByteReader(raw, context: "t")
                    #expect(try borrowed.varint() == value, "\(value) padded by \(padding), in place")
                    #expect(try borrowed.u8() == 0xAB)
                }
            }
        }
        // An unterminated varint is an error with plenty of bytes left, as at the end.
        let unterminated = [UInt8](repeating: 0x80, count: 9) + [0x80] + [UInt8](repeating: 0, count: 8)
        unterminated.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Void in
            var r = RawByteReader(raw, context: "t")
            #expect(throws: RedError.self) { try r.varint() }
        }
    }

    @Test func rejectsOverlongAndOverflowingVarints() {
        var tooLong = ByteReader([UInt8](repeating: 0x80, count: 11), context: "t")
        #expect(throws: RedError.self) { try tooLong.varint() }
        var overflow = ByteReader([UInt8](repeating: 0xFF, count: 9) + [0x02], context: "t")
        #expect(throws: RedError.self) { try overflow.varint() }
    }

    @Test func lengthsBeyondTheLimitOrTheInputAreErrorsNamingTheContext() {
        var w = ByteWriter()
        w.varint(1000)
        var r = ByteReader(w.bytes + [1, 2, 3], context: "page 9")
        let error = #expect(throws: RedError.self) { _ = try r.lengthPrefixed(limit: 100) }
        #expect(error?.code == .dataCorrupted)
        #expect(error?.message.hasPrefix("page 9") == true)
        var short = ByteReader(w.bytes + [1, 2, 3], context: "t")
        #expect(throws: RedError.self) { _ = try short.lengthPrefixed(limit: 10_000) }
    }

    @Test func randomInputNeverTraps() {
        var seed: UInt64 = 1
        for _ in 0..<5000 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let n = Int(seed >> 58)
            let input = (0..<n).map { UInt8(truncatingIfNeeded: seed >> UInt64($0 % 56)) }
            var r = ByteReader(input, context: "fuzz")
            _ = try? r.varint()
            _ = try? r.lengthPrefixed(limit: 64)
            _ = try? r.u64()
            _ = try? r.take(Int(seed % 9))
        }
    }

    @Test func everyCodeHasAStableSQLState() {
        for code in RedError.Code.allCases { #expect(code.sqlState.count == 5) }
        #expect(RedError.Code.serializationFailure.sqlState == "40001")
        #expect(RedError.Code.undefinedCollection.sqlState == "42P01")
    }
}
