import RedCore
import RedStorage
import Testing
@testable import RedEngine

@Suite struct StoredRowEncodingTests {
    /// A row written straight into a write set's arena (through `RawByteWriter`, into room
    /// sized by `encodedSizeBound`) must be byte for byte the row `encoded()` builds, and never
    /// longer than its bound, for every kind of value at its extremes.
    @Test func inPlaceEncodingMatchesTheArrayAndStaysWithinItsBound() throws {
        let samples: [Value] = [
            .null, .boolean(true), .boolean(false), .integer(0), .integer(.min), .integer(.max), .float(-0.5), .float(.infinity),
            .text(""), .text("é🙂"), .text(String(repeating: "x", count: 70_000)), .blob([]), .blob([UInt8](repeating: 7, count: 300)),
            .timestamp(.min), .timestamp(.max), .date(.min), .date(.max), .uuid(.max), .uuid(1), .decimal(Numeric(unchecked: 1 - Int128(Numeric.limit), scale: 0)), .decimal(Numeric(unchecked: Int128(Numeric.limit) - 1, scale: Numeric.maxDigits)),
            .decimal(Numeric(unchecked: Int128(Int64.min), scale: 3)), .decimal(Numeric(Int64(0))),
            .vector([]), .vector([1.5, -2, 3.25]),
        ]
        let arena = ByteArena()
        var rng = SplitMix64(seed: 5)
        for round in 0..<400 {
            var values = ColumnValues()
            for _ in 0..<Int(rng.next() % 6) {
                values[UInt16(truncatingIfNeeded: rng.next() % 70_000)] = samples[Int(rng.next() % UInt64(samples.count))]
            }
            let row = StoredRow(rid: Int64(round), values: values, expiresAt: round % 3 == 0 ? nil : .max,
                                createdAt: round % 2 == 0 ? .min : .max, updatedAt: -1)
            let bound = row.encodedSizeBound!
            let written = arena.reserve(bound) { start in
                var w = RawByteWriter(start.assumingMemoryBound(to: UInt8.self))
                row.encode(into: &w)
                return UnsafeMutableRawPointer(w.pointer) - start
            }
            #expect(written.array == row.encoded())
            #expect(written.count <= bound)
            #expect(try StoredRow.decode(rid: row.rid, written.array) == row)
        }
        var json = ColumnValues()
        json[0] = .json(.object([("a", .integer(1))]))
        #expect(StoredRow(rid: 1, values: json, createdAt: 0, updatedAt: 0).encodedSizeBound == nil)  // only known once encoded
    }

    /// Room given back after an in-place write is reused by the next piece, and pieces taken
    /// before and after keep their bytes.
    @Test func reservedRoomShrinksToWhatWasWritten() {
        let arena = ByteArena()
        let before = arena.copy([1, 2, 3])
        let piece = arena.reserve(100) { start in
            start.storeBytes(of: 9, as: UInt8.self)
            return 1
        }
        let after = arena.copy([4, 5])
        #expect(before.array == [1, 2, 3] && piece.array == [9] && after.array == [4, 5])
        #expect(after.baseAddress == piece.baseAddress! + 1)
        #expect(arena.bytesUsed == 6)
        let big = arena.reserve(50_000) { _ in 10 }  // a chunk of its own: nothing to give back, counted as written
        #expect(big.count == 10 && arena.bytesUsed == 16)
    }
}
