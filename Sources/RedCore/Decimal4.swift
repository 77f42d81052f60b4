/// Exact fixed-point arithmetic for NUMERIC/DECIMAL values: an `Int64` holding
/// the value × 10⁴ (the spec's Decimal: four fractional digits, about ±922
/// trillion). Results are rounded half away from zero to four places, as
/// PostgreSQL rounds numeric; anything out of range is 22003.
public enum Decimal4 {
    public static let unit: Int64 = 10_000
    public static let scale: Double = 10_000
    /// Digits kept after the point.
    public static let fractionDigits = 4

    static func overflow() -> RedError { RedError(.numericOutOfRange, "numeric value out of range (DECIMAL holds up to ±922337203685477.5807)") }

    public static func fit(_ v: Int128) throws -> Int64 {
        guard v >= Int128(Int64.min), v <= Int128(Int64.max) else { throw overflow() }
        return Int64(v)
    }

    /// `a / b` rounded half away from zero.
    public static func divideRounded(_ a: Int128, _ b: Int128) -> Int128 {
        let q = a / b, r = a % b
        if r == 0 { return q }
        let away = (r < 0 ? -r : r) * 2 >= (b < 0 ? -b : b)
        return away ? ((a < 0) != (b < 0) ? q - 1 : q + 1) : q
    }

    /// The integer nearest `d` (half away from zero), as numeric → integer casts round.
    public static func divideRoundedToInteger(_ d: Int64) -> Int64 { Int64(divideRounded(Int128(d), Int128(unit))) }

    public static func from(integer i: Int64) throws -> Int64 { try fit(Int128(i) * Int128(unit)) }

    public static func from(double d: Double) throws -> Int64 {
        let scaled = (d * scale).rounded(.toNearestOrAwayFromZero)
        guard scaled.isFinite, scaled >= -9.223372036854775808e18, scaled < 9.223372036854775808e18 else { throw overflow() }
        return Int64(scaled)
    }

    /// Parses `[-+]digits[.digits][e[-+]digits]` exactly; nil when malformed.
    public static func parse(_ text: String) throws -> Int64? {
        var s = Substring(text.trimmingSpaces())
        var negative = false
        if s.first == "-" || s.first == "+" { negative = s.first == "-"; s = s.dropFirst() }
        var exponent = 0
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let x = Int(s[s.index(after: e)...]), (-39...39).contains(x) else { return nil }
            exponent = x
            s = s[..<e]
        }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, !(parts[0].isEmpty && (parts.count == 1 || parts[1].isEmpty)),
              parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }) else { return nil }
        let allDigits = String(parts[0]) + (parts.count == 2 ? String(parts[1]) : "")
        var fractional = (parts.count == 2 ? parts[1].count : 0) - exponent
        // Leading zeros dropped in one step (removing them one by one was quadratic in a long text).
        let firstSignificant = allDigits.utf8.firstIndex { $0 != UInt8(ascii: "0") } ?? allDigits.utf8.index(before: allDigits.utf8.endIndex)
        let digits = allDigits[firstSignificant...]
        guard digits.utf8.count <= 36 else { throw overflow() }
        var magnitude = Int128(digits) ?? 0
        // Bring to four fractional digits, rounding half away from zero.
        while fractional < 4 { magnitude *= 10; fractional += 1; guard magnitude < Int128(Int64.max) * 10 else { throw overflow() } }
        // Under 10^36 divided by 10^37 or more rounds to zero (and 10^39 would not fit an Int128).
        if fractional - 4 > 36 { return 0 }
        if fractional > 4 {
            var divisor: Int128 = 1
            for _ in 0..<(fractional - 4) { divisor *= 10 }
            magnitude = divideRounded(magnitude, divisor)
        }
        return try fit(negative ? -magnitude : magnitude)
    }

    /// The value with its trailing fractional zeros dropped (`1.5`, `2`).
    public static func text(_ d: Int64) -> String { text(d, places: nil) }

    /// The value with exactly `places` digits after the point (0...4; a `numeric(p,s)`
    /// column's scale), or with trailing zeros dropped when `places` is nil.
    public static func text(_ d: Int64, places: Int?) -> String {
        let negative = d < 0
        let m = d.magnitude
        let whole = m / UInt64(unit), frac = m % UInt64(unit)
        var out = (negative ? "-" : "") + String(whole)
        var f = String(frac)
        f = String(repeating: "0", count: fractionDigits - f.count) + f
        if let places {
            f = String(f.prefix(max(places, 0)))
        } else {
            while f.hasSuffix("0") { f.removeLast() }
        }
        if !f.isEmpty { out += "." + f }
        return out
    }

    public static func add(_ a: Int64, _ b: Int64) throws -> Int64 { try fit(Int128(a) + Int128(b)) }
    public static func subtract(_ a: Int64, _ b: Int64) throws -> Int64 { try fit(Int128(a) - Int128(b)) }
    public static func multiply(_ a: Int64, _ b: Int64) throws -> Int64 { try fit(divideRounded(Int128(a) * Int128(b), Int128(unit))) }

    public static func divide(_ a: Int64, _ b: Int64) throws -> Int64 {
        guard b != 0 else { throw RedError(.divisionByZero, "division by zero") }
        return try fit(divideRounded(Int128(a) * Int128(unit), Int128(b)))
    }

    public static func remainder(_ a: Int64, _ b: Int64) throws -> Int64 {
        guard b != 0 else { throw RedError(.divisionByZero, "division by zero") }
        return b == -1 ? 0 : a % b  // Int64.min % -1 traps; any multiple of -0.0001 leaves 0
    }
}
