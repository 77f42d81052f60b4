import Foundation
import GRPCCore
import RedCore
import RedDB
import RedProto

/// The entity and key-value rpcs. Each delegates to `CollectionOperations` (shared with the
/// HTTP routes) or to the bulk-insert path RedWire and COPY use.
extension GRPCService {
    func createRow(request: ServerRequest<Reddb_V1_JsonCreateRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_EntityReply> {
        await unary(request, rpc: "create_row") { message, _ in
            let row = try await operations.insertRow(try Self.required(message.collection, "collection"), try Self.payload(message.payloadJson))
            return Self.entityReply(id: row.rid, row.record)
        }
    }

    func createDocument(request: ServerRequest<Reddb_V1_JsonCreateRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_EntityReply> {
        await createEntity(request, rpc: "create_document", operations.insertDocument)
    }

    /// payload `{"key", "value", "ttl_ms"?}`; the reply's id is 0 (keys have no rid) and its
    /// entity_json the KvPut body.
    func createKv(request: ServerRequest<Reddb_V1_JsonCreateRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_EntityReply> {
        await unary(request, rpc: "create_kv") { message, _ in
            let body = try Self.payload(message.payloadJson)
            guard case .string(let key)? = body["key"] else { throw RedError(.invalidArgument, "CreateKv needs {\"key\": …, \"value\": …}") }
            let reply = try await operations.kvPut(try Self.required(message.collection, "collection"), key, Self.kvBody(body))
            return Self.entityReply(id: 0, reply)
        }
    }

    func bulkCreateRows(request: ServerRequest<Reddb_V1_JsonBulkCreateRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_BulkEntityReply> {
        await unary(request, rpc: "bulk_create_rows") { message, _ in
            try await bulkCreate(message) { name, body in
                let row = try await operations.insertRow(name, body)
                return Self.entityReply(id: row.rid, row.record)
            }
        }
    }

    func bulkCreateDocuments(request: ServerRequest<Reddb_V1_JsonBulkCreateRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_BulkEntityReply> {
        await bulkCreateEntities(request, rpc: "bulk_create_documents", operations.insertDocument)
    }

    func createVector(request: ServerRequest<Reddb_V1_JsonCreateRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_EntityReply> {
        await createEntity(request, rpc: "create_vector", operations.insertVector)
    }

    func bulkCreateVectors(request: ServerRequest<Reddb_V1_JsonBulkCreateRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_BulkEntityReply> {
        await bulkCreateEntities(request, rpc: "bulk_create_vectors", operations.insertVector)
    }

    func similar(request: ServerRequest<Reddb_V1_JsonCreateRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "similar") { message, _ in
            Self.payloadReply(try await operations.similar(try Self.required(message.collection, "collection"), try Self.payload(message.payloadJson)))
        }
    }

    /// Every search is exact here (no IVF index): the same as `Similar`.
    func ivfSearch(request: ServerRequest<Reddb_V1_JsonCreateRequest>, context: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        try await similar(request: request, context: context)
    }

    func createNode(request: ServerRequest<Reddb_V1_JsonCreateRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_EntityReply> {
        await createEntity(request, rpc: "create_node", operations.insertNode)
    }

    func createEdge(request: ServerRequest<Reddb_V1_JsonCreateRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_EntityReply> {
        await createEntity(request, rpc: "create_edge", operations.insertEdge)
    }

    func bulkCreateNodes(request: ServerRequest<Reddb_V1_JsonBulkCreateRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_BulkEntityReply> {
        await bulkCreateEntities(request, rpc: "bulk_create_nodes", operations.insertNode)
    }

    func bulkCreateEdges(request: ServerRequest<Reddb_V1_JsonBulkCreateRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_BulkEntityReply> {
        await bulkCreateEntities(request, rpc: "bulk_create_edges", operations.insertEdge)
    }

    /// One entity from `payload_json` into `collection` through `insert` (an insert of
    /// `CollectionOperations` answering `{"rid", …}`); the reply carries the request's body.
    private func createEntity(_ request: ServerRequest<Reddb_V1_JsonCreateRequest>, rpc: String,
                              _ insert: @escaping @Sendable (String, JSONValue) async throws -> JSONValue) async -> ServerResponse<Reddb_V1_EntityReply> {
        await unary(request, rpc: rpc) { message, _ in
            let body = try Self.payload(message.payloadJson)
            return try Self.entityReply(body, try await insert(try Self.required(message.collection, "collection"), body))
        }
    }

    private func bulkCreateEntities(_ request: ServerRequest<Reddb_V1_JsonBulkCreateRequest>, rpc: String,
                                    _ insert: @escaping @Sendable (String, JSONValue) async throws -> JSONValue) async -> ServerResponse<Reddb_V1_BulkEntityReply> {
        await unary(request, rpc: rpc) { message, _ in
            try await bulkCreate(message) { name, body in try Self.entityReply(body, try await insert(name, body)) }
        }
    }

    /// An insert reply (`{"rid", …}`) as an `EntityReply` carrying the request's body.
    private static func entityReply(_ body: JSONValue, _ reply: JSONValue) throws -> Reddb_V1_EntityReply {
        guard case .integer(let rid)? = reply["rid"] else { throw RedError(.internalError, "the insert returned no rid") }
        return entityReply(id: rid, body)
    }

    /// Every payload is parsed before the first insert, so a malformed one inserts nothing; the
    /// inserts then run in order and the first failing one fails the call (earlier ones stay,
    /// as upstream; `CollectionOperations.bulkCreate`).
    private func bulkCreate(_ message: Reddb_V1_JsonBulkCreateRequest,
                            _ insert: (String, JSONValue) async throws -> Reddb_V1_EntityReply) async throws -> Reddb_V1_BulkEntityReply {
        let name = try Self.required(message.collection, "collection")
        guard message.payloadJson.count <= CollectionOperations.maxBulkItems else {
            throw RedError(.limitExceeded, "at most \(CollectionOperations.maxBulkItems) payloads per call, got \(message.payloadJson.count)")
        }
        let bodies = try message.payloadJson.map(Self.payload)
        var reply = Reddb_V1_BulkEntityReply()
        reply.items = try await operations.bulkCreate(bodies) { try await insert(name, $0) }
        reply.ok = true
        reply.count = UInt64(reply.items.count)
        return reply
    }

    func patchEntity(request: ServerRequest<Reddb_V1_UpdateEntityRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_EntityReply> {
        await unary(request, rpc: "patch_entity") { message, _ in
            let rid = try Self.rid(message.id)
            let reply = try await operations.patchEntity(try Self.required(message.collection, "collection"), rid, try Self.payload(message.payloadJson))
            return Self.entityReply(id: rid, reply["entity"] ?? .null)
        }
    }

    func deleteEntity(request: ServerRequest<Reddb_V1_DeleteEntityRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_OperationReply> {
        await unary(request, rpc: "delete_entity") { message, _ in
            let rid = try Self.rid(message.id)
            _ = try await operations.deleteEntity(try Self.required(message.collection, "collection"), rid)
            return Self.operationReply("entity \(rid) deleted")
        }
    }

    /// Served by `bulkInsertBinary(raw:)`, which the router calls with the undecoded bytes; this
    /// requirement of the generated protocol re-encodes a decoded message and goes the same way.
    func bulkInsertBinary(request: ServerRequest<Reddb_V1_BinaryBulkInsertRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_BulkInsertReply> {
        let bytes: [UInt8] = try request.message.serializedBytes()
        return await bulkInsertBinary(raw: ServerRequest(metadata: request.metadata, message: RawBinaryBulkInsert(bytes: bytes)))
    }

    // MARK: Key-value helpers (RedDB for Swift)

    func kvGet(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "kv_get") { message, _ in
            let (collection, key, _) = try Self.kvAddress(message.payloadJson)
            return Self.payloadReply(try await operations.kvGet(collection, key))
        }
    }

    func kvPut(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "kv_put") { message, _ in
            let (collection, key, body) = try Self.kvAddress(message.payloadJson)
            guard body["value"] != nil else { throw RedError(.invalidArgument, "KvPut needs a \"value\"") }
            return Self.payloadReply(try await operations.kvPut(collection, key, Self.kvBody(body)))
        }
    }

    func kvDelete(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "kv_delete") { message, _ in
            let (collection, key, _) = try Self.kvAddress(message.payloadJson)
            return Self.payloadReply(try await operations.kvDelete(collection, key))
        }
    }

    /// `{"collection", "key", …}` of a KV helper's payload.
    static func kvAddress(_ payloadJSON: String) throws -> (collection: String, key: String, body: JSONValue) {
        let body = try payload(payloadJSON)
        guard case .string(let collection)? = body["collection"], !collection.isEmpty, case .string(let key)? = body["key"], !key.isEmpty else {
            throw RedError(.invalidArgument, "payload needs non-empty strings \"collection\" and \"key\"")
        }
        return (collection, key, body)
    }

    /// The `{"value", "ttl_ms"?}` body `CollectionOperations.kvPut` reads (a missing value is null).
    static func kvBody(_ body: JSONValue) -> JSONValue {
        var members: [(String, JSONValue)] = [("value", body["value"] ?? .null)]
        if let ttl = body["ttl_ms"] { members.append(("ttl_ms", ttl)) }
        return .object(members)
    }

    static func rid(_ id: UInt64) throws -> Int64 {
        guard id > 0, id <= UInt64(Int64.max) else { throw RedError(.invalidArgument, "id must be a positive rid") }
        return Int64(id)
    }

    static func entityReply(id: Int64, _ entity: JSONValue) -> Reddb_V1_EntityReply {
        var reply = Reddb_V1_EntityReply()
        reply.ok = true
        reply.id = UInt64(max(0, id))
        reply.entityJson = entity.text
        return reply
    }
}
