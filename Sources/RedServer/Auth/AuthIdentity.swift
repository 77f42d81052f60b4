import RedCore
import RedDB

/// The roles of the spec (replication-mcp-ai-ops §5.1): `read` may only read, `write` may
/// also write, `admin` may also manage users and keys. Ordered, so a key's role can be
/// capped by its owner's.
enum AuthRole: String, Sendable, Comparable, CaseIterable {
    case read, write, admin

    static func < (a: AuthRole, b: AuthRole) -> Bool { a.rank < b.rank }
    private var rank: Int { self == .read ? 0 : self == .write ? 1 : 2 }

    /// Parses a role name from a request; nil (the caller's default) when absent.
    static func parse(_ json: JSONValue?, default fallback: AuthRole) throws -> AuthRole {
        guard let json, json != .null else { return fallback }
        guard case .string(let text) = json, let role = AuthRole(rawValue: text.lowercased()) else {
            throw RedError(.invalidArgument, "role must be one of read, write, admin")
        }
        return role
    }
}

/// Who is calling, once a surface has authenticated the request.
struct AuthIdentity: Sendable, Equatable {
    var username: String
    var role: AuthRole
    /// False only for the anonymous caller of a server without users.
    var authenticated: Bool

    /// The caller of a server that has no users: may read and write, but never passes an
    /// admin gate (user management), as the spec's roles say.
    static let anonymous = AuthIdentity(username: "anonymous", role: .write, authenticated: false)

    /// What the caller's sessions may do: a `read` user's writes fail with 42501.
    var sessionAccess: SessionAccess {
        role >= .write ? .readWrite : .readOnly(principal: "user \"\(username)\" (role read)")
    }

    /// Throws 42501 unless the caller is an admin; `action` names what was refused.
    func requireAdmin(_ action: String) throws {
        guard role == .admin else {
            throw RedError(.insufficientPrivilege, "permission denied: \(action) needs the admin role (\(authenticated ? "user \"\(username)\" has role \(role.rawValue)" : "sign in as an admin"))")
        }
    }
}

/// The identity of the request the current task serves, for the surfaces whose handlers
/// create sessions far from where the request was authenticated (HTTP routes, gRPC rpcs).
/// The gRPC call wrapper and the HTTP middleware bind it around the handler;
/// `ServerContext.session()` reads it. Unbound (a code path that forgot to authenticate)
/// means read-only, so a mistake fails closed.
enum RequestCaller {
    @TaskLocal static var identity: AuthIdentity?

    /// What a session may do: nothing but read on a replica (`standbyReason`), else what
    /// `identity`'s role allows; read-only without an identity.
    static func access(standbyReason: String?, identity: AuthIdentity?) -> SessionAccess {
        let own = identity?.sessionAccess ?? .readOnly(principal: "an unauthenticated request")
        guard let standbyReason else { return own }
        if case .readOnly(let principal) = own { return .standby(reason: standbyReason, readOnlyPrincipal: principal) }
        return .standby(reason: standbyReason)
    }
}
