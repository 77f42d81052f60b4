import Foundation
import Testing
import RedCore
import RedDB
@testable import RedMCP
#if canImport(Glibc)
import Glibc
#endif

/// The whole server over pipes, as `red mcp` runs on stdin and stdout.
@Suite struct MCPStdioTransportTests {
    /// Writes `input` to a server, closes its input, waits until it has answered everything and
    /// stopped, and returns what it wrote, split into messages.
    func exchange(_ input: [UInt8], maxMessageBytes: Int = 1 << 20) async throws -> [(JSONValue, MCPFraming)] {
        var toServer: [Int32] = [0, 0], fromServer: [Int32] = [0, 0]
        #expect(pipe(&toServer) == 0 && pipe(&fromServer) == 0)
        let server = RedMCPServer(database: try await Database.inMemory())
        let transport = MCPStdioTransport(input: toServer[0], output: fromServer[1], maxMessageBytes: maxMessageBytes)
        let running = Task { try await server.run(transport: transport) }
        input.withUnsafeBytes { _ = Glibc.write(toServer[1], $0.baseAddress, $0.count) }
        close(toServer[1])
        try await running.value
        close(fromServer[1])
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fromServer[0], $0.baseAddress, $0.count) }
            guard n > 0 else { break }
            output += chunk[0..<n]
        }
        close(fromServer[0])
        close(toServer[0])
        var decoder = MCPFrameDecoder()
        decoder.append(output)
        var messages: [(JSONValue, MCPFraming)] = []
        while let event = decoder.next() {
            guard case .message(let bytes, let framing) = event else { Issue.record("unexpected \(event)"); continue }
            messages.append((try JSONValue.parse(utf8: bytes), framing))
        }
        return messages
    }

    func framed(_ json: String) -> [UInt8] { Array("Content-Length: \(json.utf8.count)\r\n\r\n\(json)".utf8) }

    func reply(_ messages: [(JSONValue, MCPFraming)], id: JSONValue) -> JSONValue? {
        messages.first { $0.0["id"] == id }?.0
    }

    @Test func answersContentLengthFramesInKindAndEveryRequestBeforeStopping() async throws {
        let input = framed(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#)
            + framed(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            + framed(#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"reddb_query","arguments":{"sql":"SELECT 40 + $1 AS x","params":[2]}}}"#)
            + framed("{oops") + framed(#"{"jsonrpc":"2.0","id":"three","method":"resources/list"}"#)
            + framed(#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"reddb_kv_get","arguments":{"collection":"nope","key":1}}}"#)
        let messages = try await exchange(input)
        #expect(messages.allSatisfy { $0.1 == .contentLength })
        #expect(messages.count == 5)
        let initialized = reply(messages, id: .integer(1))
        #expect(initialized?["result"]?["serverInfo"]?["name"] == .string("reddb-mcp"))
        #expect(initialized?["result"]?["protocolVersion"] == .string("2024-11-05"))
        #expect(initialized?["result"]?["capabilities"]?["tools"] != nil)
        guard case .string(let text)? = reply(messages, id: .integer(2))?["result"]?["content"]?[0]?["text"] else {
            Issue.record("no query answer: \(messages)"); return
        }
        #expect(try JSONValue.parse(text)["result"]?["records"]?[0]?["values"]?["x"] == .integer(42))
        #expect(reply(messages, id: .null)?["error"]?["code"] == .integer(-32700))
        #expect(reply(messages, id: .string("three"))?["error"]?["code"] == .integer(-32601))
        let badArgument = reply(messages, id: .integer(4))?["result"]
        #expect(badArgument?["isError"] == .bool(true))
        #expect(badArgument?["content"]?[0]?["text"].map { $0.text.contains("'key' must be a non-empty string") } == true)
    }

    @Test func answersLinesInKindAndSkipsWhatIsTooLong() async throws {
        let long = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\",\"params\":{\"pad\":\"" + String(repeating: "x", count: 5000) + "\"}}\n"
        let input = Array((long + "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"ping\"}\n").utf8)
        let messages = try await exchange(input, maxMessageBytes: 4096)
        #expect(messages.allSatisfy { $0.1 == .newline })
        #expect(messages.count == 2)
        #expect(reply(messages, id: .null)?["error"]?["code"] == .integer(-32600))
        #expect(reply(messages, id: .integer(10))?["result"] == .object([]))
    }
}
