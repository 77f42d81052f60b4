import Foundation
import RedCore

/// A parsed connection string (spec: protocols §7.1, the canonical grammar).
///
/// | string | transport |
/// |---|---|
/// | `memory://`, `memory:` | an in-memory database in this process |
/// | `file:///path/to/data.rdb` | the database file, opened in this process |
/// | `red://host[:port]` (default 5050) | RedWire |
/// | `grpc://host[:port]` (default 5050) | gRPC |
/// | `http://host[:port]` (default 80), `https://` (443) | HTTP/JSON |
///
/// Query parameters: `token` (a bearer token), `timeout_ms` (per request, default 30,000),
/// `pool` (RedWire connections, default 1; each multiplexes up to 1,024 requests), and
/// `proto` (the JS driver's extension, §7.2): `red://host?proto=grpc` or `proto=http` picks
/// that transport for the same address (default ports then 5050 and 8080); `proto=red` is
/// the default; TLS and `pg` values are refused (use a PostgreSQL driver for PG-wire).
/// `user:password@host` logs in first (HTTP and gRPC: the login rpc; RedWire: SCRAM).
///
/// Deviation: the canonical grammar defaults `grpc://` to port 5055, which is upstream's
/// HTTP port, while its own server listens for gRPC on 5555; we default to 5050, the port
/// where `red server` serves every surface, so that `grpc://localhost` reaches it. `reds://`, `grpcs://` and `https://` need TLS,
/// which the client does not have yet: they fail with a clear error.
public struct ConnectionString: Sendable, Equatable {
    public enum Transport: String, Sendable, Equatable {
        case memory, file, redwire, grpc, http
    }

    public var transport: Transport
    public var host = ""
    public var port = 0
    /// The database file of `file://`.
    public var path = ""
    public var user: String?
    public var password: String?
    public var query: [String: String] = [:]

    public static let maxLength = 8 << 10
    public static let maxQueryParameters = 32

    public var token: String? { query["token"] }

    public init(_ text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw Self.error("EMPTY", "connection string is empty") }
        guard trimmed.utf8.count <= Self.maxLength else { throw Self.error("LIMIT_EXCEEDED", "connection string is longer than 8 KiB") }
        guard let colon = trimmed.firstIndex(of: ":") else { throw Self.error("INVALID_URI", "missing scheme in \"\(trimmed)\"") }
        let scheme = trimmed[..<colon].lowercased()
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+.-".contains($0) }) else {
            throw Self.error("INVALID_URI", "invalid scheme in \"\(trimmed)\"")
        }
        let rest = trimmed[trimmed.index(after: colon)...]
        switch scheme {
        case "memory":
            guard rest.isEmpty || rest == "//" else { throw Self.error("INVALID_URI", "memory takes no address: use memory://") }
            transport = .memory
            return
        case "file":
            guard rest.hasPrefix("//"), rest.count > 2 else { throw Self.error("INVALID_URI", "file needs a path: file:///path/to/data.rdb") }
            transport = .file
            path = String(rest.dropFirst(2))
            return
        case "red": transport = .redwire; port = 5050
        case "grpc": transport = .grpc; port = 5050
        case "http": transport = .http; port = 80
        case "reds", "grpcs", "https":
            throw Self.error("UNSUPPORTED_SCHEME", "\(scheme):// needs TLS, which this client does not support yet")
        default:
            throw Self.error("UNSUPPORTED_SCHEME", "unsupported scheme \(scheme)://; use red://, grpc://, http://, memory:// or file://")
        }
        guard rest.hasPrefix("//") else { throw Self.error("INVALID_URI", "expected \(scheme)://host") }
        var authority = rest.dropFirst(2)
        var queryText: Substring = ""
        if let q = authority.firstIndex(of: "?") {
            queryText = authority[authority.index(after: q)...]
            authority = authority[..<q]
        }
        if let slash = authority.firstIndex(of: "/") { authority = authority[..<slash] }
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            let parts = userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            user = parts.first.flatMap { String($0).removingPercentEncoding }
            if parts.count == 2 { password = String(parts[1]).removingPercentEncoding }
        }
        guard !authority.contains(",") else {
            throw Self.error("INVALID_URI", "cluster connection strings (several hosts) are not supported by this client yet")
        }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw Self.error("INVALID_URI", "unterminated [ in host") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            authority = authority[authority.index(after: close)...]
            if authority.hasPrefix(":") { port = try Self.port(authority.dropFirst()) } else if !authority.isEmpty {
                throw Self.error("INVALID_URI", "unexpected text after ]")
            }
        } else if let c = authority.lastIndex(of: ":") {
            host = String(authority[..<c])
            port = try Self.port(authority[authority.index(after: c)...])
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw Self.error("INVALID_URI", "missing host in \"\(trimmed)\"") }
        let explicitPort = port != (transport == .redwire ? 5050 : transport == .grpc ? 5050 : 80) || authority.contains(":")
        let pairs = queryText.split(separator: "&").filter { !$0.isEmpty }
        guard pairs.count <= Self.maxQueryParameters else { throw Self.error("LIMIT_EXCEEDED", "more than 32 query parameters") }
        for pair in pairs {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
            query[key] = kv.count == 2 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
        }
        if scheme == "red", let proto = query["proto"]?.lowercased() {
            switch proto {
            case "red": break
            case "grpc": transport = .grpc; if !explicitPort { port = 5050 }
            case "http": transport = .http; if !explicitPort { port = 8080 }
            case "reds", "grpcs", "https":
                throw Self.error("UNSUPPORTED_SCHEME", "proto=\(proto) needs TLS, which this client does not support yet")
            case "pg", "postgres", "postgresql":
                throw Self.error("UNSUPPORTED_SCHEME", "proto=\(proto): RedClient does not speak PG-wire; use a PostgreSQL driver on the same port")
            default:
                throw Self.error("INVALID_URI", "unknown proto=\(proto); use red, grpc or http")
            }
        }
    }

    static func port(_ text: Substring) throws -> Int {
        guard let p = Int(text), (1...65_535).contains(p) else { throw error("INVALID_URI", "invalid port \"\(text)\"") }
        return p
    }

    static func error(_ kind: String, _ message: String) -> RedError {
        RedError(.invalidArgument, "\(kind): \(message)")
    }
}
