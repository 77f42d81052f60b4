import RedCore

/// Equi-join by hashing the right input on its key expressions.
///
/// Keys containing NULL never match (SQL equality). `residual` is the rest of
/// the ON condition, checked on the combined row: for outer joins it decides
/// matching, not filtering. RIGHT and FULL joins remember which right rows
/// matched and emit the rest padded with NULLs at the end.
final class HashJoinNode: PlanNode, @unchecked Sendable {
    let left: PlanNode, right: PlanNode
    let leftKeys: [BoundExpr]
    /// Bound against the right input's own row.
    let rightKeys: [BoundExpr]
    let kind: JoinKind
    let residual: BoundExpr?
    let columns: [ScopeColumn]

    init(left: PlanNode, right: PlanNode, leftKeys: [BoundExpr], rightKeys: [BoundExpr], kind: JoinKind, residual: BoundExpr?) {
        self.left = left; self.right = right; self.leftKeys = leftKeys; self.rightKeys = rightKeys
        self.kind = kind; self.residual = residual
        self.columns = left.columns + right.columns
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let eval = context.evaluation(outerRows)
        var table: [[Value]: [Int]] = [:]
        var rightRows: [[Value]] = []
        let rightSource = try right.open(context, outerRows: outerRows)
        while let row = try rightSource.next() {
            let key = try rightKeys.map { try eval.evaluate($0, row) }
            rightRows.append(row)
            if key.contains(where: \.isNull) { continue }
            table[Self.normalised(key), default: []].append(rightRows.count - 1)
        }
        var matched = [Bool](repeating: false, count: kind == .right || kind == .full ? rightRows.count : 0)
        let leftWidth = left.columns.count, rightWidth = right.columns.count
        let leftSource = try left.open(context, outerRows: outerRows)
        var pending: [[Value]] = []
        var pendingIndex = 0
        var leftDone = false
        var unmatchedIndex = 0
        let kind = self.kind, residual = self.residual, leftKeys = self.leftKeys
        return ClosureIterator {
            while true {
                if pendingIndex < pending.count { defer { pendingIndex += 1 }; return pending[pendingIndex] }
                pending.removeAll(keepingCapacity: true)
                pendingIndex = 0
                if !leftDone {
                    guard let row = try leftSource.next() else { leftDone = true; continue }
                    let key = try leftKeys.map { try eval.evaluate($0, row) }
                    var any = false
                    if !key.contains(where: \.isNull), let candidates = table[Self.normalised(key)] {
                        for index in candidates {
                            let combined = row + rightRows[index]
                            if let residual, try Evaluation.truth(try eval.evaluate(residual, combined)) != true { continue }
                            any = true
                            if !matched.isEmpty { matched[index] = true }
                            pending.append(combined)
                        }
                    }
                    if !any, kind == .left || kind == .full {
                        pending.append(row + [Value](repeating: .null, count: rightWidth))
                    }
                    continue
                }
                guard kind == .right || kind == .full else { return nil }
                while unmatchedIndex < rightRows.count {
                    defer { unmatchedIndex += 1 }
                    if !matched[unmatchedIndex] { return [Value](repeating: .null, count: leftWidth) + rightRows[unmatchedIndex] }
                }
                return nil
            }
        }
    }

    /// Join keys compare as SQL values: 1 and 1.0 meet; text keys compare exactly.
    static func normalised(_ key: [Value]) -> [Value] { key }

    func explain(_ depth: Int) -> [String] {
        [line(depth, "Hash \(kind == .inner ? "" : kind.rawValue.capitalized + " ")Join (\(leftKeys.count) key\(leftKeys.count == 1 ? "" : "s"))")]
            + left.explain(depth + 1) + right.explain(depth + 1)
    }
}

/// Joins without an equality to hash on: every left row against the materialised right input.
final class NestedLoopJoinNode: PlanNode, @unchecked Sendable {
    let left: PlanNode, right: PlanNode
    let kind: JoinKind
    let condition: BoundExpr?
    let columns: [ScopeColumn]

    init(left: PlanNode, right: PlanNode, kind: JoinKind, condition: BoundExpr?) {
        self.left = left; self.right = right; self.kind = kind; self.condition = condition
        self.columns = left.columns + right.columns
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let eval = context.evaluation(outerRows)
        var rightRows: [[Value]] = []
        let rightSource = try right.open(context, outerRows: outerRows)
        while let row = try rightSource.next() { rightRows.append(row) }
        var matched = [Bool](repeating: false, count: rightRows.count)
        let leftWidth = left.columns.count, rightWidth = right.columns.count
        let leftSource = try left.open(context, outerRows: outerRows)
        var current: [Value]?
        var currentMatched = false
        var rightIndex = 0
        var unmatchedIndex = 0
        var leftDone = false
        let kind = self.kind, condition = self.condition
        return ClosureIterator {
            while true {
                if !leftDone {
                    if current == nil {
                        guard let row = try leftSource.next() else { leftDone = true; continue }
                        current = row; currentMatched = false; rightIndex = 0
                    }
                    let row = current!
                    while rightIndex < rightRows.count {
                        let index = rightIndex
                        rightIndex += 1
                        let combined = row + rightRows[index]
                        if let condition, try Evaluation.truth(try eval.evaluate(condition, combined)) != true { continue }
                        currentMatched = true
                        matched[index] = true
                        return combined
                    }
                    current = nil
                    if !currentMatched, kind == .left || kind == .full { return row + [Value](repeating: .null, count: rightWidth) }
                    continue
                }
                guard kind == .right || kind == .full else { return nil }
                while unmatchedIndex < rightRows.count {
                    defer { unmatchedIndex += 1 }
                    if !matched[unmatchedIndex] { return [Value](repeating: .null, count: leftWidth) + rightRows[unmatchedIndex] }
                }
                return nil
            }
        }
    }

    func explain(_ depth: Int) -> [String] {
        [line(depth, "Nested Loop\(kind == .inner || kind == .cross ? "" : " " + kind.rawValue.capitalized + " Join")")]
            + left.explain(depth + 1) + right.explain(depth + 1)
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

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let eval = context.evaluation(outerRows)
        let source = try input.open(context, outerRows: outerRows)
        var groups: [[Value]: Int] = [:]
        var states: [(key: [Value], accumulators: [Accumulator])] = []
        while let row = try source.next() {
            let key = try groupKeys.map { try eval.evaluate($0, row) }
            let index: Int
            if let existing = groups[key] { index = existing } else {
                index = states.count
                groups[key] = index
                states.append((key, aggregates.map(Accumulator.init)))
            }
            for a in 0..<aggregates.count {
                let args = try aggregates[a].arguments.map { try eval.evaluate($0, row) }
                try states[index].accumulators[a].add(args)
            }
        }
        if groupKeys.isEmpty, states.isEmpty { states.append(([], aggregates.map(Accumulator.init))) }
        var out: [[Value]] = []
        out.reserveCapacity(states.count)
        for state in states { out.append(state.key + (try state.accumulators.map { try $0.result() })) }
        return ArrayIterator(out)
    }

    func explain(_ depth: Int) -> [String] {
        [line(depth, groupKeys.isEmpty ? "Aggregate" : "HashAggregate (\(groupKeys.count) key\(groupKeys.count == 1 ? "" : "s"))")] + input.explain(depth + 1)
    }
}
