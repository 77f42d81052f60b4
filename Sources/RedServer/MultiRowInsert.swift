import RedCore
import RedDB

/// Rows that arrive already decoded (RedWire bulk inserts; COPY and gRPC's BulkInsertBinary
/// pipeline their batches themselves, with the same batch size) go in as
/// multi-row INSERTs built directly as statements (`Session.insertRows`): no SQL text is
/// generated or parsed, and every value is checked exactly as an INSERT checks it.
enum MultiRowInsert {
    /// Rows per INSERT: large enough that per-statement work (planning, locking) is noise,
    /// small enough that a cancel or a failing row is noticed soon.
    static let rowsPerStatement = 1_000

    /// Inserts every row or none: the batches run in one transaction unless `session` already
    /// has one open (then the caller's transaction decides). `insert` runs each batch (through
    /// `Session.insertRows`), so a surface can make it cancellable and count it. Returns the
    /// rows inserted.
    static func insertAll(table: String, columns: [String], rows: RowBlock, on session: Session,
                          insert: (RowBlock) async throws -> QueryResult) async throws -> Int {
        if !session.inTransaction {
            let inserted = try await insertUncommitted(table: table, columns: columns, rows: rows, on: session, insert: insert)
            do {
                _ = try await session.execute("COMMIT")
            } catch {
                _ = try? await session.execute("ROLLBACK")
                throw error
            }
            return inserted
        }
        try check(columns: columns, rows: rows)  // (insertUncommitted checks its own)
        return try await insertBatches(rows, insert: insert)
    }

    /// Inserts every row in a new transaction on `session` and leaves it open for the caller
    /// to commit. On failure the transaction is rolled back. `session` must not be in a
    /// transaction.
    private static func insertUncommitted(table: String, columns: [String], rows: RowBlock, on session: Session,
                                          insert: (RowBlock) async throws -> QueryResult) async throws -> Int {
        try check(columns: columns, rows: rows)
        guard !session.inTransaction else { throw RedError(.internalError, "bulk insert: the batch session is already in a transaction") }
        _ = try await session.execute("BEGIN")
        do {
            return try await insertBatches(rows, insert: insert)
        } catch {
            _ = try? await session.execute("ROLLBACK")
            throw error
        }
    }

    /// Every row has one value per column.
    static func check(columns: [String], rows: RowBlock) throws {
        guard !columns.isEmpty else { throw RedError(.invalidArgument, "bulk insert: no columns") }
        guard rows.isEmpty || rows.width == columns.count else { throw rowWidthError(columns) }
    }

    /// `rows` as one block, once each is found to have one value per column.
    static func block(columns: [String], rows: [[Value]]) throws -> RowBlock {
        guard !columns.isEmpty else { throw RedError(.invalidArgument, "bulk insert: no columns") }
        guard rows.allSatisfy({ $0.count == columns.count }), let block = RowBlock(rows: rows) else { throw rowWidthError(columns) }
        return block
    }

    private static func rowWidthError(_ columns: [String]) -> RedError {
        RedError(.invalidArgument, "bulk insert: every row needs \(columns.count) values, one per column")
    }

    private static func insertBatches(_ rows: RowBlock, insert: (RowBlock) async throws -> QueryResult) async throws -> Int {
        var inserted = 0
        for start in stride(from: rows.startIndex, to: rows.endIndex, by: rowsPerStatement) {
            inserted += try await insert(rows[start..<min(rows.endIndex, start + rowsPerStatement)]).rowsAffected
        }
        return inserted
    }
}
