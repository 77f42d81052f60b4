import GRPCCore
import RedCore

/// A `BulkInsertBinary` request (`BinaryBulkInsertRequest`: 1 collection, 2 field_names,
/// 3 rows; `BinaryRow`: 1 values; `BinaryValue`: 1 text, 2 int64, 3 double, 4 bool, 5 bytes,
/// none = NULL) written straight from `Value` rows in protobuf's wire format.
///
/// Why by hand: building the generated messages (a struct per row and per value, a `Data`
/// per blob) and letting swift-protobuf size and write them took about half of a
/// 100,000-row gRPC load's time on the client. The bytes are what swift-protobuf writes for
/// the same message (a test compares them).
enum BinaryBulkInsertEncoding {
    static func encode(table: String, columns: [String], rows: [[Value]]) -> [UInt8] {
        var writer = ByteWriter(capacity: 64 + rows.count * (4 + columns.count * 12))
        if !table.isEmpty {  // proto3 leaves a default value out
            writer.u8(1 << 3 | 2)
            writer.lengthPrefixed(utf8: table)
        }
        for column in columns {
            writer.u8(2 << 3 | 2)
            writer.lengthPrefixed(utf8: column)
        }
        for row in rows {
            // Kinds the message has no field for travel as their text, as in a query's result.
            let values = row.contains(where: needsText) ? row.map { needsText($0) ? Value.text($0.displayText) : $0 } : row
            var rowSize = 0
            for value in values {
                let size = valueSize(value)
                rowSize += 1 + varintSize(UInt64(size)) + size
            }
            writer.u8(3 << 3 | 2)
            writer.varint(UInt64(rowSize))
            for value in values {
                writer.u8(1 << 3 | 2)
                writer.varint(UInt64(valueSize(value)))
                write(value, into: &writer)
            }
        }
        return writer.bytes
    }

    private static func needsText(_ value: Value) -> Bool {
        switch value {
        case .null, .boolean, .integer, .float, .blob, .text: false
        default: true
        }
    }

    /// The encoded size of a `BinaryValue` holding `value` (one of the kinds `needsText` passes).
    private static func valueSize(_ value: Value) -> Int {
        switch value {
        case .boolean: 2
        case .integer(let v): 1 + varintSize(UInt64(bitPattern: v))
        case .float: 9
        case .text(let s): 1 + varintSize(UInt64(s.utf8.count)) + s.utf8.count
        case .blob(let b): 1 + varintSize(UInt64(b.count)) + b.count
        default: 0  // NULL: no field set
        }
    }

    private static func write(_ value: Value, into writer: inout ByteWriter) {
        switch value {
        case .text(let s):
            writer.u8(1 << 3 | 2)
            writer.lengthPrefixed(utf8: s)
        case .integer(let v):
            writer.u8(2 << 3 | 0)
            writer.varint(UInt64(bitPattern: v))
        case .float(let v):
            writer.u8(3 << 3 | 1)
            writer.u64(v.bitPattern)
        case .boolean(let v):
            writer.u8(4 << 3 | 0)
            writer.u8(v ? 1 : 0)
        case .blob(let b):
            writer.u8(5 << 3 | 2)
            writer.lengthPrefixed(b)
        default:
            break
        }
    }

    private static func varintSize(_ v: UInt64) -> Int {
        v == 0 ? 1 : (64 - v.leadingZeroBitCount + 6) / 7
    }
}

/// Sends bytes encoded beforehand as the message.
struct EncodedMessageSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
        Bytes(message)
    }
}
