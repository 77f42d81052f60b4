import GRPCCore
import RedCore
import RedProto

/// The database file's physical state (`PhysicalOperations`): the same JSON as `/physical/…`.
extension GRPCService {
    func nativeHeader(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "native_header") { _, _ in Self.payloadReply(operations.nativeHeader()) }
    }

    func nativeRecoverySummary(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "native_recovery_summary") { _, _ in Self.payloadReply(operations.nativeRecoverySummary()) }
    }

    func physicalMetadata(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "physical_metadata") { _, _ in Self.payloadReply(operations.physicalMetadata()) }
    }

    func roots(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "roots") { _, _ in Self.payloadReply(try operations.collectionRoots()) }
    }

    func nativeCollectionRoots(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "native_collection_roots") { _, _ in Self.payloadReply(try operations.collectionRoots()) }
    }

    func nativeRegistrySummary(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "native_registry_summary") { _, _ in Self.payloadReply(try await operations.registrySummary()) }
    }

    func nativeCatalogSummary(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "native_catalog_summary") { _, _ in Self.payloadReply(try operations.catalogSummary()) }
    }
}
