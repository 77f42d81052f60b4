import GRPCCore
import RedCore

/// A `BinaryBulkInsertRequest` as it came off the wire, not yet decoded.
///
/// Why by hand: swift-protobuf decodes the whole message into nested message structs
/// (a struct per row and per value, a `Data` per blob) before the handler sees it, on one
/// core; for a 100,000-row load that was about 40 % of the call. `BinaryBulkInsertScan`
/// instead finds the collection and the field names and counts the rows in one quick pass
/// (which also checks every top-level length), and the handler decodes rows straight into
/// `Value`s a batch at a time while the batches before are inserted
/// (`GRPCService.bulkInsertBinary(raw:)`).
struct RawBinaryBulkInsert: Sendable {
    var bytes: [UInt8]
}

/// Keeps the message's bytes as they are (the router's deserializer for `BulkInsertBinary`).
struct RawBinaryBulkInsertDeserializer: MessageDeserializer {
    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> RawBinaryBulkInsert {
        RawBinaryBulkInsert(bytes: serializedMessageBytes.withUnsafeBytes { Array($0) })
    }
}

/// The top level of a `BinaryBulkInsertRequest` (field numbers from the spec: 1 collection,
/// 2 field_names, 3 rows; a row is `BinaryRow { repeated BinaryValue values = 1 }`, a value
/// the oneof `BinaryValue`: 1 text, 2 int64, 3 double, 4 bool, 5 bytes, none = NULL).
/// Decoding follows protobuf's rules as swift-protobuf applies them: fields in any order,
/// unknown fields skipped (a known field number with another wire type counts as unknown),
/// the last of a oneof's fields wins, invalid UTF-8 in a string is malformed.
///
/// Memory stays bounded by the message: the scan keeps no per-row state, rows are decoded a
/// batch at a time in message order (`nextRows`), and a row holding more values than there
/// are field names stores none past that count.
struct BinaryBulkInsertScan {
    var collection = ""
    var fieldNames: [String] = []
    var rowCount = 0
    let bytes: [UInt8]

    /// Where `nextRows` goes on from.
    struct Position {
        fileprivate var offset = 0
        /// Rows returned so far.
        fileprivate(set) var rows = 0
    }

    /// The most field names a message may carry (a table's column limit).
    static let maxFieldNames = 1_600

    init(_ bytes: [UInt8]) throws {
        self.bytes = bytes
        try bytes.withUnsafeBytes { buffer in
            var reader = ProtobufReader(buffer, range: 0..<buffer.count)
            while let (field, wire) = try reader.nextField() {
                switch (field, wire) {
                case (1, .lengthDelimited): collection = try reader.string()
                case (2, .lengthDelimited):
                    // A table has at most 1,600 columns: more names could only be a request sized
                    // to make the server allocate (134 M empty names fit 256 MiB, about 2 GiB).
                    guard fieldNames.count < Self.maxFieldNames else {
                        throw RedError(.limitExceeded, "bulk insert: more than \(Self.maxFieldNames) field names")
                    }
                    fieldNames.append(try reader.string())
                case (3, .lengthDelimited):
                    _ = try reader.lengthDelimitedRange()
                    rowCount += 1
                default: try reader.skip(wire, field: field)
                }
            }
        }
    }

    /// The next rows after `position`, at most `limit`, as values, each checked to hold one
    /// value per field name; empty once every row has been read.
    func nextRows(after position: inout Position, limit: Int) throws -> RowBlock {
        let width = fieldNames.count
        return try bytes.withUnsafeBytes { buffer in
            // The batch's values row after row, in one array (`RowBlock`: no array per row).
            var flat: [Value] = []
            // (Reserved up to a bound: the rows counted may be empty ones that fail below.)
            flat.reserveCapacity(min(min(limit, rowCount - position.rows) * width, 1 << 16))
            var decoded = 0
            var message = ProtobufReader(buffer, range: position.offset..<buffer.count)
            while decoded < limit, let (field, wire) = try message.nextField() {
                guard field == 3, wire == .lengthDelimited else {
                    try message.skip(wire, field: field)  // the collection and names were read by the scan
                    continue
                }
                var values = 0
                var reader = ProtobufReader(buffer, range: try message.lengthDelimitedRange())
                while let (field, wire) = try reader.nextField() {
                    switch (field, wire) {
                    case (1, .lengthDelimited):
                        var value = ProtobufReader(buffer, range: try reader.lengthDelimitedRange())
                        values += 1
                        if values <= width { flat.append(try Self.value(&value)) }
                    default: try reader.skip(wire, field: field)
                    }
                }
                guard values == width else {
                    throw RedError(.invalidArgument, "row \(position.rows + decoded) has \(values) values for \(width) field names")
                }
                decoded += 1
            }
            position.offset = message.offset
            position.rows += decoded
            return RowBlock(width: width, values: flat, count: decoded)
        }
    }

    /// One `BinaryValue`: text, integer, float, boolean or blob; NULL when no field is set.
    private static func value(_ reader: inout ProtobufReader) throws -> Value {
        var value = Value.null
        while let (field, wire) = try reader.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): value = .text(try reader.string())
            case (2, .varint): value = .integer(Int64(bitPattern: try reader.varint()))
            case (3, .fixed64): value = .float(Double(bitPattern: try reader.fixed64()))
            case (4, .varint): value = .boolean(try reader.varint() != 0)
            case (5, .lengthDelimited): value = .blob(Array(reader.buffer[try reader.lengthDelimitedRange()]))
            default: try reader.skip(wire, field: field)
            }
        }
        return value
    }
}

/// Reads protobuf's wire format from a byte range: tags, varints, fixed-width and
/// length-delimited fields. Every length is checked against the range, so truncated or
/// hostile input is an `INVALID_ARGUMENT` error, never a read past the buffer.
struct ProtobufReader {
    enum WireType: UInt8 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
    }

    let buffer: UnsafeRawBufferPointer
    private(set) var offset: Int
    private let end: Int

    init(_ buffer: UnsafeRawBufferPointer, range: Range<Int>) {
        self.buffer = buffer
        offset = range.lowerBound
        end = range.upperBound
    }

    static func malformed(_ what: String) -> RedError {
        RedError(.invalidArgument, "malformed BulkInsertBinary request: \(what)")
    }

    /// The next field's number and wire type; nil at the end of the range.
    mutating func nextField() throws -> (Int, WireType)? {
        guard offset < end else { return nil }
        let tag = try varint()
        guard let wire = WireType(rawValue: UInt8(tag & 7)) else { throw Self.malformed("wire type \(tag & 7)") }
        let field = tag >> 3
        guard field > 0, field <= 536_870_911 else { throw Self.malformed("field number \(field)") }
        return (Int(field), wire)
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while offset < end, shift < 64 {
            let byte = buffer[offset]
            offset += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        throw Self.malformed(offset >= end ? "truncated varint" : "varint longer than 10 bytes")
    }

    mutating func fixed64() throws -> UInt64 {
        guard end - offset >= 8 else { throw Self.malformed("truncated 64-bit field") }
        var result: UInt64 = 0
        for i in 0..<8 { result |= UInt64(buffer[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return result
    }

    /// The byte range of a length-delimited field's body, which is then skipped.
    mutating func lengthDelimitedRange() throws -> Range<Int> {
        let length = try varint()
        guard length <= UInt64(end - offset) else { throw Self.malformed("length \(length) past the end of the message") }
        let start = offset
        offset += Int(length)
        return start..<offset
    }

    mutating func string() throws -> String {
        let range = try lengthDelimitedRange()
        guard let text = String(validating: UnsafeRawBufferPointer(rebasing: buffer[range]), as: UTF8.self) else {
            throw Self.malformed("a string that is not UTF-8")
        }
        return text
    }

    /// Skips an unknown field's value.
    mutating func skip(_ wire: WireType, field: Int) throws {
        switch wire {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .lengthDelimited: _ = try lengthDelimitedRange()
        case .fixed32:
            guard end - offset >= 4 else { throw Self.malformed("truncated 32-bit field") }
            offset += 4
        case .startGroup: try skipGroup(field, depth: 0)
        case .endGroup: throw Self.malformed("an end-group tag without its start")
        }
    }

    /// Skips a (deprecated, but valid) group's fields up to its end-group tag.
    private mutating func skipGroup(_ group: Int, depth: Int) throws {
        guard depth < 64 else { throw Self.malformed("groups nested too deep") }
        while let (field, wire) = try nextField() {
            switch wire {
            case .endGroup:
                guard field == group else { throw Self.malformed("group \(group) ended by the tag of \(field)") }
                return
            case .startGroup: try skipGroup(field, depth: depth + 1)
            default: try skip(wire, field: field)
            }
        }
        throw Self.malformed("a group without its end-group tag")
    }
}
