import Dispatch
import RedCore
import RedEngine
import RedStorage

/// A search over the collection's `VectorItemCache` entry instead of its records: every item of
/// the query's dimension is scored in memory (in parts, one per CPU, for a large collection),
/// and only the winners' records are read, by id, to make their rows. With a filter, records
/// are read best candidate first until `k` pass; when the filter turns down so many that
/// reading the rest one by one would cost more than a scan, the search scans instead.
///
/// Same items, same distance function and same order (score descending, then id) as the scan,
/// so a query's answer does not depend on whether the cache served it.
extension VectorSearchNode {
    /// One item's rank: what `TopK` orders by, plus where it lies in its group.
    struct RankedItem {
        var score: Double
        var distance: Double
        var rid: Int64
        var index: Int

        /// Whether `self` ranks below `other`: a lower score, or an equal one and a larger id.
        func isWorse(than other: RankedItem) -> Bool { score != other.score ? score < other.score : rid > other.rid }
    }

    /// The best `capacity` items offered: a heap whose root is the worst kept.
    struct BestItems {
        private(set) var heap: [RankedItem] = []
        let capacity: Int

        init(capacity: Int) { self.capacity = capacity }

        mutating func offer(_ item: RankedItem) {
            if heap.count < capacity {
                heap.append(item)
                var child = heap.count - 1
                while child > 0, heap[child].isWorse(than: heap[(child - 1) / 2]) {
                    heap.swapAt(child, (child - 1) / 2)
                    child = (child - 1) / 2
                }
                return
            }
            guard capacity > 0, heap[0].isWorse(than: item) else { return }
            heap[0] = item
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var worst = parent
                if left < heap.count, heap[left].isWorse(than: heap[worst]) { worst = left }
                if right < heap.count, heap[right].isWorse(than: heap[worst]) { worst = right }
                guard worst != parent else { return }
                heap.swapAt(parent, worst)
                parent = worst
            }
        }

        /// Best first.
        func sorted() -> [RankedItem] { heap.sorted { $1.isWorse(than: $0) } }
    }

    /// The search's rows, best first; nil when it must scan the records instead.
    func searchCached(_ entry: VectorItemCache.Entry, query: [Float], k: Int, bound: Double?,
                      context: ExecutionContext, eval: Evaluation) throws -> [[Value]]? {
        guard let group = entry.groups[query.count] else { return [] }
        let count = group.rids.count
        context.rowsScanned += count
        let partCount = Self.partCount(items: count, context: context)
        if partCount > 1 { AggregateNode.partsCounter?.value.add(partCount, ordering: .relaxed) }
        let bounds = (0...partCount).map { count * $0 / partCount }
        if filter == nil {
            var best = BestItems(capacity: k)
            for part in try scoreParts(group, query: query, bound: bound, now: context.now, bounds: bounds, keep: k) {
                for item in part.heap { best.offer(item) }
            }
            return try best.sorted().map { item in
                if scoresOnly { return [.integer(item.rid), .float(item.score)] }
                guard let row = try candidateRow(item, dimension: query.count, context: context) else { throw StaleCacheEntry() }
                return includeVectors ? row.candidate + [row.vector] : row.candidate
            }
        }
        // A filter: every passing score kept, records read best first.
        var scored: [RankedItem] = []
        for part in try scoreParts(group, query: query, bound: bound, now: context.now, bounds: bounds, keep: nil) { scored += part.heap }
        var rows: [[Value]] = []
        var examined = 0
        let mostExamined = max(1024, count / 16)
        var wanted = max(4 * k, 64)
        while true {
            var best = BestItems(capacity: wanted)
            for item in scored { best.offer(item) }
            let ranked = best.sorted()
            for item in ranked[examined...] {
                examined += 1
                guard examined <= mostExamined else { return nil }
                if examined & 255 == 0 { try context.checkCancelled() }
                guard let row = try candidateRow(item, dimension: query.count, context: context) else { throw StaleCacheEntry() }
                guard let filter, try Evaluation.truth(try eval.evaluate(filter, row.candidate)) == true else { continue }
                rows.append(includeVectors ? row.candidate + [row.vector] : row.candidate)
                if rows.count == k { return rows }
            }
            if ranked.count < wanted { return rows }
            wanted *= 8
        }
    }

    /// How many parts, one per thread, scoring `count` in-memory items is split into: as the
    /// scan splits (the same limits), counting items instead of id spans.
    static func partCount(items count: Int, context: ExecutionContext) -> Int {
        context.mustNotRunLong ? 1
            : max(1, min(context.limits.parallelScanParts ?? min(ProcessorAffinity.cpuCount, maxParallelParts),
                         max(1, count / max(1, context.limits.parallelScanMinimumRows / itemsPerRowOfParallelScan))))
    }

    /// Thrown when a hit's record is gone: the entry did not match the snapshot (a bug), so
    /// the search scans instead of answering from it.
    struct StaleCacheEntry: Error {}

    /// Scores the items of `group` in the ranges between consecutive `bounds`, one thread per
    /// range; per range, the best `keep` items (all passing ones when nil).
    private func scoreParts(_ group: VectorItemCache.Group, query: [Float], bound: Double?, now: Int64,
                            bounds: [Int], keep: Int?) throws -> [BestItems] {
        let metric = self.metric, dimension = query.count, scoresOnly = self.scoresOnly
        let results = PartSlots<BestItems>(count: bounds.count - 1)
        let score: @Sendable (Int) -> Void = { part in
            var best = BestItems(capacity: keep ?? Int.max)
            group.components.withUnsafeBytes { components in
                for i in bounds[part]..<bounds[part + 1] where now < group.expiresAt[i] {
                    let distance = metric.distance(query, littleEndianFloats: components.baseAddress! + 4 * dimension * i, count: dimension)
                    var score = metric.score(distance: distance)
                    if score.isNaN { score = -.infinity }
                    if let bound {
                        guard scoresOnly ? score >= bound : metric.passes(threshold: bound, distance: distance) else { continue }
                    }
                    best.offer(RankedItem(score: score, distance: distance, rid: group.rids[i], index: i))
                }
            }
            results.slots[part] = best
        }
        if results.slots.count == 1 { score(0) } else { DispatchQueue.concurrentPerform(iterations: results.slots.count, execute: score) }
        return results.slots.map { $0! }
    }

    /// A hit's row as the filter sees it (without `dense`), and its vector; nil when the record
    /// is gone.
    private func candidateRow(_ item: RankedItem, dimension: Int, context: ExecutionContext) throws -> (candidate: [Value], vector: Value)? {
        guard let stored = try context.store.get(context.transaction, handle, rid: item.rid) else { return nil }
        return ([.integer(item.rid), .float(item.score), .float(item.distance), .text(handle.name), .timestamp(stored.createdAt * 1000),
                 .timestamp(stored.updatedAt * 1000), .integer(Int64(dimension)), stored.values[1] ?? .null, stored.values[2] ?? .null],
                stored.values[0] ?? .null)
    }
}
