import Foundation
import RedCore
import Synchronization

/// Bearer tokens for the configured users, shared by every surface that accepts them
/// (gRPC metadata, RedWire's `bearer` method).
///
/// A token is issued by a login with a user's password (gRPC `AuthLogin`) and stays valid
/// for `lifetime`. Tokens live in memory only: a restart logs every client out, which is
/// the safe default while the server has no persistent auth store. Tokens are 32 random
/// bytes from the system generator, so they cannot be guessed; expired ones are swept on
/// each login.
final class TokenStore: Sendable {
    struct Identity: Sendable, Equatable {
        var username: String
        var role: String
        static let anonymous = Identity(username: "anonymous", role: "admin")
    }

    struct Issued: Sendable {
        var token: String
        var expiresAtUnixMilliseconds: Int64
        var identity: Identity

        /// The login reply of every surface: `{"expires_at","ok","role","token","username"}`.
        var json: JSONValue {
            .object([("expires_at", .integer(expiresAtUnixMilliseconds)), ("ok", .bool(true)), ("role", .string(identity.role)),
                     ("token", .string(token)), ("username", .string(identity.username))])
        }
    }

    /// Most live tokens; a login beyond it fails rather than growing memory without bound.
    static let maxTokens = 100_000

    private let users: [String: String]
    private let lifetimeMilliseconds: Int64
    private let now: @Sendable () -> Int64
    private let tokens = Mutex<[String: (identity: Identity, expiresAt: Int64)]>([:])

    init(users: [String: String], lifetimeMilliseconds: Int64 = 3_600_000,
         now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.users = users
        self.lifetimeMilliseconds = lifetimeMilliseconds
        self.now = now
    }

    /// True when users are configured: every request must then carry a valid token.
    var authRequired: Bool { !users.isEmpty }

    /// Checks the password and issues a token. Wrong user and wrong password fail alike,
    /// so the error does not reveal which user names exist.
    func login(username: String, password: String) throws -> Issued {
        guard authRequired else {
            throw RedError(.featureNotSupported, "authentication is not enabled on this server (start it with --user NAME:PASSWORD)")
        }
        guard let expected = users[username], Self.constantTimeEqual(expected, password) else {
            throw RedError(.invalidPassword, "invalid user name or password")
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = generator.next() }
        let token = "rdb_" + bytes.map { String(format: "%02x", $0) }.joined()
        let identity = Identity(username: username, role: "admin")
        let expiresAt = now() + lifetimeMilliseconds
        try tokens.withLock { map in
            let current = now()
            map = map.filter { $0.value.expiresAt > current }
            guard map.count < Self.maxTokens else { throw RedError(.limitExceeded, "too many live tokens (\(Self.maxTokens))") }
            map[token] = (identity, expiresAt)
        }
        return Issued(token: token, expiresAtUnixMilliseconds: expiresAt, identity: identity)
    }

    /// The identity behind a token, nil when it is unknown or expired.
    func resolve(_ token: String) -> Identity? {
        let current = now()
        return tokens.withLock { map in
            guard let entry = map[token] else { return nil }
            guard entry.expiresAt > current else {
                map[token] = nil
                return nil
            }
            return entry.identity
        }
    }

    /// Who is calling: anonymous when auth is off, else the token's user.
    /// Throws `invalidPassword` (UNAUTHENTICATED) for a missing, unknown or expired token.
    /// `AuthWhoAmI` / `GET /auth/whoami`: `{"authenticated","ok","role","username"}`
    /// (`authenticated` is false, and the caller anonymous, when no users are configured).
    func whoAmI(_ identity: Identity) -> JSONValue {
        .object([("authenticated", .bool(authRequired)), ("ok", .bool(true)), ("role", .string(identity.role)),
                 ("username", .string(identity.username))])
    }

    func authenticate(token: String?) throws -> Identity {
        guard authRequired else { return .anonymous }
        guard let token, !token.isEmpty else { throw RedError(.invalidPassword, "authentication required: send a bearer token") }
        guard let identity = resolve(token) else { throw RedError(.invalidPassword, "bearer token invalid or expired") }
        return identity
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<min(x.count, y.count) { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}
