import RedCore
import RedQuery

/// Typed helpers for the key-value and document models, built on `execute`.
extension Session {
    /// Quotes a name as a SQL identifier (`"name"`), doubling embedded quotes. Surfaces that build
    /// statements from request data (HTTP routes, COPY) quote with it.
    public static func identifier(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// Quotes text as a SQL string literal.
    public static func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }

    static func kvAddress(_ key: String, _ collection: String) -> String {
        "\(identifier(collection)).\(literal(key))"
    }

    /// Stores `value` under `key` (overwriting), optionally expiring after `ttlMilliseconds`.
    ///
    /// ```swift
    /// try await session.kvPut("theme", .text("dark"), collection: "settings")
    /// ```
    public func kvPut(_ key: String, _ value: Value, collection: String = "kv_default", ttlMilliseconds: Int64? = nil) async throws {
        let expire = ttlMilliseconds.map { " EXPIRE \($0) ms" } ?? ""
        try await execute("KV PUT \(Self.kvAddress(key, collection)) = $1\(expire)", parameters: [value])
    }

    /// The value under `key`, or nil when it is missing or expired.
    ///
    /// ```swift
    /// let theme = try await session.kvGet("theme", collection: "settings")
    /// ```
    public func kvGet(_ key: String, collection: String = "kv_default") async throws -> Value? {
        let result = try await execute("KV GET \(Self.kvAddress(key, collection))")
        guard let value = result.rows.first?[1], !value.isNull else { return nil }
        return value
    }

    /// Deletes `key`; returns whether it existed.
    @discardableResult
    public func kvDelete(_ key: String, collection: String = "kv_default") async throws -> Bool {
        try await execute("KV DELETE \(Self.kvAddress(key, collection))").rowsAffected == 1
    }

    /// Inserts a JSON document into `collection` (created on first use) and returns its rid.
    ///
    /// ```swift
    /// let rid = try await session.insertDocument(try JSONValue.parse(#"{"name":"Ada"}"#), into: "people")
    /// ```
    @discardableResult
    public func insertDocument(_ body: JSONValue, into collection: String, ttlMilliseconds: Int64? = nil) async throws -> Int64 {
        let ttl = ttlMilliseconds.map { " WITH TTL \($0) ms" } ?? ""
        let result = try await execute("INSERT INTO \(Self.identifier(collection)) DOCUMENT VALUES ($1)\(ttl) RETURNING rid", parameters: [.json(body)])
        guard case .integer(let rid)? = result.rows.first?.first else { throw RedError(.internalError, "the insert returned no rid") }
        return rid
    }

    /// The documents of `collection` (oldest first), optionally filtered by a SQL condition over their fields.
    ///
    /// ```swift
    /// let adults = try await session.documents(in: "people", where: "age >= $1", parameters: [.integer(18)])
    /// ```
    public func documents(in collection: String, where condition: String? = nil, parameters: [Value] = []) async throws -> [JSONValue] {
        let filter = condition.map { " WHERE \($0)" } ?? ""
        let result = try await execute("SELECT body FROM \(Self.identifier(collection))\(filter) ORDER BY rid", parameters: parameters)
        return result.rows.compactMap { if case .json(let j) = $0[0] { return j } else { return nil } }
    }

    /// Runs `body` between BEGIN and COMMIT on this session, rolling back if it throws.
    ///
    /// ```swift
    /// try await session.withTransaction { s in
    ///     try await s.execute("INSERT INTO a VALUES (1)")
    ///     try await s.execute("INSERT INTO b VALUES (1)")
    /// }
    /// ```
    public func withTransaction<T>(_ body: (Session) async throws -> T) async throws -> T {
        try await execute("BEGIN")
        do {
            let value = try await body(self)
            try await execute("COMMIT")
            return value
        } catch {
            _ = try? await execute("ROLLBACK")
            throw error
        }
    }
}
