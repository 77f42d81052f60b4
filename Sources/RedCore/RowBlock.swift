/// Rows of one width whose values lie end to end in one array: a bulk load's decoded rows.
///
/// Why not `[[Value]]`: an array per row is an allocation per row when the rows are decoded
/// and a free when they are dropped, about a tenth of the server's time in a bulk load on one
/// core (`red bench surfaces`). Here a frame's rows are one allocation, a row is a slice of
/// it (`self[r]`, no copy), and a range of rows (`self[a..<b]`) shares the same storage.
/// An inserted row can keep its slice as its values (`ColumnValues(ids:values:)`).
public struct RowBlock: RandomAccessCollection, Sendable, Equatable {
    public typealias Index = Int
    public typealias SubSequence = RowBlock
    public typealias Indices = Range<Int>

    /// Values per row.
    public let width: Int
    /// Row `r`'s values are `storage[r * width ..< (r + 1) * width]` (storage indices from 0).
    private let storage: [Value]
    public let startIndex: Int
    public let endIndex: Int

    /// Rows of `width` values taken from `values` in order; `values.count` must be a multiple
    /// of `width`. With `width` 0, `count` empty rows (an INSERT of defaults only).
    public init(width: Int, values: [Value], count: Int? = nil) {
        precondition(width >= 0 && (width == 0 ? values.isEmpty : values.count % width == 0), "whole rows only")
        precondition(count == nil || width == 0 || count == values.count / width, "the count the values make")
        self.width = width
        storage = values
        startIndex = 0
        endIndex = width == 0 ? (count ?? 0) : values.count / width
    }

    /// `rows` copied end to end, or nil when they are not all of one width.
    public init?<Rows: Collection>(rows: Rows) where Rows.Element == [Value] {
        let width = rows.first?.count ?? 0
        var values: [Value] = []
        values.reserveCapacity(width * rows.count)
        for row in rows {
            guard row.count == width else { return nil }
            values.append(contentsOf: row)
        }
        self.init(width: width, values: values, count: rows.count)
    }

    /// No rows.
    public init() { self.init(width: 0, values: []) }

    private init(width: Int, storage: [Value], bounds: Range<Int>) {
        self.width = width
        self.storage = storage
        startIndex = bounds.lowerBound
        endIndex = bounds.upperBound
    }

    public var indices: Range<Int> { startIndex..<endIndex }

    /// Row `r`, sharing the block's storage.
    public subscript(r: Int) -> ArraySlice<Value> {
        precondition(r >= startIndex && r < endIndex, "row index out of range")
        return storage[(r * width)..<(r * width + width)]
    }

    /// Value `c` of row `r`.
    public subscript(r: Int, c: Int) -> Value {
        precondition(r >= startIndex && r < endIndex && c >= 0 && c < width, "cell out of range")
        return storage[r * width + c]
    }

    /// Rows `bounds`, sharing the block's storage.
    public subscript(bounds: Range<Int>) -> RowBlock {
        precondition(bounds.lowerBound >= startIndex && bounds.upperBound <= endIndex, "row range out of range")
        return RowBlock(width: width, storage: storage, bounds: bounds)
    }

    /// The rows as arrays of their own (for callers that keep rows apart).
    public var arrays: [[Value]] { map { Array($0) } }

    /// The rows of `blocks` in order, in one new block; the blocks that hold rows must be of one width.
    public init(concatenating blocks: [RowBlock]) {
        let filled = blocks.filter { !$0.isEmpty }
        guard let first = filled.first else {
            self.init()
            return
        }
        if filled.count == 1 {
            self = first
            return
        }
        precondition(filled.allSatisfy { $0.width == first.width }, "blocks of one width")
        var values: [Value] = []
        values.reserveCapacity(filled.reduce(0) { $0 + $1.count } * first.width)
        for block in filled { values.append(contentsOf: block.storage[(block.startIndex * block.width)..<(block.endIndex * block.width)]) }
        self.init(width: first.width, values: values, count: filled.reduce(0) { $0 + $1.count })
    }

    public static func == (a: RowBlock, b: RowBlock) -> Bool {
        a.count == b.count && (a.isEmpty || (a.width == b.width && zip(a, b).allSatisfy { $0 == $1 }))
    }
}
