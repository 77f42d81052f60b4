import RedCore
import RedEngine

/// Where the auth store keeps what must outlive a restart: users (with their SCRAM
/// verifiers, never passwords), API keys (by the SHA-256 of the key, never the key) and the
/// bootstrap seal. They live in the engine's catalog storage under `auth/…` as JSON, so
/// they are written by ordinary transactions — WAL-logged, fsynced before the request is
/// answered, in snapshots and in the one `.rdb` file with everything else:
/// - `auth/user/<name>` → `{"role","enabled","verifier","created_at","updated_at"}`
/// - `auth/key/<hex sha256 of the key>` → `{"username","name","role","created_at"}`
/// - `auth/sealed` → `{"username","at"}` once bootstrap has run (permanent).
/// SQL cannot reach these keys: views use `view/…`, and no statement reads `auth/…`.
enum AuthCatalog {
    static let userPrefix = Array("auth/user/".utf8)
    static let keyPrefix = Array("auth/key/".utf8)
    static let sealKey = Array("auth/sealed".utf8)

    static func userKey(_ name: String) -> [UInt8] { userPrefix + Array(name.utf8) }
    static func apiKeyKey(_ digest: String) -> [UInt8] { keyPrefix + Array(digest.utf8) }

    struct Loaded {
        var users: [String: AuthStore.User] = [:]
        var keys: [String: AuthStore.APIKey] = [:]
        var sealed = false
    }

    /// Reads everything in one snapshot (at server start).
    static func load(_ tx: Transaction) throws -> Loaded {
        var loaded = Loaded()
        loaded.sealed = try tx.catalogGet(sealKey) != nil
        let users = try tx.catalogScan(.prefix(userPrefix))
        while let (key, value) = try users.next() {
            let user = try decodeUser(name: String(decoding: key.dropFirst(userPrefix.count), as: UTF8.self), value)
            loaded.users[user.username] = user
        }
        let keys = try tx.catalogScan(.prefix(keyPrefix))
        while let (key, value) = try keys.next() {
            let apiKey = try decodeAPIKey(digest: String(decoding: key.dropFirst(keyPrefix.count), as: UTF8.self), value)
            loaded.keys[apiKey.digest] = apiKey
        }
        return loaded
    }

    static func put(_ user: AuthStore.User, _ tx: Transaction) throws {
        let json = JSONValue.object([
            ("role", .string(user.role.rawValue)), ("enabled", .bool(user.enabled)), ("verifier", .string(user.verifier.encoded)),
            ("created_at", .integer(user.createdAt)), ("updated_at", .integer(user.updatedAt)),
        ])
        try tx.catalogPut(userKey(user.username), json.utf8)
    }

    static func put(_ key: AuthStore.APIKey, _ tx: Transaction) throws {
        let json = JSONValue.object([
            ("username", .string(key.username)), ("name", .string(key.name)), ("role", .string(key.role.rawValue)),
            ("created_at", .integer(key.createdAt)),
        ])
        try tx.catalogPut(apiKeyKey(key.digest), json.utf8)
    }

    static func seal(by username: String, at time: Int64, _ tx: Transaction) throws {
        try tx.catalogPut(sealKey, JSONValue.object([("username", .string(username)), ("at", .integer(time))]).utf8)
    }

    static func decodeUser(name: String, _ bytes: [UInt8]) throws -> AuthStore.User {
        guard let json = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self)),
              case .string(let roleName)? = json["role"], let role = AuthRole(rawValue: roleName),
              case .bool(let enabled)? = json["enabled"], case .string(let verifier)? = json["verifier"],
              case .integer(let created)? = json["created_at"], case .integer(let updated)? = json["updated_at"] else {
            throw RedError(.dataCorrupted, "the stored record of user \"\(name)\" does not decode")
        }
        return AuthStore.User(username: name, role: role, enabled: enabled, verifier: try SCRAMVerifier(encoded: verifier),
                              createdAt: created, updatedAt: updated, configured: false)
    }

    static func decodeAPIKey(digest: String, _ bytes: [UInt8]) throws -> AuthStore.APIKey {
        guard let json = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self)),
              case .string(let username)? = json["username"], case .string(let name)? = json["name"],
              case .string(let roleName)? = json["role"], let role = AuthRole(rawValue: roleName),
              case .integer(let created)? = json["created_at"] else {
            throw RedError(.dataCorrupted, "a stored API key record does not decode")
        }
        return AuthStore.APIKey(digest: digest, username: username, name: name, role: role, createdAt: created)
    }
}
