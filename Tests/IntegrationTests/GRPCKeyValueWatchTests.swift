import GRPCCore
import RedCore
import RedProto
import Synchronization
import Testing

/// gRPC `KvWatch`: committed changes of a key or a key prefix, with values before and after.
@Suite(.serialized) struct GRPCKeyValueWatchTests {
    typealias Server = GRPCServerTests

    @Test func watchesAPrefixFromAnLSNAndAKeyFromNow() async throws {
        let server = try ServerProcess()
        defer { server.remove() }
        try await Server.withClient(server) { db, _ in
            for sql in ["KV PUT cfg.app.a = 1", "KV PUT cfg.app.a = 2", "KV PUT cfg.other = 3", "KV DELETE cfg.app.a", "KV PUT cfg.app.b = 'x'",
                        "KV PUT elsewhere.app.c = 4"] {
                _ = try await db.query(Server.query(sql))
            }
            // From the start of the feed: only cfg's keys under "app.", in commit order.
            let events = try await db.kvWatch(.with { $0.collection = "cfg"; $0.key = "app.*"; $0.fromLsn = 1 }) { response in
                var collected: [Reddb_V1_KvWatchEvent] = []
                for try await event in response.messages {
                    collected.append(event)
                    if collected.count == 4 { break }
                }
                return collected
            }
            #expect(events.map(\.key) == ["app.a", "app.a", "app.a", "app.b"])
            #expect(events.map(\.op) == ["insert", "update", "delete", "insert"])
            #expect(events.map(\.beforeJson) == ["null", "1", "2", "null"])
            #expect(events.map(\.afterJson) == ["1", "2", "null", "\"x\""])
            #expect(zip(events, events.dropFirst()).allSatisfy { $0.lsn < $1.lsn })
            #expect(events.allSatisfy { $0.droppedEventCount == 0 && $0.committedAt > 1_700_000_000_000 })

            // From now (from_lsn 0): a change made while the watch runs arrives.
            let seen = Atomic<Bool>(false)
            let watcher = Task {
                try await db.kvWatch(.with { $0.collection = "cfg"; $0.key = "live" }) { response -> Reddb_V1_KvWatchEvent? in
                    for try await event in response.messages {
                        seen.store(true, ordering: .relaxed)
                        return event
                    }
                    return nil
                }
            }
            var round = 0
            while !seen.load(ordering: .relaxed), round < 200 {
                _ = try await db.query(Server.query("KV PUT cfg.live = \(round)"))
                try await Task.sleep(for: .milliseconds(50))
                round += 1
            }
            let live = try await watcher.value
            #expect(live?.key == "live" && live?.op != "delete", "\(String(describing: live))")

            // A watch needs a collection and a key.
            let missing = await Server.code {
                _ = try await db.kvWatch(.with { $0.collection = "cfg" }) { response in
                    for try await _ in response.messages {}
                }
            }
            #expect(missing?.0 == .invalidArgument)
        }
    }
}
