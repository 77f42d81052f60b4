import RedCore
import Synchronization

/// One committed change to an item, as the change feed (`GET /changes`) reports it.
public struct ChangeEvent: Sendable, Equatable {
    public enum Operation: String, Sendable { case insert, update, delete }

    /// End LSN of the commit's WAL record: events of one commit share it, and it orders commits.
    public var lsn: UInt64
    public var collection: String
    /// `table`, `document` or `kv`.
    public var kind: String
    public var operation: Operation
    /// The item's rid (tables and documents).
    public var rid: Int64?
    /// The item's key (key-value collections).
    public var key: String?
    /// Commit time, Unix milliseconds.
    public var timestamp: Int64
    /// Key-value items: the value before and after the change (nil: absent, as before an
    /// insert or after a delete). Values larger than `ChangeFeed.maxKeptValueBytes` are not
    /// kept in memory; `valuesOmitted` then says so.
    public var before: Value?
    public var after: Value?
    public var valuesOmitted = false
    /// Position in the feed since the database opened (1, 2, …): a gap between two events
    /// a reader receives counts the events the feed dropped in between.
    public var sequence: UInt64 = 0
}

/// A change noted by a transaction, stamped with its LSN when the commit is appended.
///
/// A bulk load notes one per row and keeps them until it commits, so the common row
/// change stays small: the key-value fields (a key, the values before and after) live in
/// a box that only key-value changes allocate, and a run of the same operation on
/// consecutive rids of one collection (a load's inserts) is one change with a `count`.
struct PendingChange: Sendable {
    var collection: String
    var kind: String
    var operation: ChangeEvent.Operation
    var rid: Int64?
    /// Items changed: rids `rid ..< rid + count` (1 unless a run of rid changes).
    var count = 1
    private var keyValue: KeyValueDetail?

    private final class KeyValueDetail: Sendable {
        let key: String?
        let before: Value?
        let after: Value?
        let valuesOmitted: Bool
        init(key: String?, before: Value?, after: Value?, valuesOmitted: Bool) {
            self.key = key
            self.before = before
            self.after = after
            self.valuesOmitted = valuesOmitted
        }
    }

    init(collection: String, kind: String, operation: ChangeEvent.Operation, rid: Int64? = nil, key: String? = nil,
         before: Value? = nil, after: Value? = nil, valuesOmitted: Bool = false) {
        self.collection = collection
        self.kind = kind
        self.operation = operation
        self.rid = rid
        if key != nil || before != nil || after != nil || valuesOmitted {
            keyValue = KeyValueDetail(key: key, before: before, after: after, valuesOmitted: valuesOmitted)
        }
    }

    /// Whether `next` is the same operation on the rid right after this run, so that it can
    /// extend the run instead of being kept on its own.
    func isContinued(by next: PendingChange) -> Bool {
        guard let nextRID = next.rid, next.keyValue == nil, next.count == 1 else { return false }
        return isContinued(collection: next.collection, kind: next.kind, operation: next.operation, rid: nextRID)
    }

    /// Whether a change to row `rid` is the same operation on the rid right after this run.
    func isContinued(collection: String, kind: String, operation: ChangeEvent.Operation, rid next: Int64) -> Bool {
        guard let rid, keyValue == nil else { return false }
        return next == rid &+ Int64(count) && operation == self.operation && collection == self.collection && kind == self.kind
    }

    var key: String? { keyValue?.key }
    /// Key-value items only: the value before and after the change.
    var before: Value? { keyValue?.before }
    var after: Value? { keyValue?.after }
    /// The values were too large to keep (a change decoded from a primary's commit record).
    var valuesOmitted: Bool { keyValue?.valuesOmitted ?? false }

    // MARK: In commit records

    /// The change as a replication primary logs it in its commit record (`CommitRecord`, op 5),
    /// so a replica's change feed shows the primary's changes:
    /// `u8 operation | u8 flags (1 rid, 2 key, 4 before, 8 after, 16 values omitted) |
    /// collection | kind | [zigzag rid, count] | [key] | [before] | [after]` (strings
    /// length-prefixed, values as `ValueCodec`). Values too large for the feed are left out.
    func encoded() -> [UInt8] {
        let keep = ChangeFeed.approximateBytes(before) <= ChangeFeed.maxKeptValueBytes && ChangeFeed.approximateBytes(after) <= ChangeFeed.maxKeptValueBytes
        var w = ByteWriter()
        w.u8(operation == .insert ? 0 : operation == .update ? 1 : 2)
        var flags: UInt8 = 0
        if rid != nil { flags |= 1 }
        if key != nil { flags |= 2 }
        if keep, before != nil { flags |= 4 }
        if keep, after != nil { flags |= 8 }
        if !keep || valuesOmitted { flags |= 16 }
        w.u8(flags)
        w.lengthPrefixed(utf8: collection)
        w.lengthPrefixed(utf8: kind)
        if let rid {
            w.varint(ValueCodec.zigzag(rid))
            w.varint(UInt64(count))
        }
        if let key { w.lengthPrefixed(utf8: key) }
        if keep, let before { ValueCodec.encode(before, into: &w) }
        if keep, let after { ValueCodec.encode(after, into: &w) }
        return w.bytes
    }

    init(encoded bytes: [UInt8]) throws {
        var r = ByteReader(bytes, context: "logged change")
        let op = try r.u8()
        guard op <= 2 else { throw RedError(.dataCorrupted, "a logged change has an unknown operation \(op)") }
        let flags = try r.u8()
        let collection = try r.lengthPrefixedString(limit: Limits.maxKeyBytes)
        let kind = try r.lengthPrefixedString(limit: 64)
        var rid: Int64?
        var count = 1
        if flags & 1 != 0 {
            rid = ValueCodec.unzigzag(try r.varint())
            count = try r.count(limit: Int(Int32.max), "change run length")
        }
        let key = flags & 2 != 0 ? try r.lengthPrefixedString(limit: Limits.maxValueBytes) : nil
        let before = flags & 4 != 0 ? try ValueCodec.decode(&r) : nil
        let after = flags & 8 != 0 ? try ValueCodec.decode(&r) : nil
        guard r.isAtEnd else { throw RedError(.dataCorrupted, "a logged change has trailing bytes") }
        self.init(collection: collection, kind: kind, operation: op == 0 ? .insert : op == 1 ? .update : .delete, rid: rid, key: key,
                  before: before, after: after, valuesOmitted: flags & 16 != 0)
        self.count = max(1, count)
    }
}

/// The most recent committed changes, in LSN order, kept in memory.
///
/// Events are appended while the commit holds the WAL append lock, so the ring
/// is in LSN order by construction; readers only see events whose LSN is
/// durable, so a commit that has been appended but not yet synced (or whose
/// sync then fails) never shows up, and a reader can never see a later commit
/// before an earlier one. At most `capacity` events are retained; older ones
/// are dropped and `ChangePage.truncated` tells a reader it missed some.
/// The feed starts empty when the database opens (it is not persisted).
///
/// A run of changes to consecutive rids (a load's inserts) is kept as one entry and
/// expanded into events only when read: a 50,000-row commit appends one entry, not
/// 50,000 events built, copied and mostly overwritten by the next commit.
public final class ChangeFeed: Sendable {
    /// Events kept (about 100 bytes each, plus key-value values).
    public static let defaultCapacity = 100_000
    /// Largest key-value value (before or after) an event keeps, so the feed's memory stays
    /// bounded: at most `defaultCapacity` × 2 × 64 KiB in the worst case, far less in practice.
    public static let maxKeptValueBytes = 64 << 10

    /// `count` events: `first`, then the same change to the next rids with the next sequences.
    private struct Entry {
        var first: ChangeEvent
        var count: Int

        func event(_ i: Int) -> ChangeEvent {
            guard i > 0 else { return first }
            var event = first
            event.rid = first.rid.map { $0 &+ Int64(i) }
            event.sequence = first.sequence + UInt64(i)
            return event
        }

        /// Drops the first `n` events (fewer than `count`).
        mutating func dropFirst(_ n: Int) {
            first = event(n)
            count -= n
        }
    }

    private struct Ring {
        /// Oldest first, from `head`; the slots before `head` are dropped and reclaimed in bulk.
        var entries: [Entry] = []
        var head = 0
        var eventCount = 0
        var droppedThroughLSN: UInt64 = 0
        var nextSequence: UInt64 = 1

        mutating func dropOldest(_ excess: Int) {
            var excess = excess
            while excess > 0 {
                droppedThroughLSN = entries[head].first.lsn
                if entries[head].count <= excess {
                    excess -= entries[head].count
                    eventCount -= entries[head].count
                    head += 1
                } else {
                    entries[head].dropFirst(excess)
                    eventCount -= excess
                    excess = 0
                }
            }
            if head > 1024 && head * 2 > entries.count {
                entries.removeFirst(head)
                head = 0
            }
        }
    }

    let capacity: Int
    private let ring = Mutex(Ring())

    init(capacity: Int = ChangeFeed.defaultCapacity) { self.capacity = max(1, capacity) }

    func append(_ changes: [PendingChange], lsn: UInt64, timestamp: Int64) {
        ring.withLock { r in
            for c in changes {
                var event = ChangeEvent(lsn: lsn, collection: c.collection, kind: c.kind, operation: c.operation, rid: c.rid, key: c.key,
                                        timestamp: timestamp)
                if !c.valuesOmitted, Self.approximateBytes(c.before) <= Self.maxKeptValueBytes, Self.approximateBytes(c.after) <= Self.maxKeptValueBytes {
                    event.before = c.before
                    event.after = c.after
                } else {
                    event.valuesOmitted = true
                }
                event.sequence = r.nextSequence
                r.nextSequence += UInt64(c.count)
                r.entries.append(Entry(first: event, count: c.count))
                r.eventCount += c.count
            }
            if r.eventCount > capacity { r.dropOldest(r.eventCount - capacity) }
        }
    }

    /// About how many bytes `value` holds (text and binary exactly; other scalars 16).
    static func approximateBytes(_ value: Value?) -> Int {
        switch value {
        case nil: return 0
        case .text(let text)?: return text.utf8.count
        case .blob(let bytes)?: return bytes.count
        case .vector(let floats)?: return floats.count * 4
        case .json(let json)?: return json.text.utf8.count
        default: return 16
        }
    }

    /// Up to `limit` events with `lsn > since` and `lsn <= durable`, oldest first. A commit is
    /// never split across pages: a page ends before a commit that would not fit whole, unless
    /// that commit alone is larger than `limit`, in which case the page holds all of it.
    func page(since: UInt64, limit: Int, durable: UInt64) -> ChangePage {
        ring.withLock { r in
            // Binary search for the first entry after `since` (entries are sorted by LSN).
            var low = r.head, high = r.entries.count
            while low < high {
                let mid = (low + high) / 2
                if r.entries[mid].first.lsn <= since { low = mid + 1 } else { high = mid }
            }
            var out: [ChangeEvent] = []
            var i = low  // the next event is event `k` of entry `i`
            var k = 0
            func take(_ n: Int) {
                for e in k..<(k + n) { out.append(r.entries[i].event(e)) }
                k += n
                if k == r.entries[i].count { i += 1; k = 0 }
            }
            while i < r.entries.count, out.count < limit, r.entries[i].first.lsn <= durable {
                take(min(r.entries[i].count - k, limit - out.count))
            }
            // Never split a commit across pages: the next page starts after the last LSN returned.
            if let last = out.last?.lsn, i < r.entries.count, r.entries[i].first.lsn == last {
                if out.first?.lsn != last {
                    while out.last?.lsn == last { out.removeLast() }
                } else {
                    while i < r.entries.count, r.entries[i].first.lsn == last { take(r.entries[i].count - k) }
                }
            }
            return ChangePage(events: out, truncated: since < r.droppedThroughLSN)
        }
    }
}

/// One read of the change feed.
public struct ChangePage: Sendable {
    public var events: [ChangeEvent]
    /// True when events after the requested LSN were already dropped from memory.
    public var truncated: Bool
}
