import NIOCore

/// Replies a pipeline handler writes while the channel delivers one socket read, flushed once
/// when that read is done: requests that arrived together are answered with one write.
/// Used by the handlers that answer in the pipeline (`RedWireFastLaneHandler`, `PGFastLaneHandler`).
struct ReadBatchedReplies {
    private var unflushed = false

    mutating func write(_ reply: ByteBuffer, context: ChannelHandlerContext) {
        context.write(NIOAny(reply), promise: nil)
        unflushed = true
    }

    /// Sends what is written now (before a close).
    mutating func flush(context: ChannelHandlerContext) {
        unflushed = false
        context.flush()
    }

    /// From the handler's `channelReadComplete`: flushes, then passes the event on.
    mutating func readComplete(context: ChannelHandlerContext) {
        if unflushed { flush(context: context) }
        context.fireChannelReadComplete()
    }
}
