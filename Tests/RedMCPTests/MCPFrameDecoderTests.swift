import Testing
@testable import RedMCP

@Suite struct MCPFrameDecoderTests {
    private func events(_ pieces: [String], limit: Int = 1 << 20) -> [MCPFrameDecoder.Event] {
        var decoder = MCPFrameDecoder(maxMessageBytes: limit)
        var out: [MCPFrameDecoder.Event] = []
        for piece in pieces {
            decoder.append(Array(piece.utf8))
            while let e = decoder.next() { out.append(e) }
        }
        return out
    }

    private func message(_ text: String, _ framing: MCPFraming) -> MCPFrameDecoder.Event { .message(Array(text.utf8), framing) }

    @Test func readsLinesOfJSON() {
        #expect(events(["{\"a\":1}\n{\"b\"", ":2}\r\n\n[1]\n"]) == [message("{\"a\":1}", .newline), message("{\"b\":2}", .newline), message("[1]", .newline)])
    }

    @Test func readsContentLengthFramesInPieces() {
        let body = "{\"jsonrpc\":\"2.0\"}"
        let framed = "Content-Length: \(body.utf8.count)\r\n\r\n\(body)\r\ncontent-length:2\n\n{}"
        // Every split point: the result does not depend on how the bytes arrive.
        for cut in 0...framed.utf8.count {
            let bytes = Array(framed.utf8)
            let pieces = [String(decoding: bytes[..<cut], as: UTF8.self), String(decoding: bytes[cut...], as: UTF8.self)]
            #expect(events(pieces) == [message(body, .contentLength), message("{}", .contentLength)])
        }
    }

    @Test func mixesFramings() {
        #expect(events(["Content-Length: 2\r\n\r\n{}{\"x\":1}\n"]) == [message("{}", .contentLength), message("{\"x\":1}", .newline)])
    }

    @Test func dropsAHeaderWithoutALength() {
        #expect(events(["X-Other: 1\r\n\r\n{}\n"]) == [.malformedHeader("a message header without a valid Content-Length"), message("{}", .newline)])
        #expect(events(["Content-Length: -4\r\n\r\n{}\n"]).first == .malformedHeader("a message header without a valid Content-Length"))
    }

    @Test func skipsOversizedMessagesAndGoesOn() {
        #expect(events(["Content-Length: 20\r\n\r\n", String(repeating: "x", count: 20), "{}\n"], limit: 10)
                == [.oversized(bytes: 20, .contentLength), message("{}", .newline)])
        #expect(events(["{\"a\":\"" + String(repeating: "x", count: 30) + "\"}\n{}\n"], limit: 10)
                == [.oversized(bytes: 38, .newline), message("{}", .newline)])
        // A line still without its newline is dropped as soon as it is too long, then read past.
        #expect(events(["{" + String(repeating: "x", count: 30), String(repeating: "y", count: 5) + "\n{}\n"], limit: 10)
                == [.oversized(bytes: nil, .newline), message("{}", .newline)])
    }

    @Test func aLineThatIsNeitherJSONNorAHeaderIsALine() {
        #expect(events(["not json\n{}\n"]) == [message("not json", .newline), message("{}", .newline)])
        #expect(events(["Content-Length 4\n"]) == [message("Content-Length 4", .newline)])
    }

    @Test func anEndlessHeaderIsFatal() {
        let out = events(["Content-Length: 2\r\n" + String(repeating: "X-Padding: y\r\n", count: MCPFrameDecoder.maxHeaderBytes / 8)])
        #expect(out.count == 1)
        if case .fatal = out.first {} else { Issue.record("expected fatal, got \(out)") }
    }
}
