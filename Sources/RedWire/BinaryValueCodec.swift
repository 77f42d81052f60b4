import RedCore

/// Binary values of the columnar payloads — binary Result, BulkInsertBinary (0x06),
/// BulkInsertPrevalidated (0x08), BulkStreamRows (0x0A), ExecutePrepared (0x0F) — with
/// their own tags (spec protocols §1.6.3):
///
/// | tag | type | body |
/// |---|---|---|
/// | 0 | NULL | — |
/// | 1 | I64 | i64 |
/// | 2 | F64 | f64 |
/// | 3 | TEXT | u32 len + UTF-8 (decoded lossily) |
/// | 4 | BOOL | u8, nonzero = true |
/// | 5 | U64 | u64 (unsigned integers and timestamps) |
///
/// Upstream sends NULL for every other type. We send their canonical text instead (tag 3),
/// which a client written against the spec still decodes, and which loses nothing a
/// reader can see: decimals, dates, JSON, UUIDs, blobs (as `\x…` hex), vectors and intervals.
/// Timestamps go as U64 milliseconds since 1970 (upstream's `TimestampMs`) when they are a
/// whole number of them; one with microseconds, or before 1970, goes as its text.
public enum BinaryValueCodec {
    public static func encode(_ value: Value, into writer: inout ByteWriter) {
        switch value {
        case .null: writer.u8(0)
        case .integer(let i): writer.u8(1); writer.u64(UInt64(bitPattern: i))
        case .float(let f): writer.u8(2); writer.u64(f.bitPattern)
        case .text(let s): writer.u8(3); writer.text32(s)
        case .boolean(let b): writer.u8(4); writer.u8(b ? 1 : 0)
        case .timestamp(let us) where us >= 0 && us % 1000 == 0 && !CalendarMath.isInfinite(us): writer.u8(5); writer.u64(UInt64(us / 1000))
        case .timestamp, .decimal, .blob, .json, .date, .uuid, .vector, .interval:
            writer.u8(3); writer.text32(value.displayText)
        }
    }

    static func decode(_ reader: inout WireReader) throws -> Value {
        let tag = try reader.u8("value tag")
        switch tag {
        case 0: return .null
        case 1: return .integer(Int64(bitPattern: try reader.u64("i64")))
        case 2: return .float(Double(bitPattern: try reader.u64("f64")))
        case 3: return .text(try reader.text32("text", lossy: true))
        case 4: return .boolean(try reader.u8("bool") != 0)
        case 5:
            let v = try reader.u64("u64")
            return v <= UInt64(Int64.max) ? .integer(Int64(v)) : .text(String(v))  // beyond Int64: exact as text
        default: throw RedError(.protocolViolation, "unknown value tag")
        }
    }

    /// Column names then rows: the binary Result body (`u16 ncols`, names as `u16 len` +
    /// UTF-8, `u32 nrows`, nrows × ncols values). An empty result is six zero bytes.
    public struct Columnar: Sendable, Equatable {
        public var columns: [String]
        public var rows: [[Value]]
        public init(columns: [String], rows: [[Value]]) { self.columns = columns; self.rows = rows }
    }

    public static func encode(_ result: Columnar) -> [UInt8] {
        var writer = ByteWriter(capacity: 6 + result.columns.count * 8 + result.rows.count * result.columns.count * 9)
        writeColumns(result.columns, &writer)
        writeRows(result.rows, &writer)
        return writer.bytes
    }

    public static func decodeColumnar(_ payload: [UInt8]) throws -> Columnar {
        var reader = WireReader(payload)
        let columns = try readColumns(&reader)
        let rows = try readRows(&reader, width: columns.count)
        try reader.expectEnd()
        return Columnar(columns: columns, rows: rows)
    }

    /// BulkInsertBinary / BulkInsertPrevalidated: `u16` collection name, then a columnar body.
    public struct BulkInsert: Sendable, Equatable {
        public var collection: String
        public var columns: [String]
        public var rows: [[Value]]
        public init(collection: String, columns: [String], rows: [[Value]]) {
            self.collection = collection; self.columns = columns; self.rows = rows
        }
    }

    public static func encode(_ bulk: BulkInsert) -> [UInt8] {
        var writer = ByteWriter(capacity: 8 + bulk.collection.utf8.count + bulk.rows.count * bulk.columns.count * 9)
        writer.text16(bulk.collection)
        writeColumns(bulk.columns, &writer)
        writeRows(bulk.rows, &writer)
        return writer.bytes
    }

    public static func decodeBulkInsert(_ payload: [UInt8]) throws -> BulkInsert {
        guard payload.count >= 6 else { throw RedError(.protocolViolation, "binary bulk: payload too short") }
        var reader = WireReader(payload)
        let collection = try reader.text16("collection")
        let columns = try readColumns(&reader)
        let rows = try readRows(&reader, width: columns.count)
        try reader.expectEnd()
        return BulkInsert(collection: collection, columns: columns, rows: rows)
    }

    /// RowDescription (0x24) of a streamed result (ours): `u16 ncols`, the column names.
    public static func encodeRowDescription(_ columns: [String]) -> [UInt8] {
        var writer = ByteWriter()
        writeColumns(columns, &writer)
        return writer.bytes
    }

    public static func decodeRowDescription(_ payload: [UInt8]) throws -> [String] {
        var reader = WireReader(payload)
        let columns = try readColumns(&reader)
        try reader.expectEnd()
        return columns
    }

    /// BulkStreamStart (0x09): `u16` collection name, `u16 ncols`, the column names.
    public static func encodeStreamStart(collection: String, columns: [String]) -> [UInt8] {
        var writer = ByteWriter()
        writer.text16(collection)
        writeColumns(columns, &writer)
        return writer.bytes
    }

    public static func decodeStreamStart(_ payload: [UInt8]) throws -> (collection: String, columns: [String]) {
        var reader = WireReader(payload)
        let collection = try reader.text16("collection")
        let columns = try readColumns(&reader)
        try reader.expectEnd()
        return (collection, columns)
    }

    /// BulkStreamRows (0x0A): `u32 nrows`, then the rows, `width` values each (the columns
    /// BulkStreamStart named).
    public static func encodeStreamRows(_ rows: [[Value]]) -> [UInt8] {
        var writer = ByteWriter()
        writeRows(rows, &writer)
        return writer.bytes
    }

    public static func decodeStreamRows(_ payload: [UInt8], width: Int) throws -> [[Value]] {
        try decodeStreamRowBlock(payload, width: width).arrays
    }

    /// `decodeStreamRows` as one block (the server's bulk stream: no array per row).
    public static func decodeStreamRowBlock(_ payload: [UInt8], width: Int) throws -> RowBlock {
        var reader = WireReader(payload)
        let rows = try readRowBlock(&reader, width: width)
        try reader.expectEnd()
        return rows
    }

    /// The spec's size estimate of a value waiting in a bulk stream (what the 8 MiB flush
    /// threshold counts): null 1, bool 2, numbers and timestamps 9, text 5 + length, else 16.
    public static func estimatedSize(_ value: Value) -> Int {
        switch value {
        case .null: return 1
        case .boolean: return 2
        case .integer, .float, .timestamp: return 9
        case .text(let s): return 5 + s.utf8.count
        default: return 16
        }
    }

    static func writeColumns(_ columns: [String], _ writer: inout ByteWriter) {
        writer.u16(UInt16(truncatingIfNeeded: columns.count))
        for name in columns { writer.text16(name) }
    }

    static func writeRows(_ rows: [[Value]], _ writer: inout ByteWriter) {
        writer.u32(UInt32(rows.count))
        for row in rows { for value in row { encode(value, into: &writer) } }
    }

    static func readColumns(_ reader: inout WireReader) throws -> [String] {
        let count = Int(try reader.u16("ncols"))
        var names: [String] = []
        names.reserveCapacity(count)
        for _ in 0..<count { names.append(try reader.text16("column name")) }
        return names
    }

    /// Most memory the rows of one frame may take once decoded, and what one row costs besides
    /// its values as an array of its own (header and the outer array's slot; counted for a
    /// `RowBlock` too, which needs less, so that both forms take the same frames).
    static let maxDecodedRowBytes = 128 << 20
    static let rowOverheadBytes = 40

    /// Rows of `width` values; every value takes at least one byte, so a count the payload
    /// cannot hold is refused before anything is allocated.
    static func readRows(_ reader: inout WireReader, width: Int) throws -> [[Value]] {
        let count = try readRowCount(&reader, width: width)
        var rows: [[Value]] = []
        rows.reserveCapacity(count)
        for _ in 0..<count {
            var row: [Value] = []
            row.reserveCapacity(width)
            for _ in 0..<width { row.append(try decode(&reader)) }
            rows.append(row)
        }
        return rows
    }

    /// `readRows` into one block: every row's values in one array.
    static func readRowBlock(_ reader: inout WireReader, width: Int) throws -> RowBlock {
        let count = try readRowCount(&reader, width: width)
        guard width > 0 else { return RowBlock() }
        var values: [Value] = []
        values.reserveCapacity(count * width)
        for _ in 0..<(count * width) { values.append(try decode(&reader)) }
        return RowBlock(width: width, values: values)
    }

    /// The row count that starts a frame's rows, checked against what the payload can hold
    /// and what its rows may take decoded.
    private static func readRowCount(_ reader: inout WireReader, width: Int) throws -> Int {
        let count = Int(try reader.u32("nrows"))
        if width == 0 {
            guard count == 0 else { throw RedError(.protocolViolation, "rows without columns") }
            return 0
        }
        guard count <= reader.remaining / width else { throw RedError(.protocolViolation, "truncated rows") }
        // A one-byte NULL becomes a 24-byte `Value`: 16 MiB of one-column NULL rows would take
        // hundreds of megabytes decoded. Bounded per frame instead.
        guard count * (rowOverheadBytes + width * MemoryLayout<Value>.stride) <= maxDecodedRowBytes else {
            throw RedError(.limitExceeded, "\(count) rows of \(width) values in one frame decode to more than \(maxDecodedRowBytes >> 20) MiB; send them in more frames")
        }
        return count
    }
}
