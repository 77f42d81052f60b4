import Foundation
import Logging
import MCP
import RedCore
import RedDB

/// RedDB's MCP server (`red mcp`): AI agents reach one database through tools.
///
/// The SDK's `Server` runs the JSON-RPC lifecycle (`initialize` with version negotiation,
/// `ping`, -32601 for unknown methods); this type lists the tools (`tools/list`) and runs
/// them (`tools/call`). A tool's JSON result travels as one text content item; a failed call
/// — a bad argument, an unknown tool, any `RedError` — is a result with `isError: true` and
/// the error's code, SQLSTATE and message as its text, not a JSON-RPC error (MCP's rule).
///
/// Every call runs on a fresh session of `database`, as every HTTP request does: the stdio
/// peer is trusted as an embedded caller would be (upstream does not authenticate MCP calls
/// either), and calls run concurrently.
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
        let all = QueryTools.all + EntityTools.all + KeyValueAndSearchTools.all + GraphAndAskTools.all
        tools = readOnly ? all.filter { $0.readOnly || $0.name == "reddb_query" } : all
    }

    /// The tool names, in the order `tools/list` gives them.
    public var toolNames: [String] { tools.map(\.name) }

    /// Serves `transport` until its input ends (and every request read has been answered).
    public func run(transport: any Transport) async throws {
        let server = Server(name: Self.name, version: RedDB.version,
                            instructions: "RedDB: tables, documents, key-value, graphs and vectors in one database. Start with reddb_collections, then reddb_query.",
                            capabilities: .init(tools: .init(listChanged: false)))
        let listed = try tools.map { tool in
            Tool(name: tool.name, description: tool.description, inputSchema: try Self.mcpValue(tool.inputSchema),
                 annotations: .init(readOnlyHint: tool.readOnly))
        }
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: listed) }
        await server.withMethodHandler(CallTool.self) { params in
            let arguments = try params.arguments.map { try Self.jsonValue(.object($0)) } ?? .null
            let (text, isError) = await call(params.name, arguments)
            return CallTool.Result(content: [.text(text)], isError: isError)
        }
        try await server.start(transport: transport)
        await server.waitUntilCompleted()
        await server.stop()
    }

    /// Runs the tool `name`: its JSON result as text, or the error's text and `true`.
    public func call(_ name: String, _ arguments: JSONValue) async -> (text: String, isError: Bool) {
        guard let tool = tools.first(where: { $0.name == name }) else {
            return ("unknown tool '\(name)'; tools/list names them", true)
        }
        do {
            let properties: [String]
            if case .object(let members)? = tool.inputSchema["properties"] { properties = members.map(\.0) } else { properties = [] }
            let args = try ToolArguments(arguments, allowed: properties)
            let session = database.session()
            if readOnly { session.access = .readOnly(principal: "this MCP server (red mcp --read-only)") }
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
