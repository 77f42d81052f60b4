import GRPCCore
import RedCore
import RedProto

/// Upstream's metadata rpcs (`UpstreamMetadataOperations`, `DeploymentProfiles`): the same
/// JSON as `/manifest`, `/physical/manifest`, `/physical/metadata-state`, `/physical/rebuild`,
/// `/deployment/profiles` and `/replication/snapshot`.
extension GRPCService {
    func manifest(request: ServerRequest<Reddb_V1_ManifestRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "manifest") { message, _ in
            Self.payloadReply(try operations.manifest(collection: message.collection, kind: message.kind,
                                                      sinceSnapshot: message.hasSinceSnapshot ? message.sinceSnapshot : nil))
        }
    }

    func nativeManifestSummary(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "native_manifest_summary") { _, _ in Self.payloadReply(operations.manifestSummary()) }
    }

    func nativeMetadataStateSummary(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "native_metadata_state_summary") { _, _ in Self.payloadReply(try await operations.metadataStateSummary()) }
    }

    func rebuildPhysicalMetadata(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_OperationReply> {
        await unary(request, .writer, rpc: "rebuild_physical_metadata") { _, _ in Self.operationReply(try await operations.rebuildPhysicalMetadata()) }
    }

    func deploymentProfiles(request: ServerRequest<Reddb_V1_DeploymentProfileRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "deployment_profiles") { message, _ in Self.payloadReply(try self.context.deploymentProfiles(message.profile)) }
    }

    func replicationSnapshot(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .adminOnceAuthenticated, rpc: "replication_snapshot") { _, _ in Self.payloadReply(try await self.context.replicationSnapshot()) }
    }
}
