import RedCore

/// The QueryWithParams (0x28) payload: `u32 sql_len`, SQL, `u32 param_count` (≤ 65 536),
/// then each parameter as `u8 tag` + body (spec protocols §1.6.2). These tags are *not*
/// the binary-result tags of `BinaryValueCodec`.
///
/// | tag | value | body |
/// |---|---|---|
/// | 0x00 | null | — |
/// | 0x01 | bool | u8 0 or 1 |
/// | 0x02 | int64 | i64 |
/// | 0x03 | float64 | f64 |
/// | 0x04 | text | u32 len + UTF-8 |
/// | 0x05 | bytes | u32 len + raw |
/// | 0x06 | vector | u32 count + count × f32 |
/// | 0x07 | json | u32 len + JSON text |
/// | 0x08 | timestamp | i64 Unix seconds |
/// | 0x09 | uuid | 16 raw bytes |
public enum ParamValueCodec {
    public static let maximumParameters = 65_536

    public struct QueryWithParams: Sendable, Equatable {
        public var sql: String
        public var parameters: [Value]
        public init(sql: String, parameters: [Value]) { self.sql = sql; self.parameters = parameters }
    }

    public static func encode(_ query: QueryWithParams) -> [UInt8] {
        var writer = ByteWriter(capacity: 16 + query.sql.utf8.count + query.parameters.count * 9)
        writer.text32(query.sql)
        writer.u32(UInt32(query.parameters.count))
        for value in query.parameters { encode(value, into: &writer) }
        return writer.bytes
    }

    public static func decode(_ payload: [UInt8]) throws -> QueryWithParams {
        var reader = WireReader(payload)
        let sql = try reader.text32("sql")
        let count = Int(try reader.u32("param_count"))
        guard count <= maximumParameters else {
            throw RedError(.protocolViolation, "param_count \(count) exceeds RedWire v1 limit")
        }
        var parameters: [Value] = []
        parameters.reserveCapacity(min(count, reader.remaining))
        for _ in 0..<count { parameters.append(try decodeValue(&reader)) }
        try reader.expectEnd()
        return QueryWithParams(sql: sql, parameters: parameters)
    }

    /// Encodes one parameter. Types without a tag travel as their canonical text (the server
    /// casts text to the column's type): decimals, dates and intervals.
    public static func encode(_ value: Value, into writer: inout ByteWriter) {
        switch value {
        case .null: writer.u8(0x00)
        case .boolean(let b): writer.u8(0x01); writer.u8(b ? 1 : 0)
        case .integer(let i): writer.u8(0x02); writer.u64(UInt64(bitPattern: i))
        case .float(let f): writer.u8(0x03); writer.u64(f.bitPattern)
        case .text(let s): writer.u8(0x04); writer.text32(s)
        case .blob(let b): writer.u8(0x05); writer.u32(UInt32(b.count)); writer.append(b)
        case .vector(let v):
            writer.u8(0x06)
            writer.u32(UInt32(v.count))
            for f in v { writer.u32(f.bitPattern) }
        case .json(let j): writer.u8(0x07); writer.text32(j.text)
        case .timestamp(let us) where us % 1_000_000 == 0:
            writer.u8(0x08)  // the spec's timestamp parameter counts whole seconds
            writer.u64(UInt64(bitPattern: us / 1_000_000))
        case .timestamp:  // with a fraction of a second: its text, which the server reads back exactly
            writer.u8(0x04); writer.text32(value.displayText)
        case .uuid(let u):
            writer.u8(0x09)
            for i in 0..<16 { writer.u8(u.byte(i)) }
        case .decimal, .date, .interval:
            writer.u8(0x04); writer.text32(value.displayText)
        }
    }

    static func decodeValue(_ reader: inout WireReader) throws -> Value {
        let tag = try reader.u8("param tag")
        switch tag {
        case 0x00: return .null
        case 0x01:
            let b = try reader.u8("bool")
            guard b <= 1 else { throw RedError(.protocolViolation, "invalid bool payload byte \(b)") }
            return .boolean(b == 1)
        case 0x02: return .integer(Int64(bitPattern: try reader.u64("int64")))
        case 0x03: return .float(Double(bitPattern: try reader.u64("float64")))
        case 0x04: return .text(try reader.text32("text"))
        case 0x05: return .blob(try reader.bytes(Int(try reader.u32("bytes length")), "bytes"))
        case 0x06:
            let count = Int(try reader.u32("vector count"))
            guard count <= reader.remaining / 4 else { throw RedError(.protocolViolation, "truncated vector") }
            var vector: [Float] = []
            vector.reserveCapacity(count)
            for _ in 0..<count { vector.append(Float(bitPattern: try reader.u32("vector"))) }
            return .vector(vector)
        case 0x07:
            let text = try reader.text32("json")
            do { return .json(try JSONValue.parse(text)) } catch {
                throw RedError(.protocolViolation, "json parameter is not valid JSON")
            }
        case 0x08:
            let seconds = Int64(bitPattern: try reader.u64("timestamp"))
            let (us, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
            guard !overflow, CalendarMath.timestampRange.contains(us) else { throw RedError(.protocolViolation, "timestamp parameter out of range") }
            return .timestamp(us)
        case 0x09:
            // Two big-endian halves, read without an array (`u64` reads little-endian).
            let high = try reader.u64("uuid").byteSwapped
            let low = try reader.u64("uuid").byteSwapped
            return .uuid(UUIDBits(high: high, low: low))
        default:
            throw RedError(.protocolViolation, "unknown parameter value tag 0x\(tag < 16 ? "0" : "")\(String(tag, radix: 16))")
        }
    }
}
