import Foundation
import GRPCCore
import RedCore
import RedDB
import RedProto

/// The graph-command and search rpcs: each payload is the JSON request the matching HTTP
/// route takes (`/graph/…`, `/text/search`, `/hybrid/search`), run through
/// `CollectionOperations`, and the reply payload is that route's body.
extension GRPCService {
    func graphNeighborhood(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "graph_neighborhood") { message, _ in Self.payloadReply(try await operations.graph(.neighborhood, try Self.payload(message.payloadJson))) }
    }

    func graphTraverse(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "graph_traverse") { message, _ in Self.payloadReply(try await operations.graph(.traverse, try Self.payload(message.payloadJson))) }
    }

    func graphShortestPath(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "graph_shortest_path") { message, _ in Self.payloadReply(try await operations.graph(.shortestPath, try Self.payload(message.payloadJson))) }
    }

    func graphComponents(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await graphAnalytics(request, .components)
    }

    func graphCentrality(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await graphAnalytics(request, .centrality)
    }

    func graphCommunity(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await graphAnalytics(request, .community)
    }

    func graphClustering(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await graphAnalytics(request, .clustering)
    }

    func graphCycles(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await graphAnalytics(request, .cycles)
    }

    func graphTopologicalSort(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await graphAnalytics(request, .topologicalSort)
    }

    func search(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        try await textSearch(request: request, context: context)
    }

    func textSearch(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "text_search") { message, _ in Self.payloadReply(try await operations.textSearch(try Self.payload(message.payloadJson))) }
    }

    func graphPersonalizedPagerank(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await graphAnalytics(request, .personalizedPageRank)
    }

    func graphHits(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await graphAnalytics(request, .hits)
    }

    func hybridSearch(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "hybrid_search") { message, _ in Self.payloadReply(try await operations.textSearch(try Self.payload(message.payloadJson), hybrid: true)) }
    }

    private func graphAnalytics(_ request: ServerRequest<Reddb_V1_JsonPayloadRequest>, _ command: GraphRequest.Command) async -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "graph_\(command.rawValue)") { message, _ in Self.payloadReply(try await operations.graph(command, try Self.payload(message.payloadJson))) }
    }

    func multimodalSearch(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "multimodal_search") { message, _ in
            Self.payloadReply(try await operations.textSearch(try Self.payload(message.payloadJson), multimodal: true))
        }
    }

    func contextSearch(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "context_search") { message, _ in Self.payloadReply(try await operations.contextSearch(try Self.payload(message.payloadJson))) }
    }
}
