import RedCore
import RedEngine
import RedQuery

/// Rows of a query delivered one at a time, so results larger than memory can be consumed.
///
/// The stream reads from one snapshot: its own read-only transaction, or the
/// session's open transaction when started inside BEGIN. Rows are produced on
/// demand as the consumer iterates.
///
/// ```swift
/// let stream = try await session.stream("SELECT id, payload FROM events")
/// for try await row in stream { handle(row) }
/// ```
public final class RowStream: AsyncSequence, @unchecked Sendable {
    /// One row: values in column order.
    public typealias Element = [Value]
    /// Result columns (types the schema does not fix are `.any`).
    public let columns: [ResultColumn]
    private let nextRow: () throws -> [Value]?
    private let finish: () -> Void
    private var finished = false

    init(columns: [ResultColumn], next: @escaping () throws -> [Value]?, finish: @escaping () -> Void) {
        self.columns = columns
        self.nextRow = next
        self.finish = finish
    }

    deinit { if !finished { finish() } }

    /// The next row, or nil at the end (which also releases the snapshot).
    public func next() throws -> [Value]? {
        guard !finished else { return nil }
        do {
            if let row = try nextRow() { return row }
        } catch {
            close()
            throw error
        }
        close()
        return nil
    }

    /// Stops early and releases the snapshot.
    public func close() {
        guard !finished else { return }
        finished = true
        finish()
    }

    /// Pulls rows one at a time from the stream.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: RowStream
        /// The next row, or nil when the query is exhausted.
        public mutating func next() async throws -> [Value]? { try stream.next() }
    }

    /// Iterates the rows: `for try await row in stream { … }`.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }
}
