/// Sorting many byte-string keys fast (commit and cursor write sets).
///
/// Comparing `[UInt8]` values one pair at a time costs reference counting on
/// every comparison; sorting a million keys that way dominated large commits.
/// Here each key is reduced to its first 16 bytes (zero-padded) as two
/// integers, those plain tuples are sorted, and only runs of equal prefixes
/// are ordered with a full comparison. Padding keeps the prefix order
/// consistent with `compareKeys`, so the result is the same total order.
public enum KeySorting {
    public static func sorted<C: Collection>(_ keys: C) -> [[UInt8]] where C.Element == [UInt8] {
        let array = Array(keys)
        guard array.count > 1 else { return array }
        var decorated: [(hi: UInt64, lo: UInt64, index: Int)] = []
        decorated.reserveCapacity(array.count)
        for (i, key) in array.enumerated() {
            var hi: UInt64 = 0, lo: UInt64 = 0
            key.withUnsafeBufferPointer { buffer in
                for j in 0..<8 { hi = (hi << 8) | UInt64(j < buffer.count ? buffer[j] : 0) }
                for j in 8..<16 { lo = (lo << 8) | UInt64(j < buffer.count ? buffer[j] : 0) }
            }
            decorated.append((hi, lo, i))
        }
        decorated.sort { $0.hi != $1.hi ? $0.hi < $1.hi : $0.lo < $1.lo }
        var result: [[UInt8]] = []
        result.reserveCapacity(array.count)
        var start = 0
        while start < decorated.count {
            var end = start + 1
            while end < decorated.count, decorated[end].hi == decorated[start].hi, decorated[end].lo == decorated[start].lo { end += 1 }
            if end - start == 1 {
                result.append(array[decorated[start].index])
            } else {
                let run = decorated[start..<end].map { array[$0.index] }.sorted { compareKeys($0, $1) < 0 }
                result.append(contentsOf: run)
            }
            start = end
        }
        return result
    }
}
