import RedCore
import RedStorage
import Testing
@testable import RedEngine

@Suite struct ChangeFeedTests {
    /// Random commits of single changes and runs of consecutive rids, into a small feed,
    /// read back with random `since`, `limit` and durable bounds: every page must equal what a
    /// plain list of the same events, one by one, gives (the last `capacity` kept, a commit
    /// never split across pages, `truncated` once events after `since` were dropped).
    @Test func pagesMatchTheEventsOneByOne() {
        var rng = SplitMix64(seed: 11)
        for capacity in [1, 7, 50] {
            let feed = ChangeFeed(capacity: capacity)
            var all: [ChangeEvent] = []  // every event ever appended, expanded
            var lsn: UInt64 = 0
            for _ in 0..<120 {
                lsn += 1 + rng.next() % 3
                var changes: [PendingChange] = []
                for _ in 0..<(1 + rng.next() % 4) {
                    let rid = Int64(rng.next() % 1000)
                    let count = rng.next() % 3 == 0 ? Int(1 + rng.next() % 20) : 1
                    var change = PendingChange(collection: "t\(rng.next() % 2)", kind: "table",
                                               operation: [.insert, .update, .delete][Int(rng.next() % 3)], rid: rid)
                    change.count = count
                    if rng.next() % 5 == 0 { change = PendingChange(collection: "kv", kind: "kv", operation: .insert, key: "k", after: .integer(1)) }
                    changes.append(change)
                    for i in 0..<change.count {
                        var event = ChangeEvent(lsn: lsn, collection: change.collection, kind: change.kind, operation: change.operation,
                                                rid: change.rid.map { $0 + Int64(i) }, key: change.key, timestamp: 5)
                        event.after = change.after
                        event.sequence = UInt64(all.count + 1)
                        all.append(event)
                    }
                }
                feed.append(changes, lsn: lsn, timestamp: 5)
                for _ in 0..<3 {
                    let since = rng.next() % (lsn + 2)
                    let limit = Int(1 + rng.next() % 30)
                    let durable = lsn - min(lsn, rng.next() % 3)
                    let page = feed.page(since: since, limit: limit, durable: durable)
                    let expected = Self.referencePage(all: all, capacity: capacity, since: since, limit: limit, durable: durable)
                    #expect(page.events == expected.events)
                    #expect(page.truncated == expected.truncated)
                }
            }
        }
    }

    /// The feed as it was kept before runs: the last `capacity` events one by one.
    static func referencePage(all: [ChangeEvent], capacity: Int, since: UInt64, limit: Int, durable: UInt64) -> ChangePage {
        let kept = Array(all.suffix(capacity))
        let dropped = all.count > capacity ? all[all.count - capacity - 1].lsn : 0
        var out: [ChangeEvent] = []
        var i = kept.firstIndex { $0.lsn > since } ?? kept.count
        while i < kept.count, out.count < limit, kept[i].lsn <= durable {
            out.append(kept[i])
            i += 1
        }
        if let last = out.last?.lsn, i < kept.count, kept[i].lsn == last {
            if out.first?.lsn != last {
                while out.last?.lsn == last { out.removeLast() }
            } else {
                while i < kept.count, kept[i].lsn == last { out.append(kept[i]); i += 1 }
            }
        }
        return ChangePage(events: out, truncated: since < dropped)
    }

    /// A transaction's inserts of consecutive rows become one run; rolling back to a savepoint
    /// taken in the middle of a run shortens it back.
    @Test func insertsOfConsecutiveRowsFormOneRunAndSavepointsShortenIt() async throws {
        let engine = try await EngineHarness().open()
        let c = try await engine.makeCollection("t")
        let tx = try engine.begin()
        try tx.put(c, [1], [1])  // the commit needs a write
        for rid in Int64(10)..<Int64(13) { tx.noteChange(PendingChange(collection: "t", kind: "table", operation: .insert, rid: rid)) }
        let savepoint = try tx.savepoint()
        for rid in Int64(13)..<Int64(20) { tx.noteChange(PendingChange(collection: "t", kind: "table", operation: .insert, rid: rid)) }
        tx.noteChange(PendingChange(collection: "u", kind: "table", operation: .insert, rid: 20))
        #expect(tx.state.withLock { $0.changes.map(\.count) } == [10, 1])
        try tx.rollback(to: savepoint)
        #expect(tx.state.withLock { $0.changes.map(\.count) } == [3])
        tx.noteChange(PendingChange(collection: "t", kind: "table", operation: .insert, rid: 14))  // not rid 13: a run of its own
        try await tx.commit()
        let events = engine.changes(since: 0, limit: 100).events
        #expect(events.map(\.rid) == [10, 11, 12, 14])
        #expect(events.map(\.sequence) == [1, 2, 3, 4])
    }
}
