import RedCore
import Synchronization

/// The vectors of vector collections, and of tables' `vector` columns, copied out of their
/// records into contiguous memory, so a search compares its query with every item in one pass
/// over floats instead of reading each record through the B+tree (a profile of uncached
/// searches: 83 % reading records, 7 % the arithmetic). Searches stay exact: the same items,
/// the same distance function, the same order.
///
/// An `Entry` is one column's items (a vector collection's: column 0) as of one snapshot
/// (`asOf`), built by a scan at that
/// snapshot. A search at snapshot S may use it when no commit to the collection lies between S
/// and `asOf`; the engine's `lastWriteTS(of:)` is recorded before a commit is published, so
/// `lastWrite ≤ min(S, asOf)` proves it. A transaction with pending writes to the collection
/// neither uses nor builds an entry (its reads are not its snapshot's). Expiry is kept per item
/// and checked by each search: time passes without commits.
///
/// Entries share a byte budget and go least recently used first; a collection larger than the
/// budget is not cached (its searches scan, as without the cache). A workload that writes
/// between most searches would rebuild an entry per search: an entry that served no search
/// after the one that built it makes its collection's next rebuilds back off (the next 2, 4, …
/// 64 stale searches scan instead of building), so such a workload pays a rebuild about once
/// per 64 searches at most, while one that turns to reading gets its entry back at once.
public final class VectorItemCache: Sendable {
    /// One column's items of one dimension, in rid order. The group of rows whose column holds
    /// no vector (NULL or absent) is kept under `noVector`, with no components.
    public struct Group: Sendable {
        public internal(set) var rids: [Int64] = []
        /// When each item expires (Unix ms; `Int64.max`: never).
        public internal(set) var expiresAt: [Int64] = []
        /// `rids.count × dimension` components, item after item, as stored: little-endian f32
        /// bit patterns (what `VectorMetric.distance(_:littleEndianFloats:count:)` reads).
        public internal(set) var components: [Float] = []
    }

    /// The `groups` key of the rows whose column holds no vector.
    public static let noVector = -1

    public final class Entry: Sendable {
        public let asOf: UInt64
        /// By dimension: a collection without a declared DIM may mix them.
        public let groups: [Int: Group]
        public let bytes: Int
        let searches = Atomic<Int>(0)

        init(asOf: UInt64, groups: [Int: Group]) {
            self.asOf = asOf
            self.groups = groups
            bytes = groups.values.reduce(0) { $0 + $1.components.count * 4 + $1.rids.count * 16 } + 64
        }
    }

    struct Slot {
        var entry: Entry?
        var lastUse: UInt64 = 0
        var building = false
        /// Builds in a row whose entry served no search but the one that built it.
        var unusedBuilds = 0
        /// Stale searches that scanned instead of building since the last build.
        var skipped = 0
    }

    /// A slot per cached column.
    struct SlotKey: Hashable {
        var collection: UInt32
        var column: UInt16
    }

    struct State {
        var slots: [SlotKey: Slot] = [:]
        var bytes = 0
        var clock: UInt64 = 0
        var builds = 0
        var hits = 0
    }

    /// Most bytes all entries may hold together (0: no cache).
    public let budgetBytes: Int
    private let state = Mutex(State())

    public init(budgetBytes: Int) { self.budgetBytes = max(0, budgetBytes) }

    /// Entries built and searches served from one, since the cache was made (for tests and stats).
    public var counters: (builds: Int, hits: Int, bytes: Int) { state.withLock { ($0.builds, $0.hits, $0.bytes) } }

    /// The entry a search of `handle`'s column `column` in `tx` may use, building it first when
    /// that is worth it; nil when the search must scan the records (own writes, a commit newer
    /// than the snapshot, a column over budget or holding values that are not vectors, backing
    /// off, or another search building it right now). `checkCancelled` is called every few
    /// thousand items of a build.
    public func entry(for handle: TableHandle, column: UInt16 = 0, in tx: Transaction, store: TableStore,
                      checkCancelled: () throws -> Void) throws -> Entry? {
        guard budgetBytes > 0 else { return nil }
        let collection = handle.collection
        let key = SlotKey(collection: collection.id, column: column)
        guard !tx.hasWrites(in: collection) else { return nil }
        let decision: Entry?? = state.withLock { s in
            // Read under the lock, where entries are stored: every commit at or below a stored
            // entry's snapshot, or the reader's, was recorded before this read.
            let lastWrite = store.engine.lastWriteTS(of: collection)
            guard lastWrite <= tx.snapshot else { return .some(nil) }  // a newer commit: scan (and build nothing older)
            s.clock += 1
            var slot = s.slots[key] ?? Slot()
            defer { s.slots[key] = slot }
            if let entry = slot.entry, lastWrite <= entry.asOf {
                slot.lastUse = s.clock
                entry.searches.add(1, ordering: .relaxed)
                s.hits += 1
                return .some(entry)
            }
            if slot.building { return .some(nil) }
            if slot.unusedBuilds > 0, slot.skipped < (1 << min(slot.unusedBuilds, 6)) {
                slot.skipped += 1
                return .some(nil)
            }
            if let stale = slot.entry {
                slot.unusedBuilds = stale.searches.load(ordering: .relaxed) <= 1 ? slot.unusedBuilds + 1 : 0
            }
            slot.skipped = 0
            slot.building = true
            return .none
        }
        if let decided = decision { return decided }
        var built: Entry?
        defer { finishBuilding(key, built) }
        built = try build(handle, column: column, in: tx, store: store, checkCancelled: checkCancelled)
        built?.searches.add(1, ordering: .relaxed)
        return built
    }

    /// Scans the collection at `tx`'s snapshot; nil once it outgrows the budget, or at a value
    /// of the column that is neither a vector nor NULL.
    private func build(_ handle: TableHandle, column: UInt16, in tx: Transaction, store: TableStore,
                       checkCancelled: () throws -> Void) throws -> Entry? {
        var groups: [Int: Group] = [:]
        // The group being filled, kept out of the dictionary (a collection mostly has one dimension).
        var dimension = 0, group = Group()
        var bytes = 0, seen = 0
        let cursor = try store.scan(tx, handle)
        var key: [UInt8] = [], record: [UInt8] = []
        while try cursor.nextRaw(key: &key, value: &record) {
            seen += 1
            if seen & 4095 == 0 { try checkCancelled() }
            let location = try StoredRow.vectorLocation(record, column: UInt64(column))
            // An empty vector would share the no-group marker below; neither is ever stored by
            // SQL, and a column holding one is scanned, not cached.
            guard !location.other, location.offset == nil || location.count > 0 else { return nil }
            let itemDimension = location.offset == nil ? Self.noVector : location.count
            bytes += max(0, itemDimension) * 4 + 16
            guard bytes <= budgetBytes else { return nil }
            if itemDimension != dimension {
                if dimension != 0 { groups[dimension] = group }
                dimension = itemDimension
                group = groups.removeValue(forKey: dimension) ?? Group()
            }
            group.rids.append(StoredRow.rid(fromKey: key))
            group.expiresAt.append(location.header.expiresAt ?? .max)
            guard let offset = location.offset, dimension > 0 else { continue }
            let start = group.components.count
            group.components.append(contentsOf: repeatElement(0, count: dimension))
            group.components.withUnsafeMutableBytes { target in
                record.withUnsafeBytes { source in
                    (target.baseAddress! + 4 * start).copyMemory(from: source.baseAddress! + offset, byteCount: 4 * dimension)
                }
            }
        }
        if dimension != 0 { groups[dimension] = group }
        return Entry(asOf: tx.snapshot, groups: groups)
    }

    private func finishBuilding(_ id: SlotKey, _ entry: Entry?) {
        state.withLock { s in
            var slot = s.slots[id] ?? Slot()
            slot.building = false
            if let old = slot.entry { s.bytes -= old.bytes }
            slot.entry = nil
            guard let entry, entry.bytes <= budgetBytes else {
                slot.unusedBuilds += 1  // over budget (or cancelled): back off as for an unused entry
                s.slots[id] = slot
                return
            }
            do {
                // Least recently used first, never the one being stored.
                while s.bytes + entry.bytes > budgetBytes,
                      let victim = s.slots.filter({ $0.key != id && $0.value.entry != nil }).min(by: { $0.value.lastUse < $1.value.lastUse }) {
                    s.bytes -= victim.value.entry!.bytes
                    s.slots[victim.key]?.entry = nil
                }
                slot.entry = entry
                slot.lastUse = s.clock
                s.bytes += entry.bytes
                s.builds += 1
            }
            s.slots[id] = slot
        }
    }
}
