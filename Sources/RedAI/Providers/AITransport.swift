import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RedCore
import Synchronization

/// Outbound HTTP to AI providers: one pooled client, JSON in and out, retries with
/// exponential backoff on 429, 5xx and transport failures.
///
/// Delay before attempt n+1 is `retryBaseMilliseconds × 2^(n−1)`, capped at
/// `maxRetryDelayMilliseconds`. A response body is read up to `maxResponseBytes` (a provider
/// cannot make the server buffer without bound); a streamed reply is consumed as Server-Sent
/// Events line by line with the same cap per line.
public final class AITransport: Sendable {
    public struct Policy: Sendable {
        public var attempts = 3
        public var retryBaseMilliseconds = 500
        public var maxRetryDelayMilliseconds = 10_000
        public var connectTimeoutSeconds: Int64 = 10
        public var embeddingTimeoutSeconds: Int64 = 90
        public var promptTimeoutSeconds: Int64 = 120
        public init() {}
    }

    /// Largest provider reply read (embeddings of 2048 inputs × 3072 floats as JSON fit).
    public static let maxResponseBytes = 256 << 20
    /// Longest single SSE line of a streamed reply.
    public static let maxStreamLineBytes = 1 << 20

    let client: HTTPClient
    public let policy: Policy

    public init(policy: Policy = Policy()) {
        self.policy = policy
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(policy.connectTimeoutSeconds)))
        configuration.decompression = .enabled(limit: .size(Self.maxResponseBytes))
        // Our own attempts (with backoff) retry a failed connect; the client's would keep trying
        // until the connect timeout, so an unreachable provider took 10 s per attempt to fail.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 16
        // A redirect would carry `x-api-key` (which the client does not strip) to another host.
        configuration.redirectConfiguration = .disallow
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    deinit {
        // Not `syncShutdown`: the last reference may go on an event loop, where it would trap.
        let client = self.client
        Task.detached { try? await client.shutdown() }
    }

    /// POSTs `body` and returns the parsed JSON reply, retrying what is worth retrying.
    func postJSON(_ url: String, headers: [(String, String)], body: JSONValue, timeoutSeconds: Int64, call: ProviderCall) async throws -> JSONValue {
        var attempt = 0
        var previousOutcome = ""
        while true {
            attempt += 1
            do {
                return try await attemptJSON(url, headers: headers, body: body, timeoutSeconds: timeoutSeconds, call: call,
                                             retrying: attempt > 1 ? previousOutcome : nil)
            } catch let failure as AIProviderFailure {
                guard failure.worthRetrying, attempt < policy.attempts else { throw failure }
                previousOutcome = failure.status.map(Self.outcome) ?? "transport_error"
            }
            try await Task.sleep(for: .milliseconds(min(policy.maxRetryDelayMilliseconds, policy.retryBaseMilliseconds << (attempt - 1))))
        }
    }

    /// One request, observed (its duration excludes any backoff before it).
    private func attemptJSON(_ url: String, headers: [(String, String)], body: JSONValue, timeoutSeconds: Int64, call: ProviderCall,
                             retrying reason: String?) async throws -> JSONValue {
        let provider = call.provider.token
        let started = ContinuousClock.now
        var outcome = "transport_error"
        defer { observe(call, outcome: outcome, started: started, retryReason: reason) }
        do {
            let response = try await client.execute(request(url, headers: headers, body: body), timeout: .seconds(timeoutSeconds))
            let status = Int(response.status.code)
            outcome = Self.outcome(status)
            guard (200..<300).contains(status) else {
                let bytes = try await response.body.collect(upTo: Self.maxErrorBodyBytes)
                throw AIProviderFailure(provider: provider, status: status, message: Self.errorMessage(in: bytes))
            }
            let bytes = try await response.body.collect(upTo: Self.maxResponseBytes)
            do {
                return try JSONValue.parse(utf8: Array(bytes.readableBytesView))
            } catch {
                throw AIProviderFailure(provider: provider, status: status, message: "the reply is not JSON")
            }
        } catch let failure as AIProviderFailure {
            throw failure
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw AIProviderFailure(provider: provider, status: nil, message: Self.describe(error))
        }
    }

    /// Largest error reply read (only its start is shown).
    static let maxErrorBodyBytes = 64 << 10

    /// POSTs `body` and hands each `data:` payload of the Server-Sent Events reply to `event`
    /// until `[DONE]` or the end of the body. Not retried: tokens may already have been shown.
    func postStreaming(_ url: String, headers: [(String, String)], body: JSONValue, timeoutSeconds: Int64, call: ProviderCall,
                       event: (JSONValue) async throws -> Void) async throws {
        let provider = call.provider.token
        let started = ContinuousClock.now
        var outcome = "transport_error"
        defer { observe(call, outcome: outcome, started: started, retryReason: nil) }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request(url, headers: headers + [("Accept", "text/event-stream")], body: body), timeout: .seconds(timeoutSeconds))
        } catch {
            throw AIProviderFailure(provider: provider, status: nil, message: Self.describe(error))
        }
        let status = Int(response.status.code)
        outcome = Self.outcome(status)
        guard (200..<300).contains(status) else {
            let bytes = (try? await response.body.collect(upTo: Self.maxErrorBodyBytes)) ?? ByteBuffer()
            throw AIProviderFailure(provider: provider, status: status, message: Self.errorMessage(in: bytes))
        }
        var line: [UInt8] = []
        do {
            for try await chunk in response.body {
                for byte in chunk.readableBytesView {
                    guard byte == UInt8(ascii: "\n") else {
                        line.append(byte)
                        guard line.count <= Self.maxStreamLineBytes else {
                            throw AIProviderFailure(provider: provider, status: status, message: "a streamed event is longer than \(Self.maxStreamLineBytes) bytes")
                        }
                        continue
                    }
                    if line.last == UInt8(ascii: "\r") { line.removeLast() }
                    defer { line.removeAll(keepingCapacity: true) }
                    guard line.starts(with: Array("data:".utf8)) else { continue }
                    let payload = String(decoding: line.dropFirst(5), as: UTF8.self).trimmingSpaces()
                    if payload == "[DONE]" { return }
                    guard !payload.isEmpty, let json = try? JSONValue.parse(payload) else { continue }
                    do { try await event(json) } catch { throw ReceiverFailure(underlying: error) }
                }
            }
        } catch let failure as AIProviderFailure {
            throw failure
        } catch let receiver as ReceiverFailure {
            throw receiver.underlying  // the reader went away: not the provider's fault
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw AIProviderFailure(provider: provider, status: status, message: Self.describe(error))
        }
    }

    /// An error thrown by whoever receives the streamed pieces.
    private struct ReceiverFailure: Error { var underlying: any Error }

    /// One provider request as metrics see it: labels never carry content.
    public struct RequestRecord: Sendable {
        public var provider: String
        public var model: String
        /// `ok`, `http_429`, `http_4xx`, `http_5xx`, `http_error` or `transport_error`.
        public var outcome: String
        public var nanoseconds: Int64
        /// Why this request repeats a failed one (the failed one's outcome); nil: a first try.
        public var retryReason: String?
    }

    /// Told of every provider request (the server turns them into Prometheus metrics).
    public let observer = Mutex<(@Sendable (RequestRecord) -> Void)?>(nil)

    private func observe(_ call: ProviderCall, outcome: String, started: ContinuousClock.Instant, retryReason: String?) {
        guard let observer = observer.withLock({ $0 }) else { return }
        let elapsed = ContinuousClock.now - started
        observer(RequestRecord(provider: call.provider.token, model: call.model, outcome: outcome,
                               nanoseconds: elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000, retryReason: retryReason))
    }

    static func outcome(_ status: Int) -> String {
        switch status {
        case 200..<300: return "ok"
        case 429: return "http_429"
        case 400..<500: return "http_4xx"
        case 500..<600: return "http_5xx"
        default: return "http_error"
        }
    }

    private func request(_ url: String, headers: [(String, String)], body: JSONValue) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if !headers.contains(where: { $0.0 == "Accept" }) { request.headers.add(name: "Accept", value: "application/json") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body.utf8))
        return request
    }

    /// `error.message` of a provider's JSON error body, else the start of the body.
    static func errorMessage(in bytes: ByteBuffer) -> String {
        let raw = Array(bytes.readableBytesView.prefix(64 << 10))
        if let json = try? JSONValue.parse(utf8: raw) {
            if case .string(let message)? = json["error"]?["message"] { return message }
            if case .string(let message)? = json["error"] { return message }
            if case .string(let message)? = json["message"] { return message }
        }
        let text = String(decoding: raw.prefix(300), as: UTF8.self)
        return text.isEmpty ? "empty reply" : text
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            if error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout { return "timed out" }
            return "\(error)"
        }
        return "\(error)"
    }
}

/// A provider call that failed: its HTTP status when there was one.
struct AIProviderFailure: Error, CustomStringConvertible {
    var provider: String
    var status: Int?
    var message: String

    /// 429, 5xx and transport failures may pass; anything else the caller must fix.
    var worthRetrying: Bool {
        guard let status else { return true }
        return status == 429 || status >= 500
    }

    var description: String {
        if let status { return "\(provider) returned HTTP \(status): \(message)" }
        return "\(provider) could not be reached: \(message)"
    }

    /// A request the provider rejected as malformed (an unknown model, a bad input) is the
    /// caller's to fix (22023, HTTP 400); anything else — its keys, its limits, its outages —
    /// is the provider's (58000, HTTP 502).
    var redError: RedError {
        if let status, [400, 404, 413, 422].contains(status) { return RedError(.invalidArgument, description) }
        return RedError(.aiProviderFailed, description)
    }
}
