import GRPCCore
import RedCore
import RedProto

/// Exports and snapshots (see ExportOperations.swift): admin-only once the server has users,
/// since a copy holds every collection and every user's verifier.
extension GRPCService {
    func createExport(request: ServerRequest<Reddb_V1_ExportRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .adminOnceAuthenticated, rpc: "create_export") { message, _ in
            Self.payloadReply(try await operations.createExport(.object([("name", .string(message.name))])))
        }
    }

    func exports(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .adminOnceAuthenticated, rpc: "exports") { _, _ in Self.payloadReply(try operations.exports(snapshots: false)) }
    }

    func createSnapshot(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .adminOnceAuthenticated, rpc: "create_snapshot") { _, _ in Self.payloadReply(try await operations.createSnapshot()) }
    }

    func snapshots(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .adminOnceAuthenticated, rpc: "snapshots") { _, _ in Self.payloadReply(try operations.exports(snapshots: true)) }
    }
}
