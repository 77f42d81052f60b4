import Dispatch
import RedCore
import RedEngine
import RedStorage

/// pgvector's nearest-neighbour query over one table — `SELECT … FROM items [WHERE …] ORDER BY
/// embedding <-> $1 LIMIT k` (any of `<->` `<=>` `<#>` `<+>`, either side) — answered by a scan
/// that produces rows nearest first, instead of decoding every row and sorting them all.
///
/// The scan scores every row's vector against the query — from the column's in-memory copy
/// (`VectorItemCache`, as VECTOR SEARCH uses) when it may serve the snapshot, else by reading
/// each record's vector where it lies — and then reads rows by id, best first, only as many as
/// the consumer takes (LIMIT stops it). Scores use `PgVectorDistance`, the definition the SQL
/// operators compute with, so the order is the one sorting would give, exactly:
///
/// 1. rows whose vector has another dimension than the query (they reach the projection,
///    which evaluates the distance and fails with pgvector's 22000, as a sort would, or the
///    filter turns them down, and a sort would never have computed their distance either);
/// 2. distances ascending (NaN, a cosine against a zero vector, after every number), ties by
///    row id — the order a full scan feeds a stable sort;
/// 3. rows whose vector is NULL, by row id (NULLS LAST).
///
/// A WHERE filter is checked on each row read. When it turns down so many candidates that
/// reading the rest by id would cost more than a scan (more than max(1024, n/16) read), the
/// scan sorts instead: one pass over the rows it has not produced yet, filtered, ordered by
/// the ORDER BY expression itself. That is also how a filtered query runs when no copy may
/// serve it. DESC, NULLS FIRST, joins and an index the planner already chose keep the sort.
struct VectorOrder: Sendable {
    /// The vector column's position in the scan's rows, and its stored id.
    let columnPosition: Int
    let columnID: UInt16
    let distance: PgVectorDistance
    /// The query vector's expression (the same for every row).
    let query: BoundExpr
    /// The ORDER BY expression over the scan's rows, which the sorting fallback orders by.
    let key: BoundExpr
    /// WHERE conjuncts comparing that same distance with a fixed value (pgvector's radius
    /// query, `embedding <-> q < 5`): rows they turn down are dropped from the ranking before
    /// any is read, instead of being read by id and rejected one by one.
    let radius: [(op: String, bound: BoundExpr, distanceOnLeft: Bool)]
}

extension TableScanNode {
    /// Serves `ORDER BY <distance of a vector column and a fixed vector> LIMIT n` (ascending,
    /// NULLS LAST) nearest first, when the scan reads the whole table. True when it will.
    func provideVectorOrder(_ key: BoundExpr) -> Bool {
        guard case .fullScan = access, handle.schema.model == .table,
              case .function(let function, let arguments) = key, arguments.count == 2,
              let distance = PgVectorDistance(rawValue: function.name) else { return false }
        let column: Int, query: BoundExpr
        if case .column(let c) = arguments[0], arguments[1].isRowIndependent { (column, query) = (c, arguments[1]) }
        else if case .column(let c) = arguments[1], arguments[0].isRowIndependent { (column, query) = (c, arguments[0]) }
        else { return false }
        guard column < handle.schema.columns.count, handle.schema.columns[column].type == .vector else { return false }
        var radius: [(op: String, bound: BoundExpr, distanceOnLeft: Bool)] = []
        for case .comparison(let op, let a, let b) in filter?.conjuncts ?? [] where ["<", "<=", "=", ">", ">="].contains(op) {
            if a.isSame(as: key), b.isRowIndependent { radius.append((op, b, true)) }
            else if b.isSame(as: key), a.isRowIndependent { radius.append((op, a, false)) }
        }
        access = .vectorOrder(VectorOrder(columnPosition: column, columnID: handle.schema.columns[column].id,
                                          distance: distance, query: query, key: key, radius: radius))
        return true
    }

    /// The rows of this scan nearest first (see `VectorOrder`).
    func openVectorOrder(_ order: VectorOrder, context: ExecutionContext, eval: Evaluation) throws -> RowIterator {
        let store = context.store, tx = context.transaction, handle = self.handle
        let value: Value, query: [Float]
        do {
            value = try eval.evaluate(order.query, [])
            query = value.isNull ? [] : try VectorFunctions.vector(value, order.distance.rawValue)
        } catch {
            // A query that is not a vector fails where the sort would fail: at the first row that
            // reaches the distance (none in an empty or filtered-out table).
            return try sortedRows(order, excluding: [], eval: eval, context: context)
        }
        // A NULL query makes every distance NULL: the rows in scan order.
        if value.isNull { return rows(from: Self.source(try store.scan(tx, handle)), eval: eval, context: context) }
        let entry = try store.vectorItems.entry(for: handle, column: order.columnID, in: tx, store: store,
                                                checkCancelled: { try context.checkCancelled() })
        // Without a copy, a filtered query reads every row anyway: sort them.
        if entry == nil, filter != nil { return try sortedRows(order, excluding: [], eval: eval, context: context) }
        let ranked = try entry.map { ranks(of: $0, query: query, order: order, context: context) }
            ?? ranksFromRecords(query: query, order: order, context: context)
        guard var ranked else { return try sortedRows(order, excluding: [], eval: eval, context: context) }
        applyRadius(order, to: &ranked, eval: eval)
        // 16 bytes a row instead of the row, but as many of them as the sort would hold: the same limit.
        try context.checkMaterialized(ranked.count, "ORDER BY")
        return NearestFirstRows(scan: self, order: order, ranked: ranked, eval: eval, context: context)
    }

    /// Drops the rows `order.radius` turns down: scored rows whose distance fails a comparison
    /// (evaluated as the filter evaluates it), and rows with no vector (their distance is NULL).
    /// Rows of another dimension stay: the filter fails on them with pgvector's error. Nothing
    /// is dropped when a bound fails to evaluate or does not compare with a number (the filter
    /// reports that, at the first row it sees).
    private func applyRadius(_ order: VectorOrder, to ranking: inout Ranking, eval: Evaluation) {
        guard !order.radius.isEmpty else { return }
        var checks: [(op: String, bound: Value, distanceOnLeft: Bool)] = []
        for part in order.radius {
            guard let bound = try? eval.evaluate(part.bound, []), (try? Evaluation.compare(part.op, .float(0), bound)) != nil else { return }
            checks.append((part.op, bound, part.distanceOnLeft))
        }
        ranking.noVector = []
        ranking.scored.removeAll { row in
            checks.contains { check in
                let d = Value.float(row.distance)
                let verdict = try? Evaluation.compare(check.op, check.distanceOnLeft ? d : check.bound, check.distanceOnLeft ? check.bound : d)
                return verdict != .boolean(true)
            }
        }
    }

    /// One row's place in the order: its distance (NaN after numbers), then its id.
    struct RankedRow {
        var distance: Double
        var rid: Int64

        func precedes(_ other: RankedRow) -> Bool {
            if distance.isNaN != other.distance.isNaN { return other.distance.isNaN }
            if !distance.isNaN, distance != other.distance { return distance < other.distance }
            return rid < other.rid
        }
    }

    /// Where the parts of a ranking write their rows (each part its own range).
    private struct Target: @unchecked Sendable { let base: UnsafeMutablePointer<RankedRow> }

    /// Every row of the table, ranked: classes 1–3 of `VectorOrder`.
    struct Ranking {
        var otherDimension: [Int64] = []
        var scored: [RankedRow] = []
        var noVector: [Int64] = []
        var count: Int { otherDimension.count + scored.count + noVector.count }
    }

    /// The ranking from the column's in-memory copy: the query's dimension scored in parts, one
    /// per CPU, as VECTOR SEARCH does.
    private func ranks(of entry: VectorItemCache.Entry, query: [Float], order: VectorOrder, context: ExecutionContext) -> Ranking {
        var ranking = Ranking()
        for (dimension, group) in entry.groups where dimension != query.count {
            if dimension == VectorItemCache.noVector { ranking.noVector += group.rids } else { ranking.otherDimension += group.rids }
        }
        ranking.otherDimension.sort()
        ranking.noVector.sort()
        guard let group = entry.groups[query.count], !group.rids.isEmpty else { return ranking }
        let count = group.rids.count
        context.rowsScanned += count
        let parts = VectorSearchNode.partCount(items: count, context: context)
        let bounds = (0...parts).map { count * $0 / parts }
        let distance = order.distance
        ranking.scored = [RankedRow](unsafeUninitializedCapacity: count) { buffer, initialized in
            let target = Target(base: buffer.baseAddress!)
            let score: @Sendable (Int) -> Void = { part in
                group.components.withUnsafeBytes { components in
                    for i in bounds[part]..<bounds[part + 1] {
                        let d = distance.distance(query, littleEndianFloats: components.baseAddress! + 4 * query.count * i, count: query.count)
                        (target.base + i).initialize(to: RankedRow(distance: d, rid: group.rids[i]))
                    }
                }
            }
            if parts == 1 { score(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: score) }
            initialized = count
        }
        return ranking
    }

    /// The ranking read from the records, each vector compared where it lies; nil when the
    /// column holds something that is neither a vector nor NULL (the sort handles that). In
    /// parts of consecutive row ids, one per CPU, as VECTOR SEARCH reads a large collection.
    private func ranksFromRecords(query: [Float], order: VectorOrder, context: ExecutionContext) throws -> Ranking? {
        let partCount = context.limits.parallelScanParts ?? min(ProcessorAffinity.cpuCount, VectorSearchNode.maxParallelParts)
        guard partCount > 1, !context.mustNotRunLong,
              let ranges = try Self.ridRanges(handle, count: partCount,
                                              minimumRows: max(1, context.limits.parallelScanMinimumRows / VectorSearchNode.itemsPerRowOfParallelScan), context)
        else { return try rankRecords(try context.store.scan(context.transaction, handle), query: query, order: order, context: context) }
        let parts = ranges.map { (range: $0, context: context.partition()) }
        let results = VectorSearchNode.PartSlots<Result<Ranking?, Error>>(count: parts.count)
        AggregateNode.partsCounter?.value.add(parts.count, ordering: .relaxed)
        DispatchQueue.concurrentPerform(iterations: parts.count) { i in
            let part = parts[i]
            results.slots[i] = Result {
                try self.rankRecords(try part.context.store.scan(part.context.transaction, self.handle, rids: part.range),
                                     query: query, order: order, context: part.context)
            }
        }
        for part in parts { context.rowsScanned += part.context.rowsScanned }
        try context.checkCancelled()
        // The parts are in id order: concatenated, the id lists stay sorted.
        var ranking = Ranking()
        for slot in results.slots {
            guard let part = try slot!.get() else { return nil }
            ranking.otherDimension += part.otherDimension
            ranking.scored += part.scored
            ranking.noVector += part.noVector
        }
        return ranking
    }

    private func rankRecords(_ cursor: RowCursor, query: [Float], order: VectorOrder, context: ExecutionContext) throws -> Ranking? {
        var ranking = Ranking()
        let now = context.now
        var key: [UInt8] = [], bytes: [UInt8] = []
        while try cursor.nextRaw(key: &key, value: &bytes) {
            try context.countScanned()
            let location = try StoredRow.vectorLocation(bytes, column: UInt64(order.columnID))
            guard !location.other else { return nil }
            guard location.header.isVisible(at: now) else { continue }
            let rid = StoredRow.rid(fromKey: key)
            guard let offset = location.offset else {
                ranking.noVector.append(rid)
                continue
            }
            guard location.count == query.count else {
                ranking.otherDimension.append(rid)
                continue
            }
            let d = bytes.withUnsafeBytes { order.distance.distance(query, littleEndianFloats: $0.baseAddress! + offset, count: query.count) }
            ranking.scored.append(RankedRow(distance: d, rid: rid))
        }
        return ranking
    }

    /// The scan's rows (filtered, expired ones skipped) but those in `excluding`, ordered by the
    /// ORDER BY expression as a stable sort of the scan would: its value ascending, NULLs last,
    /// ties by row id.
    func sortedRows(_ order: VectorOrder, excluding: Set<Int64>, eval: Evaluation, context: ExecutionContext) throws -> RowIterator {
        let rows = rows(from: Self.source(try context.store.scan(context.transaction, handle)), eval: eval, context: context)
        var decorated: [(key: Value, rid: Int64, row: [Value])] = []
        while let row = try rows.next() {
            let rid = rows.currentRid
            if excluding.contains(rid) { continue }
            decorated.append((try eval.evaluate(order.key, row), rid, row))
            try context.checkMaterialized(decorated.count, "ORDER BY")
        }
        decorated.sort { a, b in
            let c = Value.sortCompare(a.key, b.key)
            return c != 0 ? c < 0 : a.rid < b.rid
        }
        return ArrayIterator(decorated.map(\.row))
    }
}

/// Produces a `VectorOrder` scan's rows: reads them by id in ranking order through the scan's
/// own row decoding and filter, and turns to `sortedRows` when the filter turns down too many.
final class NearestFirstRows: RowIterator {
    private let scan: TableScanNode
    private let order: VectorOrder
    private let eval: Evaluation
    private let context: ExecutionContext
    private var ranking: TableScanNode.Ranking
    /// `ranking.scored` as a binary heap, best at the root (built on first use).
    private var heapBuilt = false
    private var otherIndex = 0, noVectorIndex = 0
    /// Rows read by id so far, and at most how many before sorting is cheaper (with a filter).
    private var examined: [Int64] = []
    private let mostExamined: Int
    private var rows: TableRowIterator?
    private var sorted: RowIterator?

    init(scan: TableScanNode, order: VectorOrder, ranked: TableScanNode.Ranking, eval: Evaluation, context: ExecutionContext) {
        self.scan = scan; self.order = order; self.ranking = ranked; self.eval = eval; self.context = context
        mostExamined = scan.filter == nil ? Int.max : max(1024, ranked.count / 16)
    }

    func next() throws -> [Value]? {
        if let sorted { return try sorted.next() }
        if rows == nil {
            rows = scan.rows(from: TableScanNode.filling { [unowned self] in try self.nextRecord() }, eval: eval, context: context)
        }
        if let row = try rows!.next() { return row }
        guard examined.count >= mostExamined else { return nil }
        // The filter turned down too many: sort the rows not read yet instead.
        sorted = try scan.sortedRows(order, excluding: Set(examined), eval: eval, context: context)
        return try sorted!.next()
    }

    /// The next ranked row's key and record; nil when none is left or sorting would now be cheaper.
    private func nextRecord() throws -> (key: [UInt8], value: [UInt8])? {
        let store = context.store, tx = context.transaction
        while examined.count < mostExamined, let rid = nextRid() {
            if mostExamined != Int.max { examined.append(rid) }
            // A row the snapshot does not hold cannot be ranked (both rankings come from it).
            guard let bytes = try store.getRaw(tx, scan.handle, rid: rid) else { continue }
            return (StoredRow.key(rid: rid), bytes)
        }
        return nil
    }

    private func nextRid() -> Int64? {
        if otherIndex < ranking.otherDimension.count {
            otherIndex += 1
            return ranking.otherDimension[otherIndex - 1]
        }
        if !heapBuilt {
            heapBuilt = true
            var i = ranking.scored.count / 2
            while i > 0 { i -= 1; siftDown(i) }
        }
        if !ranking.scored.isEmpty {
            let best = ranking.scored[0]
            let last = ranking.scored.removeLast()
            if !ranking.scored.isEmpty {
                ranking.scored[0] = last
                siftDown(0)
            }
            return best.rid
        }
        if noVectorIndex < ranking.noVector.count {
            noVectorIndex += 1
            return ranking.noVector[noVectorIndex - 1]
        }
        return nil
    }

    private func siftDown(_ start: Int) {
        ranking.scored.withUnsafeMutableBufferPointer { heap in
            var parent = start
            while true {
                let left = 2 * parent + 1, right = left + 1
                var best = parent
                if left < heap.count, heap[left].precedes(heap[best]) { best = left }
                if right < heap.count, heap[right].precedes(heap[best]) { best = right }
                guard best != parent else { return }
                heap.swapAt(parent, best)
                parent = best
            }
        }
    }
}
