import GRPCCore
import RedCore
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

    func applyRetention(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_OperationReply> {
        await unary(request, rpc: "apply_retention") { _, _ in Self.operationReply(try await operations.applyRetention()) }
    }

    func replicationStatus(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "replication_status") { _, _ in Self.payloadReply(self.context.replicationStatus) }
    }
}
