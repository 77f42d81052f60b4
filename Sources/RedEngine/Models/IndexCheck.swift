import RedCore
import RedStorage

/// What checking one index against its table found (`TableStore.checkIndexes`).
public struct IndexCheck: Sendable, Equatable {
    public var index: String
    /// Entries the index holds.
    public var entries = 0
    /// Rows whose entry is absent, or present but naming another row.
    public var missing = 0
    /// Entries no row accounts for (a deleted row's, or a second one for a row).
    public var dangling = 0
    /// A few row ids of `missing` rows, to look at.
    public var missingExamples: [Int64] = []
    public var consistent: Bool { missing == 0 && dangling == 0 }

    /// Most example row ids kept per index.
    static let maxExamples = 10
}

/// What checking one table's indexes found.
public struct TableIndexCheck: Sendable, Equatable {
    public var table: String
    public var rows = 0
    public var indexes: [IndexCheck] = []
    public var consistent: Bool { indexes.allSatisfy(\.consistent) }
}

extension TableStore {
    /// Checks that every index of `handle` holds exactly one entry per row, naming that row,
    /// as `tx` sees them (a snapshot: writers go on meanwhile). Each row's entry is looked up
    /// where `insertIndexEntry` puts it, and each index's entries counted: memory stays
    /// constant whatever the table's size. A table whose rows are not keyed by row id (a KV
    /// store) keys no index by rid and is reported with its rows only.
    public func checkIndexes(_ tx: Transaction, _ handle: TableHandle) throws -> TableIndexCheck {
        var result = TableIndexCheck(table: handle.name)
        result.indexes = handle.indexTargets.map { IndexCheck(index: $0.definition.name) }
        var matched = [Int](repeating: 0, count: handle.indexTargets.count)
        let cursor = try tx.scan(handle.collection)
        while let entry = try cursor.next() {
            result.rows += 1
            guard entry.key.count == 8, !handle.indexTargets.isEmpty else { continue }
            let row = try StoredRow.decode(rid: StoredRow.rid(fromKey: entry.key), entry.value)
            for (position, target) in handle.indexTargets.enumerated() {
                guard let key = try indexTreeKey(tx, target, row)?.key else { continue }  // outside a partial index
                if let value = try tx.getUnlikely(treeKey: key, collectionID: target.storage.id),
                   value.count == 8, StoredRow.rid(fromKey: value) == row.rid {
                    matched[position] += 1
                } else {
                    result.indexes[position].missing += 1
                    if result.indexes[position].missingExamples.count < IndexCheck.maxExamples {
                        result.indexes[position].missingExamples.append(row.rid)
                    }
                }
            }
        }
        for (position, target) in handle.indexTargets.enumerated() {
            let entries = try tx.scan(target.storage)
            var count = 0
            while try entries.next() != nil { count += 1 }
            result.indexes[position].entries = count
            result.indexes[position].dangling = count - matched[position]
        }
        return result
    }
}
