import GRPCCore
import RedCore
import RedDB
import RedEngine
import RedProto

/// `KvWatch` (spec protocols §3.5): committed changes of one key, or of every key under a
/// prefix, streamed until the client cancels.
///
/// The source is the engine's change feed (recent committed changes, in memory, in LSN
/// order, durable ones only). The watch reads it from `from_lsn` (0: from now) in pages of
/// up to 256 events, at once while it is behind and every 10 ms once caught up. Each event
/// carries the value before and after as JSON text (`null` when absent; an empty string
/// when the value was larger than the feed keeps, 64 KiB). `dropped_event_count` counts the
/// changes (of any key) the feed discarded before this watch read them, which happens only
/// to a watch that falls more than 100,000 changes behind. A `from_lsn` older than the feed
/// still holds fails with OUT_OF_RANGE rather than skipping changes silently.
extension GRPCService {
    static let watchPageEvents = 256
    static let watchPollInterval = Duration.milliseconds(10)

    /// What one watch selects: a key, or the keys under a prefix (`key` ending in `.*`).
    struct KeyFilter: Sendable {
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

    func kvWatch(request: ServerRequest<Reddb_V1_KvWatchRequest>, context _: GRPCCore.ServerContext) async throws -> StreamingServerResponse<Reddb_V1_KvWatchEvent> {
        let filter: KeyFilter
        do {
            _ = try context.tokens.authenticate(token: Self.token(in: request.metadata))
            filter = KeyFilter(collection: try Self.required(request.message.collection, "collection"),
                               key: try Self.required(request.message.key, "key"))
        } catch {
            return StreamingServerResponse(error: GRPCStatusMapping.rpcError(error))
        }
        let engine = context.database.engine
        let fromLSN = request.message.fromLsn
        return StreamingServerResponse { writer in
            var cursor = fromLSN == 0 ? engine.durableLSN : fromLSN
            var lastSequence: UInt64?
            var dropped: UInt64 = 0
            do {
                while true {
                    let page = engine.changes(since: cursor, limit: Self.watchPageEvents)
                    if page.truncated, lastSequence == nil, fromLSN != 0 {
                        throw RPCError(code: .outOfRange, message: "from_lsn \(fromLSN) is older than the change feed still holds; watch from 0 (now) instead")
                    }
                    for event in page.events {
                        if let last = lastSequence, event.sequence > last + 1 { dropped += event.sequence - last - 1 }
                        lastSequence = event.sequence
                        cursor = event.lsn
                        guard filter.matches(event) else { continue }
                        try await writer.write(Self.watchEvent(event, dropped: dropped))
                        dropped = 0
                    }
                    if page.events.count < Self.watchPageEvents { try await Task.sleep(for: Self.watchPollInterval) }
                }
            } catch is CancellationError {
                return [:]  // the client went away
            }
        }
    }

    static func watchEvent(_ event: ChangeEvent, dropped: UInt64) -> Reddb_V1_KvWatchEvent {
        func json(_ value: Value?) -> String {
            if event.valuesOmitted { return "" }
            return value.map { $0.jsonValue.text } ?? "null"
        }
        return .with {
            $0.key = event.key ?? ""
            $0.op = event.operation.rawValue
            $0.beforeJson = json(event.before)
            $0.afterJson = json(event.after)
            $0.lsn = event.lsn
            $0.committedAt = UInt64(max(0, event.timestamp))
            $0.droppedEventCount = dropped
        }
    }
}
