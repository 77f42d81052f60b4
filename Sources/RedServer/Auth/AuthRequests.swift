import RedCore

/// The JSON bodies of the auth endpoints, shared by HTTP (`/auth/…`) and gRPC (`Auth*`
/// rpcs, whose `payload_json` is the same body), so both surfaces accept and answer alike.
extension AuthStore {
    /// `{"username","password"}` → `{"api_key","api_key_name","ok","role","username"}`.
    func bootstrap(_ body: JSONValue, caller: AuthIdentity?) async throws -> JSONValue {
        try await bootstrap(username: try Self.string(body, "username"), password: try Self.string(body, "password"), caller: caller)
    }

    /// `{"username","password"}` → `{"expires_at","ok","role","token","username"}`.
    func login(_ body: JSONValue) async throws -> JSONValue {
        try await login(username: try Self.string(body, "username"), password: try Self.string(body, "password")).json
    }

    /// `{"username","password","role"="read"}` → the user.
    func createUser(_ body: JSONValue, by caller: AuthIdentity) async throws -> JSONValue {
        try await createUser(try Self.string(body, "username"), password: try Self.string(body, "password"),
                             role: try AuthRole.parse(body["role"], default: .read), by: caller)
    }

    /// `{"username"}`.
    func deleteUser(_ body: JSONValue, by caller: AuthIdentity) async throws -> JSONValue {
        try await deleteUser(try Self.string(body, "username"), by: caller)
    }

    /// `{"username"=caller,"name"="default","role"=owner's}` → `{"created_at","key","name","ok","role","username"}`.
    func createAPIKey(_ body: JSONValue, by caller: AuthIdentity) async throws -> JSONValue {
        let username = try Self.optionalString(body, "username") ?? caller.username
        return try await createAPIKey(for: username, name: try Self.optionalString(body, "name") ?? "default",
                                      role: body["role"] == nil ? nil : try AuthRole.parse(body["role"], default: .read), by: caller)
    }

    /// `{"key"}`.
    func revokeAPIKey(_ body: JSONValue, by caller: AuthIdentity) async throws -> JSONValue {
        try await revokeAPIKey(try Self.string(body, "key"), by: caller)
    }

    /// `{"username"=caller,"old_password","new_password"}`.
    func changePassword(_ body: JSONValue, caller: AuthIdentity?) async throws -> JSONValue {
        let username = try Self.optionalString(body, "username") ?? caller.flatMap { $0.authenticated ? $0.username : nil }
        guard let username else { throw RedError(.invalidArgument, "the body needs \"username\"") }
        return try await changePassword(username: username, old: try Self.string(body, "old_password"), new: try Self.string(body, "new_password"))
    }

    static func string(_ body: JSONValue, _ name: String) throws -> String {
        guard let value = try optionalString(body, name) else { throw RedError(.invalidArgument, "the body needs \"\(name)\" (a string)") }
        return value
    }

    static func optionalString(_ body: JSONValue, _ name: String) throws -> String? {
        guard case .object = body else { throw RedError(.invalidArgument, "the body must be a JSON object") }
        switch body[name] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw RedError(.invalidArgument, "\"\(name)\" must be a string")
        }
    }
}
