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

    init(_ input: PlanNode, groupKeys: [BoundExpr], aggregates: [AggregateCall], columns: [ScopeColumn]) {
        self.input = input; self.groupKeys = groupKeys; self.aggregates = aggregates; self.columns = columns
    }

    /// Aggregated rows: each group's key, in the order first seen, and its accumulators (those
    /// of group g at g * aggregates.count ..< (g + 1) * aggregates.count).
    struct Groups {
        var keys: [[Value]] = []
        var accumulators: [Accumulator] = []
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let groups: Groups
        if outerRows.isEmpty, let parallel = try aggregateInParallel(context) {
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
    /// min, max, without DISTINCT, FILTER or ORDER BY), nothing evaluated per row runs a
    /// subquery, the process may use several CPUs, and the statement is not one that must not
    /// run long (an event loop's). Each part scans a range of row ids with a context of its own;
    /// the parts' groups are merged in id order, so groups come out in the order a single scan
    /// would first see them. A part that fails fails the statement with its error.
    private func aggregateInParallel(_ context: ExecutionContext) throws -> Groups? {
        let partCount = context.limits.parallelScanParts ?? min(ProcessorAffinity.cpuCount, Self.maxParallelParts)
        guard partCount > 1, !context.mustNotRunLong, let scan = input as? TableScanNode,
              aggregates.allSatisfy({ Accumulator.isMergeable($0) && !($0.arguments.first?.containsSubquery ?? false) }),
              !groupKeys.contains(where: \.containsSubquery), scan.filter?.containsSubquery != true,
              let parts = try scan.openPartitions(context, count: partCount, minimumRows: context.limits.parallelScanMinimumRows)
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
        let aggregateCount = aggregates.count
        // Accumulators of group g live at g * aggregateCount ..< (g + 1) * aggregateCount.
        var accumulators: [Accumulator] = []
        var keys: [[Value]] = []
        var arguments = [Value](repeating: .null, count: aggregates.map(\.arguments.count).max() ?? 0)
        // What each row needs of each call, decided once: reading an `AggregateCall` out of
        // the array per row and call copied (retained and released) its four fields.
        let feeds = aggregates.map(AggregateFeed.init)
        func accumulate(_ row: [Value], group g: Int) throws {
            let base = g * aggregateCount
            for a in 0..<aggregateCount {
                switch feeds[a] {
                case .none: try accumulators[base + a].add(single: .null)
                case .single(let argument): try accumulators[base + a].add(single: try eval.evaluate(argument, row))
                case .general:
                    let call = aggregates[a]
                    if let filter = call.filter, try Evaluation.truth(try eval.evaluate(filter, row)) != true { continue }
                    if !call.orderBy.isEmpty {
                        let args = try call.arguments.map { try eval.evaluate($0, row) }
                        let keys = try call.orderBy.map { try eval.evaluate($0.expr, row) }
                        accumulators[base + a].ordered.append((args, keys))
                        continue
                    }
                    switch call.arguments.count {
                    case 0: try accumulators[base + a].add(single: .null)
                    case 1: try accumulators[base + a].add(single: try eval.evaluate(call.arguments[0], row))
                    default:
                        for i in call.arguments.indices { arguments[i] = try eval.evaluate(call.arguments[i], row) }
                        try accumulators[base + a].add(Array(arguments.prefix(call.arguments.count)))
                    }
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

    func explain(_ depth: Int) -> [String] {
        [line(depth, groupKeys.isEmpty ? "Aggregate" : "HashAggregate (\(groupKeys.count) key\(groupKeys.count == 1 ? "" : "s"))")] + input.explain(depth + 1)
    }
}
