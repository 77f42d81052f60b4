import RedCore
import Testing

/// NUMERIC values: exact, with PostgreSQL's display scales (the expected texts are what
/// PostgreSQL 15 prints), 36 digits, and encodings that keep order and scale.
@Suite struct NumericTests {
    func n(_ text: String) throws -> Numeric { try #require(try Numeric.parse(text), "\(text)") }

    @Test func parsingKeepsTheWrittenScale() throws {
        let cases: [(String, String)] = [
            ("1.50", "1.50"), ("-0.001", "-0.001"), ("007", "7"), (".5", "0.5"), ("5.", "5"), ("+2.0", "2.0"),
            ("1.5e1", "15"), ("1.25e-2", "0.0125"), ("0.000", "0.000"), (" 3.14 ", "3.14"), ("1e3", "1000"),
            ("123456789012345678901234567890123456", "123456789012345678901234567890123456"),
            // Past 36 significant digits the fraction rounds (half away from zero).
            ("1.23456789012345678901234567890123456789", "1.23456789012345678901234567890123457"),
            ("0.999999999999999999999999999999999999995", "1.00000000000000000000000000000000000"),
            // Digits past 77 are dropped without rounding twice: …456|4999…9 stays …456.
            ("0.123456789012345678901234567890123456" + "4" + String(repeating: "9", count: 60), "0.123456789012345678901234567890123456"),
            ("0.123456789012345678901234567890123456" + "5" + String(repeating: "0", count: 60) + "1", "0.123456789012345678901234567890123457"),
        ]
        for (text, expected) in cases { #expect(try n(text).text == expected, "\(text)") }
        #expect(try n("0e39").text == "0")  // a zero with a large exponent (review: an index past the powers table)
        #expect(try n("0E+1000").text == "0")
        #expect(try n("0.00e-2").text == "0.0000")
        for bad in ["", "abc", "1.2.3", "-", ".", "1e", "e5", "1x", "--1", "1 2"] {
            #expect(try Numeric.parse(bad) == nil, "\(bad)")
        }
        #expect(throws: RedError.self) { try Numeric.parse("1234567890123456789012345678901234567") }  // 37 integer digits
        #expect(throws: RedError.self) { try Numeric.parse("1e40") }
    }

    @Test func arithmeticFollowsPostgresScales() throws {
        func check(_ result: Numeric, _ expected: String, _ what: String) { #expect(result.text == expected, "\(what)") }
        check(try n("1.50").adding(n("1")), "2.50", "1.50 + 1")
        check(try n("0.1").adding(n("0.2")), "0.3", "0.1 + 0.2")
        check(try n("1").subtracting(n("1.001")), "-0.001", "1 - 1.001")
        check(try n("1.1").multiplying(n("1.1")), "1.21", "1.1 * 1.1")
        check(try n("19.99").multiplying(n("3")), "59.97", "19.99 * 3")
        check(try n("1.5").multiplying(n("2")), "3.0", "1.5 * 2")
        check(try n("1").dividing(by: n("3")), "0.33333333333333333333", "1 / 3")
        check(try n("10").dividing(by: n("4")), "2.5000000000000000", "10 / 4")
        check(try n("100000").dividing(by: n("3")), "33333.333333333333", "100000 / 3")
        check(try n("2").dividing(by: n("3")), "0.66666666666666666667", "2 / 3")
        check(try n("1.000000").dividing(by: n("8")), "0.12500000000000000000", "1.000000 / 8")
        check(try n("0.001").dividing(by: n("7")), "0.00014285714285714286", "0.001 / 7")
        check(try n("-7").dividing(by: n("2")), "-3.5000000000000000", "-7 / 2")
        check(try n("5.5").remainder(dividingBy: n("2")), "1.5", "5.5 % 2")
        check(try n("-5.5").remainder(dividingBy: n("2")), "-1.5", "-5.5 % 2")
        check(try n("10").remainder(dividingBy: n("0.3")), "0.1", "10 % 0.3")
        check(try n("12345678901234567890").multiplying(n("10")), "123456789012345678900", "wide product")
        // Past 36 digits a result's fraction is rounded to fit; its integer part never is.
        check(try n("0.123456789012345678901234567890123456").adding(n("1")), "1.12345678901234567890123456789012346", "rounded sum")
        #expect(throws: RedError.self) { try n("999999999999999999999999999999999999").adding(n("1")) }
        #expect(throws: RedError.self) { try n("10000000000000000000").multiplying(n("10000000000000000000")) }
        #expect(throws: RedError.self) { try n("1").dividing(by: n("0")) }
        #expect(throws: RedError.self) { try n("1").remainder(dividingBy: n("0.00")) }
    }

    @Test func roundingIsHalfAwayFromZero() throws {
        let cases: [(String, Int, Bool, String)] = [
            ("2.5", 0, false, "3"), ("-2.5", 0, false, "-3"), ("1.2345", 2, false, "1.23"), ("1.235", 2, false, "1.24"),
            ("1234.5", -2, false, "1200"), ("1.5", 3, false, "1.500"), ("-1.99", 0, true, "-1"), ("1.999", 2, true, "1.99"),
            ("0.0001", 2, false, "0.00"), ("999.96", 1, false, "1000.0"),
        ]
        for (text, places, truncating, expected) in cases {
            #expect(try n(text).rounded(toPlaces: places, truncating: truncating).text == expected, "\(text) \(places)")
        }
        #expect(try n("-1.5").floor().text == "-2")
        #expect(try n("-1.5").ceiling().text == "-1")
        #expect(try n("1.2").ceiling().text == "2")
        #expect(try n("3.00").floor().text == "3")
        #expect(try n("2.5").roundedInteger == 3)
        #expect(try n("-2.5").roundedInteger == -3)
        #expect(try n("99999999999999999999").roundedInteger == nil)
        #expect(try n("1.5").rounded(toPlaces: .min).text == "0")  // no overflow in scale − places
        #expect(try n("1.5").rounded(toPlaces: .max).text == "1.50000000000000000000000000000000000")  // 36 digits
    }

    @Test func comparisonIgnoresScale() throws {
        #expect(try n("1.50") == n("1.5"))
        #expect(try n("1.50").hashValue == n("1.5").hashValue)
        #expect(try !n("1.50").isIdentical(to: n("1.5")))
        #expect(try n("-0.001") < n("0"))
        #expect(try n("999999999999999999999999999999999999") > n("0.000000000000000000000000000000000001"))
        #expect(try n("-999999999999999999999999999999999999") < n("-0.1"))
        #expect(try Value.decimal(n("2.00")) == Value.integer(2))
        #expect(try Value.decimal(n("0.5")) == Value.float(0.5))
        #expect(try Value.compare(.integer(3), .decimal(n("2.99999999999999999999"))) == 1)
    }

    @Test func doublesConvertAsPostgresDoes() throws {
        #expect(try Numeric(double: 0.1).text == "0.1")
        #expect(try Numeric(double: 0.1 + 0.2).text == "0.3")  // 15 significant digits
        #expect(try Numeric(double: 1e-20).text == "0.00000000000000000001")
        #expect(try Numeric(double: -1234.5).text == "-1234.5")
        #expect(try Numeric(double: 1.2345678901234567e30).text == "1234567890123460000000000000000")
        #expect(throws: RedError.self) { try Numeric(double: .nan) }
        #expect(throws: RedError.self) { try Numeric(double: 1e300) }
        #expect(try n("0.1").doubleValue == 0.1)
        #expect(try n("12345678901234567890.123").doubleValue == 12345678901234567890.123)
    }

    /// Index keys: byte order is numeric order, whatever the scales, and a numeric that is a
    /// whole Int64 has the integer's key.
    @Test func keyOrderIsNumericOrder() throws {
        var rng = SystemRandomNumberGenerator()
        var values: [Numeric] = try ["0", "-0.5", "0.5", "1", "1.00", "-1", "-1.0000000000000000001", "1.0000000000000000001",
                                     "-0.99999999999999999999", "9223372036854775807", "9223372036854775808.5",
                                     "-9223372036854775809", "-9223372036854775808", "-9223372036854775808.5",
                                     "-9223372036854776832.5", "-9223372036854775807.5", "999999999999999999999999999999999999",
                                     "-999999999999999999999999999999999999", "0.000000000000000000000000000000000001"].map(n)
        for _ in 0..<400 {
            let scale = Int.random(in: 0...Numeric.maxDigits, using: &rng)
            let magnitude = Int128.random(in: 0...Int128(Numeric.limit) - 1, using: &rng) / Int128(Numeric.powers[Int.random(in: 0..<Numeric.maxDigits, using: &rng)])
            values.append(Numeric(unchecked: Bool.random(using: &rng) ? magnitude : -magnitude, scale: scale))
        }
        func key(_ v: Numeric, then suffix: Value) -> [UInt8] { KeyEncoding.encode([.decimal(v), suffix]) }
        for a in values {
            for b in values.prefix(70) {
                let expected = Numeric.compare(a, b)
                // Followed by another column, as in a composite key: the numeric decides first.
                let ka = key(a, then: .text("b")), kb = key(b, then: .text("a"))
                let actual = ka == kb ? 0 : (ka.lexicographicallyPrecedes(kb) ? -1 : 1)
                if expected != 0 { #expect(actual == expected, "\(a) vs \(b)") }
                let plainA = KeyEncoding.encode([.decimal(a)]), plainB = KeyEncoding.encode([.decimal(b)])
                #expect((plainA == plainB) == (expected == 0), "\(a) vs \(b)")
                // The keys of rows holding exactly `a` (a row id or another column after it) lie
                // in [key(a), end(ofValues: key(a))); no other value's do.
                let entryB = plainB + [0x00, 0, 0, 0, 0, 0, 0, 7]
                let inside = !entryB.lexicographicallyPrecedes(plainA) && entryB.lexicographicallyPrecedes(KeyEncoding.end(ofValues: plainA))
                #expect(inside == (expected == 0), "\(b) in the range of \(a)")
            }
        }
        #expect(try KeyEncoding.encode([.decimal(n("42.000"))]) == KeyEncoding.encode([.integer(42)]))
    }

    @Test func storedValuesKeepTheirScale() throws {
        for text in ["0", "1.50", "-0.0001", "123456789012345678901234567890123456", "-1.23456789012345678901234567890123456",
                     "9223372036854775807", "-9223372036854775808.1"] {
            let value = Value.decimal(try n(text))
            var w = ByteWriter()
            ValueCodec.encode(value, into: &w)
            var r = ByteReader(w.bytes, context: "test")
            let back = try ValueCodec.decode(&r)
            #expect(back.isIdentical(to: value), "\(text)")
            #expect(w.bytes.count <= ValueCodec.estimatedSize(value))
        }
        // A decimal written by earlier versions (tag 12: the value × 10⁴) reads at scale 4.
        var legacy = ByteWriter()
        legacy.u8(12); legacy.varint(ValueCodec.zigzag(125_000))
        var reader = ByteReader(legacy.bytes, context: "test")
        #expect(try ValueCodec.decode(&reader).displayText == "12.5000")
        // A corrupt scale or mantissa is an error, never a trap.
        var corrupt = ByteReader([14, 37, 0], context: "test")
        #expect(throws: RedError.self) { try ValueCodec.decode(&corrupt) }
    }

    @Test func jsonKeepsEveryDigit() throws {
        #expect(try n("2.00").jsonValue == .integer(2))
        #expect(try n("1.5").jsonValue == .float(1.5))
        #expect(try n("0.12345678901234567890123").jsonValue == .string("0.12345678901234567890123"))
    }
}
