import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
@testable import RedReplication
import Synchronization

/// An S3-compatible server for the backup tests, just enough of it: PUT, GET and DELETE of
/// objects in one bucket, and ListObjectsV2 in pages of `pageSize` (so the backend's paging is
/// exercised). Each request's `Authorization` is recomputed from what arrived (method, raw path,
/// query, host, date and payload hash) and must match, and a signed PUT body must match its
/// `x-amz-content-sha256`: a request the transport altered after signing is refused with 403.
/// `failNextRequests` answers that many requests with 500 first (the backend retries).
final class FakeS3: Sendable {
    static let accessKey = "test-access"
    static let secretKey = "test-secret/with+chars"
    let bucket = "backups"
    let pageSize = 3
    private let objects = Mutex<[String: [UInt8]]>([:])
    private let portBox = Mutex(0)
    private let task = Mutex<Task<Void, any Error>?>(nil)
    let failNextRequests = Mutex(0)
    let refused = Mutex(0)

    var port: Int { portBox.withLock { $0 } }
    var keys: [String] { objects.withLock { Array($0.keys).sorted() } }
    func object(_ key: String) -> [UInt8]? { objects.withLock { $0[key] } }
    func setObject(_ key: String, _ bytes: [UInt8]?) { objects.withLock { $0[key] = bytes } }

    var environment: [String: String] {
        ["RED_BACKEND": "s3", "RED_S3_ENDPOINT": "http://127.0.0.1:\(port)", "RED_S3_BUCKET": bucket,
         "RED_S3_ACCESS_KEY": Self.accessKey, "RED_S3_SECRET_KEY": Self.secretKey, "RED_S3_KEY_PREFIX": "team-a"]
    }

    func start() async throws {
        let (port, task) = try await FakeHTTPServer.start(label: "fake-s3") { [self] request in try await self.handle(request) }
        portBox.withLock { $0 = port }
        self.task.withLock { $0 = task }
    }

    func stop() { task.withLock { $0?.cancel() } }

    private func handle(_ request: Request) async throws -> Response {
        if failNextRequests.withLock({ n in n > 0 ? { n -= 1; return true }() : false }) {
            return Response(status: .internalServerError, body: .init(byteBuffer: ByteBuffer(string: "<Error><Code>InternalError</Code></Error>")))
        }
        var request = request
        let body = Array(try await request.collectBody(upTo: 1 << 30).readableBytesView)
        let rawPath = request.uri.path
        let rawQuery = request.uri.query ?? ""
        let query: [(String, String)] = rawQuery.isEmpty ? [] : rawQuery.split(separator: "&").map { item in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]).removingPercentEncoding ?? "", parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? "") : "")
        }
        func header(_ name: String) -> String { HTTPField.Name(name).flatMap { request.headers[$0] } ?? "" }
        let payloadHash = header("x-amz-content-sha256")
        let signer = S3Signer(accessKey: Self.accessKey, secretKey: Self.secretKey, region: "us-east-1")
        let expected = signer.authorization(method: request.method.rawValue, path: rawPath, query: query,
                                            headers: [("host", request.head.authority ?? header("host")), ("x-amz-content-sha256", payloadHash), ("x-amz-date", header("x-amz-date"))],
                                            payloadHash: payloadHash, amzDate: header("x-amz-date"))
        let bodyMatches = payloadHash == S3Signer.unsignedPayload || payloadHash == S3Signer.hex(SHA256.hash(data: body))
        guard header("authorization") == expected, bodyMatches else {
            refused.withLock { $0 += 1 }
            return Response(status: .forbidden, body: .init(byteBuffer: ByteBuffer(string: "<Error><Code>SignatureDoesNotMatch</Code></Error>")))
        }
        let bucketPath = "/\(bucket)"
        guard rawPath == bucketPath || rawPath.hasPrefix(bucketPath + "/") else { return Response(status: .notFound) }
        let key = String(rawPath.dropFirst(bucketPath.count + 1)).removingPercentEncoding ?? ""
        let ifMatch = header("if-match"), ifNoneMatch = header("if-none-match")
        func etag(_ bytes: [UInt8]) -> String { "\"" + S3Signer.hex(SHA256.hash(data: bytes)).prefix(32) + "\"" }
        let preconditionFailed = Response(status: .preconditionFailed, body: .init(byteBuffer: ByteBuffer(string: "<Error><Code>PreconditionFailed</Code></Error>")))
        switch (request.method, key.isEmpty) {
        case (.put, false):
            // Compare and write under the store's lock: conditional writes are atomic, as S3's are.
            let written = objects.withLock { objects -> Bool in
                let current = objects[key]
                if ifNoneMatch == "*", current != nil { return false }
                if !ifMatch.isEmpty, current.map(etag) != ifMatch { return false }
                objects[key] = body
                return true
            }
            guard written else { return preconditionFailed }
            return Response(status: .ok, headers: [.eTag: etag(body)])
        case (.get, false):
            guard let bytes = objects.withLock({ $0[key] }) else {
                return Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: "<Error><Code>NoSuchKey</Code></Error>")))
            }
            return Response(status: .ok, headers: [.eTag: etag(bytes)], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        case (.delete, false):
            let deleted = objects.withLock { objects -> Bool in
                if !ifMatch.isEmpty, objects[key].map(etag) != ifMatch { return false }
                objects[key] = nil
                return true
            }
            return deleted ? Response(status: .noContent) : preconditionFailed
        case (.get, true):
            let prefix = query.first { $0.0 == "prefix" }?.1 ?? ""
            let after = query.first { $0.0 == "continuation-token" }?.1
            let matching = keys.filter { key in key.hasPrefix(prefix) && (after.map { key > $0 } ?? true) }
            let page = matching.prefix(pageSize)
            let truncated = matching.count > page.count
            var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>\(bucket)</Name>"
            for key in page {
                xml += "<Contents><Key>\(key.replacingOccurrences(of: "&", with: "&amp;"))</Key></Contents>"
            }
            xml += "<IsTruncated>\(truncated)</IsTruncated>"
            if truncated, let last = page.last { xml += "<NextContinuationToken>\(last)</NextContinuationToken>" }
            xml += "</ListBucketResult>"
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: xml)))
        default:
            return Response(status: .methodNotAllowed)
        }
    }
}
