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
