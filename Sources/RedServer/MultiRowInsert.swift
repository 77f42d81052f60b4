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
}
