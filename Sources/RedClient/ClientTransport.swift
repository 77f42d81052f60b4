import RedCore
import RedDB

/// What every transport of `RedClient` provides. `execute` runs one statement in autocommit;
/// `session` leases a connection-scoped session for a transaction (the transports without
/// one, gRPC and HTTP, throw `featureNotSupported`).
protocol ClientTransport: Sendable {
    func execute(_ sql: String, _ parameters: [Value]) async throws -> QueryResult
    func session() async throws -> any ClientSession
    func close() async throws
    /// Inserts all rows or none through the transport's bulk path; nil when it has none.
    func bulkInsert(into table: String, columns: [String], rows: [[Value]]) async throws -> Int?
    /// Runs a `VectorSearchRequest` through the transport's own search message; nil when it has none.
    func vectorSearch(collection: String, _ request: JSONValue) async throws -> QueryResult?
    /// Runs a `GraphRequest` traversal through the transport's own message; nil when it has none.
    func graphTraverse(_ request: JSONValue) async throws -> QueryResult?
    /// The executor that runs a caller's code on the thread this transport's I/O runs on (see
    /// `RedClient.withConnectionExecutor`); nil when there is no such thread.
    var connectionExecutor: (any TaskExecutor)? { get }
}

extension ClientTransport {
    func bulkInsert(into table: String, columns: [String], rows: [[Value]]) async throws -> Int? { nil }
    func vectorSearch(collection: String, _ request: JSONValue) async throws -> QueryResult? { nil }
    func graphTraverse(_ request: JSONValue) async throws -> QueryResult? { nil }
    var connectionExecutor: (any TaskExecutor)? { nil }
}

/// Statements that must run on one server-side session, in order (a transaction).
protocol ClientSession: Sendable {
    func execute(_ sql: String, _ parameters: [Value]) async throws -> QueryResult
    /// Gives the session back; with `rollback`, a transaction it may still hold is rolled back first.
    func release(rollback: Bool) async
}

/// `memory://` and `file://`: the database runs in this process.
final class EmbeddedTransport: ClientTransport {
    let database: Database

    init(database: Database) { self.database = database }

    func execute(_ sql: String, _ parameters: [Value]) async throws -> QueryResult {
        try await database.session().execute(sql, parameters: parameters)
    }

    func session() async throws -> any ClientSession { EmbeddedSession(session: database.session()) }

    func close() async throws { try await database.close() }
}

struct EmbeddedSession: ClientSession {
    let session: Session

    func execute(_ sql: String, _ parameters: [Value]) async throws -> QueryResult {
        try await session.execute(sql, parameters: parameters)
    }

    func release(rollback: Bool) async {
        if session.inTransaction { _ = try? await session.execute("ROLLBACK") }
    }
}

/// The JSON result envelopes of the network surfaces, back into a `QueryResult`.
///
/// Values come back as JSON types: integers, floats, booleans, text, and JSON for arrays and
/// objects. Column types are `.any` (the envelopes carry names only); `decode(_:)` and the
/// `Value` accessors convert as the embedded API does.
enum ResultEnvelope {
    /// HTTP `/query` and RedWire QueryWithParams: `{"result": {"columns", "records": [{"values"}]}, "affected_rows"?, "statement", "message"?}`.
    static func fromQueryEnvelope(_ json: JSONValue) -> QueryResult {
        let names = strings(json["result"]?["columns"])
        var rows: [[Value]] = []
        if case .array(let records)? = json["result"]?["records"] {
            rows = records.map { record in names.map { Value(json: record["values"]?[$0] ?? .null) } }
        }
        return result(names: names, rows: rows, json: json)
    }

    /// gRPC `result_json`: `{"columns", "records": [{col: value}], "affected_rows"?, "message"?}`.
    static func fromGRPC(_ json: JSONValue, statement: String) -> QueryResult {
        let names = strings(json["columns"])
        var rows: [[Value]] = []
        if case .array(let records)? = json["records"] {
            rows = records.map { record in names.map { Value(json: record[$0] ?? .null) } }
        }
        var result = result(names: names, rows: rows, json: json)
        result.statementType = statement
        result.commandTag = commandTag(statement, affected: result.rowsAffected, rows: rows.count)
        return result
    }

    static func result(names: [String], rows: [[Value]], json: JSONValue) -> QueryResult {
        var affected = 0
        if case .integer(let n)? = json["affected_rows"] { affected = Int(n) }
        var statement = "select"
        if case .string(let s)? = json["statement"] { statement = s }
        var message: String?
        if case .string(let m)? = json["message"] { message = m }
        return QueryResult(columns: names.map { ResultColumn(name: $0, type: .any) }, rows: rows, rowsAffected: affected,
                           statementType: statement, commandTag: commandTag(statement, affected: affected, rows: rows.count), message: message)
    }

    /// The PostgreSQL-style command tag the embedded API reports (`INSERT 0 n`, `UPDATE n`,
    /// `SELECT n`); for other statements the envelopes only name the kind (`CREATE`).
    static func commandTag(_ statement: String, affected: Int, rows: Int) -> String {
        switch statement {
        case "insert": return "INSERT 0 \(affected)"
        case "update", "delete": return "\(statement.uppercased()) \(affected)"
        case "select": return "SELECT \(rows)"
        default: return statement.uppercased()
        }
    }

    static func strings(_ json: JSONValue?) -> [String] {
        guard case .array(let items)? = json else { return [] }
        return items.compactMap { if case .string(let s) = $0 { s } else { nil } }
    }

    /// A server's JSON error (`{"code", "message", …}`) as the `RedError` it was.
    static func error(_ json: JSONValue) -> RedError? {
        guard case .string(let code)? = json["code"], let parsed = RedError.Code(rawValue: code) else { return nil }
        var message = ""
        if case .string(let m)? = json["message"] { message = m } else if case .string(let m)? = json["error"] { message = m }
        var error = RedError(parsed, message)
        if case .string(let state)? = json["sqlstate"], state != parsed.sqlState { error.condition = state }
        return error
    }
}
