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
    static let watchPollInterval = Duration.milliseconds(10)

    func kvWatch(request: ServerRequest<Reddb_V1_KvWatchRequest>, context _: GRPCCore.ServerContext) async throws -> StreamingServerResponse<Reddb_V1_KvWatchEvent> {
        let filter: KeyValueWatchFilter
        do {
            _ = try context.auth.authenticate(token: Self.token(in: request.metadata))
            filter = KeyValueWatchFilter(collection: try Self.required(request.message.collection, "collection"),
                                         key: try Self.required(request.message.key, "key"))
        } catch {
            return StreamingServerResponse(error: GRPCStatusMapping.rpcError(error))
        }
        let (engine, fromLSN) = (context.database.engine, request.message.fromLsn == 0 ? nil : request.message.fromLsn)
        return StreamingServerResponse { writer in
            var reader = KeyValueWatchReader(engine: engine, filter: filter, fromLSN: fromLSN)
            do {
                while true {
                    let page = try reader.nextPage()
                    for (event, dropped) in page.events { try await writer.write(Self.watchEvent(event, dropped: dropped)) }
                    if page.caughtUp { try await Task.sleep(for: Self.watchPollInterval) }
                }
            } catch is CancellationError {
                return [:]  // the client went away
            } catch let error as RedError {
                throw GRPCStatusMapping.rpcError(error)
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
