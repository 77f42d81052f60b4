/// Text forms of values: what `red query` prints, what PG-wire sends in text
/// format, and what CAST(x AS TEXT) and `||` produce.
extension Value {
    /// PostgreSQL-style text: `t`/`f` are spelled `true`/`false`, floats per `NumberFormatting`.
    public var displayText: String {
        switch self {
        case .null: return "NULL"
        case .boolean(let b): return b ? "true" : "false"
        case .integer(let i): return String(i)
        case .float(let d): return NumberFormatting.shortest(d)
        case .decimal(let d): return d.text
        case .text(let s): return s
        case .blob(let b): return "\\x" + b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        case .json(let j): return j.text
        case .timestamp(let us): return CalendarMath.formatTimestamp(us)
        case .date(let d): return CalendarMath.formatDate(d)
        case .uuid(let u): return Value.uuidText(u)
        case .vector(let v): return "[" + v.map { NumberFormatting.shortest(NumberFormatting.widened($0)) }.joined(separator: ",") + "]"
        case .interval(let i): return i.text
        }
    }

    static func uuidText(_ u: UUIDBits) -> String {
        let chars = Array(u.hex)
        return String(chars[0..<8]) + "-" + String(chars[8..<12]) + "-" + String(chars[12..<16]) + "-"
            + String(chars[16..<20]) + "-" + String(chars[20..<32])
    }

    /// The value as JSON, as HTTP `POST /query` encodes it (spec: protocols §4.4): numbers stay
    /// numbers, timestamps are epoch milliseconds, dates are days since the epoch, blobs and
    /// UUIDs lower-case hex, vectors number arrays, JSON inline; intervals are milliseconds (the
    /// spec's durations) when they are a whole number of them without months, else their text.
    public var jsonValue: JSONValue {
        switch self {
        case .null: return .null
        case .boolean(let b): return .bool(b)
        case .integer(let i): return .integer(i)
        case .float(let d): return d.isFinite ? .float(d) : .string(NumberFormatting.shortest(d))
        case .decimal(let d): return d.jsonValue
        case .text(let s): return .string(s)
        case .json(let j): return j
        case .vector(let v): return .array(v.map { .float(NumberFormatting.widened($0)) })
        case .timestamp(let us): return .integer(CalendarMath.milliseconds(us))
        case .date(let d): return .integer(Int64(d))
        case .interval(let i): return i.wholeMilliseconds.map(JSONValue.integer) ?? .string(i.text)
        case .blob(let b): return .string(b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
        case .uuid(let u): return .string(u.hex)
        }
    }

    /// The value as PostgreSQL's `to_json` writes it, for the JSON a statement builds
    /// (`to_json`, `json_build_object`, `json_agg` …): timestamps in ISO 8601 with a `T`
    /// (`"2024-01-01T10:00:00.5"`), dates, intervals, UUIDs and bytes as their text — not
    /// `jsonValue`'s epoch numbers and bare hex, which are HTTP's encoding of result values.
    public var postgresJSON: JSONValue {
        switch self {
        case .timestamp:
            var text = displayText
            if let space = text.firstIndex(of: " ") { text.replaceSubrange(space...space, with: "T") }  // not in "infinity"
            return .string(text)
        case .date, .interval, .uuid, .blob: return .string(displayText)
        case .decimal(let n): return .decimal(n)  // exactly, with its scale: `to_json(1.50)` is 1.50
        default: return jsonValue
        }
    }

    /// The value as an array (kept as a JSON array) holds an element: numbers as numbers, a
    /// numeric exactly with its scale (`{1.50}`), text and JSON as themselves, vectors as their
    /// floats, and timestamps, dates, UUIDs, intervals and bytes as their PostgreSQL text.
    public var arrayElementJSON: JSONValue {
        switch self {
        case .decimal(let n): return .decimal(n)
        case .null, .boolean, .integer, .float, .text, .json, .vector: return jsonValue
        default: return .string(displayText)
        }
    }

    /// A JSON value as the SQL value it stores (document members, KV PUT, HTTP and gRPC fields,
    /// client results): numbers, strings and booleans become scalars, arrays and objects JSON.
    public init(json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .boolean(b)
        case .integer(let i): self = .integer(i)
        case .float(let d): self = .float(d)
        case .decimal(let n): self = .decimal(n)
        case .string(let s): self = .text(s)
        case .array, .object: self = .json(json)
        }
    }
}
