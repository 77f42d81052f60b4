import NIOCore
import RedCore

/// Bind parameters of PostgreSQL array types (`int8[]`, `text[]` …), as drivers send a list:
/// PostgresNIO's `[Int]` in binary, psycopg's lists, `WHERE id = ANY($1)`.
///
/// RedDB keeps arrays as JSON arrays, so a parameter arrives as one: elements decoded with
/// their element type's own rules (binary: the element type's binary format; text:
/// PostgreSQL's `{…}` form, each element read as that type), NULL elements as JSON null,
/// inner dimensions as nested arrays. Numbers, booleans and text keep their JSON types;
/// elements JSON cannot hold exactly (numerics, timestamps, dates, uuids, bytes) become
/// their text, which comparisons and casts read back.
///
/// Binary layout (big-endian): `int32 ndim`, `int32 flags` (1: has NULLs), `int32 element
/// OID`, then per dimension `int32 length, int32 lower bound`, then every element as
/// `int32 length` (-1: NULL) + bytes. Limits: at most 6 dimensions (PostgreSQL's MAXDIM),
/// an element count the message's bytes can hold, and the element OID the array type names.
enum PGArrayCodec {
    /// Array type OID → element type OID, for the element types RedDB reads.
    static let elementOIDs: [Int32: Int32] = [
        1000: 16, 1001: 17, 1005: 21, 1007: 23, 1016: 20, 1028: 26, 1021: 700, 1022: 701, 1009: 25, 1015: 1043, 1014: 1042,
        1231: 1700, 2951: 2950, 1115: 1114, 1185: 1184, 1182: 1082, 1183: 1083, 1187: 1186, 199: 114, 3807: 3802,
    ]

    /// `int2vector` and `oidvector` (catalog columns): arrays in binary, space-separated in text.
    static let vectorTypes: [String: Int32] = ["int2vector": 22, "oidvector": 30]
    static let vectorElements: [Int32: Int32] = [22: 21, 30: 26]

    /// The array type whose elements are `element` (text[] for anything without one).
    static func arrayOID(of element: Int32) -> Int32 {
        elementOIDs.first { $0.value == element && ![1015, 1014].contains($0.key) }?.key ?? 1009
    }

    /// The array type of a declared element type (`int4` → `int4[]`, `varchar` → `varchar[]`), nil
    /// for one without.
    static func arrayOID(ofDeclared element: Int32) -> Int32? {
        elementOIDs.first { $0.value == element }?.key
    }

    static func decode(_ bytes: ByteBuffer, format: PGFormat, arrayOID: Int32, element: Int32) throws -> Value {
        var bytes = bytes
        switch format {
        case .text:
            let text = bytes.readString(length: bytes.readableBytes) ?? ""
            return .json(.array(try typed(try PostgresArrayText.parse(text), element: element)))
        case .binary:
            return .json(.array(try readBinary(&bytes, arrayOID: arrayOID, element: element)))
        }
    }

    /// Text elements read as the element type.
    static func typed(_ items: [JSONValue], element: Int32) throws -> [JSONValue] {
        try items.map { item in
            switch item {
            case .array(let inner): return .array(try typed(inner, element: element))
            case .string(let s):
                return json(try PGValueCodec.decodeParameter(ByteBuffer(string: s), format: .text, declared: element, inferred: .any))
            default: return item
            }
        }
    }

    static func readBinary(_ bytes: inout ByteBuffer, arrayOID: Int32, element: Int32) throws -> [JSONValue] {
        func bad(_ detail: String) -> RedError {
            RedError(.invalidParameters, "invalid binary array parameter (type OID \(arrayOID)): \(detail)")
        }
        guard let dimensions = bytes.readInteger(as: Int32.self), bytes.readInteger(as: Int32.self) != nil,
              let sentElement = bytes.readInteger(as: Int32.self) else { throw bad("truncated header") }
        guard (0...Int32(PostgresArrayText.maxDimensions)).contains(dimensions) else { throw bad("\(dimensions) dimensions") }
        guard dimensions == 0 || sentElement == element else { throw bad("element type OID \(sentElement), expected \(element)") }
        var lengths: [Int] = []
        var total = 1
        for _ in 0..<dimensions {
            guard let length = bytes.readInteger(as: Int32.self), bytes.readInteger(as: Int32.self) != nil, length >= 0 else {
                throw bad("bad dimension")
            }
            lengths.append(Int(length))
            // Every element takes at least its 4-byte length: more than the bytes can hold is malformed.
            total = total.multipliedReportingOverflow(by: Int(length)).overflow ? .max : total * Int(length)
            guard total <= bytes.readableBytes / 4 else { throw bad("more elements than bytes") }
        }
        // A zero-length dimension is an empty array, as in PostgreSQL (and `nest` needs no product of the rest).
        if dimensions == 0 || total == 0 {
            guard bytes.readableBytes == 0 else { throw bad("\(bytes.readableBytes) trailing bytes") }
            return []
        }
        var flat: [JSONValue] = []
        flat.reserveCapacity(total)
        for _ in 0..<total {
            guard let length = bytes.readInteger(as: Int32.self) else { throw bad("truncated element") }
            if length == -1 { flat.append(.null); continue }
            guard length >= 0, let slice = bytes.readSlice(length: Int(length)) else { throw bad("truncated element") }
            flat.append(json(try PGValueCodec.decodeParameter(slice, format: .binary, declared: element, inferred: .any)))
        }
        guard bytes.readableBytes == 0 else { throw bad("\(bytes.readableBytes) trailing bytes") }
        return nest(flat[...], lengths[...])
    }

    /// Row-major elements into nested arrays of the given dimension lengths.
    static func nest(_ flat: ArraySlice<JSONValue>, _ lengths: ArraySlice<Int>) -> [JSONValue] {
        guard lengths.count > 1 else { return Array(flat) }
        let inner = lengths.dropFirst().reduce(1, *)
        return (0..<lengths.first!).map { i in
            let start = flat.startIndex + i * inner
            return .array(nest(flat[start..<(start + inner)], lengths.dropFirst()))
        }
    }

    /// An element value as the JSON array holds it.
    static func json(_ value: Value) -> JSONValue { value.arrayElementJSON }

    // MARK: Results

    /// PostgreSQL's text form of an array (`{1,2}`, `{"a b",NULL,{x}}`), each element as its
    /// type prints it (`PostgresArrayText`).
    static func text(_ items: [JSONValue], element: PGType) -> String {
        PostgresArrayText.render(items) { PGValueCodec.text(value($0), as: element) }
    }

    /// The binary form (layout above): the dimensions of a rectangular nesting, then each
    /// element in its type's binary form. Ragged nesting is 2202E, as PostgreSQL refuses it.
    static func writeBinary(_ items: [JSONValue], element: PGType, into buffer: inout ByteBuffer) throws {
        var lengths: [Int] = []
        var level = items
        while true {
            lengths.append(level.count)
            guard case .array(let inner)? = level.first else { break }
            level = inner
        }
        if items.isEmpty { lengths = [] }
        guard lengths.count <= PostgresArrayText.maxDimensions else {
            throw RedError(.limitExceeded, "number of array dimensions (\(lengths.count)) exceeds the maximum allowed (\(PostgresArrayText.maxDimensions))")
        }
        var flat: [JSONValue] = []
        func collect(_ list: [JSONValue], depth: Int) throws {
            guard list.count == lengths[depth] else {
                throw RedError(.invalidArgument, "multidimensional arrays must have array expressions with matching dimensions")
            }
            for item in list {
                if depth + 1 < lengths.count {
                    guard case .array(let inner) = item else {
                        throw RedError(.invalidArgument, "multidimensional arrays must have array expressions with matching dimensions")
                    }
                    try collect(inner, depth: depth + 1)
                } else {
                    if case .array = item { throw RedError(.invalidArgument, "multidimensional arrays must have array expressions with matching dimensions") }
                    flat.append(item)
                }
            }
        }
        if !lengths.isEmpty { try collect(items, depth: 0) }
        buffer.writeInteger(Int32(lengths.count))
        buffer.writeInteger(Int32(flat.contains(.null) ? 1 : 0))
        buffer.writeInteger(element.oid)
        for length in lengths {
            buffer.writeInteger(Int32(length))
            buffer.writeInteger(Int32(1))
        }
        let type = element.dataType ?? .text
        for item in flat {
            if case .null = item {
                buffer.writeInteger(Int32(-1))
                continue
            }
            try PGValueCodec.write(try type.coerce(value(item)), as: element, format: .binary, into: &buffer)
        }
    }

    /// An element as a value: text as text, the rest as JSON reads it.
    static func value(_ item: JSONValue) -> Value {
        if case .string(let s) = item { return .text(s) }
        return Value(json: item)
    }
}
