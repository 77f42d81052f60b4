import Testing
@testable import RedCore

@Suite struct ValueTests {
    static func sample(_ rng: inout SystemRandomNumberGenerator) -> Value {
        switch Int.random(in: 0..<8, using: &rng) {
        case 0: return .integer(Int64.random(in: -1_000_000...1_000_000, using: &rng) * (Bool.random(using: &rng) ? 1 : 1_000_000_000))
        case 1: return .float(Double.random(in: -1e6...1e6, using: &rng))
        case 2: return .decimal(Numeric(unchecked: Int128(Int64.random(in: -10_000_000...10_000_000, using: &rng)), scale: Int.random(in: 0...6, using: &rng)))
        case 3: return .text(String((0..<Int.random(in: 0...6, using: &rng)).map { _ in "ab\u{0}z€".randomElement(using: &rng)! }))
        case 4: return .boolean(Bool.random(using: &rng))
        case 5: return .timestamp(Int64.random(in: -10_000_000_000...10_000_000_000, using: &rng))
        case 6: return .null
        default: return .uuid(UUIDBits(high: UInt64.random(in: 0...UInt64.max, using: &rng), low: UInt64.random(in: 0...9, using: &rng)))
        }
    }

    /// Files of format version 1 hold timestamps in milliseconds under tag 8; they read as
    /// microseconds, their infinities as themselves. New values are written under tag 16.
    @Test func millisecondTimestampsOfEarlierFilesReadAsMicroseconds() throws {
        func decode(_ bytes: [UInt8]) throws -> Value {
            var reader = ByteReader(bytes, context: "test")
            return try ValueCodec.decode(&reader)
        }
        func legacy(_ ms: Int64) -> [UInt8] {
            var writer = ByteWriter()
            writer.u8(8); writer.varint(ValueCodec.zigzag(ms))
            return writer.bytes
        }
        #expect(try decode(legacy(1_500)) == .timestamp(1_500_000))
        #expect(try decode(legacy(-1)) == .timestamp(-1000))
        #expect(try decode(legacy(CalendarMath.infinity)) == .timestamp(CalendarMath.infinity))
        #expect(try decode(legacy(CalendarMath.negativeInfinity)) == .timestamp(CalendarMath.negativeInfinity))
        var writer = ByteWriter()
        ValueCodec.encode(.timestamp(1_500_001), into: &writer)
        #expect(writer.bytes.first == 16)
        #expect(try decode(writer.bytes) == .timestamp(1_500_001))
    }

    /// A bulk load stores a value `keepsAsIs` accepts without coercing it: for every type and
    /// every kind of value, coercion must then give back that very value.
    @Test func valuesATypeKeepsAsTheyAreAreWhatItsCoercionReturns() throws {
        let values: [Value] = [
            .null, .boolean(true), .integer(-7), .float(2.5), .float(-0.0), .decimal(try #require(try Numeric.parse("12.340"))),
            .text("ab"), .text(" 12 "), .text("une chaîne assez longue pour le tas"), .blob([0, 255]), .json(.object([])),
            .timestamp(1_700_000_000_000_000), .date(19_000), .uuid(UUIDBits(high: 1, low: 2)), .vector([1, 2]),
            .interval(Interval(months: 1, days: 2, microseconds: 3)),
        ]
        var kept = 0
        for type in DataType.allCases {
            for value in values where type.keepsAsIs(value) {
                kept += 1
                #expect(!value.isNull)
                let coerced = try type.coerce(value)
                if case .json(let a) = coerced, case .json(let b) = value {
                    #expect(a == b, "\(type) changes \(value)")  // `isIdentical` leaves JSON to its callers
                } else {
                    #expect(coerced.isIdentical(to: value), "\(type) changes \(value)")
                }
            }
        }
        #expect(kept >= 9)  // at least the nine kinds listed in `keepsAsIs`
    }

    /// `Value` stays 8-byte aligned and 24 bytes apart in arrays: a payload aligned to 16
    /// bytes (as `.uuid` was, a UInt128) makes every `[Value]` a third bigger and allocated
    /// with `posix_memalign`.
    @Test func valueIsEightByteAlignedAndTwentyFourBytesInArrays() {
        #expect(MemoryLayout<Value>.alignment == 8)
        #expect(MemoryLayout<Value>.stride == 24)
    }

    /// The halves keep the 128-bit number's order, bytes and text.
    @Test func uuidHalvesKeepTheNumbersOrderBytesAndText() throws {
        let numbers: [UInt128] = [0, 1, 0xFF, UInt128(UInt64.max), UInt128(UInt64.max) + 1,
                                  0x0011_2233_4455_6677_8899_aabb_ccdd_eeff, .max - 1, .max]
        for a in numbers {
            let u = UUIDBits(a)
            #expect(u.value == a)
            #expect(UUIDBits(bigEndianBytes: u.bytes) == u)
            #expect((0..<16).map(u.byte) == u.bytes)
            #expect(u.bytes == (0..<16).map { UInt8(truncatingIfNeeded: a >> (8 * (15 - $0))) })
            for b in numbers { #expect((UUIDBits(a) < UUIDBits(b)) == (a < b)) }
        }
        #expect(UUIDBits(bigEndianBytes: [1, 2, 3]) == nil)
        #expect(Value.uuid(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff).displayText == "00112233-4455-6677-8899-aabbccddeeff")
        #expect(Value.uuid(1).jsonValue == .string("00000000000000000000000000000001"))
        let parsed = try DataType.uuid.coerce(.text("{00112233-4455-6677-8899-AABBCCDDEEFF}"))
        #expect(parsed == .uuid(UUIDBits(high: 0x0011_2233_4455_6677, low: 0x8899_aabb_ccdd_eeff)))
    }

    @Test func storageCodecRoundTrips() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let v = Self.sample(&rng)
            var w = ByteWriter()
            ValueCodec.encode(v, into: &w)
            var r = ByteReader(w.bytes, context: "test")
            #expect(try ValueCodec.decode(&r) == v)
            #expect(r.isAtEnd)
        }
        let json = try JSONValue.parse(#"{"a":[1,2.5,"x",null,true],"b":{"c":"é"}}"#)
        var w = ByteWriter()
        ValueCodec.encode(.json(json), into: &w)
        var r = ByteReader(w.bytes, context: "test")
        #expect(try ValueCodec.decode(&r) == .json(json))
    }

    /// Index keys sort as the values do: numbers of every kind together, NULL last.
    @Test func keyEncodingPreservesOrder() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let a = Self.sample(&rng), b = Self.sample(&rng)
            let comparable: Bool
            switch (a, b) {
            case (.null, _), (_, .null): comparable = true
            default:
                comparable = a.kindRank == b.kindRank && Value.compare(a, b) != nil
            }
            guard comparable else { continue }
            let expected = Value.sortCompare(a, b)
            let ka = KeyEncoding.encode([a]), kb = KeyEncoding.encode([b])
            let actual = ka == kb ? 0 : (ka.lexicographicallyPrecedes(kb) ? -1 : 1)
            #expect(expected.signum() == actual, "\(a) vs \(b)")
        }
    }

    @Test func groupingEqualityMatchesHashing() {
        let pairs: [(Value, Value)] = [(.integer(1), .float(1)), (.integer(2), .decimal(Numeric(unchecked: 200, scale: 2))), (.float(0.5), .decimal(Numeric(unchecked: 5, scale: 1)))]
        for (a, b) in pairs {
            #expect(a == b)
            #expect(a.hashValue == b.hashValue)
        }
        #expect(Value.null == Value.null)
        #expect(Value.compare(.null, .null) == nil)
    }

    /// `isIdentical` lets an UPDATE skip rebuilding index keys; it must be false wherever the
    /// encodings could differ, even when `==` holds.
    @Test func identicalMeansTheSameBits() {
        #expect(Value.text("caf\u{E9}") != Value.text("cafe\u{301}"), "text compares bytes, as PostgreSQL")
        #expect(!Value.text("caf\u{E9}").isIdentical(to: .text("cafe\u{301}")))
        #expect(Value.float(0.0) == Value.float(-0.0))
        #expect(!Value.float(0.0).isIdentical(to: .float(-0.0)))
        #expect(!Value.integer(1).isIdentical(to: .float(1)))
        #expect(!Value.null.isIdentical(to: .integer(0)))
        for v: Value in [.null, .boolean(true), .integer(-7), .float(.nan), .decimal(Numeric(unchecked: 12_345, scale: 4)), .text("x"), .blob([1, 2]),
                         .timestamp(99), .date(3), .uuid(42), .vector([1, -0.0])] {
            #expect(v.isIdentical(to: v), "\(v)")
        }
    }
}
