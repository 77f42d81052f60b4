import NIOCore
import RedCore
@testable import RedServer
import Testing

/// Text and binary encodings of values and parameters.
@Suite struct PGValueCodecTests {
    static func binary(_ value: Value, _ type: PGType) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try PGValueCodec.write(value, as: type, format: .binary, into: &buffer)
        _ = buffer.readInteger(as: Int32.self)
        return buffer
    }

    @Test func numericRoundTripsThroughPostgresBinaryFormat() throws {
        for text in ["0", "1", "-1", "12.5", "0.0001", "-0.25", "10000", "123456789.1234", "-92233720368.5477", "99990000",
                     "1.50", "0.00", "100.000", "123456789012345678901234567890123456", "-0.000000000000000000000000000000000001",
                     "1234567890123456789.01234567890123456", "0.1000", "999999999999999999999999999999999999"] {
            let value = try #require(try Numeric.parse(text))
            var bytes = try Self.binary(.decimal(value), .numeric)
            let decoded = try PGValueCodec.readNumeric(&bytes)
            #expect(decoded.isIdentical(to: value), "\(text) came back as \(decoded)")
        }
    }

    /// Hostile or unusual binary numerics are values or errors, never traps (review).
    @Test func binaryNumericEdgesDecodeAsPostgresDoes() throws {
        func read(_ words: [Int16]) throws -> Numeric {
            var buffer = ByteBuffer()
            for w in words { buffer.writeInteger(w) }
            return try PGValueCodec.readNumeric(&buffer)
        }
        #expect(try read([0, 9, 0, 0]).text == "0")              // no digits, a large weight
        #expect(try read([1, 9, 0, 2, 0]).text == "0.00")        // one zero digit
        #expect(try read([2, 0, 0, 0, 1, 5000]).text == "1")     // dscale 0 cuts .5, as numeric_recv does
        #expect(try read([3, 1, 0, 0, 0, 12, 0]).text == "12")   // a leading zero group
        #expect(throws: RedError.self) { try read([0, 0, 0, 0x4000]) }  // dscale past PostgreSQL's limit
        #expect(throws: RedError.self) { try read([1, 200, 0, 0, 1]) }  // 10^800
    }

    @Test func numericBinaryLayoutMatchesPostgres() throws {
        // 12.5 = digits [12, 5000], weight 0, positive, dscale 1.
        var bytes = try Self.binary(.decimal(Numeric(unchecked: 125, scale: 1)), .numeric)
        #expect(bytes.readInteger(as: Int16.self) == 2)
        #expect(bytes.readInteger(as: Int16.self) == 0)
        #expect(bytes.readInteger(as: UInt16.self) == 0)
        #expect(bytes.readInteger(as: Int16.self) == 1)
        #expect(bytes.readInteger(as: Int16.self) == 12)
        #expect(bytes.readInteger(as: Int16.self) == 5000)
    }

    @Test func textFormats() {
        #expect(PGValueCodec.text(.boolean(true), as: .bool) == "t")
        #expect(PGValueCodec.text(.float(.infinity), as: .float8) == "Infinity")
        #expect(PGValueCodec.text(.float(1.5), as: .float8) == "1.5")
        // PostgreSQL's float8out and float4out (each checked there): plain from 1e-4 up to 1e15
        // (1e6 for real), else scientific with a two-digit exponent at least.
        let float8: [(Double, String)] = [(1e-7, "1e-07"), (123456789012345678, "1.2345678901234568e+17"), (1e15, "1e+15"),
                                          (1e14, "100000000000000"), (0.0001, "0.0001"), (0.00001, "1e-05"), (1.5e300, "1.5e+300"),
                                          (-2.5e-10, "-2.5e-10"), (100, "100"), (0.1 + 0.2, "0.30000000000000004"), (-0.0, "-0")]
        for (value, text) in float8 { #expect(PGValueCodec.text(.float(value), as: .float8) == text, "\(value)") }
        let real = PGType(DeclaredType(kind: .float4))
        let float4: [(Double, String)] = [(1e-5, "1e-05"), (1e6, "1e+06"), (1234567, "1.234567e+06"), (123456, "123456"),
                                          (0.0001, "0.0001"), (-0.5, "-0.5"), (3.4e38, "3.4e+38"), (0.1, "0.1")]
        for (value, text) in float4 { #expect(PGValueCodec.text(.float(value), as: real) == text, "\(value)") }
        #expect(PGValueCodec.text(.blob([0, 255]), as: .bytea) == "\\x00ff")
        #expect(PGValueCodec.text(.timestamp(86_400_000_000 + 1000), as: .timestamp) == "1970-01-02 00:00:00.001")
        #expect(PGValueCodec.text(.timestamp(86_400_000_000 + 1), as: .timestamp) == "1970-01-02 00:00:00.000001")
    }

    @Test func binaryParametersDecodeByOID() throws {
        func decode(_ bytes: [UInt8], _ oid: Int32, inferred: DataType = .any) throws -> Value {
            try PGValueCodec.decodeParameter(ByteBuffer(bytes: bytes), format: .binary, declared: oid, inferred: inferred)
        }
        #expect(try decode([0, 0, 0, 42], 23) == .integer(42))
        #expect(try decode([0xFF, 0xFE], 21) == .integer(-2))
        #expect(try decode([1], 16) == .boolean(true))
        #expect(try decode(Array(withUnsafeBytes(of: Float(2.5).bitPattern.bigEndian, Array.init)), 700) == .float(2.5))
        #expect(try decode([0, 0, 0, 0], 1082) == .date(10_957))  // 2000-01-01
        #expect(try decode([0, 0, 0, 0, 0, 0, 0, 0], 1114) == .timestamp(946_684_800_000_000))
        #expect(try decode([0, 0, 0, 0, 0, 0, 0, 7], 1184) == .timestamp(946_684_800_000_007))  // microseconds kept
        #expect(try decode([1] + Array(#"{"a":1}"#.utf8), 3802) == .json(try JSONValue.parse(#"{"a":1}"#)))
        #expect(try decode(Array("7".utf8), 25, inferred: .integer) == .integer(7))
        // Integers and floats by their length (a binary COPY into an INT column may send int4).
        #expect(try decode([0, 0, 0, 42], 20) == .integer(42))
        #expect(try decode([0xFF, 0xFE], 23) == .integer(-2))
        #expect(try decode(Array(withUnsafeBytes(of: Float(2.5).bitPattern.bigEndian, Array.init)), 701) == .float(2.5))
        #expect(throws: RedError.self) { try decode([0, 1, 2], 20) }  // no integer has 3 bytes
        #expect(throws: RedError.self) { try decode([0, 1], 700) }
        #expect(throws: RedError.self) { try decode([1, 2, 3], 600) }  // unknown type
    }

    @Test func textParametersFollowDeclaredOrInferredTypes() throws {
        func decode(_ text: String, _ oid: Int32, _ inferred: DataType = .any) throws -> Value {
            try PGValueCodec.decodeParameter(ByteBuffer(string: text), format: .text, declared: oid, inferred: inferred)
        }
        #expect(try decode("12", 20) == .integer(12))
        #expect(try decode("12", 0, .integer) == .integer(12))
        #expect(try decode("12", 0) == .text("12"))
        #expect(try decode("t", 16) == .boolean(true))
        #expect(try decode("\\x0aff", 17) == .blob([10, 255]))
        #expect(try decode("NaN", 701).displayText == Value.float(.nan).displayText)
        #expect(throws: RedError.self) { try decode("abc", 20) }
        #expect(try PGValueCodec.decodeParameter(nil, format: .text, declared: 20, inferred: .any) == .null)
    }

    /// Array parameters (`id = ANY($1)` with a list): PostgreSQL's text form and binary layout,
    /// elements read as the array's element type; malformed arrays are errors, never traps.
    @Test func arrayParametersDecodeInTextAndBinary() throws {
        func text(_ s: String, _ oid: Int32) throws -> String {
            try PGValueCodec.decodeParameter(ByteBuffer(string: s), format: .text, declared: oid, inferred: .any).jsonValue.text
        }
        #expect(try text("{1,2,NULL}", 1016) == "[1,2,null]")
        #expect(try text(#"{"a b",c}"#, 1009) == #"["a b","c"]"#)
        #expect(try text("{{1,2},{3,4}}", 1007) == "[[1,2],[3,4]]")
        #expect(try text("{t,f}", 1000) == "[true,false]")
        #expect(throws: RedError.self) { try text("{1,x}", 1016) }
        #expect(throws: RedError.self) { try text("1,2", 1016) }
        // Binary: ndim, flags, element OID, (length, lower bound) per dimension, then (length, bytes) per element.
        func int32s(_ values: [Int32]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bigEndian, Array.init) } }
        func binary(_ bytes: [UInt8], _ oid: Int32) throws -> String {
            try PGValueCodec.decodeParameter(ByteBuffer(bytes: bytes), format: .binary, declared: oid, inferred: .any).jsonValue.text
        }
        let ints = int32s([1, 1, 23, 3, 1, 4, 7, -1, 4, -2])
        #expect(try binary(ints, 1007) == "[7,null,-2]")
        #expect(try binary(int32s([2, 0, 23, 2, 1, 1, 1, 4, 1, 4, 2]), 1007) == "[[1],[2]]")
        #expect(try binary(int32s([0, 0, 23]), 1007) == "[]")
        // A zero-length dimension is empty whatever the others claim (their product would overflow).
        #expect(try binary(int32s([4, 0, 23, 0, 1, 2_147_483_647, 1, 2_147_483_647, 1, 2_147_483_647, 1]), 1007) == "[]")
        #expect(throws: RedError.self) { try binary(int32s([1, 0, 25, 1, 1, 4, 7]), 1007) }  // not the array type's element OID
        #expect(throws: RedError.self) { try binary(int32s([1, 0, 23, 1_000_000, 1]), 1007) }  // more elements than bytes
        #expect(throws: RedError.self) { try binary(int32s([2, 0, 23, 65_536, 1, 65_536, 1]), 1007) }  // the same, by a product
        #expect(throws: RedError.self) { try binary(int32s([7, 0, 23]), 1007) }  // too many dimensions
        #expect(throws: RedError.self) { try binary(ints + [0], 1007) }  // trailing bytes
        #expect(throws: RedError.self) { try binary(int32s([1, 0, 23, 2, 1, 4, 7]), 1007) }  // truncated
    }

    /// Timestamps at the ends of Int64 (a binary parameter, or a value stored before ranges
    /// were checked) are 22008 both ways, never a trap; text output still prints them.
    @Test func timestampsOutsidePostgresRangeAreErrorsNotTraps() throws {
        let extreme = withUnsafeBytes(of: (Int64.min + 1).bigEndian, Array.init)
        #expect(throws: RedError.self) {
            try PGValueCodec.decodeParameter(ByteBuffer(bytes: extreme), format: .binary, declared: 1114, inferred: .any)
        }
        // PostgreSQL's ±infinity (the ends of Int64 in microseconds) round-trip as themselves.
        for micros in [Int64.max, Int64.min] {
            let value = try PGValueCodec.decodeParameter(ByteBuffer(bytes: withUnsafeBytes(of: micros.bigEndian, Array.init)),
                                                         format: .binary, declared: 1114, inferred: .any)
            #expect(value == .timestamp(micros == .max ? CalendarMath.infinity : CalendarMath.negativeInfinity))
            var written = try Self.binary(value, .timestamp)
            #expect(written.readInteger(as: Int64.self) == micros)
        }
        for ms in [Int64.min + 1, Int64.max - 1] {
            var buffer = ByteBuffer()
            #expect(throws: RedError.self) { try PGValueCodec.write(.timestamp(ms), as: .timestamp, format: .binary, into: &buffer) }
            #expect(!CalendarMath.formatTimestamp(ms).isEmpty)
            #expect(!CalendarMath.formatISO(ms).isEmpty)
        }
    }

    @Test func rowValuesRefuseTypesTheColumnCannotCarry() {
        var buffer = ByteBuffer()
        #expect(throws: RedError.self) { try PGValueCodec.write(.text("x"), as: .int8, format: .binary, into: &buffer) }
    }
}
