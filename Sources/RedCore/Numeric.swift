/// An exact NUMERIC/DECIMAL value: a decimal of up to 36 significant digits, held as a
/// mantissa and a scale (the digits after the point, 0…36) in 16 bytes: `1.50` is (150, 2).
///
/// Why this shape: PostgreSQL's numeric is exact and keeps a *display scale* — `1.50` stays
/// `1.50`, `1.5 * 2` is `3.0`, `numeric(10,2)` columns print two places — and clients
/// (psycopg's `Decimal`, JDBC's `BigDecimal`, Django's `DecimalField`) rely on both. 36 digits
/// (SQL Server and Oracle stop at 38) cover money, rates, coordinates, `numeric(36,18)` token
/// amounts and `sum(bigint)`, while one 16-byte value keeps arithmetic on the machine's
/// integers and rows free of allocations (see `low`/`high` for why not 38).
/// PostgreSQL holds up to 131,072 digits; past 36 this type rounds the fraction away and,
/// when the integer part alone needs more, fails with 22003 — it never silently wraps.
///
/// Arithmetic follows PostgreSQL's scales: `+ -` keep the larger scale, `*` the sum of the
/// scales, `/` PostgreSQL's `select_div_scale` (at least 16 significant digits); results
/// round half away from zero. When a result needs more than 36 digits, its fraction is
/// rounded to fit. Intermediate products use 256-bit arithmetic (`Wide`), so nothing
/// overflows before that rounding.
public struct Numeric: Sendable {
    public static let maxDigits = 36
    /// 10^0 … 10^38.
    public static let powers: [UInt128] = {
        var p: [UInt128] = [1]
        for _ in 0..<38 { p.append(p[p.count - 1] * 10) }
        return p
    }()
    public static let limit = powers[maxDigits]  // every |mantissa| is below it

    // Sixteen bytes of 8-byte-aligned words, no more: `Value` must keep the size of its
    // largest other payloads, 24 bytes in an array (`UUIDBits`). (When `.uuid` held a UInt128,
    // a 17-byte payload beside it even made the compiler load values with aligned vector moves
    // from 8-byte-aligned stack slots — a crash.) So the magnitude (below 10^36, under 2^120)
    // takes bits 0–119, the sign bit 120 and the scale bits 121–126.
    private let low: UInt64
    private let high: UInt64

    // Int128 and UInt128 are built from and split into their 64-bit halves with `_low`/`_high`:
    // the generic conversions (`init(truncatingIfNeeded:)`, `Double(_:)` of an Int128) run
    // unspecialised through witness tables, and were most of an aggregate's time.
    public var magnitude: UInt128 { UInt128(_low: low, _high: high & Self.magnitudeMask) }
    public var isNegative: Bool { high & Self.signBit != 0 }
    public var scale: Int { Int(high >> 57) }
    public var mantissa: Int128 {
        let m = Int128(bitPattern: magnitude)
        return isNegative ? 0 - m : m
    }
    private static let magnitudeMask: UInt64 = (1 << 56) - 1
    private static let signBit: UInt64 = 1 << 56

    /// `mantissa × 10^-scale`; the caller guarantees |mantissa| < 10^36 and 0 ≤ scale ≤ 36.
    public init(unchecked mantissa: Int128, scale: Int) {
        let m = mantissa.magnitude
        self.low = m._low
        self.high = m._high | (mantissa < 0 ? Self.signBit : 0) | UInt64(scale) << 57
    }

    /// A numeric whose magnitude fits 64 bits (every numeric of up to 19 digits): built and read
    /// without Int128, whose conversions and shifts run through generic, unspecialised code.
    public init(small magnitude: UInt64, negative: Bool, scale: Int) {
        self.low = magnitude
        self.high = (negative && magnitude != 0 ? Self.signBit : 0) | UInt64(scale) << 57
    }

    /// `mantissa × 10^-scale` from an Int64 mantissa (a stored value, an integer).
    public init(mantissa: Int64, scale: Int) { self.init(small: mantissa.magnitude, negative: mantissa < 0, scale: scale) }

    public init(_ integer: Int64) { self.init(mantissa: integer, scale: 0) }

    /// Whether the magnitude fits in `low` alone (then `smallMagnitude` is it).
    @inline(__always) public var isSmall: Bool { high & Self.magnitudeMask == 0 }
    @inline(__always) public var smallMagnitude: UInt64 { low }

    /// The mantissa as an Int64, when it is one.
    public var smallMantissa: Int64? {
        guard isSmall else { return nil }
        if isNegative { return low <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- low) : nil }
        return low <= UInt64(Int64.max) ? Int64(low) : nil
    }

    /// 10^0 … 10^19.
    static let smallPowers: [UInt64] = (0...19).map { e in (0..<e).reduce(1 as UInt64) { r, _ in r * 10 } }

    /// 22003 past 36 digits.
    public init(_ integer: Int128) throws { try self.init(negative: integer < 0, magnitude: Wide(integer.magnitude), scale: 0) }

    /// `magnitude × 10^-scale` with a sign, its fraction rounded (half away from zero) until it
    /// has at most 36 digits and a scale of at most 36; 22003 when the integer part is too long.
    public init(negative: Bool, magnitude: Wide, scale: Int) throws {
        var m = magnitude, s = scale
        let excess = max(m.decimalDigits - Self.maxDigits, s - Self.maxDigits, 0)
        if excess > 0 {
            guard excess <= s else { throw Self.overflow() }
            m = m.dividedRounded(byPowerOfTen: excess)
            s -= excess
            if m.decimalDigits > Self.maxDigits {  // rounding up carried into a new digit (99.9 → 100.0)
                guard s > 0 else { throw Self.overflow() }
                m = m.dividedRounded(byPowerOfTen: 1)
                s -= 1
            }
        }
        let small = m.low  // fits: at most 36 digits
        let signed = Int128(bitPattern: small)
        self.init(unchecked: negative ? 0 - signed : signed, scale: s)
    }

    public static func overflow() -> RedError {
        RedError(.numericOutOfRange, "numeric value out of range: RedDB's NUMERIC holds up to 36 significant digits")
    }

    public var isZero: Bool { low == 0 && high & Self.magnitudeMask == 0 }

    public func negated() -> Numeric { Numeric(unchecked: -mantissa, scale: scale) }
    public func absolute() -> Numeric { Numeric(unchecked: Int128(bitPattern: magnitude), scale: scale) }

    /// `±magnitude × 10^-scale` (magnitude below 10^36).
    init(signed negative: Bool, _ magnitude: UInt128, scale: Int) {
        let m = Int128(bitPattern: magnitude)
        self.init(unchecked: negative ? 0 - m : m, scale: scale)
    }

    /// The mantissa at a larger scale, when it still fits in an Int128.
    func mantissa(atScale target: Int) -> Int128? {
        let (m, overflow) = mantissa.multipliedReportingOverflow(by: Int128(bitPattern: Self.powers[target - scale]))
        return overflow ? nil : m
    }
}

// MARK: - Comparison

extension Numeric: Hashable, Comparable {
    /// Numeric order: `1.50 == 1.5`.
    public static func compare(_ a: Numeric, _ b: Numeric) -> Int {
        if a.isNegative != b.isNegative { return a.isZero && b.isZero ? 0 : (a.isNegative ? -1 : 1) }
        if a.isSmall, b.isSmall, let (x, y) = smallAligned(a, b) {
            let order = x < y ? -1 : (x == y ? 0 : 1)
            return a.isNegative ? -order : order
        }
        if a.scale == b.scale { return a.mantissa < b.mantissa ? -1 : (a.mantissa == b.mantissa ? 0 : 1) }
        // Bring the smaller scale up; when that overflows, its magnitude is the larger one.
        if a.scale < b.scale {
            guard let x = a.mantissa(atScale: b.scale) else { return a.isNegative ? -1 : 1 }
            return x < b.mantissa ? -1 : (x == b.mantissa ? 0 : 1)
        }
        guard let y = b.mantissa(atScale: a.scale) else { return b.isNegative ? 1 : -1 }
        return a.mantissa < y ? -1 : (a.mantissa == y ? 0 : 1)
    }

    /// Two small magnitudes at one scale, nil when the larger scale does not fit 64 bits.
    @inline(__always)
    static func smallAligned(_ a: Numeric, _ b: Numeric) -> (UInt64, UInt64)? {
        let sa = a.scale, sb = b.scale
        if sa == sb { return (a.low, b.low) }
        let gap = sa < sb ? sb - sa : sa - sb
        guard gap < smallPowers.count else { return nil }
        let (scaled, overflow) = (sa < sb ? a.low : b.low).multipliedReportingOverflow(by: smallPowers[gap])
        guard !overflow else { return nil }
        return sa < sb ? (scaled, b.low) : (a.low, scaled)
    }

    public static func == (a: Numeric, b: Numeric) -> Bool { compare(a, b) == 0 }
    public static func < (a: Numeric, b: Numeric) -> Bool { compare(a, b) < 0 }

    /// Hashes as the nearest double does, so that equal numerics, integers and floats
    /// (`Value`'s grouping equality) share a hash.
    public func hash(into hasher: inout Hasher) {
        let d = doubleValue
        hasher.combine(d == 0 ? 0 : d.bitPattern)
    }

    /// Same mantissa and scale: the same bytes in every encoding (`1.5` and `1.50` are not).
    public func isIdentical(to other: Numeric) -> Bool { mantissa == other.mantissa && scale == other.scale }

    /// Compares with an integer exactly.
    public static func compare(_ a: Numeric, _ b: Int64) -> Int { compare(a, Numeric(b)) }
}

// MARK: - Conversions

extension Numeric {
    /// The nearest double, correctly rounded (so that the order of doubles never contradicts
    /// the order of numerics — index keys rely on it).
    public var doubleValue: Double {
        var m = self
        // A quotient's trailing zeros (`0.62500000000000000000`) would keep it off the fast path.
        if !isSmall || low >= (1 << 53), scale > 0 { m = withoutTrailingZeros() }
        if m.isSmall, m.low < (1 << 53), m.scale <= 22 {
            // Both operands exact, one rounding: correctly rounded.
            let d = Double(m.low) / Self.doublePowers[m.scale]
            return isNegative ? -d : d
        }
        return Double(text) ?? (isNegative ? -.infinity : .infinity)
    }
    private static let doublePowers: [Double] = (0...22).map { e in (0..<e).reduce(1.0) { r, _ in r * 10 } }

    /// Rounded half away from zero to `places` digits after the point (negative: to tens,
    /// hundreds …), with that scale (at least 0) — PostgreSQL's `round(numeric, int)`.
    public func rounded(toPlaces requested: Int, truncating: Bool = false) -> Numeric {
        let places = max(-100, min(100, requested))  // beyond either, the answer is the same (no overflow in `scale - places`)
        guard places < scale else {
            // More places than held: only the scale grows (`round(1.5, 3)` is `1.500`), as far as 36 digits go.
            var target = min(places, Self.maxDigits)
            while target > scale {
                if let m = mantissa(atScale: target), m.magnitude < Self.limit { return Numeric(unchecked: m, scale: target) }
                target -= 1
            }
            return self
        }
        let drop = scale - places
        guard drop <= Self.maxDigits else { return Numeric(unchecked: 0, scale: max(places, 0)) }
        let unit = Self.powers[drop]
        var q = magnitude / unit
        let r = magnitude % unit
        if !truncating, r >= unit - r { q += 1 }  // r ≥ unit/2, without overflow
        if places >= 0 {
            return Numeric(signed: isNegative, q, scale: places)
        }
        // A negative place count rounds to a power of ten and keeps scale 0.
        let back = Self.powers[min(-places, Self.maxDigits)]
        let (value, overflow) = q.multipliedReportingOverflow(by: back)
        guard !overflow, value < Self.limit else { return self }
        return Numeric(signed: isNegative, value, scale: 0)
    }

    /// The integer nearest (half away from zero), as numeric → integer casts round; nil when it
    /// does not fit an Int64.
    public var roundedInteger: Int64? {
        let r = rounded(toPlaces: 0)
        return Int64(exactly: r.mantissa)
    }

    /// The integer part (toward zero), as `trunc` and integer division keep it.
    public var truncatedInteger: Int64? { Int64(exactly: rounded(toPlaces: 0, truncating: true).mantissa) }

    /// The largest integer not above the value (`floor`), with scale 0.
    public func floor() -> Numeric {
        let t = rounded(toPlaces: 0, truncating: true)
        return isNegative && !isIntegral ? Numeric(unchecked: t.mantissa - 1, scale: 0) : t
    }

    /// The smallest integer not below the value (`ceil`), with scale 0.
    public func ceiling() -> Numeric {
        let t = rounded(toPlaces: 0, truncating: true)
        return !isNegative && !isIntegral ? Numeric(unchecked: t.mantissa + 1, scale: 0) : t
    }

    /// Whether the value has no fractional part (`2.00` has none).
    public var isIntegral: Bool {
        if scale == 0 { return true }
        if isSmall, scale < Self.smallPowers.count { return low % Self.smallPowers[scale] == 0 }
        return magnitude % Self.powers[scale] == 0
    }

    /// PostgreSQL's float8 → numeric: 15 significant digits (`DBL_DIG`), trailing zeros dropped,
    /// so `0.1::float8::numeric` is `0.1`. NaN and infinities have no place here (22003).
    public init(double d: Double) throws {
        guard d.isFinite else { throw RedError(.numericOutOfRange, "cannot convert \(NumberFormatting.shortest(d)) to numeric") }
        guard d != 0 else { self.init(Int64(0)); return }
        guard let exact = try Numeric.parse(d.description) else { throw Self.overflow() }
        // Round to 15 significant digits, then drop the fraction's trailing zeros.
        let digits = Wide(exact.magnitude).decimalDigits
        var n = digits > 15 ? exact.rounded(toPlaces: exact.scale - (digits - 15)) : exact
        n = n.withoutTrailingZeros()
        self = n
    }

    /// The same value with the fraction's trailing zeros dropped (`1.500` → `1.5`, `2.0` → `2`).
    public func withoutTrailingZeros() -> Numeric {
        guard scale > 0, !isZero else { return isZero ? Numeric(Int64(0)) : self }
        var m = magnitude, s = scale
        // In falling steps of zeros: a 128-bit division is slow, and a quotient has up to 36.
        for step in [16, 8, 4, 2, 1] {
            while s >= step {
                let (q, r) = m.quotientAndRemainder(dividingBy: Self.powers[step])
                guard r == 0 else { break }
                m = q
                s -= step
            }
        }
        return Numeric(unchecked: isNegative ? 0 - Int128(bitPattern: m) : Int128(bitPattern: m), scale: s)
    }
}

// MARK: - Text

extension Numeric: CustomStringConvertible {
    /// PostgreSQL's text: every digit of the scale (`1.50`, `-0.001`, `3`).
    public var text: String {
        var digits = String(magnitude)
        if scale > 0 {
            if digits.count <= scale { digits = String(repeating: "0", count: scale - digits.count + 1) + digits }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -scale))
        }
        return isNegative ? "-" + digits : digits
    }

    public var description: String { text }

    /// The value with exactly `places` digits after the point (rounded or zero-padded).
    public func text(places: Int) -> String {
        let r = rounded(toPlaces: max(places, 0))
        guard r.scale < places else { return r.text }
        return r.text + (r.scale == 0 ? "." : "") + String(repeating: "0", count: places - r.scale)
    }

    /// Parses `[-+]digits[.digits][e[-+]digits]` (surrounding spaces allowed) exactly, keeping
    /// the written scale (`1.50` → scale 2; `1.5e1` → `15`; `1e-3` → `0.001`); nil when the
    /// text is not a number. Digits past 36 significant ones round the fraction; an integer
    /// part longer than 36 digits is 22003.
    public static func parse(_ text: some StringProtocol) throws -> Numeric? {
        var bytes = Substring(text).utf8[...]
        while let f = bytes.first, f == 0x20 || (0x09...0x0D).contains(f) { bytes = bytes.dropFirst() }
        while let l = bytes.last, l == 0x20 || (0x09...0x0D).contains(l) { bytes = bytes.dropLast() }
        var negative = false
        if let f = bytes.first, f == UInt8(ascii: "-") || f == UInt8(ascii: "+") { negative = f == UInt8(ascii: "-"); bytes = bytes.dropFirst() }
        var magnitude = Wide(0)
        var significant = 0, fraction = 0, sawDigit = false, sawPoint = false
        var exponent = 0
        scan: while let c = bytes.first {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                sawDigit = true
                let digit = UInt128(_low: UInt64(c - UInt8(ascii: "0")), _high: 0)
                if significant == 0 && digit == 0 {
                    if sawPoint { fraction += 1 }
                } else if significant < 77 {
                    magnitude = magnitude.timesTen(plus: digit)
                    significant += 1
                    if sawPoint { fraction += 1 }
                } else {
                    // Beyond 77 digits the value cannot fit anyway unless these are fraction digits,
                    // which are dropped: rounding to 36 digits later looks only at digit 37, and
                    // half away from zero rounds a tie there up whatever follows (so truncating
                    // here never changes the result, where rounding here could round twice).
                    if !sawPoint { return try overflowOrNil(bytes) }
                }
            case UInt8(ascii: "."):
                guard !sawPoint else { return nil }
                sawPoint = true
            case UInt8(ascii: "e"), UInt8(ascii: "E"):
                bytes = bytes.dropFirst()
                guard sawDigit, let e = Int(Substring(bytes)), (-1000...1000).contains(e) else { return nil }
                exponent = e
                break scan
            default:
                return nil
            }
            bytes = bytes.dropFirst()
        }
        guard sawDigit else { return nil }
        var scale = fraction - exponent
        if magnitude.isZero { return Numeric(unchecked: 0, scale: min(max(scale, 0), maxDigits)) }  // `0e50`, `0.000`
        if scale < 0 {
            guard -scale + magnitude.decimalDigits <= maxDigits else { throw overflow() }
            magnitude = magnitude.times(powers[-scale])
            scale = 0
        }
        return try Numeric(negative: negative, magnitude: magnitude, scale: scale)
    }

    /// After more than 77 integer digits: 22003 when the rest is still a number, else nil.
    private static func overflowOrNil(_ rest: Substring.UTF8View.SubSequence) throws -> Numeric? {
        let tail = rest.drop { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        guard tail.isEmpty || tail.first == UInt8(ascii: ".") || tail.first == UInt8(ascii: "e") || tail.first == UInt8(ascii: "E") else { return nil }
        throw overflow()
    }
}

extension Numeric {
    /// As a JSON number: an integer when whole, a float when the double's shortest digits are the
    /// value; otherwise its exact text as a string, since a JSON reader would round it to a double.
    public var jsonValue: JSONValue {
        if isIntegral, let whole = Int64(exactly: rounded(toPlaces: 0).mantissa) { return .integer(whole) }
        let d = doubleValue
        if let back = try? Numeric.parse(NumberFormatting.shortest(d)), back == self { return .float(d) }
        return .string(text)
    }
}
