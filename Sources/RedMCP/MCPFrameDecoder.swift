/// How an MCP client frames its JSON-RPC messages on stdio. Current clients write one JSON
/// text per line (the MCP stdio transport); upstream RedDB's `red mcp` reads LSP-style
/// `Content-Length: N` headers. We read both, telling them apart by each message's first
/// byte, and answer in the framing the client last used.
public enum MCPFraming: Sendable, Equatable {
    /// One JSON text per line, ended by `\n`.
    case newline
    /// `Content-Length: N\r\n\r\n` then exactly N bytes of JSON.
    case contentLength
}

/// Splits the bytes read from a client into messages, whatever their framing, within limits.
///
/// Bytes arrive in pieces (`append`); `next()` gives what the buffered bytes complete. A
/// message starts at its first byte that is not blank: `{` or `[` starts a line of JSON,
/// anything else a header block. Nothing here fails the stream for good except a header
/// block that never ends: a message over `maxMessageBytes` is skipped whole (its line, or
/// its declared length) and reported, a header block without a usable `Content-Length` is
/// reported and dropped, and reading goes on with the next message.
public struct MCPFrameDecoder: Sendable {
    public enum Event: Sendable, Equatable {
        case message([UInt8], MCPFraming)
        /// A message longer than the limit was skipped; `bytes` is its size when known.
        case oversized(bytes: Int?, MCPFraming)
        /// A header block without a usable Content-Length was dropped.
        case malformedHeader(String)
        /// A header block grew past `maxHeaderBytes` without ending: the stream cannot be
        /// resynchronised, so the connection should close.
        case fatal(String)
    }

    /// Largest message accepted, in bytes (a tool call's arguments: an `INSERT`'s values, a
    /// vector). 16 MiB by default, as HTTP's request bodies.
    public let maxMessageBytes: Int
    /// Largest header block (`Content-Length: …` and any others).
    public static let maxHeaderBytes = 8 * 1024

    private var buffer: [UInt8] = []
    private var start = 0
    private enum State: Sendable { case idle, discardingLine, skipping(Int), body(Int), failed }
    private var state = State.idle
    /// How far a line's bytes have been searched for its newline: a long line arriving in
    /// pieces is scanned once, not once per piece.
    private var scannedTo = 0

    public init(maxMessageBytes: Int = 16 << 20) {
        self.maxMessageBytes = maxMessageBytes
    }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 65_536 && start * 2 > buffer.count {
            buffer.removeSubrange(0..<start)
            scannedTo = max(0, scannedTo - start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete event of the buffered bytes, or nil until more arrive.
    public mutating func next() -> Event? {
        while true {
            switch state {
            case .failed:
                return nil
            case .skipping(let remaining):
                let n = min(remaining, buffer.count - start)
                start += n
                if n < remaining { state = .skipping(remaining - n); return nil }
                state = .idle
            case .discardingLine:
                guard let newline = firstIndex(of: UInt8(ascii: "\n"), from: start) else {
                    start = buffer.count
                    return nil
                }
                start = newline + 1
                state = .idle
            case .body(let length):
                guard buffer.count - start >= length else { return nil }
                let message = Array(buffer[start..<start + length])
                start += length
                state = .idle
                return .message(message, .contentLength)
            case .idle:
                while start < buffer.count, Self.isBlank(buffer[start]) { start += 1 }
                guard start < buffer.count else { return nil }
                if buffer[start] == UInt8(ascii: "{") || buffer[start] == UInt8(ascii: "[") { return nextLine() }
                guard let lineEnd = firstIndex(of: UInt8(ascii: "\n"), from: start) else {
                    // Not yet known to be a header or a (bad) line: wait, within the line's limit.
                    return buffer.count - start > maxMessageBytes ? nextLine() : nil
                }
                // Only a `Name: value` first line starts a header block; any other text is a
                // line of its own (not JSON, so the transport answers it with a parse error).
                guard Self.isHeaderField(buffer[start..<lineEnd]) else { return nextLine() }
                if let event = nextHeader() { return event }
                guard case .body = state else { return nil }
            }
        }
    }

    /// A line of JSON, once its newline has arrived (a trailing `\r` is dropped).
    private mutating func nextLine() -> Event? {
        guard let newline = firstIndex(of: UInt8(ascii: "\n"), from: max(start, scannedTo)) else {
            scannedTo = buffer.count
            let pending = buffer.count - start
            guard pending > maxMessageBytes else { return nil }
            start = buffer.count
            state = .discardingLine
            return .oversized(bytes: nil, .newline)
        }
        var end = newline
        if end > start, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let length = end - start
        defer { start = newline + 1 }
        guard length <= maxMessageBytes else { return .oversized(bytes: length, .newline) }
        return .message(Array(buffer[start..<end]), .newline)
    }

    /// A header block, once its blank line has arrived; sets `state` to read (or skip) the body.
    /// nil when the block is incomplete; an event when it is bad, or a body was skipped.
    private mutating func nextHeader() -> Event? {
        guard let (headerEnd, bodyStart) = headerBlockEnd() else {
            guard buffer.count - start > Self.maxHeaderBytes else { return nil }
            state = .failed
            return .fatal("a message header longer than \(Self.maxHeaderBytes) bytes; expected Content-Length: N or a line of JSON")
        }
        let header = String(decoding: buffer[start..<headerEnd], as: UTF8.self)
        start = bodyStart
        var length: Int?
        for line in header.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].trimmingCharacters(in: " \t").lowercased() == "content-length" {
                length = Int(line[line.index(after: colon)...].trimmingCharacters(in: " \t"))
            }
        }
        guard let length, length >= 0 else {
            return .malformedHeader("a message header without a valid Content-Length")
        }
        guard length <= maxMessageBytes else {
            state = .skipping(length)
            return .oversized(bytes: length, .contentLength)
        }
        state = .body(length)
        return nil
    }

    /// Where the header block starting at `start` ends (`\r\n\r\n` or `\n\n`) and its body begins.
    private func headerBlockEnd() -> (Int, Int)? {
        var i = start
        while let newline = firstIndex(of: UInt8(ascii: "\n"), from: i) {
            let next = newline + 1
            if next < buffer.count, buffer[next] == UInt8(ascii: "\n") { return (newline, next + 1) }
            if next + 1 < buffer.count, buffer[next] == UInt8(ascii: "\r"), buffer[next + 1] == UInt8(ascii: "\n") {
                return (newline, next + 2)
            }
            i = next
        }
        return nil
    }

    private func firstIndex(of byte: UInt8, from index: Int) -> Int? {
        var i = index
        while i < buffer.count {
            if buffer[i] == byte { return i }
            i += 1
        }
        return nil
    }

    /// `Name: …`, a name being letters, digits and `-`.
    private static func isHeaderField(_ line: ArraySlice<UInt8>) -> Bool {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else { return false }
        return line[..<colon].allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || b == UInt8(ascii: "-")
        }
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return s
    }
}
