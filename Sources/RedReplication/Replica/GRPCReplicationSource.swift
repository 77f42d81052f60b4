import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import RedCore
import RedProto

/// A replica's connection to its primary: the replication rpcs of `reddb.v1.RedDb` over
/// gRPC (plaintext HTTP/2; the primary's gRPC listener or its one-port router).
///
/// The primary's address is `host:port`, `grpc://host:port` or `http://host:port`, with
/// `user:password@` (the replica logs in with `AuthLogin`) or `?token=` (a session token or
/// API key) when the primary requires authentication. The replication rpcs need an admin
/// user: a replica reads the primary's whole log, its users and grants included.
public struct GRPCReplicationSource: ReplicationSource {
    public struct Address: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public var user: String?
        public var password: String?
        public var token: String?
        /// `grpcs://`: TLS to the primary.
        public var tls = false
        /// `ca=/path.pem`: the CA(s) to trust instead of the system's (for a primary's
        /// self-signed certificate, its data file's `.tls-ca.pem`).
        public var caPath: String?
        /// `servername=…`: the name to send and verify instead of the host.
        public var serverName: String?
        /// `rejectUnauthorized=false`: do not verify the primary's certificate (development only).
        public var verifyServer = true

        /// Without a port: 5050, where `red server` routes gRPC by default.
        public init(_ text: String) throws {
            let withScheme = text.contains("://") ? text : "grpc://" + text
            guard let url = URLComponents(string: withScheme), let scheme = url.scheme, ["grpc", "grpcs", "http", "https", "red"].contains(scheme),
                  let host = url.host, !host.isEmpty else {
                throw RedError(.invalidArgument, "--primary-addr takes host:port or grpc[s]://[user:password@]host:port[?token=…&ca=…], got \(text)")
            }
            self.host = host
            port = url.port ?? 5050
            user = url.user?.removingPercentEncoding
            password = url.password?.removingPercentEncoding
            let query = url.queryItems ?? []
            func value(_ name: String) -> String? { query.first { $0.name == name }?.value.flatMap { $0.isEmpty ? nil : $0 } }
            token = value("token")
            tls = scheme == "grpcs" || scheme == "https"
            caPath = value("ca")
            serverName = value("servername")
            if let reject = value("rejectUnauthorized") ?? value("reject_unauthorized") {
                switch reject.lowercased() {
                case "false", "0", "no", "off": verifyServer = false
                case "true", "1", "yes", "on": verifyServer = true
                default: throw RedError(.invalidArgument, "rejectUnauthorized must be true or false, got \(reject)")
                }
            }
            if !tls, caPath != nil || serverName != nil || !verifyServer {
                throw RedError(.invalidArgument, "ca, servername and rejectUnauthorized need grpcs:// (TLS to the primary)")
            }
            if let caPath, !FileManager.default.fileExists(atPath: caPath) {
                throw RedError(.invalidArgument, "the CA file \(caPath) does not exist")
            }
        }

        /// The transport's security: TLS 1.2+ with the given trust, or plaintext.
        var security: HTTP2ClientTransport.Posix.TransportSecurity {
            guard tls else { return .plaintext }
            let caPath = caPath, verifyServer = verifyServer
            return .tls { config in
                if let caPath { config.trustRoots = .certificates([.file(path: caPath, format: .pem)]) }
                if !verifyServer { config.serverCertificateVerification = .noVerification }
            }
        }

        /// Credentials left out, for logs and status.
        public var description: String { "\(host):\(port)" }
    }

    let stub: Reddb_V1_RedDb.Client<HTTP2ClientTransport.Posix>
    let metadata: Metadata

    static var callOptions: CallOptions {
        var options = CallOptions.defaults
        // The transport applies `maxRequestMessageBytes` to what it receives as well (4 MiB by
        // default); a pull of 4 MiB of records is about 8 MiB of hex.
        options.maxRequestMessageBytes = 64 << 20
        options.maxResponseMessageBytes = 64 << 20
        options.timeout = .seconds(60)
        return options
    }

    /// Connects, logs in if the address carries a user, runs `body`, and disconnects.
    public static func withConnection<R: Sendable>(to address: Address, _ body: (GRPCReplicationSource) async throws -> R) async throws -> R {
        let transport = try HTTP2ClientTransport.Posix(target: .dns(host: address.host, port: address.port), transportSecurity: address.security,
                                                       config: .defaults { if let name = address.serverName { $0.http2.authority = name } })
        return try await withGRPCClient(transport: transport) { client in
            let stub = Reddb_V1_RedDb.Client(wrapping: client)
            var metadata = Metadata()
            if let token = address.token { metadata.addString("Bearer \(token)", forKey: "authorization") }
            if let user = address.user {
                let body = JSONValue.object([("password", .string(address.password ?? "")), ("username", .string(user))])
                let reply = try await stub.authLogin(.with { $0.payloadJson = body.text }, options: callOptions)
                guard case .string(let token)? = try JSONValue.parse(reply.payload)["token"] else {
                    throw RedError(.protocolViolation, "AuthLogin returned no token")
                }
                metadata.replaceOrAddString("Bearer \(token)", forKey: "authorization")
            }
            return try await body(GRPCReplicationSource(stub: stub, metadata: metadata))
        }
    }

    public func pull(_ request: PullRequest) async throws -> PulledRecords {
        let reply = try await stub.pullWalRecords(.with { $0.payloadJson = request.json.text }, metadata: metadata, options: Self.callOptions)
        return try PulledRecords(json: try JSONValue.parse(reply.payload))
    }

    public func ack(replicaID: String, appliedLSN: UInt64, durableLSN: UInt64) async throws {
        let body = JSONValue.object([("replica_id", .string(replicaID)), ("applied_lsn", .integer(Int64(appliedLSN))),
                                     ("durable_lsn", .integer(Int64(durableLSN)))])
        _ = try await stub.ackReplicaLsn(.with { $0.payloadJson = body.text }, metadata: metadata, options: Self.callOptions)
    }

    /// Sends a replica's ASK audit row to the primary (`SubmitAskSideEffects`).
    public func submitAskSideEffects(auditRow: JSONValue) async throws {
        let body = JSONValue.object([("kind", .string("ask.side_effects.v1")), ("audit_row", auditRow)])
        _ = try await stub.submitAskSideEffects(.with { $0.payloadJson = body.text }, metadata: metadata, options: Self.callOptions)
    }

    public func snapshot(replicaID: String, _ receive: @Sendable (SnapshotChunk) async throws -> Void) async throws {
        var options = Self.callOptions
        options.timeout = nil  // a large copy takes as long as it takes
        try await withoutActuallyEscaping(receive) { receive in
            let box = UncheckedBox(receive)
            let request = JSONValue.object([("replica_id", .string(replicaID))])
            try await stub.replicationSnapshotStream(.with { $0.payloadJson = request.text }, metadata: metadata, options: options) { response in
                for try await message in response.messages {
                    try await box.value(SnapshotChunk(snapshotLSN: message.snapshotLsn, entries: Array(message.entries),
                                                      entryCount: Int(clamping: message.entryCount), done: message.done,
                                                      primaryID: message.primaryID.isEmpty ? nil : message.primaryID))
                }
            }
        }
    }
}

/// Carries the non-escaping receiver into the response handler, which runs before
/// `snapshot` returns.
private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
