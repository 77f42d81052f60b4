import RedCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

/// A leaf value being written: inline as `head` followed by `body` (see `ValueHead`), or
/// the reference to an overflow chain.
enum CellValue {
    case inline(head: ValueHead, body: [UInt8])
    case overflow(firstPage: PageID, length: UInt32)

    init(_ value: LeafValue) {
        switch value {
        case .inline(let v): self = .inline(head: .empty, body: v)
        case .overflow(let first, let length): self = .overflow(firstPage: first, length: length)
        }
    }

    /// Bytes the value occupies inside the leaf cell.
    var cellBytes: Int {
        switch self {
        case .inline(let head, let body): return head.count + body.count
        case .overflow: return 4
        }
    }

    /// The cell's u32 value field: the length, with bit 31 set for an overflow chain.
    var field: UInt32 {
        switch self {
        case .inline(let head, let body): return UInt32(head.count + body.count)
        case .overflow(_, let length): return length | BTreeNode.overflowFlag
        }
    }
}

/// One B+tree node, kept in the page cache in its page's own cell layout.
///
/// **Why one buffer.** A node holds its cells exactly as the page payload does,
/// in one byte buffer (`bytes`, `used` of `capacity`), with the start of each cell in
/// `offsets`. The buffer is the node's own memory (allocated and freed by it, never
/// shared): an `[UInt8]` would check uniqueness and exclusive access on every append,
/// which a load does several times per key.
/// Decoding a page is one copy plus an offset scan, encoding it one copy back,
/// and inserting a key moves bytes inside the buffer: no heap object per key
/// or value, so a bulk load, a checkpoint or a scan that misses the cache does
/// not allocate (and later free and reference-count) two arrays per entry. A
/// node also takes about half the memory it did as arrays of arrays, so the
/// cache's byte budget holds about twice the rows.
///
/// Nodes live in the cache; they are encoded back into a page only when
/// written (eviction or checkpoint). A node is identified by its page and
/// stamped with the epoch it was written in: only a node of the current epoch
/// may be mutated (see `Pager`), older ones are cloned to a new page first.
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
/// The buffer holds everything after `child0` (kept in `firstChild`). Search
/// descends into child `i` for the first `i` with `key < key(i)`, else into the
/// last child: child i holds keys in `[key(i-1), key(i))`, and child `i + 1` is
/// the one stored in cell `i`.
public final class BTreeNode: @unchecked Sendable {
    public let pageID: PageID
    public let epoch: UInt64
    public let isLeaf: Bool
    /// The cells, in key order, byte for byte as in the page payload: `used` of `capacity` bytes.
    ///
    /// The mutable fields skip Swift's run-time exclusivity checks (`@exclusivity(unchecked)`):
    /// a node is only ever written under the tree's exclusive lock, and the checks cost a call
    /// on every cell a load inserts.
    @exclusivity(unchecked) private var bytes: UnsafeMutableRawPointer
    @exclusivity(unchecked) private(set) var used = 0
    @exclusivity(unchecked) private var capacity: Int
    /// Where each cell starts in the buffer.
    @exclusivity(unchecked) private(set) var offsets: [Int32]
    /// The first 16 bytes of each key (zero-padded) as integers, parallel to `offsets`:
    /// searches compare these and read the key bytes only on a tie.
    @exclusivity(unchecked) private(set) var prefixes: [KeyPrefix]
    /// Interior only: the child left of every separator.
    var firstChild: PageID = 0
    /// Consecutive inserts each just after the one before (transient): drives the sequential
    /// split (`BTree.split`). Most are at the leaf's end (a load's appends); some run in front of
    /// other keys, as a table's new rows do in front of the next collection's keys.
    var appendStreak = 0
    /// Where the last insert into this leaf went (transient; -1: unknown).
    var lastInsert = -1

    static let leafCellOverhead = 6
    static let interiorCellOverhead = 6
    static let overflowFlag: UInt32 = 0x8000_0000

    /// A node about to be filled by writes: room for a whole page, so it does not reallocate.
    init(pageID: PageID, epoch: UInt64, isLeaf: Bool) {
        self.pageID = pageID
        self.epoch = epoch
        self.isLeaf = isLeaf
        capacity = Self.maxCellBytes
        bytes = .allocate(byteCount: capacity, alignment: 8)
        offsets = []
        prefixes = []
    }

    /// A node holding a copy of `cells` (a decoded page: exactly its size, grown on a write).
    private init(pageID: PageID, epoch: UInt64, isLeaf: Bool, cells: UnsafeRawBufferPointer) {
        self.pageID = pageID
        self.epoch = epoch
        self.isLeaf = isLeaf
        capacity = max(cells.count, 16)
        bytes = .allocate(byteCount: capacity, alignment: 8)
        if cells.count > 0 { bytes.copyMemory(from: cells.baseAddress!, byteCount: cells.count) }
        used = cells.count
        offsets = []
        prefixes = []
    }

    deinit { bytes.deallocate() }

    /// Most bytes of cells a node holds: a full page and the one cell that overfills it until
    /// the split (or a value replaced by a larger one).
    static let maxCellBytes = PageLayout.pageSize + BTree.maxInlineCellBytes

    /// Makes room for `total` bytes of cells: a decoded node (sized to its page) that is
    /// written to grows once, to the most a node can hold.
    private func reserve(_ total: Int) {
        guard total > capacity else { return }
        let grown = max(total, Self.maxCellBytes)
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 8)
        fresh.copyMemory(from: bytes, byteCount: used)
        bytes.deallocate()
        bytes = fresh
        capacity = grown
    }

    /// Gives back the buffer's room beyond the cells, for a leaf a load has finished with.
    ///
    /// Why: a written node's buffer holds a page and one more cell (`maxCellBytes`), a quarter
    /// more than a full page needs. A leaf an append split leaves behind is full and stays
    /// as it is (the load goes on in the new leaf), so the slack would sit in the cache for
    /// as long as the leaf does, and count against its byte budget. A later write grows the
    /// buffer again (`reserve`).
    func shrinkToFit() {
        let fitted = max(used, 16)
        guard fitted < capacity else { return }
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: fitted, alignment: 8)
        fresh.copyMemory(from: bytes, byteCount: used)
        bytes.deallocate()
        bytes = fresh
        capacity = fitted
    }

    /// Entries (leaf) or separator keys (interior).
    public var count: Int { offsets.count }

    /// Bytes of the cells `0...index`, as they would take in a page (header included).
    func encodedBytes(through index: Int) -> Int { PageLayout.headerBytes + (isLeaf ? 0 : 4) + end(index) }
    /// Interior only.
    var childCount: Int { offsets.count + 1 }

    /// Size of the encoded page (header included); must stay ≤ page size once an operation ends.
    public var encodedBytes: Int { PageLayout.headerBytes + (isLeaf ? 0 : 4) + used }

    /// Bytes of the cell buffer (`used` of them hold cells).
    var bufferBytes: Int { capacity }

    /// Approximate heap bytes this node holds, for the cache's byte budget.
    var memoryFootprint: Int { capacity + offsets.count * 24 + 160 }

    static func leafCellBytes(key: [UInt8], value: LeafValue) -> Int {
        leafCellOverhead + key.count + value.cellBytes
    }

    static func interiorCellBytes(key: [UInt8]) -> Int { interiorCellOverhead + key.count }

    /// A mutable copy living in page `newID` of epoch `epoch`.
    func clone(pageID newID: PageID, epoch: UInt64) -> BTreeNode {
        let copy = BTreeNode(pageID: newID, epoch: epoch, isLeaf: isLeaf)
        copy.reserve(used)
        copy.bytes.copyMemory(from: bytes, byteCount: used)
        copy.used = used
        copy.offsets = offsets
        copy.prefixes = prefixes
        copy.firstChild = firstChild
        return copy
    }

    // MARK: Cell access

    @inline(__always) private func start(_ i: Int) -> Int { Int(offsets[i]) }
    @inline(__always) private func end(_ i: Int) -> Int { i + 1 < offsets.count ? Int(offsets[i + 1]) : used }

    @inline(__always) private func u16(at o: Int) -> Int {
        Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
    }

    @inline(__always) private func u32(at o: Int) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt32.self))
    }

    @inline(__always) private func setU32(at o: Int, _ v: UInt32) {
        bytes.storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt32.self)
    }

    /// Key `i`, copied out.
    public func key(at i: Int) -> [UInt8] {
        let o = start(i)
        return copyOut(from: o + 6, count: u16(at: o))
    }

    /// Leaf cell `i` read in place: its key, and its value unless that lives in overflow pages
    /// (nil: take `value(at:)`). The bytes are valid only during the call, under the tree's lock.
    public func withCell<R>(_ i: Int, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) throws -> R) rethrows -> R {
        let o = start(i)
        let keyLength = u16(at: o)
        let field = u32(at: o + 2)
        let key = UnsafeRawBufferPointer(start: bytes + o + 6, count: keyLength)
        let value = field & Self.overflowFlag != 0 ? nil : UnsafeRawBufferPointer(start: bytes + o + 6 + keyLength, count: Int(field))
        return try body(key, value)
    }

    /// Leaf value `i` as stored (an inline value is copied out; overflow is not followed).
    public func value(at i: Int) -> LeafValue {
        let o = start(i)
        let keyLength = u16(at: o)
        let field = u32(at: o + 2)
        let valueStart = o + 6 + keyLength
        if field & Self.overflowFlag != 0 {
            return .overflow(firstPage: u32(at: valueStart), length: field & ~Self.overflowFlag)
        }
        return .inline(copyOut(from: valueStart, count: Int(field)))
    }

    @inline(__always) private func copyOut(from o: Int, count: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: bytes + o, count: count))
    }

    /// The overflow chain of leaf value `i`, if it has one (nothing is copied).
    func overflowChain(at i: Int) -> (firstPage: PageID, length: UInt32)? {
        let o = start(i)
        let field = u32(at: o + 2)
        guard field & Self.overflowFlag != 0 else { return nil }
        return (u32(at: o + 6 + u16(at: o)), field & ~Self.overflowFlag)
    }

    /// Interior child `i`, in `0..<childCount`.
    func child(_ i: Int) -> PageID { i == 0 ? firstChild : u32(at: start(i - 1) + 2) }

    func setChild(_ i: Int, to id: PageID) {
        if i == 0 { firstChild = id } else { setU32(at: start(i - 1) + 2, id) }
    }

    /// Every key, copied out (for the verifier and tests; searches never need it).
    var allKeys: [[UInt8]] { (0..<count).map { key(at: $0) } }
    /// Every leaf value (for the verifier and tests).
    var allValues: [LeafValue] { (0..<count).map { value(at: $0) } }
    /// Every child of an interior node (for the verifier and tests).
    var allChildren: [PageID] { (0..<childCount).map { child($0) } }

    // MARK: Search

    /// First index whose key is ≥ `key`, and whether it is equal.
    func search(_ key: [UInt8]) -> (index: Int, found: Bool) { key.withUnsafeBytes { search($0) } }

    /// `search` for key bytes the caller holds (a batch write's keys, read in place).
    func search(_ key: UnsafeRawBufferPointer) -> (index: Int, found: Bool) {
        let probe = KeyPrefix(key)
        var lo = 0
        var hi = offsets.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            let c = compare(at: mid, key, probe)
            if c < 0 { lo = mid + 1 } else if c > 0 { hi = mid } else { return (mid, true) }
        }
        return (lo, false)
    }

    /// `compareKeys(key(at: i), key)`, decided by the prefixes unless they tie.
    @inline(__always)
    func compare(at i: Int, _ key: UnsafeRawBufferPointer, _ probe: KeyPrefix) -> Int {
        let p = prefixes[i]
        if p.hi != probe.hi { return p.hi < probe.hi ? -1 : 1 }
        if p.lo != probe.lo { return p.lo < probe.lo ? -1 : 1 }
        return compareStored(at: i, key)
    }

    /// Full comparison of key `i` with `key`: memcmp, then length.
    func compareStored(at i: Int, _ key: UnsafeRawBufferPointer) -> Int {
        let o = start(i)
        let length = u16(at: o)
        let n = min(length, key.count)
        if n > 0 {
            let c = memcmp(bytes + o + 6, key.baseAddress!, n)
            if c != 0 { return Int(c) }
        }
        return length - key.count
    }

    /// First index whose key is > `key`.
    func upperBound(_ key: [UInt8]) -> Int { key.withUnsafeBytes { upperBound($0) } }

    /// First index whose key is > `key`.
    func upperBound(_ key: UnsafeRawBufferPointer) -> Int {
        let probe = KeyPrefix(key)
        var lo = 0
        var hi = offsets.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if compare(at: mid, key, probe) <= 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Child to descend into for `key` (interior only).
    func childIndex(for key: [UInt8]) -> Int { upperBound(key) }

    /// Child to descend into for `key` (interior only).
    func childIndex(for key: UnsafeRawBufferPointer) -> Int { upperBound(key) }

    // MARK: Cell layout changes

    /// What follows a cell's key: nothing (a separator), an inline value as head and body,
    /// or an overflow chain's first page.
    private enum CellTail {
        case none
        case inline(ValueHead, UnsafeRawBufferPointer)
        case overflow(PageID)
    }

    /// Inserts a new cell `i`: `u16 keyLength | u32 field | key | tail`. The cell is appended
    /// (a load's usual case, as keys arrive in order) and, if it belongs before other cells,
    /// rotated into place with one move of the cells after it.
    private func insertCell(at i: Int, key: UnsafeRawBufferPointer, field: UInt32, tail: CellTail) {
        let at = i < offsets.count ? start(i) : used
        var length = 6 + key.count
        switch tail {
        case .inline(let head, let body): length += head.count + body.count
        case .overflow: length += 4
        case .none: break
        }
        reserve(used + length)
        if at < used { memmove(bytes + at + length, bytes + at, used - at) }
        let cell = bytes + at
        cell.storeBytes(of: UInt16(key.count).littleEndian, as: UInt16.self)
        cell.storeBytes(of: field.littleEndian, toByteOffset: 2, as: UInt32.self)
        var o = 6
        if key.count > 0 { (cell + o).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        o += key.count
        switch tail {
        case .inline(let head, let body):
            head.withUnsafeBytes { h in
                if h.count > 0 { (cell + o).copyMemory(from: h.baseAddress!, byteCount: h.count) }
            }
            o += head.count
            if body.count > 0 { (cell + o).copyMemory(from: body.baseAddress!, byteCount: body.count) }
        case .overflow(let first):
            (cell + o).storeBytes(of: first.littleEndian, as: UInt32.self)
        case .none:
            break
        }
        used += length
        if i == offsets.count {
            offsets.append(Int32(at))
            prefixes.append(KeyPrefix(key))
        } else {
            offsets.insert(Int32(at), at: i)
            prefixes.insert(KeyPrefix(key), at: i)
            let shift = Int32(length)
            for j in (i + 1)..<offsets.count { offsets[j] += shift }
        }
    }

    /// Removes cell `i`, closing the gap.
    private func removeCell(at i: Int) {
        let from = start(i)
        let to = end(i)
        if to < used { memmove(bytes + from, bytes + to, used - to) }
        used -= to - from
        offsets.remove(at: i)
        prefixes.remove(at: i)
        let shift = Int32(to - from)
        for j in i..<offsets.count { offsets[j] -= shift }
    }

    // MARK: Leaf mutation

    func insertLeaf(at index: Int, key: [UInt8], value: LeafValue) {
        insertLeaf(at: index, key: key, cell: CellValue(value))
    }

    func insertLeaf(at index: Int, key: [UInt8], cell value: CellValue) {
        key.withUnsafeBytes { insertLeaf(at: index, key: $0, cell: value) }
    }

    func insertLeaf(at index: Int, key: UnsafeRawBufferPointer, cell value: CellValue) {
        switch value {
        case .inline(let head, let body):
            body.withUnsafeBytes { insertLeaf(at: index, key: key, head: head, body: $0) }
        case .overflow(let first, _):
            insertCell(at: index, key: key, field: value.field, tail: .overflow(first))
        }
    }

    /// Inserts an inline value (`head` then `body`) from bytes the caller holds.
    func insertLeaf(at index: Int, key: UnsafeRawBufferPointer, head: ValueHead, body: UnsafeRawBufferPointer) {
        insertCell(at: index, key: key, field: UInt32(head.count + body.count), tail: .inline(head, body))
    }

    func replaceValue(at index: Int, with value: LeafValue) {
        replaceValue(at: index, with: CellValue(value))
    }

    func replaceValue(at index: Int, with value: CellValue) {
        switch value {
        case .inline(let head, let body):
            body.withUnsafeBytes { replaceValue(at: index, field: value.field, tail: .inline(head, $0)) }
        case .overflow(let first, _):
            replaceValue(at: index, field: value.field, tail: .overflow(first))
        }
    }

    /// Replaces value `index` with an inline value (`head` then `body`) from bytes the caller holds.
    func replaceValue(at index: Int, head: ValueHead, body: UnsafeRawBufferPointer) {
        replaceValue(at: index, field: UInt32(head.count + body.count), tail: .inline(head, body))
    }

    private func replaceValue(at index: Int, field: UInt32, tail: CellTail) {
        let o = start(index)
        let keyLength = u16(at: o)
        let valueStart = o + 6 + keyLength
        let oldEnd = end(index)
        let newEnd: Int
        switch tail {
        case .inline(let head, let body): newEnd = valueStart + head.count + body.count
        case .overflow: newEnd = valueStart + 4
        case .none: newEnd = valueStart
        }
        let delta = newEnd - oldEnd
        if delta != 0 {
            reserve(used + delta)
            if oldEnd < used { memmove(bytes + newEnd, bytes + oldEnd, used - oldEnd) }
            used += delta
            let shift = Int32(delta)
            for j in (index + 1)..<offsets.count { offsets[j] += shift }
        }
        setU32(at: o + 2, field)
        let base = bytes + valueStart
        switch tail {
        case .inline(let head, let body):
            head.withUnsafeBytes { h in
                if h.count > 0 { base.copyMemory(from: h.baseAddress!, byteCount: h.count) }
            }
            if body.count > 0 { (base + head.count).copyMemory(from: body.baseAddress!, byteCount: body.count) }
        case .overflow(let first):
            base.storeBytes(of: first.littleEndian, as: UInt32.self)
        case .none:
            break
        }
    }

    func removeLeaf(at index: Int) { removeCell(at: index) }

    // MARK: Interior mutation

    /// Inserts separator `key` at `index` with `child` as the child right of it.
    func insertSeparator(at index: Int, key: [UInt8], rightChild child: PageID) {
        key.withUnsafeBytes { insertCell(at: index, key: $0, field: child, tail: .none) }
    }

    /// Removes separator `index` and the child right of it.
    func removeSeparator(at index: Int) { removeCell(at: index) }

    // MARK: Splits and merges

    /// Appends cells `range` of `other` (whole cells, already in order after ours).
    private func appendCells(of other: BTreeNode, _ range: Range<Int>) {
        guard !range.isEmpty else { return }
        let from = other.start(range.lowerBound)
        let to = other.end(range.upperBound - 1)
        let shift = Int32(used - from)
        reserve(used + to - from)
        (bytes + used).copyMemory(from: other.bytes + from, byteCount: to - from)
        used += to - from
        offsets.append(contentsOf: other.offsets[range].map { $0 + shift })
        prefixes.append(contentsOf: other.prefixes[range])
    }

    /// Drops cells `index...`.
    private func truncate(at index: Int) {
        guard index < offsets.count else { return }
        used = start(index)
        offsets.removeSubrange(index...)
        prefixes.removeSubrange(index...)
    }

    /// Moves entries `[from...]` (leaf) into the empty node `right`.
    func moveLeafTail(from index: Int, to right: BTreeNode) {
        right.appendCells(of: self, index..<offsets.count)
        truncate(at: index)
    }

    /// Splits an interior node around separator `index`: keys after it and
    /// their children move to `right`; returns the separator to push up.
    func moveInteriorTail(around index: Int, to right: BTreeNode) -> [UInt8] {
        let separator = key(at: index)
        right.firstChild = child(index + 1)
        right.appendCells(of: self, (index + 1)..<offsets.count)
        truncate(at: index)
        return separator
    }

    /// Index splitting the node's cells into two roughly equal byte halves,
    /// in `1...count - 1` for leaves and `1...count - 2` for interiors.
    func byteMidpoint() -> Int {
        let total = used
        let last = isLeaf ? offsets.count - 1 : offsets.count - 2
        for i in 0..<offsets.count where end(i) * 2 >= total {
            return max(1, min(i + 1, last))
        }
        return max(1, last)
    }

    /// Appends every entry of `right` (leaf) to this node.
    func absorbLeaf(_ right: BTreeNode) {
        appendCells(of: right, 0..<right.count)
    }

    /// Appends `separator` and every entry of `right` (interior) to this node.
    func absorbInterior(_ right: BTreeNode, separator: [UInt8]) {
        insertSeparator(at: offsets.count, key: separator, rightChild: right.firstChild)
        appendCells(of: right, 0..<right.count)
    }

    // MARK: Encoding

    func encode() -> PageImage {
        var page = PageImage(type: isLeaf ? .leaf : .interior, id: pageID, epoch: epoch)
        page.bytes.withUnsafeMutableBytes { encode(into: $0) }
        return page
    }

    /// Writes the node's page (header, unsealed, and payload; the rest zero) into `page`,
    /// which holds exactly one page: a checkpoint encodes runs of pages into one buffer.
    func encode(into page: UnsafeMutableRawBufferPointer) {
        precondition(page.count == PageLayout.pageSize && encodedBytes <= PageLayout.pageSize,
                     "node \(pageID) encodes to \(encodedBytes) bytes")
        let base = page.baseAddress!
        var o = PageLayout.headerBytes
        if !isLeaf {
            base.storeBytes(of: firstChild.littleEndian, toByteOffset: o, as: UInt32.self)
            o += 4
        }
        if used > 0 { (base + o).copyMemory(from: bytes, byteCount: used) }
        let end = o + used
        if end < PageLayout.pageSize { (base + end).initializeMemory(as: UInt8.self, repeating: 0, count: PageLayout.pageSize - end) }
        PageImage.writeHeader(into: page, type: isLeaf ? .leaf : .interior, id: pageID, epoch: epoch,
                              count: offsets.count, payloadBytes: end - PageLayout.headerBytes)
    }

    /// Decodes a verified leaf or interior page, checking every length.
    static func decode(_ page: PageImage, file: String) throws -> BTreeNode {
        guard let type = page.type, type == .leaf || type == .interior else {
            throw RedError(.dataCorrupted, "\(file): page \(page.pageID) is not a B+tree page (type \(String(describing: page.type)))")
        }
        let isLeaf = type == .leaf
        let end = PageLayout.headerBytes + page.payloadBytes
        var o = PageLayout.headerBytes
        func bad(_ what: String) -> RedError {
            RedError(.dataCorrupted, "\(file): B+tree page \(page.pageID) is malformed (\(what) at byte \(o))")
        }
        var firstChild: PageID = 0
        if !isLeaf {
            guard o + 4 <= end else { throw bad("first child") }
            firstChild = page.u32(o)
            o += 4
        }
        let cellsStart = o
        let count = page.count
        var offsets: [Int32] = []
        offsets.reserveCapacity(count)
        for _ in 0..<count {
            guard o + 6 <= end else { throw bad("cell header") }
            let keyLength = Int(page.u16(o))
            var tail = 0
            if isLeaf {
                let field = page.u32(o + 2)
                tail = field & overflowFlag != 0 ? 4 : Int(field & ~overflowFlag)
            }
            guard o + 6 + keyLength + tail <= end else { throw bad(isLeaf ? "cell body" : "separator") }
            offsets.append(Int32(o - cellsStart))
            o += 6 + keyLength + tail
        }
        guard o == end else { throw bad("trailing bytes") }
        let node = page.bytes.withUnsafeBytes { p in
            BTreeNode(pageID: page.pageID, epoch: page.epoch, isLeaf: isLeaf,
                      cells: UnsafeRawBufferPointer(rebasing: p[cellsStart..<end]))
        }
        node.firstChild = firstChild
        node.offsets = offsets
        node.prefixes.reserveCapacity(count)
        do {
            let c = UnsafeRawBufferPointer(start: node.bytes, count: node.used)
            for cell in offsets {
                let at = Int(cell)
                let keyLength = Int(UInt16(littleEndian: c.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
                node.prefixes.append(KeyPrefix(UnsafeRawBufferPointer(rebasing: c[(at + 6)..<(at + 6 + keyLength)])))
            }
        }
        return node
    }
}

/// A key's first 16 bytes, zero-padded, as two big-endian integers. Comparing two prefixes
/// orders keys exactly as `compareKeys` does whenever the prefixes differ; equal prefixes
/// need the full comparison (the keys may differ later, or only in length).
struct KeyPrefix: Sendable, Equatable {
    let hi: UInt64
    let lo: UInt64

    @inline(__always)
    init(_ key: [UInt8]) {
        self = key.withUnsafeBytes { KeyPrefix($0) }
    }

    @inline(__always)
    init(_ b: UnsafeRawBufferPointer) {
        var hi: UInt64 = 0, lo: UInt64 = 0
        let n = b.count
        if n >= 16 {
            hi = UInt64(bigEndian: b.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
            lo = UInt64(bigEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        } else {
            for j in 0..<8 { hi = (hi << 8) | UInt64(j < n ? b[j] : 0) }
            for j in 8..<16 { lo = (lo << 8) | UInt64(j < n ? b[j] : 0) }
        }
        self.hi = hi
        self.lo = lo
    }
}
