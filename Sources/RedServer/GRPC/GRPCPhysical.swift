import GRPCCore
import RedCore
import RedProto

/// The database file's physical state (`PhysicalOperations`) and the serverless lifecycle
/// (`ServerlessOperations`): the same JSON as `/physical/…` and `/serverless/…`.
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

    func serverlessAttach(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "serverless_attach") { _, _ in Self.payloadReply(try await self.context.serverlessAttach()) }
    }

    func serverlessWarmup(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "serverless_warmup") { _, _ in Self.payloadReply(try await self.context.serverlessWarmup()) }
    }

    func serverlessReclaim(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "serverless_reclaim") { _, _ in Self.payloadReply(try await self.context.serverlessReclaim()) }
    }

    func nativeVectorArtifacts(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "native_vector_artifacts") { _, _ in Self.payloadReply(try await operations.vectorArtifacts(reading: false)) }
    }

    func inspectNativeVectorArtifacts(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "inspect_native_vector_artifacts") { _, _ in Self.payloadReply(try await operations.vectorArtifacts(reading: true)) }
    }

    func inspectNativeVectorArtifact(request: ServerRequest<Reddb_V1_CollectionRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "inspect_native_vector_artifact") { message, _ in
            Self.payloadReply(try await operations.vectorArtifacts(try Self.required(message.collection, "collection"), reading: true))
        }
    }

    func warmupNativeVectorArtifacts(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "warmup_native_vector_artifacts") { _, _ in Self.payloadReply(try await operations.vectorArtifacts(reading: true)) }
    }

    func warmupNativeVectorArtifact(request: ServerRequest<Reddb_V1_CollectionRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "warmup_native_vector_artifact") { message, _ in
            Self.payloadReply(try await operations.vectorArtifacts(try Self.required(message.collection, "collection"), reading: true))
        }
    }

    func nativeHeaderRepairPolicy(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "native_header_repair_policy") { _, _ in Self.payloadReply(try operations.headerRepairPolicy()) }
    }

    func repairNativeHeader(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_OperationReply> {
        await unary(request, .writer, rpc: "repair_native_header") { _, _ in Self.operationReply(try await operations.repairHeader()) }
    }

    func nativePhysicalState(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "native_physical_state") { _, _ in Self.payloadReply(operations.physicalStateSummary()) }
    }

    func repairNativePhysicalState(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_OperationReply> {
        await unary(request, .writer, rpc: "repair_native_physical_state") { _, _ in Self.operationReply(try await operations.repairPhysicalState()) }
    }

    func physicalAuthority(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "physical_authority") { _, _ in Self.payloadReply(self.context.physicalAuthority) }
    }
}
