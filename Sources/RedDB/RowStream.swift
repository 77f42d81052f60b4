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
    /// Rows changed by a statement that is not a query (0 for queries).
    public let rowsAffected: Int
    /// The statement type (`select`, `insert`, `create_table`, …), as `QueryResult.statementType`.
    public let statementType: String
    private let nextRow: () throws -> [Value]?
    private let finish: () -> Void
    private var finished = false

    init(columns: [ResultColumn], rowsAffected: Int = 0, statementType: String = "select",
         next: @escaping () throws -> [Value]?, finish: @escaping () -> Void) {
        self.columns = columns
        self.rowsAffected = rowsAffected
        self.statementType = statementType
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

    /// A stream over rows already materialised (the result of a statement that is not a query).
    convenience init(result: QueryResult) {
        let rows = Box(result.rows[...])
        self.init(columns: result.columns, rowsAffected: result.rowsAffected, statementType: result.statementType,
                  next: { rows.value.popFirst() }, finish: { rows.value = [] })
    }

    private final class Box {
        var value: ArraySlice<[Value]>
        init(_ value: ArraySlice<[Value]>) { self.value = value }
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
