import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
@testable import RedReplication
import Synchronization

/// A blob service speaking the HTTP backend's contract, for the tests: PUT, GET and DELETE of
/// blobs under `/store/`, `?list=` on a prefix, an `Authorization` it checks, and ETags with
/// `If-Match` / `If-None-Match: *` when `conditional` (a service without them ignores the
/// headers, as a naive one would). `listing` false answers listings 404, as a service that
/// never built them. `failNextRequests` answers that many requests with 500 first.
final class FakeBlobService: Sendable {
    static let authorization = "Bearer blob-token"
    let conditional: Bool
    let listing: Bool
    private let blobs = Mutex<[String: [UInt8]]>([:])
    private let portBox = Mutex(0)
    private let task = Mutex<Task<Void, any Error>?>(nil)
    let failNextRequests = Mutex(0)
    let unauthorized = Mutex(0)

    init(conditional: Bool = true, listing: Bool = true) {
        self.conditional = conditional
        self.listing = listing
    }

    var port: Int { portBox.withLock { $0 } }
    var keys: [String] { blobs.withLock { Array($0.keys).sorted() } }

    /// The environment of a server using this service, its token given through a file at `tokenFile`.
    func environment(tokenFile: String) throws -> [String: String] {
        try Self.authorization.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        var env = ["RED_BACKEND": "http", "RED_HTTP_BACKEND_URL": "http://127.0.0.1:\(port)/store/",
                   "RED_HTTP_BACKEND_PREFIX": "team-b", "RED_HTTP_BACKEND_AUTH_HEADER_FILE": tokenFile]
        if conditional { env["RED_HTTP_CONDITIONAL_WRITES"] = "true" }
        return env
    }

    func start() async throws {
        let (port, task) = try await FakeHTTPServer.start(label: "fake-blobs") { [self] request in try await self.handle(request) }
        portBox.withLock { $0 = port }
        self.task.withLock { $0 = task }
    }

    func stop() { task.withLock { $0?.cancel() } }

    private func handle(_ request: Request) async throws -> Response {
        if failNextRequests.withLock({ n in n > 0 ? { n -= 1; return true }() : false }) {
            return Response(status: .internalServerError, body: .init(byteBuffer: ByteBuffer(string: "try again")))
        }
        func header(_ name: String) -> String { HTTPField.Name(name).flatMap { request.headers[$0] } ?? "" }
        guard header("authorization") == Self.authorization else {
            unauthorized.withLock { $0 += 1 }
            return Response(status: .unauthorized, body: .init(byteBuffer: ByteBuffer(string: "bad token")))
        }
        var request = request
        let body = Array(try await request.collectBody(upTo: 1 << 30).readableBytesView)
        guard request.uri.path.hasPrefix("/store/") else { return Response(status: .notFound) }
        let path = String(request.uri.path.dropFirst("/store/".count)).removingPercentEncoding ?? ""
        func etag(_ bytes: [UInt8]) -> String { "\"" + SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined().prefix(24) + "\"" }
        let ifMatch = conditional ? header("if-match") : "", ifNoneMatch = conditional ? header("if-none-match") : ""
        if request.method == .get, let query = request.uri.query, query.hasPrefix("list=") {
            guard listing else { return Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: "no such blob"))) }
            let sub = String(query.dropFirst("list=".count)).removingPercentEncoding ?? ""
            let base = path.isEmpty ? "" : path + "/"
            let lines = keys.filter { $0.hasPrefix(base + sub) }.map { String($0.dropFirst(base.count)) }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: lines.joined(separator: "\n") + "\n")))
        }
        switch request.method {
        case .put:
            let written = blobs.withLock { blobs -> Bool in
                let current = blobs[path]
                if ifNoneMatch == "*", current != nil { return false }
                if !ifMatch.isEmpty, current.map(etag) != ifMatch { return false }
                blobs[path] = body
                return true
            }
            return written ? Response(status: .created, headers: [.eTag: etag(body)]) : Response(status: .preconditionFailed)
        case .get:
            guard let bytes = blobs.withLock({ $0[path] }) else { return Response(status: .notFound) }
            return Response(status: .ok, headers: conditional ? [.eTag: etag(bytes)] : [:], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        case .delete:
            let deleted = blobs.withLock { blobs -> Bool? in
                guard let current = blobs[path] else { return nil }
                if !ifMatch.isEmpty, etag(current) != ifMatch { return false }
                blobs[path] = nil
                return true
            }
            switch deleted {
            case nil: return Response(status: .notFound)
            case false?: return Response(status: .preconditionFailed)
            case true?: return Response(status: .noContent)
            }
        default:
            return Response(status: .methodNotAllowed)
        }
    }
}
