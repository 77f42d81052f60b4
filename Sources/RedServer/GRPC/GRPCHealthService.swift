import GRPCCore
import RedProto

/// The standard gRPC health service (`grpc.health.v1.Health`), which load balancers and
/// `grpc_health_probe` speak. The whole server (`""`) and `reddb.v1.RedDb` are SERVING while
/// the server is ready and storage has not failed, NOT_SERVING otherwise; any other service
/// name is NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch), as the protocol asks. It needs no
/// token, like RedDB's own `Health` rpc.
struct GRPCHealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
    let context: ServerContext
    static let knownServices: Set = ["", "reddb.v1.RedDb"]
    /// How often Watch re-reads the status to send changes.
    static let watchInterval = Duration.milliseconds(500)

    func status(of service: String) -> Grpc_Health_V1_HealthCheckResponse.ServingStatus {
        guard Self.knownServices.contains(service) else { return .serviceUnknown }
        return context.health.healthy ? .serving : .notServing
    }

    func check(request: Grpc_Health_V1_HealthCheckRequest, context _: GRPCCore.ServerContext) async throws -> Grpc_Health_V1_HealthCheckResponse {
        guard Self.knownServices.contains(request.service) else {
            throw RPCError(code: .notFound, message: "unknown service \"\(request.service)\"")
        }
        return .with { $0.status = status(of: request.service) }
    }

    /// Sends the current status, then every change, until the client goes away or the server stops.
    func watch(request: Grpc_Health_V1_HealthCheckRequest, response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
               context _: GRPCCore.ServerContext) async throws {
        var last: Grpc_Health_V1_HealthCheckResponse.ServingStatus?
        while !Task.isCancelled {
            let current = status(of: request.service)
            if current != last {
                try await response.write(.with { $0.status = current })
                last = current
            }
            if context.phase == .stopped { return }
            try await Task.sleep(for: Self.watchInterval)
        }
    }
}
