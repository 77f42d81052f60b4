import RedCore
import Testing
@testable import RedStorage

/// Pages that pass their checksum can still be structurally wrong (a bug, or a
/// write of the wrong bytes): decoding them must throw, never trap.
@Suite struct DecoderFuzzTests {
    func randomPage(_ rng: inout SplitMix64, type: PageType, id: PageID) -> PageImage {
        var page = PageImage(type: type, id: id, epoch: rng.next() % 4)
        let payload = Int(rng.next() % UInt64(PageLayout.payloadCapacity + 1))
        for i in 0..<payload { page.bytes[PageLayout.headerBytes + i] = UInt8(truncatingIfNeeded: rng.next() % 7 == 0 ? 0xFF : rng.next() % 16) }
        page.payloadBytes = payload
        page.count = Int(rng.next() % 300)
        page.link = PageID(truncatingIfNeeded: rng.next())
        page.seal()
        return page
    }

    @Test func sealedGarbageNodePagesNeverTrap() throws {
        var rng = SplitMix64(seed: 11)
        var rejected = 0
        for n in 0..<20_000 {
            let type: PageType = n % 2 == 0 ? .leaf : .interior
            let page = randomPage(&rng, type: type, id: 7)
            let verified = try PageImage.verify(page.bytes, id: 7, file: "fuzz")
            do {
                let node = try BTreeNode.decode(verified, file: "fuzz")
                #expect(node.encodedBytes <= PageLayout.pageSize)
            } catch let error as RedError {
                #expect(error.code == .dataCorrupted)
                rejected += 1
            }
        }
        #expect(rejected > 10_000)
    }

    @Test func randomBytesFailVerificationWithAClearError() {
        var rng = SplitMix64(seed: 12)
        for _ in 0..<2000 {
            let bytes = (0..<(rng.next() % 5 == 0 ? Int(rng.next() % 4096) : 4096)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let error = #expect(throws: RedError.self) { _ = try PageImage.verify(bytes, id: 3, file: "data.rdb") }
            #expect(error?.message.hasPrefix("data.rdb: page 3") == true)
        }
    }

    @Test func garbageHeaderSlotsAndFreeListsNeverTrap() throws {
        var rng = SplitMix64(seed: 13)
        for _ in 0..<5000 {
            let page = randomPage(&rng, type: .header, id: 0)
            _ = try? DatabaseHeader.decode(try PageImage.verify(page.bytes, id: 0, file: "fuzz"), file: "fuzz")
            let list = randomPage(&rng, type: .freeList, id: 5)
            _ = try? FreeListCodec.read(head: 5, expected: UInt32(rng.next() % 100), pageCount: 64,
                                        pager: { _ in list }, file: "fuzz")
        }
    }
}
