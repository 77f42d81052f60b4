import RedCore
import Testing
@testable import RedEngine

@Suite struct ColumnValuesTests {
    @Test func keepsColumnsInIdOrderWhateverOrderTheyArriveIn() {
        var values = ColumnValues()
        for id: UInt16 in [5, 1, 9, 3, 7, 1] { values[id] = .integer(Int64(id) * 10) }
        #expect(values.map(\.key) == [1, 3, 5, 7, 9])
        #expect(values[3] == .integer(30) && values[4] == nil)
        values[5] = nil
        values[6] = nil  // removing what is not there
        #expect(values.map(\.key) == [1, 3, 7, 9])
        values.removeAll { $0.key > 6 }
        #expect(values == [1: .integer(10), 3: .integer(30)])
        #expect(ColumnValues([9: .null, 2: .text("b")]).map(\.key) == [2, 9])
    }

    @Test func rowsEncodeInIdOrderAndDecodeBackEqual() throws {
        let row = StoredRow(rid: 42, values: [7: .text("seven"), 0: .integer(-3), 65535: .json(.object([]))],
                            expiresAt: 99, createdAt: 1, updatedAt: 2)
        let decoded = try StoredRow.decode(rid: 42, row.encoded())
        #expect(decoded == row)
        #expect(decoded.values.map(\.key) == [0, 7, 65535])
    }
}
