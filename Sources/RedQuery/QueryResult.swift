import RedCore

/// A result column: its name and SQL type (`.any` when values of several kinds may appear).
public struct ResultColumn: Sendable, Equatable, Codable {
    /// The column name (alias, column or function name; `?column?` when none applies).
    public var name: String
    /// The SQL type of the column.
    public var type: DataType
    /// For an array column (`type` is `.json`, as arrays are JSON arrays), its elements' type
    /// when the plan knows it: PG-wire then sends PostgreSQL arrays (`int8[]`, `text[]`). A
    /// description for surfaces that type arrays, so it takes no part in equality or coding.
    public var element: DataType?
    /// A surface's own type for the values (`SurfaceColumn.surfaceType`), likewise a description only.
    public var surfaceType: String?
    /// A column description.
    public init(name: String, type: DataType, element: DataType? = nil, surfaceType: String? = nil) {
        self.name = name
        self.type = type
        self.element = element
        self.surfaceType = surfaceType
    }

    private enum CodingKeys: String, CodingKey { case name, type }

    public static func == (a: ResultColumn, b: ResultColumn) -> Bool { a.name == b.name && a.type == b.type }
}

/// The outcome of one statement, the same for every surface.
///
/// ```swift
/// let result = try await session.execute("SELECT id, name FROM users WHERE id = $1", parameters: [.integer(1)])
/// for row in result.rows { print(row[1].displayText) }
/// ```
public struct QueryResult: Sendable {
    /// The result columns (empty for statements that return no rows).
    public var columns: [ResultColumn]
    /// The rows, each with one value per column.
    public var rows: [[Value]]
    /// Rows inserted, updated or deleted (0 for reads and DDL).
    public var rowsAffected: Int
    /// `select`, `insert`, `update`, `delete`, `create`, `drop`, `alter`, `begin`, `commit`, `rollback`, `explain` …
    public var statementType: String
    /// PostgreSQL's command tag: `SELECT 2`, `INSERT 0 1`, `CREATE TABLE` …
    public var commandTag: String
    /// A human-readable note (DDL and transaction control), also the single `message` row of such results.
    public var message: String?
    /// What PostgreSQL reports as NOTICEs beside the result: the `… does not exist, skipping`
    /// and `… already exists, skipping` of IF [NOT] EXISTS (PG-wire sends them; psql prints them).
    public var notices: [String] = []
    /// What PostgreSQL reports as WARNINGs (`pg_advisory_unlock` of a lock the session does not hold).
    public var warnings: [String] = []

    /// A result; surfaces build their own only in tests.
    public init(columns: [ResultColumn], rows: [[Value]], rowsAffected: Int = 0, statementType: String, commandTag: String, message: String? = nil) {
        self.columns = columns
        self.rows = rows
        self.rowsAffected = rowsAffected
        self.statementType = statementType
        self.commandTag = commandTag
        self.message = message
    }

    /// A DDL or transaction-control result: no rows, a message and a tag.
    static func message(_ text: String, type: String, tag: String, notices: [String] = []) -> QueryResult {
        var result = QueryResult(columns: [], rows: [], statementType: type, commandTag: tag, message: text)
        // A message that is itself a skip (`relation "t" already exists, skipping`) is the notice.
        result.notices = notices.isEmpty && text.hasSuffix(", skipping") ? [text] : notices
        return result
    }

    /// A notice's SQLSTATE, as PostgreSQL sends it: 42P07 for an object that already exists, 00000 otherwise.
    public static func noticeCode(_ notice: String) -> String { notice.contains("already exists") ? "42P07" : "00000" }

    /// The index of the column called `name`.
    public func columnIndex(_ name: String) -> Int? { columns.firstIndex { $0.name == name } }

    /// Which part of the runtime answered, as the HTTP and gRPC envelopes name it.
    public var engine: String {
        switch statementType {
        case "select": return "runtime-table"
        case "insert", "update", "delete": return "runtime-dml"
        case "explain": return "runtime-explain"
        default: return "runtime-ddl"
        }
    }

    /// Each row as `{column: value}` (HTTP's value encoding), as the HTTP, gRPC, RedWire and MCP
    /// item replies give rows.
    public var records: [JSONValue] { rows.map { Self.record(columns: columns, row: $0) } }

    /// One row as `{column: value}`; a repeated column name keeps its first value.
    public static func record(columns: [ResultColumn], row: [Value]) -> JSONValue {
        var seen = Set<String>()
        return .object(zip(columns, row).compactMap { column, value in
            seen.insert(column.name).inserted ? (column.name, value.jsonValue) : nil
        })
    }

    /// The JSON envelope of HTTP `POST /query` (spec: protocols §4.4, keys sorted), which
    /// `red query --json` prints too. `records[i].values` maps column names to values.
    public func json(query: String) -> JSONValue {
        let records: [JSONValue] = rows.map { row in
            let values = zip(columns, row).map { ($0.name, $1.jsonValue) }.sorted { $0.0 < $1.0 }
            return .object([("edges", .object([])), ("nodes", .object([])), ("paths", .array([])),
                            ("values", .object(values)), ("vector_results", .array([]))])
        }
        var members: [(String, JSONValue)] = []
        if rowsAffected > 0 { members.append(("affected_rows", .integer(Int64(rowsAffected)))) }
        members += [
            ("capability", .string("table")),
            ("engine", .string(engine)),
        ]
        if let message { members.append(("message", .string(message))) }
        members += [
            ("mode", .string("sql")),
            ("ok", .bool(true)),
            ("query", .string(query)),
            ("record_count", .integer(Int64(rows.count))),
            ("result", .object([
                ("columns", .array(columns.map { .string($0.name) })),
                ("records", .array(records)),
                ("stats", .object([("edges_scanned", .integer(0)), ("exec_time_us", .integer(0)),
                                   ("nodes_scanned", .integer(0)), ("rows_scanned", .integer(0))])),
            ])),
            ("selection", .object([("scope", .string("any"))])),
            ("statement", .string(statementType)),
        ]
        if statementType != "select" { members.append(("statement_type", .string(statementType))) }
        return .object(members)
    }

    /// `json(query:).utf8`, written straight into bytes: the envelope's fixed parts are copied
    /// whole and no `JSONValue` tree is built for it. Every RedWire `QueryWithParams` and HTTP
    /// `POST /query` reply is one; building the tree and then writing it was a sixth of the
    /// server's time for a `SELECT 1` over RedWire. Tests hold it to `json(query:)` byte for byte.
    public func jsonUTF8(query: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(320 + query.utf8.count + rows.count * 96)
        out.append(UInt8(ascii: "{"))
        if rowsAffected > 0 {
            Self.append("\"affected_rows\":", to: &out)
            out.append(contentsOf: String(rowsAffected).utf8)
            out.append(UInt8(ascii: ","))
        }
        Self.append("\"capability\":\"table\",\"engine\":", to: &out)
        JSONValue.writeString(engine, to: &out)
        if let message {
            Self.append(",\"message\":", to: &out)
            JSONValue.writeString(message, to: &out)
        }
        Self.append(",\"mode\":\"sql\",\"ok\":true,\"query\":", to: &out)
        JSONValue.writeString(query, to: &out)
        Self.append(",\"record_count\":", to: &out)
        out.append(contentsOf: String(rows.count).utf8)
        Self.append(",\"result\":{\"columns\":[", to: &out)
        for (i, column) in columns.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONValue.writeString(column.name, to: &out)
        }
        Self.append("],\"records\":[", to: &out)
        // The order `json(query:)` gives each row's values: the same sort over the same names.
        let order = columns.indices.sorted { columns[$0].name < columns[$1].name }
        for (r, row) in rows.enumerated() {
            if r > 0 { out.append(UInt8(ascii: ",")) }
            Self.append("{\"edges\":{},\"nodes\":{},\"paths\":[],\"values\":{", to: &out)
            var first = true
            for i in order where i < row.count {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                JSONValue.writeString(columns[i].name, to: &out)
                out.append(UInt8(ascii: ":"))
                row[i].jsonValue.write(to: &out)
            }
            Self.append("},\"vector_results\":[]}", to: &out)
        }
        Self.append("],\"stats\":{\"edges_scanned\":0,\"exec_time_us\":0,\"nodes_scanned\":0,\"rows_scanned\":0}},", to: &out)
        Self.append("\"selection\":{\"scope\":\"any\"},\"statement\":", to: &out)
        JSONValue.writeString(statementType, to: &out)
        if statementType != "select" {
            Self.append(",\"statement_type\":", to: &out)
            JSONValue.writeString(statementType, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Appends a fixed piece of the envelope (ASCII JSON text, already escaped).
    private static func append(_ text: StaticString, to out: inout [UInt8]) {
        text.withUTF8Buffer { out.append(contentsOf: $0) }
    }
}

extension RedError {
    /// The JSON error envelope (spec: protocols §4.3, coded variant, keys sorted) plus the SQLSTATE.
    public var json: JSONValue {
        var members: [(String, JSONValue)] = [("code", .string(code.rawValue))]
        if let detail { members.append(("detail", .string(detail))) }
        members += [("error", .string(message)), ("message", .string(message)), ("ok", .bool(false))]
        if let position { members.append(("position", .integer(Int64(position)))) }
        members.append(("sqlstate", .string(sqlState)))
        return .object(members)
    }
}
