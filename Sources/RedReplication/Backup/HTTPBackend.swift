import AsyncHTTPClient
import Foundation
import NIOCore
import RedCore

/// Any HTTP service that stores blobs as a backend (`RED_BACKEND=http`; spec ops §7.1): an
/// in-house storage proxy, a gateway in front of a store we do not speak. The contract is
/// upstream's, with `{base}` = `RED_HTTP_BACKEND_URL` and `{prefix}` = `RED_HTTP_BACKEND_PREFIX`
/// (ending in `/` when not empty):
/// - `PUT {base}/{prefix}{key}` with the blob as the body → any 2xx;
/// - `GET {base}/{prefix}{key}` → 200 with the blob, 404 when there is none;
/// - `DELETE {base}/{prefix}{key}` → 2xx, or 404 (already gone);
/// - `GET {base}/{prefix without its last /}?list={sub-prefix}` → 200 with the keys below
///   `{prefix}` that start with the sub-prefix, one per line.
///
/// Keys are percent-encoded per path segment. `RED_HTTP_BACKEND_AUTH_HEADER` (or `…_FILE`) is
/// sent whole as every request's `Authorization` header.
///
/// Where upstream goes quiet we fail loudly: upstream treats a listing the service refuses as
/// an empty one, so a restore could silently miss every WAL segment; here it is an error
/// naming the contract. Calls are retried as `BlobHTTPClient` says.
///
/// Compare-and-swap (the writer lease) needs `RED_HTTP_CONDITIONAL_WRITES=true`, the operator's
/// word that the service honours it (`ConditionalHTTPBackend`): GET answers with an `ETag`,
/// `PUT` takes `If-Match: <etag>` or `If-None-Match: *`, `DELETE` takes `If-Match`, and a
/// failed condition answers 412 (409 and 404 count as failed too).
public final class HTTPBackend: BackupBackend {
    public struct Settings: Sendable, Equatable {
        /// scheme://host[:port][/path], without a trailing slash.
        public var baseURL: String
        /// Prepended to every key; empty or ending in `/`.
        public var prefix = ""
        /// The whole `Authorization` header value, if any.
        public var authorization: String?
        public var conditionalWrites = false

        public init(baseURL: String) {
            var url = baseURL
            while url.hasSuffix("/") { url.removeLast() }
            self.baseURL = url
        }
    }

    public let settings: Settings
    /// Made last in `init`: a client must be shut down, and a throwing init would drop it unshut.
    let http: BlobHTTPClient

    /// Longest listing read (about 16 MiB of keys).
    static let maxListBytes = 16 << 20

    /// For logs and `/backup/status`: the URL without any `user:password@` it carries.
    public var description: String {
        var url = settings.baseURL
        if let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@"),
           !url[scheme.upperBound..<at].contains("/") {
            url.removeSubrange(scheme.upperBound...at)
        }
        return "http:\(url)/\(settings.prefix)"
    }

    public init(settings: Settings) throws {
        guard let url = URL(string: settings.baseURL), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil,
              url.query == nil, url.fragment == nil else {
            throw RedError(.invalidArgument, "RED_HTTP_BACKEND_URL must be an http(s):// URL without a query, got \"\(settings.baseURL)\"")
        }
        if !settings.prefix.isEmpty {
            try BackupLimits.check(String(settings.prefix.dropLast()))
            guard settings.prefix.hasSuffix("/") else {
                throw RedError(.invalidArgument, "the HTTP backend's prefix must end in /")
            }
        }
        self.settings = settings
        http = BlobHTTPClient()
    }

    deinit { http.shutdown() }

    // MARK: BackupBackend

    public func put(_ key: String, bytes: [UInt8]) async throws {
        _ = try await send("PUT", key: key, body: { .bytes(ByteBuffer(bytes: bytes)) }, expect: Self.success)
    }

    public func putFile(_ key: String, from path: String) async throws {
        _ = try await send("PUT", key: key, body: { try BlobHTTPClient.fileBody(path) }, expect: Self.success)
    }

    public func get(_ key: String) async throws -> [UInt8]? {
        try await BlobHTTPClient.blob(send("GET", key: key, expect: [200, 404]))
    }

    public func getFile(_ key: String, to path: String) async throws -> Bool {
        try await BlobHTTPClient.blob(send("GET", key: key, expect: [200, 404]), to: path)
    }

    public func list(prefix: String) async throws -> [String] {
        var base = settings.prefix
        if base.hasSuffix("/") { base.removeLast() }
        let url = settings.baseURL + "/" + BlobHTTPClient.encode(base, keepSlash: true)
            + "?list=" + BlobHTTPClient.encode(prefix, keepSlash: false)
        let what = "HTTP backend list \"\(prefix)\""
        let response = try await http.send(what, expect: [200], detail: { _ in
            "(the service must answer GET \(url) with the matching keys, one per line)"
        }) { try request("GET", url: url) }
        let text = String(decoding: try await response.body.collect(upTo: Self.maxListBytes).readableBytesView, as: UTF8.self)
        var keys: [String] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let key = line.trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty else { continue }
            guard (try? BackupLimits.check(key)) != nil else {
                throw RedError(.ioError, "\(what) failed: the service listed \"\(key.prefix(100))\", which is not a key")
            }
            if key.hasPrefix(prefix) { keys.append(key) }
        }
        return keys.sorted()
    }

    public func delete(_ key: String) async throws {
        _ = try await send("DELETE", key: key, expect: Self.success.union([404]))
    }

    // MARK: Requests

    static let success: Set<UInt> = [200, 201, 202, 204]

    func url(_ key: String) throws -> String {
        try BackupLimits.check(key)
        return settings.baseURL + "/" + BlobHTTPClient.encode(settings.prefix + key, keepSlash: true)
    }

    func request(_ method: String, url: String, headers: [(String, String)] = [],
                 body: () throws -> HTTPClientRequest.Body? = { nil }) throws -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .RAW(value: method)
        if let authorization = settings.authorization { request.headers.replaceOrAdd(name: "authorization", value: authorization) }
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        if let body = try body() { request.body = body }
        return request
    }

    func send(_ method: String, key: String, headers: [(String, String)] = [], body: () throws -> HTTPClientRequest.Body? = { nil },
              expect: Set<UInt>) async throws -> HTTPClientResponse {
        let url = try url(key)
        return try await http.send("HTTP backend \(method) \(key)", expect: expect, detail: Self.reason) {
            try request(method, url: url, headers: headers, body: body)
        }
    }

    /// The first line of an error reply, short: what the service said went wrong.
    static func reason(_ body: String) -> String? {
        let line = body.split(whereSeparator: \.isNewline).first.map { String($0.prefix(200)) } ?? ""
        return line.isEmpty ? nil : "(\(line))"
    }
}

/// The HTTP backend when the operator has said its service honours conditional requests
/// (`RED_HTTP_CONDITIONAL_WRITES=true`): the version token is the `ETag`.
public struct ConditionalHTTPBackend: ConditionalBackend {
    public let plain: HTTPBackend

    public init(_ plain: HTTPBackend) { self.plain = plain }

    public var description: String { plain.description }
    public func put(_ key: String, bytes: [UInt8]) async throws { try await plain.put(key, bytes: bytes) }
    public func putFile(_ key: String, from path: String) async throws { try await plain.putFile(key, from: path) }
    public func get(_ key: String) async throws -> [UInt8]? { try await plain.get(key) }
    public func getFile(_ key: String, to path: String) async throws -> Bool { try await plain.getFile(key, to: path) }
    public func list(prefix: String) async throws -> [String] { try await plain.list(prefix: prefix) }
    public func delete(_ key: String) async throws { try await plain.delete(key) }

    public func getVersioned(_ key: String) async throws -> (bytes: [UInt8], version: String)? {
        let response = try await plain.send("GET", key: key, expect: [200, 404])
        guard response.status.code == 200 else { return nil }
        guard let etag = response.headers.first(name: "etag"), !etag.isEmpty else {
            throw RedError(.ioError, "HTTP backend GET \(key): the reply has no ETag, which RED_HTTP_CONDITIONAL_WRITES needs")
        }
        return (try await BlobHTTPClient.bytes(of: response), etag)
    }

    public func put(_ key: String, bytes: [UInt8], ifVersion version: String?) async throws -> Bool {
        let condition = version.map { ("if-match", $0) } ?? ("if-none-match", "*")
        let response = try await plain.send("PUT", key: key, headers: [condition], body: { .bytes(ByteBuffer(bytes: bytes)) },
                                            expect: HTTPBackend.success.union([404, 409, 412]))
        return HTTPBackend.success.contains(response.status.code)
    }

    public func delete(_ key: String, ifVersion version: String) async throws -> Bool {
        let response = try await plain.send("DELETE", key: key, headers: [("if-match", version)],
                                            expect: HTTPBackend.success.union([404, 409, 412]))
        return HTTPBackend.success.contains(response.status.code)
    }
}
