import Dispatch
import RedCore
import RedEngine
import RedStorage

/// `VECTOR SEARCH` and `SEARCH SIMILAR`: exact k-nearest-neighbour search by a full scan,
/// as a statement of its own or as a FROM item (`FROM (VECTOR SEARCH …) AS s`), so hits
/// can be joined with tables, filtered and projected like any rows.
///
/// Every visible vector item of the collection (the statement's snapshot, expired items
/// skipped) is compared with the query vector where its record lies, without decoding it;
/// items of another dimension are skipped, as upstream does. The filter is checked per candidate, then the threshold, and a bounded
/// heap keeps the best `k`: memory O(k), time O(n·d). Hits come out by score descending,
/// then entity id ascending, so equal scores always come out the same way.
///
/// Columns are fixed, so a PostgreSQL client can describe the statement before it runs:
/// `entity_id, score, distance, collection, created_at, updated_at, dimension, content,
/// metadata` (+ `dense` with `INCLUDE VECTORS`); `SEARCH SIMILAR` gives `entity_id,
/// score`. Upstream spreads metadata keys over columns of their own; here they stay in
/// the `metadata` JSON object, whose fields the filter and any query can read by name.
///
/// This is the "brute-force index" of RQL's implementation order: exact, with no recall
/// loss, and the reference an approximate index (HNSW, IVF) would be tested against.
final class VectorSearchNode: PlanNode, @unchecked Sendable {
    enum Source {
        case value(BoundExpr)
        case reference(TableHandle, id: BoundExpr)
    }

    let handle: TableHandle
    let columns: [ScopeColumn]
    let source: Source
    let metric: VectorMetric
    let limit: BoundExpr?
    let threshold: BoundExpr?
    let filter: BoundExpr?
    let includeVectors: Bool
    let scoresOnly: Bool

    /// Largest `LIMIT`/`K` a search accepts.
    static let maxResults = 10_000
    static let defaultResults = 10

    init(handle: TableHandle, columns: [ScopeColumn], source: Source, metric: VectorMetric, limit: BoundExpr?, threshold: BoundExpr?,
         filter: BoundExpr?, includeVectors: Bool, scoresOnly: Bool) {
        self.handle = handle
        self.columns = columns
        self.source = source
        self.metric = metric
        self.limit = limit
        self.threshold = threshold
        self.filter = filter
        self.includeVectors = includeVectors
        self.scoresOnly = scoresOnly
    }

    /// A candidate as the filter sees it; in this order, a result row (without `dense`).
    static func candidateColumns(qualifier: String?) -> [ScopeColumn] {
        [ScopeColumn(qualifier: qualifier, name: "entity_id", type: .integer),
         ScopeColumn(qualifier: qualifier, name: "score", type: .float),
         ScopeColumn(qualifier: qualifier, name: "distance", type: .float),
         ScopeColumn(qualifier: qualifier, name: "collection", type: .text),
         ScopeColumn(qualifier: qualifier, name: "created_at", type: .timestamp),
         ScopeColumn(qualifier: qualifier, name: "updated_at", type: .timestamp),
         ScopeColumn(qualifier: qualifier, name: "dimension", type: .integer),
         ScopeColumn(qualifier: qualifier, name: "content", type: .text),
         ScopeColumn(qualifier: qualifier, name: "metadata", type: .json, isDocumentBody: true)]
    }

    static func resultColumns(for search: VectorSearch, qualifier: String?) -> [ScopeColumn] {
        let candidate = candidateColumns(qualifier: qualifier)
        if search.scoresOnly { return Array(candidate.prefix(2)) }
        return candidate + (search.includeVectors ? [ScopeColumn(qualifier: qualifier, name: "dense", type: .vector)] : [])
    }

    /// Most parts a search is split into, and the fewest items (by id span) that make splitting
    /// worth a thread each: a vector item costs several times a plain row to read and compare.
    static let maxParallelParts = 4
    static let itemsPerRowOfParallelScan = 8

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let eval = context.evaluation(outerRows)
        let query = try queryVector(context, eval, dimension: handle.schema.vector?.dimension)
        let k = try limit.map { try Self.count(eval.evaluate($0, [])) } ?? Self.defaultResults
        let bound = try threshold.map { e -> Double in
            guard let t = try eval.evaluate(e, []).doubleValue, t.isFinite else { throw RedError(.invalidArgument, "a threshold must be a finite number") }
            return t
        }
        guard k > 0 else { return ArrayIterator([]) }
        if let entry = try context.store.vectorItems.entry(for: handle, in: context.transaction, store: context.store,
                                                           checkCancelled: { try context.checkCancelled() }) {
            do {
                if let rows = try searchCached(entry, query: query, k: k, bound: bound, context: context, eval: eval) { return ArrayIterator(rows) }
            } catch is StaleCacheEntry {}
        }
        let search = RangeSearch(node: self, query: query, k: k, bound: bound)
        // In parts, one per CPU, as large aggregates (`AggregateNode`), under the same conditions:
        // not on an event loop, no subquery per item, and enough items to be worth a thread.
        let partCount = context.limits.parallelScanParts ?? min(ProcessorAffinity.cpuCount, Self.maxParallelParts)
        if partCount > 1, !context.mustNotRunLong, filter?.containsSubquery != true,
           let ranges = try TableScanNode.ridRanges(handle, count: partCount,
                                                    minimumRows: max(1, context.limits.parallelScanMinimumRows / Self.itemsPerRowOfParallelScan), context) {
            let parts = ranges.map { (range: $0, context: context.partition()) }
            let results = PartSlots<Result<TopK, Error>>(count: parts.count)
            AggregateNode.partsCounter?.value.add(parts.count, ordering: .relaxed)
            DispatchQueue.concurrentPerform(iterations: parts.count) { i in
                let part = parts[i]
                results.slots[i] = Result {
                    try search.run(try part.context.store.scan(part.context.transaction, self.handle, rids: part.range),
                                   context: part.context, eval: part.context.evaluation(outerRows))
                }
            }
            for part in parts { context.rowsScanned += part.context.rowsScanned }
            try context.checkCancelled()
            var best = TopK(capacity: k)
            for slot in results.slots { best.merge(try slot!.get()) }
            return ArrayIterator(best.sorted())
        }
        return ArrayIterator(try search.run(try context.store.scan(context.transaction, handle), context: context, eval: eval).sorted())
    }

    /// One scan of the search over `cursor`'s items: the best `k` of them.
    ///
    /// Each record's bytes are read where they lie: the vector is compared in place
    /// (`StoredRow.vectorLocation`), and only an item that would enter the best k is decoded.
    struct RangeSearch: @unchecked Sendable {
        let node: VectorSearchNode
        let query: [Float]
        let k: Int
        let bound: Double?

        func run(_ cursor: RowCursor, context: ExecutionContext, eval: Evaluation) throws -> TopK {
            let metric = node.metric, now = context.now
            var best = TopK(capacity: k)
            let collection = Value.text(node.handle.name)
            var key: [UInt8] = [], bytes: [UInt8] = []
            while try cursor.nextRaw(key: &key, value: &bytes) {
                context.rowsScanned += 1
                if context.rowsScanned & 4095 == 0 { try context.checkCancelled() }
                let location = try StoredRow.vectorLocation(bytes)
                guard let offset = location.offset, location.count == query.count, location.header.isVisible(at: now) else { continue }
                let distance = bytes.withUnsafeBytes { metric.distance(query, littleEndianFloats: $0.baseAddress! + offset, count: location.count) }
                var score = metric.score(distance: distance)
                if score.isNaN { score = -.infinity }  // never from finite vectors; kept out of the heap's order all the same
                if let bound {
                    guard node.scoresOnly ? score >= bound : metric.passes(threshold: bound, distance: distance) else { continue }
                }
                let rid = StoredRow.rid(fromKey: key)
                guard best.admits(score: score, id: rid) else { continue }
                if node.scoresOnly {
                    best.insert(score: score, id: rid, row: [.integer(rid), .float(score)])
                    continue
                }
                let item = try StoredRow.decode(rid: rid, bytes)
                var candidate: [Value] = [.integer(rid), .float(score), .float(distance), collection, .timestamp(item.createdAt * 1000),
                                          .timestamp(item.updatedAt * 1000), .integer(Int64(location.count)), item.values[1] ?? .null, item.values[2] ?? .null]
                if let filter = node.filter, try Evaluation.truth(try eval.evaluate(filter, candidate)) != true { continue }
                if node.includeVectors { candidate.append(item.values[0] ?? .null) }
                best.insert(score: score, id: rid, row: candidate)
            }
            return best
        }
    }

    /// The parts' results, shared with `concurrentPerform`'s threads: iteration i writes slot i
    /// only, and the caller reads the slots after every iteration has returned.
    /// (A buffer, not an array: concurrent writes to distinct array elements still race on
    /// the array's own storage checks.)
    final class PartSlots<Element>: @unchecked Sendable {
        let slots: UnsafeMutableBufferPointer<Element?>

        init(count: Int) {
            slots = .allocate(capacity: count)
            slots.initialize(repeating: nil)
        }

        deinit {
            _ = slots.deinitialize()
            slots.deallocate()
        }
    }

    func queryVector(_ context: ExecutionContext, _ eval: Evaluation, dimension: Int?) throws -> [Float] {
        switch source {
        case .value(let expr):
            let value = try eval.evaluate(expr, [])
            guard !value.isNull else { throw RedError(.invalidArgument, "the vector searched for is null") }
            return try DMLExecutor.checkedVector(value, collection: handle.name, dimension: dimension)
        case .reference(let source, let idExpr):
            guard case .integer(let id) = try DataType.integer.coerce(try eval.evaluate(idExpr, [])) else {
                throw RedError(.invalidArgument, "a vector reference needs an integer id")
            }
            guard let stored = try context.store.get(context.transaction, source, rid: id), stored.isVisible(at: context.now),
                  let value = stored.values[0] else {
                throw RedError(.undefinedObject, "vector \(id) not found in \(source.name)")
            }
            return try DMLExecutor.checkedVector(value, collection: handle.name, dimension: dimension)
        }
    }

    static func count(_ value: Value) throws -> Int {
        guard case .integer(let n) = try DataType.integer.coerce(value), n >= 0 else {
            throw RedError(.invalidArgument, "a search LIMIT must be a non-negative integer")
        }
        guard n <= maxResults else { throw RedError(.limitExceeded, "a search returns at most \(maxResults) results, asked for \(n)") }
        return Int(n)
    }

    func explain(_ depth: Int) -> [String] {
        [line(depth, "Vector Search on \(handle.name) (exact, \(metric.rawValue))" + (filter == nil ? "" : " with filter"))]
    }
}

extension Planner {
    /// Binds a search: its collection and source now, its values per execution (they may use
    /// parameters and, as a FROM item, outer columns).
    func planVectorSearch(_ search: VectorSearch, qualifier: String?, outer: Scope?) throws -> VectorSearchNode {
        let handle = try Self.vectorCollection(search.collection, context)
        let settings = handle.schema.vector ?? CollectionSchema.VectorSettings(dimension: nil, metric: .cosine)
        let constants = BindingContext(scope: Scope([], parent: outer), aggregatesForbiddenIn: "VECTOR SEARCH")
        let source: VectorSearchNode.Source
        switch search.source {
        case .value(.parameter(let n)) where Self.isTextToEmbed(n, context):
            source = .value(try embeddedText(.parameter(n), provider: search.embeddingProvider))
        case .value(let expr): source = .value(try bind(expr, constants))
        case .reference(let name, let id): source = .reference(try Self.vectorCollection(name, context), id: try bind(id, constants))
        case .text(let expr): source = .value(try embeddedText(expr, provider: search.embeddingProvider))
        }
        let filterScope = Scope(VectorSearchNode.candidateColumns(qualifier: nil), parent: outer)
        return VectorSearchNode(handle: handle, columns: VectorSearchNode.resultColumns(for: search, qualifier: qualifier), source: source,
                                metric: search.metric ?? settings.metric,
                                limit: try search.limit.map { try bind($0, constants) },
                                threshold: try search.threshold.map { try bind($0, constants) },
                                filter: try search.filter.map { try bind($0, BindingContext(scope: filterScope, aggregatesForbiddenIn: "VECTOR SEARCH WHERE")) },
                                includeVectors: search.includeVectors, scoresOnly: search.scoresOnly)
    }

    /// The value of an expression that reads no columns (a command's literal or `$n` argument:
    /// a query text, a node reference, a LIMIT), evaluated now.
    func constant(_ expr: Expr, in clause: String) throws -> Value {
        try context.evaluation([]).evaluate(try bind(expr, BindingContext(scope: Scope([], parent: nil), aggregatesForbiddenIn: clause)), [])
    }

    /// A `$n` source bound to text that is not a vector literal (`'[0.1, 0.2]'`) is text to embed.
    static func isTextToEmbed(_ n: Int, _ context: ExecutionContext) -> Bool {
        guard !context.describing, n >= 1, n <= context.parameters.count, case .text(let s) = context.parameters[n - 1] else { return false }
        return !s.trimmingSpaces().hasPrefix("[")
    }

    static func vectorCollection(_ name: String, _ context: ExecutionContext) throws -> TableHandle {
        guard let handle = try context.store.open(context.transaction, name) else {
            throw RedError(.undefinedCollection, "vector collection \"\(name)\" does not exist")
        }
        guard handle.schema.model == .vector else {
            throw RedError(.invalidOperation, "\(name) is a \(handle.schema.model.rawValue), not a vector collection")
        }
        return handle
    }
}

/// The `capacity` best rows seen so far: a binary heap whose root is the worst kept row
/// (lowest score; among equal scores the largest id), the one a better row replaces.
struct TopK {
    private var heap: [(score: Double, id: Int64, row: [Value])] = []
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        heap.reserveCapacity(min(capacity, 1024))
    }

    /// Whether `a` ranks below `b`: a lower score, or an equal score and a larger id.
    private static func worse(_ a: (score: Double, id: Int64), than b: (score: Double, id: Int64)) -> Bool {
        a.score != b.score ? a.score < b.score : a.id > b.id
    }

    private func worse(_ i: Int, than j: Int) -> Bool { Self.worse((heap[i].score, heap[i].id), than: (heap[j].score, heap[j].id)) }

    /// Whether a row with this score and id would be kept (checked before the row is built).
    func admits(score: Double, id: Int64) -> Bool {
        heap.count < capacity || Self.worse((heap[0].score, heap[0].id), than: (score, id))
    }

    mutating func insert(score: Double, id: Int64, row: [Value]) {
        guard admits(score: score, id: id) else { return }
        if heap.count < capacity {
            heap.append((score, id, row))
            var child = heap.count - 1
            while child > 0, worse(child, than: (child - 1) / 2) {
                heap.swapAt(child, (child - 1) / 2)
                child = (child - 1) / 2
            }
            return
        }
        heap[0] = (score, id, row)
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var worst = parent
            if left < heap.count, worse(left, than: worst) { worst = left }
            if right < heap.count, worse(right, than: worst) { worst = right }
            guard worst != parent else { return }
            heap.swapAt(parent, worst)
            parent = worst
        }
    }

    /// Adds every row `other` kept.
    mutating func merge(_ other: TopK) {
        for entry in other.heap { insert(score: entry.score, id: entry.id, row: entry.row) }
    }

    /// Best first.
    func sorted() -> [[Value]] {
        heap.sorted { Self.worse(($1.score, $1.id), than: ($0.score, $0.id)) }.map(\.row)
    }
}
