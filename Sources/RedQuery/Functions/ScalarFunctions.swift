import RedCore
import Foundation

/// A scalar function of the library: name, accepted argument counts and body.
///
/// Functions are strict unless `acceptsNull`: any NULL argument yields NULL
/// without calling the body (PostgreSQL's STRICT). Unknown names are a 42883
/// error at bind time, never a silent NULL.
struct ScalarFunction: Sendable {
    let name: String
    let arity: ClosedRange<Int>
    let acceptsNull: Bool
    /// False for functions that must be re-evaluated per row (random()).
    let isDeterministicWithinStatement: Bool
    let body: @Sendable ([Value], ExecutionContext) throws -> Value

    func call(_ args: [Value], _ context: ExecutionContext) throws -> Value {
        if !acceptsNull, args.contains(where: \.isNull) { return .null }
        return try body(args, context)
    }

    /// Whether `name` is a built-in scalar function (which a SQL function of the name cannot hide).
    static func isBuiltIn(_ name: String) -> Bool { library[name] != nil }

    static func lookup(_ name: String, argumentCount: Int) throws -> ScalarFunction {
        guard let f = library[name] else {
            if Planner.populateFunctions.contains(name) {
                throw RedError(.featureNotSupported, "\(name) gives a row: call it in FROM (SELECT * FROM \(name)(NULL::t, doc))")
            }
            throw RedError(.undefinedFunction, "function \(name)() does not exist")
        }
        guard f.arity.contains(argumentCount) else {
            throw RedError(.undefinedFunction, "function \(name) does not accept \(argumentCount) argument\(argumentCount == 1 ? "" : "s")")
        }
        return f
    }

    /// What a function returns when that never depends on its arguments (else it is `.any`):
    /// PG-wire describes the column with it before any row exists, so a boolean is sent as
    /// `t`/`f` and JSON as json, whichever protocol asked.
    static let resultTypes: [String: DataType] = [
        "starts_with": .boolean, "ends_with": .boolean, "contains": .boolean, "json_valid": .boolean, "__json_contains": .boolean,
        "__json_get": .json, "__json_path": .json, "__json_get_text": .text, "__json_path_text": .text,
        "lower": .text, "upper": .text, "md5": .text, "chr": .text, "to_hex": .text, "pg_size_pretty": .text, "__bit_and": .integer, "__bit_or": .integer, "__bit_xor": .integer, "__bit_not": .integer,
        "__bit_shift_left": .integer, "__bit_shift_right": .integer, "width_bucket": .integer,
        "sha256": .blob, "sha384": .blob, "sha512": .blob, "digest": .blob, "hmac": .blob, "overlay": .text, "encode": .text, "decode": .blob, "convert_to": .blob, "convert_from": .text, "translate": .text, "format": .text, "quote_ident": .text,
        "quote_literal": .text, "quote_nullable": .text, "like_escape": .text, "ascii": .integer,
        "__regex_match": .boolean, "__regex_match_ci": .boolean, "regexp_like": .boolean, "regexp_replace": .text,
        "regexp_split_to_array": .array, "regexp_count": .integer, "regexp_substr": .text, "regexp_match": .array, "regexp_instr": .integer, "similar_to_escape": .text,
        "array_length": .integer, "array_upper": .integer, "array_lower": .integer, "array_ndims": .integer, "array_dims": .text,
        "cardinality": .integer, "array_to_string": .text, "array_position": .integer, "__array_overlap": .boolean, "__array_contains": .boolean,
        "string_to_array": .array, "array_append": .array, "array_prepend": .array, "array_cat": .array, "array_positions": .array,
        "array_remove": .array, "array_replace": .array, "__array_slice": .array, "__array_cast": .array, "__array_rows": .array,
        "to_char": .text, "to_number": .decimal, "to_date": .date, "to_timestamp": .timestamp, "make_date": .date, "make_timestamp": .timestamp,
        "make_timestamptz": .timestamp, "date_bin": .timestamp, "__timezone_to_local": .timestamp, "__timezone_to_instant": .timestamp, "isfinite": .boolean, "clock_timestamp": .timestamp,
        "now": .timestamp, "current_timestamp": .timestamp, "transaction_timestamp": .timestamp, "statement_timestamp": .timestamp,
        "localtimestamp": .timestamp, "current_time": .time, "localtime": .time, "current_date": .date, "__enum_cast": .text, "num_nulls": .integer, "num_nonnulls": .integer,
        "extract": .decimal, "date_part": .float, "__session_instant_from_text": .timestamp, "__session_instant_from_local": .timestamp,
        "__session_local": .timestamp, "__session_instant_text": .text, "__session_instant_json": .text, "__session_shift": .timestamp,
        "__session_to_char": .text, "__session_date_trunc": .timestamp, "age": .duration, "justify_days": .duration, "justify_hours": .duration, "justify_interval": .duration, "make_interval": .duration,
        "nextval": .integer, "currval": .integer, "setval": .integer, "lastval": .integer, "pg_get_serial_sequence": .text,
        "json_build_object": .json, "json_build_array": .json, "jsonb_build_object": .json, "jsonb_build_array": .json, "to_json": .json, "to_jsonb": .json,
    ].merging(JSONFunctions.resultTypes) { a, _ in a }.merging(JSONPathFunctions.resultTypes) { a, _ in a }.merging(AdvisoryLockFunctions.resultTypes) { a, _ in a }.merging(VectorFunctions.resultTypes) { a, _ in a }

    /// Functions whose first argument must be text (a number there is 42883, as in PostgreSQL).
    static let textFunctions: Set<String> = ["upper", "lower", "length", "char_length", "character_length", "octet_length",
                                             "substring", "substr", "trim", "btrim", "ltrim", "rtrim", "replace", "left",
                                             "right", "reverse", "lpad", "rpad", "split_part", "initcap", "strpos", "position"]

    static let floatToIntegerHalfEven = ScalarFunction(name: "int8", arity: 1...1, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
        guard let d = a[0].doubleValue else { return try DataType.integer.coerce(a[0]) }
        let r = d.rounded(.toNearestOrEven)
        guard r.isFinite, r >= -9.223372036854775808e18, r < 9.223372036854775808e18 else { throw RedError(.numericOutOfRange, "bigint out of range") }
        return .integer(Int64(r))
    }

    static let roundHalfEven = ScalarFunction(name: "round", arity: 1...1, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
        guard let d = a[0].doubleValue else { throw RedError(.datatypeMismatch, "round needs a number") }
        return .float(d.rounded(.toNearestOrEven))
    }

    static let library: [String: ScalarFunction] = {
        var table: [String: ScalarFunction] = [:]
        func add(_ names: [String], _ arity: ClosedRange<Int>, acceptsNull: Bool = false, deterministic: Bool = true,
                 _ body: @escaping @Sendable ([Value], ExecutionContext) throws -> Value) {
            for n in names { table[n] = ScalarFunction(name: n, arity: arity, acceptsNull: acceptsNull, isDeterministicWithinStatement: deterministic, body: body) }
        }
        @Sendable func text(_ v: Value) -> String { if case .text(let s) = v { return s }; return v.displayText }
        @Sendable func int(_ v: Value, _ what: String) throws -> Int64 {
            switch v {
            case .integer(let i): return i
            case .float(let d) where d.isFinite:
                guard let i = Int64(exactly: d.rounded(.toNearestOrAwayFromZero)) else { throw RedError(.numericOutOfRange, "\(what) is out of range for an integer") }
                return i
            case .decimal(let d):
                guard let i = d.roundedInteger else { throw RedError(.numericOutOfRange, "\(what) is out of range for an integer") }
                return i
            case .text(let s): if let i = Int64(s.trimmingSpaces()) { return i }
            default: break
            }
            throw RedError(.datatypeMismatch, "\(what) must be an integer, got \(v.kindName)")
        }
        @Sendable func double(_ v: Value) throws -> Double {
            if let d = v.doubleValue { return d }
            if case .text(let s) = v, let d = Double(s.trimmingSpaces()) { return d }
            throw RedError(.datatypeMismatch, "expected a number, got \(v.kindName)")
        }
        @Sendable func float(_ d: Double) -> Value { .float(d) }

        // Strings count and cut code points, as PostgreSQL does ('e' + U+0301 is two), not
        // Swift's characters (grapheme clusters).
        @Sendable func scalars(_ s: String) -> [Unicode.Scalar] { Array(s.unicodeScalars) }
        @Sendable func string<S: Sequence<Unicode.Scalar>>(_ scalars: S) -> String {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            return String(view)
        }
        add(["upper"], 1...1) { a, _ in .text(CaseMapping.upper(text(a[0]))) }
        add(["lower"], 1...1) { a, _ in .text(CaseMapping.lower(text(a[0]))) }
        add(["length", "char_length", "character_length"], 1...1) { a, _ in
            switch a[0] {
            case .blob(let b): return .integer(Int64(b.count))
            case .json(.array(let items)): return .integer(Int64(items.count))
            default: return .integer(Int64(text(a[0]).unicodeScalars.count))
            }
        }
        add(["octet_length"], 1...1) { a, _ in .integer(Int64(text(a[0]).utf8.count)) }
        add(["bit_length"], 1...1) { a, _ in .integer(Int64(text(a[0]).utf8.count * 8)) }
        @Sendable func substringByPosition(_ a: [Value]) throws -> Value {
            let chars = scalars(text(a[0]))
            let start = try int(a[1], "substring start")
            var end = Int64(chars.count) + 1
            if a.count == 3 {
                let n = try int(a[2], "substring length")
                guard n >= 0 else { throw RedError(.invalidArgument, "negative substring length not allowed") }
                end = min(end, start &+ n)
            }
            let from = max(start, 1)
            guard from < end else { return .text("") }
            return .text(string(chars[Int(from - 1)..<Int(min(end, Int64(chars.count) + 1) - 1)]))
        }
        add(["substr"], 2...3) { a, _ in try substringByPosition(a) }
        add(["substring"], 2...3) { a, _ in
            // substring(s FROM pattern): PostgreSQL's substring(text, text) is a regular expression match.
            if a.count == 2, case .text(let pattern) = a[1] { return try RegularExpressions.substringMatch(text(a[0]), pattern) }
            return try substringByPosition(a)
        }
        add(["strpos", "position", "instr"], 2...2) { a, _ in
            let hay = text(a[0]), needle = text(a[1])
            guard !needle.isEmpty else { return .integer(1) }
            guard let r = hay.range(of: needle, options: .literal) else { return .integer(0) }
            return .integer(Int64(hay.unicodeScalars.distance(from: hay.startIndex, to: r.lowerBound) + 1))
        }
        @Sendable func trimmed(_ a: [Value], leading: Bool, trailing: Bool) -> String {
            let chars = Set((a.count > 1 ? text(a[1]) : " ").unicodeScalars)
            var sub = Substring(text(a[0])).unicodeScalars
            if leading { while let f = sub.first, chars.contains(f) { sub = sub.dropFirst() } }
            if trailing { while let l = sub.last, chars.contains(l) { sub = sub.dropLast() } }
            return String(sub)
        }
        add(["trim", "btrim"], 1...2) { a, _ in .text(trimmed(a, leading: true, trailing: true)) }
        add(["ltrim"], 1...2) { a, _ in .text(trimmed(a, leading: true, trailing: false)) }
        add(["rtrim"], 1...2) { a, _ in .text(trimmed(a, leading: false, trailing: true)) }
        add(["replace"], 3...3) { a, _ in
            let from = text(a[1])
            guard !from.isEmpty else { return .text(text(a[0])) }
            return .text(text(a[0]).replacingOccurrences(of: from, with: text(a[2])))
        }
        add(["concat"], 0...1000, acceptsNull: true) { a, _ in .text(a.filter { !$0.isNull }.map(outputText).joined()) }
        add(["concat_ws"], 1...1000, acceptsNull: true) { a, _ in
            guard !a[0].isNull else { return .null }
            return .text(a.dropFirst().filter { !$0.isNull }.map(outputText).joined(separator: text(a[0])))
        }
        add(["left"], 2...2) { a, _ in
            let chars = scalars(text(a[0])), n = try int(a[1], "length")
            let count = n >= 0 ? min(Int(n), chars.count) : max(0, chars.count + Int(n))
            return .text(string(chars.prefix(count)))
        }
        add(["right"], 2...2) { a, _ in
            let chars = scalars(text(a[0])), n = try int(a[1], "length")
            let count = n >= 0 ? min(Int(n), chars.count) : max(0, chars.count + Int(n))
            return .text(string(chars.suffix(count)))
        }
        add(["reverse"], 1...1) { a, _ in .text(string(text(a[0]).unicodeScalars.reversed())) }
        add(["repeat"], 2...2) { a, _ in
            let n = try int(a[1], "count")
            let s = text(a[0])
            guard n > 0, !s.isEmpty else { return .text("") }  // repeating "" a huge number of times would spin
            let (bytes, overflow) = Int64(s.utf8.count).multipliedReportingOverflow(by: n)
            guard !overflow, bytes <= Int64(Limits.maxValueBytes) else { throw RedError(.limitExceeded, "repeat() result exceeds \(Limits.maxValueBytes) bytes") }
            return .text(String(repeating: s, count: Int(n)))
        }
        @Sendable func pad(_ a: [Value], left: Bool) throws -> Value {
            let chars = scalars(text(a[0])), n = Int(try int(a[1], "length"))
            guard n <= 10_000_000 else { throw RedError(.limitExceeded, "pad length \(n) is too large") }
            let fill = scalars(a.count > 2 ? text(a[2]) : " ")
            if n <= chars.count { return .text(string(chars.prefix(max(0, n)))) }
            guard !fill.isEmpty else { return .text(string(chars)) }
            var padding: [Unicode.Scalar] = []
            while padding.count < n - chars.count { padding.append(fill[padding.count % fill.count]) }
            return .text(left ? string(padding + chars) : string(chars + padding))
        }
        add(["lpad"], 2...3) { a, _ in try pad(a, left: true) }
        add(["rpad"], 2...3) { a, _ in try pad(a, left: false) }
        add(["split_part"], 3...3) { a, _ in
            let parts = text(a[0]).components(separatedBy: text(a[1]))
            let n = Int(try int(a[2], "field"))
            guard n != 0 else { throw RedError(.invalidArgument, "field position must not be zero") }
            let index = n > 0 ? n - 1 : parts.count + n
            return .text(index >= 0 && index < parts.count ? parts[index] : "")
        }
        add(["starts_with"], 2...2) { a, _ in .boolean(text(a[0]).hasPrefix(text(a[1]))) }
        add(["ends_with"], 2...2) { a, _ in .boolean(text(a[0]).hasSuffix(text(a[1]))) }
        add(["contains"], 2...2) { a, _ in .boolean(text(a[0]).contains(text(a[1]))) }
        add(["initcap"], 1...1) { a, _ in .text(text(a[0]).capitalized) }
        add(["quote_literal"], 1...1) { a, _ in .text(quoteLiteral(text(a[0]))) }

        // Math
        add(["abs"], 1...1) { a, _ in
            if case .integer(let i) = a[0] { guard i != .min else { throw Arithmetic.overflow() }; return .integer(abs(i)) }
            if case .decimal(let d) = a[0] { return .decimal(d.absolute()) }
            return float(abs(try double(a[0])))
        }
        add(["round"], 1...2) { a, _ in
            let places = a.count > 1 ? try int(a[1], "decimal places") : 0
            if case .integer(let i) = a[0], places >= 0 { return .integer(i) }
            // Exact, half away from zero, with `places` digits after the point (`round(1.5, 3)` is `1.500`).
            if case .decimal(let d) = a[0] { return .decimal(d.rounded(toPlaces: Int(max(-2000, min(2000, places))))) }  // PostgreSQL's clamp
            let scale = pow(10.0, Double(places))
            let r = (try double(a[0]) * scale).rounded(.toNearestOrAwayFromZero) / scale
            return float(r)
        }
        add(["trunc", "truncate"], 1...2) { a, _ in
            let places = a.count > 1 ? try int(a[1], "decimal places") : 0
            if case .integer(let i) = a[0] { return .integer(i) }
            if case .decimal(let d) = a[0] { return .decimal(d.rounded(toPlaces: Int(max(-2000, min(2000, places))), truncating: true)) }
            let scale = pow(10.0, Double(places))
            return float((try double(a[0]) * scale).rounded(.towardZero) / scale)
        }
        add(["floor"], 1...1) { a, _ in
            if case .integer = a[0] { return a[0] }
            if case .decimal(let d) = a[0] { return .decimal(d.floor()) }
            return float(Foundation.floor(try double(a[0])))
        }
        add(["ceil", "ceiling"], 1...1) { a, _ in
            if case .integer = a[0] { return a[0] }
            if case .decimal(let d) = a[0] { return .decimal(d.ceiling()) }
            return float(Foundation.ceil(try double(a[0])))
        }
        // width_bucket(operand, low, high, count): the operand's bucket among `count` equal ones
        // from low to high (reversed when low > high); 0 before them, count + 1 after.
        add(["width_bucket"], 4...4) { a, _ in
            let x = try double(a[0]), low = try double(a[1]), high = try double(a[2]), count = try int(a[3], "count")
            guard count > 0 else { throw RedError(.invalidArgument, "count must be greater than zero", condition: "2201G") }
            guard low != high else { throw RedError(.invalidArgument, "lower bound cannot equal upper bound", condition: "2201G") }
            guard x.isFinite, low.isFinite, high.isFinite else {
                throw RedError(.invalidArgument, "operand, lower bound, and upper bound cannot be NaN or infinity", condition: "2201G")
            }
            let (from, to, value) = low < high ? (low, high, x) : (-low, -high, -x)
            if value < from { return .integer(0) }
            if value >= to { return .integer(count + 1) }
            return .integer(min(count, Int64(((value - from) / (to - from) * Double(count)).rounded(.down)) + 1))
        }
        add(["sign"], 1...1) { a, _ in
            if case .integer(let i) = a[0] { return .integer(i.signum()) }
            let d = try double(a[0]); return float(d > 0 ? 1 : (d < 0 ? -1 : 0))
        }
        add(["sqrt"], 1...1) { a, _ in
            let d = try double(a[0])
            guard d >= 0 else { throw RedError(.invalidArgument, "cannot take square root of a negative number", condition: "2201F") }
            return float(d.squareRoot())
        }
        add(["cbrt"], 1...1) { a, _ in float(Foundation.cbrt(try double(a[0]))) }
        add(["power", "pow", Parser.powerOperator], 2...2) { a, _ in float(Foundation.pow(try double(a[0]), try double(a[1]))) }
        add(["exp"], 1...1) { a, _ in float(Foundation.exp(try double(a[0]))) }
        add(["ln"], 1...1) { a, _ in
            let d = try double(a[0])
            guard d > 0 else { throw RedError(.invalidArgument, d == 0 ? "cannot take logarithm of zero" : "cannot take logarithm of a negative number", condition: "2201E") }
            return float(Foundation.log(d))
        }
        add(["log", "log10"], 1...2) { a, _ in
            let x = try double(a[a.count - 1])
            guard x > 0 else { throw RedError(.invalidArgument, x == 0 ? "cannot take logarithm of zero" : "cannot take logarithm of a negative number", condition: "2201E") }
            if a.count == 2 { return float(Foundation.log(x) / Foundation.log(try double(a[0]))) }
            return float(Foundation.log10(x))
        }
        add(["mod"], 2...2) { a, _ in try Arithmetic.apply("%", a[0], a[1]) }
        add(["__bit_and"], 2...2) { a, _ in
            guard case .integer(let x) = try DataType.integer.coerce(a[0]), case .integer(let y) = try DataType.integer.coerce(a[1]) else {
                throw RedError(.undefinedFunction, "operator does not exist: \(a[0].kindName) & \(a[1].kindName)")
            }
            return .integer(x & y)
        }
        // `|`, `#` and prefix `~`: bitwise or, exclusive or and not of integers.
        for (name, symbol) in [("__bit_or", "|"), ("__bit_xor", "#")] {
            add([name], 2...2) { a, _ in
                guard case .integer(let x) = try DataType.integer.coerce(a[0]), case .integer(let y) = try DataType.integer.coerce(a[1]) else {
                    throw RedError(.undefinedFunction, "operator does not exist: \(a[0].kindName) \(symbol) \(a[1].kindName)")
                }
                return .integer(symbol == "|" ? x | y : x ^ y)
            }
        }
        // `<<` and `>>`: the count taken modulo 64, as PostgreSQL's bigint shifts are on x86.
        for (name, symbol) in [("__bit_shift_left", "<<"), ("__bit_shift_right", ">>")] {
            add([name], 2...2) { a, _ in
                guard case .integer(let x) = try DataType.integer.coerce(a[0]), case .integer(let y) = try DataType.integer.coerce(a[1]) else {
                    throw RedError(.undefinedFunction, "operator does not exist: \(a[0].kindName) \(symbol) \(a[1].kindName)")
                }
                return .integer(symbol == "<<" ? x &<< y : x &>> y)
            }
        }
        add(["__bit_not"], 1...1) { a, _ in
            guard case .integer(let x) = try DataType.integer.coerce(a[0]) else { throw RedError(.undefinedFunction, "operator does not exist: ~ \(a[0].kindName)") }
            return .integer(~x)
        }
        add(["div"], 2...2) { a, _ in
            let r = try Arithmetic.apply("/", a[0], a[1])
            if case .float(let d) = r {
                guard let whole = Int64(exactly: d.rounded(.towardZero)) else { throw RedError(.numericOutOfRange, "div() result is out of range for an integer") }
                return .integer(whole)
            }
            if case .decimal = r, case let (x, y) = (try Arithmetic.numeric(a[0]), try Arithmetic.numeric(a[1])) {
                // Exactly: the rounded quotient could round up to the next integer.
                let whole = try x.subtracting(try x.remainder(dividingBy: y)).dividing(by: y)
                guard let i = whole.truncatedInteger else { throw RedError(.numericOutOfRange, "div() result is out of range for an integer") }
                return .integer(i)
            }
            return r
        }
        add(["pi"], 0...0) { _, _ in float(Double.pi) }
        for (name, f) in [("sin", Foundation.sin), ("cos", Foundation.cos), ("tan", Foundation.tan), ("asin", Foundation.asin),
                          ("acos", Foundation.acos), ("atan", Foundation.atan)] as [(String, @Sendable (Double) -> Double)] {
            add([name], 1...1) { a, _ in float(f(try double(a[0]))) }
        }
        add(["atan2"], 2...2) { a, _ in float(Foundation.atan2(try double(a[0]), try double(a[1]))) }
        add(["cot"], 1...1) { a, _ in float(1 / Foundation.tan(try double(a[0]))) }
        add(["degrees"], 1...1) { a, _ in float(try double(a[0]) * 180 / .pi) }
        add(["radians"], 1...1) { a, _ in float(try double(a[0]) * .pi / 180) }
        add(["greatest"], 1...1000, acceptsNull: true) { a, _ in
            a.filter { !$0.isNull }.max { Value.sortCompare($0, $1) < 0 } ?? .null
        }
        add(["least"], 1...1000, acceptsNull: true) { a, _ in
            a.filter { !$0.isNull }.min { Value.sortCompare($0, $1) < 0 } ?? .null
        }

        // Conditionals
        add(["coalesce"], 1...1000, acceptsNull: true) { a, _ in a.first { !$0.isNull } ?? .null }
        add(["num_nulls"], 1...1000, acceptsNull: true) { a, _ in .integer(Int64(a.filter(\.isNull).count)) }
        add(["num_nonnulls"], 1...1000, acceptsNull: true) { a, _ in .integer(Int64(a.filter { !$0.isNull }.count)) }
        add(["nullif"], 2...2, acceptsNull: true) { a, _ in
            if a[0].isNull { return .null }
            return try Evaluation.compare("=", a[0], a[1]) == .boolean(true) ? .null : a[0]
        }
        add(["ifnull", "nvl"], 2...2, acceptsNull: true) { a, _ in a[0].isNull ? a[1] : a[0] }

        // PostgreSQL session information (what drivers and tools ask on connect)
        add(["version"], 0...0) { _, _ in .text(PostgresCompatibility.versionString) }
        add(["current_database", "current_catalog"], 0...0) { _, _ in .text(PostgresCompatibility.databaseName) }
        // The first schema of the search path that exists (NULL when none does).
        add(["current_schema"], 0...0) { _, c in
            guard let path = c.transaction.searchPath else { return .text(PostgresCompatibility.schemaName) }
            return path.first { $0 != "pg_catalog" && $0 != "information_schema" }.map(Value.text) ?? .null
        }
        add(["current_user", "session_user", "current_role", "user"], 0...0) { _, _ in .text(PostgresCompatibility.databaseName) }
        add(["current_setting"], 1...2, acceptsNull: true) { a, _ in
            guard case .text(let name) = a[0] else { throw RedError(.invalidArgument, "current_setting() takes a setting name") }
            if let value = PostgresCompatibility.defaultSettings[name.lowercased()] { return .text(value) }
            if a.count == 2, a[1] == .boolean(true) { return .null }
            throw RedError(.undefinedObject, "unrecognized configuration parameter \"\(name)\"")
        }

        // Time
        add(["now", "transaction_timestamp", "statement_timestamp"], 0...0) { _, c in .timestamp(c.nowMicroseconds) }
        // `current_timestamp(p)`, `localtimestamp(p)`: seconds rounded to p digits (PostgreSQL takes
        // more than 6 as 6).
        // `localtimestamp` is the time on the session's clocks, a `timestamp`.
        for name in ["current_timestamp", "localtimestamp"] {
            add([name], 0...1) { a, c in
                let now = name == "localtimestamp" ? try c.timeZone.localTime(of: c.nowMicroseconds) : c.nowMicroseconds
                guard let precision = a.first else { return .timestamp(now) }
                guard case .integer(let p) = precision, p >= 0 else {
                    throw RedError(.invalidArgument, "TIMESTAMP(\(precision.displayText)) precision must not be negative")
                }
                return .timestamp(CalendarMath.rounded(now, toFractionDigits: Int(min(p, 6))))
            }
        }
        // `current_time`, `localtime`: the time of day on the session's clocks, seconds rounded
        // the same way; RedDB has no `timetz`, so `current_time` is a `time` without its offset.
        add(["current_time", "localtime"], 0...1) { a, c in
            var digits = 6
            if let precision = a.first {
                guard case .integer(let p) = precision, p >= 0 else {
                    throw RedError(.invalidArgument, "TIME(\(precision.displayText)) precision must not be negative")
                }
                digits = Int(min(p, 6))
            }
            let time = CalendarMath.split(try c.timeZone.localTime(of: c.nowMicroseconds)).microsOfDay
            return .text(CalendarMath.clockText(CalendarMath.roundedFraction(time, toFractionDigits: digits)))
        }
        add(["current_date"], 0...0) { _, c in try DataType.date.coerce(.timestamp(try c.timeZone.localTime(of: c.nowMicroseconds))) }
        add(["date_part"], 2...2) { a, _ in
            let part = try TimeFunctions.datePart(text(a[0]).lowercased(), a[1])
            if case .integer(let i) = part { return .float(Double(i)) }
            return part
        }
        // EXTRACT is numeric in PostgreSQL (since 14), date_part double precision; an infinite
        // epoch stays a float (numeric's Infinity).
        add(["extract"], 2...2) { a, _ in
            if let exact = try TimeFunctions.exactPart(text(a[0]).lowercased(), a[1]) { return .decimal(exact) }
            switch try TimeFunctions.datePart(text(a[0]).lowercased(), a[1]) {
            case .integer(let i): return .decimal(Numeric(i))
            case .float(let d) where d.isFinite: return .decimal(try Numeric(double: d))
            case let other: return other
            }
        }
        add(["date_trunc"], 2...2) { a, _ in try TimeFunctions.dateTrunc(text(a[0]).lowercased(), a[1]) }
        add(["time_bucket"], 2...2) { a, _ in
            let width = try TimeFunctions.strideMicroseconds(a[0])
            guard width > 0, case .timestamp(let t) = try DataType.timestamp.coerce(a[1]) else { throw RedError(.invalidArgument, "time_bucket needs a positive width and a timestamp") }
            // The bucket's start: t rounded down to a multiple of width (t - r never overflows;
            // stepping one more width below for a negative t may, which is out of range).
            if CalendarMath.isInfinite(t) { return .timestamp(t) }
            let r = t % width
            return .timestamp(r >= 0 ? t - r : try CalendarMath.checkedTimestamp(t - r, plus: -width))
        }

        // JSON
        add(["json_extract", "json_extract_path", "json_extract_text", "jsonb_extract_path", "json_extract_path_text"], 2...100) { a, _ in
            let document = try DataType.json.coerce(a[0])
            var path: [String] = []
            for p in a.dropFirst() {
                let s = text(p)
                if s.hasPrefix("$") { path += TimeFunctions.jsonPath(s) } else { path.append(s) }
            }
            return Evaluation.extract(document, path: path)
        }
        // `field CONTAINS x` (VECTOR SEARCH filters): substring of text (by bytes), element of a JSON array.
        add(["__contains"], 2...2) { a, _ in
            switch a[0] {
            case .json(.array(let items)): return .boolean(items.contains { Value(json: $0) == a[1] })
            case .vector(let v): return .boolean(a[1].doubleValue.map { d in v.contains { Double($0) == d } } ?? false)
            default: return .boolean(Array(text(a[0]).utf8).firstRange(of: Array(text(a[1]).utf8)) != nil)
            }
        }
        add(["__subscript"], 2...2) { a, _ in
            let document = try DataType.json.coerce(a[0])
            return Evaluation.extract(document, path: [text(a[1])])
        }
        add(["json_typeof", "jsonb_typeof"], 1...1) { a, _ in
            switch try DataType.json.coerce(a[0]) {
            case .json(.object): return .text("object")
            case .json(.array): return .text("array")
            case .json(.string): return .text("string")
            case .json(.integer), .json(.float), .json(.decimal): return .text("number")
            case .json(.bool): return .text("boolean")
            default: return .text("null")
            }
        }
        add(["json_array_length", "jsonb_array_length"], 1...1) { a, _ in
            guard case .json(.array(let items)) = try DataType.json.coerce(a[0]) else { throw RedError(.invalidArgument, "cannot get array length of a non-array") }
            return .integer(Int64(items.count))
        }
        add(["json_valid"], 1...1) { a, _ in .boolean((try? JSONValue.parse(text(a[0]))) != nil) }
        add(["json_build_object", "json_object", "jsonb_build_object"], 0...1000, acceptsNull: true) { a, _ in
            guard a.count % 2 == 0 else { throw RedError(.invalidArgument, "argument list must have even number of elements") }
            var members: [(String, JSONValue)] = []
            var i = 0
            while i < a.count {
                guard !a[i].isNull else { throw RedError(.invalidArgument, "null value not allowed for object key") }
                members.append((text(a[i]), a[i + 1].postgresJSON))
                i += 2
            }
            return .json(try JSONValue.checkedNesting(.object(members)))
        }
        add(["json_build_array", "json_array", "jsonb_build_array"], 0...1000, acceptsNull: true) { a, _ in
            .json(try JSONValue.checkedNesting(.array(a.map(\.postgresJSON))))
        }
        add(["to_json", "to_jsonb"], 1...1) { a, _ in .json(a[0].postgresJSON) }

        // Geo: great-circle distance in kilometres between (lat, lon) pairs.
        add(["geo_distance", "haversine"], 4...4) { a, _ in
            float(Geo.haversineKilometres(try double(a[0]), try double(a[1]), try double(a[2]), try double(a[3])))
        }
        add(["geo_bearing"], 4...4) { a, _ in
            float(Geo.bearingDegrees(try double(a[0]), try double(a[1]), try double(a[2]), try double(a[3])))
        }

        // Identity
        add(["gen_random_uuid", "uuid_generate_v4"], 0...0, deterministic: false) { _, _ in
            var u = UInt128.random(in: 0...UInt128.max)
            u = (u & ~(UInt128(0xF000) << 64)) | (UInt128(0x4000) << 64)
            u = (u & ~(UInt128(0xC000) << 48)) | (UInt128(0x8000) << 48)
            return .uuid(UUIDBits(u))
        }
        add(["typeof"], 1...1, acceptsNull: true) { a, _ in .text(a[0].kindName) }
        for f in postgresTextFunctions + JSONOperators.functions + JSONFunctions.functions + RegularExpressions.functions + ArrayFunctions.functions + DateTimeFunctions.functions + IntervalFunctions.functions + SimilarToPatterns.functions + SequenceFunctions.all + AdvisoryLockFunctions.all + SessionRandom.functions + SleepFunctions.functions + VectorFunctions.functions + IntegerMathFunctions.functions + [TableSample.function, DeclaredCast.function, DeclaredCast.input, DeclaredCast.recordDocument, EnumTypeCatalog.cast, TimeZoneConversion.toLocal, TimeZoneConversion.toInstant] + SessionZoneFunctions.all + JSONPathFunctions.functions { table[f.name] = f }
        return table
    }()
}

enum Geo {
    static let earthRadiusKilometres = 6371.0088

    static func haversineKilometres(_ lat1: Double, _ lon1: Double, _ lat2: Double, _ lon2: Double) -> Double {
        let p1 = lat1 * .pi / 180, p2 = lat2 * .pi / 180
        let dp = (lat2 - lat1) * .pi / 180, dl = (lon2 - lon1) * .pi / 180
        let h = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2)
        return 2 * earthRadiusKilometres * asin(min(1, h.squareRoot()))
    }

    static func bearingDegrees(_ lat1: Double, _ lon1: Double, _ lat2: Double, _ lon2: Double) -> Double {
        let p1 = lat1 * .pi / 180, p2 = lat2 * .pi / 180, dl = (lon2 - lon1) * .pi / 180
        let y = sin(dl) * cos(p2)
        let x = cos(p1) * sin(p2) - sin(p1) * cos(p2) * cos(dl)
        let degrees = atan2(y, x) * 180 / .pi
        return (degrees + 360).truncatingRemainder(dividingBy: 360)
    }
}
