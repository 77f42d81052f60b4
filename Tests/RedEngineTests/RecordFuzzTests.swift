import RedCore
import RedStorage
import Testing
@testable import RedEngine

@Suite struct RecordFuzzTests {
    @Test func versionChainsRoundTrip() throws {
        let chain = VersionChain(versions: [.init(commitTS: 9, value: [1, 2]), .init(commitTS: 5, value: nil), .init(commitTS: 2, value: [])])
        #expect(try VersionChain(decoding: chain.encode(), context: "t") == chain)
        #expect(try VersionChain.newestCommitTS(of: chain.encode(), context: "t") == 9)
        #expect(chain.visible(at: 10) == [1, 2])
        #expect(chain.visible(at: 6) == nil)
        #expect(chain.visible(at: 4) == [])
        #expect(chain.visible(at: 1) == nil)
    }

    /// A value the transaction limit lets through always fits a tree record with its version
    /// header; a key whose kept versions would outgrow a record is refused by name, before the
    /// commit is logged (`StorageEngine.logAndApply`).
    @Test func recordsHoldAnyValueAndRefuseVersionsBeyondTheTreesLimit() throws {
        let largest = VersionChain.singleHead(commitTS: .max, valueLength: Limits.maxValueBytes).count + Limits.maxValueBytes
        #expect(largest <= BTree.maxRecordBytes)
        try VersionChain.checkFits(record: largest, adding: Limits.maxValueBytes) { "t" }
        let error = #expect(throws: RedError.self) {
            try VersionChain.checkFits(record: BTree.maxRecordBytes - Limits.maxValueBytes, adding: Limits.maxValueBytes) { "table people" }
        }
        #expect(error?.code == .limitExceeded)
        #expect(error?.message.contains("table people") == true)
    }

    @Test func commitRecordsRoundTrip() throws {
        let mutations: [CommitRecord.Mutation] = [
            .put(key: Keyspace.key(17, [1, 2, 3]), value: [9]), .delete(key: Keyspace.key(16, [])), .deleteCollection(id: 40),
        ]
        var bytes = CommitRecord.encode(mutations)
        CommitRecord.patchCommitTS(&bytes, 77)
        let decoded = try CommitRecord.decode(bytes, lsn: 0)
        #expect(decoded.commitTS == 77)
        #expect(decoded.mutations == mutations)
    }

    @Test func aSingleVersionHeadAndItsValueAreTheSingleVersionEncoding() {
        for ts: UInt64 in [0, 1, 127, 128, 16_383, 16_384, 1 << 35, .max] {
            for length in [0, 1, 127, 128, 300, 20_000] {
                let value = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
                let head = VersionChain.singleHead(commitTS: ts, valueLength: length)
                #expect(head.bytes + value == VersionChain.encodeSingle(commitTS: ts, value: value))
            }
        }
    }

    @Test func aCommitsKeyWritesEncodeAsTheirMutations() throws {
        let keys = [Keyspace.key(16, [1]), Keyspace.key(16, [2]), Keyspace.key(300, [9, 9])]
        let writes: [Transaction.Write] = [.put([7, 7]), .delete, .put([])]
        let extra: [CommitRecord.Mutation] = [.deleteCollection(id: 40), .put(key: Keyspace.key(17, [3]), value: [1])]
        let bytes = CommitRecord.encode([KeyWrites(keys: Array(keys[..<2]), writes: Array(writes[..<2])),
                                         KeyWrites(keys: [keys[2]], writes: [writes[2]])], then: extra)
        let mutations: [CommitRecord.Mutation] = [
            .put(key: keys[0], value: [7, 7]), .delete(key: keys[1]), .put(key: keys[2], value: []),
        ] + extra
        #expect(bytes == CommitRecord.encode(mutations))
        let split = CommitRecord.splitLeadingKeyWrites(try CommitRecord.decode(bytes, lsn: 0).mutations)
        #expect(split.keys == keys)
        #expect(split.rest == extra)
    }

    @Test func garbageRecordsThrowAndNeverTrap() {
        var rng = SplitMix64(seed: 21)
        for _ in 0..<20_000 {
            var bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next() % 4 == 0 ? rng.next() : rng.next() % 8) }
            if rng.next() % 2 == 0, !bytes.isEmpty { bytes[0] = VersionChain.format }
            _ = try? VersionChain(decoding: bytes, context: "fuzz")
            _ = try? VersionChain.newestCommitTS(of: bytes, context: "fuzz")
            _ = try? CommitRecord.decode(bytes, lsn: 0)
        }
    }
}
