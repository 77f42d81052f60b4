import Foundation
import Logging
import MCP
import RedCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The MCP stdio transport of `red mcp`: JSON-RPC messages in on standard input, out on
/// standard output, in either framing (`MCPFraming`), logs on standard error only.
///
/// Why not the SDK's `StdioTransport`: it reads newline-framed messages only (upstream's
/// clients send `Content-Length` headers), polls a non-blocking descriptor every 10 ms, has
/// no size limit, and answers unparseable JSON with a made-up id. Here a dedicated thread
/// blocks in `read`, `MCPFrameDecoder` splits and bounds the messages, and what is not JSON
/// is answered right here with -32700 and `"id": null`, as JSON-RPC 2.0 asks.
///
/// At end of input the transport does not end the session at once: it waits until every
/// request it passed on has been answered, so `printf '…' | red mcp` gets all its answers.
public actor MCPStdioTransport: Transport {
    public nonisolated let logger: Logger
    private let input: Int32
    private let maxMessageBytes: Int
    private let messages: AsyncThrowingStream<Data, any Error>
    private let link: Link
    private var started = false

    public init(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO, maxMessageBytes: Int = 16 << 20,
                logger: Logger = Logger(label: "reddb.mcp")) {
        self.input = input
        self.maxMessageBytes = maxMessageBytes
        self.logger = logger
        let (stream, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
        messages = stream
        link = Link(output: output, continuation: continuation)
    }

    public func connect() async throws {
        guard !started else { return }
        started = true
        let thread = Thread { [input, maxMessageBytes, link, logger] in
            Self.readLoop(input: input, maxMessageBytes: maxMessageBytes, link: link, logger: logger)
        }
        thread.name = "mcp-stdin"
        thread.start()
    }

    public func disconnect() async { link.finish() }

    public func send(_ data: Data) async throws {
        do {
            try link.write(Array(data), isReply: true)
        } catch {
            link.finish()
            throw error
        }
    }

    public func receive() -> AsyncThrowingStream<Data, any Error> { messages }

    /// Reads until end of input, passing each message on (or answering it, when it is bad).
    private static func readLoop(input: Int32, maxMessageBytes: Int, link: Link, logger: Logger) {
        var decoder = MCPFrameDecoder(maxMessageBytes: maxMessageBytes)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        reading: while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                if n < 0 { logger.error("mcp: reading standard input failed: errno \(errno)") }
                break
            }
            decoder.append(chunk[0..<n])
            while let event = decoder.next() {
                switch event {
                case .message(let bytes, let framing):
                    link.received(bytes, framing: framing)
                case .oversized(let bytes, let framing):
                    let size = bytes.map { "of \($0) bytes " } ?? ""
                    link.answerError(code: -32600, "a message \(size)exceeds the limit of \(maxMessageBytes) bytes", framing: framing)
                case .malformedHeader(let why):
                    link.answerError(code: -32700, "parse error: \(why)", framing: .contentLength)
                case .fatal(let why):
                    link.answerError(code: -32700, "parse error: \(why)", framing: .contentLength)
                    logger.error("mcp: \(why); closing")
                    break reading
                }
            }
        }
        link.inputEnded()
    }

    /// What the reader thread and the sender share: the output, the framing to answer in, the
    /// requests still unanswered, and the message stream's end.
    final class Link: Sendable {
        private struct State {
            var framing = MCPFraming.newline
            /// Ids (as JSON text) of requests passed on and not yet answered.
            var unanswered = Set<String>()
            var inputClosed = false
            var finished = false
        }
        private let state = Mutex(State())
        private let output: Int32
        private let continuation: AsyncThrowingStream<Data, any Error>.Continuation

        init(output: Int32, continuation: AsyncThrowingStream<Data, any Error>.Continuation) {
            self.output = output
            self.continuation = continuation
        }

        /// A framed message: passed on when it is JSON, else answered with -32700.
        func received(_ bytes: [UInt8], framing: MCPFraming) {
            guard let message = try? JSONValue.parse(utf8: bytes) else {
                answerError(code: -32700, "parse error", framing: framing)
                return
            }
            state.withLock { s in
                s.framing = framing
                for item in Self.items(message) {
                    if item["method"] != nil, let id = item["id"], id != .null { s.unanswered.insert(id.text) }
                    // A cancelled request gets no answer (MCP); stop waiting for one.
                    if case .string("notifications/cancelled")? = item["method"], let id = item["params"]?["requestId"] {
                        s.unanswered.remove(id.text)
                    }
                }
            }
            continuation.yield(Data(bytes))
        }

        /// Writes `bytes` in the client's framing; a reply crosses its request off.
        func write(_ bytes: [UInt8], isReply: Bool) throws {
            try state.withLock { s in
                var framed: [UInt8]
                switch s.framing {
                case .newline:
                    framed = bytes
                    framed.append(UInt8(ascii: "\n"))
                case .contentLength:
                    framed = Array("Content-Length: \(bytes.count)\r\n\r\n".utf8) + bytes
                }
                try Self.writeAll(framed, to: output)
                if isReply, let message = try? JSONValue.parse(utf8: bytes) {
                    for item in Self.items(message) where item["result"] != nil || item["error"] != nil {
                        if let id = item["id"] { s.unanswered.remove(id.text) }
                    }
                }
                finishIfDone(&s)
            }
        }

        func answerError(code: Int, _ message: String, framing: MCPFraming) {
            let reply = JSONValue.object([("jsonrpc", .string("2.0")), ("id", .null),
                                          ("error", .object([("code", .integer(Int64(code))), ("message", .string(message))]))])
            state.withLock { $0.framing = framing }
            try? write(Array(reply.text.utf8), isReply: false)
        }

        func inputEnded() {
            state.withLock { s in
                s.inputClosed = true
                finishIfDone(&s)
            }
        }

        func finish() {
            state.withLock { s in
                s.inputClosed = true
                s.unanswered.removeAll()
                finishIfDone(&s)
            }
        }

        private func finishIfDone(_ s: inout State) {
            guard s.inputClosed, s.unanswered.isEmpty, !s.finished else { return }
            s.finished = true
            continuation.finish()
        }

        /// The messages of a JSON-RPC message or batch.
        private static func items(_ message: JSONValue) -> [JSONValue] {
            if case .array(let items) = message { return items }
            return [message]
        }

        private static func writeAll(_ bytes: [UInt8], to fd: Int32) throws {
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw RedError(.ioError, "writing an MCP message failed: errno \(errno)")
                }
                offset += n
            }
        }
    }
}
