import Foundation
import Hummingbird
import RedCore
import RedDB

/// Collection, document, entity and key-value routes: each parses the path and body and
/// hands them to `CollectionOperations`, which the gRPC helpers share.
extension HTTPRoutes {
    var operations: CollectionOperations { CollectionOperations(database: context.database, standbyReason: context.standbyReason) }

    func session() -> Session { context.callerSession() }

    func body(_ request: Request) async throws -> JSONValue {
        try await Self.bodyJSON(request, limit: context.configuration.maxHTTPBodyBytes)
    }

    func listCollections() async throws -> Response { Self.json(try await operations.listCollections()) }

    func createCollection(_ request: Request) async throws -> Response {
        Self.json(try await operations.createCollection(try await body(request)), status: .created)
    }

    func dropCollection(_ name: String) async throws -> Response { Self.json(try await operations.dropCollection(name)) }

    func schema(_ name: String) async throws -> Response { Self.json(try await operations.schema(name)) }

    func scan(_ name: String, _ request: Request) async throws -> Response {
        let offset = Int(request.uri.queryParameters.get("offset") ?? "") ?? 0
        let limit = Int(request.uri.queryParameters.get("limit") ?? "") ?? 100
        return Self.json(try await operations.scan(name, offset: offset, limit: limit))
    }

    func insertDocument(_ name: String, _ request: Request) async throws -> Response {
        Self.json(try await operations.insertDocument(name, try await body(request)), status: .created)
    }

    func insertRow(_ name: String, _ request: Request) async throws -> Response {
        Self.json(try await operations.createRow(name, try await body(request)), status: .created)
    }

    func insertVector(_ name: String, _ request: Request) async throws -> Response {
        Self.json(try await operations.insertVector(name, try await body(request)), status: .created)
    }

    func similar(_ name: String, _ request: Request) async throws -> Response {
        Self.json(try await operations.similar(name, try await body(request)))
    }

    func insertNode(_ name: String, _ request: Request) async throws -> Response {
        Self.json(try await operations.insertNode(name, try await body(request)), status: .created)
    }

    func insertEdge(_ name: String, _ request: Request) async throws -> Response {
        Self.json(try await operations.insertEdge(name, try await body(request)), status: .created)
    }

    func graph(_ command: GraphRequest.Command, _ request: Request) async throws -> Response {
        Self.json(try await operations.graph(command, try await body(request)))
    }

    /// `POST /collections/{c}/bulk/{rows|documents|vectors|nodes|edges}` with `{"items": [...]}`.
    func bulkCreate(_ name: String, _ kind: String, _ request: Request) async throws -> Response {
        guard case .array(let items)? = try await body(request)["items"] else {
            throw RedError(.invalidArgument, "bulk create needs {\"items\": [...]}")
        }
        let operations = self.operations
        let replies: [JSONValue]
        switch kind {
        case "rows": replies = try await operations.bulkCreate(items) { try await operations.createRow(name, $0) }
        case "documents": replies = try await operations.bulkCreate(items) { try await operations.insertDocument(name, $0) }
        case "vectors": replies = try await operations.bulkCreate(items) { try await operations.insertVector(name, $0) }
        case "nodes": replies = try await operations.bulkCreate(items) { try await operations.insertNode(name, $0) }
        case "edges": replies = try await operations.bulkCreate(items) { try await operations.insertEdge(name, $0) }
        default: throw RedError(.invalidArgument, "bulk/\(kind): the kinds are rows, documents, vectors, nodes and edges")
        }
        return Self.json(.object([("count", .integer(Int64(replies.count))), ("items", .array(replies)), ("ok", .bool(true))]), status: .created)
    }

    func indexes(_ name: String) async throws -> Response { Self.json(try await operations.indexes(name)) }

    func indexStatuses() async throws -> Response { Self.json(try await operations.indexStatuses()) }

    func applyRetention() async throws -> Response {
        Self.json(.object([("message", .string(try await operations.applyRetention())), ("ok", .bool(true))]))
    }

    func replicationStatus() -> Response { Self.json(context.replicationStatus) }

    func entity(_ name: String, _ rid: Int64) async throws -> Response { Self.json(try await operations.entity(name, rid)) }

    func patchEntity(_ name: String, _ rid: Int64, _ request: Request) async throws -> Response {
        Self.json(try await operations.patchEntity(name, rid, try await body(request)))
    }

    func deleteEntity(_ name: String, _ rid: Int64) async throws -> Response { Self.json(try await operations.deleteEntity(name, rid)) }

    func kvGet(_ collection: String, _ key: String) async throws -> Response { Self.json(try await operations.kvGet(collection, key)) }

    func kvPut(_ collection: String, _ key: String, _ request: Request) async throws -> Response {
        let reply = try await operations.kvPut(collection, key, try await body(request))
        return Self.json(reply, status: reply["created"] == .bool(true) ? .created : .ok)
    }

    func kvDelete(_ collection: String, _ key: String) async throws -> Response { Self.json(try await operations.kvDelete(collection, key)) }

    /// `GET /collections/{c}/kvs/{key}/watch?since_lsn&limit`: the key's (or, for `prefix.*`, the
    /// prefix's) committed changes after `since_lsn` (default: now, so nothing yet), as
    /// server-sent events `event: kv` whose data is `{"after", "before", "committed_at",
    /// "dropped_event_count", "key", "lsn", "op"}`. A snapshot, not a long poll: the response ends
    /// with the newest change the feed holds, or after `limit` events (default 100, at most 1,000; the
    /// events of the last commit are never cut apart, so the next call goes on from its `lsn`).
    /// `after` and `before` are left out when the value was larger than the feed keeps.
    func kvWatch(_ collection: String, _ key: String, _ request: Request) async throws -> Response {
        var since: UInt64?
        if let text = request.uri.queryParameters.get("since_lsn") {
            guard let lsn = UInt64(text) else { throw RedError(.invalidArgument, "since_lsn must be a non-negative integer") }
            since = lsn
        }
        let limitText = request.uri.queryParameters.get("limit") ?? "100"
        guard let requested = Int(limitText), requested >= 1 else { throw RedError(.invalidArgument, "limit must be a positive integer") }
        let limit = min(requested, 1_000)
        var reader = KeyValueWatchReader(engine: context.database.engine, filter: KeyValueWatchFilter(collection: collection, key: key),
                                         fromLSN: since)
        var stream = ""
        var sent = 0
        var lastLSN: UInt64?
        reading: while true {
            let page = try reader.nextPage()
            for (event, dropped) in page.events {
                if sent >= limit, event.lsn != lastLSN { break reading }
                var data: [(String, JSONValue)] = []
                if !event.valuesOmitted { data.append(("after", event.after?.jsonValue ?? .null)) }
                if !event.valuesOmitted { data.append(("before", event.before?.jsonValue ?? .null)) }
                data += [("committed_at", .integer(event.timestamp)), ("dropped_event_count", .integer(Int64(dropped))),
                         ("key", .string(event.key ?? "")), ("lsn", .integer(Int64(event.lsn))), ("op", .string(event.operation.rawValue))]
                stream += "event: kv\ndata: \(JSONValue.object(data).text)\n\n"
                sent += 1
                lastLSN = event.lsn
            }
            if page.caughtUp { break }
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: stream)))
    }
}
