import RedCore
import RedEngine

/// Fetches the rows an index scan's hits point to.
///
/// Each hit is one B+tree lookup of its row (a descent from the root), which is right when
/// hits come in no particular order. But an index on a column that grows with the rows — a
/// primary key of ascending ids, a creation time — yields ids in ascending order with small
/// gaps, and a scan of it often reads on past many rows (`ORDER BY id LIMIT 1` with a filter:
/// a job queue skipping done jobs). After a run of such hits this fetcher opens a forward
/// cursor over the rows at the next id and steps through the leaf it holds to each next hit:
/// one descent per leaf instead of per row. A hit that goes backwards or jumps far goes back
/// to lookups.
///
/// The cursor sees what a lookup sees: the rows visible at the statement's snapshot and the
/// transaction's own writes made before it opened (a statement's scan runs before it writes).
final class IndexHitFetcher {
    private let store: TableStore
    private let tx: Transaction
    private let handle: TableHandle
    private var cursor: RowCursor?
    /// The cursor's current entry; `atEnd` once it has none left.
    private var key: [UInt8] = []
    private var value: [UInt8] = []
    private var atEnd = false
    private var lastID: UInt64?
    /// Hits so far that each came after the one before, at most `maximumGap` ids on.
    private var ascendingRun = 0
    /// Rows keyed by id (all but KV stores, keyed by their own keys): the cursor applies.
    private let keyedByID: Bool

    /// Ascending hits in a row before the cursor opens.
    static let runBeforeCursor = 8
    /// The largest step between hits (and rows stepped over) the cursor follows. Small: the
    /// cursor reads every row of a leaf, hit or not (large values included), so it pays only
    /// where most rows are hits.
    static let maximumGap: UInt64 = 4

    init(store: TableStore, tx: Transaction, handle: TableHandle) {
        self.store = store
        self.tx = tx
        self.handle = handle
        keyedByID = handle.schema.model != .kv
    }

    /// Row `rid`'s key and record bytes, nil when the transaction cannot see it.
    func fetch(_ rid: Int64) throws -> (key: [UInt8], value: [UInt8])? {
        // Keys are big-endian bit patterns: the cursor's order is that of the ids as unsigned.
        let id = UInt64(bitPattern: rid)
        defer { lastID = id }
        if let lastID, id > lastID, id - lastID <= Self.maximumGap {
            ascendingRun += 1
        } else {
            ascendingRun = 0
            cursor = nil
        }
        if keyedByID, ascendingRun >= Self.runBeforeCursor, let found = try step(to: id) { return found }
        return try store.getRaw(tx, handle, rid: rid).map { (StoredRow.key(rid: rid), $0) }
    }

    /// Steps the cursor (opening it at `id` first) to `id`: its entry, `.some(nil)` when the
    /// cursor shows there is no such visible row, nil when it would step too far (a lookup then).
    private func step(to id: UInt64) throws -> (key: [UInt8], value: [UInt8])?? {
        if cursor == nil {
            let opened = try store.scan(tx, handle, rids: (lower: Int64(bitPattern: id), upper: nil))
            cursor = opened
            atEnd = try !opened.nextRaw(key: &key, value: &value)
        }
        var stepped: UInt64 = 0
        while !atEnd {
            let current = UInt64(bitPattern: StoredRow.rid(fromKey: key))
            if current == id { return .some((key, value)) }
            if current > id { return .some(nil) }
            stepped += 1
            guard stepped <= Self.maximumGap else {
                cursor = nil
                ascendingRun = 0
                return nil
            }
            atEnd = try !cursor!.nextRaw(key: &key, value: &value)
        }
        return .some(nil)
    }
}
