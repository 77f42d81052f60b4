import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import RedCore

/// A bound parameter of a duel statement.
enum DuelValue: Sendable {
    case int(Int64)
    case text(String)
}

/// A statement that returns rows; prepared once per connection by PostgresNIO (named
/// Parse, then Bind/Execute per call), the way an application's driver runs it.
protocol DuelQuery: PostgresPreparedStatement where Row == PostgresRow {
    var values: [DuelValue] { get }
}

/// A statement run for its effect.
protocol DuelCommand: PostgresPreparedStatement where Row == () {
    var values: [DuelValue] { get }
}

extension DuelQuery {
    func makeBindings() throws -> PostgresBindings { bindings(values) }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}

extension DuelCommand {
    func makeBindings() throws -> PostgresBindings { bindings(values) }
    func decodeRow(_ row: PostgresRow) throws {}
}

private func bindings(_ values: [DuelValue]) -> PostgresBindings {
    var result = PostgresBindings(capacity: values.count)
    for value in values {
        switch value {
        case .int(let v): result.append(v)
        case .text(let v): result.append(v)
        }
    }
    return result
}

/// One client connection to either engine: the same PostgresNIO code path for both.
struct DuelConnection: Sendable {
    let engine: DuelEngine
    let connection: PostgresConnection
    let logger: Logger

    static func open(_ endpoint: DuelEndpoint, id: Int) async throws -> DuelConnection {
        var logger = Logger(label: "red.bench.duel")
        logger.logLevel = .critical
        let configuration = PostgresConnection.Configuration(
            host: "127.0.0.1", port: endpoint.port, username: endpoint.user, password: nil,
            database: endpoint.database, tls: .disable)
        let connection = try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration, id: id, logger: logger
        ).get()
        return DuelConnection(engine: endpoint.engine, connection: connection, logger: logger)
    }

    func close() async { try? await connection.close() }

    /// Runs setup SQL (DDL, loads) and drains any rows.
    func run(_ sql: String) async throws {
        do {
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
            for try await _ in rows {}
        } catch {
            throw DuelError.failed(engine, sql, error)
        }
    }

    /// The first row of `sql` decoded as integers (counts and sums in checks).
    func integers(_ sql: String) async throws -> [Int64] {
        do {
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
            var result: [Int64] = []
            for try await row in rows where result.isEmpty {
                for cell in row { result.append(try cell.decode(Int64?.self) ?? 0) }
            }
            return result
        } catch {
            throw DuelError.failed(engine, sql, error)
        }
    }

    /// Runs a prepared query; returns how many rows came back.
    func rows<Statement: DuelQuery>(_ statement: Statement) async throws -> Int {
        do {
            var count = 0
            for try await _ in try await connection.execute(statement, logger: logger) { count += 1 }
            return count
        } catch {
            throw DuelError.failed(engine, Statement.sql, error)
        }
    }

    /// Runs a prepared command. Its rows-affected count is not available: PostgresNIO 1.33's
    /// `execute` returning the command tag traps (it reads the tag before the stream is
    /// consumed), so scenarios count their effect with untimed queries instead.
    func perform<Statement: DuelCommand>(_ statement: Statement) async throws {
        do {
            for try await _ in try await connection.execute(statement, logger: logger) {}
        } catch {
            throw DuelError.failed(engine, Statement.sql, error)
        }
    }

    /// COPY … FROM STDIN in text format, one buffer per `chunkRows` rows.
    func copy(table: String, columns: [String], rows: Int, chunkRows: Int = 1_000, row: (Int) -> String) async throws {
        do {
            try await connection.copyFrom(table: table, columns: columns, logger: logger) { writer in
                var buffer = ByteBuffer()
                for i in 0..<rows {
                    buffer.writeString(row(i))
                    buffer.writeInteger(UInt8(ascii: "\n"))
                    if (i + 1) % chunkRows == 0 {
                        try await writer.write(buffer)
                        buffer.clear()
                    }
                }
                if buffer.readableBytes > 0 { try await writer.write(buffer) }
            }
        } catch {
            throw DuelError.failed(engine, "COPY \(table) FROM STDIN", error)
        }
    }

    /// The SQLSTATE of a server error, if `error` is one.
    static func sqlState(_ error: any Error) -> String? {
        if case .statementFailed(_, _, _, let state)? = error as? DuelError { return state }
        return (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// `[SQLSTATE] message` for server errors, PostgresNIO's description otherwise.
    static func describe(_ error: any Error) -> String {
        if let psql = error as? PSQLError, let info = psql.serverInfo {
            return "[\(info[.sqlState] ?? "?????")] \(info[.message] ?? "")"
        }
        return String(reflecting: error)
    }
}

enum DuelError: Error, CustomStringConvertible {
    case statementFailed(DuelEngine, sql: String, message: String, sqlState: String?)
    case rowCountsDiffer(scenario: String, reddb: Int, postgres: Int)
    case checkFailed(DuelEngine, String)

    /// A statement's failure, keeping the server's SQLSTATE for callers that retry on it.
    static func failed(_ engine: DuelEngine, _ sql: String, _ error: any Error) -> DuelError {
        .statementFailed(engine, sql: sql, message: DuelConnection.describe(error),
                         sqlState: (error as? PSQLError)?.serverInfo?[.sqlState])
    }

    var description: String {
        switch self {
        case .statementFailed(let engine, let sql, let message, _):
            let shortSQL = sql.count > 160 ? String(sql.prefix(160)) + "…" : sql
            return "\(engine.displayName): \(message)\n  in: \(shortSQL)"
        case .rowCountsDiffer(let scenario, let reddb, let postgres):
            return "\(scenario): RedDB returned \(reddb) rows, PostgreSQL \(postgres)"
        case .checkFailed(let engine, let message):
            return "\(engine.displayName): \(message)"
        }
    }
}
