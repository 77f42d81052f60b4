import RedCore

/// A row's values by column id, kept in ascending id order in one array.
///
/// Why not a dictionary: a row has a handful of columns, and a bulk load builds
/// one per row. A dictionary allocates its hash table, hashes every id and must
/// be sorted before the row is encoded (records list columns in id order); an
/// ordered array is one allocation, usually filled by appends (columns arrive
/// in schema order, which is id order), and encodes as it stands.
///
/// **Adopted values.** A bulk load's row arrives as values already in column order, a slice
/// of its batch's `RowBlock` (a RedWire frame, a COPY or gRPC batch). `init(ids:values:)` keeps that slice as it is, with an id array
/// that every row of the load shares: the row then costs no allocation and no copy of its
/// values, where building `entries` was one of the two allocations each loaded row made (the
/// other, an array per decoded row, is what `RowBlock` saves). Reads serve either form; the
/// first change turns an adopted row into `entries` (`materialize`), so every mutating path
/// is the ordinary one. (A kept row keeps its frame's block alive: a load's rows live no
/// longer than its statement and batch, which hold the block anyway.)
public struct ColumnValues: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Element = (key: UInt16, value: Value)

    private var entries: [Entry] = []
    /// Adopted form: ascending ids, their values at the same offsets in `adopted`; empty otherwise.
    private var adoptedIDs: [UInt16] = []
    private var adopted: ArraySlice<Value> = []

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

    /// Adopts `values`, the values of columns `ids` (ascending, as many as the values, none
    /// NULL: an absent column is how a row holds NULL), without copying either.
    public init(ids: [UInt16], values: ArraySlice<Value>) {
        precondition(ids.count == values.count, "one id per value")
        assert(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 } && !values.contains(where: \.isNull), "ascending ids, no NULL")
        adoptedIDs = ids
        adopted = values
    }

    private var isAdopted: Bool { !adoptedIDs.isEmpty }

    public var count: Int { isAdopted ? adoptedIDs.count : entries.count }
    public var isEmpty: Bool { count == 0 }

    public mutating func reserveCapacity(_ n: Int) { entries.reserveCapacity(n) }

    /// Turns an adopted row into `entries` before a change.
    private mutating func materialize() {
        guard isAdopted else { return }
        var out: [Entry] = []
        out.reserveCapacity(adoptedIDs.count + 1)
        forEachInOrder { out.append(Entry(id: $0, value: $1)) }
        entries = out
        adoptedIDs = []
        adopted = []
    }

    /// The adopted value of `id`, if it is there (binary search; ids are few).
    private func adoptedValue(_ id: UInt16) -> Value? {
        var lo = 0
        var hi = adoptedIDs.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            let m = adoptedIDs[mid]
            if m < id { lo = mid + 1 } else if m > id { hi = mid } else { return adopted[adopted.startIndex + mid] }
        }
        return nil
    }

    public static func == (a: ColumnValues, b: ColumnValues) -> Bool {
        guard a.count == b.count else { return false }
        if !a.isAdopted && !b.isAdopted { return a.entries == b.entries }
        return zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    /// Where `id` is, or where it would go (in `entries`).
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
            if isAdopted { return adoptedValue(id) }
            let (index, found) = position(of: id)
            return found ? entries[index].value : nil
        }
        set {
            materialize()
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
        materialize()
        try entries.removeAll { try predicate(($0.id, $0.value)) }
    }

    public struct Iterator: IteratorProtocol {
        fileprivate let values: ColumnValues
        fileprivate var index = 0

        public mutating func next() -> Element? {
            guard index < values.count else { return nil }
            defer { index += 1 }
            if values.isAdopted { return (values.adoptedIDs[index], values.adopted[values.adopted.startIndex + index]) }
            let entry = values.entries[index]
            return (entry.id, entry.value)
        }
    }

    public func makeIterator() -> Iterator { Iterator(values: self) }

    /// Calls `body` with each column in id order (no iterator object: the encoding hot path).
    public func forEachInOrder(_ body: (UInt16, Value) throws -> Void) rethrows {
        if isAdopted {
            var at = adopted.startIndex
            for id in adoptedIDs {
                try body(id, adopted[at])
                at += 1
            }
        } else {
            for entry in entries { try body(entry.id, entry.value) }
        }
    }
}
