import RedCore

/// The connection preamble a RedWire client sends before any frame: magic `0xFE`, then
/// the minor protocol version (spec protocols §1.1).
public enum RedWirePreamble {
    public static let magic: UInt8 = 0xFE
    /// Highest minor version this implementation speaks; 0 and 1 are accepted.
    public static let maximumMinorVersion: UInt8 = 0x01
    public static let bytes: [UInt8] = [magic, maximumMinorVersion]
}

/// Frame flag bits. Any other bit is a fatal decode error.
public struct FrameFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The payload is one zstd stream.
    public static let compressed = FrameFlags(rawValue: 0x01)
    /// More frames of the same logical message follow.
    public static let moreFrames = FrameFlags(rawValue: 0x02)
    public static let known: FrameFlags = [.compressed, .moreFrames]
}

/// One RedWire frame: a 16-byte little-endian header, then the payload.
///
/// Header: `u32 length` (whole frame, header included, 16 … 16 MiB), `u8 kind`, `u8 flags`,
/// `u16 stream_id`, `u64 correlation_id`. Every reply echoes the correlation id (and, as
/// a safe superset of upstream, the stream id) of the request it answers.
public struct Frame: Sendable, Equatable {
    public static let headerSize = 16
    public static let maximumSize = 16 << 20

    public var kind: MessageKind
    public var flags: FrameFlags
    public var streamID: UInt16
    public var correlationID: UInt64
    public var payload: [UInt8]

    public init(_ kind: MessageKind, correlationID: UInt64, streamID: UInt16 = 0, flags: FrameFlags = [], payload: [UInt8] = []) {
        self.kind = kind
        self.flags = flags
        self.streamID = streamID
        self.correlationID = correlationID
        self.payload = payload
    }

    /// A reply of `kind` to `request`: same correlation and stream ids.
    public static func reply(_ kind: MessageKind, to request: Frame, payload: [UInt8] = []) -> Frame {
        Frame(kind, correlationID: request.correlationID, streamID: request.streamID, payload: payload)
    }

    /// This frame with its payload zstd-compressed and the COMPRESSED flag set, when that is
    /// allowed for its kind, the payload is over 32 bytes (as upstream's builder) and
    /// compression makes it smaller; otherwise the frame unchanged.
    public func compressed(level: Int32 = 1) -> Frame {
        guard !kind.isLifecycle, !flags.contains(.compressed), payload.count > 32,
              let smaller = Zstd.compress(payload, level: level), smaller.count < payload.count else { return self }
        var frame = self
        frame.flags.insert(.compressed)
        frame.payload = smaller
        return frame
    }

    /// The frame's bytes. The caller keeps payloads under `maximumSize - headerSize`.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: Self.headerSize + payload.count)
        writer.u32(UInt32(Self.headerSize + payload.count))
        writer.u8(kind.rawValue)
        writer.u8(flags.rawValue)
        writer.u16(streamID)
        writer.u64(correlationID)
        writer.append(payload)
        return writer.bytes
    }
}

/// Splits a byte stream into frames, validating each header in the spec's order
/// (§1.2–1.3): the first failure wins, and every failure is fatal for the connection.
public enum FrameDecoder {
    public enum Outcome: Sendable, Equatable {
        /// Not enough bytes buffered yet for a whole frame.
        case needMoreBytes
        /// A frame, and how many bytes of the buffer it used.
        case frame(Frame, consumed: Int)
    }

    /// Decodes the first frame of `bytes`. Throws `RedError(.protocolViolation)` for a frame
    /// the connection must be dropped for. A COMPRESSED payload is inflated (zstd, at most
    /// 16 MiB) and the frame returned without the flag; where zstd is unavailable it is refused.
    ///
    /// `inflate: false` leaves a compressed payload as it came, flag set, for `Frame.inflated()`
    /// later: a server inflates only the frame its reader is about to take, after counting it
    /// against the connection's pending bytes. Inflating while splitting the stream let a few
    /// hundred bytes on the wire become 16 MiB each, hundreds per read, before any check
    /// (even before the handshake).
    public static func decode(_ bytes: ArraySlice<UInt8>, inflate: Bool = true) throws -> Outcome {
        guard bytes.count >= Frame.headerSize else { return .needMoreBytes }
        let base = bytes.startIndex
        func u(_ at: Int, _ width: Int) -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<width { v |= UInt64(bytes[base + at + i]) << (8 * UInt64(i)) }
            return v
        }
        let length = Int(u(0, 4))
        guard length >= Frame.headerSize, length <= Frame.maximumSize else {
            throw RedError(.protocolViolation, "redwire: frame length \(length) outside 16…\(Frame.maximumSize)")
        }
        guard bytes.count >= length else { return .needMoreBytes }
        guard let kind = MessageKind(rawValue: bytes[base + 4]) else {
            throw RedError(.protocolViolation, "redwire: unknown message kind 0x\(String(bytes[base + 4], radix: 16))")
        }
        let flags = FrameFlags(rawValue: bytes[base + 5])
        guard FrameFlags.known.isSuperset(of: flags) else {
            throw RedError(.protocolViolation, "redwire: unknown flag bits 0x\(String(flags.rawValue, radix: 16))")
        }
        var payload = Array(bytes[(base + Frame.headerSize)..<(base + length)])
        var plainFlags = flags
        if flags.contains(.compressed) {
            guard !kind.isLifecycle else { throw RedError(.protocolViolation, "redwire: \(kind.name) may not be compressed") }
            guard Zstd.isAvailable else {
                throw RedError(.protocolViolation, "redwire: compressed frames need zstd, which is not available here")
            }
            if inflate {
                // Inflated here, capped at the frame limit, so handlers only ever see plain payloads.
                payload = try Frame.inflate(payload)
                plainFlags.remove(.compressed)
            }
        }
        let frame = Frame(kind, correlationID: u(8, 8), streamID: UInt16(u(6, 2)), flags: plainFlags, payload: payload)
        return .frame(frame, consumed: length)
    }
}

extension Frame {
    /// This frame with its payload inflated and the COMPRESSED flag cleared (itself when not
    /// compressed); a bad payload, or one inflating past 16 MiB, is a protocol violation.
    public func inflated() throws -> Frame {
        guard flags.contains(.compressed) else { return self }
        var plainFlags = flags
        plainFlags.remove(.compressed)
        return Frame(kind, correlationID: correlationID, streamID: streamID, flags: plainFlags, payload: try Self.inflate(payload))
    }

    static func inflate(_ payload: [UInt8]) throws -> [UInt8] {
        do { return try Zstd.decompress(payload, maxBytes: Frame.maximumSize) } catch let error as RedError {
            throw RedError(.protocolViolation, "redwire: bad compressed payload: \(error.message)")
        }
    }
}
