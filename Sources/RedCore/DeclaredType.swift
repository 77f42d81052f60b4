/// What a column's PostgreSQL type declares beyond its `DataType`: an integer's width
/// (`smallint`, `integer`), a character type's length (`varchar(255)`, `char(3)`), a
/// numeric's precision and scale (`numeric(10,2)`), `real`, `timestamptz`, the fractional
/// seconds of `timestamp(3)` and `time(0)`, pgvector's `vector(n)` dimension count.
///
/// RedDB stores one integer kind, one text kind and one exact decimal (`Numeric`), so these never
/// change how a value is stored; they change which values fit and how they are described:
///
/// - On write (`fit(_:explicit:)`, after `DataType.coerce`): a `smallint` or `integer` out of
///   its range is 22003; text longer than a `varchar(n)`/`char(n)` is 22001 unless the excess
///   is spaces (dropped, as PostgreSQL does); a numeric is rounded to its scale and 22003
///   "numeric field overflow" when its integer digits exceed precision − scale; a
///   `timestamp(p)`, `timestamptz(p)` or `time(p)` has its seconds rounded to p digits. An explicit
///   cast (`'abcdef'::varchar(3)`) truncates instead of failing, as in PostgreSQL.
/// - `char(n)` values are stored without their trailing spaces, which is how PostgreSQL
///   compares and concatenates them; the padding to `n` is added where they are shown.
/// - Catalogs and the wire describe the column as PostgreSQL would: `typname`, `typmod`,
///   `format_type`'s spelling.
///
/// Columns created before a type recorded these details (and `bigint`, `text`, plain
/// `numeric`, `double precision`, `timestamp`) have none: nil everywhere means "as the
/// `DataType` alone says".
public struct DeclaredType: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable {
        case int2, int4, float4, varchar, bpchar, numeric, timestamptz, vector
        /// With a precision only (`timestamp(3)`, `time(0)`): a bare `timestamp` or `time`
        /// declares nothing beyond its `DataType`.
        case timestamp, time
        /// With fields or a precision (`interval hour`, `interval(2)`): `DeclaredInterval.swift`.
        case interval
        /// `json` as opposed to `jsonb`: the same values, described as `json` and written
        /// compactly, keys in their order, where jsonb's text sorts them (`JSONValue.jsonbText`).
        case json
    }

    public var kind: Kind

    /// The declaration a `T[]` column keeps for its elements (`int4[]`, `varchar(3)[]`,
    /// `numeric(10,2)[]`): each element is fitted to it on write, and PG-wire describes the
    /// column as that array type. Instants, times, intervals and JSON keep none (nil).
    public var forArrayElements: DeclaredType? {
        [.int2, .int4, .float4, .varchar, .bpchar, .numeric].contains(kind) ? self : nil
    }
    /// `varchar(n)` / `char(n)`: the most characters a value may have (nil: unlimited varchar);
    /// `vector(n)`: the dimensions every value has (nil: any).
    public var length: Int?
    /// `numeric(p, s)`: total significant digits and those after the point.
    /// `timestamp(p)`, `timestamptz(p)`, `time(p)`: the digits a second keeps (0…6; nil: 6).
    public var precision: Int?
    public var scale: Int?
    /// `interval day to second`: the fields an interval keeps, lower-case as written (nil: all).
    public var intervalFields: String?

    /// PostgreSQL's longest `varchar(n)`.
    public static let maxCharacterLength = 10_485_760
    /// pgvector's most dimensions for a `vector`.
    public static let maxVectorDimensions = 16_000
    /// PostgreSQL's largest numeric precision.
    public static let maxNumericPrecision = 1000

    public init(kind: Kind, length: Int? = nil, precision: Int? = nil, scale: Int? = nil) {
        self.kind = kind
        self.length = length
        self.precision = precision
        self.scale = scale
    }

    /// The details declared by a type name (lower-case, as `DataType(sqlName:)` reads it) and
    /// its integer modifiers; nil when the name declares nothing beyond its `DataType`.
    /// Modifiers out of range are 22023, with PostgreSQL's words.
    public init?(sqlName: String, modifiers: [Int64], intervalFields: String? = nil) throws {
        switch sqlName {
        case "interval":
            guard let declared = try Self.intervalDeclaration(fields: intervalFields, modifiers: modifiers) else { return nil }
            self = declared
            return
        case "smallint", "int2", "smallserial": self.init(kind: .int2)
        case "integer", "int", "int4", "serial", "serial4": self.init(kind: .int4)
        case "real", "float4": self.init(kind: .float4)
        case "json": self.init(kind: .json)
        case "timestamptz":
            self.init(kind: .timestamptz, precision: try Self.fractionDigits(modifiers, type: "TIMESTAMP", zone: " WITH TIME ZONE"))
            return
        case "timestamp", "time":
            // `timestamp(3)` (Prisma's), `time(0)`; a bare one keeps microseconds and declares nothing.
            guard !modifiers.isEmpty else { return nil }
            self.init(kind: Kind(rawValue: sqlName)!, precision: try Self.fractionDigits(modifiers, type: sqlName.uppercased(), zone: ""))
            return
        case "vector":
            // pgvector's `vector(n)`; a bare `vector` takes any dimension count.
            guard modifiers.count <= 1 else { throw RedError(.syntaxError, "invalid type modifier") }
            if let n = modifiers.first {
                guard n >= 1 else { throw RedError(.invalidArgument, "dimensions for type vector must be at least 1") }
                guard n <= Int64(Self.maxVectorDimensions) else {
                    throw RedError(.invalidArgument, "dimensions for type vector cannot exceed \(Self.maxVectorDimensions)")
                }
            }
            self.init(kind: .vector, length: modifiers.first.map { Int($0) })
            return
        case "varchar", "character varying":
            self.init(kind: .varchar, length: try Self.characterLength(modifiers, type: "varchar"))
        case "char", "character", "bpchar":
            // A bare `char` is `char(1)`, as in PostgreSQL; a bare `bpchar` is unlimited.
            self.init(kind: .bpchar, length: try Self.characterLength(modifiers, type: "char") ?? (sqlName == "bpchar" ? nil : 1))
        case "numeric", "decimal", "dec":
            guard let precision = modifiers.first else { return nil }
            guard modifiers.count <= 2 else { throw RedError(.syntaxError, "invalid NUMERIC type modifier") }
            guard (1...Int64(Self.maxNumericPrecision)).contains(precision) else {
                throw RedError(.invalidArgument, "NUMERIC precision \(precision) must be between 1 and \(Self.maxNumericPrecision)")
            }
            // As PostgreSQL 15: a scale may exceed the precision (`numeric(2,3)` holds under 0.01)
            // or be negative (`numeric(3,-2)` rounds to hundreds).
            let scale = modifiers.count == 2 ? modifiers[1] : 0
            guard (-Int64(Self.maxNumericPrecision)...Int64(Self.maxNumericPrecision)).contains(scale) else {
                throw RedError(.invalidArgument, "NUMERIC scale \(scale) must be between -\(Self.maxNumericPrecision) and \(Self.maxNumericPrecision)")
            }
            guard scale <= Int64(Numeric.maxDigits) else {
                throw RedError(.featureNotSupported,
                               "NUMERIC scale \(scale) is not supported: RedDB keeps at most \(Numeric.maxDigits) digits after the point")
            }
            self.init(kind: .numeric, precision: Int(precision), scale: Int(scale))
        default:
            if sqlName == "float", let bits = modifiers.first {
                // `float(p)`: up to 24 binary digits is `real`, up to 53 `double precision`.
                guard (1...53).contains(bits) else {
                    throw RedError(.invalidArgument, bits < 1 ? "precision for type float must be at least 1 bit"
                                                              : "precision for type float must be less than 54 bits")
                }
                if bits <= 24 { self.init(kind: .float4); return }
            }
            return nil
        }
        if !modifiers.isEmpty, ![.varchar, .bpchar, .numeric].contains(kind) {
            throw RedError(.syntaxError, "type modifier is not allowed for type \"\(typeName)\"")
        }
    }

    /// A time type's fractional-second digits: at most 6, more taken as 6 (PostgreSQL warns
    /// and does the same); a negative one is 22023 with PostgreSQL's words.
    static func fractionDigits(_ modifiers: [Int64], type: String, zone: String) throws -> Int? {
        guard let digits = modifiers.first else { return nil }
        guard modifiers.count == 1 else { throw RedError(.syntaxError, "invalid type modifier") }
        guard digits >= 0 else { throw RedError(.invalidArgument, "\(type)(\(digits))\(zone) precision must not be negative") }
        return Int(min(digits, 6))
    }

    private static func characterLength(_ modifiers: [Int64], type: String) throws -> Int? {
        guard let n = modifiers.first else { return nil }
        guard modifiers.count == 1 else { throw RedError(.syntaxError, "invalid type modifier") }
        guard n >= 1 else { throw RedError(.invalidArgument, "length for type \(type) must be at least 1") }
        guard n <= Int64(maxCharacterLength) else {
            throw RedError(.invalidArgument, "length for type \(type) cannot exceed \(maxCharacterLength)")
        }
        return Int(n)
    }

    // MARK: Writing

    /// `value` (already coerced to the column's `DataType`) made to fit the declaration, or
    /// 22001/22003. `explicit`: a CAST, which truncates text instead of failing.
    public func fit(_ value: Value, explicit: Bool = false) throws -> Value {
        switch (kind, value) {
        case (.int2, .integer(let i)):
            guard Int16(exactly: i) != nil else { throw RedError(.numericOutOfRange, "smallint out of range") }
        case (.int4, .integer(let i)):
            guard Int32(exactly: i) != nil else { throw RedError(.numericOutOfRange, "integer out of range") }
        case (.float4, .float(let d)):
            guard !d.isFinite || Float(d).isFinite else { throw RedError(.numericOutOfRange, "value out of range: overflow") }
        case (.varchar, .text(let s)), (.bpchar, .text(let s)):
            // Lengths count code points, as PostgreSQL's do (not grapheme clusters: `e` and a
            // combining accent are two).
            var text = s
            if let length, text.unicodeScalars.count > length {
                let scalars = text.unicodeScalars
                let cut = scalars.index(scalars.startIndex, offsetBy: length)
                guard explicit || scalars[cut...].allSatisfy({ $0 == " " }) else {
                    throw RedError(.stringDataRightTruncation, "value too long for type \(formatted)")
                }
                text = String(scalars[..<cut])
            }
            if kind == .bpchar { text = Self.withoutTrailingSpaces(text) }
            return text == s ? value : .text(text)
        case (.numeric, .decimal(let d)):
            return .decimal(try fitNumeric(d))
        case (.timestamp, .timestamp(let us)), (.timestamptz, .timestamp(let us)):
            if let precision { return .timestamp(CalendarMath.rounded(us, toFractionDigits: precision)) }
        case (.interval, .interval(let iv)):
            return .interval(fitInterval(iv))
        case (.time, .text(let s)):
            if let precision, let us = CalendarMath.parseTimeOfDay(s[...]) {
                return .text(CalendarMath.clockText(CalendarMath.roundedFraction(us, toFractionDigits: precision)))
            }
        case (.vector, .vector(let v)):
            if let length, v.count != length {
                throw RedError(.invalidArgument, "expected \(length) dimensions, not \(v.count)", condition: "22000")
            }
        default:
            break
        }
        return value
    }

    /// `d` rounded half away from zero to `scale` places (and given that scale, so `1.5` in a
    /// `numeric(10,2)` is `1.50`), or "numeric field overflow" when it needs more than
    /// `precision − scale` integer digits.
    private func fitNumeric(_ d: Numeric) throws -> Numeric {
        guard let precision else { return d }
        let scale = self.scale ?? 0
        let rounded = d.rounded(toPlaces: scale)
        // |value| < 10^(precision − scale): a bound above 38 digits holds every numeric.
        let integerDigits = precision - scale
        guard integerDigits <= Numeric.maxDigits else { return rounded }
        let bound = integerDigits >= 0 ? Numeric(unchecked: Int128(Numeric.powers[integerDigits]), scale: 0)
                                       : Numeric(unchecked: 1, scale: -integerDigits)
        if Numeric.compare(rounded.absolute(), bound) >= 0 {
            let text = integerDigits == 0 ? "1" : "10^\(integerDigits)"
            throw RedError(.numericOutOfRange, "numeric field overflow",
                           detail: "A field with precision \(precision), scale \(scale) must round to an absolute value less than \(text).")
        }
        return rounded
    }

    /// `s` without its trailing spaces, as a `char(n)` value is kept and compared.
    public static func withoutTrailingSpaces(_ s: String) -> String {
        guard s.last == " " else { return s }
        return String(s[..<(s.lastIndex(where: { $0 != " " }).map { s.index(after: $0) } ?? s.startIndex)])
    }

    /// Whether every value that fits `old` also fits `new` unchanged, so a column's
    /// declaration can change without rewriting its rows.
    public static func widens(from old: DeclaredType?, to new: DeclaredType?) -> Bool {
        guard let new else { return true }  // bigint, text, plain numeric: every value of the narrower kind
        guard let old else { return false }
        switch (old.kind, new.kind) {
        case (.int2, .int2), (.int2, .int4), (.int4, .int4), (.float4, .float4), (.json, .json):
            return true
        case (.interval, .interval):
            guard new.intervalFields == nil || new.intervalFields == old.intervalFields else { return false }
            fallthrough
        case (.timestamptz, .timestamptz), (.timestamp, .timestamp), (.time, .time):
            guard let newDigits = new.precision else { return true }
            return old.precision.map { $0 <= newDigits } ?? false
        case (.varchar, .varchar), (.bpchar, .bpchar):
            guard let newLength = new.length else { return true }
            return old.length.map { $0 <= newLength } ?? false
        case (.bpchar, .varchar):
            return new.length == nil
        case (.vector, .vector):
            return new.length == nil || new.length == old.length
        case (.numeric, .numeric):
            guard let p2 = new.precision, let s2 = new.scale else { return true }
            guard let p1 = old.precision, let s1 = old.scale else { return false }
            return s2 >= s1 && p2 - s2 >= p1 - s1
        default:
            return false
        }
    }

    // MARK: Describing

    /// The integer type a sequence for a column so declared has (`smallint`, `integer`, or
    /// `bigint` for none).
    public static func integerTypeName(_ declared: DeclaredType?) -> String {
        switch declared?.kind {
        case .int2: return "smallint"
        case .int4: return "integer"
        default: return "bigint"
        }
    }

    /// PostgreSQL's `typname`.
    public var typeName: String { kind.rawValue }

    /// PostgreSQL's `atttypmod`: -1 when the type has no modifier.
    public var typmod: Int32 {
        switch kind {
        case .varchar, .bpchar: return length.map { Int32($0 + 4) } ?? -1
        case .vector: return length.map { Int32($0) } ?? -1  // pgvector's typmod is the dimension count
        case .timestamp, .timestamptz, .time: return precision.map { Int32($0) } ?? -1
        case .interval: return intervalTypmod
        case .numeric:
            // PostgreSQL packs the scale into 11 bits, so a negative one keeps its sign there.
            guard let precision else { return -1 }
            return Int32((precision << 16) | ((scale ?? 0) & 0x7FF)) + 4
        default: return -1
        }
    }

    /// `format_type`'s spelling: `integer`, `character varying(255)`, `numeric(10,2)`.
    public var formatted: String {
        switch kind {
        case .int2: return "smallint"
        case .int4: return "integer"
        case .float4: return "real"
        case .timestamptz: return "timestamp\(precisionText) with time zone"
        case .timestamp: return "timestamp\(precisionText) without time zone"
        case .time: return "time\(precisionText) without time zone"
        case .interval: return intervalFormatted
        case .json: return "json"
        case .varchar: return length.map { "character varying(\($0))" } ?? "character varying"
        case .bpchar: return length.map { "character(\($0))" } ?? "bpchar"
        case .numeric: return precision.map { "numeric(\($0),\(scale ?? 0))" } ?? "numeric"
        case .vector: return length.map { "vector(\($0))" } ?? "vector"
        }
    }

    /// `formatted` without its modifiers, as `pg_typeof` (a regtype) prints the type:
    /// `character varying`, `timestamp with time zone`.
    public var baseFormatted: String {
        switch kind {
        case .bpchar: return "character"
        case .vector: return "vector"
        case .interval: return "interval"
        default: return DeclaredType(kind: kind).formatted
        }
    }

    /// `(3)` for a time type's precision, or "".
    private var precisionText: String { precision.map { "(\($0))" } ?? "" }

    /// `format_type`'s spelling of a time type with a typmod, whose modifiers go inside the name
    /// (`timestamp(3) without time zone`, `interval day to second(1)`); nil for other types and
    /// for a typmod that declares nothing, which `modifierText` serves.
    public static func formattedWithModifiersInside(typeName: String, typmod: Int32) -> String? {
        guard typmod >= 0, let kind = Kind(rawValue: typeName) else { return nil }
        switch kind {
        case .interval: return DeclaredType(intervalTypmod: typmod)?.formatted
        case .timestamp, .timestamptz, .time: return DeclaredType(kind: kind, precision: Int(min(typmod, 6))).formatted
        default: return nil
        }
    }

    /// The modifiers as `format_type` appends them to a base name: `(255)`, `(10,2)`, or "".
    /// (The time types put theirs inside the name: `formattedWithModifiersInside`.)
    public static func modifierText(typeName: String, typmod: Int32) -> String {
        if typeName == "vector" { return typmod >= 1 ? "(\(typmod))" : "" }
        guard typmod >= 4 else { return "" }
        switch typeName {
        case "varchar", "bpchar": return "(\(typmod - 4))"
        case "numeric":
            let packed = (typmod - 4) & 0x7FF
            return "(\((typmod - 4) >> 16),\(packed >= 0x400 ? packed - 0x800 : packed))"
        default: return ""
        }
    }

    /// How a surface carries the declaration through a query's columns (`ScopeColumn.surfaceType`):
    /// `int4`, `varchar(255)`, `numeric(10,2)`. `init(surfaceName:)` reads it back.
    public var surfaceName: String {
        switch kind {
        case .varchar, .bpchar, .vector: return length.map { "\(typeName)(\($0))" } ?? typeName
        case .numeric: return precision.map { "numeric(\($0),\(scale ?? 0))" } ?? typeName
        case .timestamp, .timestamptz, .time: return typeName + precisionText
        case .interval: return "interval(\(intervalTypmod))"  // fields and precision in one number
        default: return typeName
        }
    }

    /// Whether a surface type names a `timestamptz`, whatever its precision: an instant.
    public static func isInstant(surfaceName: String?) -> Bool {
        guard let surfaceName else { return false }
        return surfaceName == Kind.timestamptz.rawValue || surfaceName.hasPrefix(Kind.timestamptz.rawValue + "(")
    }

    /// nil unless `surfaceName` is one `surfaceName` makes, in range: the text can come from a
    /// query (a call of the cast's internal function), so it is checked as a declaration is.
    public init?(surfaceName: String) {
        let open = surfaceName.firstIndex(of: "(")
        guard let kind = Kind(rawValue: String(surfaceName[..<(open ?? surfaceName.endIndex)])) else { return nil }
        self.init(kind: kind)
        guard let open else {
            if [.timestamp, .time, .interval].contains(kind) { return nil }  // declared only with a precision
            return
        }
        guard surfaceName.hasSuffix(")"), surfaceName.utf8.count <= 32 else { return nil }
        let parts = surfaceName[surfaceName.index(after: open)...].dropLast().split(separator: ",", omittingEmptySubsequences: false)
        let numbers = parts.compactMap { Int($0) }
        guard numbers.count == parts.count else { return nil }
        switch kind {
        case .varchar, .bpchar:
            guard numbers.count == 1, (1...Self.maxCharacterLength).contains(numbers[0]) else { return nil }
            length = numbers[0]
        case .vector:
            guard numbers.count == 1, (1...Self.maxVectorDimensions).contains(numbers[0]) else { return nil }
            length = numbers[0]
        case .numeric:
            guard (1...2).contains(numbers.count), (1...Self.maxNumericPrecision).contains(numbers[0]) else { return nil }
            let scale = numbers.count > 1 ? numbers[1] : 0
            guard (-Self.maxNumericPrecision...Numeric.maxDigits).contains(scale) else { return nil }
            precision = numbers[0]
            self.scale = scale
        case .timestamp, .timestamptz, .time:
            guard numbers.count == 1, (0...6).contains(numbers[0]) else { return nil }
            precision = numbers[0]
        case .interval:
            guard numbers.count == 1, let typmod = Int32(exactly: numbers[0]), let declared = DeclaredType(intervalTypmod: typmod) else { return nil }
            self = declared
        default:
            return nil
        }
    }

    /// The text PostgreSQL shows for a stored value of this type: `char(n)` padded to `n`,
    /// `numeric(p,s)` with exactly `s` places, `real` in single precision's shortest digits,
    /// `timestamptz` with its `+00` offset (PG-wire shows one on the session's clocks instead,
    /// `SessionTimeZone`).
    public func displayText(_ value: Value) -> String {
        switch (kind, value) {
        case (.bpchar, .text(let s)):
            let count = s.unicodeScalars.count
            guard let length, count < length else { return s }
            return s + String(repeating: " ", count: length - count)
        case (.numeric, .decimal(let d)):
            return precision == nil ? d.text : d.text(places: max(scale ?? 0, 0))
        case (.float4, .float(let d)) where d.isFinite:
            return NumberFormatting.postgresFloat4(Float(d))
        case (.timestamptz, .timestamp):
            let text = value.displayText
            return text.hasSuffix("infinity") ? text : text + "+00"
        default:
            return value.displayText
        }
    }
}
