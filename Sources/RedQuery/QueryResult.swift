import RedCore

/// A result column: its name and SQL type (`.any` when values of several kinds may appear).
public struct ResultColumn: Sendable, Equatable, Codable {
    public var name: String
    public var type: DataType
    public init(name: String, type: DataType) { self.name = name; self.type = type }
}

/// The outcome of one statement, the same for every surface.
///
/// ```swift
/// let result = try await session.execute("SELECT id, name FROM users WHERE id = $1", parameters: [.integer(1)])
/// for row in result.rows { print(row[1].displayText) }
/// ```
public struct QueryResult: Sendable {
    public var columns: [ResultColumn]
    public var rows: [[Value]]
    /// Rows inserted, updated or deleted (0 for reads and DDL).
    public var rowsAffected: Int
    /// `select`, `insert`, `update`, `delete`, `create`, `drop`, `alter`, `begin`, `commit`, `rollback`, `explain` …
    public var statementType: String
    /// PostgreSQL's command tag: `SELECT 2`, `INSERT 0 1`, `CREATE TABLE` …
    public var commandTag: String
    /// A human-readable note (DDL and transaction control), also the single `message` row of such results.
    public var message: String?

    public init(columns: [ResultColumn], rows: [[Value]], rowsAffected: Int = 0, statementType: String, commandTag: String, message: String? = nil) {
        self.columns = columns
        self.rows = rows
        self.rowsAffected = rowsAffected
        self.statementType = statementType
        self.commandTag = commandTag
        self.message = message
    }

    /// A DDL or transaction-control result: no rows, a message and a tag.
    static func message(_ text: String, type: String, tag: String) -> QueryResult {
        QueryResult(columns: [], rows: [], statementType: type, commandTag: tag, message: text)
    }

    /// The index of the column called `name`.
    public func columnIndex(_ name: String) -> Int? { columns.firstIndex { $0.name == name } }

    /// The JSON document HTTP `POST /query` and `red query --json` return.
    public var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("ok", .bool(true)),
            ("statement", .string(statementType)),
            ("columns", .array(columns.map { .string($0.name) })),
            ("rows", .array(rows.map { .array($0.map(\.jsonValue)) })),
            ("affected", .integer(Int64(rowsAffected))),
            ("command_tag", .string(commandTag)),
        ]
        if let message { members.append(("message", .string(message))) }
        return .object(members)
    }
}

extension RedError {
    /// The JSON error document (`{"ok":false,"code":…,"sqlstate":…,"error":…}`).
    public var json: JSONValue {
        .object([("ok", .bool(false)), ("code", .string(code.rawValue)), ("sqlstate", .string(code.sqlState)), ("error", .string(message))])
    }
}
