/// Float rendering shared by every text surface.
///
/// The rule (the spec's §8.4): shortest digits that round-trip, always plain
/// decimal (never an exponent), integral values without a trailing `.0`, and
/// `NaN`, `Infinity`, `-Infinity` for the special values (PostgreSQL's spelling).
public enum NumberFormatting {
    /// The double whose shortest form is the float's shortest form (`0.7` as a float is
    /// 0.699999988079071 as a double; vectors are f32, and users wrote 0.7).
    public static func widened(_ f: Float) -> Double {
        guard f.isFinite else { return Double(f) }
        return Double(f.description) ?? Double(f)
    }

    public static func shortest(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        if d == 0 { return d.sign == .minus ? "-0" : "0" }
        var text = d.description
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            text = expand(mantissa: String(text[..<e]), exponent: Int(text[text.index(after: e)...]) ?? 0)
        }
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }

    /// PostgreSQL's text output of a `double precision` (`float8out`, extra_float_digits ≥ 1):
    /// the shortest digits that read back exactly, in plain notation when the decimal exponent
    /// is from -4 to 14 and as `1.2345e+17` / `1e-07` otherwise.
    public static func postgresFloat8(_ d: Double) -> String {
        guard d.isFinite, d != 0 else { return shortest(d) }
        return postgresFloat(d.description, scientificFrom: 15)
    }

    /// The same for a `real` (`float4out`): the float's own shortest digits, plain for decimal
    /// exponents from -4 to 5.
    public static func postgresFloat4(_ f: Float) -> String {
        guard f.isFinite, f != 0 else { return shortest(Double(f)) }
        return postgresFloat(f.description, scientificFrom: 6)
    }

    private static func postgresFloat(_ description: String, scientificFrom limit: Int) -> String {
        var text = Substring(description)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = text[..<e]
        }
        let negative = text.hasPrefix("-")
        if negative { text = text.dropFirst() }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        var digits = String(parts[0]) + (parts.count > 1 ? String(parts[1]) : "")
        var point = parts[0].count + exponent  // digits before the decimal point
        while digits.count > 1, digits.hasPrefix("0") { digits.removeFirst(); point -= 1 }
        while digits.count > 1, digits.hasSuffix("0") { digits.removeLast() }
        let scientific = point - 1
        guard scientific < -4 || scientific >= limit else {
            let plain = expand(mantissa: (negative ? "-" : "") + String(digits.prefix(1)) + "." + String(digits.dropFirst()), exponent: scientific)
            return plain.hasSuffix(".") ? String(plain.dropLast()) : plain
        }
        let mantissa = digits.count > 1 ? String(digits.prefix(1)) + "." + String(digits.dropFirst()) : digits
        let magnitude = String(abs(scientific))
        return (negative ? "-" : "") + mantissa + "e" + (scientific < 0 ? "-" : "+") + (magnitude.count < 2 ? "0" : "") + magnitude
    }

    /// Rewrites `m × 10^exponent` (m like `-1.2345`) as a plain decimal.
    static func expand(mantissa: String, exponent: Int) -> String {
        var negative = false
        var m = Substring(mantissa)
        if m.hasPrefix("-") { negative = true; m = m.dropFirst() }
        let parts = m.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = String(parts[0])
        let fracPart = parts.count > 1 ? String(parts[1]) : ""
        var digits = intPart + fracPart
        var pointPosition = intPart.count + exponent
        while digits.hasPrefix("0") && digits.count > 1 { digits.removeFirst(); pointPosition -= 1 }
        var result: String
        if pointPosition <= 0 {
            result = "0." + String(repeating: "0", count: -pointPosition) + digits
        } else if pointPosition >= digits.count {
            result = digits + String(repeating: "0", count: pointPosition - digits.count)
        } else {
            let idx = digits.index(digits.startIndex, offsetBy: pointPosition)
            result = digits[..<idx] + "." + digits[idx...]
        }
        if result.contains(".") {
            while result.hasSuffix("0") { result.removeLast() }
            if result.hasSuffix(".") { result.removeLast() }
        }
        return negative ? "-" + result : result
    }
}
