import Foundation
import Testing

/// `red mcp` driven by the official MCP Python SDK (`mcp`), as an agent host runs any MCP
/// server: a subprocess on stdio (`Tests/clients/mcp_agent.py`). Installed by
/// scripts/install-python-clients; skipped with a notice without it, unless
/// REDDB_REQUIRE_PYTHON_CLIENTS=1.
@Suite struct MCPClientTests {
    @Test func theMCPPythonSDKDrivesRedMCP() async throws {
        guard PythonClientTests.available(["mcp"], for: "theMCPPythonSDKDrivesRedMCP") else { return }
        let directory = NSTemporaryDirectory() + "red-mcp-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let red = try ServerProcess.redPath()
        let database = directory + "/agent.rdb"
        let script = URL(fileURLWithPath: PythonClientTests.script).deletingLastPathComponent().appendingPathComponent("mcp_agent.py").path
        let run = try PythonClientTests.python([script, red, database])
        #expect(run.status == 0, "\(run.stderr)")
        guard run.status == 0, let line = run.stdout.split(separator: "\n").last,
              let seen = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return }
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
