import Hummingbird
import NIOCore
import RedAI
import RedCore
import RedDB

/// `POST /ai/embeddings`, `/ai/prompt`, `/ai/ask`, `/ai/credentials` (bodies in
/// `AIOperations.swift`), and `ASK … STREAM` through `POST /query` as Server-Sent Events:
/// `event: sources` `{"sources_flat":[…]}`, then `event: answer_token` `{"text"}` per piece
/// the provider streams, then `event: validation` `{"audit":{…},"ok","warnings":[…]}` — or
/// one `event: error` `{"code","message"}`. Errors are SSE frames too (status 200), as upstream
/// sends them.
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

    /// `ASK … STREAM` as Server-Sent Events, sent as they happen: `sources` once retrieval is
    /// done, `answer_token` per piece the provider writes (`retry` before a strict retry's
    /// pieces), then `validation` — or `error` at any point. Closing the connection cancels the ASK.
    func streamAsk(_ sql: String, _ parameters: [Value], session: Session) -> Response {
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let metrics = context.metrics
        let task = Task {
            let started = ContinuousClock.now
            do {
                let result = try await session.executeAsk(sql, parameters: parameters) { event in
                    switch event {
                    case .sources(let sources):
                        continuation.yield(ByteBuffer(string: Self.frame("sources", .object([("sources_flat", .array(sources.map(\.json)))]))))
                    case .token(let piece):
                        continuation.yield(ByteBuffer(string: Self.frame("answer_token", .object([("text", .string(piece))]))))
                    case .retry(let problems):
                        continuation.yield(ByteBuffer(string: Self.frame("retry", .object([("warnings", .array(problems.map { .object([("kind", .string($0.kind)), ("detail", .string($0.detail))]) }))]))))
                    }
                }
                let envelope = AskJSONRequest.envelope(result)
                let validation = envelope["validation"] ?? .object([])
                let audit = JSONValue.object(["cache_hit", "completion_tokens", "model", "prompt_tokens", "provider"].map { ($0, envelope[$0] ?? .null) })
                continuation.yield(ByteBuffer(string: Self.frame("validation", .object([
                    ("audit", audit), ("ok", validation["ok"] ?? .bool(false)), ("warnings", validation["warnings"] ?? .array([])),
                ]))))
                metrics.recordStatement(surface: "http", kind: "ask", nanoseconds: (ContinuousClock.now - started).wholeNanoseconds)
            } catch {
                let red = error as? RedError ?? RedError(.internalError, "\(error)")
                metrics.recordError(surface: "http", sqlState: red.sqlState)
                continuation.yield(ByteBuffer(string: Self.frame("error", .object([("code", .string(red.code.rawValue)), ("message", .string(red.message))]))))
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: ResponseBody(asyncSequence: stream))
    }

    /// `event: name` and the JSON split into `data:` lines, then a blank line.
    static func frame(_ event: String, _ payload: JSONValue) -> String {
        "event: \(event)\n" + payload.text.split(separator: "\n", omittingEmptySubsequences: false).map { "data: \($0)\n" }.joined() + "\n"
    }
}
