import RedCore

/// A row's values by column id, kept in ascending id order in one array.
///
/// Why not a dictionary: a row has a handful of columns, and a bulk load builds
/// one per row. A dictionary allocates its hash table, hashes every id and must
/// be sorted before the row is encoded (records list columns in id order); an
/// ordered array is one allocation, usually filled by appends (columns arrive
/// in schema order, which is id order), and encodes as it stands.
public struct ColumnValues: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Element = (key: UInt16, value: Value)

    private var entries: [Entry] = []

    fileprivate struct Entry: Sendable, Equatable {
        var id: UInt16
        var value: Value
    }

    public init() {}

    public init(dictionaryLiteral elements: (UInt16, Value)...) {
        for (id, value) in elements { self[id] = value }
    }

    public init(_ dictionary: [UInt16: Value]) {
        entries = dictionary.sorted { $0.key < $1.key }.map { Entry(id: $0.key, value: $0.value) }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    public mutating func reserveCapacity(_ n: Int) { entries.reserveCapacity(n) }

    /// Where `id` is, or where it would go.
    private func position(of id: UInt16) -> (index: Int, found: Bool) {
        // Appends in id order are the common case: check the end first.
        if let last = entries.last {
            if last.id < id { return (entries.count, false) }
            if last.id == id { return (entries.count - 1, true) }
        }
        var lo = 0
        var hi = entries.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if entries[mid].id < id { lo = mid + 1 } else { hi = mid }
        }
        return (lo, lo < entries.count && entries[lo].id == id)
    }

    /// The value of column `id`; setting nil removes it.
    public subscript(id: UInt16) -> Value? {
        get {
            let (index, found) = position(of: id)
            return found ? entries[index].value : nil
        }
        set {
            let (index, found) = position(of: id)
            switch (found, newValue) {
            case (true, let value?): entries[index].value = value
            case (true, nil): entries.remove(at: index)
            // An append, the usual case, as one: `insert(at: count)` goes through replaceSubrange.
            case (false, let value?) where index == entries.count: entries.append(Entry(id: id, value: value))
            case (false, let value?): entries.insert(Entry(id: id, value: value), at: index)
            case (false, nil): break
            }
        }
    }

    /// Drops the columns `predicate` picks.
    public mutating func removeAll(where predicate: (Element) throws -> Bool) rethrows {
        try entries.removeAll { try predicate(($0.id, $0.value)) }
    }

    public struct Iterator: IteratorProtocol {
        fileprivate var base: IndexingIterator<[Entry]>
        public mutating func next() -> Element? { base.next().map { ($0.id, $0.value) } }
    }

    public func makeIterator() -> Iterator { Iterator(base: entries.makeIterator()) }

    /// Calls `body` with each column in id order (no iterator object: the encoding hot path).
    public func forEachInOrder(_ body: (UInt16, Value) throws -> Void) rethrows {
        for entry in entries { try body(entry.id, entry.value) }
    }
}
