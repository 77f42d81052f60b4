import Testing
@testable import RedCore

@Suite struct RowBlockTests {
    static let values: [Value] = (0..<12).map { .integer(Int64($0)) }

    @Test func rowsAndCellsAreSlicesOfOneArray() {
        let block = RowBlock(width: 3, values: Self.values)
        #expect(block.count == 4 && block.width == 3 && block.indices == 0..<4)
        #expect(Array(block[0]) == [.integer(0), .integer(1), .integer(2)])
        #expect(Array(block[3]) == [.integer(9), .integer(10), .integer(11)])
        #expect(block[2].startIndex == 6)  // a row is a slice: index it from its start
        #expect(block[1, 2] == .integer(5))
        #expect(block.arrays == [[.integer(0), .integer(1), .integer(2)], [.integer(3), .integer(4), .integer(5)],
                                 [.integer(6), .integer(7), .integer(8)], [.integer(9), .integer(10), .integer(11)]])
    }

    @Test func aRangeOfRowsKeepsTheirIndicesAndSharesTheStorage() {
        let block = RowBlock(width: 3, values: Self.values)
        let middle = block[1..<3]
        #expect(middle.count == 2 && middle.startIndex == 1 && middle.endIndex == 3)
        #expect(middle[1, 0] == .integer(3) && Array(middle[2]) == [.integer(6), .integer(7), .integer(8)])
        #expect(middle[2..<3].count == 1 && middle[2..<3][2, 2] == .integer(8))
        #expect(middle.map { Array($0) } == [[.integer(3), .integer(4), .integer(5)], [.integer(6), .integer(7), .integer(8)]])
        #expect(middle == RowBlock(width: 3, values: Array(Self.values[3..<9])))
        #expect(block[2..<2].isEmpty && block[2..<2] == RowBlock())
    }

    @Test func rowsOfArraysBecomeOneBlockOnlyWhenTheyShareAWidth() throws {
        let rows: [[Value]] = [[.text("a"), .null], [.text("b"), .integer(2)]]
        let block = try #require(RowBlock(rows: rows))
        #expect(block.width == 2 && block.arrays == rows)
        #expect(RowBlock(rows: [[.integer(1)], [.integer(1), .integer(2)]]) == nil)
        #expect(RowBlock(rows: [[Value]]())?.isEmpty == true)
        // Rows without values (an INSERT of defaults only) still count.
        let empty = try #require(RowBlock(rows: [[Value]](repeating: [], count: 3)))
        #expect(empty.count == 3 && empty.width == 0 && empty[1].isEmpty)
        #expect(empty != RowBlock() && empty == RowBlock(width: 0, values: [], count: 3))
    }

    @Test func blocksJoinInOrder() {
        let block = RowBlock(width: 2, values: Self.values)  // six rows
        let joined = RowBlock(concatenating: [block[4..<6], RowBlock(), block[0..<1], block[2..<4]])
        #expect(joined.count == 5 && joined.startIndex == 0)
        #expect(joined.arrays.map { $0[0] } == [.integer(8), .integer(10), .integer(0), .integer(4), .integer(6)])
        #expect(RowBlock(concatenating: []).isEmpty && RowBlock(concatenating: [block[1..<2]]) == block[1..<2])
        #expect(block != joined && block[0..<1] != block[1..<2])
    }
}
