import RedCore

/// One window function call: `fn(args) OVER (PARTITION BY … ORDER BY … frame)`.
struct WindowCall: Sendable {
    enum Function: Sendable {
        case rowNumber, rank, denseRank, percentRank, cumeDist, ntile, lag, lead, firstValue, lastValue, nthValue
        case aggregate(AggregateKind, distinct: Bool)
    }
    let function: Function
    let arguments: [BoundExpr]
    let partitionBy: [BoundExpr]
    let orderBy: [SortKey]
    let frame: WindowFrame?
    /// An aggregate's `FILTER (WHERE …)`: rows of the frame where it is not true are skipped.
    var filter: BoundExpr? = nil

    static func function(named name: String, star: Bool, distinct: Bool) -> Function? {
        switch name {
        case "row_number": return .rowNumber
        case "rank": return .rank
        case "dense_rank": return .denseRank
        case "percent_rank": return .percentRank
        case "cume_dist": return .cumeDist
        case "ntile": return .ntile
        case "lag": return .lag
        case "lead": return .lead
        case "first_value": return .firstValue
        case "last_value": return .lastValue
        case "nth_value": return .nthValue
        default: return AggregateKind.named(name, star: star).map { .aggregate($0, distinct: distinct) }
        }
    }
}

/// Computes window functions over the whole input and appends one column per call.
///
/// Semantics are PostgreSQL's: without ORDER BY the frame is the whole
/// partition; with ORDER BY and no frame clause it is RANGE UNBOUNDED
/// PRECEDING to CURRENT ROW, so peers (ties) share a value; ROWS frames count
/// physical rows.
///
/// Aggregates over frames go as PostgreSQL's do without inverse transition functions: while
/// a frame starts where the previous row's did, the rows entering it are added to the running
/// state, and a frame equal to the previous one reuses its value; only a frame whose start
/// moves (a sliding `ROWS BETWEEN k PRECEDING …`) restarts the aggregate. So the whole
/// partition (`OVER ()`, `OVER (PARTITION BY …)`) and running totals (`OVER (ORDER BY …)`)
/// take one pass. (Each row's frame used to be aggregated afresh: 37 s for `sum(v) OVER ()`
/// over 20,000 rows.)
///
/// Rows come out in the window's order — partitions by their keys ascending, each in its
/// ORDER BY — as PostgreSQL's sorted input gives them, so that `SELECT x, rank() OVER (ORDER BY
/// x DESC) FROM t` without an ORDER BY of its own (and with a LIMIT) reads as it does there.
/// Where the calls' windows differ, the last call's order is kept.
final class WindowNode: PlanNode, @unchecked Sendable {
    let input: PlanNode
    let calls: [WindowCall]
    let columns: [ScopeColumn]

    init(_ input: PlanNode, calls: [WindowCall], columns: [ScopeColumn]) {
        self.input = input; self.calls = calls; self.columns = columns
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let eval = context.evaluation(outerRows)
        let source = try input.open(context, outerRows: outerRows)
        var rows: [[Value]] = []
        while let row = try source.next() {
            rows.append(row)
            try context.checkMaterialized(rows.count, "the window function's input")
        }
        var results = [[Value]](repeating: [], count: rows.count)
        var order = Array(rows.indices)
        for call in calls {
            let values: [Value]
            (values, order) = try compute(call, rows, eval)
            for i in 0..<rows.count { results[i].append(values[i]) }
        }
        return ArrayIterator(order.map { rows[$0] + results[$0] })
    }

    /// The call's value for each row, and the rows' positions in the window's order.
    func compute(_ call: WindowCall, _ rows: [[Value]], _ eval: Evaluation) throws -> (values: [Value], order: [Int]) {
        var partitions: [[Value]: [Int]] = [:]
        var partitionOrder: [[Value]] = []
        for (i, row) in rows.enumerated() {
            let key = try call.partitionBy.map { try eval.evaluate($0, row) }
            if partitions[key] == nil { partitionOrder.append(key) }
            partitions[key, default: []].append(i)
        }
        if partitionOrder.count > 1 {
            let ascending = call.partitionBy.map { SortKey(expr: $0, descending: false, nullsFirst: false) }
            partitionOrder.sort { SortNode.compare($0, $1, ascending) < 0 }
        }
        var output = [Value](repeating: .null, count: rows.count)
        var order: [Int] = []
        order.reserveCapacity(rows.count)
        for key in partitionOrder {
            let members = partitions[key]!
            let orderKeys = try members.map { i in try call.orderBy.map { try eval.evaluate($0.expr, rows[i]) } }
            let sortedPositions = (0..<members.count).sorted { a, b in
                let c = SortNode.compare(orderKeys[a], orderKeys[b], call.orderBy)
                return c != 0 ? c < 0 : a < b
            }
            let ordered = sortedPositions.map { members[$0] }
            order += ordered
            let keys = sortedPositions.map { orderKeys[$0] }
            // Peer groups: [start, end) of rows with equal ORDER BY keys.
            var peerStart = [Int](repeating: 0, count: ordered.count)
            var peerEnd = [Int](repeating: 0, count: ordered.count)
            var start = 0
            for i in 0..<ordered.count {
                if i > 0, SortNode.compare(keys[i], keys[i - 1], call.orderBy) != 0 { start = i }
                peerStart[i] = start
            }
            var end = ordered.count
            for i in stride(from: ordered.count - 1, through: 0, by: -1) {
                if i < ordered.count - 1, peerStart[i + 1] != peerStart[i] { end = i + 1 }
                peerEnd[i] = end
            }
            // GROUPS frames count peer groups: each row's group, and where each group starts.
            var groups = PeerGroups()
            if call.frame?.unit == .groups {
                for i in 0..<ordered.count {
                    if i == 0 || peerStart[i] != peerStart[i - 1] { groups.starts.append(i) }
                    groups.index.append(groups.starts.count - 1)
                }
            }
            try fill(call, rows, ordered, keys, peerStart, peerEnd, groups, eval, &output)
        }
        return (output, order)
    }

    /// A partition's peer groups, for GROUPS frames (empty for other frames).
    struct PeerGroups {
        /// Each position's group number.
        var index: [Int] = []
        /// Each group's first position.
        var starts: [Int] = []
    }

    func fill(_ call: WindowCall, _ rows: [[Value]], _ ordered: [Int], _ keys: [[Value]], _ peerStart: [Int], _ peerEnd: [Int], _ groups: PeerGroups,
              _ eval: Evaluation, _ output: inout [Value]) throws {
        let n = ordered.count
        func argument(_ k: Int, at position: Int) throws -> Value {
            guard k < call.arguments.count else { return .null }
            return try eval.evaluate(call.arguments[k], rows[ordered[position]])
        }
        switch call.function {
        case .rowNumber:
            for p in 0..<n { output[ordered[p]] = .integer(Int64(p + 1)) }
        case .rank:
            for p in 0..<n { output[ordered[p]] = .integer(Int64(peerStart[p] + 1)) }
        case .denseRank:
            var rank: Int64 = 0
            for p in 0..<n {
                if p == 0 || peerStart[p] != peerStart[p - 1] { rank += 1 }
                output[ordered[p]] = .integer(rank)
            }
        case .percentRank:
            for p in 0..<n { output[ordered[p]] = .float(n > 1 ? Double(peerStart[p]) / Double(n - 1) : 0) }
        case .cumeDist:
            for p in 0..<n { output[ordered[p]] = .float(Double(peerEnd[p]) / Double(n)) }
        case .ntile:
            for p in 0..<n {
                guard case .integer(let buckets) = try argument(0, at: p), buckets > 0 else {
                    throw RedError(.invalidArgument, "argument of ntile must be greater than zero")
                }
                let b = Int(buckets)
                let small = n / b, extra = n % b
                let bigRows = extra * (small + 1)
                let bucket = p < bigRows ? p / (small + 1) : extra + (p - bigRows) / max(small, 1)
                output[ordered[p]] = .integer(Int64(bucket + 1))
            }
        case .lag, .lead:
            for p in 0..<n {
                var offset = 1
                if call.arguments.count > 1 {
                    guard case .integer(let o) = try argument(1, at: p) else { throw RedError(.invalidArgument, "lag/lead offset must be an integer") }
                    offset = Int(clamping: o)
                }
                // Offsets come from the query (any Int64): out of the partition when the step overflows.
                let (target, overflow) = call.function.isLag ? p.subtractingReportingOverflow(offset) : p.addingReportingOverflow(offset)
                if !overflow, target >= 0, target < n { output[ordered[p]] = try argument(0, at: target) }
                else { output[ordered[p]] = call.arguments.count > 2 ? try argument(2, at: p) : .null }
            }
        case .aggregate(let kind, let distinct):
            let aggregate = AggregateCall(kind: kind, arguments: call.arguments, distinct: distinct, filter: call.filter)
            var accumulator = Accumulator(aggregate)
            var head = 0, tail = 0  // the positions [head, tail) are in `accumulator`
            var previous: (lo: Int, hi: Int, value: Value)?
            for p in 0..<n {
                let (lo, hi) = try frameBounds(call, p, n, keys, peerStart, peerEnd, groups)
                if let previous, previous.lo == lo, previous.hi == hi {
                    output[ordered[p]] = previous.value
                    continue
                }
                if lo != head || hi < tail {
                    accumulator = Accumulator(aggregate)
                    head = lo
                    tail = lo
                }
                while tail < hi {
                    try accumulator.feed(rows[ordered[tail]], eval: eval)
                    tail += 1
                }
                let value = try accumulator.result()
                output[ordered[p]] = value
                previous = (lo, hi, value)
            }
        case .firstValue, .lastValue, .nthValue:
            for p in 0..<n {
                let (lo, hi) = try frameBounds(call, p, n, keys, peerStart, peerEnd, groups)
                switch call.function {
                case .firstValue: output[ordered[p]] = lo < hi ? try argument(0, at: lo) : .null
                case .lastValue: output[ordered[p]] = lo < hi ? try argument(0, at: hi - 1) : .null
                case .nthValue:
                    guard case .integer(let n) = try argument(1, at: p), n > 0 else {
                        throw RedError(.invalidArgument, "argument of nth_value must be greater than zero")
                    }
                    output[ordered[p]] = n <= Int64(hi - lo) ? try argument(0, at: lo + Int(n) - 1) : .null
                default: break
                }
            }
        }
    }

    /// The frame of position `p` as a half-open range of positions in the ordered partition.
    func frameBounds(_ call: WindowCall, _ p: Int, _ n: Int, _ keys: [[Value]], _ peerStart: [Int], _ peerEnd: [Int],
                     _ groups: PeerGroups) throws -> (Int, Int) {
        guard let frame = call.frame else {
            return call.orderBy.isEmpty ? (0, n) : (0, peerEnd[p])
        }
        if frame.unit == .groups { return groupBounds(frame, p, n, groups) }
        if frame.unit == .range, frame.start.hasOffset || frame.end.hasOffset {
            return try rangeOffsetBounds(frame, p, n, keys, peerStart, peerEnd, descending: call.orderBy.first?.descending ?? false)
        }
        func position(_ bound: WindowFrame.Bound, isStart: Bool) -> Int {
            switch bound {
            case .unboundedPreceding: return 0
            case .unboundedFollowing: return n
            case .currentRow:
                if frame.unit == .range { return isStart ? peerStart[p] : peerEnd[p] }
                return isStart ? p : p + 1
            // Offsets are any Int64 the query gives: clamped to the partition before any arithmetic.
            case .preceding(let k): return max(0, p - Int(clamping: min(max(k, -Int64(n)), Int64(n))) + (isStart ? 0 : 1))
            case .following(let k): return min(n, p + Int(clamping: min(max(k, -Int64(n)), Int64(n))) + (isStart ? 0 : 1))
            case .precedingInterval, .followingInterval: return isStart ? 0 : n  // refused for ROWS by the parser
            }
        }
        let lo = position(frame.start, isStart: true), hi = position(frame.end, isStart: false)
        return (lo, max(lo, hi))
    }

    /// GROUPS frames: offsets count peer groups (rows with equal ORDER BY values) before or
    /// after the current row's; the frame starts at a group's first row and ends after one's last.
    func groupBounds(_ frame: WindowFrame, _ p: Int, _ n: Int, _ groups: PeerGroups) -> (Int, Int) {
        let count = groups.starts.count, current = groups.index[p]
        func start(ofGroup g: Int) -> Int { g < 0 ? 0 : g >= count ? n : groups.starts[g] }
        func end(ofGroup g: Int) -> Int { g < 0 ? 0 : g + 1 >= count ? n : groups.starts[g + 1] }
        // Offsets are any Int64 the query gives: clamped to the number of groups first.
        func step(_ k: Int64) -> Int { Int(clamping: min(k, Int64(count))) }
        func position(_ bound: WindowFrame.Bound, isStart: Bool) -> Int {
            switch bound {
            case .unboundedPreceding: return 0
            case .unboundedFollowing: return n
            case .currentRow: return isStart ? start(ofGroup: current) : end(ofGroup: current)
            case .preceding(let k): return isStart ? start(ofGroup: current - step(k)) : end(ofGroup: current - step(k))
            case .following(let k): return isStart ? start(ofGroup: current + step(k)) : end(ofGroup: current + step(k))
            case .precedingInterval, .followingInterval: return isStart ? 0 : n  // refused by the parser
            }
        }
        let lo = position(frame.start, isStart: true), hi = position(frame.end, isStart: false)
        return (lo, max(lo, hi))
    }

    /// RANGE frames with value offsets: rows whose ORDER BY value lies within the offsets of the
    /// current row's value (in the sort direction). A NULL current value frames its peer group.
    /// Numbers take numeric offsets; dates and timestamps interval ones (`INTERVAL '7 days'
    /// PRECEDING`), added on the calendar as `timestamp + interval` is.
    func rangeOffsetBounds(_ frame: WindowFrame, _ p: Int, _ n: Int, _ keys: [[Value]], _ peerStart: [Int], _ peerEnd: [Int],
                           descending: Bool) throws -> (Int, Int) {
        let byInterval = [frame.start, frame.end].contains {
            if case .precedingInterval = $0 { return true }; if case .followingInterval = $0 { return true }; return false
        }
        func number(_ i: Int) throws -> Double? {
            let v = keys[i][0]
            switch v {
            case .null: return nil
            case .timestamp(let us) where byInterval: return Double(us)
            case .date(let d) where byInterval: return Double(CalendarMath.midnight(ofDay: Int64(d)))
            default:
                guard !byInterval else {
                    throw RedError(.featureNotSupported, "RANGE with offset PRECEDING/FOLLOWING is not supported for column type \(v.kindName) and offset type interval")
                }
                guard let d = v.doubleValue else {
                    throw RedError(.windowingError, "RANGE with offset PRECEDING/FOLLOWING needs a numeric ORDER BY column, got \(v.kindName)")
                }
                return d
            }
        }
        guard let current = try number(p) else { return (peerStart[p], peerEnd[p]) }
        // `before(x, t)`: x sorts strictly before t in the window's order.
        func before(_ x: Double?, _ t: Double) -> Bool { guard let x else { return descending } ; return descending ? x > t : x < t }
        func after(_ x: Double?, _ t: Double) -> Bool { guard let x else { return !descending }; return descending ? x < t : x > t }
        func shifted(_ bound: WindowFrame.Bound) throws -> Double {
            let forward = bound.isFollowing != descending
            switch bound {
            case .precedingInterval(let i), .followingInterval(let i):
                return Double(try (forward ? i : i.negated()).added(to: Int64(current)))
            case .preceding(let k), .following(let k): return forward ? current + Double(k) : current - Double(k)
            default: return current
            }
        }
        var lo: Int
        switch frame.start {
        case .unboundedPreceding: lo = 0
        case .currentRow: lo = peerStart[p]
        case .unboundedFollowing: lo = n
        case .preceding, .following, .precedingInterval, .followingInterval:
            let target = try shifted(frame.start)
            lo = peerStart[p]
            while lo > 0, !before(try number(lo - 1), target) { lo -= 1 }
            while lo < n, before(try number(lo), target) { lo += 1 }
        }
        var hi: Int
        switch frame.end {
        case .unboundedFollowing: hi = n
        case .currentRow: hi = peerEnd[p]
        case .unboundedPreceding: hi = 0
        case .preceding, .following, .precedingInterval, .followingInterval:
            let target = try shifted(frame.end)
            hi = peerEnd[p]
            while hi < n, !after(try number(hi), target) { hi += 1 }
            while hi > 0, after(try number(hi - 1), target) { hi -= 1 }
        }
        return (lo, max(lo, hi))
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "WindowAgg (\(calls.count) call\(calls.count == 1 ? "" : "s"))")] + input.explain(depth + 1) }
}

extension WindowCall.Function {
    var isLag: Bool { if case .lag = self { return true } else { return false } }
}
