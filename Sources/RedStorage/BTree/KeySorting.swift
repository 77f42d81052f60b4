import RedCore

/// Sorting many byte-string keys fast (commit and cursor write sets).
///
/// Comparing `[UInt8]` values one pair at a time costs reference counting on
/// every comparison; sorting a million keys that way dominated large commits.
/// Here keys are ordered 16 bytes at a time (most-significant-digit first):
/// each key's 16-byte window at the current offset, zero-padded, becomes two
/// integers; those plain tuples are sorted, and each run of equal windows is
/// ordered by the next window, until the keys run out. Where zero padding made
/// two windows equal, the shorter key comes first, which is `compareKeys` order.
public enum KeySorting {
    /// `keys` in key order (copied into an arena to be sorted by pointer: tests, and callers
    /// whose keys are arrays).
    public static func sorted(_ keys: [[UInt8]]) -> [[UInt8]] {
        let arena = ByteArena()
        let pointers = keys.map { arena.copy($0) }
        return withExtendedLifetime(arena) { sortedIndices(pointers).map { keys[$0] } }
    }

    /// The positions of `keys` in key order. Keys are read where they lie (a write set's
    /// arena): no reference counting per comparison.
    public static func sortedIndices(_ keys: [UnsafeRawBufferPointer]) -> [Int] {
        var order = Array(0..<keys.count)
        guard keys.count > 1 else { return order }
        // Small sets (most commits): a plain comparison sort costs less than the set-up below.
        if keys.count <= 32 { return order.sorted { compareKeys(keys[$0], keys[$1]) < 0 } }
        sortRun(keys, &order[...], offset: 0)
        return order
    }

    static func window(_ key: UnsafeRawBufferPointer, at offset: Int) -> (UInt64, UInt64) {
        var hi: UInt64 = 0, lo: UInt64 = 0
        for j in offset..<offset + 8 { hi = (hi << 8) | UInt64(j < key.count ? key[j] : 0) }
        for j in offset + 8..<offset + 16 { lo = (lo << 8) | UInt64(j < key.count ? key[j] : 0) }
        return (hi, lo)
    }

    /// Orders `run` (indices into `keys` whose first `offset` bytes are equal).
    static func sortRun(_ keys: [UnsafeRawBufferPointer], _ run: inout ArraySlice<Int>, offset: Int) {
        var decorated = run.map { i -> (hi: UInt64, lo: UInt64, index: Int) in
            let (hi, lo) = window(keys[i], at: offset)
            return (hi, lo, i)
        }
        decorated.sort { $0.hi != $1.hi ? $0.hi < $1.hi : $0.lo < $1.lo }
        var start = 0
        let base = run.startIndex
        for (i, entry) in decorated.enumerated() { run[base + i] = entry.index }
        while start < decorated.count {
            var end = start + 1
            while end < decorated.count, decorated[end].hi == decorated[start].hi, decorated[end].lo == decorated[start].lo { end += 1 }
            if end - start > 1 {
                var tie = run[(base + start)..<(base + end)]
                if tie.contains(where: { keys[$0].count > offset + 16 }) {
                    // Keys that end inside this window sort first (they are prefixes, or equal up to zero padding).
                    let ended = tie.filter { keys[$0].count <= offset + 16 }.sorted { keys[$0].count < keys[$1].count }
                    var longer = ArraySlice(tie.filter { keys[$0].count > offset + 16 })
                    sortRun(keys, &longer, offset: offset + 16)
                    tie = ArraySlice(ended + longer)
                } else {
                    tie = ArraySlice(tie.sorted { keys[$0].count < keys[$1].count })
                }
                for (k, index) in tie.enumerated() { run[base + start + k] = index }
            }
            start = end
        }
    }
}
