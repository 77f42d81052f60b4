import RedCore
import RedWire
import Synchronization

/// A request as a stream's task receives it: the frame, and for a bulk stream's rows frame
/// possibly its rows, already being decoded.
struct InboundRequest: Sendable {
    let frame: Frame
    let decodedRows: PrefetchedRows?
}

/// Rows of one BulkStreamRows frame, decoded on the shared pool while the stream's task is
/// still inserting earlier frames.
struct PrefetchedRows: Sendable {
    fileprivate let task: Task<RowBlock, any Error>
    fileprivate let outstanding: PrefetchCounter

    /// The rows (or the decoding error, as the stream's task would have reported it).
    func rows() async throws -> RowBlock { try await task.value }

    /// Frees the frame's prefetch slot: called once its request is handled (or dropped),
    /// whether or not the rows were used.
    func done() { outstanding.release() }
}

final class PrefetchCounter: Sendable {
    private let count = Atomic<Int>(0)
    func tryAcquire(limit: Int) -> Bool {
        var current = count.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = count.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }
    func release() { count.subtract(1, ordering: .relaxed) }
}

/// Decodes a bulk stream's rows frames ahead, on the connection's reader side.
///
/// Why: a stream's task decodes a frame, then inserts its rows, then decodes the next; the
/// decoding (about a fifth of a load's time on that task) can run on the other core instead.
/// The reader sees every frame of the connection in order, so it knows each stream's
/// open bulk stream and its column count (from BulkStreamStart) and can decode its rows
/// frames as they arrive. At most `limit` frames per connection wait decoded, so a client
/// pipelining many frames does not make the server hold all of them as values (their
/// payloads are already bounded by `PendingFrameBytes`); beyond it a frame is decoded by
/// its stream's task as before.
struct BulkRowsPrefetch {
    static let limit = 4
    private var widths: [UInt16: Int] = [:]
    private let outstanding = PrefetchCounter()

    mutating func request(for frame: Frame) -> InboundRequest {
        switch frame.kind {
        case .bulkStreamStart:
            let width = (try? BinaryValueCodec.decodeStreamStart(frame.payload))?.columns.count ?? 0
            widths[frame.streamID] = width > 0 ? width : nil  // a start the stream's task will refuse
        case .bulkStreamCommit:
            widths[frame.streamID] = nil
        case .bulkStreamRows:
            if let width = widths[frame.streamID], outstanding.tryAcquire(limit: Self.limit) {
                let payload = frame.payload
                let task = Task(executorPreference: globalConcurrentExecutor) {
                    try RedWireRequests.decoding("stream rows") { try BinaryValueCodec.decodeStreamRowBlock(payload, width: width) }
                }
                return InboundRequest(frame: frame, decodedRows: PrefetchedRows(task: task, outstanding: outstanding))
            }
        default:
            break
        }
        return InboundRequest(frame: frame, decodedRows: nil)
    }
}
