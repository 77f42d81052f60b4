import Foundation
import GRPCCore
import RedCore
import RedDB
import RedProto
import RedWire

/// The gRPC service `reddb.v1.RedDb` (spec: protocols §3).
///
/// Every rpc goes through `unary`, which authenticates the caller from the request
/// metadata, runs the handler and turns any thrown `RedError` into a precise gRPC status
/// (`GRPCStatusMapping`). Handlers translate: queries go to `Session.execute`, the
/// collection/KV helpers to the `CollectionOperations` the HTTP routes use, so gRPC,
/// HTTP and the other surfaces answer identically.
///
/// Authentication (`AuthStore`): while the server has no users every caller is anonymous.
/// Once it has, every rpc but `Health`, `Ready`, `Topology`, `AuthLogin`, `AuthBootstrap`
/// and `AuthChangePassword` needs `authorization: Bearer <token>` (or `x-reddb-token:
/// <token>`) with a session token or an API key; otherwise the call fails UNAUTHENTICATED
/// before the handler runs. The caller is bound to `RequestCaller` for the handler, so the
/// sessions it opens carry the caller's role: a `read` caller's writes fail
/// PERMISSION_DENIED (42501), and `admin`-gated rpcs refuse anyone else the same way.
struct GRPCService: Reddb_V1_RedDb.ServiceProtocol {
    let context: ServerContext
    let prepared: PreparedQueryRegistry

    init(context: ServerContext) {
        self.context = context
        self.prepared = PreparedQueryRegistry()
    }

    var operations: CollectionOperations { CollectionOperations(database: context.database, standbyReason: context.standbyReason) }

    enum Gate {
        /// No credentials needed; the handler gets the caller if a valid token came along.
        case open
        /// A valid token once the server has users.
        case authenticated
        /// An admin's token; anonymous callers never pass.
        case admin
        /// A caller who may write: anonymous while the server has no users, else `write` or `admin`.
        case writer
        /// Anyone while the server has no users, else an admin (replication).
        case adminOnceAuthenticated
    }

    /// The bearer token of a call: `authorization: Bearer <t>` (scheme matched case-insensitively,
    /// value trimmed), else `x-reddb-token`.
    static func token(in metadata: Metadata) -> String? {
        token(authorization: metadata[stringValues: "authorization"], redDBToken: metadata[stringValues: "x-reddb-token"])
    }

    /// `token(in:)` from the two headers' values, as the metadata or the raw HTTP/2 headers
    /// (`GRPCUnauthenticatedLimit`) give them.
    static func token(authorization: some Sequence<String>, redDBToken: some Sequence<String>) -> String? {
        for value in authorization {
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            if trimmed.lowercased().hasPrefix("bearer ") { return String(trimmed.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
        }
        return redDBToken.first { _ in true }?.trimmingCharacters(in: .whitespaces)
    }

    /// Authenticates, runs `body`, and maps errors to statuses.
    func unary<In: Sendable, Out: Sendable>(_ request: ServerRequest<In>, _ gate: Gate = .authenticated, rpc: String,
                                            _ body: (In, AuthIdentity) async throws -> Out) async -> ServerResponse<Out> {
        let started = ContinuousClock.now
        defer { context.metrics.recordStatement(surface: "grpc", kind: rpc, nanoseconds: (ContinuousClock.now - started).wholeNanoseconds) }
        do {
            let token = Self.token(in: request.metadata)
            let identity: AuthIdentity
            switch gate {
            case .open:
                // Unauthenticated callers of an open rpc may only read.
                identity = context.auth.optionalCaller(token: token)
                    ?? AuthIdentity(username: "anonymous", role: .read, authenticated: false)
            case .authenticated:
                identity = try context.auth.authenticate(token: token)
            case .admin:
                identity = try context.auth.authenticate(token: token)
                try identity.requireAdmin(rpc)
            case .writer:
                identity = try context.auth.authenticate(token: token)
                guard identity.role >= .write else {
                    throw RedError(.insufficientPrivilege, "permission denied: \(rpc) needs the write role (user \"\(identity.username)\" has role read)")
                }
            case .adminOnceAuthenticated:
                identity = try context.auth.authenticate(token: token)
                if context.auth.authRequired { try identity.requireAdmin(rpc) }
            }
            let message = request.message
            return ServerResponse(message: try await RequestCaller.$identity.withValue(identity) { try await body(message, identity) })
        } catch {
            return ServerResponse(error: GRPCStatusMapping.rpcError(error))
        }
    }

    // MARK: Health, topology

    func health(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_HealthReply> {
        await unary(request, .open, rpc: "health") { _, _ in healthReply() }
    }

    func ready(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_HealthReply> {
        await unary(request, .open, rpc: "ready") { _, _ in healthReply() }
    }

    func healthReply() -> Reddb_V1_HealthReply {
        let health = context.health
        var reply = Reddb_V1_HealthReply()
        reply.healthy = health.healthy
        reply.state = health.state
        reply.checkedAtUnixMs = UInt64(SystemClock().nowMilliseconds())
        return reply
    }

    func topology(request: ServerRequest<Reddb_V1_TopologyRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_TopologyReply> {
        await unary(request, .open, rpc: "topology") { _, identity in
            var reply = Reddb_V1_TopologyReply()
            reply.topologyBytes = Data(self.context.topology(for: identity).encoded())
            return reply
        }
    }

    // MARK: Catalog

    func stats(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_StatsReply> {
        await unary(request, rpc: "stats") { _, _ in
            let collections = try await self.context.callerSession().collections()
            let engine = self.context.database.engine.statistics
            var reply = Reddb_V1_StatsReply()
            reply.collectionCount = UInt64(collections.count)
            reply.totalMemoryBytes = UInt64(engine.cache.residentBytes)
            reply.activeConnections = UInt64(self.context.connections.count)
            reply.pagedMode = true
            reply.startedAtUnixMs = UInt64(self.context.startedAtUnixMilliseconds)
            return reply
        }
    }

    func collections(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_CollectionsReply> {
        await unary(request, rpc: "collections") { _, _ in
            var reply = Reddb_V1_CollectionsReply()
            reply.collections = try await self.context.callerSession().collections().map(\.name)
            return reply
        }
    }

    func describeCollection(request: ServerRequest<Reddb_V1_CollectionRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "describe_collection") { message, _ in
            Self.payloadReply(try await operations.schema(try Self.required(message.collection, "collection")))
        }
    }

    func createCollection(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "create_collection") { message, _ in
            Self.payloadReply(try await operations.createCollection(try Self.payload(message.payloadJson)))
        }
    }

    func dropCollection(request: ServerRequest<Reddb_V1_JsonPayloadRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_OperationReply> {
        await unary(request, rpc: "drop_collection") { message, _ in
            guard case .string(let name)? = try Self.payload(message.payloadJson)["name"] else {
                throw RedError(.invalidArgument, "DropCollection needs {\"name\": …}")
            }
            _ = try await operations.dropCollection(name)
            return Self.operationReply("collection \(name) dropped")
        }
    }

    func scan(request: ServerRequest<Reddb_V1_ScanRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_ScanReply> {
        await unary(request, rpc: "scan") { message, _ in
            let name = try Self.required(message.collection, "collection")
            let limit = message.limit == 0 ? 100 : Int(min(message.limit, UInt64(ServerConfiguration.maxScanPageRows)))
            let offset = Int(min(message.offset, UInt64(Int32.max)))
            let page = try await operations.scan(name, offset: offset, limit: limit)
            var reply = Reddb_V1_ScanReply()
            reply.collection = name
            if case .integer(let total)? = page["total"] { reply.total = UInt64(max(0, total)) }
            guard case .array(let items)? = page["items"] else { return reply }
            reply.items = items.map { item in
                var entity = Reddb_V1_ScanEntity()
                if case .integer(let rid)? = item["rid"] { entity.id = UInt64(max(0, rid)) }
                entity.kind = "row"
                entity.collection = name
                entity.json = item.text
                return entity
            }
            let next = UInt64(offset + items.count)
            if next < reply.total { reply.nextOffset = next }
            return reply
        }
    }

    func checkpoint(request: ServerRequest<Reddb_V1_Empty>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_OperationReply> {
        await unary(request, .writer, rpc: "checkpoint") { _, _ in
            try await self.context.database.engine.checkpoint()
            return Self.operationReply("checkpoint complete")
        }
    }

    // MARK: Helpers

    /// A request's JSON payload; empty means `{}`.
    /// Longest `payload_json` parsed (a parsed document takes several times its text, and
    /// some rpcs take one before any login); bulk rpcs carry many payloads, each this small.
    static let maxPayloadJSONBytes = 16 << 20

    static func payload(_ text: String) throws -> JSONValue {
        guard !text.isBlank else { return .object([]) }
        guard text.utf8.count <= Self.maxPayloadJSONBytes else {
            throw RedError(.limitExceeded, "payload_json is longer than \(Self.maxPayloadJSONBytes) bytes")
        }
        do { return try JSONValue.parse(text) } catch let error as RedError {
            throw RedError(.invalidArgument, "payload_json is not valid JSON: \(error.message)")
        }
    }

    static func required(_ value: String, _ field: String) throws -> String {
        guard !value.isEmpty else { throw RedError(.invalidArgument, "\(field) is required") }
        return value
    }

    static func payloadReply(_ json: JSONValue) -> Reddb_V1_PayloadReply {
        var reply = Reddb_V1_PayloadReply()
        reply.ok = true
        reply.payload = json.text
        return reply
    }

    static func operationReply(_ message: String) -> Reddb_V1_OperationReply {
        var reply = Reddb_V1_OperationReply()
        reply.ok = true
        reply.message = message
        return reply
    }
}
