import Foundation
import Hummingbird
import Logging
import NIOCore
import RedCore
import Synchronization

/// An OpenAI- and Anthropic-compatible server for tests: deterministic embeddings and answers,
/// with failures chosen by the caller, and a log of what it was sent.
///
/// - `POST /v1/embeddings`: each input becomes a `dimensions`-long (default 16) bag of its
///   lower-cased words hashed into buckets, L2-normalised — texts sharing words are close.
/// - `POST /v1/chat/completions` answers from the prompt's first source line: "<content> [^1]".
///   The model name picks misbehaviour: `cites-out-of-range` (cites [^99] always),
///   `cites-badly-once` (only the first call), `echo` (the prompt back), `slow` (answers
///   after 20 s). With `"stream": true`
///   the answer comes as Server-Sent Events, one word per event, then usage and `[DONE]`.
/// - `POST /v1/messages`: Anthropic's shape of the same answer (needs `x-api-key`).
/// - Anything under `/down/`: HTTP 503. Requests without `Authorization: Bearer test-key`
///   (OpenAI paths) get 401.
public final class FakeAIProvider: Sendable {
    public struct Call: Sendable {
        public var path: String
        public var body: JSONValue
    }

    private let calls = Mutex<[Call]>([])
    private let portBox = Mutex<Int?>(nil)
    private let task = Mutex<Task<Void, any Error>?>(nil)
    private let badOnce = Mutex(true)

    public init() {}

    public var port: Int { portBox.withLock { $0 } ?? 0 }
    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }
    public var downURL: String { "http://127.0.0.1:\(port)/down/v1" }
    public var recorded: [Call] { calls.withLock { $0 } }

    /// The environment a database needs to use this server as `openai` (and `anthropic`).
    public var environment: [String: String] {
        ["REDDB_OPENAI_API_BASE": baseURL, "REDDB_OPENAI_API_KEY": "test-key",
         "REDDB_ANTHROPIC_API_BASE": baseURL, "REDDB_ANTHROPIC_API_KEY": "test-key",
         "REDDB_GROQ_API_BASE": downURL, "REDDB_GROQ_API_KEY": "test-key", "REDDB_CUSTOM_API_KEY": "test-key"]
    }

    public func start() async throws {
        let router = Router()
        router.post("/v1/embeddings") { request, _ in try await self.embeddings(request) }
        router.post("/v1/chat/completions") { request, _ in try await self.chat(request) }
        router.post("/v1/messages") { request, _ in try await self.messages(request) }
        router.post("/down/v1/embeddings") { _, _ in Response(status: .serviceUnavailable) }
        router.post("/down/v1/chat/completions") { _, _ in Response(status: .serviceUnavailable) }
        let ready = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in ready.continuation.yield(channel.localAddress?.port ?? 0) },
                              logger: Logger(label: "fake-ai", factory: { _ in SwiftLogNoOpLogHandler() }))
        task.withLock { $0 = Task { try await app.runService(gracefulShutdownSignals: []) } }
        for await port in ready.stream {
            portBox.withLock { $0 = port }
            break
        }
    }

    public func stop() {
        task.withLock { $0?.cancel() }
    }

    private func record(_ request: Request, _ path: String) async throws -> JSONValue {
        var request = request
        let buffer = try await request.collectBody(upTo: 16 << 20)
        let body = try JSONValue.parse(utf8: Array(buffer.readableBytesView))
        calls.withLock { $0.append(Call(path: path, body: body)) }
        return body
    }

    private func unauthorized(_ request: Request) -> Response? {
        guard request.headers[.authorization] == "Bearer test-key" else {
            return json(.object([("error", .object([("message", .string("Incorrect API key provided"))]))]), status: .unauthorized)
        }
        return nil
    }

    private func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.utf8)))
    }

    public static func embedding(_ text: String, dimensions: Int = 16) -> [Float] {
        var v = [Float](repeating: 0, count: dimensions)
        for word in text.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }) {
            var h: UInt64 = 1469598103934665603
            for b in word.utf8 { h = (h ^ UInt64(b)) &* 1099511628211 }
            v[Int(h % UInt64(dimensions))] += 1
        }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm == 0 ? v : v.map { $0 / norm }
    }

    private func embeddings(_ request: Request) async throws -> Response {
        let body = try await record(request, "embeddings")
        if let denied = unauthorized(request) { return denied }
        let inputs: [String]
        switch body["input"] {
        case .string(let s)?: inputs = [s]
        case .array(let items)?: inputs = items.compactMap { if case .string(let s) = $0 { s } else { nil } }
        default: return json(.object([("error", .object([("message", .string("input is required"))]))]), status: .badRequest)
        }
        var dimensions = 16
        if case .integer(let d)? = body["dimensions"] { dimensions = Int(d) }
        // Out of order on purpose: clients must sort by index.
        let data: [JSONValue] = inputs.enumerated().reversed().map { i, text in
            .object([("index", .integer(Int64(i))), ("embedding", .array(Self.embedding(text, dimensions: dimensions).map { .float(Double($0)) }))])
        }
        return json(.object([("model", body["model"] ?? .null), ("data", .array(data)),
                             ("usage", .object([("prompt_tokens", .integer(Int64(inputs.count))), ("total_tokens", .integer(Int64(inputs.count)))]))]))
    }

    /// The answer to a prompt, per the model's behaviour.
    private func answer(prompt: String, model: String) -> String {
        if model == "echo" { return prompt }
        if model == "cites-out-of-range" { return "The answer is unknown [^99]." }
        if model == "cites-badly-once", badOnce.withLock({ let first = $0; $0 = false; return first }) { return "Badly cited [^0]." }
        guard let line = prompt.split(separator: "\n").first(where: { $0.hasPrefix("[^1] ") }) else {
            return "The sources do not say."
        }
        let content = line.split(separator: ":", maxSplits: 1).dropFirst().first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        return "From the data: \(content) [^1]."
    }

    private func prompt(of body: JSONValue) -> String {
        guard case .array(let messages)? = body["messages"], case .string(let text)? = messages.first?["content"] else { return "" }
        return text
    }

    private func chat(_ request: Request) async throws -> Response {
        let body = try await record(request, "chat")
        if let denied = unauthorized(request) { return denied }
        let model = body["model"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? ""
        if model == "slow" { try await Task.sleep(for: .seconds(20)) }
        let text = answer(prompt: prompt(of: body), model: model)
        if body["stream"] == .bool(true) {
            var events = ""
            for word in text.split(separator: " ", omittingEmptySubsequences: false).enumerated().map({ $0.offset == 0 ? String($0.element) : " " + $0.element }) {
                let chunk = JSONValue.object([("choices", .array([.object([("delta", .object([("content", .string(word))]))])]))])
                events += "data: \(chunk.text)\n\n"
            }
            let usage = JSONValue.object([("choices", .array([])), ("usage", .object([("prompt_tokens", .integer(7)), ("completion_tokens", .integer(3))]))])
            events += "data: \(usage.text)\n\ndata: [DONE]\n\n"
            return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody(byteBuffer: ByteBuffer(string: events)))
        }
        return json(.object([
            ("choices", .array([.object([("message", .object([("role", .string("assistant")), ("content", .string(text))])), ("finish_reason", .string("stop"))])])),
            ("usage", .object([("prompt_tokens", .integer(Int64(prompt(of: body).utf8.count / 4))), ("completion_tokens", .integer(Int64(text.utf8.count / 4))),
                               ("total_tokens", .integer(0))])),
        ]))
    }

    private func messages(_ request: Request) async throws -> Response {
        let body = try await record(request, "messages")
        func header(_ name: String) -> String? { request.headers.first { $0.name.canonicalName == name }?.value }
        guard header("x-api-key") == "test-key", header("anthropic-version") == "2023-06-01" else {
            return json(.object([("error", .object([("message", .string("invalid x-api-key"))]))]), status: .unauthorized)
        }
        let model = body["model"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? ""
        let text = answer(prompt: prompt(of: body), model: model)
        return json(.object([("content", .array([.object([("type", .string("text")), ("text", .string(text))])])), ("stop_reason", .string("end_turn")),
                             ("usage", .object([("input_tokens", .integer(10)), ("output_tokens", .integer(5))]))]))
    }
}
