import RedCore
import RedStorage

/// Iterates a key range of one collection as a transaction sees it: the
/// committed versions visible at its snapshot, merged with its own pending
/// writes (which win on equal keys).
///
/// The cursor holds the tree's shared lock only while it fetches one leaf's
/// worth of entries, so a long scan never holds up commits. Between batches
/// it remembers the last key it returned and resumes strictly after (or
/// before) it, which stays correct whatever the tree's shape becomes.
public final class RangeCursor {
    let transaction: Transaction
    let collectionID: UInt32
    let range: KeyRange
    let reverse: Bool
    private var committed: [([UInt8], [UInt8])] = []
    private var committedIndex = 0
    private var resumeKey: [UInt8]?
    private var treeExhausted = false
    private let pending: [([UInt8], Transaction.Write)]
    private var pendingIndex = 0

    init(transaction: Transaction, collectionID: UInt32, range: KeyRange, reverse: Bool) {
        self.transaction = transaction
        self.collectionID = collectionID
        self.range = range
        self.reverse = reverse
        let writes = transaction.pendingWrites(collectionID: collectionID, range: range)
        pending = reverse ? writes.reversed() : writes
    }

    /// The next entry, or nil at the end of the range.
    public func next() throws -> (key: [UInt8], value: [UInt8])? {
        while true {
            let tree = try peekCommitted()
            let mine = pendingIndex < pending.count ? pending[pendingIndex] : nil
            guard tree != nil || mine != nil else { return nil }
            var order = 0  // <0: tree first, >0: mine first, 0: same key
            if let tree, let mine {
                order = compareKeys(tree.0, mine.0)
                if reverse { order = -order }
            } else {
                order = tree != nil ? -1 : 1
            }
            if order < 0 {
                committedIndex += 1
                return (tree!.0, tree!.1)
            }
            if order == 0 { committedIndex += 1 }
            pendingIndex += 1
            if case .put(let value) = mine!.1 { return (mine!.0, value) }
        }
    }

    /// Collects every remaining entry.
    public func collect(limit: Int = .max) throws -> [(key: [UInt8], value: [UInt8])] {
        var out: [(key: [UInt8], value: [UInt8])] = []
        while out.count < limit, let entry = try next() { out.append(entry) }
        return out
    }

    private func peekCommitted() throws -> ([UInt8], [UInt8])? {
        while committedIndex >= committed.count {
            if treeExhausted { return nil }
            committed = try fetchBatch()
            committedIndex = 0
        }
        return committed[committedIndex]
    }

    /// One leaf of visible committed entries within the range (user keys).
    private func fetchBatch() throws -> [([UInt8], [UInt8])] {
        let engine = transaction.engine
        let snapshot = transaction.snapshot
        let prefix = Keyspace.prefix(collectionID)
        let lowerBound = Keyspace.key(collectionID, range.lower ?? [])
        let lowerInclusive = range.lower == nil ? true : range.lowerInclusive
        let upperBound = range.upper.map { Keyspace.key(collectionID, $0) } ?? Keyspace.prefix(collectionID + 1)
        let upperInclusive = range.upper == nil ? false : range.upperInclusive
        while true {
            // Materialise values under the same lock hold as the batch: once it is released a
            // writer may free an overflow chain and reuse its pages.
            let (raw, lastKey, leftRange): ([([UInt8], [UInt8])], [UInt8]?, Bool) = try engine.store.read { tree in
                let entries = reverse
                    ? try tree.reverseBatch(before: resumeKey ?? upperBound, inclusive: resumeKey == nil ? upperInclusive : false)
                    : try tree.batch(after: resumeKey ?? lowerBound, inclusive: resumeKey == nil ? lowerInclusive : false)
                var inRange: [([UInt8], [UInt8])] = []
                inRange.reserveCapacity(entries.count)
                for entry in entries {
                    let inside = reverse
                        ? compareKeys(entry.key, lowerBound) > 0 || (lowerInclusive && entry.key == lowerBound)
                        : compareKeys(entry.key, upperBound) < 0 || (upperInclusive && entry.key == upperBound)
                    guard inside, entry.key.starts(with: prefix) else { return (inRange, entries.last?.key, true) }
                    inRange.append((entry.key, try tree.read(entry.value)))
                }
                return (inRange, entries.last?.key, false)
            }
            guard let lastKey else {
                treeExhausted = true
                return []
            }
            resumeKey = lastKey
            var out: [([UInt8], [UInt8])] = []
            out.reserveCapacity(raw.count)
            for (key, bytes) in raw {
                if let value = try VersionChain.visibleValue(in: bytes, at: snapshot, context: "record in collection \(self.collectionID)") {
                    out.append((Array(key[4...]), value))
                }
            }
            if leftRange { treeExhausted = true }
            if !out.isEmpty || treeExhausted { return out }
        }
    }
}
