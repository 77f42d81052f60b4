import RedCore

/// An ordered map from byte-string keys to byte-string values, stored as a
/// copy-on-write B+tree in pages of the main file.
///
/// **Locking.** The tree is not thread-safe by itself: `PagedStore` calls
/// the read methods under its shared lock and the write methods under its
/// exclusive lock.
///
/// **Copy-on-write.** Before a write changes a node it makes the whole path
/// from the root writable: a node of an older epoch is cloned into a freshly
/// allocated page, the parent's pointer is redirected, and the old page is
/// freed (pending until the next checkpoint publishes, see `Pager`). Pages of
/// the published image are therefore never modified, which is what makes
/// checkpoints crash-safe without a double-write area. Within one epoch the
/// cost is paid once per node. There are no sibling links, since those would
/// force copying neighbours too; cursors move between leaves through the path.
///
/// **Sizes.** Keys are at most `maxKeyBytes`. A cell whose key and value
/// together exceed `maxInlineCellBytes` moves its value to an overflow chain,
/// so every page holds at least three cells and splits always succeed.
///
/// **Sequential appends.** A leaf that keeps receiving keys at its end is
/// split by moving only the new last entry to the right sibling, leaving the
/// left leaf full: bulk loads in key order produce full pages.
public final class BTree: @unchecked Sendable {
    /// Bytes allowed for a tree key (collection prefix included).
    public static let maxKeyBytes = Limits.maxKeyBytes + 16
    /// Bytes allowed for a stored record. A record is a value plus its version header, or all
    /// the versions of a key that snapshots still see, so it may exceed `Limits.maxValueBytes`;
    /// the engine refuses a commit whose records would exceed this before it logs it.
    public static let maxRecordBytes = 1 << 30
    /// Largest leaf cell kept inline; larger values go to overflow pages.
    public static let maxInlineCellBytes = 1300
    /// Nodes smaller than this after a delete try to merge with a sibling.
    static let underflowBytes = PageLayout.pageSize / 4

    let pager: Pager
    let cache: PageCache
    /// Root page of the tree, 0 when empty. Changes on copy-on-write and root splits.
    public internal(set) var rootID: PageID

    init(pager: Pager, cache: PageCache, rootID: PageID) {
        self.pager = pager
        self.cache = cache
        self.rootID = rootID
    }

    // MARK: Reads (shared lock)

    /// The value stored under `key`.
    public func get(_ key: [UInt8]) throws -> [UInt8]? {
        guard let value = try lookup(key) else { return nil }
        return try read(value)
    }

    /// The stored form of the value under `key` (overflow not followed).
    func lookup(_ key: [UInt8]) throws -> LeafValue? {
        guard rootID != 0 else { return nil }
        var node = try cache.node(rootID, pin: false)
        while !node.isLeaf { node = try cache.node(node.child(node.childIndex(for: key)), pin: false) }
        let (index, found) = node.search(key)
        return found ? node.value(at: index) : nil
    }

    /// The values under `keys`, as `get` would return them one by one. Consecutive keys that fall
    /// into the same leaf share one descent, so a sorted batch (a commit's write set) costs about
    /// one descent per leaf; keys in any other order are still answered correctly.
    public func getSorted(_ keys: [[UInt8]]) throws -> [[UInt8]?] {
        var reader = SortedReader(tree: self)
        return try keys.map { key in try key.withUnsafeBytes { try reader.get($0) } }
    }

    /// `getSorted` for key bytes held elsewhere (a write set's arena).
    public func getSorted(_ keys: [UnsafeRawBufferPointer]) throws -> [[UInt8]?] {
        var reader = SortedReader(tree: self)
        return try keys.map { try reader.get($0) }
    }

    /// Point reads that remember the last leaf and its key range, so that each key inside it
    /// skips the descent.
    private struct SortedReader {
        let tree: BTree
        var leaf: BTreeNode?
        var bounds = LeafBounds()

        mutating func get(_ key: UnsafeRawBufferPointer) throws -> [UInt8]? {
            guard tree.rootID != 0 else { return nil }
            if leaf == nil || !bounds.contains(key) {
                var node = try tree.cache.node(tree.rootID, pin: false)
                bounds = LeafBounds()
                while !node.isLeaf {
                    let i = node.childIndex(for: key)
                    bounds.narrow(node, child: i)
                    node = try tree.cache.node(node.child(i), pin: false)
                }
                leaf = node
            }
            let (index, found) = leaf!.search(key)
            return found ? try tree.read(leaf!.value(at: index)) : nil
        }
    }

    /// The key range a leaf covers, learnt from the separators on the way down to it.
    struct LeafBounds {
        /// Inclusive; nil: unbounded.
        var lower: [UInt8]?
        /// Exclusive; nil: unbounded.
        var upper: [UInt8]?

        /// Deeper separators lie inside the range already known, so they only narrow it.
        mutating func narrow(_ interior: BTreeNode, child i: Int) {
            if i > 0 { lower = interior.key(at: i - 1) }
            if i < interior.count { upper = interior.key(at: i) }
        }

        func contains(_ key: UnsafeRawBufferPointer) -> Bool {
            if let lower, lower.withUnsafeBytes({ compareKeys(key, $0) }) < 0 { return false }
            if let upper, upper.withUnsafeBytes({ compareKeys(key, $0) }) >= 0 { return false }
            return true
        }
    }

    /// Materialises a leaf value, following an overflow chain.
    public func read(_ value: LeafValue) throws -> [UInt8] {
        switch value {
        case .inline(let bytes): return bytes
        case .overflow(let first, let length): return try OverflowChain.read(first: first, length: length, pager: pager)
        }
    }

    /// The entries of one leaf at or after (`inclusive`) or strictly after `start`, in key order,
    /// moving on to following leaves until one yields an entry. Empty means the end of the tree.
    /// `start == nil` begins at the first key.
    public func batch(after start: [UInt8]?, inclusive: Bool) throws -> [(key: [UInt8], value: LeafValue)] {
        guard let (node, cells) = try leaf(after: start, inclusive: inclusive) else { return [] }
        return cells.map { (node.key(at: $0), node.value(at: $0)) }
    }

    /// `batch`'s leaf and its cells, for a reader that takes them in place (`BTreeNode.withCell`)
    /// under the tree's lock: a scan then copies out only what it keeps. Nil at the end.
    public func leaf(after start: [UInt8]?, inclusive: Bool) throws -> (node: BTreeNode, cells: Range<Int>)? {
        guard rootID != 0 else { return nil }
        var path: [(BTreeNode, Int)] = []
        var node = try cache.node(rootID, pin: false)
        while !node.isLeaf {
            let i = start.map { node.childIndex(for: $0) } ?? 0
            path.append((node, i))
            node = try cache.node(node.child(i), pin: false)
        }
        var from = start.map { inclusive ? node.search($0).index : node.upperBound($0) } ?? 0
        while true {
            if from < node.count { return (node, from..<node.count) }
            // Next leaf: climb until a parent has a child to the right, then take its leftmost leaf.
            var moved = false
            while let (parent, i) = path.popLast() {
                if i + 1 < parent.childCount {
                    path.append((parent, i + 1))
                    node = try cache.node(parent.child(i + 1), pin: false)
                    while !node.isLeaf {
                        path.append((node, 0))
                        node = try cache.node(node.child(0), pin: false)
                    }
                    moved = true
                    break
                }
            }
            if !moved { return nil }
            from = 0
        }
    }

    /// The entries of one leaf before (or at, if `inclusive`) `end`, in descending key order,
    /// moving to preceding leaves until one yields an entry. `end == nil` begins at the last key.
    public func reverseBatch(before end: [UInt8]?, inclusive: Bool) throws -> [(key: [UInt8], value: LeafValue)] {
        guard let (node, cells) = try reverseLeaf(before: end, inclusive: inclusive) else { return [] }
        return cells.reversed().map { (node.key(at: $0), node.value(at: $0)) }
    }

    /// `reverseBatch`'s leaf and its cells (ascending: read them backwards), as `leaf(after:)`.
    public func reverseLeaf(before end: [UInt8]?, inclusive: Bool) throws -> (node: BTreeNode, cells: Range<Int>)? {
        guard rootID != 0 else { return nil }
        var path: [(BTreeNode, Int)] = []
        var node = try cache.node(rootID, pin: false)
        while !node.isLeaf {
            let i = end.map { node.childIndex(for: $0) } ?? node.childCount - 1
            path.append((node, i))
            node = try cache.node(node.child(i), pin: false)
        }
        var upTo = end.map { inclusive ? node.upperBound($0) : node.search($0).index } ?? node.count
        while true {
            if upTo > 0 { return (node, 0..<upTo) }
            var moved = false
            while let (parent, i) = path.popLast() {
                if i > 0 {
                    path.append((parent, i - 1))
                    node = try cache.node(parent.child(i - 1), pin: false)
                    while !node.isLeaf {
                        path.append((node, node.childCount - 1))
                        node = try cache.node(node.child(node.childCount - 1), pin: false)
                    }
                    moved = true
                    break
                }
            }
            if !moved { return nil }
            upTo = node.count
        }
    }

    // MARK: Writes (exclusive lock)

    /// Pages pinned by the running write operation, released when it ends.
    struct Pins {
        var ids: [PageID] = []
    }

    /// Inserts or replaces the value under `key`.
    public func put(_ key: [UInt8], _ value: [UInt8]) throws {
        try key.withUnsafeBytes { k in try value.withUnsafeBytes { try putSorted([TreeEntry(key: k, body: $0)]) } }
    }

    /// Inserts or replaces each entry, as `put` would one by one. Consecutive keys that fall into
    /// the same leaf share one descent (and its copy-on-write path), so a sorted batch — a commit's
    /// write set, a bulk load — costs about one descent per leaf; any other order is still correct.
    ///
    /// A leaf is marked dirty once, when the batch leaves it (it stays pinned until then, so
    /// the cache cannot evict it unmarked), not once per key.
    public func putSorted(_ entries: [([UInt8], [UInt8])]) throws {
        let arena = ByteArena()
        try withExtendedLifetime(arena) {
            try putSorted(entries.map { TreeEntry(key: arena.copy($0.0), body: arena.copy($0.1)) })
        }
    }

    /// `putSorted` for entries whose values are written as a head and a body (see `ValueHead`).
    public func putSorted(_ entries: [TreeEntry]) throws {
        var pins = Pins()
        defer { cache.unpin(pins.ids) }
        // The leaf the last key went to, its path and key range, kept as separate variables so
        // that using one does not copy the others. `leafWritten`: `leaf` changed since it was
        // last marked dirty (marked once per leaf, not once per key).
        var leaf: BTreeNode?
        var path: [(BTreeNode, Int)] = []
        var bounds = LeafBounds()
        var leafWritten = false
        // A key that fails (a size limit, an overflow chain's write) must not leave the changes
        // made before it in a leaf not marked dirty: once unpinned, the cache could drop them.
        defer { markDirty(leaf, &leafWritten) }
        // (`markDirty(_:_:)` is a method, not a nested function capturing `leaf` in a box.)
        // Keys and values are read in place (no copy of an entry, no reference counting per
        // key) unless the key lands in a new leaf, replaces a value or needs an overflow chain.
        try entries.withUnsafeBufferPointer { batch in
            for i in batch.indices {
                let key = batch[i].key
                let head = batch[i].head
                let body = batch[i].body
                try checkSizes(keyCount: key.count, valueCount: head.count + body.count)
                let inline = BTreeNode.leafCellOverhead + key.count + head.count + body.count <= Self.maxInlineCellBytes
                if rootID == 0 {
                    let root = newNode(isLeaf: true, pins: &pins)
                    if inline {
                        root.insertLeaf(at: 0, key: key, head: head, body: body)
                    } else {
                        root.insertLeaf(at: 0, key: key, cell: try overflowValue(batch[i]))
                    }
                    cache.markDirty(root)
                    rootID = root.pageID
                    continue
                }
                if leaf == nil || !bounds.contains(key) {
                    markDirty(leaf, &leafWritten)
                    // Only the current path stays pinned: a huge batch must not pin more than the cache holds.
                    cache.unpin(pins.ids)
                    pins = Pins()
                    try cache.evictIfOverBudget()  // between keys: the tree is whole here
                    (leaf, path, bounds) = try writablePath(to: key, pins: &pins)
                }
                let node = leaf!
                // A load appends: a key above the leaf's last needs no search.
                let appends = node.count == 0 || node.compareStored(at: node.count - 1, key) < 0
                let (index, found) = appends ? (node.count, false) : node.search(key)
                if found {
                    // The new chain is written before the old one is freed: a write that fails
                    // leaves the old value whole, not on the free list while the leaf points at it.
                    if inline {
                        try freeValue(in: node, at: index)
                        node.replaceValue(at: index, head: head, body: body)
                    } else {
                        let cell = try overflowValue(batch[i])
                        do { try freeValue(in: node, at: index) } catch {
                            if case .overflow(let first, let length) = cell {
                                try? OverflowChain.free(first: first, length: length, pager: pager)
                            }
                            throw error
                        }
                        node.replaceValue(at: index, with: cell)
                    }
                } else {
                    node.appendStreak = index == node.lastInsert + 1 || index == node.count ? node.appendStreak + 1 : 0
                    node.lastInsert = index
                    if inline {
                        node.insertLeaf(at: index, key: key, head: head, body: body)
                    } else {
                        node.insertLeaf(at: index, key: key, cell: try overflowValue(batch[i]))
                    }
                }
                leafWritten = true
                if node.encodedBytes > PageLayout.pageSize {
                    markDirty(leaf, &leafWritten)
                    var splitting = node
                    split(&splitting, path: &path, pins: &pins)
                    leaf = nil  // the key ranges changed: descend again for the next key
                }
            }
        }
        markDirty(leaf, &leafWritten)
        cache.unpin(pins.ids)
        pins = Pins()
        try cache.evictIfOverBudget()
    }

    /// Marks `leaf` dirty if it was `written` since it last was.
    private func markDirty(_ leaf: BTreeNode?, _ written: inout Bool) {
        if written, let leaf { cache.markDirty(leaf) }
        written = false
    }

    private func checkSizes(keyCount: Int, valueCount: Int) throws {
        guard keyCount <= Self.maxKeyBytes else {
            throw RedError(.limitExceeded, "key of \(keyCount) bytes exceeds the limit of \(Self.maxKeyBytes)")
        }
        guard valueCount <= Self.maxRecordBytes else {
            throw RedError(.limitExceeded, "record of \(valueCount) bytes exceeds the limit of \(Self.maxRecordBytes)")
        }
    }

    /// Writes a value too large to keep inline to an overflow chain; returns the cell's reference to it.
    private func overflowValue(_ entry: TreeEntry) throws -> CellValue {
        let value = entry.head.bytes + entry.body.array
        return .overflow(firstPage: try OverflowChain.write(value, pager: pager), length: UInt32(value.count))
    }

    /// Removes `key`; returns whether it was present.
    @discardableResult
    public func delete(_ key: [UInt8]) throws -> Bool {
        guard try lookup(key) != nil else { return false }
        var pins = Pins()
        defer { cache.unpin(pins.ids) }
        var (leaf, path, _) = try key.withUnsafeBytes { try writablePath(to: $0, pins: &pins) }
        let (index, found) = leaf.search(key)
        precondition(found, "key vanished between lookup and delete")
        try freeValue(in: leaf, at: index)
        leaf.removeLeaf(at: index)
        leaf.appendStreak = 0
        leaf.lastInsert = -1
        cache.markDirty(leaf)
        try rebalance(leaf, path: &path, pins: &pins)
        cache.unpin(pins.ids)
        pins = Pins()
        try cache.evictIfOverBudget()
        return true
    }

    // MARK: Copy-on-write path

    private func writablePath(to key: UnsafeRawBufferPointer, pins: inout Pins) throws -> (node: BTreeNode, path: [(BTreeNode, Int)], bounds: LeafBounds) {
        var node = try writableRoot(pins: &pins)
        var path: [(BTreeNode, Int)] = []
        var bounds = LeafBounds()
        while !node.isLeaf {
            let i = node.childIndex(for: key)
            let child = try writableChild(of: node, at: i, pins: &pins)
            path.append((node, i))
            bounds.narrow(node, child: i)
            node = child
        }
        return (node, path, bounds)
    }

    private func writableRoot(pins: inout Pins) throws -> BTreeNode {
        let root = try pinned(rootID, pins: &pins)
        if pager.isWritable(epoch: root.epoch) { return root }
        let copy = try copyOnWrite(root, pins: &pins)
        rootID = copy.pageID
        return copy
    }

    func writableChild(of parent: BTreeNode, at index: Int, pins: inout Pins) throws -> BTreeNode {
        let child = try pinned(parent.child(index), pins: &pins)
        if pager.isWritable(epoch: child.epoch) { return child }
        let copy = try copyOnWrite(child, pins: &pins)
        parent.setChild(index, to: copy.pageID)
        cache.markDirty(parent)
        return copy
    }

    private func pinned(_ id: PageID, pins: inout Pins) throws -> BTreeNode {
        let node = try cache.node(id, pin: true)
        pins.ids.append(id)
        return node
    }

    private func copyOnWrite(_ node: BTreeNode, pins: inout Pins) throws -> BTreeNode {
        let copy = node.clone(pageID: pager.allocate(), epoch: pager.currentEpoch)
        cache.insertNew(copy, pinned: true)
        pins.ids.append(copy.pageID)
        pager.free(node.pageID, writtenIn: node.epoch)
        return copy
    }

    private func newNode(isLeaf: Bool, pins: inout Pins) -> BTreeNode {
        let node = BTreeNode(pageID: pager.allocate(), epoch: pager.currentEpoch, isLeaf: isLeaf)
        cache.insertNew(node, pinned: true)
        pins.ids.append(node.pageID)
        return node
    }

    /// Frees a node's page; a node of the current epoch is also dropped from the cache.
    private func freeNode(_ node: BTreeNode, pins: inout Pins) {
        if pager.isWritable(epoch: node.epoch) {
            pins.ids.removeAll { $0 == node.pageID }
            cache.discard(node.pageID)
        }
        pager.free(node.pageID, writtenIn: node.epoch)
    }

    /// Frees the overflow chain of leaf value `index`, if it has one.
    private func freeValue(in node: BTreeNode, at index: Int) throws {
        if let (first, length) = node.overflowChain(at: index) {
            try OverflowChain.free(first: first, length: length, pager: pager)
        }
    }

    // MARK: Split and merge

    /// Cannot fail: nothing in it reads, writes or evicts (see `PageCache.evictIfOverBudget`), so
    /// an overfull leaf is always split whole.
    private func split(_ node: inout BTreeNode, path: inout [(BTreeNode, Int)], pins: inout Pins) {
        while node.encodedBytes > PageLayout.pageSize {
            let right = newNode(isLeaf: node.isLeaf, pins: &pins)
            let separator: [UInt8]
            if node.isLeaf {
                let at = Self.leafSplitPoint(node)
                let runStaysLeft = at == node.lastInsert + 1 && at < node.count
                let appendedAtEnd = Self.isAppendSplit(node)
                node.moveLeafTail(from: at, to: right)
                if appendedAtEnd { node.shrinkToFit() }  // full and done: the load goes on in `right`
                if runStaysLeft {
                    right.appendStreak = 0  // the keys the run came in front of
                    right.lastInsert = -1
                } else {
                    right.appendStreak = node.appendStreak
                    right.lastInsert = node.lastInsert >= at ? node.lastInsert - at : -1
                    node.appendStreak = 0
                    node.lastInsert = -1
                }
                separator = right.key(at: 0)
            } else {
                separator = node.moveInteriorTail(around: node.byteMidpoint(), to: right)
            }
            cache.markDirty(node)
            cache.markDirty(right)
            if let (parent, index) = path.popLast() {
                parent.insertSeparator(at: index, key: separator, rightChild: right.pageID)
                cache.markDirty(parent)
                node = parent
            } else {
                let root = newNode(isLeaf: false, pins: &pins)
                root.firstChild = node.pageID
                root.insertSeparator(at: 0, key: separator, rightChild: right.pageID)
                cache.markDirty(root)
                rootID = root.pageID
                return
            }
        }
    }

    /// Where an overfull leaf splits (the first entry that moves right).
    ///
    /// - Sequential appends (the run's last insert is the leaf's last entry): keep the left
    ///   leaf full and start the right one with the new entry.
    /// - A run of ascending inserts in front of other keys: move the keys after the run on and
    ///   keep the run's leaf full, so the run's next keys append. This is how a table's new rows
    ///   arrive when its tree keys are followed by another collection's (an index's entries
    ///   follow its table's in the one tree): split at the middle instead, each batch after the
    ///   first left its leaves about half full, and a load in 6,250-row commits took 174 MB for
    ///   1,000,000 `(bigint primary key, text, float)` rows against 110 MB in one commit.
    /// - Otherwise the byte midpoint.
    static func leafSplitPoint(_ node: BTreeNode) -> Int {
        let last = node.lastInsert
        guard node.appendStreak >= 2, last >= 0, last < node.count else { return node.byteMidpoint() }
        if isAppendSplit(node) { return max(1, last) }
        // The run's leaf keeps the new entry when that fits a page; else the entry moves on too.
        if node.encodedBytes(through: last) <= PageLayout.pageSize { return last + 1 }
        return last >= 1 ? last : node.byteMidpoint()
    }

    /// Whether an overfull leaf's split is a load's append: a run of ascending inserts whose last
    /// went to the leaf's end. The left leaf keeps every entry but that one.
    static func isAppendSplit(_ node: BTreeNode) -> Bool {
        node.appendStreak >= 2 && node.lastInsert >= 0 && node.lastInsert == node.count - 1
    }

    /// After a delete: merge an underfull node into a sibling when both fit one page; collapse the root.
    private func rebalance(_ start: BTreeNode, path: inout [(BTreeNode, Int)], pins: inout Pins) throws {
        var node = start
        while true {
            guard let (parent, index) = path.popLast() else {
                if node.isLeaf && node.count == 0 {
                    freeNode(node, pins: &pins)
                    rootID = 0
                } else if !node.isLeaf && node.count == 0 {
                    rootID = node.child(0)
                    freeNode(node, pins: &pins)
                }
                return
            }
            let underfull = node.encodedBytes < Self.underflowBytes || (!node.isLeaf && node.count == 0)
            guard underfull, parent.childCount > 1 else { return }
            let leftIndex = index > 0 ? index - 1 : 0
            let left = leftIndex == index ? node : try writableChild(of: parent, at: leftIndex, pins: &pins)
            let right = leftIndex + 1 == index ? node : try writableChild(of: parent, at: leftIndex + 1, pins: &pins)
            let separator = parent.key(at: leftIndex)
            let merged = node.isLeaf
                ? left.encodedBytes + right.encodedBytes - PageLayout.headerBytes
                // right's first child moves into the separator's cell
                : left.encodedBytes + right.encodedBytes - PageLayout.headerBytes - 4
                    + BTreeNode.interiorCellBytes(key: separator)
            guard merged <= PageLayout.pageSize else { return }
            if node.isLeaf { left.absorbLeaf(right) } else { left.absorbInterior(right, separator: separator) }
            parent.removeSeparator(at: leftIndex)
            cache.markDirty(left)
            cache.markDirty(parent)
            freeNode(right, pins: &pins)
            node = parent
        }
    }
}
