import Dispatch
import RedCore
import RedStorage
import Synchronization

/// How a row feeds one aggregate call: nothing (`count(*)`), one argument, or the general
/// path (FILTER, ORDER BY inside the call, several arguments).
private enum AggregateFeed {
    case none
    case single(BoundExpr)
    case general

    init(_ call: AggregateCall) {
        if call.filter != nil || !call.orderBy.isEmpty || call.arguments.count > 1 { self = .general }
        else if let argument = call.arguments.first { self = .single(argument) }
        else { self = .none }
    }
}

/// Hash aggregation: output rows are the group keys followed by the aggregate results.
/// With no GROUP BY it returns exactly one row, even over empty input.
final class AggregateNode: PlanNode, @unchecked Sendable {
    let input: PlanNode
    let groupKeys: [BoundExpr]
    let aggregates: [AggregateCall]
    let columns: [ScopeColumn]
    /// GROUP BY ROLLUP / CUBE / GROUPING SETS: each set the positions of the keys it groups
    /// by (`Select.groupingSets`); nil for a plain GROUP BY.
    let groupingSets: [[Int]]?
    /// Set when every key and argument is an input column (the usual GROUP BY): read by position.
    private let columnAggregation: ColumnAggregation?

    /// Never split into parallel parts (the statement calls PL/pgSQL functions).
    var runsInOnePart = false

    init(_ input: PlanNode, groupKeys: [BoundExpr], aggregates: [AggregateCall], columns: [ScopeColumn], groupingSets: [[Int]]? = nil) {
        self.input = input; self.groupKeys = groupKeys; self.aggregates = aggregates; self.columns = columns
        self.groupingSets = groupingSets
        columnAggregation = ColumnAggregation(groupKeys: groupKeys, aggregates: aggregates)
    }

    /// Aggregated rows: each group's key, in the order first seen, and its accumulators (those
    /// of group g at g * aggregates.count ..< (g + 1) * aggregates.count).
    struct Groups {
        var keys: [[Value]] = []
        var accumulators: [Accumulator] = []
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let groups: Groups
        if let groupingSets {
            groups = try aggregate(try input.open(context, outerRows: outerRows), sets: groupingSets, eval: context.evaluation(outerRows), context: context)
        } else if outerRows.isEmpty, let parallel = try aggregateInParallel(context) {
            groups = parallel
        } else {
            groups = try aggregate(try input.open(context, outerRows: outerRows), eval: context.evaluation(outerRows), context: context)
        }
        let aggregateCount = aggregates.count
        var out: [[Value]] = []
        out.reserveCapacity(groups.keys.count)
        for (g, key) in groups.keys.enumerated() {
            var row = key
            for a in 0..<aggregateCount { row.append(try groups.accumulators[g * aggregateCount + a].result()) }
            out.append(row)
        }
        return ArrayIterator(out)
    }

    /// At most this many parts run at once.
    static let maxParallelParts = 4
    /// Counts the parts that parallel aggregates run in the task that sets it: tests check which
    /// path a statement took, unaffected by statements other tests run meanwhile.
    @TaskLocal static var partsCounter: PartsCounter?

    final class PartsCounter: Sendable {
        let value = Atomic<Int>(0)
    }

    /// The groups of a whole-table input computed in parts, one per CPU, then merged; nil when
    /// that does not apply, and the aggregate runs on one thread.
    ///
    /// Why: a GROUP BY over a large table is one long scan, and PostgreSQL splits it across
    /// parallel workers by default (two on this machine). It applies when the input is a full
    /// scan of a table whose row ids span `ExecutionLimits.parallelScanMinimumRows` or more,
    /// every aggregate is one whose parts merge (`Accumulator.isMergeable`: count, sum, avg,
    /// min, max, without DISTINCT, FILTER or ORDER BY), no aggregate or group key runs a
    /// subquery and the filter only statement-constant ones (`x IN (SELECT …)` without
    /// correlation: run, and their hash sets built, here before the parts start, which then
    /// only read them), the process may use several CPUs, and the statement is not one that must
    /// not run long (an event loop's). Each part scans a range of row ids with a context of its own;
    /// the parts' groups are merged in id order, so groups come out in the order a single scan
    /// would first see them. A part that fails fails the statement with its error.
    private func aggregateInParallel(_ context: ExecutionContext) throws -> Groups? {
        let partCount = context.limits.parallelScanParts ?? min(ProcessorAffinity.cpuCount, Self.maxParallelParts)
        guard partCount > 1, !runsInOnePart, !context.mustNotRunLong, let scan = input as? TableScanNode,
              aggregates.allSatisfy({ Accumulator.isMergeable($0) && !($0.arguments.first?.containsSubquery ?? false) }),
              !groupKeys.contains(where: \.containsSubquery), scan.filter?.subqueries.allSatisfy(\.isCacheable) != false,
              let parts = try scan.openPartitions(context, count: partCount, minimumRows: context.limits.parallelScanMinimumRows),
              Self.prepareSharedSubqueries(of: scan.filter, context)
        else { return nil }
        let run = PartRun(parts)
        Self.partsCounter?.value.add(parts.count, ordering: .relaxed)
        DispatchQueue.concurrentPerform(iterations: parts.count) { i in
            let part = run.parts[i]
            run.results[i] = Result { try self.aggregate(part.rows, eval: part.context.evaluation([]), context: part.context) }
        }
        for part in parts { context.rowsScanned += part.context.rowsScanned }
        try context.checkCancelled()
        let results = Array(run.results)
        var merged = try results[0]!.get()
        var index: [[Value]: Int] = [:]
        for (g, key) in merged.keys.enumerated() { index[key] = g }
        let width = aggregates.count
        for result in results.dropFirst() {
            let part = try result!.get()
            for (g, key) in part.keys.enumerated() {
                if let existing = index[key] {
                    for a in 0..<width { merged.accumulators[existing * width + a].merge(part.accumulators[g * width + a]) }
                } else {
                    index[key] = merged.keys.count
                    merged.keys.append(key)
                    try context.checkMaterialized(merged.keys.count, "GROUP BY")
                    merged.accumulators.append(contentsOf: part.accumulators[g * width ..< (g + 1) * width])
                }
            }
        }
        return merged
    }

    /// Runs `filter`'s statement-constant subqueries (and builds their hash sets) on this
    /// thread, so that the parts' evaluations only read their caches; false when one fails,
    /// which is then left to the single scan: it runs a subquery only if a row needs it
    /// (`false AND x IN (SELECT 1/0)` is no error).
    static func prepareSharedSubqueries(of filter: BoundExpr?, _ context: ExecutionContext) -> Bool {
        let eval = context.evaluation([])
        for plan in filter?.subqueries ?? [] {
            do { try eval.buildMembership(plan) } catch { return false }
        }
        return true
    }

    /// The parts of a parallel aggregate and their results, shared with `concurrentPerform`'s
    /// threads: iteration i reads part i and writes result slot i only, and the caller reads the
    /// results after every iteration has returned.
    private final class PartRun: @unchecked Sendable {
        let parts: [(rows: TableRowIterator, context: ExecutionContext)]
        let results: UnsafeMutableBufferPointer<Result<Groups, Error>?>

        init(_ parts: [(rows: TableRowIterator, context: ExecutionContext)]) {
            self.parts = parts
            results = .allocate(capacity: parts.count)
            results.initialize(repeating: nil)
        }

        deinit {
            _ = results.deinitialize()
            results.deallocate()
        }
    }

    /// The groups of `source`'s rows.
    private func aggregate(_ source: RowIterator, eval: Evaluation, context: ExecutionContext) throws -> Groups {
        if let columnAggregation { return try columnAggregation.aggregate(source, aggregates, context: context) }
        let aggregateCount = aggregates.count
        // Accumulators of group g live at g * aggregateCount ..< (g + 1) * aggregateCount.
        var accumulators: [Accumulator] = []
        var keys: [[Value]] = []
        // What each row needs of each call, decided once: reading an `AggregateCall` out of
        // the array per row and call copied (retained and released) its four fields.
        let feeds = aggregates.map(AggregateFeed.init)
        func accumulate(_ row: [Value], group g: Int) throws {
            let base = g * aggregateCount
            for a in 0..<aggregateCount {
                switch feeds[a] {
                case .none: try accumulators[base + a].add(single: .null)
                case .single(let argument): try accumulators[base + a].add(single: try eval.evaluate(argument, row))
                case .general: try accumulators[base + a].feed(row, eval: eval)
                }
            }
        }
        switch groupKeys.count {
        case 0:
            keys.append([])
            accumulators = aggregates.map(Accumulator.init)
            while let row = try source.next() { try accumulate(row, group: 0) }
        case 1:
            // One key: hash the value itself, no per-row key array.
            var groups: [Value: Int] = [:]
            let keyExpr = groupKeys[0]
            while let row = try source.next() {
                let key = try eval.evaluate(keyExpr, row)
                let g: Int
                if let existing = groups[key] { g = existing } else {
                    g = keys.count
                    groups[key] = g
                    keys.append([key])
                    try context.checkMaterialized(keys.count, "GROUP BY")
                    for call in aggregates { accumulators.append(Accumulator(call)) }
                }
                try accumulate(row, group: g)
            }
        default:
            var groups: [[Value]: Int] = [:]
            while let row = try source.next() {
                let key = try groupKeys.map { try eval.evaluate($0, row) }
                let g: Int
                if let existing = groups[key] { g = existing } else {
                    g = keys.count
                    groups[key] = g
                    keys.append(key)
                    try context.checkMaterialized(keys.count, "GROUP BY")
                    for call in aggregates { accumulators.append(Accumulator(call)) }
                }
                try accumulate(row, group: g)
            }
        }
        return Groups(keys: keys, accumulators: accumulators)
    }

    /// The groups of every grouping set: each row joins one group per set, keyed by its values
    /// of the set's keys and NULL for the others, in a table of that set's own (so a NULL that is
    /// data and one that stands for "all" stay apart). A set without keys — the grand total —
    /// has its one row even over no input, as a GROUP BY without keys does. Groups come out
    /// set by set, in the order first seen. `grouping()` reads each group's set.
    private func aggregate(_ source: RowIterator, sets: [[Int]], eval: Evaluation, context: ExecutionContext) throws -> Groups {
        var perSet: [[[Value]: Int]] = Array(repeating: [:], count: sets.count)
        var setKeys: [[[Value]]] = Array(repeating: [], count: sets.count)
        var setAccumulators: [[Accumulator]] = Array(repeating: [], count: sets.count)
        let aggregateCount = aggregates.count
        var groupCount = 0
        func newGroup(_ s: Int, _ key: [Value]) throws -> Int {
            let g = setKeys[s].count
            perSet[s][key] = g
            setKeys[s].append(key)
            groupCount += 1
            try context.checkMaterialized(groupCount, "GROUP BY")
            for call in aggregates {
                var accumulator = Accumulator(call)
                accumulator.groupedKeys = Set(sets[s])
                setAccumulators[s].append(accumulator)
            }
            return g
        }
        while let row = try source.next() {
            let values = try groupKeys.map { try eval.evaluate($0, row) }
            for (s, set) in sets.enumerated() {
                var key = [Value](repeating: .null, count: values.count)
                for k in set { key[k] = values[k] }
                let g = try perSet[s][key] ?? newGroup(s, key)
                for a in 0..<aggregateCount {
                    try setAccumulators[s][g * aggregateCount + a].feed(row, eval: eval)
                }
            }
        }
        for (s, set) in sets.enumerated() where set.isEmpty && setKeys[s].isEmpty {
            _ = try newGroup(s, [Value](repeating: .null, count: groupKeys.count))
        }
        return Groups(keys: setKeys.flatMap { $0 }, accumulators: setAccumulators.flatMap { $0 })
    }

    func explain(_ depth: Int) -> [String] {
        if let groupingSets {
            return [line(depth, "MixedAggregate (\(groupingSets.count) grouping set\(groupingSets.count == 1 ? "" : "s"))")] + input.explain(depth + 1)
        }
        return [line(depth, groupKeys.isEmpty ? "Aggregate" : "HashAggregate (\(groupKeys.count) key\(groupKeys.count == 1 ? "" : "s"))")] + input.explain(depth + 1)
    }
}
