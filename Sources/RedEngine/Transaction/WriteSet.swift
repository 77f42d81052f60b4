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
/// order and is not in the run goes to the run's `overflow` hash map.
/// Invariant: overflow keys are all below the run's last key (so the two
/// never hold the same key), because the run only grows upwards.
/// `sortedRuns()` merges each run with its sorted overflow, collections in id
/// order, which is tree-key order (the 4-byte big-endian collection id
/// leads every tree key).
struct WriteSet {
    private struct Run {
        var keys: [[UInt8]] = []
        var writes: [Transaction.Write] = []
        var overflow: [WriteKey: Transaction.Write] = [:]
        /// `overflow`'s keys in order, kept between writes that add none (cursors ask repeatedly).
        var sortedOverflow: [[UInt8]]?

        /// The key's index in the ascending run, if it is there.
        func position(of key: [UInt8]) -> Int? {
            var lo = 0
            var hi = keys.count
            while lo < hi {
                let mid = (lo + hi) >> 1
                let c = compareKeys(keys[mid], key)
                if c < 0 { lo = mid + 1 } else if c > 0 { hi = mid } else { return mid }
            }
            return nil
        }

        /// Adds or replaces; `count` grows by one for a new key.
        mutating func record(_ key: [UInt8], _ write: Transaction.Write, count: inout Int) {
            if let last = keys.last {
                let c = compareKeys(key, last)
                if c > 0 {
                    keys.append(key)
                    writes.append(write)
                    count += 1
                } else if c == 0 {
                    writes[writes.count - 1] = write
                } else if let at = position(of: key) {
                    writes[at] = write
                } else if overflow.updateValue(write, forKey: WriteKey(key)) == nil {
                    count += 1
                    sortedOverflow = nil
                }
            } else {
                keys.append(key)
                writes.append(write)
                count += 1
            }
        }

        /// Every entry in key order.
        func sorted() -> (keys: [[UInt8]], writes: [Transaction.Write]) {
            guard !overflow.isEmpty else { return (keys, writes) }
            let extraKeys = sortedOverflow ?? KeySorting.sorted(overflow.keys.map(\.bytes))
            var outKeys: [[UInt8]] = []
            var outWrites: [Transaction.Write] = []
            outKeys.reserveCapacity(keys.count + extraKeys.count)
            outWrites.reserveCapacity(keys.count + extraKeys.count)
            var i = 0
            var j = 0
            while i < keys.count || j < extraKeys.count {
                if j == extraKeys.count || (i < keys.count && compareKeys(keys[i], extraKeys[j]) < 0) {
                    outKeys.append(keys[i])
                    outWrites.append(writes[i])
                    i += 1
                } else {
                    outKeys.append(extraKeys[j])
                    outWrites.append(overflow[WriteKey(extraKeys[j])]!)
                    j += 1
                }
            }
            return (outKeys, outWrites)
        }
    }

    /// One run per collection written, `ids[i]` owning `runs[i]`. Arrays, not a dictionary:
    /// a transaction touches a few collections, a linear search of their ids costs less than
    /// hashing, and `runs[i].…` reads a run in place where a dictionary lookup copies it
    /// (retaining its arrays) on every probe of a load's unique index.
    private var ids: [UInt32] = []
    private var runs: [Run] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    private func runIndex(_ id: UInt32) -> Int? { ids.firstIndex(of: id) }

    subscript(treeKey: [UInt8]) -> Transaction.Write? {
        get {
            guard let i = runIndex(Keyspace.collectionID(of: treeKey)), let last = runs[i].keys.last else { return nil }
            if compareKeys(treeKey, last) > 0 { return nil }  // above the run: nothing can hold it
            if let at = runs[i].position(of: treeKey) { return runs[i].writes[at] }
            return runs[i].overflow.isEmpty ? nil : runs[i].overflow[WriteKey(treeKey)]
        }
    }

    /// Records `write` for `treeKey`, replacing an earlier write of the same key.
    mutating func set(_ treeKey: [UInt8], _ write: Transaction.Write) {
        let id = Keyspace.collectionID(of: treeKey)
        if let i = runIndex(id) {
            runs[i].record(treeKey, write, count: &count)
        } else {
            ids.append(id)
            runs.append(Run())
            runs[runs.count - 1].record(treeKey, write, count: &count)
        }
    }

    /// Every pending write in tree-key order, as one sorted run per collection (collections
    /// in id order): handed over as they are, not copied into one pair of arrays.
    func sortedRuns() -> [KeyWrites] {
        ids.indices.sorted { ids[$0] < ids[$1] }.map { i in
            let (keys, writes) = runs[i].sorted()
            return KeyWrites(keys: keys, writes: writes)
        }
    }

    /// The pending writes of one collection in key order (remembering the overflow's order).
    mutating func sorted(collectionID: UInt32) -> (keys: [[UInt8]], writes: [Transaction.Write]) {
        guard let i = runIndex(collectionID) else { return ([], []) }
        if runs[i].sortedOverflow == nil && !runs[i].overflow.isEmpty {
            runs[i].sortedOverflow = KeySorting.sorted(runs[i].overflow.keys.map(\.bytes))
        }
        return runs[i].sorted()
    }
}

/// Key writes in tree-key order, `writes[i]` for `keys[i]`: a commit's writes to one collection.
struct KeyWrites {
    var keys: [[UInt8]]
    var writes: [Transaction.Write]
}

extension WriteSet {
    init(_ entries: [([UInt8], Transaction.Write)]) {
        self.init()
        for (key, write) in entries { set(key, write) }
    }
}
