import Foundation
import GRPCCore
import RedCore
import RedProto
import RedReplication

/// The replication rpcs (spec: replication-mcp-ai-ops §1.4), served by a `--role primary`
/// server to its replicas, and by a replica to replicas of its own (cascading); a standalone
/// server answers FAILED_PRECONDITION. Unlike upstream
/// (`authorize_read`), they need an admin once the server has users: the log and the
/// snapshots carry every key, users' SCRAM verifiers included, and an ack moves what the
/// primary keeps of its log.
extension GRPCService {
    func primary() throws -> ReplicationPrimary {
        guard let primary = context.replicationPrimary else {
            throw RPCError(code: .failedPrecondition, message: "this instance is not a replication primary (start it with --role primary)")
        }
        if let replica = context.replica, !replica.isBootstrapped {
            throw RPCError(code: .unavailable, message: "this replica is still copying its primary; its own replicas can copy it once it is done")
        }
        return primary
    }

    func pullWalRecords(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .adminOnceAuthenticated, rpc: "pull_wal_records") { message, _ in
            let pull = try PullRequest(json: try Self.payload(message.payloadJson))
            return Self.payloadReply(try await self.primary().pull(pull).json)
        }
    }

    func ackReplicaLsn(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .adminOnceAuthenticated, rpc: "ack_replica_lsn") { message, _ in
            let body = try Self.payload(message.payloadJson)
            guard case .string(let id)? = body["replica_id"], !id.isEmpty, id.utf8.count <= 128 else {
                throw RedError(.invalidArgument, "AckReplicaLsn needs replica_id (a string of 1 to 128 bytes)")
            }
            guard case .integer(let applied)? = body["applied_lsn"], applied >= 0 else {
                throw RedError(.invalidArgument, "AckReplicaLsn needs applied_lsn (an integer ≥ 0)")
            }
            var durable = applied
            if case .integer(let n)? = body["durable_lsn"] { durable = n }
            guard durable >= 0 else { throw RedError(.invalidArgument, "durable_lsn must be ≥ 0") }
            try self.primary().acknowledge(replicaID: id, appliedLSN: UInt64(applied), durableLSN: UInt64(durable))
            return Self.payloadReply(.object([("applied_lsn", .integer(applied)), ("durable_lsn", .integer(durable)), ("ok", .bool(true)),
                                              ("replica_id", .string(id))]))
        }
    }

    func replicationSnapshotStream(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> StreamingServerResponse<Reddb_V1_ReplicationSnapshotChunk> {
        let primary: ReplicationPrimary
        let replicaID: String
        do {
            let identity = try context.auth.authenticate(token: Self.token(in: request.metadata))
            if context.auth.authRequired { try identity.requireAdmin("ReplicationSnapshotStream") }
            primary = try self.primary()
            guard case .string(let id)? = try Self.payload(request.message.payloadJson)["replica_id"], !id.isEmpty, id.utf8.count <= 128 else {
                throw RedError(.invalidArgument, "ReplicationSnapshotStream needs replica_id (a string of 1 to 128 bytes)")
            }
            replicaID = id
        } catch {
            return StreamingServerResponse(error: GRPCStatusMapping.rpcError(error))
        }
        return StreamingServerResponse { writer in
            do {
                try await primary.snapshot(replicaID: replicaID) { chunk in
                    try await writer.write(.with {
                        $0.snapshotLsn = chunk.snapshotLSN
                        $0.entries = chunk.entries.withUnsafeBytes { Data($0) }
                        $0.entryCount = UInt64(chunk.entryCount)
                        $0.done = chunk.done
                        if let id = chunk.primaryID { $0.primaryID = id }
                    })
                }
            } catch {
                throw GRPCStatusMapping.rpcError(error)
            }
            return [:]
        }
    }
}
