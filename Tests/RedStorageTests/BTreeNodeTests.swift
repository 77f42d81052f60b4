import RedCore
import Testing
@testable import RedStorage

/// The node keeps its cells in one buffer (the page layout); these check that edits anywhere
/// in it — keys of every length, values growing, shrinking and moving to overflow — keep the
/// cells, offsets and search prefixes in step, and survive an encode/decode round trip.
@Suite struct BTreeNodeTests {
    private func randomKey(_ rng: inout SplitMix64) -> [UInt8] {
        let length = Int(rng.next() % 40)  // below, across and above the 16-byte prefix
        return (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next() % 4) }  // small alphabet: long shared prefixes
    }

    private func randomValue(_ rng: inout SplitMix64) -> LeafValue {
        if rng.next() % 8 == 0 { return .overflow(firstPage: PageID(truncatingIfNeeded: rng.next()), length: UInt32(rng.next() % 100_000)) }
        return .inline((0..<Int(rng.next() % 60)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    }

    private func check(_ node: BTreeNode, against model: [(key: [UInt8], value: LeafValue)]) throws {
        #expect(node.count == model.count)
        #expect(node.allKeys == model.map(\.key))
        #expect(node.allValues == model.map(\.value))
        #expect(node.prefixes == model.map { KeyPrefix($0.key) })
        let expectedBytes = PageLayout.headerBytes + model.reduce(0) { $0 + BTreeNode.leafCellBytes(key: $1.key, value: $1.value) }
        #expect(node.encodedBytes == expectedBytes)
        for (i, entry) in model.enumerated() {
            #expect(node.search(entry.key) == (i, true))
        }
        if node.encodedBytes <= PageLayout.pageSize {
            var page = node.encode()
            page.seal()
            let decoded = try BTreeNode.decode(try PageImage.verify(page.bytes, id: node.pageID, file: "test"), file: "test")
            #expect(decoded.allKeys == model.map(\.key))
            #expect(decoded.allValues == model.map(\.value))
            #expect(decoded.prefixes == node.prefixes)
        }
    }

    @Test func leafEditsAnywhereKeepCellsInStep() throws {
        var rng = SplitMix64(seed: 31)
        let node = BTreeNode(pageID: 9, epoch: 1, isLeaf: true)
        var model: [(key: [UInt8], value: LeafValue)] = []
        for step in 0..<3000 {
            let key = randomKey(&rng)
            let (index, found) = node.search(key)
            #expect(found == model.contains { $0.key == key })
            switch rng.next() % 5 {
            case 0..<3:
                let value = randomValue(&rng)
                if found {
                    node.replaceValue(at: index, with: value)
                    model[index].value = value
                } else if node.encodedBytes < PageLayout.pageSize {
                    node.insertLeaf(at: index, key: key, value: value)
                    model.insert((key, value), at: index)
                }
            default:
                if !model.isEmpty {
                    let victim = Int(rng.next() % UInt64(model.count))
                    node.removeLeaf(at: victim)
                    model.remove(at: victim)
                }
            }
            if step % 50 == 0 { try check(node, against: model) }
        }
        try check(node, against: model)
    }

    @Test func splitsAndMergesMoveWholeCells() throws {
        var rng = SplitMix64(seed: 32)
        let left = BTreeNode(pageID: 3, epoch: 1, isLeaf: true)
        var model: [(key: [UInt8], value: LeafValue)] = []
        while left.encodedBytes < PageLayout.pageSize - 200 {
            let key = randomKey(&rng) + [UInt8(model.count >> 8), UInt8(model.count & 0xFF)]
            let (index, found) = left.search(key)
            if found { continue }
            let value = randomValue(&rng)
            left.insertLeaf(at: index, key: key, value: value)
            model.insert((key, value), at: index)
        }
        let at = left.byteMidpoint()
        let right = BTreeNode(pageID: 4, epoch: 1, isLeaf: true)
        left.moveLeafTail(from: at, to: right)
        try check(left, against: Array(model[..<at]))
        try check(right, against: Array(model[at...]))
        left.absorbLeaf(right)
        try check(left, against: model)

        // Interior: separator i carries child i + 1.
        let interior = BTreeNode(pageID: 5, epoch: 1, isLeaf: false)
        interior.firstChild = 100
        for i in 0..<60 { interior.insertSeparator(at: i, key: [UInt8(i), 7, 7], rightChild: PageID(101 + i)) }
        #expect(interior.allChildren == (0...60).map { PageID(100 + $0) })
        interior.setChild(10, to: 999)
        #expect(interior.child(10) == 999)
        let sibling = BTreeNode(pageID: 6, epoch: 1, isLeaf: false)
        let separator = interior.moveInteriorTail(around: 30, to: sibling)
        #expect(separator == [30, 7, 7])
        #expect(interior.count == 30 && interior.childCount == 31)
        #expect(sibling.firstChild == 131 && sibling.count == 29)
        #expect(sibling.allKeys.first == [31, 7, 7])
        interior.absorbInterior(sibling, separator: separator)
        #expect(interior.allKeys == (0..<60).map { [UInt8($0), 7, 7] })
        let expectedChildren: [PageID] = (0...60).map { (i: Int) -> PageID in i == 10 ? 999 : PageID(100 + i) }
        #expect(interior.allChildren == expectedChildren)
        interior.removeSeparator(at: 0)
        #expect(interior.child(1) == 102 && interior.key(at: 0) == [1, 7, 7])
    }
}
