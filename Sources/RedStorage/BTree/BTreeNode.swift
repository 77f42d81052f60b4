import RedCore

/// Where a leaf keeps a value: inside the leaf, or in a chain of overflow pages.
public enum LeafValue: Sendable, Equatable {
    case inline([UInt8])
    case overflow(firstPage: PageID, length: UInt32)

    /// Bytes the value occupies inside the leaf cell.
    var cellBytes: Int {
        switch self {
        case .inline(let v): return v.count
        case .overflow: return 4
        }
    }
}

/// One B+tree node, decoded from its page and kept in the page cache.
///
/// Nodes live in the cache as decoded objects so that B+tree operations are
/// array operations; they are encoded back into a page only when written
/// (eviction or checkpoint). A node is identified by its page and stamped
/// with the epoch it was written in: only a node of the current epoch may
/// be mutated (see `Pager`), older ones are cloned to a new page first.
///
/// Page payload, leaf (`PageType.leaf`, `count` cells, in key order):
/// ```
/// u16 keyLength | u32 valueField | key | inline value, or u32 first overflow page
/// valueField bit 31 = overflow; bits 0–30 = value length
/// ```
/// Page payload, interior (`PageType.interior`, `count` separator keys):
/// ```
/// u32 child0 | count × (u16 keyLength | u32 child | key)
/// ```
/// Search descends into `children[i]` for the first `i` with `key < keys[i]`,
/// else into the last child: child i holds keys in `[keys[i-1], keys[i])`.
public final class BTreeNode: @unchecked Sendable {
    public let pageID: PageID
    public let epoch: UInt64
    public let isLeaf: Bool
    public internal(set) var keys: [[UInt8]]
    /// The first 16 bytes of each key (zero-padded) as integers, parallel to `keys`: searches
    /// compare these and touch the key arrays only on a tie, avoiding reference counting per
    /// comparison. Every mutation of `keys` below updates it.
    private(set) var prefixes: [KeyPrefix]
    /// Leaf only, parallel to `keys`.
    public internal(set) var values: [LeafValue]
    /// Interior only, `keys.count + 1` entries.
    public internal(set) var children: [PageID]
    /// Size of the encoded page (header included); must stay ≤ page size once an operation ends.
    public private(set) var encodedBytes: Int
    /// Consecutive inserts at the end of this leaf (transient): drives the sequential-append split.
    var appendStreak = 0

    static let leafCellOverhead = 6
    static let interiorCellOverhead = 6

    init(pageID: PageID, epoch: UInt64, isLeaf: Bool) {
        self.pageID = pageID
        self.epoch = epoch
        self.isLeaf = isLeaf
        keys = []
        prefixes = []
        values = []
        children = []
        encodedBytes = PageLayout.headerBytes + (isLeaf ? 0 : 4)
    }

    /// Approximate heap bytes this node holds, for the cache's byte budget.
    var memoryFootprint: Int { encodedBytes + keys.count * 64 + 160 }

    static func leafCellBytes(key: [UInt8], value: LeafValue) -> Int {
        leafCellOverhead + key.count + value.cellBytes
    }

    static func interiorCellBytes(key: [UInt8]) -> Int { interiorCellOverhead + key.count }

    /// A mutable copy living in page `newID` of epoch `epoch`.
    func clone(pageID newID: PageID, epoch: UInt64) -> BTreeNode {
        let copy = BTreeNode(pageID: newID, epoch: epoch, isLeaf: isLeaf)
        copy.keys = keys
        copy.prefixes = prefixes
        copy.values = values
        copy.children = children
        copy.encodedBytes = encodedBytes
        return copy
    }

    // MARK: Search

    /// First index whose key is ≥ `key`, and whether it is equal.
    func search(_ key: [UInt8]) -> (index: Int, found: Bool) {
        let probe = KeyPrefix(key)
        var lo = 0
        var hi = keys.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            let c = compare(at: mid, key, probe)
            if c < 0 { lo = mid + 1 } else if c > 0 { hi = mid } else { return (mid, true) }
        }
        return (lo, false)
    }

    /// `compareKeys(keys[i], key)`, decided by the prefixes unless they tie.
    @inline(__always)
    func compare(at i: Int, _ key: [UInt8], _ probe: KeyPrefix) -> Int {
        let p = prefixes[i]
        if p.hi != probe.hi { return p.hi < probe.hi ? -1 : 1 }
        if p.lo != probe.lo { return p.lo < probe.lo ? -1 : 1 }
        return compareKeys(keys[i], key)
    }

    /// First index whose key is > `key`.
    func upperBound(_ key: [UInt8]) -> Int {
        let probe = KeyPrefix(key)
        var lo = 0
        var hi = keys.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if compare(at: mid, key, probe) <= 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Child to descend into for `key` (interior only).
    func childIndex(for key: [UInt8]) -> Int { upperBound(key) }

    // MARK: Leaf mutation

    func insertLeaf(at index: Int, key: [UInt8], value: LeafValue) {
        keys.insert(key, at: index)
        prefixes.insert(KeyPrefix(key), at: index)
        values.insert(value, at: index)
        encodedBytes += Self.leafCellBytes(key: key, value: value)
    }

    func replaceValue(at index: Int, with value: LeafValue) {
        encodedBytes += value.cellBytes - values[index].cellBytes
        values[index] = value
    }

    func removeLeaf(at index: Int) {
        encodedBytes -= Self.leafCellBytes(key: keys[index], value: values[index])
        keys.remove(at: index)
        prefixes.remove(at: index)
        values.remove(at: index)
    }

    // MARK: Interior mutation

    /// Inserts separator `key` at `index` with `child` as the child right of it.
    func insertSeparator(at index: Int, key: [UInt8], rightChild child: PageID) {
        keys.insert(key, at: index)
        prefixes.insert(KeyPrefix(key), at: index)
        children.insert(child, at: index + 1)
        encodedBytes += Self.interiorCellBytes(key: key)
    }

    /// Removes separator `index` and the child right of it.
    func removeSeparator(at index: Int) {
        encodedBytes -= Self.interiorCellBytes(key: keys[index])
        keys.remove(at: index)
        prefixes.remove(at: index)
        children.remove(at: index + 1)
    }

    func setChild(_ index: Int, to id: PageID) { children[index] = id }

    // MARK: Splits and merges

    /// Moves entries `[from...]` (leaf) into the empty node `right`.
    func moveLeafTail(from index: Int, to right: BTreeNode) {
        for i in index..<keys.count { right.insertLeaf(at: right.keys.count, key: keys[i], value: values[i]) }
        var removed = 0
        for i in index..<keys.count { removed += Self.leafCellBytes(key: keys[i], value: values[i]) }
        keys.removeSubrange(index...)
        prefixes.removeSubrange(index...)
        values.removeSubrange(index...)
        encodedBytes -= removed
    }

    /// Splits an interior node around separator `index`: keys after it and
    /// their children move to `right`; returns the separator to push up.
    func moveInteriorTail(around index: Int, to right: BTreeNode) -> [UInt8] {
        let separator = keys[index]
        right.children = [children[index + 1]]
        for i in (index + 1)..<keys.count {
            right.insertSeparator(at: right.keys.count, key: keys[i], rightChild: children[i + 1])
        }
        var removed = Self.interiorCellBytes(key: separator)
        for i in (index + 1)..<keys.count { removed += Self.interiorCellBytes(key: keys[i]) }
        keys.removeSubrange(index...)
        prefixes.removeSubrange(index...)
        children.removeSubrange((index + 1)...)
        encodedBytes -= removed
        return separator
    }

    /// Index splitting the node's cells into two roughly equal byte halves,
    /// in `1...keys.count - 1` for leaves and `1...keys.count - 2` for interiors.
    func byteMidpoint() -> Int {
        let total = encodedBytes - PageLayout.headerBytes
        var acc = 0
        let last = isLeaf ? keys.count - 1 : keys.count - 2
        for i in 0..<keys.count {
            acc += isLeaf ? Self.leafCellBytes(key: keys[i], value: values[i]) : Self.interiorCellBytes(key: keys[i])
            if acc * 2 >= total { return max(1, min(i + 1, last)) }
        }
        return max(1, last)
    }

    /// Appends every entry of `right` (leaf) to this node.
    func absorbLeaf(_ right: BTreeNode) {
        for i in 0..<right.keys.count { insertLeaf(at: keys.count, key: right.keys[i], value: right.values[i]) }
    }

    /// Appends `separator` and every entry of `right` (interior) to this node.
    func absorbInterior(_ right: BTreeNode, separator: [UInt8]) {
        insertSeparator(at: keys.count, key: separator, rightChild: right.children[0])
        for i in 0..<right.keys.count {
            insertSeparator(at: keys.count, key: right.keys[i], rightChild: right.children[i + 1])
        }
    }

    // MARK: Encoding

    func encode() -> PageImage {
        var page = PageImage(type: isLeaf ? .leaf : .interior, id: pageID, epoch: epoch)
        var o = PageLayout.headerBytes
        if isLeaf {
            for i in 0..<keys.count {
                let key = keys[i]
                page.setU16(o, UInt16(key.count))
                switch values[i] {
                case .inline(let v):
                    page.setU32(o + 2, UInt32(v.count))
                    page.bytes.replaceSubrange((o + 6)..<(o + 6 + key.count), with: key)
                    o += 6 + key.count
                    page.bytes.replaceSubrange(o..<(o + v.count), with: v)
                    o += v.count
                case .overflow(let first, let length):
                    page.setU32(o + 2, length | 0x8000_0000)
                    page.bytes.replaceSubrange((o + 6)..<(o + 6 + key.count), with: key)
                    o += 6 + key.count
                    page.setU32(o, first)
                    o += 4
                }
            }
        } else {
            page.setU32(o, children[0])
            o += 4
            for i in 0..<keys.count {
                let key = keys[i]
                page.setU16(o, UInt16(key.count))
                page.setU32(o + 2, children[i + 1])
                page.bytes.replaceSubrange((o + 6)..<(o + 6 + key.count), with: key)
                o += 6 + key.count
            }
        }
        precondition(o == encodedBytes && o <= PageLayout.pageSize, "node \(pageID) encodes to \(o), tracked \(encodedBytes)")
        page.count = keys.count
        page.payloadBytes = o - PageLayout.headerBytes
        return page
    }

    /// Decodes a verified leaf or interior page, checking every length.
    static func decode(_ page: PageImage, file: String) throws -> BTreeNode {
        guard let type = page.type, type == .leaf || type == .interior else {
            throw RedError(.dataCorrupted, "\(file): page \(page.pageID) is not a B+tree page (type \(String(describing: page.type)))")
        }
        let node = BTreeNode(pageID: page.pageID, epoch: page.epoch, isLeaf: type == .leaf)
        let end = PageLayout.headerBytes + page.payloadBytes
        var o = PageLayout.headerBytes
        func bad(_ what: String) -> RedError {
            RedError(.dataCorrupted, "\(file): B+tree page \(page.pageID) is malformed (\(what) at byte \(o))")
        }
        let count = page.count
        node.keys.reserveCapacity(count)
        if type == .leaf {
            node.values.reserveCapacity(count)
            for _ in 0..<count {
                guard o + 6 <= end else { throw bad("cell header") }
                let keyLength = Int(page.u16(o))
                let field = page.u32(o + 2)
                let isOverflow = field & 0x8000_0000 != 0
                let length = Int(field & 0x7FFF_FFFF)
                let valueBytes = isOverflow ? 4 : length
                guard o + 6 + keyLength + valueBytes <= end else { throw bad("cell body") }
                let key = Array(page.bytes[(o + 6)..<(o + 6 + keyLength)])
                o += 6 + keyLength
                let value: LeafValue
                if isOverflow {
                    value = .overflow(firstPage: page.u32(o), length: UInt32(length))
                } else {
                    value = .inline(Array(page.bytes[o..<(o + length)]))
                }
                o += valueBytes
                node.insertLeaf(at: node.keys.count, key: key, value: value)
            }
        } else {
            guard o + 4 <= end else { throw bad("first child") }
            node.children = [page.u32(o)]
            o += 4
            for _ in 0..<count {
                guard o + 6 <= end else { throw bad("cell header") }
                let keyLength = Int(page.u16(o))
                let child = page.u32(o + 2)
                guard o + 6 + keyLength <= end else { throw bad("separator") }
                let key = Array(page.bytes[(o + 6)..<(o + 6 + keyLength)])
                o += 6 + keyLength
                node.insertSeparator(at: node.keys.count, key: key, rightChild: child)
            }
        }
        guard o == end else { throw bad("trailing bytes") }
        return node
    }
}

/// A key's first 16 bytes, zero-padded, as two big-endian integers. Comparing two prefixes
/// orders keys exactly as `compareKeys` does whenever the prefixes differ; equal prefixes
/// need the full comparison (the keys may differ later, or only in length).
struct KeyPrefix: Sendable {
    let hi: UInt64
    let lo: UInt64

    @inline(__always)
    init(_ key: [UInt8]) {
        var hi: UInt64 = 0, lo: UInt64 = 0
        key.withUnsafeBufferPointer { b in
            let n = b.count
            if n >= 16 {
                for j in 0..<8 { hi = (hi << 8) | UInt64(b[j]) }
                for j in 8..<16 { lo = (lo << 8) | UInt64(b[j]) }
            } else {
                for j in 0..<8 { hi = (hi << 8) | UInt64(j < n ? b[j] : 0) }
                for j in 8..<16 { lo = (lo << 8) | UInt64(j < n ? b[j] : 0) }
            }
        }
        self.hi = hi
        self.lo = lo
    }
}
