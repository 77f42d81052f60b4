import GRPCCore
import RedCore
import RedProto

/// The `Auth*` rpcs: the same JSON bodies and replies as HTTP's `/auth/…` routes
/// (`AuthRequests`). Login, bootstrap and password change are open (they carry their own
/// credentials); user management needs an admin; API keys may also be made and revoked by
/// their own user.
extension GRPCService {
    func authLogin(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .open, rpc: "auth_login") { message, _ in
            Self.payloadReply(try await self.context.auth.login(try Self.payload(message.payloadJson)))
        }
    }

    func authWhoAmI(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "auth_whoami") { _, identity in Self.payloadReply(self.context.auth.whoAmI(identity)) }
    }

    func authBootstrap(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        let caller = context.auth.optionalCaller(token: Self.token(in: request.metadata))
        return await unary(request, .open, rpc: "auth_bootstrap") { message, _ in
            Self.payloadReply(try await self.context.auth.bootstrap(try Self.payload(message.payloadJson), caller: caller))
        }
    }

    func authChangePassword(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        let caller = context.auth.optionalCaller(token: Self.token(in: request.metadata))
        return await unary(request, .open, rpc: "auth_change_password") { message, _ in
            Self.payloadReply(try await self.context.auth.changePassword(try Self.payload(message.payloadJson), caller: caller))
        }
    }

    func authCreateUser(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .admin, rpc: "auth_create_user") { message, identity in
            Self.payloadReply(try await self.context.auth.createUser(try Self.payload(message.payloadJson), by: identity))
        }
    }

    func authDeleteUser(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .admin, rpc: "auth_delete_user") { message, identity in
            Self.payloadReply(try await self.context.auth.deleteUser(try Self.payload(message.payloadJson), by: identity))
        }
    }

    func authListUsers(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, .admin, rpc: "auth_list_users") { _, identity in Self.payloadReply(try self.context.auth.listUsers(by: identity)) }
    }

    func authCreateApiKey(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "auth_create_api_key") { message, identity in
            Self.payloadReply(try await self.context.auth.createAPIKey(try Self.payload(message.payloadJson), by: identity))
        }
    }

    func authRevokeApiKey(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "auth_revoke_api_key") { message, identity in
            Self.payloadReply(try await self.context.auth.revokeAPIKey(try Self.payload(message.payloadJson), by: identity))
        }
    }
}
