import Foundation
import RedCore

/// A parsed connection string (spec: protocols §7.1, the canonical grammar).
///
/// | string | transport |
/// |---|---|
/// | `memory://`, `memory:` | an in-memory database in this process |
/// | `file:///path/to/data.rdb` | the database file, opened in this process |
/// | `red://host[:port]` (default 5050), `reds://` (TLS) | RedWire |
/// | `red+unix:///path/to/socket` (ours) | RedWire over a Unix domain socket |
/// | `grpc://host[:port]` (default 5050), `grpcs://` (TLS) | gRPC |
/// | `http://host[:port]` (default 80), `https://` (443) | HTTP/JSON |
///
/// Query parameters: `token` (a bearer token), `timeout_ms` (per request, default 30,000),
/// `pool` (RedWire connections, default 1; each multiplexes up to 1,024 requests), and
/// `proto` (the JS driver's extension, §7.2): `red://host?proto=grpc` or `proto=http` picks
/// that transport for the same address (default ports then 5050 and 8080); `proto=red` is
/// the default; `reds`, `grpcs` and `https` pick TLS too; `pg` values are refused (use a
/// PostgreSQL driver for PG-wire). `tls=true` asks for TLS on any scheme; `ca`, `cert`,
/// `key`, `servername` and `rejectUnauthorized` tune it (`ConnectionString.TLS`) and are
/// refused on a plaintext connection, where they would silently do nothing.
/// `user:password@host` logs in first (HTTP and gRPC: the login rpc; RedWire: SCRAM).
///
/// Cluster form: `red://primary[:port],replica[:port],…` (also `reds`, `grpc`, `grpcs`; at
/// most 64 hosts): writes, transactions and bulk loads go to the first host, reads to the
/// others in turn (`ClusterTransport`); `?route=primary` sends everything to the first.
///
/// Deviation: the canonical grammar defaults `grpc://` to port 5055, which is upstream's
/// HTTP port, while its own server listens for gRPC on 5555; we default to 5050, the port
/// where `red server` serves every surface, so that `grpc://localhost` reaches it (and
/// `grpcs://` likewise defaults to 5050).
public struct ConnectionString: Sendable, Equatable {
    public enum Transport: String, Sendable, Equatable {
        case memory, file, redwire, grpc, http
    }

    public var transport: Transport
    public var host = ""
    public var port = 0
    /// The database file of `file://`, or the socket of `red+unix://`.
    public var path = ""
    public var user: String?
    public var password: String?
    public var query: [String: String] = [:]
    /// TLS settings when the connection is encrypted (nil: plaintext).
    public var tls: TLS?

    /// Read replicas of a cluster string (`red://primary,replica1,replica2`): reads go to them,
    /// unless `?route=primary`. Empty for one host.
    public var replicas: [HostPort] = []

    public struct HostPort: Sendable, Equatable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// An address a server advertises (`host:port`, `[v6]:port`, or `scheme://host:port/…`);
        /// nil when it has no port.
        public init?(advertised text: String) {
            var rest = Substring(text)
            if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
            if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
            if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
            guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65_535).contains(port) else { return nil }
            var host = rest[..<colon]
            if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
            guard !host.isEmpty else { return nil }
            self.init(host: String(host), port: port)
        }
    }

    /// The same connection to another host of a cluster.
    public func at(_ other: HostPort) -> ConnectionString {
        var copy = self
        copy.host = other.host
        copy.port = other.port
        copy.replicas = []
        return copy
    }

    /// True when reads should go to the replicas (a cluster string without `?route=primary`).
    public var routesReadsToReplicas: Bool { !replicas.isEmpty && query["route"]?.lowercased() != "primary" }

    public static let maxClusterHosts = 64
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
        case "red+unix":
            // Ours: RedWire over a Unix domain socket (`red server --wire-bind unix:///path`).
            guard rest.hasPrefix("///") else { throw Self.error("INVALID_URI", "red+unix needs an absolute socket path: red+unix:///run/red.sock") }
            transport = .redwire
            var socket = rest.dropFirst(2)
            if let q = socket.firstIndex(of: "?") {
                try parseQuery(socket[socket.index(after: q)...])
                socket = socket[..<q]
            }
            let decoded = String(socket).removingPercentEncoding ?? String(socket)
            guard decoded.utf8.count < 108 else { throw Self.error("LIMIT_EXCEEDED", "Unix socket path is longer than 107 bytes") }
            path = decoded
            // No authority to carry credentials: ?user=&password= log in with SCRAM instead.
            user = query["user"]
            password = query["password"]
            let given = query
            if let key = TLS.keys.first(where: { given[$0] != nil }) ?? (given["tls"] != nil ? "tls" : nil) {
                throw Self.error("INVALID_URI", "\(key)= is a TLS setting; a Unix socket connection is not encrypted")
            }
            return
        case "red", "reds": transport = .redwire; port = 5050
        case "grpc", "grpcs": transport = .grpc; port = 5050
        case "http": transport = .http; port = 80
        case "https": transport = .http; port = 443
        default:
            throw Self.error("UNSUPPORTED_SCHEME", "unsupported scheme \(scheme)://; use red://, reds://, grpc://, grpcs://, http://, https://, memory:// or file://")
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
        // Cluster form (§7.1): `host[:port],host[:port],…`, the primary first, then replicas.
        let entries = authority.split(separator: ",", omittingEmptySubsequences: false)
        guard entries.count <= Self.maxClusterHosts else { throw Self.error("LIMIT_EXCEEDED", "more than \(Self.maxClusterHosts) cluster hosts") }
        if entries.count > 1 {
            guard scheme.hasPrefix("red") || scheme.hasPrefix("grpc") else {
                throw Self.error("INVALID_URI", "several hosts are for red://, reds://, grpc:// and grpcs:// only")
            }
            for entry in entries.dropFirst() {
                let (replicaHost, replicaPort) = try Self.hostAndPort(entry, in: trimmed)
                replicas.append(HostPort(host: replicaHost, port: replicaPort ?? port))
            }
        }
        let (firstHost, firstPort) = try Self.hostAndPort(entries[0], in: trimmed)
        host = firstHost
        if let firstPort { port = firstPort }
        let explicitPort = firstPort != nil
        try parseQuery(queryText)
        var encrypted = scheme.hasSuffix("s")
        if scheme == "red", let proto = query["proto"]?.lowercased() {
            switch proto {
            case "red": break
            case "reds": encrypted = true
            case "grpc", "grpcs": transport = .grpc; if !explicitPort { port = 5050 }; encrypted = encrypted || proto == "grpcs"
            case "http": transport = .http; if !explicitPort { port = 8080 }
            case "https": transport = .http; if !explicitPort { port = 8443 }; encrypted = true
            case "pg", "postgres", "postgresql":
                throw Self.error("UNSUPPORTED_SCHEME", "proto=\(proto): RedClient does not speak PG-wire; use a PostgreSQL driver on the same port")
            default:
                throw Self.error("INVALID_URI", "unknown proto=\(proto); use red, reds, grpc, grpcs, http or https")
            }
        }
        if let flag = query["tls"]?.lowercased() {
            switch flag {
            case "true", "1", "yes", "on", "": encrypted = true
            case "false", "0", "no", "off":
                guard !encrypted else { throw Self.error("INVALID_URI", "tls=\(flag) contradicts \(scheme)://, which is always TLS") }
            default: throw Self.error("INVALID_URI", "tls must be true or false, got \"\(flag)\"")
            }
        }
        if encrypted {
            tls = try TLS(query: query)
        } else if let key = TLS.keys.first(where: { query[$0] != nil }) {
            throw Self.error("INVALID_URI", "\(key)= is a TLS setting, but this connection is plaintext; use reds://, grpcs:// or https:// (or tls=true)")
        }
    }

    private mutating func parseQuery(_ text: Substring) throws {
        let pairs = text.split(separator: "&").filter { !$0.isEmpty }
        guard pairs.count <= Self.maxQueryParameters else { throw Self.error("LIMIT_EXCEEDED", "more than 32 query parameters") }
        for pair in pairs {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
            query[key] = kv.count == 2 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
        }
    }

    /// `host`, `host:port` or `[ipv6]:port`; an empty entry is an error.
    static func hostAndPort(_ entry: Substring, in text: String) throws -> (String, Int?) {
        var rest = entry
        let host: String
        var port: Int?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw error("INVALID_URI", "unterminated [ in host") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
            if rest.hasPrefix(":") { port = try Self.port(rest.dropFirst()) } else if !rest.isEmpty {
                throw error("INVALID_URI", "unexpected text after ]")
            }
        } else if let c = rest.lastIndex(of: ":") {
            host = String(rest[..<c])
            port = try Self.port(rest[rest.index(after: c)...])
        } else {
            host = String(rest)
        }
        guard !host.isEmpty else { throw error("INVALID_URI", "missing host in \"\(text)\"") }
        return (host, port)
    }

    static func port(_ text: Substring) throws -> Int {
        guard let p = Int(text), (1...65_535).contains(p) else { throw error("INVALID_URI", "invalid port \"\(text)\"") }
        return p
    }

    static func error(_ kind: String, _ message: String) -> RedError {
        RedError(.invalidArgument, "\(kind): \(message)")
    }
}
