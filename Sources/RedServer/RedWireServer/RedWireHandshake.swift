import Foundation
import RedCore
import RedDB
import RedWire

/// RedWire's handshake (spec protocols §1.5), as pure steps the connection drives:
/// Hello → HelloAck, then AuthResponse (one round trip for `anonymous`, two for
/// `scram-sha-256`) → AuthOk, or AuthFail and close.
///
/// Unlike upstream 1.2.0, whose RedWire listeners never see the auth store, ours uses the
/// server's `AuthStore`: with no users, `anonymous` is chosen; with users, `scram-sha-256`
/// (against the user's stored verifier) or `bearer` (a session token from gRPC `AuthLogin`
/// or HTTP `POST /auth/login`, or an API key). `oauth-jwt` is never chosen: the server has
/// no OAuth validator. `identity` is who authenticated; the connection's sessions take its
/// role.
struct RedWireHandshake {
    /// HelloAck/AuthOk `features` bit 0: QueryWithParams is supported.
    static let queryWithParams: Int64 = 1
    /// Bit 1 (ours): Error frames carry JSON `{"code","message","sqlstate"}` instead of bare
    /// text. Only when the client sets it in Hello's `features`; upstream ignores the field.
    static let structuredErrors: Int64 = 2
    /// Bit 2 (ours): the server zstd-compresses reply payloads over 32 bytes (COMPRESSED flag).
    /// Granted only where libzstd is available; compressed requests are accepted either way then.
    static let compressedReplies: Int64 = 4
    static var features: Int64 { queryWithParams | structuredErrors | (Zstd.isAvailable ? compressedReplies : 0) }
    static let knownMethods: Set = ["anonymous", "bearer", "scram-sha-256", "oauth-jwt"]

    let auth: AuthStore
    private(set) var method = ""
    /// Set by a successful AuthResponse, with how the client proved it.
    private(set) var identity: AuthIdentity?
    private(set) var credential: AuthStore.Credential?
    /// The features both sides use: QueryWithParams always, the rest when the client asked.
    private(set) var negotiatedFeatures = queryWithParams
    private var scram: SCRAMServer?
    private var scramUser = ""

    /// What HelloAck advertises: this server only (the caller is not authenticated yet).
    let topology: Topology

    init(auth: AuthStore, topology: Topology = .standalone) {
        self.auth = auth
        self.topology = topology
    }

    var anonymousAllowed: Bool { !auth.authRequired }

    /// Reads Hello; returns HelloAck's JSON, or throws the AuthFail reason.
    mutating func hello(_ payload: [UInt8]) throws -> JSONValue {
        let json: JSONValue
        do { json = try JSONValue.parse(String(decoding: payload, as: UTF8.self)) } catch {
            throw RedError(.invalidAuthorization, "Hello: invalid JSON: \(error)")
        }
        guard case .object(let members) = json else { throw RedError(.invalidAuthorization, "Hello: payload must be a JSON object") }
        func member(_ name: String) -> JSONValue? { members.first { $0.0 == name }?.1 }
        guard case .array(let versions)? = member("versions"), !versions.isEmpty else {
            throw RedError(.invalidAuthorization, "Hello: versions[] is empty")
        }
        guard case .array(let methods)? = member("auth_methods"), !methods.isEmpty else {
            throw RedError(.invalidAuthorization, "Hello: auth_methods[] is empty")
        }
        let offered = versions.compactMap { v -> Int64? in if case .integer(let n) = v { return n } else { return nil } }
        guard let version = offered.filter({ $0 == 1 }).max() else {
            throw RedError(.invalidAuthorization, "no overlapping protocol version")
        }
        if case .integer(let requested)? = member("features") { negotiatedFeatures = Self.queryWithParams | (requested & Self.features) }
        let listed = methods.compactMap { m -> String? in if case .string(let s) = m { return s } else { return nil } }
        let priority = anonymousAllowed ? ["anonymous", "scram-sha-256", "bearer"] : ["scram-sha-256", "bearer"]
        guard let chosen = priority.first(where: listed.contains) else {
            throw RedError(.invalidAuthorization, "no overlapping auth method")
        }
        method = chosen
        return .object([
            ("auth", .string(chosen)), ("features", .integer(negotiatedFeatures)), ("server", .string("reddb/\(RedDB.version)")),
            ("topology", .string(topology.base64)), ("version", .integer(version)),
        ])
    }

    enum Step {
        /// Send AuthRequest with this payload and wait for another AuthResponse.
        case challenge(String)
        /// Authenticated: send AuthOk with this JSON.
        case done(JSONValue)
    }

    /// Reads one AuthResponse; throws the AuthFail reason.
    mutating func authResponse(_ payload: [UInt8]) throws -> Step {
        switch method {
        case "anonymous":
            guard anonymousAllowed else { throw RedError(.invalidAuthorization, "anonymous auth refused — server has auth enabled") }
            credential = .anonymous
            return .done(authenticated(.anonymous))
        case "scram-sha-256":
            let text = String(decoding: payload, as: UTF8.self)
            if let server = scram {
                scram = nil
                guard let final = try server.receiveClientFinal(text), final.hasPrefix("v="), let user = auth.identity(of: scramUser) else {
                    throw RedError(.invalidPassword, "invalid SCRAM proof")
                }
                credential = auth.userCredential(scramUser)
                return .done(authenticated(user, signature: String(final.dropFirst(2))))
            }
            guard text.hasPrefix("n,,") else { throw RedError(.invalidAuthorization, "scram client-first: expected GS2 header n,,") }
            scramUser = SCRAMServer.attribute("n", in: String(text.dropFirst(3))) ?? ""
            var server = SCRAMServer(verifier: auth.scramVerifier(for: scramUser))
            let serverFirst = try server.receiveClientFirst(text)
            scram = server
            return .challenge(serverFirst)
        case "bearer":
            guard auth.authRequired else {
                throw RedError(.invalidAuthorization, "bearer auth refused — server has no auth store configured")
            }
            guard case .object(let members)? = try? JSONValue.parse(String(decoding: payload, as: UTF8.self)),
                  case .string(let token)? = members.first(where: { $0.0 == "token" })?.1 else {
                throw RedError(.invalidAuthorization, "bearer: AuthResponse missing 'token' string")
            }
            guard let identity = auth.resolve(token) else { throw RedError(.invalidPassword, "bearer token invalid") }
            credential = .token(token)
            return .done(authenticated(identity))
        default:
            throw RedError(.invalidAuthorization, "no auth method negotiated")
        }
    }

    /// AuthOk: features, role, session id (`rwsess-<unix micros>-<8 hex>`), user name, and
    /// for SCRAM the server signature `v` that proves the server knew the password.
    private mutating func authenticated(_ who: AuthIdentity, signature: String? = nil) -> JSONValue {
        identity = who
        return authOk(username: who.username, role: who.role.rawValue, signature: signature)
    }

    func authOk(username: String, role: String, signature: String? = nil) -> JSONValue {
        let micros = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        var members: [(String, JSONValue)] = [
            ("features", .integer(negotiatedFeatures)), ("role", .string(role)),
            ("session_id", .string("rwsess-\(micros)-\(String(repeating: "0", count: 8 - suffix.count))\(suffix)")),
            ("username", .string(username)),
        ]
        if let signature { members.append(("v", .string(signature))) }
        return .object(members)
    }
}
