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
    /// The transaction's snapshot when the cursor was made: a READ COMMITTED transaction moves
    /// its snapshot between statements, and a cursor still open then keeps reading the one it began with.
    let snapshot: UInt64
    /// One leaf's visible committed entries, back to back in one buffer: entry `i` is its user
    /// key `arena[ends[i-1].value ..< ends[i].key]` then its value up to `ends[i].value`. One
    /// buffer per leaf, its capacity reused by the next, instead of two arrays per entry.
    private var arena: [UInt8] = []
    private var ends: [(key: Int, value: Int)] = []
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
        self.snapshot = transaction.snapshot
        let writes = transaction.pendingWrites(collectionID: collectionID, range: range)
        pending = reverse ? writes.reversed() : writes
    }

    /// Where the next entry comes from, having merged the tree's and the transaction's own.
    private enum Source {
        case committed(key: Range<Int>, value: Range<Int>)
        case mine(key: [UInt8], value: [UInt8])
    }

    /// The next entry, or nil at the end of the range.
    public func next() throws -> (key: [UInt8], value: [UInt8])? {
        switch try nextSource() {
        case nil: return nil
        case .committed(let key, let value)?: return (Array(arena[key]), Array(arena[value]))
        case .mine(let key, let value)?: return (key, value)
        }
    }

    /// The next entry copied into `key` and `value`, reusing their storage (a scan that keeps
    /// only one row at a time allocates nothing per row); false at the end of the range.
    public func next(key: inout [UInt8], value: inout [UInt8]) throws -> Bool {
        switch try nextSource() {
        case nil: return false
        case .committed(let k, let v)?:
            key.removeAll(keepingCapacity: true)
            key.append(contentsOf: arena[k])
            value.removeAll(keepingCapacity: true)
            value.append(contentsOf: arena[v])
        case .mine(let k, let v)?:
            key = k
            value = v
        }
        return true
    }

    /// Lends the next entry's key and value to `body`, where they lie (no copy: a scan that
    /// decodes each row and keeps none of its bytes reads them in place); false at the end of
    /// the range. The buffers are valid only inside `body`.
    public func next(_ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        switch try nextSource() {
        case nil: return false
        case .committed(let k, let v)?:
            try arena.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[k]), UnsafeRawBufferPointer(rebasing: $0[v])) }
        case .mine(let k, let v)?:
            try k.withUnsafeBytes { key in try v.withUnsafeBytes { try body(key, $0) } }
        }
        return true
    }

    private func nextSource() throws -> Source? {
        while true {
            let tree = try peekCommitted()
            let mine = pendingIndex < pending.count ? pending[pendingIndex] : nil
            guard tree != nil || mine != nil else { return nil }
            var order = 0  // <0: tree first, >0: mine first, 0: same key
            if let tree, let mine {
                order = arena.withUnsafeBytes { a in mine.0.withUnsafeBytes { compareKeys(UnsafeRawBufferPointer(rebasing: a[tree.key]), $0) } }
                if reverse { order = -order }
            } else {
                order = tree != nil ? -1 : 1
            }
            if order < 0 {
                committedIndex += 1
                return .committed(key: tree!.key, value: tree!.value)
            }
            if order == 0 { committedIndex += 1 }
            pendingIndex += 1
            if case .put(let value) = mine!.1 { return .mine(key: mine!.0, value: value) }
        }
    }

    /// Collects every remaining entry.
    public func collect(limit: Int = .max) throws -> [(key: [UInt8], value: [UInt8])] {
        var out: [(key: [UInt8], value: [UInt8])] = []
        while out.count < limit, let entry = try next() { out.append(entry) }
        return out
    }

    /// The key and value ranges in `arena` of the next committed entry, fetching a leaf when needed.
    private func peekCommitted() throws -> (key: Range<Int>, value: Range<Int>)? {
        while committedIndex >= ends.count {
            if treeExhausted { return nil }
            try fetchBatch()
            committedIndex = 0
        }
        let start = committedIndex == 0 ? 0 : ends[committedIndex - 1].value
        let end = ends[committedIndex]
        return (start..<end.key, end.key..<end.value)
    }

    /// Fills `arena` and `ends` with one leaf of visible committed entries within the range
    /// (user keys); leaves them empty only at the end of the range.
    private func fetchBatch() throws {
        let engine = transaction.engine
        let prefix = Keyspace.prefix(collectionID)
        let lowerBound = Keyspace.key(collectionID, range.lower ?? [])
        let lowerInclusive = range.lower == nil ? true : range.lowerInclusive
        let upperBound = range.upper.map { Keyspace.key(collectionID, $0) } ?? Keyspace.prefix(collectionID + 1)
        let upperInclusive = range.upper == nil ? false : range.upperInclusive
        while true {
            // Materialise values under the same lock hold as the batch: once it is released a
            // writer may free an overflow chain and reuse its pages. Cells are read in place and
            // only a visible entry's user key and value are copied out.
            // Filled as locals (a stored property's every append would be an exclusivity check).
            var arena = self.arena, ends = self.ends
            self.arena = []
            self.ends = []
            arena.removeAll(keepingCapacity: true)
            ends.removeAll(keepingCapacity: true)
            defer { self.arena = arena; self.ends = ends }
            let (lastKey, leftRange): ([UInt8]?, Bool) = try engine.store.read { tree in
                let found = reverse
                    ? try tree.reverseLeaf(before: resumeKey ?? upperBound, inclusive: resumeKey == nil ? upperInclusive : false)
                    : try tree.leaf(after: resumeKey ?? lowerBound, inclusive: resumeKey == nil ? lowerInclusive : false)
                guard let (node, cells) = found else { return (nil, false) }
                ends.reserveCapacity(cells.count)
                let lastCell = reverse ? cells.lowerBound : cells.upperBound - 1
                let collection = self.collectionID
                let order = reverse ? stride(from: cells.upperBound - 1, through: cells.lowerBound, by: -1)
                                    : stride(from: cells.lowerBound, through: cells.upperBound - 1, by: 1)
                // The leaf's cells start past the resume key (or the range's near bound), so
                // only the far bound and the collection's prefix can end the range; when the
                // leaf's last cell is still inside, every cell is, and none is checked.
                func isInside(_ key: UnsafeRawBufferPointer) -> Bool {
                    let inside = lowerBound.withUnsafeBytes { lower in upperBound.withUnsafeBytes { upper in
                        reverse
                            ? compareKeys(key, lower) > 0 || (lowerInclusive && compareKeys(key, lower) == 0)
                            : compareKeys(key, upper) < 0 || (upperInclusive && compareKeys(key, upper) == 0)
                    } }
                    return inside && key.count >= 4 && key.prefix(4).elementsEqual(prefix)
                }
                let leafInside = try node.withCell(lastCell) { key, _ in isInside(key) }
                for i in order {
                    let inside = try node.withCell(i) { key, inlineValue -> Bool in
                        guard leafInside || isInside(key) else { return false }
                        if let inlineValue {
                            if let visible = try VersionChain.visibleValueRange(in: inlineValue, at: snapshot, context: "record in collection \(collection)") {
                                arena.append(contentsOf: UnsafeRawBufferPointer(rebasing: key[4...]))
                                let keyEnd = arena.count
                                arena.append(contentsOf: UnsafeRawBufferPointer(rebasing: inlineValue[visible]))
                                ends.append((keyEnd, arena.count))
                            }
                        } else if let value = try VersionChain.visibleValue(in: try tree.read(node.value(at: i)), at: snapshot,
                                                                             context: "record in collection \(collection)") {
                            arena.append(contentsOf: UnsafeRawBufferPointer(rebasing: key[4...]))
                            let keyEnd = arena.count
                            arena.append(contentsOf: value)
                            ends.append((keyEnd, arena.count))
                        }
                        return true
                    }
                    if !inside { return (node.key(at: lastCell), true) }
                }
                return (node.key(at: lastCell), false)
            }
            guard let lastKey else {
                treeExhausted = true
                return
            }
            resumeKey = lastKey
            if leftRange { treeExhausted = true }
            if !ends.isEmpty || treeExhausted { return }
        }
    }
}
