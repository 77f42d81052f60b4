import RedCore
import RedStorage
import Testing
@testable import RedEngine

@Suite struct WriteSetTests {
    /// Ascending appends, rewrites, out-of-order keys and several collections, checked against a
    /// plain dictionary: lookups, the count, and both sorted views.
    @Test func matchesADictionaryWhateverTheOrderOfArrival() {
        var rng = SplitMix64(seed: 3)
        var set = WriteSet()
        var model: [[UInt8]: Transaction.Write] = [:]
        var next: [UInt32: UInt64] = [16: 0, 17: 0, 40: 0]
        for step in 0..<20_000 {
            let collection: UInt32 = [16, 17, 40][Int(rng.next() % 3)]
            let user: UInt64
            switch rng.next() % 10 {
            case 0..<6:  // the bulk-load case: the next key up
                next[collection]! += UInt64(1 + rng.next() % 3)
                user = next[collection]!
            case 6, 7: user = rng.next() % (next[collection]! + 2)  // a rewrite, or a gap below the top
            default: user = rng.next() % 100_000  // anywhere, above the top included
            }
            let key = Keyspace.key(collection, withUnsafeBytes(of: user.bigEndian, Array.init))
            let write: Transaction.Write = rng.next() % 5 == 0 ? .delete : .put([UInt8(step & 0xFF)])
            set.set(key, write)
            model[key] = write
            if step % 97 == 0 {
                let probe = Keyspace.key(collection, withUnsafeBytes(of: (rng.next() % 110_000).bigEndian, Array.init))
                #expect(set[probe].map(describe) == model[probe].map(describe))
            }
        }
        #expect(set.count == model.count)
        for (key, write) in model { #expect(set[key].map(describe) == describe(write)) }
        let expected = model.keys.sorted { compareKeys($0, $1) < 0 }
        let runs = set.sortedRuns()
        #expect(runs.flatMap { $0.writes.map(\.key.array) } == expected)
        #expect(runs.flatMap { $0.writes.map(\.write) }.map(describe) == expected.map { describe(model[$0]!) })
        let one = set.sorted(collectionID: 17)
        #expect(one.keys == expected.filter { Keyspace.collectionID(of: $0) == 17 })
        #expect(set.sorted(collectionID: 99).keys.isEmpty)
    }

    /// A copy (a savepoint's) shares the original's byte arena: whatever the original writes
    /// afterwards (replacements, new keys, values too large for a shared chunk), the copy must
    /// still read exactly what it held, and the original its own writes.
    @Test func aCopyKeepsItsWritesWhileTheOriginalGoesOn() {
        var set = WriteSet()
        func key(_ i: Int) -> [UInt8] { Keyspace.key(16, withUnsafeBytes(of: UInt64(i).bigEndian, Array.init)) }
        for i in 0..<100 { set.set(key(i), .put([UInt8](repeating: UInt8(i), count: i))) }
        let copy = set
        for round in 1...50 {
            for i in stride(from: 0, to: 100, by: 7) { set.set(key(i), .put([UInt8](repeating: UInt8(round), count: 50 + round))) }
        }
        set.set(key(3), .delete)
        set.set(key(500), .put([UInt8](repeating: 9, count: 40_000)))  // its own chunk
        set.set(key(50), .put([UInt8](repeating: 1, count: 2)))  // below the top: found by binary search
        for i in 0..<100 { #expect(copy[key(i)].map(describe) == describe(.put([UInt8](repeating: UInt8(i), count: i)))) }
        #expect(copy[key(500)] == nil)
        #expect(copy.count == 100)
        #expect(set[key(3)].map(describe) == "delete")
        #expect(set[key(7)].map(describe) == describe(.put([UInt8](repeating: 50, count: 100))))
        #expect(set[key(500)].map(describe) == describe(.put([UInt8](repeating: 9, count: 40_000))))
        #expect(set[key(50)].map(describe) == describe(.put([1, 1])))
        #expect(set.count == 101)
        let runs = set.sortedRuns()
        #expect(runs.count == 1 && runs[0].count == 101)
        #expect(runs[0].writes.last?.value?.count == 40_000)
    }

    /// The row key built on the stack is the collection prefix followed by the row's user key.
    @Test func aRowKeyBuiltOnTheStackIsThePrefixedRid() {
        for (collection, rid) in [(UInt32(16), Int64(1)), (0x0102_0304, 0x0A0B_0C0D_0E0F_1011), (7, -1), (UInt32.max, .max), (40, 0)] {
            #expect(Keyspace.withRowKey(collection, rid: rid) { Array($0) } == Keyspace.key(collection, StoredRow.key(rid: rid)))
        }
    }

    private func describe(_ write: Transaction.Write) -> String {
        switch write {
        case .put(let value): "put \(value)"
        case .delete: "delete"
        }
    }
}
