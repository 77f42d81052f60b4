import RedCore
import RedDB

/// Rows that arrive already decoded (PG-wire COPY, RedWire bulk inserts) become one
/// parameterised `INSERT … VALUES ($1, …), (…)` per batch: the engine's one execution
/// path, with every value bound as a parameter (never spliced into SQL text).
enum MultiRowInsert {
    /// Rows per statement for `columnCount` columns: at most 1,000, within PostgreSQL's parameter limit.
    static func rowsPerBatch(columnCount: Int) -> Int { max(1, min(1_000, PGLimits.maxParameters / max(1, columnCount))) }

    static func statement(table: String, columns: [String], rows: ArraySlice<[Value]>) -> (sql: String, parameters: [Value]) {
        let quotedColumns = columns.map(Session.identifier).joined(separator: ", ")
        var sql = "INSERT INTO \(Session.identifier(table)) (\(quotedColumns)) VALUES "
        var parameters: [Value] = []
        parameters.reserveCapacity(rows.count * columns.count)
        for (r, row) in rows.enumerated() {
            sql += r == 0 ? "(" : ", ("
            for (c, value) in row.enumerated() {
                sql += c == 0 ? "$\(parameters.count + 1)" : ", $\(parameters.count + 1)"
                parameters.append(value)
            }
            sql += ")"
        }
        return (sql, parameters)
    }

    /// Inserts every row or none: the batches run in one transaction unless `session` already
    /// has one open (then the caller's transaction decides). `execute` runs each statement, so a
    /// surface can make it cancellable and count it. Returns the rows inserted and, when
    /// `returningFirstRid`, the rid of the first one.
    static func insertAll(table: String, columns: [String], rows: [[Value]], on session: Session, returningFirstRid: Bool = false,
                          execute: (String, [Value]) async throws -> QueryResult) async throws -> (count: Int, firstRid: Int64?) {
        guard !columns.isEmpty else { throw RedError(.invalidArgument, "bulk insert: no columns") }
        guard rows.allSatisfy({ $0.count == columns.count }) else {
            throw RedError(.invalidArgument, "bulk insert: every row needs \(columns.count) values, one per column")
        }
        let ownTransaction = !session.inTransaction
        if ownTransaction { _ = try await session.execute("BEGIN") }
        do {
            var inserted = 0
            var firstRid: Int64?
            let step = rowsPerBatch(columnCount: columns.count)
            for start in stride(from: 0, to: rows.count, by: step) {
                var insert = statement(table: table, columns: columns, rows: rows[start..<min(rows.count, start + step)])
                let wantRid = returningFirstRid && start == 0
                if wantRid { insert.sql += " RETURNING rid" }
                let result = try await execute(insert.sql, insert.parameters)
                inserted += result.rowsAffected
                if wantRid, case .integer(let rid)? = result.rows.first?.first { firstRid = rid }
            }
            if ownTransaction { _ = try await session.execute("COMMIT") }
            return (inserted, firstRid)
        } catch {
            if ownTransaction { _ = try? await session.execute("ROLLBACK") }
            throw error
        }
    }
}
