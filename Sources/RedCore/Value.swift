/// The one runtime value of RedDB: what a column holds, what an expression
/// yields and what every surface encodes.
///
/// Domain types (email, URL, IP, country code …) are validated and normalised
/// on write by `DataType.coerce` and then held as `.text` (or `.float` for
/// latitude/longitude); the column's `DataType` keeps their meaning.
///
/// Equality here is *grouping* equality (NULL equals NULL, `1 == 1.0`), used by
/// DISTINCT, GROUP BY and hash joins. SQL comparison with three-valued logic is
/// `Value.compare` returning nil for unknown.
public enum Value: Sendable {
    case null
    case boolean(Bool)
    case integer(Int64)
    case float(Double)
    /// Exact NUMERIC/DECIMAL: up to 38 digits with PostgreSQL's display scale (`Numeric`).
    case decimal(Numeric)
    case text(String)
    case blob([UInt8])
    case json(JSONValue)
    /// Microseconds since 1970-01-01T00:00:00Z (`CalendarMath`; ±infinity at the ends of `Int64`).
    case timestamp(Int64)
    /// Days since 1970-01-01.
    case date(Int32)
    /// 16 bytes, big-endian as written in the canonical text form (two halves, not a
    /// `UInt128`, so that `Value` stays 8-byte aligned: see `UUIDBits`).
    case uuid(UUIDBits)
    case vector([Float])
    /// PostgreSQL's interval (months, days, microseconds); compared and grouped by its span.
    case interval(Interval)

    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// Whether `other` is the same kind holding the same bits (text byte for byte, floats by bit
    /// pattern), so that any encoding of the two is the same. Stricter than `==`, which finds
    /// `-0.0` equal to `0.0`, an integer equal to a float, and canonically equivalent strings equal.
    public func isIdentical(to other: Value) -> Bool {
        switch (self, other) {
        case (.null, .null): return true
        case let (.boolean(a), .boolean(b)): return a == b
        case let (.integer(a), .integer(b)), let (.timestamp(a), .timestamp(b)): return a == b
        case let (.decimal(a), .decimal(b)): return a.isIdentical(to: b)
        case let (.float(a), .float(b)): return a.bitPattern == b.bitPattern
        case let (.text(a), .text(b)): return a.utf8.elementsEqual(b.utf8)
        case let (.blob(a), .blob(b)): return a == b
        case let (.date(a), .date(b)): return a == b
        case let (.uuid(a), .uuid(b)): return a == b
        case let (.vector(a), .vector(b)): return a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
        case let (.interval(a), .interval(b)): return a == b
        case (.json, .json): return false  // not compared: the caller encodes both
        default: return false
        }
    }

    /// The value as a Double when numeric.
    public var doubleValue: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .float(let d): return d
        case .decimal(let d): return d.doubleValue
        default: return nil
        }
    }

    /// A short name of the runtime kind for error messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .boolean: return "boolean"
        case .integer: return "integer"
        case .float: return "float"
        case .decimal: return "numeric"
        case .text: return "text"
        case .blob: return "blob"
        case .json: return "json"
        case .timestamp: return "timestamp"
        case .date: return "date"
        case .uuid: return "uuid"
        case .vector: return "vector"
        case .interval: return "interval"
        }
    }
}

/// Text is equal when its bytes are, as in PostgreSQL (a deterministic collation): 'café'
/// with a precomposed é and with e + U+0301 are two values, as they are two keys in an index.
/// Swift's `String ==` would find them equal. Hashing through `String` stays consistent:
/// byte-equal strings hash alike, and canonically equivalent ones merely share a bucket.
extension Value: Hashable {
    public static func == (lhs: Value, rhs: Value) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.boolean(a), .boolean(b)): return a == b
        case let (.integer(a), .integer(b)): return a == b
        case let (.float(a), .float(b)): return a == b || (a.isNaN && b.isNaN)
        case let (.integer(a), .float(b)), let (.float(b), .integer(a)): return Double(a) == b
        case let (.decimal(a), .decimal(b)): return a == b
        case let (.decimal(a), .integer(b)), let (.integer(b), .decimal(a)): return Numeric.compare(a, b) == 0
        case let (.decimal(a), .float(b)), let (.float(b), .decimal(a)): return a.doubleValue == b
        case let (.text(a), .text(b)): return a.utf8.elementsEqual(b.utf8)  // see below
        case let (.blob(a), .blob(b)): return a == b
        case let (.json(a), .json(b)): return a == b
        case let (.timestamp(a), .timestamp(b)): return a == b
        case let (.date(a), .date(b)): return a == b
        case let (.uuid(a), .uuid(b)): return a == b
        case let (.vector(a), .vector(b)): return a == b
        case let (.interval(a), .interval(b)): return a.span == b.span
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0 as UInt8)
        case .boolean(let b): hasher.combine(b)
        case .integer(let i): hasher.combine(Double(i))
        case .float(let d): hasher.combine(d.isNaN ? Double.nan.bitPattern : d.bitPattern == (-0.0).bitPattern ? 0 : d.bitPattern)
        case .decimal(let d): hasher.combine(d)
        case .text(let s): hasher.combine(s)
        case .blob(let b): hasher.combine(b)
        case .json(let j): hasher.combine(j)
        case .timestamp(let t): hasher.combine(t)
        case .date(let d): hasher.combine(d)
        case .uuid(let u): hasher.combine(u)
        case .vector(let v): hasher.combine(v)
        case .interval(let i): hasher.combine(i.span)
        }
    }
}

extension Value {
    /// SQL comparison: nil when either side is NULL or the kinds cannot be compared.
    public static func compare(_ a: Value, _ b: Value) -> Int? {
        switch (a, b) {
        case (.null, _), (_, .null): return nil
        case let (.integer(x), .integer(y)): return x < y ? -1 : (x == y ? 0 : 1)
        case let (.decimal(x), .decimal(y)): return Numeric.compare(x, y)
        case let (.decimal(x), .integer(y)): return Numeric.compare(x, y)
        case let (.integer(x), .decimal(y)): return -Numeric.compare(y, x)
        case let (.boolean(x), .boolean(y)): return x == y ? 0 : (!x ? -1 : 1)
        case let (.text(x), .text(y)): return compareUTF8(x, y)
        case let (.timestamp(x), .timestamp(y)): return x < y ? -1 : (x == y ? 0 : 1)
        case let (.date(x), .date(y)): return x < y ? -1 : (x == y ? 0 : 1)
        case let (.date(x), .timestamp(y)): return compareInts(CalendarMath.midnight(ofDay: Int64(x)), y)
        case let (.timestamp(x), .date(y)): return compareInts(x, CalendarMath.midnight(ofDay: Int64(y)))
        case let (.uuid(x), .uuid(y)): return x < y ? -1 : (x == y ? 0 : 1)
        case let (.blob(x), .blob(y)): return x == y ? 0 : (x.lexicographicallyPrecedes(y) ? -1 : 1)
        case let (.json(x), .json(y)): return x == y ? 0 : (x.text < y.text ? -1 : 1)
        case let (.vector(x), .vector(y)): return x == y ? 0 : (x.lexicographicallyPrecedes(y) ? -1 : 1)
        case let (.interval(x), .interval(y)): return Interval.compare(x, y)
        default:
            if let x = a.doubleValue, let y = b.doubleValue {
                if x.isNaN || y.isNaN { return x.isNaN ? (y.isNaN ? 0 : 1) : -1 }  // PostgreSQL: NaN sorts above numbers
                return x < y ? -1 : (x == y ? 0 : 1)
            }
            // An untyped text literal meets a timestamp or date: compare in the other side's type.
            if case .text(let s) = a, let converted = try? Value.parseTemporal(s, like: b) { return compare(converted, b) }
            if case .text(let s) = b, let converted = try? Value.parseTemporal(s, like: a) { return compare(a, converted) }
            return nil
        }
    }

    static func compareInts(_ x: Int64, _ y: Int64) -> Int { x < y ? -1 : (x == y ? 0 : 1) }

    static func parseTemporal(_ s: String, like other: Value) throws -> Value? {
        switch other {
        case .timestamp: return try DataType.timestamp.coerce(.text(s))
        case .date: return try DataType.date.coerce(.text(s))
        case .uuid: return try DataType.uuid.coerce(.text(s))
        case .interval: return try DataType.duration.coerce(.text(s))
        default: return nil
        }
    }

    /// Total order for ORDER BY and sorting: NULLs last, then by kind rank, then by value.
    /// Byte order of two strings' UTF-8 (PostgreSQL's C collation): over the strings' own
    /// contiguous storage, which the generic sequence comparisons walked a code unit at a
    /// time (a seventh of an ORDER BY over text, profiled).
    @inline(__always)
    static func compareUTF8(_ x: String, _ y: String) -> Int {
        var x = x, y = y
        return x.withUTF8 { a in
            y.withUTF8 { b in
                let common = min(a.count, b.count)
                var i = 0
                while i < common {
                    let p = a[i], q = b[i]
                    if p != q { return p < q ? -1 : 1 }
                    i += 1
                }
                return a.count < b.count ? -1 : (a.count == b.count ? 0 : 1)
            }
        }
    }

    public static func sortCompare(_ a: Value, _ b: Value) -> Int {
        switch (a.isNull, b.isNull) {
        case (true, true): return 0
        case (true, false): return 1
        case (false, true): return -1
        default: break
        }
        if let c = compare(a, b) { return c }
        return a.kindRank < b.kindRank ? -1 : (a.kindRank == b.kindRank ? 0 : 1)
    }

    var kindRank: Int {
        switch self {
        case .null: return 99
        case .boolean: return 1
        case .integer, .float, .decimal: return 2
        case .text: return 3
        case .timestamp, .date: return 4
        case .uuid: return 5
        case .blob: return 6
        case .json: return 7
        case .vector: return 8
        case .interval: return 9
        }
    }
}
