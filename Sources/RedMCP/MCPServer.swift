import Foundation
import Logging
import MCP
import RedCore
import RedDB

/// RedDB's MCP server: AI agents reach one database through tools, over stdio (`red mcp`) or
/// over HTTP (`POST /mcp` of `red server`, MCP's Streamable HTTP transport, stateless).
///
/// The SDK's `Server` runs the JSON-RPC lifecycle (`initialize` with version negotiation,
/// `ping`, -32601 for unknown methods); this type lists the tools (`tools/list`) and runs
/// them (`tools/call`). A tool's JSON result travels as one text content item; a failed call
/// — a bad argument, an unknown tool, any `RedError` — is a result with `isError: true` and
/// the error's code, SQLSTATE and message as its text, not a JSON-RPC error (MCP's rule).
///
/// Every call runs on a fresh session from the caller's session factory, as every HTTP
/// request does: over stdio the peer is trusted as an embedded caller would be (upstream does
/// not authenticate MCP calls either); over HTTP the session carries the authenticated
/// caller's access. A caller that may only read is listed only the reading tools.
public struct RedMCPServer: Sendable {
    public static let name = "reddb-mcp"
    public let database: Database
    /// Every session only reads (`red mcp --read-only`): writing tools are not listed, and a
    /// write through `reddb_query` fails with 42501.
    public let readOnly: Bool
    let tools: [MCPTool]

    public init(database: Database, readOnly: Bool = false) {
        self.database = database
        self.readOnly = readOnly
        tools = Self.catalog
    }

    /// Every tool, and each as the SDK lists it: built once per process, not per HTTP request.
    static let catalog = QueryTools.all + EntityTools.all + KeyValueAndSearchTools.all + GraphAndAskTools.all
    private static let listedTools: [String: Tool] = Dictionary(uniqueKeysWithValues: catalog.map { tool in
        // The schemas are JSON literals of ours, which the SDK always reads.
        let schema = (try? mcpValue(tool.inputSchema)) ?? .object([:])
        return (tool.name, Tool(name: tool.name, description: tool.description, inputSchema: schema, annotations: .init(readOnlyHint: tool.readOnly)))
    })

    /// The tool names a caller with `access` (by default, this server's stdio peer) is listed,
    /// in `tools/list` order.
    public func toolNames(for access: SessionAccess? = nil) -> [String] { listed(for: access ?? session().access).map(\.name) }

    /// A session of `database` as this server gives its stdio peer.
    public func session() -> Session {
        let session = database.session()
        if readOnly { session.access = .readOnly(principal: "this MCP server (red mcp --read-only)") }
        return session
    }

    /// Serves `transport` until its input ends (and every request read has been answered).
    public func run(transport: any Transport) async throws {
        let server = await sdkServer(makeSession: { self.session() })
        try await server.start(transport: transport)
        await server.waitUntilCompleted()
        await server.stop()
    }

    /// One MCP Streamable HTTP request, answered without server-side state: a POST carries one
    /// JSON-RPC message and gets its answer as JSON (a notification gets 202); GET and DELETE
    /// get 405, as a stateless server may answer. The SDK's transport checks the headers
    /// (`Accept`, `Content-Type`, `MCP-Protocol-Version`) and refuses browser `Origin`s other than
    /// localhost, against DNS rebinding. Each request gets its own SDK server, so clients never
    /// share request ids or initialization state.
    public func respond(to request: MCP.HTTPRequest, makeSession: @escaping @Sendable () -> Session) async -> MCP.HTTPResponse {
        let transport = StatelessHTTPServerTransport()
        do {
            let server = await sdkServer(makeSession: makeSession)
            try await server.start(transport: transport)
            let response = await transport.handleRequest(request)
            await server.stop()
            return response
        } catch {
            return .error(statusCode: 500, .internalError("\(error)"))
        }
    }

    /// An SDK server with the tools handlers, each call on a session from `makeSession`.
    private func sdkServer(makeSession: @escaping @Sendable () -> Session) async -> Server {
        let server = Server(name: Self.name, version: RedDB.version,
                            instructions: "RedDB: tables, documents, key-value, graphs and vectors in one database. Start with reddb_collections, then reddb_query.",
                            capabilities: .init(tools: .init(listChanged: false)))
        let access = makeSession().access
        let listed = listed(for: access).compactMap { Self.listedTools[$0.name] }
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: listed) }
        await server.withMethodHandler(CallTool.self) { params in
            let arguments = try params.arguments.map { try Self.jsonValue(.object($0)) } ?? .null
            let (text, isError) = await call(params.name, arguments, session: makeSession())
            return CallTool.Result(content: [.text(text)], isError: isError)
        }
        return server
    }

    /// The tools a caller with `access` sees: all of them, or when it may only read, the
    /// reading ones and `reddb_query` (whose writes its session then refuses).
    private func listed(for access: SessionAccess) -> [MCPTool] {
        access == .readWrite ? tools : tools.filter { $0.readOnly || $0.name == "reddb_query" }
    }

    /// Runs the tool `name` on `session`: its JSON result as text, or the error's text and `true`.
    public func call(_ name: String, _ arguments: JSONValue, session: Session? = nil) async -> (text: String, isError: Bool) {
        let session = session ?? self.session()
        guard let tool = listed(for: session.access).first(where: { $0.name == name }) else {
            return ("unknown tool '\(name)'; tools/list names them", true)
        }
        do {
            let properties: [String]
            if case .object(let members)? = tool.inputSchema["properties"] { properties = members.map(\.0) } else { properties = [] }
            let args = try ToolArguments(arguments, allowed: properties)
            return (try await tool.run(args, session).text, false)
        } catch let error as RedError {
            return (error.description, true)
        } catch {
            return ("\(error)", true)
        }
    }

    /// The SDK's JSON value of ours (object keys then have no order: schemas do not need one).
    static func mcpValue(_ json: JSONValue) throws -> MCP.Value {
        try JSONDecoder().decode(MCP.Value.self, from: Data(json.utf8))
    }

    /// Ours of the SDK's, keys sorted: the SDK hands arguments over as a dictionary, which has
    /// lost the order the client wrote them in, so a sorted order at least is the same each time.
    static func jsonValue(_ value: MCP.Value) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try JSONValue.parse(utf8: Array(try encoder.encode(value)))
    }
}
