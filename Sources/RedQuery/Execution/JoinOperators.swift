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
        // Build: right rows, bucket heads by key and a chain through `nextInBucket`
        // (no per-key arrays). A single key hashes the value itself.
        var rightRows: [[Value]] = []
        var nextInBucket: [Int] = []
        var singleHeads: [Value: Int] = [:]
        var multiHeads: [[Value]: Int] = [:]
        let single = rightKeys.count == 1
        let rightSource = try right.open(context, outerRows: outerRows)
        while let row = try rightSource.next() {
            let index = rightRows.count
            rightRows.append(row)
            try context.checkMaterialized(rightRows.count, "the hash join's build side")
            nextInBucket.append(-1)
            if single {
                let key = try eval.evaluate(rightKeys[0], row)
                if key.isNull { continue }
                if let head = singleHeads.updateValue(index, forKey: key) { nextInBucket[index] = head }
            } else {
                let key = try rightKeys.map { try eval.evaluate($0, row) }
                if key.contains(where: \.isNull) { continue }
                if let head = multiHeads.updateValue(index, forKey: key) { nextInBucket[index] = head }
            }
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
                    var candidate = -1
                    if single {
                        let key = try eval.evaluate(leftKeys[0], row)
                        if !key.isNull { candidate = singleHeads[key] ?? -1 }
                    } else {
                        let key = try leftKeys.map { try eval.evaluate($0, row) }
                        if !key.contains(where: \.isNull) { candidate = multiHeads[key] ?? -1 }
                    }
                    var any = false
                    while candidate >= 0 {
                        let index = candidate
                        candidate = nextInBucket[index]
                        var combined = row
                        combined.append(contentsOf: rightRows[index])
                        if let residual, try Evaluation.truth(try eval.evaluate(residual, combined)) != true { continue }
                        any = true
                        if !matched.isEmpty { matched[index] = true }
                        pending.append(combined)
                    }
                    if pending.count > 1 { pending.reverse() }  // buckets chain newest first; emit in build order
                    if !any, kind == .left || kind == .full {
                        pending.append(row + [Value](repeating: .null, count: rightWidth))
                    }
                    continue
                }
                guard kind == .right || kind == .full else { return nil }
                return JoinPadding.nextUnmatched(rightRows, matched, &unmatchedIndex, leftWidth: leftWidth)
            }
        }
    }

    func explain(_ depth: Int) -> [String] {
        [line(depth, "Hash \(kind == .inner ? "" : kind.rawValue.capitalized + " ")Join (\(leftKeys.count) key\(leftKeys.count == 1 ? "" : "s"))")]
            + left.explain(depth + 1) + right.explain(depth + 1)
    }
}

/// RIGHT/FULL joins end by emitting the right rows no left row matched, NULL-padded on the left.
enum JoinPadding {
    static func nextUnmatched(_ rightRows: [[Value]], _ matched: [Bool], _ index: inout Int, leftWidth: Int) -> [Value]? {
        while index < rightRows.count {
            defer { index += 1 }
            if !matched[index] { return [Value](repeating: .null, count: leftWidth) + rightRows[index] }
        }
        return nil
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
        while let row = try rightSource.next() {
            rightRows.append(row)
            try context.checkMaterialized(rightRows.count, "the nested loop's inner side")
        }
        var matched = [Bool](repeating: false, count: rightRows.count)
        let leftWidth = left.columns.count, rightWidth = right.columns.count
        let leftSource = try left.open(context, outerRows: outerRows)
        var current: [Value]?
        var currentMatched = false
        var rightIndex = 0
        var unmatchedIndex = 0
        var leftDone = false
        var steps = 0
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
                        steps &+= 1
                        if steps & 16_383 == 0 { try context.checkCancelled() }
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
                return JoinPadding.nextUnmatched(rightRows, matched, &unmatchedIndex, leftWidth: leftWidth)
            }
        }
    }

    func explain(_ depth: Int) -> [String] {
        [line(depth, "Nested Loop\(kind == .inner || kind == .cross ? "" : " " + kind.rawValue.capitalized + " Join")")]
            + left.explain(depth + 1) + right.explain(depth + 1)
    }
}
