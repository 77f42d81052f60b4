/// A column's declared type, and the coercion that makes a value fit it.
///
/// `coerce` is the single place where values are validated on write and by
/// CAST: it converts what converts losslessly (or as PostgreSQL's assignment
/// cast does, e.g. 1.5 → 2 for an integer column), validates domain types and
/// normalises them (emails and MAC addresses lower-case, country and currency
/// codes upper-case), and otherwise throws `invalidTextRepresentation` (22P02)
/// or `numericOutOfRange` (22003) naming the type and the offending value.
public enum DataType: String, Sendable, Hashable, Codable, CaseIterable {
    case any, boolean, integer, float, decimal, text, blob, json, timestamp, date, time, uuid, vector
    case email, url, inet, ipv4, ipv6, cidr, macaddr, latitude, longitude, country2, country3, currency, semver, phone, port
    case duration, unsigned, color, colorAlpha, geoPoint, lang2, lang5, assetCode, money, enumeration, array
    case nodeRef, edgeRef, vectorRef, rowRef, keyRef, docRef, tableRef, pageRef

    /// The SQL type name → type map (case-insensitive), after the spec's §3.1 list.
    public init?(sqlName: String) {
        switch sqlName.lowercased() {
        case "bool", "boolean": self = .boolean
        case "int", "integer", "int4", "int2", "int8", "smallint", "bigint", "serial", "bigserial", "smallserial", "serial4", "serial8": self = .integer
        case "float", "float4", "float8", "double", "real", "double precision": self = .float
        case "decimal", "numeric", "dec": self = .decimal
        case "text", "string", "varchar", "char", "character", "character varying", "bpchar", "name": self = .text
        case "blob", "bytes", "bytea": self = .blob
        case "json", "jsonb": self = .json
        case "timestamp", "timestamptz", "timestampms", "timestamp_ms", "datetime": self = .timestamp
        case "date": self = .date
        case "time": self = .time
        case "uuid": self = .uuid
        case "vector": self = .vector
        case "email": self = .email
        case "url": self = .url
        case "ip", "ipaddr", "inet": self = .inet
        case "ipv4": self = .ipv4
        case "ipv6": self = .ipv6
        case "duration", "interval": self = .duration
        case "uint", "unsigned", "unsigned_integer": self = .unsigned
        case "color": self = .color
        case "color_alpha", "coloralpha": self = .colorAlpha
        case "geopoint", "geo_point": self = .geoPoint
        case "lang2": self = .lang2
        case "lang5": self = .lang5
        case "assetcode", "asset_code", "asset": self = .assetCode
        case "money": self = .money
        case "enum": self = .enumeration
        case "array": self = .array
        case "noderef": self = .nodeRef
        case "edgeref": self = .edgeRef
        case "vectorref": self = .vectorRef
        case "rowref": self = .rowRef
        case "keyref": self = .keyRef
        case "docref": self = .docRef
        case "tableref": self = .tableRef
        case "pageref": self = .pageRef
        case "cidr", "subnet": self = .cidr
        case "macaddr", "mac": self = .macaddr
        case "latitude": self = .latitude
        case "longitude": self = .longitude
        case "country2", "country": self = .country2
        case "country3": self = .country3
        case "currency": self = .currency
        case "semver": self = .semver
        case "phone": self = .phone
        case "port": self = .port
        default: return nil
        }
    }

    /// The names above that are PostgreSQL's own (and pgvector's `vector`); the rest (`email`,
    /// `url`, `string`, …) are RedDB's, and a user's domain or enum type may take one: where
    /// such a type exists, the name means it (`DomainCatalog`).
    public static func isPostgresTypeName(_ name: String) -> Bool {
        postgresTypeNames.contains(name.lowercased())
    }

    static let postgresTypeNames: Set<String> = [
        "bool", "boolean", "int", "integer", "int2", "int4", "int8", "smallint", "bigint", "serial", "bigserial", "smallserial", "serial4",
        "serial8", "float", "float4", "float8", "real", "double", "double precision", "decimal", "numeric", "dec", "text", "varchar", "char",
        "character", "character varying", "bpchar", "name", "bytea", "json", "jsonb", "timestamp", "timestamptz", "date", "time", "uuid",
        "interval", "inet", "cidr", "macaddr", "money", "vector",
    ]

    /// PostgreSQL's `typname` for the type as RedDB stores it (integers are all `int8`, JSON is
    /// `jsonb`, DURATION is `interval`): what names a cast's column (`1.5::numeric` is `numeric`),
    /// as PostgreSQL names it.
    public var postgresName: String {
        if self == .time || self == .array { return rawValue }
        switch valueType {
        case .integer: return "int8"
        case .float: return "float8"
        case .decimal: return "numeric"
        case .boolean: return "bool"
        case .blob: return "bytea"
        case .json: return "jsonb"
        case .duration: return "interval"
        default: return valueType.rawValue
        }
    }

    /// PostgreSQL's `format_type` name for the type as RedDB stores it (`bigint`, `double
    /// precision`, `timestamp without time zone`; text domains are `text`): what `pg_typeof`
    /// says of a value with no narrower declaration.
    public var postgresFormattedName: String {
        switch valueType {
        case .integer: return "bigint"
        case .float: return "double precision"
        case .boolean: return "boolean"
        case .timestamp: return "timestamp without time zone"
        case .text: return self == .time ? "time without time zone" : "text"
        default: return postgresName
        }
    }

    /// The name shown in catalogs and error messages.
    public var sqlName: String {
        switch self {
        case .any: return "ANY"
        case .float: return "FLOAT"
        case .decimal: return "NUMERIC"
        case .colorAlpha: return "COLOR_ALPHA"
        case .geoPoint: return "GEOPOINT"
        case .assetCode: return "ASSET_CODE"
        case .enumeration: return "ENUM"
        default: return rawValue.uppercased()
        }
    }

    /// The runtime kind a value of this type has once coerced (domain types are text or numbers).
    public var valueType: DataType {
        switch self {
        case .email, .url, .inet, .ipv4, .ipv6, .cidr, .macaddr, .country2, .country3, .currency, .semver, .phone, .time,
             .color, .colorAlpha, .geoPoint, .lang2, .lang5, .assetCode, .money, .enumeration,
             .nodeRef, .edgeRef, .vectorRef, .rowRef, .keyRef, .docRef, .tableRef:
            return .text
        case .latitude, .longitude: return .float
        case .port, .unsigned, .pageRef: return .integer
        case .array: return .json
        default: return self
        }
    }

    /// Whether `coerce(value)` is `value` itself, told from the two kinds alone (a non-NULL
    /// value already of this type's own kind): a bulk-loaded row whose every value is kept
    /// stores its decoded values as they are (`DMLExecutor.tableRow`), without coercing or
    /// comparing a single value. False whenever unsure; `coerce` then decides.
    public func keepsAsIs(_ value: Value) -> Bool {
        switch (self, value) {
        case (.integer, .integer), (.float, .float), (.text, .text), (.boolean, .boolean), (.decimal, .decimal),
             (.blob, .blob), (.json, .json), (.date, .date), (.uuid, .uuid): return true
        default: return false
        }
    }

    /// Converts `value` to this type or throws a 22P02/22003 error.
    public func coerce(_ value: Value) throws -> Value {
        if case .null = value { return .null }
        switch self {
        case .any: return value
        case .boolean:
            switch value {
            case .boolean: return value
            case .integer(let i): return .boolean(i != 0)
            case .text(let s):
                switch s.trimmingSpaces().lowercased() {
                case "t", "true", "yes", "y", "on", "1": return .boolean(true)
                case "f", "false", "no", "n", "off", "0": return .boolean(false)
                default: throw invalid(value)
                }
            default: throw invalid(value)
            }
        case .integer:
            switch value {
            case .integer: return value
            case .boolean(let b): return .integer(b ? 1 : 0)
            case .decimal(let d):
                guard let i = d.roundedInteger else { throw RedError(.numericOutOfRange, "bigint out of range") }
                return .integer(i)
            case .float(let d):
                let rounded = d.rounded(.toNearestOrAwayFromZero)
                guard rounded.isFinite, rounded >= -9.223372036854775808e18, rounded < 9.223372036854775808e18 else {
                    throw RedError(.numericOutOfRange, "integer out of range: \(NumberFormatting.shortest(d))")
                }
                return .integer(Int64(rounded))
            case .text(let s):
                let t = s.trimmingSpaces()
                if let i = Int64(t) { return .integer(i) }
                if !t.isEmpty, t.allSatisfy({ $0.isNumber || $0 == "-" || $0 == "+" }) {
                    throw RedError(.numericOutOfRange, "value \"\(s)\" is out of range for type integer")
                }
                throw invalid(value)
            default: throw invalid(value)
            }
        case .float:
            switch value {
            case .float: return value
            case .integer(let i): return .float(Double(i))
            case .decimal(let d): return .float(d.doubleValue)
            case .text(let s):
                let t = s.trimmingSpaces()
                if let first = t.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) {  // a number needs no lowercasing
                    switch t.lowercased() {
                    case "nan": return .float(.nan)
                    case "infinity", "inf": return .float(.infinity)
                    case "-infinity", "-inf": return .float(-.infinity)
                    default: break
                    }
                }
                guard let d = Double(t), t.first != "." || t.count > 1 else { throw invalid(value) }
                return .float(d)
            default: throw invalid(value)
            }
        case .decimal:
            switch value {
            case .decimal: return value
            case .integer(let i): return .decimal(Numeric(i))
            case .float(let d):
                guard d.isFinite else { throw RedError(.invalidTextRepresentation, "cannot convert \(NumberFormatting.shortest(d)) to numeric") }
                return .decimal(try Numeric(double: d))
            case .text(let s):
                guard let d = try Numeric.parse(s) else { throw invalid(value) }
                return .decimal(d)
            case .json(.integer(let i)): return .decimal(Numeric(i))
            case .json(.float(let d)): return .decimal(try Numeric(double: d))
            case .json(.decimal(let n)): return .decimal(n)
            default: throw invalid(value)
            }
        case .text:
            if case .text = value { return value }
            return .text(value.displayText)
        case .blob:
            switch value {
            case .blob: return value
            case .text(let s):
                if s.hasPrefix("\\x") {
                    guard let bytes = Self.hexBytes(s.dropFirst(2)) else { throw RedError(.invalidTextRepresentation, "invalid hexadecimal data in bytea input") }
                    return .blob(bytes)
                }
                return .blob(try Self.escapedBytes(s))
            default: throw invalid(value)
            }
        case .json:
            switch value {
            case .json: return value
            case .text(let s):
                do { return .json(try JSONValue.parse(s)) } catch { throw RedError(.invalidTextRepresentation, "invalid input syntax for type json: \"\(s)\"") }
            case .integer(let i): return .json(.integer(i))
            case .float(let d): return .json(.float(d))
            case .decimal: return .json(value.jsonValue)
            case .boolean(let b): return .json(.bool(b))
            case .vector(let v): return .json(.array(v.map { .float(NumberFormatting.widened($0)) }))
            default: return .json(.string(value.displayText))
            }
        case .timestamp:
            switch value {
            case .timestamp: return value
            case .date(let d): return .timestamp(try CalendarMath.checkedTimestamp(days: Int64(d)))
            case .integer(let i): return .timestamp(try CalendarMath.checkedTimestamp(milliseconds: i))  // RedDB's TimestampMs
            case .text(let s):
                guard let ms = CalendarMath.parseTimestamp(s) else { throw datetimeError(s) }
                return .timestamp(ms)
            default: throw invalid(value)
            }
        case .date:
            switch value {
            case .date: return value
            case .timestamp(let ms):
                guard !CalendarMath.isInfinite(ms) else { throw RedError(.datetimeFieldOverflow, "date out of range: an infinite timestamp") }
                return .date(Int32(clamping: CalendarMath.split(ms).days))
            case .text(let s):
                let t = s.trimmingSpaces()
                if let d = CalendarMath.parseDate(t[...]) { return .date(Int32(clamping: d)) }
                // As PostgreSQL reads a date: a time of day or a zone after it is checked and
                // ignored (pgJDBC sends `2020-01-01 +00`), never moved into another day.
                if let ms = CalendarMath.parseTimestamp(t, ignoringZone: true) {
                    if CalendarMath.isInfinite(ms) { return try coerce(.timestamp(ms)) }
                    return .date(Int32(clamping: CalendarMath.split(ms).days))
                }
                if let cut = t.firstIndex(where: { $0 == " " || $0 == "T" }), let d = CalendarMath.parseDate(t[..<cut]),
                   CalendarMath.isZoneOffset(t[t.index(after: cut)...].trimmingSpacesSubstring()) {
                    return .date(Int32(clamping: d))
                }
                throw datetimeError(s)
            default: throw invalid(value)
            }
        case .time:
            // A timestamp's time of day, as `ts::time` gives it (an instant's is read off the
            // session's clocks first: `SessionZoneBinding`).
            if case .timestamp(let us) = value, !CalendarMath.isInfinite(us) { return .text(CalendarMath.clockText(CalendarMath.split(us).microsOfDay)) }
            guard case .text(let s) = value else { throw invalid(value) }
            guard let us = CalendarMath.parseTimeOfDayIgnoringZone(s.trimmingSpaces()[...]) else {
                // As PostgreSQL: well-formed fields out of range (`25:00`, `1:60`) are 22008, the rest 22007.
                let fields = s.trimmingSpaces().split(separator: ":", omittingEmptySubsequences: false)
                let wellFormed = (2...3).contains(fields.count) && fields.allSatisfy { !$0.isEmpty && $0.allSatisfy { ($0.isASCII && $0.isNumber) || $0 == "." } }
                throw wellFormed ? RedError(.datetimeFieldOverflow, "date/time field value out of range: \"\(s)\"")
                                 : RedError(.invalidDatetimeFormat, "invalid input syntax for type time: \"\(s)\"")
            }
            return .text(CalendarMath.clockText(us))
        case .uuid:
            switch value {
            case .uuid: return value
            case .text(let s):
                // PostgreSQL's forms: any case, hyphens between groups of four digits, `{…}` around.
                var text = Substring(s.trimmingSpaces())
                if text.hasPrefix("{"), text.hasSuffix("}") { text = text.dropFirst().dropLast() }
                guard !text.hasPrefix("-"), !text.hasSuffix("-"), !text.contains("--") else { throw invalid(value) }
                let hex = text.lowercased().filter { $0 != "-" }
                guard hex.count == 32, let v = UInt128(hex, radix: 16) else { throw invalid(value) }
                return .uuid(UUIDBits(v))
            default: throw invalid(value)
            }
        case .vector:
            switch value {
            case .vector: return value
            case .json(.array(let items)):
                var out: [Float] = []
                for item in items {
                    switch item {
                    case .integer(let i): out.append(Float(i))
                    case .float(let d): out.append(Float(d))
                    case .decimal(let n): out.append(Float(n.doubleValue))
                    default: throw invalid(value)
                    }
                }
                return .vector(out)
            case .text(let s):
                guard let json = try? JSONValue.parse(s) else { throw invalid(value) }
                return try coerce(.json(json))
            default: throw invalid(value)
            }
        case .latitude, .longitude:
            let limit: Double = self == .latitude ? 90 : 180
            let number: Double
            switch value {
            case .integer(let i): number = Double(i)
            case .float(let d): number = d
            case .decimal(let d): number = d.doubleValue
            case .text(let s): guard let d = Double(s.trimmingSpaces()) else { throw invalid(value) }; number = d
            default: throw invalid(value)
            }
            guard number.isFinite, abs(number) <= limit else {
                throw RedError(.invalidTextRepresentation, "\(rawValue) must be within -\(Int(limit))..\(Int(limit)), got \(value.displayText)")
            }
            return .float(number)
        case .port:
            let number: Int64
            switch value {
            case .integer(let i): number = i
            case .text(let s): guard let i = Int64(s.trimmingSpaces()) else { throw invalid(value) }; number = i
            default: throw invalid(value)
            }
            guard (0...65_535).contains(number) else { throw RedError(.invalidTextRepresentation, "port must be within 0..65535, got \(number)") }
            return .integer(number)
        case .unsigned, .pageRef:
            guard case .integer(let i) = try DataType.integer.coerce(value), i >= 0, self == .unsigned || i <= Int64(UInt32.max) else {
                throw RedError(.numericOutOfRange, "\(sqlName.lowercased()) must be a non-negative integer\(self == .pageRef ? " below 2^32" : ""), got \(value.displayText)")
            }
            return .integer(i)
        case .duration:
            // PostgreSQL's interval text; an integer is RedDB's duration in milliseconds.
            switch value {
            case .interval: return value
            case .integer(let ms): return .interval(try Interval(milliseconds: ms))
            case .text(let s): return .interval(try Interval.parse(s))
            default: throw invalid(value)
            }
        case .array:
            switch value {
            case .json(.array): return value
            case .vector(let v): return .json(.array(v.map { .float(NumberFormatting.widened($0)) }))
            case .text(let s):
                // PostgreSQL's `{…}` spelling (elements as text), or a JSON array.
                if s.trimmingSpaces().hasPrefix("{") { return .json(.array(try PostgresArrayText.parse(s, numbers: true))) }
                guard case .json(.array(let items))? = try? DataType.json.coerce(.text(s)) else { throw invalid(value) }
                return .json(.array(items))
            default: throw invalid(value)
            }
        case .enumeration:
            // Variants are checked by the column (they live in its definition); here any text passes.
            guard case .text = value else { throw invalid(value) }
            return value
        case .email, .url, .inet, .ipv4, .ipv6, .cidr, .macaddr, .country2, .country3, .currency, .semver, .phone,
             .color, .colorAlpha, .geoPoint, .lang2, .lang5, .assetCode, .money,
             .nodeRef, .edgeRef, .vectorRef, .rowRef, .keyRef, .docRef, .tableRef:
            guard case .text(let raw) = value else { throw invalid(value) }
            guard let normalised = DomainValidation.normalise(raw.trimmingSpaces(), as: self) else { throw invalid(value) }
            return .text(normalised)
        }
    }

    /// 22008 when the text has a date's shape but a field is out of range, else 22007.
    func datetimeError(_ s: String) -> RedError {
        let t = s.trimmingSpaces()
        if t.count >= 10, case .outOfRange = CalendarMath.classifyDate(t.prefix(10)) {
            return RedError(.datetimeFieldOverflow, "date/time field value out of range: \"\(s)\"")
        }
        return RedError(.invalidDatetimeFormat, "invalid input syntax for type \(sqlName.lowercased()): \"\(s)\"")
    }

    func invalid(_ value: Value) -> RedError {
        RedError(.invalidTextRepresentation, "invalid input syntax for type \(sqlName.lowercased()): \"\(value.displayText)\"")
    }

    /// PostgreSQL's escape format of bytea text: `\\` is a backslash, `\ooo` (three octal
    /// digits, at most 377) one byte, any other character its UTF-8 bytes; another backslash
    /// is 22P02.
    static func escapedBytes(_ s: String) throws -> [UInt8] {
        let bytes = Array(s.utf8)
        guard bytes.contains(UInt8(ascii: "\\")) else { return bytes }
        func octal(_ b: UInt8) -> UInt8? { (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(b) ? b - UInt8(ascii: "0") : nil }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "\\") else { out.append(bytes[i]); i += 1; continue }
            if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\\") { out.append(bytes[i]); i += 2; continue }
            guard i + 3 < bytes.count, let a = octal(bytes[i + 1]), a <= 3, let b = octal(bytes[i + 2]), let c = octal(bytes[i + 3]) else {
                throw RedError(.invalidTextRepresentation, "invalid input syntax for type bytea")
            }
            out.append(a << 6 | b << 3 | c)
            i += 4
        }
        return out
    }

    static func hexBytes(_ s: Substring) -> [UInt8]? {
        guard s.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            guard let b = UInt8(s[i..<j], radix: 16) else { return nil }
            out.append(b)
            i = j
        }
        return out
    }
}
