import RedCore

/// `gcd(a, b)`, `lcm(a, b)` and `factorial(n)`, as PostgreSQL's: of integers an integer, of
/// numerics (any scale) a numeric at the larger scale (`gcd(1.5, 2.5)` is `0.5`); always
/// non-negative, `gcd(0, 0)` and `lcm` with a zero 0; a result past the type's range 22003.
enum IntegerMathFunctions {
    static let functions: [ScalarFunction] = [
        make("gcd", 2...2) { a in try combine(a[0], a[1], lcm: false) },
        make("lcm", 2...2) { a in try combine(a[0], a[1], lcm: true) },
        make("factorial", 1...1) { a in
            guard case .integer(let n) = try DataType.integer.coerce(a[0]) else { return .null }
            guard n >= 0 else { throw RedError(.invalidArgument, "factorial of a negative number is undefined", condition: "2201E") }
            guard n <= 33 else { throw RedError(.numericOutOfRange, "value overflows numeric format") }  // 34! has 39 digits
            var product = Numeric(Int64(1))
            for k in stride(from: 2, through: n, by: 1) { product = try product.multiplying(Numeric(k)) }
            return .decimal(product)
        },
    ]

    private static func make(_ name: String, _ arity: ClosedRange<Int>, _ body: @escaping @Sendable ([Value]) throws -> Value) -> ScalarFunction {
        ScalarFunction(name: name, arity: arity, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in try body(a) }
    }

    private static func combine(_ x: Value, _ y: Value, lcm: Bool) throws -> Value {
        if case .integer(let a) = x, case .integer(let b) = y {
            let g = gcd(a.magnitude, b.magnitude)
            guard lcm else {
                guard let result = Int64(exactly: g) else { throw RedError(.numericOutOfRange, "bigint out of range") }
                return .integer(result)
            }
            if a == 0 || b == 0 { return .integer(0) }
            let (product, overflow) = (a.magnitude / g).multipliedReportingOverflow(by: b.magnitude)
            guard !overflow, let result = Int64(exactly: product) else { throw RedError(.numericOutOfRange, "bigint out of range") }
            return .integer(result)
        }
        guard case .decimal(let a) = try DataType.decimal.coerce(x), case .decimal(let b) = try DataType.decimal.coerce(y) else {
            throw RedError(.undefinedFunction, "function \(lcm ? "lcm" : "gcd")() takes integers or numerics")
        }
        // Both as integers at the larger scale; the result at that scale.
        let scale = max(a.scale, b.scale)
        let (m, mOverflow) = a.mantissa.magnitude.multipliedReportingOverflow(by: Numeric.powers[scale - a.scale])
        let (n, nOverflow) = b.mantissa.magnitude.multipliedReportingOverflow(by: Numeric.powers[scale - b.scale])
        guard !mOverflow, !nOverflow, m < Numeric.limit, n < Numeric.limit else { throw RedError(.numericOutOfRange, "value overflows numeric format") }
        let g = gcd(m, n)
        var result = g
        if lcm {
            if m == 0 || n == 0 { return .decimal(Numeric(unchecked: 0, scale: scale)) }
            let (product, overflow) = (m / g).multipliedReportingOverflow(by: n)
            guard !overflow, product < Numeric.limit else { throw RedError(.numericOutOfRange, "value overflows numeric format") }
            result = product
        }
        return .decimal(Numeric(unchecked: Int128(result), scale: scale))
    }

    private static func gcd<T: UnsignedInteger>(_ a: T, _ b: T) -> T {
        var (x, y) = (a, b)
        while y != 0 { (x, y) = (y, x % y) }
        return x
    }
}
