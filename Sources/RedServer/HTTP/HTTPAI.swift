import Hummingbird
import NIOCore
import RedCore
import RedDB

/// `POST /ai/embeddings`, `/ai/prompt`, `/ai/ask`, `/ai/credentials` (bodies in
/// `AIOperations.swift`), and `ASK … STREAM` through `POST /query` as Server-Sent Events:
/// `event: sources` `{"sources_flat":[…]}`, then `event: answer_token` `{"text"}` per word,
/// then `event: validation` `{"audit":{…},"ok","warnings":[…]}` — or one `event: error`
/// `{"code","message"}`. Errors are SSE frames too (status 200), as upstream sends them. The
/// ASK runs to its end before the first frame (the provider is not streamed through yet).
extension HTTPRoutes {
    func registerAI(on router: Router<BasicRequestContext>) {
        router.post("/ai/embeddings") { request, _ in Self.json(try await self.operations.embeddings(try await self.body(request))) }
        router.post("/ai/prompt") { request, _ in Self.json(try await self.operations.prompt(try await self.body(request))) }
        router.post("/ai/ask") { request, _ in Self.json(try await self.operations.ask(try await self.body(request))) }
        router.post("/ai/credentials") { request, _ in
            try self.requireAdminOnceAuthenticated("/ai/credentials")
            return Self.json(try await self.operations.credentials(try await self.body(request)))
        }
    }

    /// True when `sql` reads as `ASK … STREAM` (only used to answer a failed one as SSE).
    static func looksLikeAskStream(_ sql: String) -> Bool {
        let words = sql.lowercased().split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" || $0 == ";" })
        return words.first == "ask" && words.contains("stream")
    }

    /// The SSE reply of a streamed ASK.
    static func askEvents(_ result: QueryResult) -> Response {
        let envelope = CollectionOperations.askEnvelope(result)
        var frames = frame("sources", .object([("sources_flat", envelope["sources_flat"] ?? .array([]))]))
        if case .array(let tokens)? = envelope["answer_tokens"] {
            for token in tokens { frames += frame("answer_token", .object([("text", token)])) }
        }
        let validation = envelope["validation"] ?? .object([])
        let audit = JSONValue.object(["cache_hit", "completion_tokens", "model", "prompt_tokens", "provider"].map { ($0, envelope[$0] ?? .null) })
        frames += frame("validation", .object([("audit", audit), ("ok", validation["ok"] ?? .bool(false)), ("warnings", validation["warnings"] ?? .array([]))]))
        return sse(frames)
    }

    static func askErrorEvent(_ error: RedError) -> Response {
        sse(frame("error", .object([("code", .string(error.code.rawValue)), ("message", .string(error.message))])))
    }

    /// `event: name` and the JSON split into `data:` lines, then a blank line.
    static func frame(_ event: String, _ payload: JSONValue) -> String {
        "event: \(event)\n" + payload.text.split(separator: "\n", omittingEmptySubsequences: false).map { "data: \($0)\n" }.joined() + "\n"
    }

    static func sse(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
