import RedCore

/// Keeps rows whose predicate is true (not false, not NULL).
final class FilterNode: PlanNode, @unchecked Sendable {
    let input: PlanNode
    let predicate: BoundExpr
    var columns: [ScopeColumn] { input.columns }
    init(_ input: PlanNode, _ predicate: BoundExpr) { self.input = input; self.predicate = predicate }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let source = try input.open(context, outerRows: outerRows)
        let eval = context.evaluation(outerRows)
        let predicate = self.predicate
        return ClosureIterator {
            while let row = try source.next() {
                if try Evaluation.truth(try eval.evaluate(predicate, row)) == true { return row }
            }
            return nil
        }
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "Filter")] + input.explain(depth + 1) }
}

/// Computes output expressions per row.
final class ProjectNode: PlanNode, @unchecked Sendable {
    let input: PlanNode
    let expressions: [BoundExpr]
    let columns: [ScopeColumn]
    init(_ input: PlanNode, _ expressions: [BoundExpr], _ columns: [ScopeColumn]) {
        self.input = input; self.expressions = expressions; self.columns = columns
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let source = try input.open(context, outerRows: outerRows)
        let eval = context.evaluation(outerRows)
        let expressions = self.expressions
        return ClosureIterator {
            guard let row = try source.next() else { return nil }
            var out: [Value] = []
            out.reserveCapacity(expressions.count)
            for e in expressions { out.append(try eval.evaluate(e, row)) }
            return out
        }
    }

    func explain(_ depth: Int) -> [String] { input.explain(depth) }

    /// The expressions of a FROM-less SELECT (over VALUES' one empty row), which need no
    /// iterator to evaluate; nil for any other projection.
    var fromlessExpressions: [BoundExpr]? {
        guard let source = input as? ValuesNode, source.rows.count == 1, source.rows[0].isEmpty else { return nil }
        return expressions
    }
}

/// VALUES lists and FROM-less SELECT (one empty row).
final class ValuesNode: PlanNode, @unchecked Sendable {
    let rows: [[BoundExpr]]
    let columns: [ScopeColumn]
    init(_ rows: [[BoundExpr]], _ columns: [ScopeColumn]) { self.rows = rows; self.columns = columns }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let eval = context.evaluation(outerRows)
        var index = 0
        let rows = self.rows
        return ClosureIterator {
            guard index < rows.count else { return nil }
            defer { index += 1 }
            return try rows[index].map { try eval.evaluate($0, []) }
        }
    }

    func explain(_ depth: Int) -> [String] { [line(depth, rows.count == 1 && rows[0].isEmpty ? "Result" : "Values Scan (\(rows.count) rows)")] }
}

/// LIMIT / OFFSET; stops pulling its input once the limit is reached. With `ties` (FETCH FIRST
/// n ROWS WITH TIES, right above the sort whose keys these are) it goes on while rows sort
/// equal to the last one.
final class LimitNode: PlanNode, @unchecked Sendable {
    let input: PlanNode
    let limit: BoundExpr?
    let offset: BoundExpr?
    let ties: [SortKey]?
    var columns: [ScopeColumn] { input.columns }
    init(_ input: PlanNode, limit: BoundExpr?, offset: BoundExpr?, ties: [SortKey]? = nil) {
        self.input = input; self.limit = limit; self.offset = offset; self.ties = ties
    }

    static func count(_ expr: BoundExpr?, _ eval: Evaluation, what: String) throws -> Int? {
        guard let expr else { return nil }
        let code: RedError.Code = what == "LIMIT" ? .invalidLimit : .invalidOffset
        var value = try eval.evaluate(expr, [])
        if case .text = value { value = try DataType.integer.coerce(value) }
        switch value {
        case .null: return nil
        case .integer(let i):
            guard i >= 0 else { throw RedError(code, "\(what) must not be negative") }
            return Int(clamping: i)
        case .decimal(let d):
            guard !d.isNegative else { throw RedError(code, "\(what) must not be negative") }
            guard let count = d.roundedInteger else { throw RedError(.numericOutOfRange, "bigint out of range") }
            return Int(clamping: count)
        case .float(let d) where d.isFinite:
            guard d >= 0 else { throw RedError(code, "\(what) must not be negative") }
            // LIMIT takes a bigint in PostgreSQL: 1e19 is 22003 there too.
            guard let count = Int(exactly: d.rounded()) else { throw RedError(.numericOutOfRange, "bigint out of range") }
            return count
        case let v: throw RedError(.datatypeMismatch, "\(what) must be an integer, got \(v.kindName)")
        }
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let eval = context.evaluation(outerRows)
        let limit = try Self.count(self.limit, eval, what: "LIMIT")
        var toSkip = try Self.count(self.offset, eval, what: "OFFSET") ?? 0
        var produced = 0
        if limit == 0 { return ArrayIterator([]) }
        let source = try input.open(context, outerRows: outerRows)
        guard let ties else {
            return ClosureIterator {
                if let limit, produced >= limit { return nil }
                while let row = try source.next() {
                    if toSkip > 0 { toSkip -= 1; continue }
                    produced += 1
                    return row
                }
                return nil
            }
        }
        // PostgreSQL's words: NULL would mean "all", which ties cannot follow.
        guard let limit else { throw RedError(.invalidLimit, "row count cannot be null in FETCH FIRST ... WITH TIES clause") }
        func keys(_ row: [Value]) throws -> [Value] { try ties.map { try eval.evaluate($0.expr, row) } }
        var last: [Value] = []
        var done = false
        return ClosureIterator {
            while !done, let row = try source.next() {
                if toSkip > 0 { toSkip -= 1; continue }
                if produced < limit {
                    produced += 1
                    if produced == limit { last = try keys(row) }
                    return row
                }
                if SortNode.compare(try keys(row), last, ties) == 0 { return row }
                done = true
            }
            return nil
        }
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "Limit")] + input.explain(depth + 1) }
}

struct SortKey: Sendable {
    var expr: BoundExpr
    var descending: Bool
    var nullsFirst: Bool
}

/// Full sort (stable), or — `topN`, when a LIMIT sits right above — a heap of the first
/// LIMIT + OFFSET rows only (PostgreSQL's top-N heapsort): memory bounded by what the query
/// returns, n log k comparisons, and the same rows in the same order as the full sort (ties
/// keep input order).
final class SortNode: PlanNode, @unchecked Sendable {
    let input: PlanNode
    let keys: [SortKey]
    /// The LIMIT and OFFSET above this sort, when nothing that changes the row count lies between.
    var topN: (limit: BoundExpr?, offset: BoundExpr?)?
    static let mostKeptByHeap = 1_000_000
    var columns: [ScopeColumn] { input.columns }
    init(_ input: PlanNode, _ keys: [SortKey]) { self.input = input; self.keys = keys }

    static func compare(_ a: [Value], _ b: [Value], _ keys: [SortKey]) -> Int {
        for (i, key) in keys.enumerated() {
            let x = a[i], y = b[i]
            if x.isNull || y.isNull {
                if x.isNull && y.isNull { continue }
                return x.isNull == key.nullsFirst ? -1 : 1
            }
            var c = Value.sortCompare(x, y)
            if key.descending { c = -c }
            if c != 0 { return c }
        }
        return 0
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let eval = context.evaluation(outerRows)
        var kept: Int?
        if let topN, let limit = try LimitNode.count(topN.limit, eval, what: "LIMIT") {
            kept = limit.addingReportingOverflow(try LimitNode.count(topN.offset, eval, what: "OFFSET") ?? 0).partialValue
            // Past a million rows a heap saves little memory and costs twice a sort's comparisons.
            if kept! < 0 || kept! > Self.mostKeptByHeap { kept = nil }
        }
        let source = try input.open(context, outerRows: outerRows)
        let keys = self.keys
        func precedes(_ a: Decorated, _ b: Decorated) -> Bool {
            let c = Self.compare(a.keys, b.keys, keys)
            return c != 0 ? c < 0 : a.order < b.order
        }
        var decorated: [Decorated] = []
        var order = 0
        if let kept {
            // A heap whose root is the last row kept; a row that does not precede it is dropped.
            guard kept > 0 else { return ArrayIterator([]) }
            // Keys are evaluated into one reused array; most rows of a large input lose to the
            // root at once and are dropped without another allocation.
            var candidate = [Value](repeating: .null, count: keys.count)
            while let row = try source.next() {
                for i in keys.indices { candidate[i] = try eval.evaluate(keys[i].expr, row) }
                order += 1
                if decorated.count == kept, Self.compare(candidate, decorated[0].keys, keys) >= 0 { continue }
                let item = Decorated(keys: candidate, row: row, order: order - 1)
                if decorated.count < kept {
                    decorated.append(item)
                    try context.checkMaterialized(decorated.count, "ORDER BY")
                    var child = decorated.count - 1
                    while child > 0, precedes(decorated[(child - 1) / 2], decorated[child]) {
                        decorated.swapAt(child, (child - 1) / 2)
                        child = (child - 1) / 2
                    }
                } else {  // full, and the row precedes the root (checked above)
                    decorated[0] = item
                    var parent = 0
                    while true {
                        let left = 2 * parent + 1, right = left + 1
                        var last = parent
                        if left < decorated.count, precedes(decorated[last], decorated[left]) { last = left }
                        if right < decorated.count, precedes(decorated[last], decorated[right]) { last = right }
                        guard last != parent else { break }
                        decorated.swapAt(parent, last)
                        parent = last
                    }
                }
            }
        } else {
            while let row = try source.next() {
                decorated.append(Decorated(keys: try keys.map { try eval.evaluate($0.expr, row) }, row: row, order: order))
                order += 1
                try context.checkMaterialized(decorated.count, "ORDER BY")
            }
        }
        decorated.sort(by: precedes)
        return ArrayIterator(decorated.map(\.row))
    }

    private struct Decorated {
        var keys: [Value]
        var row: [Value]
        var order: Int
    }

    func explain(_ depth: Int) -> [String] { [line(depth, topN == nil ? "Sort" : "Sort (top-N heapsort)")] + input.explain(depth + 1) }
}

/// Removes duplicate rows over the first `width` columns (NULLs equal, as DISTINCT requires),
/// or — DISTINCT ON — keeps the first row of each distinct value of `keyPositions`.
final class DistinctNode: PlanNode, @unchecked Sendable {
    let input: PlanNode
    let keyPositions: [Int]
    var columns: [ScopeColumn] { input.columns }
    init(_ input: PlanNode, width: Int) { self.input = input; self.keyPositions = Array(0..<width) }
    init(_ input: PlanNode, keyPositions: [Int]) { self.input = input; self.keyPositions = keyPositions }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let source = try input.open(context, outerRows: outerRows)
        var seen = Set<[Value]>()
        let keyPositions = self.keyPositions
        return ClosureIterator {
            while let row = try source.next() {
                if seen.insert(keyPositions.map { row[$0] }).inserted {
                    try context.checkMaterialized(seen.count, "DISTINCT")
                    return row
                }
            }
            return nil
        }
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "HashAggregate (distinct)")] + input.explain(depth + 1) }
}

/// Drops trailing helper columns (sort keys computed beside the projection).
final class TrimNode: PlanNode, @unchecked Sendable {
    let input: PlanNode
    let width: Int
    var columns: [ScopeColumn] { Array(input.columns.prefix(width)) }
    init(_ input: PlanNode, width: Int) { self.input = input; self.width = width }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let source = try input.open(context, outerRows: outerRows)
        let width = self.width
        return ClosureIterator { try source.next().map { $0.count == width ? $0 : Array($0.prefix(width)) } }
    }

    func explain(_ depth: Int) -> [String] { input.explain(depth) }
}

/// UNION / INTERSECT / EXCEPT, with or without ALL (bag semantics with ALL).
final class SetOperationNode: PlanNode, @unchecked Sendable {
    let left: PlanNode, right: PlanNode
    let op: SetOperator
    let all: Bool
    let columns: [ScopeColumn]
    init(_ left: PlanNode, _ right: PlanNode, _ op: SetOperator, all: Bool, columns: [ScopeColumn]) {
        self.left = left; self.right = right; self.op = op; self.all = all; self.columns = columns
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let l = try left.open(context, outerRows: outerRows)
        let r = try right.open(context, outerRows: outerRows)
        var out: [[Value]] = []
        switch op {
        case .union:
            var seen = Set<[Value]>()
            for source in [l, r] {
                while let row = try source.next() {
                    if all || seen.insert(row).inserted { out.append(row) }
                    try context.checkMaterialized(out.count, "UNION")
                }
            }
        case .intersect, .except:
            var counts: [[Value]: Int] = [:]
            while let row = try r.next() {
                counts[row, default: 0] += 1
                try context.checkMaterialized(counts.count, "\(op.rawValue.uppercased())")
            }
            var emitted = Set<[Value]>()
            while let row = try l.next() {
                let present = (counts[row] ?? 0) > 0
                if op == .intersect {
                    guard present else { continue }
                    if all { counts[row]! -= 1; out.append(row) } else if emitted.insert(row).inserted { out.append(row) }
                } else {
                    if all {
                        if present { counts[row]! -= 1 } else { out.append(row) }
                    } else if !present, emitted.insert(row).inserted {
                        out.append(row)
                    }
                }
            }
        }
        return ArrayIterator(out)
    }

    func explain(_ depth: Int) -> [String] {
        [line(depth, "\(op.rawValue.capitalized)\(all ? " All" : "")")] + left.explain(depth + 1) + right.explain(depth + 1)
    }
}

/// A WITH query or view body run once per statement and reused by every reference.
final class MaterializedNode: PlanNode, @unchecked Sendable {
    let input: PlanNode
    let name: String
    let columns: [ScopeColumn]
    var cache: [[Value]]?
    init(_ input: PlanNode, name: String, columns: [ScopeColumn]) { self.input = input; self.name = name; self.columns = columns }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        if let cache { return ArrayIterator(cache) }
        let source = try input.open(context, outerRows: outerRows)
        var rows: [[Value]] = []
        while let row = try source.next() {
            rows.append(row)
            try context.checkMaterialized(rows.count, "WITH query \(name)")
        }
        cache = rows
        return ArrayIterator(rows)
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "CTE Scan on \(name)")] + input.explain(depth + 1) }
}

/// Renames a subquery's columns under its alias; rows pass through unchanged.
final class AliasNode: PlanNode, @unchecked Sendable {
    let input: PlanNode
    let columns: [ScopeColumn]
    let label: String
    init(_ input: PlanNode, columns: [ScopeColumn], label: String) { self.input = input; self.columns = columns; self.label = label }
    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator { try input.open(context, outerRows: outerRows) }
    func explain(_ depth: Int) -> [String] { [line(depth, "Subquery Scan on \(label)")] + input.explain(depth + 1) }
}
