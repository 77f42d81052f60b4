import Testing
@testable import RedStorage

@Suite struct KeySortingTests {
    @Test func sortsLikeCompareKeysIncludingSharedPrefixesAndZeroPadding() {
        var rng = SystemRandomNumberGenerator()
        var keys: [[UInt8]] = [[], [0], [0, 0], [1], [1, 0], Array(repeating: 7, count: 16), Array(repeating: 7, count: 16) + [0], Array(repeating: 7, count: 16) + [1]]
        for _ in 0..<2_000 {
            let length = Int.random(in: 0...24, using: &rng)
            keys.append((0..<length).map { _ in UInt8.random(in: 0...3, using: &rng) })
        }
        for _ in 0..<2_000 {  // long shared prefixes: several 16-byte windows deep
            let length = Int.random(in: 0...60, using: &rng)
            keys.append([UInt8](repeating: 5, count: 20) + (0..<length).map { _ in UInt8.random(in: 0...1, using: &rng) })
        }
        let expected = keys.sorted { compareKeys($0, $1) < 0 }
        #expect(KeySorting.sorted(keys) == expected)
    }
}
