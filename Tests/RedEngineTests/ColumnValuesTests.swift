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

    @Test func adoptedValuesReadAsTheSameColumnsAndShareTheirArray() throws {
        let row: [Value] = [.text("x"), .integer(7), .integer(99), .float(2.5)]
        let adopted = ColumnValues(ids: [2, 4, 9], values: row[1...])  // a slice: indices start at 1
        let built: ColumnValues = [9: .float(2.5), 2: .integer(7), 4: .integer(99)]
        #expect(adopted == built && built == adopted)
        #expect(adopted != [2: .integer(7), 4: .integer(99)] && adopted != [2: .integer(7), 4: .integer(98), 9: .float(2.5)])
        #expect(adopted.count == 3 && !adopted.isEmpty)
        #expect(adopted[2] == .integer(7) && adopted[4] == .integer(99) && adopted[9] == .float(2.5))
        #expect(adopted[0] == nil && adopted[3] == nil && adopted[10] == nil)
        #expect(adopted.map(\.key) == [2, 4, 9] && adopted.map(\.value) == [.integer(7), .integer(99), .float(2.5)])
        var visited: [UInt16] = []
        adopted.forEachInOrder { id, _ in visited.append(id) }
        #expect(visited == [2, 4, 9])
        // The same bytes as a row built column by column.
        let a = StoredRow(rid: 1, values: adopted, createdAt: 5, updatedAt: 6)
        #expect(a.encoded() == StoredRow(rid: 1, values: built, createdAt: 5, updatedAt: 6).encoded())
        #expect(a.encodedSizeBound == StoredRow(rid: 1, values: built, createdAt: 5, updatedAt: 6).encodedSizeBound)
        #expect(try StoredRow.decode(rid: 1, a.encoded()) == a)
    }

    @Test func changingAnAdoptedRowLeavesTheArrayItCameFromAlone() {
        let row: [Value] = [.integer(1), .text("b"), .integer(3)]
        var values = ColumnValues(ids: [1, 2, 3], values: row[...])
        values[2] = .text("changed")
        values[5] = .integer(5)
        values[0] = .integer(0)
        #expect(values == [0: .integer(0), 1: .integer(1), 2: .text("changed"), 3: .integer(3), 5: .integer(5)])
        var removed = ColumnValues(ids: [1, 2, 3], values: row[...])
        removed[2] = nil
        #expect(removed == [1: .integer(1), 3: .integer(3)])
        var filtered = ColumnValues(ids: [1, 2, 3], values: row[...])
        filtered.removeAll { $0.key != 2 }
        #expect(filtered == [2: .text("b")])
        #expect(row == [.integer(1), .text("b"), .integer(3)])
        #expect(ColumnValues(ids: [], values: []) == ColumnValues() && ColumnValues(ids: [], values: []).isEmpty)
    }

    @Test func rowsEncodeInIdOrderAndDecodeBackEqual() throws {
        let row = StoredRow(rid: 42, values: [7: .text("seven"), 0: .integer(-3), 65535: .json(.object([]))],
                            expiresAt: 99, createdAt: 1, updatedAt: 2)
        let decoded = try StoredRow.decode(rid: 42, row.encoded())
        #expect(decoded == row)
        #expect(decoded.values.map(\.key) == [0, 7, 65535])
    }
}
