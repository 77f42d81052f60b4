import NIOCore
import RedCore
import RedQuery

/// A PostgreSQL type as the wire sees it: its OID and fixed size (-1 = variable).
struct PGType: Equatable, Sendable {
    var oid: Int32
    var size: Int16
    /// A table column's declaration (`varchar(20)`, `numeric(10,2)`): its typmod in
    /// RowDescription, and how its values are shown (padding, places).
    var declared: DeclaredType?

    init(oid: Int32, size: Int16) {
        self.oid = oid
        self.size = size
    }

    /// RowDescription's type modifier.
    var typmod: Int32 { declared?.typmod ?? -1 }

    /// The wire type of a declared column type.
    init(_ declared: DeclaredType) {
        switch declared.kind {
        case .int2: self = .int2
        case .int4: self = .int4
        case .float4: self = .float4
        case .varchar: self = .varchar
        case .bpchar: self = .bpchar
        case .numeric: self = .numeric
        case .timestamptz: self = .timestamptz
        case .timestamp: self = .timestamp
        case .time: self = .time
        case .interval: self = .interval
        case .vector: self = .vector
        case .json: self = .json
        }
        self.declared = declared
    }

    static let bool = PGType(oid: 16, size: 1)
    static let bytea = PGType(oid: 17, size: -1)
    static let name = PGType(oid: 19, size: 64)
    static let int8 = PGType(oid: 20, size: 8)
    static let int2 = PGType(oid: 21, size: 2)
    static let int4 = PGType(oid: 23, size: 4)
    static let text = PGType(oid: 25, size: -1)
    static let oidType = PGType(oid: 26, size: 4)
    static let json = PGType(oid: 114, size: -1)
    static let float4 = PGType(oid: 700, size: 4)
    static let float8 = PGType(oid: 701, size: 8)
    static let unknown = PGType(oid: 705, size: -2)
    static let bpchar = PGType(oid: 1042, size: -1)
    static let varchar = PGType(oid: 1043, size: -1)
    static let date = PGType(oid: 1082, size: 4)
    static let time = PGType(oid: 1083, size: 8)
    static let timestamp = PGType(oid: 1114, size: 8)
    static let timestamptz = PGType(oid: 1184, size: 8)
    static let numeric = PGType(oid: 1700, size: -1)
    static let uuid = PGType(oid: 2950, size: 16)
    static let interval = PGType(oid: 1186, size: 16)
    static let jsonb = PGType(oid: 3802, size: -1)
    /// pgvector's `vector`: an extension type, so its OID is RedDB's own (PostgreSQL assigns
    /// one at CREATE EXTENSION); clients look it up in pg_type by name, as they must there.
    static let vector = PGType(oid: 16_300, size: -1)

    /// The wire type of a RedDB column type.
    ///
    /// Every integer width is `int8` (RedDB stores one 64-bit integer kind); timestamps
    /// are `timestamp` (UTC, no zone, as RedDB displays them); vectors and every
    /// validated text domain (EMAIL, INET …) travel as `text`, which every client reads.
    init(_ type: DataType) {
        if type == .time {  // stored as text, travels as time
            self = .time
            return
        }
        switch type.valueType {
        case .boolean: self = .bool
        case .integer: self = .int8
        case .float: self = .float8
        case .decimal: self = .numeric
        case .blob: self = .bytea
        case .json: self = .jsonb
        case .timestamp: self = .timestamp
        case .date: self = .date
        case .uuid: self = .uuid
        case .duration: self = .interval
        case .vector: self = .vector
        default: self = .text
        }
    }

    /// A result column's wire type: `T[]` for an array whose elements' type the plan knows,
    /// else the type of its values (arrays of unknown elements travel as jsonb).
    init(_ column: ResultColumn) {
        if let vector = column.surfaceType.flatMap({ PGArrayCodec.vectorTypes[$0] }) {
            self = PGType(oid: vector, size: -1)
        } else if column.element == nil, let declared = column.surfaceType.flatMap(DeclaredType.init(surfaceName:)) {
            self.init(declared)
        } else if column.element == nil, column.surfaceType == DataType.time.rawValue {
            self = .time
        } else if column.element != nil, let surface = column.surfaceType, surface.hasSuffix("[]"),
                  let declared = DeclaredType(surfaceName: String(surface.dropLast(2))), let array = PGArrayCodec.arrayOID(ofDeclared: PGType(declared).oid) {
            self = PGType(oid: array, size: -1)  // `int4[]`, `varchar(3)[]`: its elements' declared type
        } else if let element = column.element, element != .any {
            self = PGType(oid: PGArrayCodec.arrayOID(of: PGType(element).oid), size: -1)
        } else {
            self.init(column.type)
        }
    }

    /// The wire type of a parameter's PostgreSQL type name (`int4`, `varchar(20)`, `oid[]`);
    /// nil for a name the wire describes by the parameter's RedDB type.
    init?(surfaceName: String) {
        if surfaceName == "oid[]" {
            self.init(oid: 1028, size: -1)
        } else if surfaceName.hasSuffix("[]"), let declared = DeclaredType(surfaceName: String(surfaceName.dropLast(2))),
                  let array = PGArrayCodec.arrayOID(ofDeclared: PGType(declared).oid) {
            self.init(oid: array, size: -1)
        } else if surfaceName == DataType.time.rawValue {
            self = .time
        } else if let declared = DeclaredType(surfaceName: surfaceName) {
            self.init(declared)
        } else {
            return nil
        }
    }

    /// The RedDB type a parameter declared with this OID takes; nil for text-like or unknown OIDs.
    var dataType: DataType? {
        switch oid {
        case 16: return .boolean
        case 20, 21, 23, 26: return .integer
        case 700, 701: return .float
        case 1700: return .decimal
        case 17: return .blob
        case 114, 3802: return .json
        case 1114, 1184: return .timestamp
        case 1082: return .date
        case 2950: return .uuid
        case 1083: return .time
        case 1186: return .duration
        case PGType.vector.oid: return .vector
        default: return nil
        }
    }
}

/// Encodes `Value`s into PostgreSQL's text and binary formats and decodes
/// parameters from them.
///
/// Binary layouts (big-endian): bool 1 byte; int2/4/8; float4/8 IEEE bits;
/// numeric = `ndigits, weight, sign, dscale` (Int16 each) + base-10000 digits;
/// timestamp = Int64 microseconds since 2000-01-01; date = Int32 days since
/// 2000-01-01; interval = Int64 microseconds, Int32 days, Int32 months; uuid 16 bytes;
/// jsonb = version byte 1 + JSON text; text, json, bytea raw bytes.
enum PGValueCodec {
    /// Days from 1970-01-01 to PostgreSQL's epoch 2000-01-01.
    static let postgresEpochDays: Int64 = 10_957
    static let postgresEpochMicroseconds = CalendarMath.postgresEpochMicroseconds

    // MARK: Results

    /// `zone`: the session's, in which a `timestamptz` sent as text is shown.
    static func write(_ value: Value, as type: PGType, format: PGFormat, zone: SessionTimeZone = .utc, into buffer: inout ByteBuffer) throws {
        if case .null = value {
            buffer.writeInteger(Int32(-1))
            return
        }
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(Int32(0))
        switch format {
        case .text: buffer.writeString(text(value, as: type, zone: zone))
        case .binary: try writeBinary(value, as: type, into: &buffer)
        }
        buffer.setInteger(Int32(buffer.writerIndex - lengthIndex - 4), at: lengthIndex)
    }

    /// PostgreSQL's text output for the value; a `timestamptz` on `zone`'s clocks.
    static func text(_ value: Value, as type: PGType, zone: SessionTimeZone = .utc) -> String {
        if case .json(.array(let items)) = value, let element = PGArrayCodec.elementOIDs[type.oid] {
            return PGArrayCodec.text(items, element: PGType(oid: element, size: -1))
        }
        if type.oid == PGType.timestamptz.oid, case .timestamp(let instant) = value { return zone.text(ofInstant: instant) }
        if case .json(.array(let items)) = value, PGArrayCodec.vectorElements[type.oid] != nil {
            return items.map { Value(json: $0).displayText }.joined(separator: " ")  // int2vector, oidvector: `1 2`
        }
        if let declared = type.declared { return declared.displayText(value) }
        switch value {
        case .json(let j) where type.oid == PGType.jsonb.oid: return j.jsonbText
        case .boolean(let b) where type.oid == PGType.bool.oid: return b ? "t" : "f"
        case .integer(let ms) where type.oid == PGType.interval.oid:  // a DURATION stored as milliseconds
            return ((try? Interval(milliseconds: ms)).map(Value.interval) ?? value).displayText
        case .float(let d):
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d > 0 ? "Infinity" : "-Infinity" }
            return type.oid == PGType.float8.oid ? NumberFormatting.postgresFloat8(d) : NumberFormatting.shortest(d)
        default: return value.displayText
        }
    }

    private static func writeBinary(_ value: Value, as type: PGType, into buffer: inout ByteBuffer) throws {
        if case .json(.array(let items)) = value, let element = PGArrayCodec.elementOIDs[type.oid] ?? PGArrayCodec.vectorElements[type.oid] {
            return try PGArrayCodec.writeBinary(items, element: PGType(oid: element, size: -1), into: &buffer)
        }
        switch (type.oid, value) {
        case (PGType.oidType.oid, .integer(let i)) where UInt32(exactly: i) != nil: buffer.writeInteger(UInt32(i))
        case (PGType.bool.oid, .boolean(let b)): buffer.writeInteger(UInt8(b ? 1 : 0))
        case (PGType.int8.oid, .integer(let i)): buffer.writeInteger(i)
        case (PGType.int4.oid, .integer(let i)) where Int32(exactly: i) != nil: buffer.writeInteger(Int32(i))
        case (PGType.int2.oid, .integer(let i)) where Int16(exactly: i) != nil: buffer.writeInteger(Int16(i))
        case (PGType.float8.oid, .float(let d)): buffer.writeInteger(d.bitPattern)
        case (PGType.float4.oid, .float(let d)): buffer.writeInteger(Float(d).bitPattern)
        case (PGType.float8.oid, .integer(let i)): buffer.writeInteger(Double(i).bitPattern)
        case (PGType.float8.oid, .decimal(let d)): buffer.writeInteger(d.doubleValue.bitPattern)
        case (PGType.numeric.oid, .decimal(let d)): writeNumeric(d, displayScale: type.declared?.scale, into: &buffer)
        case (PGType.numeric.oid, .integer(let i)): writeNumeric(Numeric(i), into: &buffer)
        case (PGType.numeric.oid, .float(let d)):
            // numeric's NaN and infinities (sign word 0xC000, 0xD000, 0xF000), else float8 → numeric's digits.
            guard d.isFinite else {
                buffer.writeInteger(Int16(0)); buffer.writeInteger(Int16(0))
                buffer.writeInteger(UInt16(d.isNaN ? 0xC000 : (d > 0 ? 0xD000 : 0xF000))); buffer.writeInteger(Int16(0))
                return
            }
            writeNumeric(try Numeric(double: d), into: &buffer)
        case (PGType.bytea.oid, .blob(let bytes)): buffer.writeBytes(bytes)
        case (PGType.jsonb.oid, .json(let j)): buffer.writeInteger(UInt8(1)); buffer.writeString(j.jsonbText)
        case (PGType.json.oid, .json(let j)): buffer.writeString(j.text)
        case (PGType.timestamp.oid, .timestamp(let us)), (PGType.timestamptz.oid, .timestamp(let us)):
            if CalendarMath.isInfinite(us) {
                buffer.writeInteger(us == CalendarMath.infinity ? Int64.max : Int64.min)
                return
            }
            // A value stored before ranges were checked goes out as 22008, never as PostgreSQL's infinity.
            guard CalendarMath.timestampRange.contains(us) else { throw RedError(.datetimeFieldOverflow, "timestamp out of range") }
            buffer.writeInteger(us - postgresEpochMicroseconds)
        case (PGType.date.oid, .date(let days)): buffer.writeInteger(Int32(truncatingIfNeeded: Int64(days) - postgresEpochDays))
        case (PGType.interval.oid, .interval(let i)):
            buffer.writeInteger(i.microseconds)
            buffer.writeInteger(i.days)
            buffer.writeInteger(i.months)
        case (PGType.interval.oid, .integer(let ms)):  // a DURATION stored as milliseconds before it held intervals
            try writeBinary(.interval(try Interval(milliseconds: ms)), as: type, into: &buffer)
        case (PGType.uuid.oid, .uuid(let u)):
            buffer.writeInteger(u.high)
            buffer.writeInteger(u.low)
        case (PGType.time.oid, .text(let s)):
            // time: µs since midnight (RedDB's TIME is `HH:MM:SS[.ffffff]` text).
            guard let us = CalendarMath.parseTimeOfDay(s[...]) else { throw RedError(.datatypeMismatch, "cannot send \"\(s)\" in binary as a time") }
            buffer.writeInteger(us)
        case (PGType.vector.oid, .vector(let v)):
            // pgvector's binary form: dimensions (int16), an unused int16, then float4 components.
            buffer.writeInteger(Int16(truncatingIfNeeded: v.count))
            buffer.writeInteger(Int16(0))
            for component in v { buffer.writeInteger(component.bitPattern) }
        case (PGType.text.oid, _), (PGType.varchar.oid, _), (PGType.bpchar.oid, _), (PGType.name.oid, _):
            buffer.writeString(text(value, as: type))
        default:
            throw RedError(.datatypeMismatch, "cannot send a \(DataType.kind(of: value)) value in binary as type OID \(type.oid)")
        }
    }

    /// PostgreSQL's binary numeric: digit count, weight of the first base-10000 digit, sign,
    /// display scale, then the base-10000 digits, grouped from the point.
    /// `displayScale`: a `numeric(p,s)` column's `s`, which PostgreSQL always sends.
    static func writeNumeric(_ value: Numeric, displayScale: Int? = nil, into buffer: inout ByteBuffer) {
        var n = value
        if let displayScale, displayScale >= 0, displayScale != n.scale { n = n.rounded(toPlaces: displayScale) }
        // Pad the fraction to whole groups of four digits, then split into base-10000 digits.
        let pad = (4 - n.scale % 4) % 4
        var rest = Wide(n.magnitude).times(Numeric.powers[pad])
        let fractionGroups = (n.scale + pad) / 4
        var digits: [Int16] = []
        while !rest.isZero {
            let (q, r) = rest.quotientAndRemainder(dividingBy: 10_000)
            digits.append(Int16(r))
            rest = q
        }
        digits.reverse()
        var weight = Int16(digits.count - fractionGroups - 1)
        while digits.last == 0 { digits.removeLast() }
        while digits.first == 0 { digits.removeFirst(); weight -= 1 }
        buffer.writeInteger(Int16(digits.count))
        buffer.writeInteger(digits.isEmpty ? 0 : weight)
        buffer.writeInteger(UInt16(n.isNegative && !digits.isEmpty ? 0x4000 : 0))
        buffer.writeInteger(Int16(n.scale))
        for digit in digits { buffer.writeInteger(digit) }
    }

    // MARK: Parameters

    /// Decodes one Bind parameter. `declared` is the OID the client gave in Parse (0 or 705
    /// when it left the type to the server); `inferred` is what Describe reported for it.
    /// `zone`: for a parameter the statement takes as an instant, the session's zone, in which
    /// text written without an offset is read (whatever type the client gave it).
    static func decodeParameter(_ bytes: ByteBuffer?, format: PGFormat, declared: Int32, inferred: DataType, zone: SessionTimeZone? = nil) throws -> Value {
        guard var bytes else { return .null }
        if let element = PGArrayCodec.elementOIDs[declared] {
            return try PGArrayCodec.decode(bytes, format: format, arrayOID: declared, element: element)
        }
        let declaredType = PGType(oid: declared, size: -1).dataType
        switch format {
        case .text:
            let text = bytes.readString(length: bytes.readableBytes) ?? ""
            let target = declaredType ?? (inferred == .any ? nil : inferred)
            guard let target else { return .text(text) }
            if target == .blob, text.hasPrefix("\\x") { return try decodeHexBytea(text) }
            if declared == PGType.timestamp.oid, let us = CalendarMath.parseTimestamp(text, ignoringZone: true) {
                // A `timestamp` parameter: a zone after the time is dropped, as PostgreSQL does, and
                // where the statement takes an instant the time is put on the session's clocks.
                return .timestamp(try zone.map { try $0.instant(of: us) } ?? us)
            }
            if let zone, let instant = zone.instant(fromText: text) { return .timestamp(instant) }
            if target == .float, let special = ["NaN": Double.nan, "Infinity": .infinity, "-Infinity": -.infinity][text] {
                return .float(special)
            }
            return try target.coerce(.text(text))
        case .binary:
            if let zone, [25, 1043, 1042, 19, 705, 0].contains(declared), let text = bytes.getString(at: bytes.readerIndex, length: bytes.readableBytes),
               let instant = zone.instant(fromText: text) {
                return .timestamp(instant)  // text sent in binary (PostgresNIO's String)
            }
            let value = try decodeBinary(&bytes, oid: declared, inferred: inferred)
            if let zone, declared == PGType.timestamp.oid, case .timestamp(let wallClock) = value { return .timestamp(try zone.instant(of: wallClock)) }
            return value
        }
    }

    private static func decodeBinary(_ bytes: inout ByteBuffer, oid: Int32, inferred: DataType) throws -> Value {
        let length = bytes.readableBytes
        func bad() -> RedError {
            RedError(.invalidParameters, "invalid binary parameter of \(length) bytes for type OID \(oid)")
        }
        switch oid {
        case 16:
            guard length == 1, let b = bytes.readInteger(as: UInt8.self) else { throw bad() }
            return .boolean(b != 0)
        case 20, 21, 23:
            // By its length: RedDB's integers are all int8, so a binary COPY into an INT column
            // (int4 in PostgreSQL, and to a client that set the types so) may carry any width.
            switch length {
            case 2: return .integer(Int64(bytes.readInteger(as: Int16.self)!))
            case 4: return .integer(Int64(bytes.readInteger(as: Int32.self)!))
            case 8: return .integer(bytes.readInteger(as: Int64.self)!)
            default: throw bad()
            }
        case 26:
            guard length == 4, let v = bytes.readInteger(as: UInt32.self) else { throw bad() }
            return .integer(Int64(v))
        case 700, 701:
            // float4 or float8 by its length, as for integers (a REAL column is float8 here).
            switch length {
            case 4: return .float(Double(Float(bitPattern: bytes.readInteger(as: UInt32.self)!)))
            case 8: return .float(Double(bitPattern: bytes.readInteger(as: UInt64.self)!))
            default: throw bad()
            }
        case 1700: return .decimal(try readNumeric(&bytes))
        case 17: return .blob(bytes.readBytes(length: length) ?? [])
        case 114: return .json(try JSONValue.parse(bytes.readString(length: length) ?? ""))
        case 3802:
            guard bytes.readInteger(as: UInt8.self) == 1 else { throw RedError(.invalidParameters, "unsupported jsonb binary version") }
            return .json(try JSONValue.parse(bytes.readString(length: bytes.readableBytes) ?? ""))
        case 1114, 1184:
            guard length == 8, let micros = bytes.readInteger(as: Int64.self) else { throw bad() }
            if micros == .max { return .timestamp(CalendarMath.infinity) }  // PostgreSQL's infinity
            if micros == .min { return .timestamp(CalendarMath.negativeInfinity) }
            return .timestamp(try CalendarMath.checkedTimestamp(micros, plus: postgresEpochMicroseconds))
        case 1082:
            guard length == 4, let days = bytes.readInteger(as: Int32.self) else { throw bad() }
            guard let shifted = Int32(exactly: Int64(days) + postgresEpochDays) else { throw RedError(.datetimeFieldOverflow, "date out of range") }
            return .date(shifted)
        case 2950:
            guard length == 16, let high = bytes.readInteger(as: UInt64.self), let low = bytes.readInteger(as: UInt64.self) else { throw bad() }
            return .uuid(UUIDBits(high: high, low: low))
        case PGType.vector.oid:
            guard length >= 4, let dimensions = bytes.readInteger(as: Int16.self), bytes.readInteger(as: Int16.self) != nil,
                  (1...DeclaredType.maxVectorDimensions).contains(Int(dimensions)), length == 4 + 4 * Int(dimensions) else { throw bad() }
            var components: [Float] = []
            components.reserveCapacity(Int(dimensions))
            for _ in 0..<dimensions {
                let component = Float(bitPattern: bytes.readInteger(as: UInt32.self)!)
                guard component.isFinite else { throw RedError(.invalidArgument, "infinite value not allowed in vector", condition: "22000") }
                components.append(component)
            }
            return .vector(components)
        case 1083:
            // time: µs since midnight → RedDB's TIME text (HH:MM:SS[.ffffff]).
            guard length == 8, let micros = bytes.readInteger(as: Int64.self), (0...86_400_000_000).contains(micros) else { throw bad() }
            return .text(CalendarMath.clockText(micros))
        case 1186:
            // interval: µs, days, months.
            guard length == 16, let micros = bytes.readInteger(as: Int64.self), let days = bytes.readInteger(as: Int32.self),
                  let months = bytes.readInteger(as: Int32.self) else { throw bad() }
            return .interval(Interval(months: months, days: days, microseconds: micros))
        case 25, 1043, 1042, 19, 705, 0:
            // Text sent in "binary" is its UTF-8 bytes; a typed target then parses it.
            let text = bytes.readString(length: length) ?? ""
            if inferred != .any, inferred != .text { return try inferred.coerce(.text(text)) }
            return .text(text)
        default:
            throw RedError(.invalidParameters, "unsupported binary parameter type OID \(oid)")
        }
    }

    /// Reads PostgreSQL's binary numeric, keeping its display scale (as far as 36 digits go).
    static func readNumeric(_ bytes: inout ByteBuffer) throws -> Numeric {
        guard let count = bytes.readInteger(as: Int16.self), let firstWeight = bytes.readInteger(as: Int16.self),
              let sign = bytes.readInteger(as: UInt16.self), let displayScale = bytes.readInteger(as: Int16.self),
              count >= 0, (0...0x3FFF).contains(displayScale), bytes.readableBytes == Int(count) * 2 else {
            throw RedError(.invalidParameters, "malformed binary numeric parameter")
        }
        if sign == 0xC000 { throw RedError(.invalidParameters, "NaN is not a valid NUMERIC value") }
        guard sign == 0 || sign == 0x4000 else { throw RedError(.invalidParameters, "infinite NUMERIC values are not supported") }
        var digits: [UInt128] = []
        for _ in 0..<Int(count) {
            guard let digit = bytes.readInteger(as: Int16.self), (0..<10_000).contains(digit) else {
                throw RedError(.invalidParameters, "malformed binary numeric digit")
            }
            digits.append(UInt128(digit))
        }
        while digits.last == 0 { digits.removeLast() }  // trailing zero groups change nothing
        var weight = Int(firstWeight)
        while digits.first == 0 { digits.removeFirst(); weight -= 1 }  // nor do leading ones
        if digits.isEmpty { return Numeric(unchecked: 0, scale: min(Int(displayScale), Numeric.maxDigits)) }
        guard digits.count <= 19 else { throw Numeric.overflow() }  // 76 digits: past what Wide holds
        var magnitude = Wide(0)
        for digit in digits { magnitude = magnitude.times(10_000).plus(Wide(digit)) }
        // Digit i is worth 10000^(weight − i): the last one sets the scale.
        var scale = 4 * (digits.count - 1 - weight)
        if scale < 0 {
            guard -scale + magnitude.decimalDigits <= Numeric.maxDigits else { throw Numeric.overflow() }
            magnitude = magnitude.times(Numeric.powers[-scale])
            scale = 0
        }
        let value = try Numeric(negative: sign == 0x4000, magnitude: magnitude, scale: scale)
        // As `numeric_recv`: digits past the display scale are cut, not rounded.
        return value.rounded(toPlaces: Int(displayScale), truncating: true)
    }

    static func decodeHexBytea(_ text: String) throws -> Value {
        let hex = Array(text.utf8.dropFirst(2))
        guard hex.count % 2 == 0 else { throw RedError(.invalidTextRepresentation, "invalid hexadecimal data: odd number of digits") }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.count / 2)
        var i = 0
        while i < hex.count {
            guard let hi = hexValue(hex[i]), let lo = hexValue(hex[i + 1]) else {
                throw RedError(.invalidTextRepresentation, "invalid hexadecimal digit in bytea value")
            }
            bytes.append(hi << 4 | lo)
            i += 2
        }
        return .blob(bytes)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension DataType {
    /// A short name for the kind of a runtime value, for error messages.
    static func kind(of value: Value) -> String {
        switch value {
        case .null: return "NULL"
        case .boolean: return "boolean"
        case .integer: return "integer"
        case .float: return "float"
        case .decimal: return "numeric"
        case .text: return "text"
        case .blob: return "bytea"
        case .json: return "json"
        case .timestamp: return "timestamp"
        case .date: return "date"
        case .uuid: return "uuid"
        case .vector: return "vector"
        case .interval: return "interval"
        }
    }
}
