import GRPCCore
import RedCore
import RedDB
import RedEngine
import RedProto

/// Index listings, the retention sweep and the replication status: the same JSON as the
/// HTTP routes `/collections/{c}/indexes`, `/indexes`, `/retention/apply` and
/// `/replication/status` (`CollectionOperations`).
extension GRPCService {
    func indexes(request: ServerRequest<Reddb_V1_CollectionRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "indexes") { message, _ in
            Self.payloadReply(try await operations.indexes(try Self.required(message.collection, "collection")))
        }
    }

    func declaredIndexes(request: ServerRequest<Reddb_V1_CollectionRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "declared_indexes") { message, _ in
            Self.payloadReply(try await operations.indexes(try Self.required(message.collection, "collection"), operational: false))
        }
    }

    func operationalIndexes(request: ServerRequest<Reddb_V1_CollectionRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "operational_indexes") { message, _ in
            Self.payloadReply(try await operations.indexes(try Self.required(message.collection, "collection"), declared: false))
        }
    }

    func indexStatuses(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "index_statuses") { _, _ in Self.payloadReply(try await operations.indexStatuses()) }
    }

    func indexAttention(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "index_attention") { _, _ in Self.payloadReply(try await operations.indexStatuses(needingAttention: true)) }
    }

    func catalogReadiness(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "catalog_readiness") { _, _ in Self.payloadReply(try await operations.catalogReadiness()) }
    }

    func collectionReadiness(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "collection_readiness") { _, _ in Self.payloadReply(try await operations.collectionReadiness()) }
    }

    func collectionAttention(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "collection_attention") { _, _ in Self.payloadReply(try await operations.collectionAttention()) }
    }

    func catalogAttentionSummary(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "catalog_attention_summary") { _, _ in Self.payloadReply(try await operations.catalogAttentionSummary()) }
    }

    /// `CatalogConsistency`: every index against its rows (the B+tree check, which holds
    /// commits, only on HTTP with `?structure=true`).
    func catalogConsistency(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "catalog_consistency") { _, _ in Self.payloadReply(try await operations.catalogConsistency()) }
    }

    /// `RebuildIndexes {collection}`: `REINDEX TABLE`, as the caller (a writer), on every surface alike.
    func rebuildIndexes(request: ServerRequest<Reddb_V1_CollectionRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "rebuild_indexes") { message, _ in
            let name = try Self.required(message.collection, "collection")
            let result = try await self.context.callerSession().execute("REINDEX TABLE \(Session.identifier(name))")
            let indexes = try await operations.indexes(name)
            return Self.payloadReply(.object([("collection", .string(name)), ("indexes", indexes["indexes"] ?? .array([])),
                                              ("message", .string(result.message ?? "")), ("ok", .bool(true))]))
        }
    }

    /// `WarmupIndex {name}`: reads the index's entries into the page cache.
    func warmupIndex(request: ServerRequest<Reddb_V1_IndexNameRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "warmup_index") { message, _ in
            let name = try Self.required(message.name, "name")
            let (table, entries) = try self.context.database.warmIndex(named: name)
            return Self.payloadReply(.object([("collection", .string(table)), ("entries", .integer(Int64(entries))), ("name", .string(name)),
                                              ("ok", .bool(true))]))
        }
    }

    func setIndexEnabled(request: ServerRequest<Reddb_V1_IndexToggleRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "set_index_enabled") { message, _ in
            try await self.markIndex(try Self.required(message.name, "name"), status: nil, enabled: message.enabled)
        }
    }

    func markIndexBuilding(request: ServerRequest<Reddb_V1_IndexNameRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "mark_index_building") { message, _ in try await self.markIndex(message.name, status: .building) }
    }

    func markIndexReady(request: ServerRequest<Reddb_V1_IndexNameRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "mark_index_ready") { message, _ in try await self.markIndex(message.name, status: .ready) }
    }

    func failIndex(request: ServerRequest<Reddb_V1_IndexNameRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "fail_index") { message, _ in try await self.markIndex(message.name, status: .failed) }
    }

    func markIndexStale(request: ServerRequest<Reddb_V1_IndexNameRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "mark_index_stale") { message, _ in try await self.markIndex(message.name, status: .stale) }
    }

    /// Sets an index's marks as the caller (writers only; never on a replica) and replies with
    /// its state: `{ok, collection, name, status, enabled}`.
    private func markIndex(_ name: String, status: IndexDefinition.Status?, enabled: Bool? = nil) async throws -> Reddb_V1_PayloadReply {
        let name = try Self.required(name, "name")
        let access = context.callerSession().access
        let (table, index) = try await context.database.markIndex(named: name, status: status, enabled: enabled, access: access)
        return Self.payloadReply(.object([("collection", .string(table)), ("enabled", .bool(index.enabled ?? true)), ("name", .string(name)),
                                          ("ok", .bool(true)), ("status", .string((index.status ?? .ready).rawValue))]))
    }

    func applyRetention(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_OperationReply> {
        await unary(request, rpc: "apply_retention") { _, _ in Self.operationReply(try await operations.applyRetention()) }
    }

    func replicationStatus(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "replication_status") { _, _ in Self.payloadReply(self.context.replicationStatus) }
    }
}
