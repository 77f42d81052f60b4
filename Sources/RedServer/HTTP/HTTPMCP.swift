import Foundation
import Hummingbird
import MCP
import NIOCore
import RedCore
import RedDB
import RedMCP

/// `/mcp`: RedDB's MCP tools over MCP's Streamable HTTP transport, so an agent reaches a
/// running server (shared with every other client) instead of opening the file itself as
/// `red mcp` does. Stateless (`RedMCPServer.respond`): POST a JSON-RPC message, get its answer
/// as JSON. The route sits behind the HTTP auth gate like `/query`: with auth on, the agent
/// sends `Authorization: Bearer <token or API key>`, and its tools run with that caller's access
/// (a `read` role is listed only the reading tools).
extension HTTPRoutes {
    func registerMCP(on router: Router<BasicRequestContext>) {
        for method in [Hummingbird.HTTPRequest.Method.post, .get, .delete] {
            router.on("/mcp", method: method) { request, _ in try await self.mcp(request) }
        }
    }

    func mcp(_ request: Request) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: context.configuration.maxHTTPBodyBytes)
        if let refusal = Self.ambiguousMCPMessage(body) { return refusal }
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        let message = MCP.HTTPRequest(method: request.method.rawValue, headers: headers,
                                      body: body.readableBytes > 0 ? Data(body.readableBytesView) : nil, path: "/mcp")
        // The caller bound to this request's task, for the sessions the tools open on other tasks.
        let identity = RequestCaller.identity
        let context = self.context
        let reply = await RedMCPServer(database: context.database).respond(to: message) {
            RequestCaller.$identity.withValue(identity) { context.callerSession() }
        }
        var fields = HTTPFields()
        for (name, value) in reply.headers {
            if let fieldName = HTTPFields.Element.Name(name) { fields[fieldName] = value }
        }
        let bytes = reply.bodyData.map { ByteBuffer(bytes: $0) } ?? ByteBuffer()
        return Response(status: .init(code: reply.statusCode), headers: fields, body: ResponseBody(byteBuffer: bytes))
    }

    /// A 400 JSON-RPC "Invalid Request" for a message that is both a request and a response
    /// (`method` with `result` or `error`); nil for any other body, which the SDK judges.
    ///
    /// Why: the SDK's stateless transport takes such a message for a request and waits for its
    /// answer, while its server decodes it as a response and answers nothing, so the request
    /// never returned and held its server, task and connection for good.
    static func ambiguousMCPMessage(_ body: ByteBuffer) -> Response? {
        guard body.readableBytes > 0, let json = try? JSONValue.parse(utf8: Array(body.readableBytesView)) else { return nil }
        let messages: [JSONValue] = if case .array(let batch) = json { batch } else { [json] }
        let ambiguous = messages.contains { message in
            message["method"] != nil && (message["result"] != nil || message["error"] != nil)
        }
        guard ambiguous else { return nil }
        let reply = JSONValue.object([
            ("error", .object([("code", .integer(-32600)), ("message", .string("Invalid Request: a message has either a method or a result/error, not both"))])),
            ("id", .null), ("jsonrpc", .string("2.0")),
        ])
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        return Response(status: .badRequest, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: reply.text)))
    }
}
