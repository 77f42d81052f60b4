import GRPCCore
import RedCore
import RedProto
import RedQuery

/// Graph projections and analytics jobs: the same JSON as `/graph/projections` and
/// `/graph/jobs` (`GraphCatalogOperations`). Lists need a reader; changes a writer.
extension GRPCService {
    func graphProjections(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "graph_projections") { _, _ in Self.payloadReply(try operations.graphProjections(.all)) }
    }

    func declaredGraphProjections(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "declared_graph_projections") { _, _ in Self.payloadReply(try operations.graphProjections(.declared)) }
    }

    func operationalGraphProjections(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "operational_graph_projections") { _, _ in Self.payloadReply(try operations.graphProjections(.operational)) }
    }

    func graphProjectionStatuses(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "graph_projection_statuses") { _, _ in Self.payloadReply(try operations.graphProjections(.statuses)) }
    }

    func graphProjectionAttention(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "graph_projection_attention") { _, _ in Self.payloadReply(try operations.graphProjections(.attention)) }
    }

    func analyticsJobs(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "analytics_jobs") { _, _ in Self.payloadReply(try operations.analyticsJobs(.all)) }
    }

    func declaredAnalyticsJobs(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "declared_analytics_jobs") { _, _ in Self.payloadReply(try operations.analyticsJobs(.declared)) }
    }

    func operationalAnalyticsJobs(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "operational_analytics_jobs") { _, _ in Self.payloadReply(try operations.analyticsJobs(.operational)) }
    }

    func analyticsJobStatuses(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "analytics_job_statuses") { _, _ in Self.payloadReply(try operations.analyticsJobs(.statuses)) }
    }

    func analyticsJobAttention(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "analytics_job_attention") { _, _ in Self.payloadReply(try operations.analyticsJobs(.attention)) }
    }

    /// `SaveGraphProjection`: `{name, source, node_labels, node_types, edge_labels}` as in the request.
    func saveGraphProjection(request: ServerRequest<Reddb_V1_GraphProjectionUpsertRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "save_graph_projection") { message, _ in
            let body = JSONValue.object([("edge_labels", .array(message.edgeLabels.map { .string($0) })), ("name", .string(message.name)),
                                         ("node_labels", .array(message.nodeLabels.map { .string($0) })),
                                         ("node_types", .array(message.nodeTypes.map { .string($0) })), ("source", .string(message.source))])
            return Self.payloadReply(try await operations.saveGraphProjection(body))
        }
    }

    func materializeGraphProjection(request: ServerRequest<Reddb_V1_IndexNameRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "materialize_graph_projection") { message, _ in
            Self.payloadReply(try await operations.graphProjectionStep(try Self.required(message.name, "name"), "materialize"))
        }
    }

    func markGraphProjectionMaterializing(request: ServerRequest<Reddb_V1_IndexNameRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "mark_graph_projection_materializing") { message, _ in
            Self.payloadReply(try await operations.graphProjectionStep(try Self.required(message.name, "name"), "materializing"))
        }
    }

    func markGraphProjectionStale(request: ServerRequest<Reddb_V1_IndexNameRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "mark_graph_projection_stale") { message, _ in
            Self.payloadReply(try await operations.graphProjectionStep(try Self.required(message.name, "name"), "stale"))
        }
    }

    func failGraphProjection(request: ServerRequest<Reddb_V1_IndexNameRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "fail_graph_projection") { message, _ in
            Self.payloadReply(try await operations.graphProjectionStep(try Self.required(message.name, "name"), "fail"))
        }
    }

    func saveAnalyticsJob(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "save_analytics_job") { message, _ in
            Self.payloadReply(try await operations.saveAnalyticsJob(try Self.payload(message.payloadJson)))
        }
    }

    func queueAnalyticsJob(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "queue_analytics_job") { message, _ in
            Self.payloadReply(try await operations.analyticsJobStep(.queue, try Self.payload(message.payloadJson)))
        }
    }

    func startAnalyticsJob(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "start_analytics_job") { message, _ in
            Self.payloadReply(try await operations.analyticsJobStep(.start, try Self.payload(message.payloadJson)))
        }
    }

    func completeAnalyticsJob(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "complete_analytics_job") { message, _ in
            Self.payloadReply(try await operations.analyticsJobStep(.complete, try Self.payload(message.payloadJson)))
        }
    }

    func markAnalyticsJobStale(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "mark_analytics_job_stale") { message, _ in
            Self.payloadReply(try await operations.analyticsJobStep(.stale, try Self.payload(message.payloadJson)))
        }
    }

    func failAnalyticsJob(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .writer, rpc: "fail_analytics_job") { message, _ in
            Self.payloadReply(try await operations.analyticsJobStep(.fail, try Self.payload(message.payloadJson)))
        }
    }
}
