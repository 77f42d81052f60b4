import RedCore
import RedStorage
import Testing
@testable import RedEngine

@Suite struct TransactionTests {
    /// A definition change undone by a savepoint rollback (a failed CREATE INDEX or ALTER TABLE
    /// in a block) no longer conflicts with the collection's writers at commit.
    @Test func aDefinitionChangeRolledBackToASavepointIsForgotten() async throws {
        let engine = try await EngineHarness().open()
        let t = try await engine.makeCollection("t")
        let other = try await engine.makeCollection("other")
        let tx = try engine.begin()
        let before = try tx.savepoint()
        tx.noteDefinitionChange(of: t, basedOnData: true)
        try tx.rollback(to: before)
        try tx.put(other, bytes("k"), bytes("v"))
        try await engine.put(t, "x", "1")  // a writer of t commits after the block's snapshot
        try await tx.commit()
        try await engine.put(t, "y", "2")
    }

    @Test func readerKeepsItsSnapshotWhileWritersCommit() async throws {
        let engine = try await EngineHarness().open()
        let c = try await engine.makeCollection("t")
        try await engine.put(c, "k", "v1")
        let reader = try engine.begin()
        try await engine.put(c, "k", "v2")
        try await engine.put(c, "new", "x")
        #expect(text(try reader.get(c, bytes("k"))) == "v1")
        #expect(try reader.get(c, bytes("new")) == nil)
        #expect(try reader.scan(c).collect().count == 1)
        reader.rollback()
        let fresh = try engine.begin()
        #expect(text(try fresh.get(c, bytes("k"))) == "v2")
    }

    @Test func laterCommitterOfAConflictingWriteGetsSerializationFailure() async throws {
        let engine = try await EngineHarness().open()
        let c = try await engine.makeCollection("t")
        try await engine.put(c, "k", "0")
        let a = try engine.begin()
        let b = try engine.begin()
        try a.put(c, bytes("k"), bytes("a"))
        try b.put(c, bytes("k"), bytes("b"))
        try b.put(c, bytes("other"), bytes("b"))
        try await a.commit()
        let error = await #expect(throws: RedError.self) { try await b.commit() }
        #expect(error?.code == .serializationFailure)
        #expect(error?.message == "could not serialize access due to concurrent update of a key in \"t\"; retry the transaction",
                "the collection named as the user knows it, not by its id")
        #expect(error?.code.sqlState == "40001")
        #expect(try await engine.dump("t") == ["k": "a"])
        #expect(engine.statistics.conflicts == 1)
        let reuse = #expect(throws: RedError.self) { _ = try b.get(c, bytes("k")) }
        #expect(reuse?.message.contains("rolled back") == true)
    }

    /// `getUnlikely` skips the tree for keys above the collection's largest key; it must
    /// answer exactly as `get` for every key, whatever commits around it.
    @Test func getUnlikelyAnswersAsGetDoes() async throws {
        let engine = try await EngineHarness().open()
        let c = try await engine.makeCollection("t")
        let other = try await engine.makeCollection("u")  // a collection after `c`: its keys must not count as c's
        try await engine.put(other, "zzz", "elsewhere")
        var generator = SplitMix64(seed: 42)
        func key(_ n: Int) -> [UInt8] { bytes(String(format: "k%04d", n)) }
        for round in 0..<30 {
            // Committed keys, some deleted afterwards (their records stay as tombstones a while).
            try await engine.transaction { tx in
                for _ in 0..<20 { try tx.put(c, key(Int.random(in: 0..<(round + 1) * 40, using: &generator)), bytes("c\(round)")) }
            }
            try await engine.transaction { tx in
                for _ in 0..<5 { _ = try tx.delete(c, key(Int.random(in: 0..<(round + 1) * 40, using: &generator))) }
            }
            let tx = try engine.begin()
            for step in 0..<60 {
                let n = Int.random(in: 0..<(round + 2) * 40, using: &generator)
                switch step % 4 {
                case 0: try tx.put(c, key(n), bytes("p\(step)"))
                case 1: _ = try tx.delete(c, key(n))
                default: break
                }
                if step == 30 {  // a concurrent commit of larger keys, invisible to `tx`
                    try await engine.transaction { other in
                        for m in 0..<10 { try other.put(c, key((round + 2) * 40 + m), bytes("late")) }
                    }
                }
                let probe = key(Int.random(in: 0..<(round + 3) * 40, using: &generator))
                #expect(try tx.getUnlikely(c, probe) == tx.get(c, probe), "round \(round) step \(step)")
            }
            tx.rollback()
        }
    }

    /// Commits skip reading records for keys above their collection's key ceiling; a key that
    /// a concurrent transaction committed after the ceiling was first read must still conflict.
    @Test func concurrentWritersOfTheSameNewKeyConflict() async throws {
        let engine = try await EngineHarness().open()
        let c = try await engine.makeCollection("t")
        try await engine.put(c, "a", "0")
        let probe = try engine.begin()
        #expect(try probe.getUnlikely(c, bytes("zz")) == nil)  // the ceiling is now cached ("a")
        probe.rollback()
        let first = try engine.begin()
        let second = try engine.begin()
        try first.put(c, bytes("z"), bytes("first"))
        try second.put(c, bytes("z"), bytes("second"))
        try second.put(c, bytes("zz"), bytes("second"))
        try await first.commit()
        let error = await #expect(throws: RedError.self) { try await second.commit() }
        #expect(error?.code == .serializationFailure)
        #expect(try await engine.dump("t") == ["a": "0", "z": "first"])
    }

    /// A collection's first commit caches its key ceiling (no probe asked for it): later
    /// commits of keys at or below it must still read the records there, to keep older
    /// versions for open snapshots and to detect a concurrent writer.
    @Test func theCeilingAFirstCommitCachesKeepsVersionsAndConflicts() async throws {
        let engine = try await EngineHarness().open()
        let c = try await engine.makeCollection("t")
        try await engine.put(c, "k", "1")  // caches the ceiling ("k")
        let reader = try engine.begin()
        let first = try engine.begin()
        let second = try engine.begin()
        try first.put(c, bytes("k"), bytes("2"))
        try second.put(c, bytes("k"), bytes("3"))
        try await first.commit()
        let error = await #expect(throws: RedError.self) { try await second.commit() }
        #expect(error?.code == .serializationFailure)
        #expect(try reader.get(c, bytes("k")) == bytes("1"))  // its version was kept
        #expect(try await engine.dump("t") == ["k": "2"])
    }

    @Test func disjointWritersBothCommit() async throws {
        let engine = try await EngineHarness().open()
        let c = try await engine.makeCollection("t")
        let a = try engine.begin()
        let b = try engine.begin()
        try a.put(c, bytes("x"), bytes("1"))
        try b.put(c, bytes("y"), bytes("2"))
        try await a.commit()
        try await b.commit()
        #expect(try await engine.dump("t") == ["x": "1", "y": "2"])
    }

    @Test func rollbackLeavesNoTrace() async throws {
        let h = EngineHarness()
        let engine = try await h.open()
        let c = try await engine.makeCollection("t")
        let lsnBefore = engine.statistics.walAppendedLSN
        let tx = try engine.begin()
        try tx.put(c, bytes("ghost"), bytes("boo"))
        #expect(text(try tx.get(c, bytes("ghost"))) == "boo")
        tx.rollback()
        #expect(engine.statistics.walAppendedLSN == lsnBefore)
        #expect(try await engine.dump("t").isEmpty)
        #expect(throws: RedError.self) { try tx.put(c, bytes("a"), bytes("b")) }
        try await engine.close()
        #expect(try await h.open().dump("t").isEmpty)
    }

    @Test func cursorMergesPendingWritesInBothDirections() async throws {
        let engine = try await EngineHarness().open()
        let c = try await engine.makeCollection("t")
        try await engine.transaction { tx in
            for k in ["a", "c", "e", "g"] { try tx.put(c, bytes(k), bytes("committed")) }
        }
        let tx = try engine.begin()
        try tx.put(c, bytes("b"), bytes("mine"))
        try tx.put(c, bytes("e"), bytes("mine"))
        #expect(try tx.delete(c, bytes("c")))
        #expect(try !tx.delete(c, bytes("zzz")))
        let forward = try tx.scan(c).collect().map { "\(text($0.key)!)=\(text($0.value)!)" }
        #expect(forward == ["a=committed", "b=mine", "e=mine", "g=committed"])
        let backward = try tx.scan(c, reverse: true).collect().map { text($0.key)! }
        #expect(backward == ["g", "e", "b", "a"])
        let bounded = try tx.scan(c, KeyRange(lower: bytes("b"), lowerInclusive: false, upper: bytes("g"))).collect()
        #expect(bounded.map { text($0.key)! } == ["e"])
        let inclusive = try tx.scan(c, KeyRange(lower: bytes("b"), upper: bytes("g"), upperInclusive: true), reverse: true).collect()
        #expect(inclusive.map { text($0.key)! } == ["g", "e", "b"])
    }

    /// Scans read leaf cells in place and copy out only what a snapshot sees: over many leaves
    /// of small values and values stored in overflow pages, with older versions a snapshot
    /// still needs and keys in neighbouring collections, every range in both directions
    /// returns what a model of the snapshot holds.
    @Test func scansReturnWhatTheSnapshotSeesAcrossLeavesAndOverflowValues() async throws {
        let engine = try await EngineHarness().open()
        let c = try await engine.makeCollection("t")
        let before = try await engine.makeCollection("s")
        let after = try await engine.makeCollection("u")
        func key(_ i: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(i).bigEndian, Array.init) }
        func value(_ i: Int, _ round: Int) -> [UInt8] {
            [UInt8](repeating: UInt8(truncatingIfNeeded: i &+ round), count: i % 50 == 0 ? 9_000 : 1 + i % 40)
        }
        try await engine.transaction { tx in
            for i in stride(from: 0, to: 3_000, by: 2) { try tx.put(c, key(i), value(i, 0)) }
            try tx.put(before, key(1), [1])
            try tx.put(after, key(0), [2])
        }
        var model: [Int: [UInt8]] = [:]
        for i in stride(from: 0, to: 3_000, by: 2) { model[i] = value(i, 0) }
        let snapshot = try engine.begin()
        try await engine.transaction { tx in  // newer versions and deletes the snapshot must not see
            for i in stride(from: 0, to: 3_000, by: 6) { try tx.put(c, key(i), value(i, 1)) }
            for i in stride(from: 4, to: 3_000, by: 10) { _ = try tx.delete(c, key(i)) }
            for i in stride(from: 1, to: 3_000, by: 50) { try tx.put(c, key(i), value(i, 2)) }
        }
        for (lower, upper) in [(nil, nil), (100, 2_000), (101, 101), (2_950, 5_000)] as [(Int?, Int?)] {
            for (lowerInclusive, upperInclusive) in [(true, false), (false, true)] {
                let range = KeyRange(lower: lower.map(key), lowerInclusive: lowerInclusive, upper: upper.map(key), upperInclusive: upperInclusive)
                let expected = model.keys.sorted().filter { i in
                    (lower.map { lowerInclusive ? i >= $0 : i > $0 } ?? true) && (upper.map { upperInclusive ? i <= $0 : i < $0 } ?? true)
                }
                for reverse in [false, true] {
                    let rows = try snapshot.scan(c, range, reverse: reverse).collect()
                    let order = reverse ? Array(expected.reversed()) : expected
                    #expect(rows.map(\.key) == order.map(key), "\(range) reverse \(reverse)")
                    #expect(rows.map(\.value) == order.map { model[$0]! }, "\(range) reverse \(reverse)")
                }
            }
        }
        snapshot.rollback()
    }

    @Test func collectionsAreIsolatedKeyspaces() async throws {
        let engine = try await EngineHarness().open()
        let a = try await engine.makeCollection("a")
        let b = try await engine.makeCollection("b")
        try await engine.put(a, "k", "in a")
        try await engine.put(b, "k", "in b")
        #expect(try await engine.dump("a") == ["k": "in a"])
        #expect(try await engine.dump("b") == ["k": "in b"])
    }

    @Test func largeValuesRoundTrip() async throws {
        let h = EngineHarness()
        let engine = try await h.open()
        let c = try await engine.makeCollection("blobs")
        let big = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try await engine.transaction { try $0.put(c, bytes("big"), big) }
        try await engine.close()
        let reopened = try await h.open()
        let tx = try reopened.begin()
        #expect(try tx.get(c, bytes("big")) == big)
    }

    @Test func oversizeKeysAndUseAfterCommitAreClearErrors() async throws {
        let engine = try await EngineHarness().open()
        let c = try await engine.makeCollection("t")
        let tx = try engine.begin()
        let error = #expect(throws: RedError.self) { try tx.put(c, [UInt8](repeating: 0, count: Limits.maxKeyBytes + 1), []) }
        #expect(error?.code == .limitExceeded)
        try await tx.commit()
        let closed = #expect(throws: RedError.self) { _ = try tx.get(c, bytes("k")) }
        #expect(closed?.code == .transactionClosed)
    }
}
