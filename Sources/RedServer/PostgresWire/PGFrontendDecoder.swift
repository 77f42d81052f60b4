import NIOCore
import RedCore

/// Framing of the PostgreSQL frontend/backend protocol v3, client to server.
///
/// Format (all integers big-endian):
/// - Before startup completes, packets have no tag: `Int32 length` (including
///   itself) + `Int32 code` + body. The code is the protocol version 3.0
///   (196608, body = `name\0value\0 … \0`) or a special request: SSLRequest
///   (80877103), GSSENCRequest (80877104), CancelRequest (80877102, body =
///   process id + secret key).
/// - After startup every message is `UInt8 tag` + `Int32 length` (including
///   itself, not the tag) + body.
///
/// Invariants: every length is checked against `PGLimits` before a byte is
/// buffered for it, and every field read is bounds-checked; a violation is a
/// `RedError(.protocolViolation)` (the connection answers 08P01 and closes).
/// The decoder returns to startup mode only after SSLRequest/GSSENCRequest,
/// which the server answers with `N` before the real startup packet.
struct PGFrontendDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = PGFrontendMessage

    private(set) var expectingStartup = true

    mutating func decode(buffer: inout ByteBuffer) throws -> PGFrontendMessage? {
        expectingStartup ? try decodeStartup(&buffer) : try decodeMessage(&buffer)
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> PGFrontendMessage? {
        try decode(buffer: &buffer)
    }

    private mutating func decodeStartup(_ buffer: inout ByteBuffer) throws -> PGFrontendMessage? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return nil }
        guard length >= 8, length <= PGLimits.maxStartupPacketBytes else {
            throw RedError(.protocolViolation, "invalid startup packet length \(length)")
        }
        guard buffer.readableBytes >= Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        guard var body = buffer.readSlice(length: Int(length) - 4), let code = body.readInteger(as: Int32.self) else { return nil }
        switch code {
        case PGProtocolCode.sslRequest: return .sslRequest
        case PGProtocolCode.gssEncRequest: return .gssEncRequest
        case PGProtocolCode.cancelRequest:
            guard let pid = body.readInteger(as: Int32.self), let secret = body.readInteger(as: Int32.self) else {
                throw RedError(.protocolViolation, "truncated CancelRequest")
            }
            return .cancelRequest(processID: pid, secretKey: secret)
        case PGProtocolCode.version3:
            var parameters: [String: String] = [:]
            while true {
                let name = try body.readPGString()
                if name.isEmpty { break }
                parameters[name] = try body.readPGString()
            }
            expectingStartup = false
            return .startup(parameters: parameters)
        default:
            let major = code >> 16, minor = code & 0xFFFF
            throw RedError(.protocolViolation, "unsupported frontend protocol \(major).\(minor): server supports 3.0")
        }
    }

    private func decodeMessage(_ buffer: inout ByteBuffer) throws -> PGFrontendMessage? {
        guard let tag = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let length = buffer.getInteger(at: buffer.readerIndex + 1, as: Int32.self) else { return nil }
        guard length >= 4, length <= PGLimits.maxMessageBytes else {
            throw RedError(.protocolViolation, "invalid message length \(length) for message type '\(Self.printable(tag))'")
        }
        guard buffer.readableBytes >= Int(length) + 1 else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        guard var body = buffer.readSlice(length: Int(length) - 4) else { return nil }
        return try Self.parseBody(tag: tag, &body)
    }

    static func parseBody(tag: UInt8, _ body: inout ByteBuffer) throws -> PGFrontendMessage {
        switch tag {
        case UInt8(ascii: "Q"): return .query(try body.readPGString())
        case UInt8(ascii: "P"):
            let name = try body.readPGString(), query = try body.readPGString()
            let count = try body.readCount("parameter type")
            var types: [UInt32] = []
            types.reserveCapacity(count)
            for _ in 0..<count { types.append(try body.readRequired(UInt32.self, "parameter type")) }
            return .parse(name: name, query: query, parameterTypes: types)
        case UInt8(ascii: "B"):
            let portal = try body.readPGString(), statement = try body.readPGString()
            let formatCount = try body.readCount("parameter format")
            var formats: [Int16] = []
            for _ in 0..<formatCount { formats.append(try body.readRequired(Int16.self, "parameter format")) }
            let valueCount = try body.readCount("parameter value")
            var values: [ByteBuffer?] = []
            values.reserveCapacity(valueCount)
            for _ in 0..<valueCount {
                let length = try body.readRequired(Int32.self, "parameter length")
                if length == -1 { values.append(nil); continue }
                guard length >= 0, let value = body.readSlice(length: Int(length)) else {
                    throw RedError(.protocolViolation, "Bind parameter length \(length) exceeds the message")
                }
                values.append(value)
            }
            let resultCount = try body.readCount("result format")
            var results: [Int16] = []
            for _ in 0..<resultCount { results.append(try body.readRequired(Int16.self, "result format")) }
            return .bind(PGBind(portal: portal, statement: statement, parameterFormats: formats, parameters: values, resultFormats: results))
        case UInt8(ascii: "D"):
            let kind = try body.readRequired(UInt8.self, "Describe kind")
            return .describe(try PGTarget(kind), name: try body.readPGString())
        case UInt8(ascii: "E"):
            let portal = try body.readPGString()
            return .execute(portal: portal, maxRows: try body.readRequired(Int32.self, "Execute row limit"))
        case UInt8(ascii: "C"):
            let kind = try body.readRequired(UInt8.self, "Close kind")
            return .close(try PGTarget(kind), name: try body.readPGString())
        case UInt8(ascii: "S"): return .sync
        case UInt8(ascii: "H"): return .flush
        case UInt8(ascii: "X"): return .terminate
        case UInt8(ascii: "p"): return .password(body)
        case UInt8(ascii: "d"): return .copyData(body)
        case UInt8(ascii: "c"): return .copyDone
        case UInt8(ascii: "f"): return .copyFail((try? body.readPGString()) ?? "")
        default: return .unsupported(tag)
        }
    }

    static func printable(_ tag: UInt8) -> String {
        (0x20..<0x7F).contains(tag) ? String(UnicodeScalar(tag)) : "0x" + String(tag, radix: 16)
    }
}

/// Magic codes of the untagged startup-phase packets.
enum PGProtocolCode {
    static let version3: Int32 = 196_608
    static let sslRequest: Int32 = 80_877_103
    static let gssEncRequest: Int32 = 80_877_104
    static let cancelRequest: Int32 = 80_877_102
}

/// Size limits of the PG-wire listener. A client exceeding one gets 08P01 and is disconnected.
public enum PGLimits {
    /// Largest startup packet (PostgreSQL itself allows 10 000 bytes).
    public static let maxStartupPacketBytes: Int32 = 10_000
    /// Largest frontend message: a query text, a Bind with its parameters, a COPY chunk.
    public static let maxMessageBytes: Int32 = 64 << 20
    /// Most bytes a client may send before it has logged in (startup, TLS and password exchange).
    public static let maxBytesBeforeLogin = 256 << 10
    /// Longest SET, SHOW, COPY or other statement the wire layer answers itself (a custom
    /// setting's value is at most 1 MiB; the engine's own statements stop at 1 MiB too).
    public static let maxWireCommandBytes = 2 << 20
    /// Most prepared statements (and, separately, portals) one connection may keep.
    public static let maxPreparedStatements = 10_000
    /// Most parameters of one statement (PostgreSQL's own protocol limit).
    public static let maxParameters = 65_535
    /// Most bytes of one COPY FROM row.
    public static let maxCopyRowBytes = 16 << 20
    /// Most columns a result may have: PostgreSQL's limit on a target list. The protocol
    /// counts fields in an Int16, which a longer select list used to overflow (a trap).
    public static let maxResultColumns = 1_664
    /// Largest message the server writes (a DataRow), below the Int32 its length is counted in.
    public static let maxResultMessageBytes = Int(Int32.max)

    /// 54011 (as in PostgreSQL) before a RowDescription, DataRow or COPY response
    /// for more columns than `maxResultColumns` is written.
    public static func checkResultColumns(_ count: Int) throws {
        guard count <= maxResultColumns else {
            throw RedError(.limitExceeded, "target lists can have at most \(maxResultColumns) entries (this result has \(count))", condition: "54011")
        }
    }
}

/// Statement (`S`) or portal (`P`), the target of Describe and Close.
enum PGTarget: Equatable, Sendable {
    case statement, portal

    init(_ byte: UInt8) throws {
        switch byte {
        case UInt8(ascii: "S"): self = .statement
        case UInt8(ascii: "P"): self = .portal
        default: throw RedError(.protocolViolation, "invalid Describe/Close target '\(PGFrontendDecoder.printable(byte))'")
        }
    }
}

/// A Bind message: parameter values (nil = NULL) with their format codes.
struct PGBind: Sendable {
    var portal: String
    var statement: String
    var parameterFormats: [Int16]
    var parameters: [ByteBuffer?]
    var resultFormats: [Int16]
}

/// One decoded frontend message.
enum PGFrontendMessage: Sendable {
    case sslRequest
    case gssEncRequest
    case cancelRequest(processID: Int32, secretKey: Int32)
    case startup(parameters: [String: String])
    case query(String)
    case parse(name: String, query: String, parameterTypes: [UInt32])
    case bind(PGBind)
    case describe(PGTarget, name: String)
    case execute(portal: String, maxRows: Int32)
    case close(PGTarget, name: String)
    case sync
    case flush
    case terminate
    /// PasswordMessage, SASLInitialResponse or SASLResponse: which one depends on the auth exchange.
    case password(ByteBuffer)
    case copyData(ByteBuffer)
    case copyDone
    case copyFail(String)
    case unsupported(UInt8)
}

extension ByteBuffer {
    /// Reads a NUL-terminated UTF-8 string; a missing terminator is a protocol violation.
    mutating func readPGString() throws -> String {
        guard let end = readableBytesView.firstIndex(of: 0) else {
            throw RedError(.protocolViolation, "unterminated string in message")
        }
        let length = end - readableBytesView.startIndex
        let text = readString(length: length) ?? ""
        moveReaderIndex(forwardBy: 1)
        return text
    }

    mutating func readRequired<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws -> T {
        guard let value = readInteger(as: T.self) else { throw RedError(.protocolViolation, "truncated message: missing \(what)") }
        return value
    }

    /// An Int16 element count, which must be non-negative.
    mutating func readCount(_ what: String) throws -> Int {
        let count = try readRequired(Int16.self, "\(what) count")
        guard count >= 0 else { throw RedError(.protocolViolation, "negative \(what) count") }
        return Int(count)
    }
}
