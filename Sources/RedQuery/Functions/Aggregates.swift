import RedCore

/// Aggregate functions: one accumulator per group (or per window frame).
///
/// NULL inputs are skipped (except `count(*)`); over no input `count` is 0 and
/// everything else NULL. Integer `sum` stays an exact integer (overflow is
/// 22003); `avg`, `stddev` and `variance` are floats.
enum AggregateKind: String, Sendable {
    case count, countStar, sum, avg, min, max, stringAgg, arrayAgg, boolAnd, boolOr
    /// `bit_and`, `bit_or`, `bit_xor` of integers.
    case bitAnd, bitOr, bitXor
    case stddevPop, stddevSamp, varPop, varSamp, median, first, last, jsonAgg, jsonObjectAgg
    /// Ordered-set aggregates: `f(direct arguments) WITHIN GROUP (ORDER BY x)`.
    case percentileCont, percentileDisc, mode
    /// `grouping(a, b)`: which of its keys a row of GROUPING SETS aggregates over (a bit each).
    case grouping
    /// PostgreSQL's statistics of pairs `(Y, X)`, over the rows where neither is NULL.
    case corr, covarPop, covarSamp, regrSlope, regrIntercept, regrCount, regrR2, regrAvgX, regrAvgY, regrSXX, regrSYY, regrSXY

    var isBivariate: Bool {
        switch self {
        case .corr, .covarPop, .covarSamp, .regrSlope, .regrIntercept, .regrCount, .regrR2, .regrAvgX, .regrAvgY, .regrSXX, .regrSYY, .regrSXY: return true
        default: return false
        }
    }

    /// The names of the ordered-set aggregates, which take WITHIN GROUP (and only they).
    static let orderedSet: Set<String> = ["percentile_cont", "percentile_disc", "mode"]
    var isOrderedSet: Bool { self == .percentileCont || self == .percentileDisc || self == .mode }

    static func named(_ name: String, star: Bool) -> AggregateKind? {
        switch name {
        case "count": return star ? .countStar : .count
        case "sum": return .sum
        case "avg", "mean": return .avg
        case "min": return .min
        case "max": return .max
        case "string_agg", "group_concat": return .stringAgg
        case "array_agg": return .arrayAgg
        case "json_agg", "jsonb_agg": return .jsonAgg
        case "json_object_agg", "jsonb_object_agg": return .jsonObjectAgg
        case "percentile_cont": return .percentileCont
        case "percentile_disc": return .percentileDisc
        case "mode": return .mode
        case "grouping": return .grouping
        case "bool_and", "every": return .boolAnd
        case "bool_or": return .boolOr
        case "bit_and": return .bitAnd
        case "bit_or": return .bitOr
        case "bit_xor": return .bitXor
        case "stddev_pop": return .stddevPop
        case "stddev", "stddev_samp": return .stddevSamp
        case "var_pop", "variance_pop": return .varPop
        case "variance", "var_samp": return .varSamp
        case "median": return .median
        case "corr": return .corr
        case "covar_pop": return .covarPop
        case "covar_samp": return .covarSamp
        case "regr_slope": return .regrSlope
        case "regr_intercept": return .regrIntercept
        case "regr_count": return .regrCount
        case "regr_r2": return .regrR2
        case "regr_avgx": return .regrAvgX
        case "regr_avgy": return .regrAvgY
        case "regr_sxx": return .regrSXX
        case "regr_syy": return .regrSYY
        case "regr_sxy": return .regrSXY
        case "first": return .first
        case "last": return .last
        default: return nil
        }
    }

    static func isAggregate(_ name: String) -> Bool { named(name, star: false) != nil }
}

/// A bound aggregate call: kind, argument expressions, DISTINCT.
struct AggregateCall: Sendable {
    let kind: AggregateKind
    let arguments: [BoundExpr]
    let distinct: Bool
    /// `FILTER (WHERE …)`: rows where it is not true are skipped.
    var filter: BoundExpr? = nil
    /// `ORDER BY` inside the call: inputs are ordered before the result is computed.
    var orderBy: [SortKey] = []
    /// `grouping(…)`: the positions of its arguments among the GROUP BY keys.
    var keyIndices: [Int] = []
}

struct Accumulator {
    let call: AggregateCall
    var count: Int64 = 0
    var intSum: Int64 = 0
    /// The integers' sum without overflow: avg of integers divides it once, so the result does
    /// not depend on the order the values came in (nor on how a parallel scan split them).
    var wideIntSum: Int128 = 0
    var intOverflow = false
    var floatSum: Double = 0
    var sawFloat = false
    var decimalSum = Numeric(Int64(0))
    var sawDecimal = false
    /// A numeric sum past 38 digits met while merging parallel parts (reported as the result).
    var decimalOverflow = false
    /// sum/avg of intervals: their running sum, and whether adding overflowed it.
    var intervalSum: Interval?
    var intervalOverflow = false
    var extreme: Value = .null
    var values: [Value] = []
    var separator = ""
    /// json_object_agg's members so far.
    var members: [(String, JSONValue)] = []
    var boolState: Bool?
    /// bit_and/bit_or/bit_xor so far (nil before the first input).
    var bits: Int64?
    var mean: Double = 0
    var m2: Double = 0
    /// The pair statistics' running means and co-moments (Welford's updates).
    var meanY: Double = 0
    var sxx: Double = 0, syy: Double = 0, sxy: Double = 0
    var seen: Set<Value> = []
    /// With ORDER BY inside the call: the inputs and their sort keys, folded at `result()`.
    var ordered: [(arguments: [Value], keys: [Value])] = []

    /// Under GROUPING SETS, the positions of the keys this group's set groups by (the others
    /// are NULL in its row); nil under a plain GROUP BY, where every key is grouped by.
    var groupedKeys: Set<Int>?

    init(_ call: AggregateCall) { self.call = call }

    /// One input row, as the call reads it: its FILTER, the ORDER BY inside it, its arguments.
    mutating func feed(_ row: [Value], eval: Evaluation) throws {
        if let filter = call.filter, try Evaluation.truth(try eval.evaluate(filter, row)) != true { return }
        if !call.orderBy.isEmpty {
            ordered.append((try call.arguments.map { try eval.evaluate($0, row) }, try call.orderBy.map { try eval.evaluate($0.expr, row) }))
            return
        }
        switch call.arguments.count {
        case 0: try add(single: .null)
        case 1: try add(single: try eval.evaluate(call.arguments[0], row))
        default: try add(try call.arguments.map { try eval.evaluate($0, row) })
        }
    }

    mutating func add(_ args: [Value]) throws {
        if call.kind.isBivariate {
            guard args.count == 2 else { throw RedError(.undefinedFunction, "\(call.kind.rawValue) takes two arguments, Y and X") }
            if args[0].isNull || args[1].isNull { return }
            guard let y = args[0].doubleValue, let x = args[1].doubleValue else {
                throw RedError(.undefinedFunction, "\(call.kind.rawValue) needs numbers, got \(args[0].kindName) and \(args[1].kindName)")
            }
            count += 1
            let n = Double(count), dx = x - mean, dy = y - meanY
            mean += dx / n
            meanY += dy / n
            sxx += dx * (x - mean)
            syy += dy * (y - meanY)
            sxy += dx * (y - meanY)
            return
        }
        if call.kind == .jsonObjectAgg {
            // One member per row, in the order the rows come: a NULL value is kept as JSON null.
            guard args.count == 2 else { throw RedError(.undefinedFunction, "json_object_agg takes a key and a value") }
            guard !args[0].isNull else { throw RedError(.invalidArgument, "field name must not be null") }
            count += 1
            members.append((args[0].displayText, args[1].postgresJSON))
            return
        }
        if args.count > 1, call.kind == .stringAgg {
            separator = args[1].isNull ? "" : args[1].displayText
        }
        try add(single: args.first ?? .null)
    }

    /// Adds one input value (the first argument; `count(*)` ignores it).
    mutating func add(single v: Value) throws {
        if call.kind == .countStar { count += 1; return }
        if v.isNull && call.kind != .arrayAgg && call.kind != .jsonAgg { return }
        if call.distinct {
            guard seen.insert(v).inserted else { return }
        }
        count += 1
        switch call.kind {
        case .count, .countStar: break
        case .sum, .avg:
            switch v {
            case .integer(let i):
                if !sawFloat {
                    wideIntSum += Int128(_low: UInt64(bitPattern: i), _high: i >> 63)  // not Int128(i): generic, unspecialised
                    let (s, o) = intSum.addingReportingOverflow(i)
                    if o { intOverflow = true }
                    intSum = s
                }
                floatSum += Double(i)
            case .float(let d): sawFloat = true; floatSum += d
            case .decimal(let d): sawDecimal = true; decimalSum = try decimalSum.adding(d); floatSum += d.doubleValue
            case .interval(let i): addInterval(i)
            case .text(let s):
                guard let d = Double(s.trimmingSpaces()) else { throw RedError(.invalidTextRepresentation, "invalid input syntax for type numeric: \"\(s)\"") }
                sawFloat = true; floatSum += d
            default: throw RedError(.undefinedFunction, "function \(call.kind == .sum ? "sum" : "avg")(\(v.kindName)) does not exist")
            }
        case .min:
            if extreme.isNull || Self.replaces(v, order: Value.sortCompare(v, extreme), wanted: -1) { extreme = v }
        case .max:
            if extreme.isNull || Self.replaces(v, order: Value.sortCompare(v, extreme), wanted: 1) { extreme = v }
        case .first: if count == 1 { extreme = v }
        case .last: extreme = v
        case .stringAgg:
            if call.arguments.count < 2 { separator = "," }
            values.append(v)
        case .arrayAgg, .jsonAgg, .median: values.append(v)
        case .jsonObjectAgg: break  // `add(_:)` takes its two arguments
        case .percentileCont, .percentileDisc, .mode, .grouping: break  // WITHIN GROUP values are kept in `ordered`; grouping reads no input
        case .boolAnd, .boolOr:
            guard case .boolean(let b) = v else { throw RedError(.datatypeMismatch, "bool_and/bool_or need boolean arguments") }
            boolState = call.kind == .boolAnd ? ((boolState ?? true) && b) : ((boolState ?? false) || b)
        case .bitAnd, .bitOr, .bitXor:
            guard case .integer(let i) = v else {
                throw RedError(.undefinedFunction, "function \(call.kind == .bitAnd ? "bit_and" : call.kind == .bitOr ? "bit_or" : "bit_xor")(\(v.kindName)) does not exist")
            }
            switch call.kind {
            case .bitAnd: bits = (bits ?? -1) & i
            case .bitOr: bits = (bits ?? 0) | i
            default: bits = (bits ?? 0) ^ i
            }
        case .stddevPop, .stddevSamp, .varPop, .varSamp:
            guard let x = v.doubleValue else { throw RedError(.undefinedFunction, "variance of \(v.kindName) is not defined") }
            let delta = x - mean
            mean += delta / Double(count)
            m2 += delta * (x - mean)
        case .corr, .covarPop, .covarSamp, .regrSlope, .regrIntercept, .regrCount, .regrR2, .regrAvgX, .regrAvgY, .regrSXX, .regrSYY, .regrSXY:
            throw RedError(.undefinedFunction, "\(call.kind.rawValue) takes two arguments, Y and X")
        }
    }

    /// corr, covar_*, regr_*: NULL without rows (covar_samp without two), and where PostgreSQL
    /// gives NULL for a degenerate X or Y (no spread to divide by).
    private func bivariateResult() -> Value {
        guard count > 0 else { return .null }
        let n = Double(count)
        switch call.kind {
        case .covarPop: return .float(sxy / n)
        case .covarSamp: return count > 1 ? .float(sxy / (n - 1)) : .null
        case .corr: return sxx == 0 || syy == 0 ? .null : .float(sxy / (sxx * syy).squareRoot())
        case .regrSlope: return sxx == 0 ? .null : .float(sxy / sxx)
        case .regrIntercept: return sxx == 0 ? .null : .float(meanY - sxy / sxx * mean)
        case .regrR2: return sxx == 0 ? .null : (syy == 0 ? .float(1) : .float(sxy * sxy / (sxx * syy)))
        case .regrAvgX: return .float(mean)
        case .regrAvgY: return .float(meanY)
        case .regrSXX: return .float(sxx)
        case .regrSYY: return .float(syy)
        default: return .float(sxy)
        }
    }

    /// Whether partial results of `call` over parts of the input combine into its result over
    /// all of it (`merge`), independently of the order of the rows.
    static func isMergeable(_ call: AggregateCall) -> Bool {
        guard !call.distinct, call.filter == nil, call.orderBy.isEmpty, call.arguments.count <= 1 else { return false }
        switch call.kind {
        case .count, .countStar, .sum, .avg, .min, .max: return true
        default: return false
        }
    }

    /// Folds in the accumulator of the same call over another part of the input (`isMergeable` calls only).
    mutating func merge(_ other: Accumulator) {
        count += other.count
        switch call.kind {
        case .sum, .avg:
            // Each part's integer sum is complete unless it met a float, and then the float sum is used.
            let (sum, overflow) = intSum.addingReportingOverflow(other.intSum)
            intSum = sum
            wideIntSum += other.wideIntSum
            intOverflow = intOverflow || other.intOverflow || overflow
            floatSum += other.floatSum
            sawFloat = sawFloat || other.sawFloat
            if let sum = try? decimalSum.adding(other.decimalSum) { decimalSum = sum } else { decimalOverflow = true }
            decimalOverflow = decimalOverflow || other.decimalOverflow
            sawDecimal = sawDecimal || other.sawDecimal
            if let partial = other.intervalSum { addInterval(partial) }
            intervalOverflow = intervalOverflow || other.intervalOverflow
        case .min:
            if !other.extreme.isNull, extreme.isNull || Value.sortCompare(other.extreme, extreme) < 0 { extreme = other.extreme }
        case .max:
            if !other.extreme.isNull, extreme.isNull || Value.sortCompare(other.extreme, extreme) > 0 { extreme = other.extreme }
        default: break
        }
    }

    /// Whether `v`, ordered `order` against the extreme, takes its place: when it lies the
    /// `wanted` way (-1 for min, 1 for max), or, for intervals, equal (PostgreSQL's interval
    /// min/max keep the later of equal values, and equal intervals can differ: `1 mon`, `30 days`).
    static func replaces(_ v: Value, order: Int, wanted: Int) -> Bool {
        if order.signum() == wanted { return true }
        guard order == 0, case .interval = v else { return false }
        return true
    }

    mutating func addInterval(_ i: Interval) {
        guard let sum = try? (intervalSum ?? Interval()).adding(i) else { intervalOverflow = true; return }
        intervalSum = sum
    }

    func result() throws -> Value {
        if call.kind.isOrderedSet { return try orderedSetResult() }
        if !call.orderBy.isEmpty {
            var folded = Accumulator(AggregateCall(kind: call.kind, arguments: call.arguments, distinct: call.distinct))
            let keys = call.orderBy
            let sorted = ordered.enumerated().sorted { a, b in
                let c = SortNode.compare(a.element.keys, b.element.keys, keys)
                return c != 0 ? c < 0 : a.offset < b.offset
            }
            for entry in sorted { try folded.add(entry.element.arguments) }
            return try folded.resultIgnoringOrder()
        }
        return try resultIgnoringOrder()
    }

    /// `percentile_cont`, `percentile_disc` and `mode` over the WITHIN GROUP values (NULLs
    /// left out) in their order: the fraction is the direct argument, as in PostgreSQL, and an
    /// array of fractions gives an array of results.
    private func orderedSetResult() throws -> Value {
        let sorted = ordered.enumerated().sorted { a, b in
            let c = SortNode.compare(a.element.keys, b.element.keys, call.orderBy)
            return c != 0 ? c < 0 : a.offset < b.offset
        }
        let values = sorted.compactMap { $0.element.keys.first.flatMap { $0.isNull ? nil : $0 } }
        guard !values.isEmpty else { return .null }
        if call.kind == .mode {
            // The most frequent value; of equally frequent ones, the first in the order.
            var best = values[0], bestRun = 0, i = 0
            while i < values.count {
                var j = i + 1
                while j < values.count, values[j] == values[i] { j += 1 }
                if j - i > bestRun { best = values[i]; bestRun = j - i }
                i = j
            }
            return best
        }
        let fraction = ordered.first?.arguments.first ?? .null
        func percentile(_ f: Value) throws -> Value {
            guard let p = f.doubleValue else {
                if f.isNull { return .null }
                throw RedError(.datatypeMismatch, "a percentile must be a number between 0 and 1")
            }
            guard p >= 0, p <= 1 else {
                throw RedError(.numericOutOfRange, "percentile value \(NumberFormatting.shortest(p)) is not between 0 and 1")
            }
            let n = Double(values.count)
            if call.kind == .percentileDisc { return values[max(0, Int((p * n).rounded(.up)) - 1)] }
            let position = p * (n - 1)
            let lower = Int(position.rounded(.down)), upper = Int(position.rounded(.up))
            guard let a = values[lower].doubleValue, let b = values[upper].doubleValue else {
                throw RedError(.undefinedFunction, "function percentile_cont(double precision) WITHIN GROUP (\(values[lower].kindName)) does not exist")
            }
            return .float(a + (b - a) * (position - Double(lower)))
        }
        if case .json(.array(let fractions)) = fraction {
            return .json(.array(try fractions.map { try percentile(Value(json: $0)).postgresJSON }))
        }
        return try percentile(fraction)
    }

    /// The sum of the numerics and integers seen, exactly.
    private func exactSum() throws -> Numeric {
        guard !decimalOverflow else { throw Numeric.overflow() }
        return try decimalSum.adding(try Numeric(wideIntSum))
    }

    func resultIgnoringOrder() throws -> Value {
        switch call.kind {
        case .count, .countStar: return .integer(count)
        case .sum:
            guard count > 0 else { return .null }
            if let sum = intervalSum {
                guard !intervalOverflow else { throw RedError(.datetimeFieldOverflow, "interval out of range") }
                return .interval(sum)
            }
            if sawFloat { return .float(floatSum) }
            if sawDecimal { return .decimal(try exactSum()) }
            if intOverflow { throw RedError(.numericOutOfRange, "bigint out of range in sum()") }
            return .integer(intSum)
        case .avg:
            guard count > 0 else { return .null }
            if let sum = intervalSum {
                guard !intervalOverflow else { throw RedError(.datetimeFieldOverflow, "interval out of range") }
                return .interval(try sum.divided(by: Double(count)))
            }
            // As PostgreSQL: the average of integers or numerics is a numeric (`1.5000000000000000`).
            if !sawFloat { return .decimal(try exactSum().dividing(by: Numeric(count))) }
            return .float(floatSum / Double(count))
        case .min, .max, .first, .last: return extreme
        case .stringAgg:
            guard !values.isEmpty else { return .null }
            var out = ""
            for (i, v) in values.enumerated() {
                if i > 0 { out += separator }
                out += v.displayText
            }
            return .text(out)
        case .arrayAgg: return values.isEmpty ? .null : .json(try JSONValue.checkedNesting(.array(values.map(ArrayFunctions.element))))
        case .jsonAgg: return values.isEmpty ? .null : .json(try JSONValue.checkedNesting(.array(values.map(\.postgresJSON))))
        case .jsonObjectAgg: return count == 0 ? .null : .json(try JSONValue.checkedNesting(.object(members)))
        case .grouping:
            // A bit per argument, the first the highest: 1 when the row aggregates over that key.
            return .integer(call.keyIndices.reduce(Int64(0)) { mask, k in mask << 1 | (groupedKeys?.contains(k) == false ? 1 : 0) })
        case .percentileCont, .percentileDisc, .mode: return try orderedSetResult()
        case .boolAnd, .boolOr: return boolState.map { .boolean($0) } ?? .null
        case .bitAnd, .bitOr, .bitXor: return bits.map(Value.integer) ?? .null
        case .regrCount: return .integer(count)
        case .corr, .covarPop, .covarSamp, .regrSlope, .regrIntercept, .regrR2, .regrAvgX, .regrAvgY, .regrSXX, .regrSYY, .regrSXY:
            return bivariateResult()
        case .varPop: return count > 0 ? .float(m2 / Double(count)) : .null
        case .varSamp: return count > 1 ? .float(m2 / Double(count - 1)) : .null
        case .stddevPop: return count > 0 ? .float((m2 / Double(count)).squareRoot()) : .null
        case .stddevSamp: return count > 1 ? .float((m2 / Double(count - 1)).squareRoot()) : .null
        case .median:
            guard !values.isEmpty else { return .null }
            let sorted = values.sorted { Value.sortCompare($0, $1) < 0 }
            if sorted.count % 2 == 1 { return sorted[sorted.count / 2] }
            guard let a = sorted[sorted.count / 2 - 1].doubleValue, let b = sorted[sorted.count / 2].doubleValue else { return sorted[sorted.count / 2 - 1] }
            return .float((a + b) / 2)
        }
    }
}
