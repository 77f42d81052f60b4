import NIOCore
import RedCore
import RedWire

/// What a RedWire client sends: the two-byte preamble once, then frames.
enum RedWireInbound: Sendable {
    case preamble(magic: UInt8, minorVersion: UInt8)
    /// `declinedOnLoop`: `RedWireFastLane` offered it to `Session.executeWithoutWaiting`, which
    /// declined, so the reader need not offer it again.
    case frame(Frame, declinedOnLoop: Bool = false)
}

/// Splits the connection's bytes into the preamble and frames. A malformed frame (length
/// outside 16 … 16 MiB, unknown kind or flags, compression) is an error that closes the
/// connection with no reply, as the spec says; nothing is buffered beyond one frame, and a
/// compressed payload is passed on compressed (the reader inflates it when it takes it).
struct RedWireInboundDecoder: ByteToMessageDecoder {
    typealias InboundOut = RedWireInbound
    private var sawPreamble = false

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if !sawPreamble {
            guard let magic = buffer.readInteger(as: UInt8.self) else { return .needMoreData }
            guard let minor = buffer.readInteger(as: UInt8.self) else {
                buffer.moveReaderIndex(to: buffer.readerIndex - 1)
                return .needMoreData
            }
            sawPreamble = true
            context.fireChannelRead(wrapInboundOut(.preamble(magic: magic, minorVersion: minor)))
            return .continue
        }
        guard buffer.readableBytes >= Frame.headerSize,
              let length = buffer.getInteger(at: buffer.readerIndex, endianness: .little, as: UInt32.self) else { return .needMoreData }
        // Validate the length before waiting for (and buffering) the body.
        if length < UInt32(Frame.headerSize) || length > UInt32(Frame.maximumSize) {
            _ = try FrameDecoder.decode(Array(buffer.readableBytesView.prefix(Frame.headerSize))[...])
        }
        guard buffer.readableBytes >= Int(length), let bytes = buffer.readBytes(length: Int(length)) else { return .needMoreData }
        // Compressed payloads stay compressed until the reader takes the frame (`Frame.inflated`).
        guard case .frame(let frame, _) = try FrameDecoder.decode(bytes[...], inflate: false) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(.frame(frame)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}
