/// NUMERIC arithmetic with PostgreSQL's result scales (see `Numeric`). Every operation is
/// exact in 256 bits and then rounded to 36 digits by `Numeric(negative:magnitude:scale:)`.
extension Numeric {
    public func adding(_ other: Numeric) throws -> Numeric {
        // The common case (one column's values): 64-bit magnitudes at one scale.
        if isSmall, other.isSmall, scale == other.scale {
            if isNegative == other.isNegative {
                let (sum, overflow) = smallMagnitude.addingReportingOverflow(other.smallMagnitude)
                if !overflow { return Numeric(small: sum, negative: isNegative, scale: scale) }
            } else if smallMagnitude >= other.smallMagnitude {
                return Numeric(small: smallMagnitude - other.smallMagnitude, negative: isNegative, scale: scale)
            } else {
                return Numeric(small: other.smallMagnitude - smallMagnitude, negative: other.isNegative, scale: scale)
            }
        }
        let s = max(scale, other.scale)
        let x = Wide(magnitude).times(Self.powers[s - scale]), y = Wide(other.magnitude).times(Self.powers[s - other.scale])
        if isNegative == other.isNegative { return try Numeric(negative: isNegative, magnitude: x.plus(y), scale: s) }
        return x < y ? try Numeric(negative: other.isNegative, magnitude: y.minus(x), scale: s)
                     : try Numeric(negative: isNegative, magnitude: x.minus(y), scale: s)
    }

    public func subtracting(_ other: Numeric) throws -> Numeric { try adding(other.negated()) }

    /// The product at the sum of the scales (rounded to fit 36 digits).
    public func multiplying(_ other: Numeric) throws -> Numeric {
        if isSmall, other.isSmall, scale + other.scale <= Self.maxDigits {
            let (high, low) = smallMagnitude.multipliedFullWidth(by: other.smallMagnitude)
            if high == 0 { return Numeric(small: low, negative: isNegative != other.isNegative, scale: scale + other.scale) }
        }
        let (high, low) = magnitude.multipliedFullWidth(by: other.magnitude)
        return try Numeric(negative: isNegative != other.isNegative, magnitude: Wide(high: high, low: low), scale: scale + other.scale)
    }

    /// The quotient at PostgreSQL's scale: enough places for at least 16 significant digits and
    /// no fewer than either operand's scale (`1/3` is `0.33333333333333333333`, `10/4` is
    /// `2.5000000000000000`), fewer when the result would pass 36 digits.
    public func dividing(by other: Numeric) throws -> Numeric {
        guard !other.isZero else { throw RedError(.divisionByZero, "division by zero") }
        let (w1, f1) = leadingGroup, (w2, f2) = other.leadingGroup
        var quotientWeight = w1 - w2
        if f1 <= f2 { quotientWeight -= 1 }
        var resultScale = min(max(16 - quotientWeight * 4, scale, other.scale, 0), Self.maxDigits)
        let negative = isNegative != other.isNegative
        while true {
            if let m = Self.quotient(magnitude, scale, other.magnitude, other.scale, atScale: resultScale) {
                return Numeric(signed: negative, m, scale: resultScale)
            }
            guard resultScale > 0 else { throw Self.overflow() }
            resultScale -= 1
        }
    }

    /// PostgreSQL's `%` and `mod`: the remainder of truncating division, with the dividend's
    /// sign and the larger scale.
    public func remainder(dividingBy other: Numeric) throws -> Numeric {
        guard !other.isZero else { throw RedError(.divisionByZero, "division by zero") }
        let s = max(scale, other.scale)
        let x = Wide(magnitude).times(Self.powers[s - scale]), y = Wide(other.magnitude).times(Self.powers[s - other.scale])
        // Only the operand with the smaller scale is scaled up, so a divisor past 128 bits
        // means an unscaled — smaller — dividend, which is then its own remainder.
        guard y.high == 0 else { return try Numeric(negative: isNegative, magnitude: x, scale: s) }
        let r = x.quotientAndRemainder(dividingBy: y.low).remainder
        return try Numeric(negative: isNegative, magnitude: Wide(r), scale: s)
    }

    /// `round(|a| / |b| × 10^resultScale)` (half away from zero), nil when it has more than 36 digits.
    static func quotient(_ a: UInt128, _ sa: Int, _ b: UInt128, _ sb: Int, atScale rs: Int) -> UInt128? {
        let e = rs + sb - sa
        var q = a / b, r = a % b
        if e < 0 {
            let k = -e
            guard k <= 38 else { return 0 }  // q < 2^128 < 0.5 × 10^39
            let p = powers[k]
            let rem = q % p
            q /= p
            if rem >= p - rem { q += 1 }
            return q < limit ? q : nil
        }
        var remaining = e
        while remaining > 0 {
            let k = min(remaining, maxDigits)
            let p = powers[k]
            let (digits, next) = b.dividingFullWidth(r.multipliedFullWidth(by: p))  // < p, as r < b
            let (shifted, o1) = q.multipliedReportingOverflow(by: p)
            let (sum, o2) = shifted.addingReportingOverflow(digits)
            guard !o1, !o2, sum < limit else { return nil }
            q = sum
            r = next
            remaining -= k
        }
        if r >= b - r { q += 1 }  // the rest is at least half a unit
        return q < limit ? q : nil
    }

    /// PostgreSQL's view of a numeric in base 10,000: the weight of its first nonzero base-10⁴
    /// digit (0 for the units group) and that digit — what `select_div_scale` reads. (0, 0) for zero.
    var leadingGroup: (weight: Int, digit: Int) {
        guard !isZero else { return (0, 0) }
        let exponent = Wide(magnitude).decimalDigits - 1 - scale  // of the leading decimal digit
        let weight = exponent >= 0 ? exponent / 4 : -((-exponent + 3) / 4)
        let shift = scale + 4 * weight  // |value| / 10^(4·weight) = magnitude / 10^shift
        let digit = shift >= 0 ? magnitude / Self.powers[shift] : magnitude * Self.powers[-shift]
        return (weight, Int(digit))
    }
}

/// An unsigned 256-bit integer: just enough (products, scaled operands, rounding) for `Numeric`.
public struct Wide: Comparable, Sendable {
    public var high: UInt128
    public var low: UInt128

    public init(high: UInt128, low: UInt128) { self.high = high; self.low = low }
    public init(_ value: UInt128) { self.init(high: 0, low: value) }

    public var isZero: Bool { high == 0 && low == 0 }

    public static func < (a: Wide, b: Wide) -> Bool { a.high != b.high ? a.high < b.high : a.low < b.low }

    /// 10^0 … 10^77 (the largest power below 2^256).
    public static let powers: [Wide] = {
        var p = [Wide(1)]
        for _ in 0..<77 { p.append(p[p.count - 1].times(10)) }
        return p
    }()

    /// How many decimal digits (1 for zero).
    public var decimalDigits: Int {
        if high == 0 {
            var n = 1
            while n <= 38, low >= Numeric.powers[n] { n += 1 }
            return n
        }
        var n = 39
        while n <= 77, !(self < Self.powers[n]) { n += 1 }
        return n
    }

    /// The product; the caller keeps it below 2^256.
    public func times(_ factor: UInt128) -> Wide {
        let (carry, lowProduct) = low.multipliedFullWidth(by: factor)
        return Wide(high: high &* factor &+ carry, low: lowProduct)
    }

    public func timesTen(plus digit: UInt128) -> Wide { times(10).plus(Wide(digit)) }

    public func plus(_ other: Wide) -> Wide {
        let (l, carry) = low.addingReportingOverflow(other.low)
        return Wide(high: high &+ other.high &+ (carry ? 1 : 0), low: l)
    }

    /// The difference; the caller guarantees `other ≤ self`.
    public func minus(_ other: Wide) -> Wide {
        let (l, borrow) = low.subtractingReportingOverflow(other.low)
        return Wide(high: high &- other.high &- (borrow ? 1 : 0), low: l)
    }

    public func quotientAndRemainder(dividingBy divisor: UInt128) -> (quotient: Wide, remainder: UInt128) {
        let (qHigh, r) = high.quotientAndRemainder(dividingBy: divisor)
        let (qLow, remainder) = divisor.dividingFullWidth((r, low))
        return (Wide(high: qHigh, low: qLow), remainder)
    }

    /// `self / 10^k`, rounded half away from zero.
    public func dividedRounded(byPowerOfTen k: Int) -> Wide {
        guard k > 0 else { return self }
        guard k <= 78 else { return Wide(0) }  // self < 2^256 < 0.5 × 10^78
        // Truncate by 10^(k−1) (in steps of at most 10^38), then round on the last digit kept.
        var q = self, left = k - 1
        while left > 0 {
            let step = min(left, Numeric.maxDigits)
            q = q.quotientAndRemainder(dividingBy: Numeric.powers[step]).quotient
            left -= step
        }
        let (result, lastDigit) = q.quotientAndRemainder(dividingBy: 10)
        return lastDigit >= 5 ? result.plus(Wide(1)) : result
    }
}
