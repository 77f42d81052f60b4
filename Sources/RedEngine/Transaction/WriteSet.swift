import RedCore
import RedStorage

/// A transaction's pending writes, by tree key, kept in key order as they arrive.
///
/// Why not a hash map: a bulk load writes hundreds of thousands of keys in
/// one transaction, and a hash map then spends its time on cache misses
/// (every probe chases a key's heap buffer) and on rehashing as it grows,
/// and commit must sort every key afterwards. But a load's keys almost
/// always arrive in ascending order per collection (row ids are allocated
/// upwards; sequential primary keys make their index keys ascend too).
///
/// So each collection keeps a *run*: keys in ascending order with their
/// writes, where a key above the run's last is an append (O(1)) and a key
/// already in the run is found by binary search. A key that arrives out of
/// order and is not in the run goes to the run's `overflow`, found by a hash map.
/// Invariant: overflow keys are all below the run's last key (so the two
/// never hold the same key), because the run only grows upwards.
/// `sortedRuns()` merges each run with its sorted overflow, collections in id
/// order, which is tree-key order (the 4-byte big-endian collection id
/// leads every tree key).
///
/// **Bytes.** Every key and value is copied into the write set's `ByteArena` and
/// referred to by pointer (`PendingWrite`): no heap object per key or value, and a
/// commit reads them back from a few contiguous chunks. A value replaced within the
/// transaction is appended again (bytes are never overwritten, so a savepoint's copy
/// of the write set stays valid); the transaction's byte limit counts every write,
/// replacements included, so this stays bounded.
struct WriteSet: Sendable {
    private struct Run {
        var writes: [PendingWrite] = []
        /// Writes whose keys came out of order, in arrival order, found by key through
        /// `overflowIndex`. Keys are hashed and compared where they lie in the arena: no array
        /// per key (a load into a table with a secondary index sends every index key here).
        var overflow: [PendingWrite] = []
        var overflowIndex: [ArenaKey: Int] = [:]
        /// `overflow`'s positions in key order, kept between writes that add none (cursors ask repeatedly).
        var sortedOverflow: [Int]?

        /// The key's index in the ascending run, if it is there.
        func position(of key: UnsafeRawBufferPointer) -> Int? {
            var lo = 0
            var hi = writes.count
            while lo < hi {
                let mid = (lo + hi) >> 1
                let c = compareKeys(writes[mid].key, key)
                if c < 0 { lo = mid + 1 } else if c > 0 { hi = mid } else { return mid }
            }
            return nil
        }

        /// The out-of-order write of `key`, if any.
        func overflowWrite(_ key: UnsafeRawBufferPointer) -> PendingWrite? {
            overflowIndex.isEmpty ? nil : overflowIndex[ArenaKey(key)].map { overflow[$0] }
        }

        /// Adds or replaces; `count` grows by one for a new key. `key` and `value` point into
        /// the arena; a replaced key keeps its first copy.
        mutating func record(_ write: PendingWrite, count: inout Int) {
            guard let last = writes.last else {
                writes.append(write)
                count += 1
                return
            }
            let c = compareKeys(write.key, last.key)
            if c > 0 {
                writes.append(write)
                count += 1
            } else if c == 0 {
                writes[writes.count - 1].replaceValue(with: write)
            } else if let at = position(of: write.key) {
                writes[at].replaceValue(with: write)
            } else if let at = overflowIndex[ArenaKey(write.key)] {
                overflow[at].replaceValue(with: write)
            } else {
                overflowIndex[ArenaKey(write.key)] = overflow.count
                overflow.append(write)
                count += 1
                sortedOverflow = nil
            }
        }

        /// `overflow`'s positions in key order.
        func overflowOrder() -> [Int] {
            sortedOverflow ?? KeySorting.sortedIndices(overflow.map(\.key))
        }

        /// Every entry in key order.
        func sorted() -> [PendingWrite] {
            guard !overflow.isEmpty else { return writes }
            let extra = overflowOrder()
            var out: [PendingWrite] = []
            out.reserveCapacity(writes.count + extra.count)
            var i = 0
            var j = 0
            while i < writes.count || j < extra.count {
                if j == extra.count || (i < writes.count && compareKeys(writes[i].key, overflow[extra[j]].key) < 0) {
                    out.append(writes[i])
                    i += 1
                } else {
                    out.append(overflow[extra[j]])
                    j += 1
                }
            }
            return out
        }
    }

    /// The snapshot the writes recorded from now on were made under (0: the transaction's first),
    /// kept with each (`PendingWrite.base`): a READ COMMITTED transaction reads each statement at a
    /// newer snapshot, and a write conflicts only with commits its statement could not see.
    var base: UInt64 = 0

    /// Holds every key and value byte the runs point to.
    private var arena = ByteArena()
    /// One run per collection written, `ids[i]` owning `runs[i]`. Arrays, not a dictionary:
    /// a transaction touches a few collections, a linear search of their ids costs less than
    /// hashing, and `runs[i].…` reads a run in place where a dictionary lookup copies it
    /// (retaining its arrays) on every probe of a load's unique index.
    private var ids: [UInt32] = []
    private var runs: [Run] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    private func runIndex(_ id: UInt32) -> Int? { ids.firstIndex(of: id) }

    /// Whether a pending write goes to collection `id`.
    func hasWrites(collectionID id: UInt32) -> Bool { runIndex(id) != nil }

    subscript(treeKey: [UInt8]) -> Transaction.Write? {
        treeKey.withUnsafeBytes { key in pending(key).map(\.write) }
    }

    /// The pending write of a tree key, pointing into the arena.
    private func pending(_ treeKey: UnsafeRawBufferPointer) -> PendingWrite? {
        guard let i = runIndex(Keyspace.collectionID(of: treeKey)), let last = runs[i].writes.last else { return nil }
        if compareKeys(treeKey, last.key) > 0 { return nil }  // above the run: nothing can hold it
        if let at = runs[i].position(of: treeKey) { return runs[i].writes[at] }
        return runs[i].overflowWrite(treeKey)
    }

    /// Records `write` for `treeKey`, replacing an earlier write of the same key.
    mutating func set(_ treeKey: [UInt8], _ write: Transaction.Write) {
        switch write {
        case .put(let value): treeKey.withUnsafeBytes { k in value.withUnsafeBytes { put(k, $0) } }
        case .delete: treeKey.withUnsafeBytes { delete($0) }
        }
    }

    /// Records a put of `value` under `treeKey` (both copied into the arena).
    mutating func put(_ treeKey: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        record(PendingWrite(key: arena.copy(treeKey), value: arena.copy(value), base: base))
    }

    /// Records a put of a value that `encode` writes straight into the arena (at most
    /// `valueBound` bytes); returns the value's size.
    mutating func put(_ treeKey: UnsafeRawBufferPointer, valueBound: Int, encode: (inout RawByteWriter) -> Void) -> Int {
        let key = arena.copy(treeKey)
        let value = arena.reserve(valueBound) { start in
            var w = RawByteWriter(start.assumingMemoryBound(to: UInt8.self))
            encode(&w)
            return UnsafeMutableRawPointer(w.pointer) - start
        }
        record(PendingWrite(key: key, value: value, base: base))
        return value.count
    }

    /// Records a delete of `treeKey` (copied into the arena).
    mutating func delete(_ treeKey: UnsafeRawBufferPointer) {
        record(PendingWrite(key: arena.copy(treeKey), value: nil, base: base))
    }

    private mutating func record(_ write: PendingWrite) {
        let id = Keyspace.collectionID(of: write.key)
        if let i = runIndex(id) {
            runs[i].record(write, count: &count)
        } else {
            ids.append(id)
            runs.append(Run())
            runs[runs.count - 1].record(write, count: &count)
        }
    }

    /// Every pending write in tree-key order, as one sorted run per collection (collections
    /// in id order), pointing into this write set's arena (which each run keeps alive).
    func sortedRuns() -> [KeyWrites] {
        ids.indices.sorted { ids[$0] < ids[$1] }.map { i in KeyWrites(arena: arena, writes: runs[i].sorted()) }
    }

    /// The pending writes of one collection in key order, copied out (remembering the overflow's order).
    mutating func sorted(collectionID: UInt32) -> (keys: [[UInt8]], writes: [Transaction.Write]) {
        guard let i = runIndex(collectionID) else { return ([], []) }
        if runs[i].sortedOverflow == nil && !runs[i].overflow.isEmpty { runs[i].sortedOverflow = runs[i].overflowOrder() }
        let writes = runs[i].sorted()
        return (writes.map(\.key.array), writes.map(\.write))
    }
}

/// A key lying in a `ByteArena` (or, for a lookup, anywhere), hashed and compared by its
/// bytes. Stored keys point into the write set's arena, which never moves or frees them while
/// the write set (or a savepoint's copy of it) lives.
struct ArenaKey: Hashable, @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    static func == (a: ArenaKey, b: ArenaKey) -> Bool { compareKeys(a.bytes, b.bytes) == 0 }
    func hash(into hasher: inout Hasher) { hasher.combine(bytes: bytes) }
}

/// One pending write: a tree key and its value (nil: a delete), both pointing into the
/// `ByteArena` of the write set or `KeyWrites` that holds it.
struct PendingWrite: @unchecked Sendable {
    let key: UnsafeRawBufferPointer
    private(set) var value: UnsafeRawBufferPointer?
    /// The snapshot the write was made under (0: the transaction's first, `WriteSet.base`): a
    /// version of the key committed after it fails the commit.
    private(set) var base: UInt64

    init(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?, base: UInt64 = 0) {
        self.key = key
        self.value = value
        self.base = base
    }

    /// Takes `other`'s value (a later write of the same key). The older snapshot stays: the later
    /// write read this one's value, not a commit between the two, so such a commit still conflicts.
    mutating func replaceValue(with other: PendingWrite) {
        value = other.value
        base = min(base, other.base)
    }

    /// The write with its value copied out.
    var write: Transaction.Write { value.map { .put($0.array) } ?? .delete }
}

/// Key writes in tree-key order: a commit's writes to one collection. `arena` holds the
/// bytes `writes` point to, so a `KeyWrites` can be handed on and read after the write set
/// that made it is gone.
struct KeyWrites: @unchecked Sendable {
    let arena: ByteArena
    let writes: [PendingWrite]

    init(arena: ByteArena, writes: [PendingWrite]) {
        self.arena = arena
        self.writes = writes
    }

    /// Copies `keys` and `writes` (parallel arrays, in key order) into an arena of their own:
    /// recovery replaying a record, and tests.
    init(keys: [[UInt8]], writes: [Transaction.Write]) {
        let arena = ByteArena()
        self.arena = arena
        self.writes = zip(keys, writes).map { key, write in
            switch write {
            case .put(let value): PendingWrite(key: arena.copy(key), value: arena.copy(value))
            case .delete: PendingWrite(key: arena.copy(key), value: nil)
            }
        }
    }

    var count: Int { writes.count }
    var firstKey: UnsafeRawBufferPointer? { writes.first?.key }
    var lastKey: UnsafeRawBufferPointer? { writes.last?.key }
}

extension WriteSet {
    init(_ entries: [([UInt8], Transaction.Write)]) {
        self.init()
        for (key, write) in entries { set(key, write) }
    }
}
