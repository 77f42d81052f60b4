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
            // writer may free an overflow chain and reuse its pages. Cells are read in place and
            // only a visible entry's user key and value are copied out.
            let (out, lastKey, leftRange): ([([UInt8], [UInt8])], [UInt8]?, Bool) = try engine.store.read { tree in
                let found = reverse
                    ? try tree.reverseLeaf(before: resumeKey ?? upperBound, inclusive: resumeKey == nil ? upperInclusive : false)
                    : try tree.leaf(after: resumeKey ?? lowerBound, inclusive: resumeKey == nil ? lowerInclusive : false)
                guard let (node, cells) = found else { return ([], nil, false) }
                var visible: [([UInt8], [UInt8])] = []
                visible.reserveCapacity(cells.count)
                let lastCell = reverse ? cells.lowerBound : cells.upperBound - 1
                let collection = self.collectionID
                let order = reverse ? stride(from: cells.upperBound - 1, through: cells.lowerBound, by: -1)
                                    : stride(from: cells.lowerBound, through: cells.upperBound - 1, by: 1)
                for i in order {
                    let inside = try node.withCell(i) { key, inlineValue -> Bool in
                        let inside = lowerBound.withUnsafeBytes { lower in upperBound.withUnsafeBytes { upper in
                            reverse
                                ? compareKeys(key, lower) > 0 || (lowerInclusive && compareKeys(key, lower) == 0)
                                : compareKeys(key, upper) < 0 || (upperInclusive && compareKeys(key, upper) == 0)
                        } }
                        guard inside, key.count >= 4, key.prefix(4).elementsEqual(prefix) else { return false }
                        let value: [UInt8]?
                        if let inlineValue {
                            value = try VersionChain.visibleValueRange(in: inlineValue, at: snapshot, context: "record in collection \(collection)")
                                .map { Array(UnsafeRawBufferPointer(rebasing: inlineValue[$0])) }
                        } else {
                            value = try VersionChain.visibleValue(in: try tree.read(node.value(at: i)), at: snapshot,
                                                                  context: "record in collection \(collection)")
                        }
                        if let value { visible.append((Array(key[4...]), value)) }
                        return true
                    }
                    if !inside { return (visible, node.key(at: lastCell), true) }
                }
                return (visible, node.key(at: lastCell), false)
            }
            guard let lastKey else {
                treeExhausted = true
                return []
            }
            resumeKey = lastKey
            if leftRange { treeExhausted = true }
            if !out.isEmpty || treeExhausted { return out }
        }
    }
}
