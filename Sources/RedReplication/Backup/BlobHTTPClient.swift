import AsyncHTTPClient
import Foundation
import NIOCore
import RedCore

/// What the HTTP-speaking backends (S3 and the generic HTTP service) share: one client, the
/// retry rule, and streaming of files up and down.
///
/// Every backend call is idempotent, so each is tried `attempts` times on a transport error or
/// a 5xx, with 0.5 s then 1 s between; any other status outside the expected ones fails at once
/// with the status and the backend's short description of it.
struct BlobHTTPClient: Sendable {
    let client: HTTPClient

    static let attempts = 3
    static let requestTimeout: TimeAmount = .seconds(300)
    static let maxErrorBody = 16 << 10

    init() {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(10)))
        configuration.redirectConfiguration = .disallow
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() {
        let client = self.client
        Task.detached { try? await client.shutdown() }
    }

    /// Sends the request `build` makes (built anew per attempt: a signature may depend on the
    /// time), retrying as above. `what` names the call in errors ("S3 PUT key"); `detail` turns
    /// an error reply's body into a short reason (S3's `<Code>`), or nil.
    func send(_ what: String, expect: Set<UInt>, detail: (String) -> String? = { _ in nil },
              _ build: () throws -> HTTPClientRequest) async throws -> HTTPClientResponse {
        var attempt = 0
        while true {
            attempt += 1
            let request = try build()
            do {
                let response = try await client.execute(request, timeout: Self.requestTimeout)
                let status = response.status.code
                if expect.contains(status) { return response }
                let body = String(decoding: (try? await response.body.collect(upTo: Self.maxErrorBody))?.readableBytesView ?? [], as: UTF8.self)
                let reason = detail(body).map { " \($0)" } ?? ""
                let failure = RedError(.ioError, "\(what) failed: HTTP \(status)\(reason)")
                guard status >= 500, attempt < Self.attempts else { throw failure }
            } catch let error as RedError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                guard attempt < Self.attempts else { throw RedError(.ioError, "\(what) failed: \(error)") }
            }
            try await Task.sleep(for: .milliseconds(500 << (attempt - 1)))
        }
    }

    /// The body, at most `BackupLimits.maxBlobInMemory` bytes.
    static func bytes(of response: HTTPClientResponse) async throws -> [UInt8] {
        Array(try await response.body.collect(upTo: BackupLimits.maxBlobInMemory).readableBytesView)
    }

    /// A GET's blob: nil when it answered 404.
    static func blob(_ response: HTTPClientResponse) async throws -> [UInt8]? {
        guard response.status.code != 404 else { return nil }
        return try await bytes(of: response)
    }

    /// A GET's blob streamed into a new file at `path`; false when it answered 404.
    static func blob(_ response: HTTPClientResponse, to path: String) async throws -> Bool {
        guard response.status.code != 404 else { return false }
        try await download(response, to: path)
        return true
    }

    /// Streams the body into a new file at `path`, fsynced.
    static func download(_ response: HTTPClientResponse, to path: String) async throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw RedError(.ioError, "cannot create \(path)")
        }
        defer { try? handle.close() }
        for try await chunk in response.body {
            try handle.write(contentsOf: Data(chunk.readableBytesView))
        }
        try handle.synchronize()
    }

    /// The file at `path` as an upload body of known length, read in 1 MiB chunks.
    static func fileBody(_ path: String) throws -> HTTPClientRequest.Body {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber else {
            throw RedError(.ioError, "cannot read \(path)")
        }
        return .stream(FileChunks(path: path), length: .known(size.int64Value))
    }

    /// Percent-encodes `text` for a URL path (keeping `/` when `keepSlash`) or a query value:
    /// everything but RFC 3986's unreserved characters.
    static func encode(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}

/// A file read in 1 MiB chunks, as an upload body.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?
        mutating func next() async throws -> ByteBuffer? {
            guard let handle else { throw RedError(.ioError, "cannot read the upload's file") }
            guard let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty else {
                try? handle.close()
                return nil
            }
            return ByteBuffer(bytes: chunk)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: FileHandle(forReadingAtPath: path)) }
}
