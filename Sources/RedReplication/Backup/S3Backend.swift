import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import RedCore

/// An S3-compatible bucket as a backend (`RED_BACKEND=s3|minio|r2`; spec ops §7.1): PUT, GET,
/// DELETE and ListObjectsV2, signed with Signature Version 4 (`S3Signer`).
///
/// Path-style URLs (`<endpoint>/<bucket>/<key>`) by default, as MinIO wants; virtual-hosted
/// (`<bucket>.<host>/<key>`) with `RED_S3_PATH_STYLE=false`. Small blobs are signed with their
/// SHA-256; file uploads stream with `UNSIGNED-PAYLOAD`, and their integrity is checked by the
/// SHA-256 the snapshot manifest records. Calls are retried as `BlobHTTPClient` says.
public final class S3Backend: ConditionalBackend {
    public struct Settings: Sendable, Equatable {
        public var endpoint: String
        public var bucket: String
        public var accessKey: String
        public var secretKey: String
        public var region = "us-east-1"
        /// Prepended to every key (`RED_S3_KEY_PREFIX`).
        public var keyPrefix = ""
        public var pathStyle = true

        public init(endpoint: String, bucket: String, accessKey: String, secretKey: String) {
            self.endpoint = endpoint
            self.bucket = bucket
            self.accessKey = accessKey
            self.secretKey = secretKey
        }
    }

    public let settings: Settings
    let signer: S3Signer
    /// Made last in `init`: a client must be shut down, and a throwing init would drop it unshut.
    let http: BlobHTTPClient
    /// scheme://host[:port] of the requests, and the Host header signed.
    let origin: String
    let host: String
    /// The path before the key: `/<bucket>` in path style, empty otherwise.
    let bucketPath: String

    public var description: String { "s3://\(settings.bucket)/\(settings.keyPrefix)" }

    public init(settings: Settings) throws {
        guard let url = URL(string: settings.endpoint), let scheme = url.scheme, ["http", "https"].contains(scheme), let endpointHost = url.host else {
            throw RedError(.invalidArgument, "RED_S3_ENDPOINT must be an http(s):// URL, got \"\(settings.endpoint)\"")
        }
        guard !settings.bucket.isEmpty, !settings.bucket.contains("/") else {
            throw RedError(.invalidArgument, "RED_S3_BUCKET must be a bucket name")
        }
        self.settings = settings
        signer = S3Signer(accessKey: settings.accessKey, secretKey: settings.secretKey, region: settings.region)
        let port = url.port.map { ":\($0)" } ?? ""
        host = (settings.pathStyle ? endpointHost : "\(settings.bucket).\(endpointHost)") + port
        origin = "\(scheme)://\(host)"
        bucketPath = settings.pathStyle ? "/" + S3Signer.encode(settings.bucket, keepSlash: false) : ""
        http = BlobHTTPClient()
    }

    deinit { http.shutdown() }

    // MARK: BackupBackend

    public func put(_ key: String, bytes: [UInt8]) async throws {
        let hash = S3Signer.hex(SHA256.hash(data: bytes))
        _ = try await send("PUT", key: key, payloadHash: hash, body: { .bytes(ByteBuffer(bytes: bytes)) }, expect: [200])
    }

    public func putFile(_ key: String, from path: String) async throws {
        _ = try await send("PUT", key: key, payloadHash: S3Signer.unsignedPayload, body: { try BlobHTTPClient.fileBody(path) }, expect: [200])
    }

    public func get(_ key: String) async throws -> [UInt8]? {
        try await BlobHTTPClient.blob(send("GET", key: key, expect: [200, 404]))
    }

    public func getFile(_ key: String, to path: String) async throws -> Bool {
        try await BlobHTTPClient.blob(send("GET", key: key, expect: [200, 404]), to: path)
    }

    public func list(prefix: String) async throws -> [String] {
        var keys: [String] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", settings.keyPrefix + prefix)]
            if let token { query.append(("continuation-token", token)) }
            let response = try await send("GET", key: nil, query: query, expect: [200])
            let xml = String(decoding: try await response.body.collect(upTo: 16 << 20).readableBytesView, as: UTF8.self)
            for key in Self.elements("Key", in: xml) where key.hasPrefix(settings.keyPrefix) {
                keys.append(String(key.dropFirst(settings.keyPrefix.count)))
            }
            token = Self.elements("IsTruncated", in: xml).first == "true" ? Self.elements("NextContinuationToken", in: xml).first : nil
        } while token != nil
        return keys.sorted()
    }

    public func delete(_ key: String) async throws {
        _ = try await send("DELETE", key: key, expect: [200, 204, 404])
    }

    // MARK: Compare-and-swap (ETag, If-Match, If-None-Match)

    public func getVersioned(_ key: String) async throws -> (bytes: [UInt8], version: String)? {
        let response = try await send("GET", key: key, expect: [200, 404])
        guard response.status.code == 200 else { return nil }
        guard let etag = response.headers.first(name: "etag") else { throw RedError(.ioError, "S3 GET \(key): the reply has no ETag") }
        return (try await BlobHTTPClient.bytes(of: response), etag)
    }

    public func put(_ key: String, bytes: [UInt8], ifVersion version: String?) async throws -> Bool {
        let hash = S3Signer.hex(SHA256.hash(data: bytes))
        let condition = version.map { ("if-match", $0) } ?? ("if-none-match", "*")
        // 412: the precondition failed; 409: a concurrent conditional write won.
        let response = try await send("PUT", key: key, payloadHash: hash, extraHeaders: [condition],
                                      body: { .bytes(ByteBuffer(bytes: bytes)) }, expect: [200, 409, 412])
        return response.status.code == 200
    }

    public func delete(_ key: String, ifVersion version: String) async throws -> Bool {
        let response = try await send("DELETE", key: key, extraHeaders: [("if-match", version)], expect: [200, 204, 404, 409, 412])
        return response.status.code == 200 || response.status.code == 204
    }

    // MARK: Requests

    /// Sends a signed request (signed anew per attempt), retried as `BlobHTTPClient` says; a
    /// status outside `expect` throws with S3's error code.
    private func send(_ method: String, key: String?, query: [(String, String)] = [], payloadHash: String = S3Signer.emptyPayloadHash,
                      extraHeaders: [(String, String)] = [], body: () throws -> HTTPClientRequest.Body? = { nil }, expect: Set<UInt>) async throws -> HTTPClientResponse {
        if let key { try BackupLimits.check(key) }
        let path = bucketPath + (key.map { "/" + S3Signer.encode(settings.keyPrefix + $0, keepSlash: true) } ?? "/")
        let queryText = query.map { "\(S3Signer.encode($0.0, keepSlash: false))=\(S3Signer.encode($0.1, keepSlash: false))" }.joined(separator: "&")
        let what = "S3 \(method) \(key ?? "list \(query.first { $0.0 == "prefix" }?.1 ?? "")")"
        return try await http.send(what, expect: expect, detail: { Self.elements("Code", in: $0).first }) {
            let amzDate = S3Signer.amzDate(Date())
            var headers = [("host", host), ("x-amz-content-sha256", payloadHash), ("x-amz-date", amzDate)]
            let authorization = signer.authorization(method: method, path: path, query: query, headers: headers, payloadHash: payloadHash, amzDate: amzDate)
            headers.append(("authorization", authorization))
            var request = HTTPClientRequest(url: origin + path + (queryText.isEmpty ? "" : "?" + queryText))
            request.method = .RAW(value: method)
            for (name, value) in headers + extraHeaders { request.headers.replaceOrAdd(name: name, value: value) }
            if let body = try body() { request.body = body }
            return request
        }
    }

    /// The texts of every `<name>…</name>` element (XML entities decoded): enough of
    /// ListObjectsV2's and the error replies' XML, which have no nesting of the same name.
    static func elements(_ name: String, in xml: String) -> [String] {
        var values: [String] = []
        var rest = xml[...]
        while let open = rest.range(of: "<\(name)>"), let close = rest.range(of: "</\(name)>", range: open.upperBound..<rest.endIndex) {
            values.append(String(rest[open.upperBound..<close.lowerBound])
                .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
                .replacingOccurrences(of: "&amp;", with: "&"))
            rest = rest[close.upperBound...]
        }
        return values
    }
}
