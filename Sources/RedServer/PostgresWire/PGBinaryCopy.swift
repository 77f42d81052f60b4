import NIOCore
import RedCore

/// PostgreSQL's binary COPY format (asyncpg's `copy_records_to_table` and
/// psycopg's binary copy use it).
///
/// Layout: the 11-byte signature `PGCOPY\n\377\r\n\0`, an Int32 flags field
/// (bit 16 = OIDs included, refused), an Int32 header-extension length and
/// that many bytes; then tuples, each an Int16 field count followed by, per
/// field, an Int32 length (-1 = NULL) and the value in its column type's
/// binary format; finally the trailer, an Int16 of -1. Each field is decoded
/// with the column's type, exactly as a binary Bind parameter would be.
struct PGBinaryCopyParser: PGCopyRowDecoding {
    static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]

    let types: [(oid: Int32, type: DataType)]
    private var buffer = ByteBuffer()
    private var sawHeader = false
    private(set) var finished = false

    init(columnTypes: [DataType]) {
        types = columnTypes.map { (PGType($0).oid, $0.valueType) }
    }

    mutating func append(_ bytes: ByteBuffer) throws {
        var bytes = bytes
        buffer.discardReadBytes()
        buffer.writeBuffer(&bytes)
        if buffer.readableBytes > PGLimits.maxCopyRowBytes + 64 {
            throw RedError(.limitExceeded, "COPY row longer than \(PGLimits.maxCopyRowBytes) bytes")
        }
    }

    mutating func nextValues(atEnd: Bool, into values: inout [Value]) throws -> Bool {
        guard !finished else { return false }
        if !sawHeader {
            guard buffer.readableBytes >= Self.signature.count + 8 else {
                if atEnd { throw RedError(.invalidTextRepresentation, "COPY file signature not recognized") }
                return false
            }
            let view = buffer.readableBytesView
            guard Array(view.prefix(Self.signature.count)) == Self.signature else {
                throw RedError(.invalidTextRepresentation, "COPY file signature not recognized")
            }
            let flags = buffer.getInteger(at: buffer.readerIndex + Self.signature.count, as: Int32.self)!
            let extensionLength = buffer.getInteger(at: buffer.readerIndex + Self.signature.count + 4, as: Int32.self)!
            guard flags & (1 << 16) == 0 else { throw RedError(.featureNotSupported, "COPY with OIDs is not supported") }
            guard extensionLength >= 0, extensionLength <= 1 << 20 else { throw RedError(.invalidTextRepresentation, "invalid COPY header extension") }
            let headerLength = Self.signature.count + 8 + Int(extensionLength)
            guard buffer.readableBytes >= headerLength else { return false }
            buffer.moveReaderIndex(forwardBy: headerLength)
            sawHeader = true
        }
        // Check the whole tuple is buffered before consuming any of it.
        var probe = buffer
        guard let count = probe.readInteger(as: Int16.self) else { return try incomplete(atEnd) }
        if count == -1 {
            finished = true
            buffer = probe
            return false
        }
        guard Int(count) == types.count else {
            throw RedError(.invalidTextRepresentation, "row field count is \(count), expected \(types.count)")
        }
        values.removeAll(keepingCapacity: true)
        for (oid, type) in types {
            guard let length = probe.readInteger(as: Int32.self) else { return try incomplete(atEnd) }
            if length == -1 {
                values.append(.null)
                continue
            }
            guard length >= 0 else { throw RedError(.invalidTextRepresentation, "invalid field length \(length) in binary COPY") }
            guard let field = probe.readSlice(length: Int(length)) else { return try incomplete(atEnd) }
            values.append(try PGValueCodec.decodeParameter(field, format: .binary, declared: oid, inferred: type))
        }
        buffer = probe
        return true
    }

    private func incomplete(_ atEnd: Bool) throws -> Bool {
        if atEnd { throw RedError(.invalidTextRepresentation, "unexpected end of binary COPY data") }
        return false
    }

    /// The header COPY TO STDOUT sends first.
    static func header() -> ByteBuffer {
        var b = ByteBuffer()
        b.writeBytes(signature)
        b.writeInteger(Int32(0))
        b.writeInteger(Int32(0))
        return b
    }

    /// One tuple in binary: the field count, then each value with its length.
    static func encode(_ row: [Value], types: [PGType]) throws -> ByteBuffer {
        try PGLimits.checkResultColumns(row.count)
        var b = ByteBuffer()
        b.writeInteger(Int16(row.count))
        for (value, type) in zip(row, types) { try PGValueCodec.write(value, as: type, format: .binary, into: &b) }
        return b
    }
}

/// Turns COPY FROM data into rows, whatever the format.
protocol PGCopyRowDecoding {
    mutating func append(_ bytes: ByteBuffer) throws
    /// Reads the next complete row into `row`, replacing what it held and keeping its capacity
    /// (a COPY reuses one array for every row); false when more data is needed (or the data
    /// ended), and then `row`'s contents are unspecified.
    mutating func nextValues(atEnd: Bool, into row: inout [Value]) throws -> Bool
}

extension PGCopyRowDecoding {
    /// The next complete row in an array of its own, or nil when more data is needed.
    mutating func nextValues(atEnd: Bool) throws -> [Value]? {
        var row: [Value] = []
        return try nextValues(atEnd: atEnd, into: &row) ? row : nil
    }
}

extension PGCopyRowParser: PGCopyRowDecoding {
    mutating func nextValues(atEnd: Bool, into values: inout [Value]) throws -> Bool {
        guard !copy.csv else {
            guard let fields = try nextRow(atEnd: atEnd) else { return false }
            values.removeAll(keepingCapacity: true)
            for field in fields { values.append(field.map(Value.text) ?? .null) }
            return true
        }
        values.removeAll(keepingCapacity: true)
        let types = columnTypes
        return scanTextLine(atEnd: atEnd, { field, index in
            guard let field else { return values.append(.null) }
            values.append(Self.value(field, as: index < types.count ? types[index] : .text))
        })
    }
}
