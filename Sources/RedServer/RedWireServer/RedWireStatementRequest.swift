import RedCore
import RedDB
import RedQuery
import RedWire

/// A RedWire request answered by one statement's whole result: Query, QueryWithParams,
/// and QueryBinary or ExecutePrepared without MORE_FRAMES (with it they stream instead).
///
/// Decoding the frame is kept apart from running the statement so that the connection's
/// reader can offer the same request first to `Session.executeWithoutWaiting` on its event
/// loop and, when that declines, hand it to the stream's task to run as usual; the reply is
/// built the same way either way.
struct RedWireStatementRequest {
    enum Statement {
        case sql(String)
        case prepared(AutoParameterizedStatement)
    }

    let kind: MessageKind
    let statement: Statement
    let parameters: [Value]

    /// Whether frames of `kind` may hold such a request (a cheap test before decoding one).
    static func isStatement(_ kind: MessageKind) -> Bool {
        switch kind {
        case .query, .queryBinary, .queryWithParams, .executePrepared: return true
        default: return false
        }
    }

    /// The request in `frame`, nil when its kind is not one of these. A malformed payload
    /// throws a protocol violation.
    init?(_ frame: Frame, prepared: RedWirePreparedStatements, preparedEnabled: Bool) throws {
        kind = frame.kind
        switch frame.kind {
        case .query, .queryBinary:
            if frame.kind == .queryBinary, frame.flags.contains(.moreFrames) { return nil }
            guard let sql = String(validating: frame.payload, as: UTF8.self) else {
                throw RedError(.protocolViolation, "\(frame.kind.name) payload must be UTF-8 SQL")
            }
            (statement, parameters) = (.sql(sql), [])
        case .queryWithParams:
            let query = try ParamValueCodec.decode(frame.payload)
            (statement, parameters) = (.sql(query.sql), query.parameters)
        case .executePrepared:
            if frame.flags.contains(.moreFrames) { return nil }
            guard preparedEnabled else { throw Self.preparedDisabled }
            let request = try RedWireRequests.decoding("ExecutePrepared") { try PreparedStatementCodec.decodeExecute(frame.payload) }
            (statement, parameters) = (.prepared(try prepared.statement(request.statementID)), request.parameters)
        default:
            return nil
        }
    }

    static let preparedDisabled = RedError(.featureNotSupported, "prepared statements disabled (REDDB_DISABLE_PREPARED)")

    func execute(on session: Session) async throws -> QueryResult {
        switch statement {
        case .sql(let sql): try await session.execute(sql, parameters: parameters)
        case .prepared(let prepared): try await session.execute(prepared, parameters: parameters)
        }
    }

    /// The result if the statement can run at once without waiting (see `Session.executeWithoutWaiting`).
    func executeWithoutWaiting(on session: Session) throws -> QueryResult? {
        switch statement {
        case .sql(let sql): try session.executeWithoutWaiting(sql, parameters: parameters)
        case .prepared(let prepared): try session.executeWithoutWaiting(prepared, parameters: parameters)
        }
    }

    /// The Result frame answering `request` with `result`:
    /// - Query: the summary `{"affected","ok","statement"}` (upstream's shape);
    /// - QueryWithParams: the HTTP envelope with the records;
    /// - QueryBinary, ExecutePrepared: columns and rows in the binary value encoding.
    func reply(to request: Frame, _ result: QueryResult) -> Frame {
        let payload: [UInt8]
        switch (kind, statement) {
        case (.query, _):
            payload = JSONValue.object([("affected", .integer(Int64(result.rowsAffected))), ("ok", .bool(true)),
                                        ("statement", .string(result.statementType))]).utf8
        case (.queryWithParams, .sql(let sql)):
            payload = result.jsonUTF8(query: sql)
        default:
            payload = BinaryValueCodec.encode(.init(columns: result.columns.map(\.name), rows: result.rows))
        }
        return .reply(.result, to: request, payload: payload)
    }
}
