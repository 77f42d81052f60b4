import Crypto
import Foundation
import RedCore
import RedDB
import Synchronization

/// Users, API keys and login sessions, shared by every surface (spec: replication-mcp-ai-ops
/// §5.1-5.2, protocols §1.5, §3.2, §4.2).
///
/// Where users come from:
/// - the persisted store: created by bootstrap (HTTP `POST /auth/bootstrap`, gRPC
///   `AuthBootstrap`, `red bootstrap`, or `REDDB_USERNAME`/`REDDB_PASSWORD` at start) and
///   then by admins; kept in the database file (`AuthCatalog`) with their role;
/// - `--user NAME:PASSWORD` (and the config file's `users`): admins held in memory only,
///   for operators who configure accounts outside the database. They cannot be changed
///   through the API, and a stored user may not take their name.
/// The server requires authentication as soon as there is any user of either kind; before
/// that every caller is `AuthIdentity.anonymous` (read and write, never admin).
///
/// Credentials:
/// - passwords, checked against the user's `SCRAMVerifier` (SCRAM exchanges on PG-wire and
///   RedWire; plain passwords on login);
/// - session tokens `rs_<64 hex>` from a login, valid for `sessionLifetimeMilliseconds`,
///   in memory only (a restart signs sessions out);
/// - API keys `rk_<64 hex>`, persisted as their SHA-256, each with a role capped by its
///   owner's. A token is looked up at every use, so deleting or disabling a user, changing
///   their password or revoking a key takes effect on the next request.
///
/// Every change is one engine transaction, committed durably before the in-memory view is
/// updated and the caller answered; changes are serialised by `writes`, so the view and the
/// file agree. Each change also bumps `generation`, which long-lived connections (PG-wire,
/// RedWire) watch to drop a connection whose credential no longer holds (`isValid`).
///
/// Password hashing (PBKDF2, 16,384 rounds: milliseconds of CPU) runs one at a time
/// (`hashing`), so a flood of logins queues instead of taking every core.
final class AuthStore: Sendable {
    struct User: Sendable {
        var username: String
        var role: AuthRole
        var enabled: Bool
        var verifier: SCRAMVerifier
        var createdAt: Int64
        var updatedAt: Int64
        /// From `--user`: in memory only, not changeable through the API.
        var configured: Bool
    }

    struct APIKey: Sendable {
        /// Hex SHA-256 of the key text; the key itself is shown once, when created.
        var digest: String
        var username: String
        var name: String
        var role: AuthRole
        var createdAt: Int64
    }

    struct Issued: Sendable {
        var token: String
        var expiresAtUnixMilliseconds: Int64
        var identity: AuthIdentity

        /// The login reply of every surface: `{"expires_at","ok","role","token","username"}`.
        var json: JSONValue {
            .object([("expires_at", .integer(expiresAtUnixMilliseconds)), ("ok", .bool(true)), ("role", .string(identity.role.rawValue)),
                     ("token", .string(token)), ("username", .string(identity.username))])
        }
    }

    static let maxSessions = 100_000
    /// Live sessions one user may hold; a login past it ends that user's oldest. Without it,
    /// one user logging in again and again filled the server-wide limit and locked everyone
    /// out of logging in for the sessions' lifetime.
    static let defaultMaxSessionsPerUser = 10_000
    static let maxUsers = 10_000
    static let maxKeysPerUser = 100
    static let maxNameBytes = 63

    private struct State {
        var users: [String: User]
        var keys: [String: APIKey]
        /// Token → its user and that user's verifier at the login (a recreated user, or a
        /// changed password, has another: the session ends).
        var sessions: [String: (username: String, verifier: SCRAMVerifier, expiresAt: Int64)] = [:]
        var sealed: Bool
    }

    private let database: Database
    /// Set on a replica: users and keys come from the primary, so changes here are refused.
    private let readOnlyReason: String?
    private let state: Mutex<State>
    private let writes = AsyncMutex()
    private let hashing = AsyncMutex()
    /// Bumped by every change to users, keys or sessions that could revoke a credential.
    let generation = Atomic<UInt64>(0)
    /// Seeds the made-up salts of unknown users (see `scramVerifier(for:)`).
    private let mockSecret = SCRAMVerifier.randomBytes(32)
    let iterations: Int
    private let sessionLifetimeMilliseconds: Int64
    private let maxSessionsPerUser: Int
    private let now: @Sendable () -> Int64

    /// Loads the stored users and keys, and derives the configured users' verifiers.
    init(database: Database, configuredUsers: [String: String], iterations: Int = SCRAMVerifier.defaultIterations,
         sessionLifetimeMilliseconds: Int64 = 3_600_000, maxSessionsPerUser: Int = AuthStore.defaultMaxSessionsPerUser,
         readOnlyReason: String? = nil,
         now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) throws {
        self.database = database
        self.readOnlyReason = readOnlyReason
        self.iterations = max(SCRAMVerifier.minimumIterations, iterations)
        self.sessionLifetimeMilliseconds = sessionLifetimeMilliseconds
        self.maxSessionsPerUser = max(1, maxSessionsPerUser)
        self.now = now
        let tx = try database.engine.begin()
        defer { tx.rollback() }
        var loaded = try AuthCatalog.load(tx)
        let started = now()
        for (name, password) in configuredUsers {
            loaded.users[name] = User(username: name, role: .admin, enabled: true,
                                      verifier: SCRAMVerifier(password: password, iterations: self.iterations),
                                      createdAt: started, updatedAt: started, configured: true)
        }
        state = Mutex(State(users: loaded.users, keys: loaded.keys, sealed: loaded.sealed))
    }

    /// Reads the stored users and keys again (on a replica, after a replicated commit changed
    /// them), keeping the configured users and the sessions of users that still exist.
    func reload() {
        do {
            let tx = try database.engine.begin()
            defer { tx.rollback() }
            let loaded = try AuthCatalog.load(tx)
            state.withLock { s in
                let configured = s.users.filter { $0.value.configured }
                s.users = loaded.users.merging(configured) { _, kept in kept }
                s.keys = loaded.keys
                s.sealed = loaded.sealed
            }
            generation.add(1, ordering: .sequentiallyConsistent)
        } catch {
            // Keep the last good view; the next replicated change tries again.
        }
    }

    /// True once bootstrap has run (or stored users exist): bootstrap is then refused for good.
    var isSealed: Bool { state.withLock { s in s.sealed || s.users.values.contains { !$0.configured } } }

    /// True when any user exists: every request must then authenticate.
    var authRequired: Bool { state.withLock { !$0.users.isEmpty } }

    /// The verifier of an enabled user, for a SCRAM exchange (nil: unknown or disabled).
    func verifier(for username: String) -> SCRAMVerifier? {
        state.withLock { s in s.users[username].flatMap { $0.enabled ? $0.verifier : nil } }
    }

    /// What a SCRAM exchange runs against: the user's verifier, or for an unknown name a
    /// made-up one whose salt is the same at every attempt (derived from the name, as
    /// PostgreSQL's mock salts are) and whose iteration count is the configured one, so two
    /// attempts cannot tell an unknown name from a known one. Its keys match no proof.
    func scramVerifier(for username: String) -> SCRAMVerifier {
        if let known = verifier(for: username) { return known }
        let salt = Array(SCRAMVerifier.hmac(mockSecret, Array(username.utf8)).prefix(16))
        return SCRAMVerifier(salt: salt, iterations: iterations, storedKey: SCRAMVerifier.randomBytes(32), serverKey: SCRAMVerifier.randomBytes(32))
    }

    /// How a long-lived connection authenticated, to check later that it still holds.
    enum Credential: Sendable {
        /// No users then: holds until the server gets its first.
        case anonymous
        /// A password or SCRAM login: holds while that very user (not a later one of the same
        /// name, which may have another role) exists, is enabled and keeps that password (the
        /// verifier's random salt tells them apart).
        case user(String, verifier: SCRAMVerifier)
        /// A session token or API key: holds while it resolves.
        case token(String)
    }

    /// The credential of a password or SCRAM login by `name` (nil: no such enabled user).
    func userCredential(_ name: String) -> Credential? {
        state.withLock { s in s.users[name].flatMap { $0.enabled ? .user(name, verifier: $0.verifier) : nil } }
    }

    func isValid(_ credential: Credential) -> Bool {
        switch credential {
        case .anonymous: return !authRequired
        case .user(let name, let verifier): return state.withLock { s in s.users[name].map { $0.enabled && $0.verifier == verifier } ?? false }
        case .token(let token): return resolve(token) != nil
        }
    }

    /// The identity of an enabled user (after a SCRAM exchange has proven the password).
    func identity(of username: String) -> AuthIdentity? {
        state.withLock { s in s.users[username].flatMap { $0.enabled ? AuthIdentity(username: $0.username, role: $0.role, authenticated: true) : nil } }
    }

    /// Checks a plain password. Wrong user, disabled user and wrong password fail alike, so
    /// the error does not reveal which names exist.
    func checkPassword(username: String, password: String) async throws -> AuthIdentity {
        let verifier = self.verifier(for: username)
        // An unknown user costs the same derivation as a known one.
        let matches = await hashed { (verifier ?? self.scramVerifier(for: username)).matches(password: password) }
        guard matches, verifier != nil, let identity = identity(of: username) else {
            throw RedError(.invalidPassword, "invalid user name or password")
        }
        return identity
    }

    // MARK: Sessions and tokens

    /// Checks the password and issues a session token.
    func login(username: String, password: String) async throws -> Issued {
        guard authRequired else {
            throw RedError(.featureNotSupported, "authentication is not enabled on this server (bootstrap an admin with POST /auth/bootstrap, or start it with --user NAME:PASSWORD)")
        }
        let identity = try await checkPassword(username: username, password: password)
        let token = "rs_" + Self.randomHex()
        let expiresAt = now() + sessionLifetimeMilliseconds
        try state.withLock { s in
            let current = now()
            s.sessions = s.sessions.filter { $0.value.expiresAt > current }
            let own = s.sessions.filter { $0.value.username == username }
            if own.count >= maxSessionsPerUser, let oldest = own.min(by: { $0.value.expiresAt < $1.value.expiresAt }) {
                s.sessions[oldest.key] = nil
            }
            guard s.sessions.count < Self.maxSessions else { throw RedError(.limitExceeded, "too many live sessions (\(Self.maxSessions))") }
            guard let user = s.users[username] else { throw RedError(.invalidPassword, "invalid user name or password") }
            s.sessions[token] = (username, user.verifier, expiresAt)
        }
        return Issued(token: token, expiresAtUnixMilliseconds: expiresAt, identity: identity)
    }

    /// The identity behind a session token or API key; nil when unknown, expired, revoked, or
    /// its user is gone or disabled. An API key acts with the lesser of its role and its owner's.
    func resolve(_ token: String) -> AuthIdentity? {
        let current = now()
        return state.withLock { s in
            if token.hasPrefix("rk_") {
                guard let key = s.keys[Self.digest(token)], let user = s.users[key.username], user.enabled else { return nil }
                return AuthIdentity(username: user.username, role: min(key.role, user.role), authenticated: true)
            }
            guard let session = s.sessions[token] else { return nil }
            guard session.expiresAt > current, let user = s.users[session.username], user.enabled, user.verifier == session.verifier else {
                s.sessions[token] = nil
                return nil
            }
            return AuthIdentity(username: user.username, role: user.role, authenticated: true)
        }
    }

    /// Who is calling: anonymous while the server has no users, else the token's user.
    /// Throws `invalidPassword` (401, UNAUTHENTICATED) for a missing, unknown or expired token.
    func authenticate(token: String?) throws -> AuthIdentity {
        guard authRequired else { return .anonymous }
        guard let token, !token.isEmpty else { throw RedError(.invalidPassword, "authentication required: send a bearer token") }
        guard let identity = resolve(token) else { throw RedError(.invalidPassword, "bearer token invalid or expired") }
        return identity
    }

    /// Like `authenticate`, but nil instead of an error: for the public routes that still
    /// want to know who calls (bootstrap, change-password).
    func optionalCaller(token: String?) -> AuthIdentity? {
        try? authenticate(token: token)
    }

    /// `AuthWhoAmI` / `GET /auth/whoami`: `{"authenticated","ok","role","username"}`.
    func whoAmI(_ identity: AuthIdentity) -> JSONValue {
        .object([("authenticated", .bool(identity.authenticated)), ("ok", .bool(true)), ("role", .string(identity.role.rawValue)),
                 ("username", .string(identity.username))])
    }

    // MARK: Changes

    /// One-shot creation of the first admin, with an API key named `bootstrap`. Sealed for
    /// good once done. Open to anyone while the server has no users at all (that is what it
    /// is for); while `--user` accounts exist it needs one of their tokens.
    func bootstrap(username: String, password: String, caller: AuthIdentity?) async throws -> JSONValue {
        guard !isSealed else { throw RedError(.invalidAuthorization, "bootstrap already completed — sealed permanently") }
        if authRequired { try (caller ?? .anonymous).requireAdmin("bootstrap while --user accounts exist") }
        let verifier = try await newVerifier(username, password: password)
        return try await changing {
            let hasUsers = authRequired
            guard !isSealed else {
                throw RedError(.invalidAuthorization, "bootstrap already completed — sealed permanently")
            }
            if hasUsers { try (caller ?? .anonymous).requireAdmin("bootstrap while --user accounts exist") }
            let user = try makeUser(username, verifier: verifier, role: .admin)
            let (key, text) = Self.makeKey(owner: username, name: "bootstrap", role: .admin, at: user.createdAt)
            try await database.engine.transaction { tx in
                guard try tx.catalogGet(AuthCatalog.sealKey) == nil else {
                    throw RedError(.invalidAuthorization, "bootstrap already completed — sealed permanently")
                }
                try AuthCatalog.put(user, tx)
                try AuthCatalog.put(key, tx)
                try AuthCatalog.seal(by: username, at: user.createdAt, tx)
            }
            state.withLock { s in
                s.users[username] = user
                s.keys[key.digest] = key
                s.sealed = true
            }
            return .object([("api_key", .string(text)), ("api_key_name", .string("bootstrap")), ("ok", .bool(true)),
                             ("role", .string("admin")), ("username", .string(username))])
        }
    }

    /// Creates a stored user (admin only).
    func createUser(_ username: String, password: String, role: AuthRole, by caller: AuthIdentity) async throws -> JSONValue {
        try caller.requireAdmin("creating users")
        let verifier = try await newVerifier(username, password: password)
        return try await changing {
            let count = state.withLock { $0.users.count }
            guard count < Self.maxUsers else { throw RedError(.limitExceeded, "at most \(Self.maxUsers) users") }
            let user = try makeUser(username, verifier: verifier, role: role)
            try await database.engine.transaction { tx in
                guard try tx.catalogGet(AuthCatalog.userKey(username)) == nil else { throw Self.exists(username) }
                try AuthCatalog.put(user, tx)
            }
            state.withLock { $0.users[username] = user }
            return Self.userJSON(user, keyCount: 0)
        }
    }

    /// Deletes a stored user, their API keys and their sessions (admin only). The last
    /// admin cannot be deleted while no `--user` admin exists, so the server keeps one.
    func deleteUser(_ username: String, by caller: AuthIdentity) async throws -> JSONValue {
        try caller.requireAdmin("deleting users")
        return try await changing {
            let (user, keys, admins) = state.withLock { s in
                (s.users[username], s.keys.values.filter { $0.username == username }, s.users.values.filter { $0.role == .admin && $0.enabled }.count)
            }
            guard let user else { throw RedError(.undefinedObject, "user \"\(username)\" does not exist") }
            guard !user.configured else { throw Self.configured(username) }
            guard !(user.role == .admin && user.enabled && admins <= 1) else {
                throw RedError(.invalidOperation, "cannot delete \"\(username)\": it is the last admin")
            }
            try await database.engine.transaction { tx in
                _ = try tx.catalogDelete(AuthCatalog.userKey(username))
                for key in keys { _ = try tx.catalogDelete(AuthCatalog.apiKeyKey(key.digest)) }
            }
            state.withLock { s in
                s.users[username] = nil
                for key in keys { s.keys[key.digest] = nil }
                s.sessions = s.sessions.filter { $0.value.username != username }
            }
            return .object([("deleted", .string(username)), ("ok", .bool(true))])
        }
    }

    /// Every user, by name (admin only): `{"ok","users":[{username, role, enabled, api_key_count, source, created_at, updated_at}]}`.
    func listUsers(by caller: AuthIdentity) throws -> JSONValue {
        try caller.requireAdmin("listing users")
        let (users, keys) = state.withLock { ($0.users.values.sorted { $0.username < $1.username }, Array($0.keys.values)) }
        let counts = Dictionary(grouping: keys, by: \.username).mapValues(\.count)
        return .object([("ok", .bool(true)), ("users", .array(users.map { Self.userJSON($0, keyCount: counts[$0.username] ?? 0) }))])
    }

    /// Creates an API key for `username` (admin, or the user for themselves). Its role is at
    /// most the owner's. The key is in this reply only.
    func createAPIKey(for username: String, name: String, role: AuthRole?, by caller: AuthIdentity) async throws -> JSONValue {
        if caller.username != username || !caller.authenticated { try caller.requireAdmin("creating API keys for another user") }
        try Self.validateName(name, what: "API key name")
        return try await changing {
            let (owner, count) = state.withLock { s in (s.users[username], s.keys.values.filter { $0.username == username }.count) }
            guard let owner, !owner.configured else {
                if owner?.configured == true { throw Self.configured(username) }
                throw RedError(.undefinedObject, "user \"\(username)\" does not exist")
            }
            let role = role ?? owner.role
            guard role <= owner.role else {
                throw RedError(.insufficientPrivilege, "an API key's role (\(role.rawValue)) cannot exceed its user's (\(owner.role.rawValue))")
            }
            guard count < Self.maxKeysPerUser else { throw RedError(.limitExceeded, "at most \(Self.maxKeysPerUser) API keys per user") }
            let (key, text) = Self.makeKey(owner: username, name: name, role: role, at: now())
            try await database.engine.transaction { tx in
                guard try tx.catalogGet(AuthCatalog.userKey(username)) != nil else {
                    throw RedError(.undefinedObject, "user \"\(username)\" does not exist")
                }
                try AuthCatalog.put(key, tx)
            }
            state.withLock { $0.keys[key.digest] = key }
            return .object([("created_at", .integer(key.createdAt)), ("key", .string(text)), ("name", .string(name)), ("ok", .bool(true)),
                            ("role", .string(role.rawValue)), ("username", .string(username))])
        }
    }

    /// Revokes an API key (admin, or its owner).
    func revokeAPIKey(_ text: String, by caller: AuthIdentity) async throws -> JSONValue {
        try await changing {
            let digest = Self.digest(text)
            guard let key = state.withLock({ $0.keys[digest] }) else { throw RedError(.undefinedObject, "API key not found") }
            if caller.username != key.username || !caller.authenticated { try caller.requireAdmin("revoking another user's API key") }
            try await database.engine.transaction { tx in _ = try tx.catalogDelete(AuthCatalog.apiKeyKey(digest)) }
            state.withLock { _ = $0.keys.removeValue(forKey: digest) }
            return .object([("name", .string(key.name)), ("ok", .bool(true)), ("revoked", .bool(true)), ("username", .string(key.username))])
        }
    }

    /// Changes a stored user's password; the old one must be given. Signs out the user's
    /// sessions (API keys stay valid: they are credentials of their own).
    func changePassword(username: String, old: String, new: String) async throws -> JSONValue {
        guard authRequired else {
            throw RedError(.featureNotSupported, "authentication is not enabled on this server, so there is no password to change")
        }
        try SCRAMVerifier.validate(password: new)
        // Both derivations happen before the change lock, so they hold up no other change; the
        // user is then checked to be the very one whose password was given.
        let checked = verifier(for: username)
        _ = try await checkPassword(username: username, password: old)
        let verifier = await hashed { SCRAMVerifier(password: new, iterations: self.iterations) }
        return try await changing {
            guard var user = state.withLock({ $0.users[username] }), user.enabled, user.verifier == checked else {
                throw RedError(.invalidPassword, "invalid user name or password")
            }
            guard !user.configured else { throw Self.configured(username) }
            user.verifier = verifier
            user.updatedAt = now()
            try await database.engine.transaction { [user] tx in try AuthCatalog.put(user, tx) }
            state.withLock { s in
                s.users[username] = user
                s.sessions = s.sessions.filter { $0.value.username != username }
            }
            return .object([("ok", .bool(true)), ("username", .string(username))])
        }
    }

    // MARK: Helpers

    /// Runs one change at a time, so the in-memory view follows the committed order; bumps
    /// `generation` afterwards, so open connections re-check their credentials.
    private func changing<T>(_ body: () async throws -> T) async throws -> T {
        if let readOnlyReason { throw RedError(.readOnlyTransaction, "users and keys cannot change here: \(readOnlyReason)") }
        await writes.lock()
        defer {
            generation.add(1, ordering: .sequentiallyConsistent)
            writes.unlock()
        }
        return try await body()
    }

    /// Runs a password derivation, one at a time.
    private func hashed<T: Sendable>(_ work: @Sendable () -> T) async -> T {
        await hashing.lock()
        defer { hashing.unlock() }
        return work()
    }

    /// Checks a new user's name and password and derives its verifier: before the change lock,
    /// so hashing never holds other changes up.
    private func newVerifier(_ username: String, password: String) async throws -> SCRAMVerifier {
        try Self.validateName(username, what: "user name")
        guard username != AuthIdentity.anonymous.username else { throw RedError(.invalidArgument, "\"anonymous\" is reserved") }
        try SCRAMVerifier.validate(password: password)
        if state.withLock({ $0.users[username] }) != nil { throw Self.exists(username) }
        return await hashed { SCRAMVerifier(password: password, iterations: self.iterations) }
    }

    /// The user record, under the change lock (the name is checked again: it may have been taken since).
    private func makeUser(_ username: String, verifier: SCRAMVerifier, role: AuthRole) throws -> User {
        if state.withLock({ $0.users[username] }) != nil { throw Self.exists(username) }
        let time = now()
        return User(username: username, role: role, enabled: true, verifier: verifier, createdAt: time, updatedAt: time, configured: false)
    }

    /// Names: 1 to 63 bytes of letters, digits and `_ . @ -`, so they travel unescaped in
    /// SCRAM messages, URLs and logs.
    static func validateName(_ name: String, what: String) throws {
        let allowed = name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_.@-".unicodeScalars.contains($0)) }
        guard !name.isEmpty, name.utf8.count <= maxNameBytes, allowed else {
            throw RedError(.invalidArgument, "a \(what) is 1 to \(maxNameBytes) letters, digits, '_', '.', '@' or '-'")
        }
    }

    static func userJSON(_ user: User, keyCount: Int) -> JSONValue {
        .object([("api_key_count", .integer(Int64(keyCount))), ("created_at", .integer(user.createdAt)), ("enabled", .bool(user.enabled)),
                 ("ok", .bool(true)), ("role", .string(user.role.rawValue)), ("source", .string(user.configured ? "configured" : "stored")),
                 ("updated_at", .integer(user.updatedAt)), ("username", .string(user.username))])
    }

    static func makeKey(owner: String, name: String, role: AuthRole, at time: Int64) -> (APIKey, String) {
        let text = "rk_" + randomHex()
        return (APIKey(digest: digest(text), username: owner, name: name, role: role, createdAt: time), text)
    }

    static func digest(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func randomHex() -> String {
        SCRAMVerifier.randomBytes(32).map { String(format: "%02x", $0) }.joined()
    }

    static func exists(_ username: String) -> RedError { RedError(.duplicateObject, "user \"\(username)\" already exists") }

    static func configured(_ username: String) -> RedError {
        RedError(.invalidOperation, "user \"\(username)\" is configured with --user and cannot be changed through the API")
    }
}

/// `red bootstrap`: creates the first admin of a database that is not being served, and
/// returns the bootstrap reply (with the API key, shown only here).
public enum OfflineBootstrap {
    public static func run(database: Database, username: String, password: String) async throws -> JSONValue {
        try await AuthStore(database: database, configuredUsers: [:]).bootstrap(username: username, password: password, caller: nil)
    }
}
