import RedCore
import RedEngine

/// What a key-value watch selects: a key, or the keys under a prefix (`key` ending in `.*`:
/// `session.*` selects `session.a` and `session.b.c`). gRPC `KvWatch` and HTTP
/// `GET /collections/{c}/kvs/{key}/watch` share it.
struct KeyValueWatchFilter: Sendable {
    let collection: String
    let exact: String?
    let prefix: String?

    init(collection: String, key: String) {
        self.collection = collection
        if key.hasSuffix(".*") {
            exact = nil
            prefix = String(key.dropLast())
        } else {
            exact = key
            prefix = nil
        }
    }

    func matches(_ event: ChangeEvent) -> Bool {
        guard event.kind == "kv", event.collection == collection, let key = event.key else { return false }
        if let exact { return key == exact }
        return key.hasPrefix(prefix ?? "")
    }
}

/// Reads a watch's events from the engine's change feed (recent committed changes, durable
/// ones only, in LSN order; a commit is never split across pages), page by page from an LSN
/// on, counting for each event the changes the feed dropped since the one before.
struct KeyValueWatchReader {
    /// Feed events read per page.
    static let pageEvents = 256

    let filter: KeyValueWatchFilter
    let engine: StorageEngine
    private let fromLSN: UInt64?
    private var cursor: UInt64
    private var lastSequence: UInt64?
    private var dropped: UInt64 = 0

    /// The watch starts after `fromLSN`, or at the current durable LSN when it is nil.
    init(engine: StorageEngine, filter: KeyValueWatchFilter, fromLSN: UInt64?) {
        self.engine = engine
        self.filter = filter
        self.fromLSN = fromLSN
        cursor = fromLSN ?? engine.durableLSN
    }

    /// The matching events of the feed's next page (at most `pageEvents` events read) and whether
    /// that page reached the end of the feed. A `fromLSN` older than the feed still holds is an
    /// error rather than changes skipped silently.
    mutating func nextPage() throws -> (events: [(event: ChangeEvent, dropped: UInt64)], caughtUp: Bool) {
        let page = engine.changes(since: cursor, limit: Self.pageEvents)
        if page.truncated, lastSequence == nil, let fromLSN {
            throw RedError(.numericOutOfRange, "LSN \(fromLSN) is older than the change feed still holds; watch from now instead")
        }
        var matches: [(event: ChangeEvent, dropped: UInt64)] = []
        for event in page.events {
            if let last = lastSequence, event.sequence > last + 1 { dropped += event.sequence - last - 1 }
            lastSequence = event.sequence
            cursor = event.lsn
            guard filter.matches(event) else { continue }
            matches.append((event, dropped))
            dropped = 0
        }
        return (matches, page.events.count < Self.pageEvents)
    }
}
