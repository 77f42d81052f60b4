import Foundation
import RedCore
import Testing

/// RedDB's MCP server driven by the official MCP Python SDK (`mcp`,
/// `Tests/clients/mcp_agent.py`) as an agent host drives any MCP server: `red mcp` as a
/// subprocess on stdio, and `red server`'s `/mcp` over Streamable HTTP; and `/mcp` behind the
/// auth gate. The SDK is installed by scripts/install-python-clients; without it those tests
/// are skipped with a notice, unless REDDB_REQUIRE_PYTHON_CLIENTS=1.
@Suite struct MCPClientTests {
    static let script = URL(fileURLWithPath: PythonClientTests.script).deletingLastPathComponent().appendingPathComponent("mcp_agent.py").path

    /// Checks what `mcp_agent.py` printed: the same over stdio and over HTTP.
    static func checkAgentRun(_ run: (status: Int32, stdout: String, stderr: String)) {
        #expect(run.status == 0, "\(run.stderr)")
        guard run.status == 0, let line = run.stdout.split(separator: "\n").last,
              let seen = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return }
        #expect(seen["server"] as? String == "reddb-mcp")
        // The SDK asks for its newest protocol version; ours answers it when it knows it.
        #expect((seen["protocol"] as? String)?.hasPrefix("20") == true)
        let tools = seen["tools"] as? [String] ?? []
        for name in ["reddb_query", "reddb_insert_row", "reddb_kv_get", "reddb_search_vector", "reddb_graph_traverse", "reddb.ask"] {
            #expect(tools.contains(name), "tools/list lacks \(name): \(tools)")
        }
        #expect(seen["create_error"] as? Bool == false)
        #expect(seen["inserted"] as? [String] == ["row", "row"])
        #expect(seen["titles"] as? [String] == ["Neuromancer"])
        #expect((seen["kv"] as? [String: Any])?["value"] as? String == "dark")
        let failure = seen["failure"] as? [String: Any]
        #expect(failure?["isError"] as? Bool == true)
        #expect((failure?["text"] as? String)?.contains("42P01") == true)
    }

    @Test func theMCPPythonSDKReachesRedServerOverHTTP() async throws {
        guard await PythonClientTests.available(["mcp"], for: "theMCPPythonSDKReachesRedServerOverHTTP") else { return }
        let server = try ServerProcess()
        defer { server.remove() }
        Self.checkAgentRun(try await PythonClientTests.python([Self.script, "http://127.0.0.1:\(server.httpPort)/mcp"]))
        // The agent's writes are the server's: other clients see them.
        let r = try await HTTPClientTests.call(server, "POST", "/query", body: "SELECT count(*) AS n FROM books")
        #expect(r.json["result"]?["records"] == .array([.object([("edges", .object([])), ("nodes", .object([])), ("paths", .array([])),
                                                                 ("values", .object([("n", .integer(2))])), ("vector_results", .array([]))])]), "\(r.body)")
    }

    /// With auth on, `/mcp` is behind the same gate as `/query`, and tools run as the caller.
    @Test func httpMCPRunsAsTheAuthenticatedCaller() async throws {
        let server = try ServerProcess(environment: ["REDDB_USERNAME": "root", "REDDB_PASSWORD": "root-pw"])
        defer { server.remove() }
        let mcpHeaders = [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream"),
                          ("MCP-Protocol-Version", "2025-06-18")]
        func mcp(_ message: String, token: String?) async throws -> HTTPClientTests.Reply {
            try await HTTPClientTests.call(server, "POST", "/mcp", body: message, token: token, headers: mcpHeaders)
        }
        let list = #"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#
        #expect(try await mcp(list, token: nil).status == 401)
        var r = try await HTTPClientTests.call(server, "POST", "/auth/login", body: #"{"username":"root","password":"root-pw"}"#)
        let root = try AuthSurfaceTests.field(r, "token")
        r = try await HTTPClientTests.call(server, "POST", "/auth/users", body: #"{"username":"ana","password":"ana-pw","role":"read"}"#, token: root)
        #expect(r.status == 201, "\(r.body)")
        r = try await HTTPClientTests.call(server, "POST", "/auth/login", body: #"{"username":"ana","password":"ana-pw"}"#)
        let ana = try AuthSurfaceTests.field(r, "token")

        func toolNames(_ reply: HTTPClientTests.Reply) -> [String] {
            guard case .array(let tools)? = reply.json["result"]?["tools"] else { return [] }
            return tools.compactMap { if case .string(let n)? = $0["name"] { return n } else { return nil } }
        }
        let rootTools = toolNames(try await mcp(list, token: root))
        let anaTools = toolNames(try await mcp(list, token: ana))
        #expect(rootTools.contains("reddb_insert_row") && rootTools.contains("reddb_query"), "\(rootTools)")
        #expect(!anaTools.contains("reddb_insert_row") && anaTools.contains("reddb_query") && anaTools.contains("reddb_scan"), "\(anaTools)")

        func call(_ sql: String, token: String) async throws -> (isError: Bool, text: String) {
            let r = try await mcp(#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"reddb_query","arguments":{"sql":"# + "\"\(sql)\"" + "}}}", token: token)
            guard case .string(let text)? = r.json["result"]?["content"]?.firstElement?["text"] else { return (true, r.body) }
            return (r.json["result"]?["isError"] == .bool(true), text)
        }
        #expect(try await call("CREATE TABLE t (id INT)", token: root).isError == false)
        let refused = try await call("INSERT INTO t VALUES (1)", token: ana)
        #expect(refused.isError && refused.text.contains("42501"), "\(refused)")
        #expect(try await call("SELECT count(*) FROM t", token: ana).isError == false)
        // A message that is both a request and a response is refused; it used to hang for good.
        r = try await mcp(#"{"jsonrpc":"2.0","id":9,"method":"ping","result":{}}"#, token: root)
        #expect(r.status == 400 && r.json["error"]?["code"] == .integer(-32600), "\(r.status) \(r.body)")
        r = try await mcp(#"[{"jsonrpc":"2.0","id":10,"method":"ping","error":{"code":1,"message":"x"}}]"#, token: root)
        #expect(r.status == 400, "\(r.status) \(r.body)")
        // A browser page of another origin is refused (DNS rebinding), whoever it claims to be.
        r = try await HTTPClientTests.call(server, "POST", "/mcp", body: list, token: root, headers: mcpHeaders + [("Origin", "http://evil.example")])
        #expect(r.status == 403, "\(r.body)")
    }

    @Test func theMCPPythonSDKDrivesRedMCP() async throws {
        guard await PythonClientTests.available(["mcp"], for: "theMCPPythonSDKDrivesRedMCP") else { return }
        let directory = NSTemporaryDirectory() + "red-mcp-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let red = try ServerProcess.redPath()
        let database = directory + "/agent.rdb"
        Self.checkAgentRun(try await PythonClientTests.python([Self.script, red, database]))

        // What the agent wrote is in the file once `red mcp` has exited.
        let query = Process()
        query.executableURL = URL(fileURLWithPath: red)
        query.arguments = ["query", "--path", database, "--json", "SELECT count(*) AS n FROM books"]
        let out = Pipe()
        query.standardOutput = out
        try query.run()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        query.waitUntilExit()
        #expect(query.terminationStatus == 0)
        #expect(printed.contains(#""n":2"#), "\(printed)")
    }
}

private extension JSONValue {
    var firstElement: JSONValue? {
        guard case .array(let items) = self else { return nil }
        return items.first
    }
}
