import AsyncHTTPClient
import Foundation
import GRPCCore
import GRPCProtobuf
import GRPCNIOTransportHTTP2
import NIOCore
import NIOSSL
import RedCore
import RedDB
import RedProto
import RedWire
import Synchronization

/// `grpc://` (`grpcs://` over TLS): the `Query` rpc of `reddb.v1.RedDb` over one HTTP/2 connection (grpc-swift
/// multiplexes concurrent calls on it). gRPC calls have no server session, so transactions
/// are refused with a clear error.
final class GRPCTransport: ClientTransport {
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    let stub: Reddb_V1_RedDb.Client<HTTP2ClientTransport.Posix>
    let runner: Task<Void, any Error>
    let metadata: Mutex<Metadata>
    let options: RedClient.Options

    init(_ target: ConnectionString, options: RedClient.Options) async throws {
        let transport = try HTTP2ClientTransport.Posix(target: .dns(host: target.host, port: target.port),
                                                       transportSecurity: try Self.security(target.tls),
                                                       config: .defaults {
                                                           $0.connection.maxIdleTime = nil
                                                           $0.connection.flushCoalescing = nil  // as the server: latency first
                                                           if let name = target.tls?.serverName { $0.http2.authority = name }
                                                       },
                                                       eventLoopGroup: ClientLoopExecutor.shared.group)
        client = GRPCClient(transport: transport)
        stub = Reddb_V1_RedDb.Client(wrapping: client)
        let client = self.client
        runner = Task(executorPreference: ClientLoopExecutor.shared) { try await client.runConnections() }
        self.options = options
        var metadata = Metadata()
        if let token = target.token { metadata.addString("Bearer \(token)", forKey: "authorization") }
        self.metadata = Mutex(metadata)
        if let user = target.user {
            do {
                let body = JSONValue.object([("password", .string(target.password ?? "")), ("username", .string(user))])
                let reply = try await stub.authLogin(.with { $0.payloadJson = body.text }, options: callOptions)
                guard case .string(let token)? = try JSONValue.parse(reply.payload)["token"] else {
                    throw RedError(.protocolViolation, "AuthLogin returned no token")
                }
                self.metadata.withLock { $0.replaceOrAddString("Bearer \(token)", forKey: "authorization") }
            } catch {
                client.beginGracefulShutdown()
                throw Self.redError(error)
            }
        }
    }

    var callOptions: CallOptions {
        var o = CallOptions.defaults
        o.timeout = options.timeout
        // The transport applies this to replies too (4 MiB by default): allow what the server
        // sends (its messages are bounded by `GRPCListener.maxMessageBytes`, 256 MiB).
        o.maxRequestMessageBytes = 256 << 20
        o.maxResponseMessageBytes = 256 << 20
        return o
    }

    func execute(_ sql: String, _ parameters: [Value]) async throws -> QueryResult {
        let request = Reddb_V1_QueryRequest.with {
            $0.query = sql
            $0.params = parameters.map(Self.queryValue)
        }
        do {
            let reply = try await stub.query(request, metadata: metadata.withLock { $0 }, options: callOptions)
            return ResultEnvelope.fromGRPC(try JSONValue.parse(reply.resultJson), statement: reply.statement)
        } catch {
            throw Self.redError(error)
        }
    }

    /// `BulkInsertBinary`: all rows or none, in one message (`BinaryBulkInsertEncoding`).
    func bulkInsert(into table: String, columns: [String], rows: [[Value]]) async throws -> Int? {
        guard rows.count <= 1 << 22 else { return nil }
        let request = ClientRequest(message: BinaryBulkInsertEncoding.encode(table: table, columns: columns, rows: rows),
                                    metadata: metadata.withLock { $0 })
        do {
            return try await client.unary(request: request, descriptor: Reddb_V1_RedDb.Method.BulkInsertBinary.descriptor,
                                          serializer: EncodedMessageSerializer(),
                                          deserializer: ProtobufDeserializer<Reddb_V1_BulkInsertReply>(),
                                          options: callOptions) { Int(try $0.message.count) }
        } catch {
            throw Self.redError(error)
        }
    }

    func session() async throws -> any ClientSession {
        throw RedError(.featureNotSupported, "grpc:// has no server-side session, so it cannot hold a transaction; use red://")
    }

    func close() async throws {
        client.beginGracefulShutdown()
        _ = await runner.result
    }

    /// The server's replication topology (`Topology`): on a primary, its replicas that
    /// advertise an address, for an authenticated caller (or anyone without users).
    func topology() async throws -> Topology {
        do {
            let reply = try await stub.topology(Reddb_V1_TopologyRequest(), metadata: metadata.withLock { $0 }, options: callOptions)
            return try Topology.decode([UInt8](reply.topologyBytes))
        } catch {
            throw Self.redError(error)
        }
    }

    /// An RPCError as the RedError the server raised (its code is in the trailers).
    static func redError(_ error: any Error) -> any Error {
        guard let rpc = error as? RPCError else { return error }
        if let code = rpc.metadata[stringValues: "reddb-error-code"].first(where: { _ in true }), let parsed = RedError.Code(rawValue: code) {
            var red = RedError(parsed, rpc.message)
            if let state = rpc.metadata[stringValues: "reddb-sqlstate"].first(where: { _ in true }), state != parsed.sqlState { red.condition = state }
            return red
        }
        switch rpc.code {
        case .unavailable: return RedError(.closed, "gRPC: \(rpc.message)")
        case .deadlineExceeded, .cancelled: return RedError(.queryCanceled, "gRPC: \(rpc.message)")
        case .unauthenticated: return RedError(.invalidPassword, rpc.message)
        default: return RedError(.internalError, "gRPC \(rpc.code): \(rpc.message)")
        }
    }

    static func queryValue(_ value: Value) -> Reddb_V1_QueryValue {
        .with { q in
            switch value {
            case .null: q.nullValue = .init()
            case .boolean(let b): q.boolValue = b
            case .integer(let i): q.intValue = i
            case .float(let d): q.floatValue = d
            case .text(let s): q.textValue = s
            case .blob(let b): q.bytesValue = Data(b)
            case .json(let j): q.jsonValue = j.text
            case .vector(let v): q.vectorValue = .with { $0.values = v }
            case .uuid(let u): q.uuidValue = Data(u.bytes)
            // Timestamps travel as text: the proto's timestamp is whole seconds and would drop milliseconds.
            default: q.textValue = value.displayText
            }
        }
    }
}

/// `http://` (`https://` over TLS): `POST /query` with JSON parameters (AsyncHTTPClient pools the connections).
/// HTTP has no server session either, so transactions are refused.
final class HTTPTransport: ClientTransport {
    let base: String
    let client: HTTPClient
    let token: Mutex<String?>
    let options: RedClient.Options

    init(_ target: ConnectionString, options: RedClient.Options) async throws {
        let host = target.host.contains(":") ? "[\(target.host)]" : target.host
        base = "\(target.tls == nil ? "http" : "https")://\(host):\(target.port)"
        var configuration = HTTPClient.Configuration(tlsConfiguration: try target.tls?.configuration(), timeout: .init(connect: .seconds(10)))
        // A connection that cannot be made (refused, or a certificate that does not verify) fails
        // the request at once, as the other transports do, instead of being retried with backoff
        // for the whole connect timeout (10 s) before the caller hears why.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        token = Mutex(target.token)
        self.options = options
        if let user = target.user {
            do {
                let body = JSONValue.object([("password", .string(target.password ?? "")), ("username", .string(user))])
                let reply = try await post("/auth/login", body)
                guard case .string(let t)? = reply["token"] else { throw RedError(.protocolViolation, "/auth/login returned no token") }
                token.withLock { $0 = t }
            } catch {
                try? await client.shutdown()
                throw error
            }
        }
    }

    func post(_ path: String, _ body: JSONValue) async throws -> JSONValue {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let token = token.withLock({ $0 }) { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(string: body.text))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .nanoseconds(Int64(options.timeout.components.seconds) * 1_000_000_000))
        } catch {
            throw RedError(.closed, "HTTP request to \(base)\(path) failed: \(ConnectionString.TLS.explain(error))")
        }
        let bytes = try await response.body.collect(upTo: 256 << 20)
        let json = try JSONValue.parse(String(buffer: bytes))
        guard response.status.code < 400 else {
            throw ResultEnvelope.error(json) ?? RedError(.internalError, "HTTP \(response.status.code): \(json.text)")
        }
        return json
    }

    func execute(_ sql: String, _ parameters: [Value]) async throws -> QueryResult {
        let body = JSONValue.object([("params", .array(parameters.map(Self.parameter))), ("query", .string(sql))])
        return ResultEnvelope.fromQueryEnvelope(try await post("/query", body))
    }

    func session() async throws -> any ClientSession {
        throw RedError(.featureNotSupported, "http:// has no server-side session, so it cannot hold a transaction; use red://")
    }

    func close() async throws { try await client.shutdown() }

    /// A parameter in the HTTP API's JSON form (ADR 0015 envelopes for bytes, timestamps, UUIDs).
    static func parameter(_ value: Value) -> JSONValue {
        switch value {
        case .null: return .null
        case .boolean(let b): return .bool(b)
        case .integer(let i): return .integer(i)
        case .float(let d) where d.isFinite: return .float(d)
        case .float(let d): return .object([("$float", .string(d.isNaN ? "NaN" : (d > 0 ? "Infinity" : "-Infinity")))])
        case .text(let s): return .string(s)
        case .blob(let b): return .object([("$bytes", .string(Data(b).base64EncodedString()))])
        case .json(let j): return j
        case .timestamp(let us) where us % 1000 == 0 || CalendarMath.isInfinite(us):
            return .object([("$ts", .integer(CalendarMath.milliseconds(us)))])
        case .timestamp: return .object([("$ts", .string(value.displayText))])  // microseconds: its text keeps them
        case .uuid: return .object([("$uuid", .string(value.displayText))])
        case .vector(let v): return .array(v.map { .float(NumberFormatting.widened($0)) })
        default: return .string(value.displayText)
        }
    }
}

extension GRPCTransport {
    /// Plaintext h2c, or TLS as the connection string says (the files are checked here, so a
    /// bad path is reported as such).
    static func security(_ tls: ConnectionString.TLS?) throws -> HTTP2ClientTransport.Posix.TransportSecurity {
        guard let tls else { return .plaintext }
        _ = try tls.configuration()
        return .tls { config in
            if let ca = tls.caPath { config.trustRoots = .certificates([.file(path: ca, format: .pem)]) }
            if !tls.verifyServer { config.serverCertificateVerification = .noVerification }
            if let certificate = tls.certificatePath, let key = tls.keyPath {
                config.certificateChain = [.file(path: certificate, format: .pem)]
                config.privateKey = .file(path: key, format: .pem)
            }
        }
    }
}
