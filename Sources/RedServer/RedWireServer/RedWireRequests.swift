import Foundation
import Logging
import NIOCore
import RedCore
import RedDB
import RedWire
import Synchronization

/// Runs requests of one RedWire connection; shared by its stream tasks.
struct RedWireRequests: Sendable {
    let context: ServerContext
    let outbound: RedWireConnection.Outbound
    let activity: ConnectionActivity
    let running: RunningRequests
    /// The client asked for JSON error payloads (feature bit 1 in Hello).
    let structuredErrors: Bool
    /// The client asked for zstd-compressed replies (feature bit 2 in Hello).
    let compressReplies: Bool
    let prepared = RedWirePreparedStatements()
    /// zstd level for compressed replies: `RED_REDWIRE_ZSTD_LEVEL` (1…19), else 1, as upstream.
    static let zstdLevel: Int32 = {
        guard let text = ProcessInfo.processInfo.environment["RED_REDWIRE_ZSTD_LEVEL"], let level = Int32(text), (1...19).contains(level) else { return 1 }
        return level
    }()

    func send(_ frame: Frame) async throws {
        try await outbound.write(encode(frame))
    }

    /// A reply's bytes, compressed when the client asked for it. A reply that would not fit
    /// a frame (16 MiB; one large value, or a result read in one piece) goes as an Error
    /// frame instead: the client would drop the connection on the oversized frame, and past
    /// 4 GiB its length would not even fit the header.
    func encode(_ frame: Frame) -> ByteBuffer {
        let sent = compressReplies ? frame.compressed(level: Self.zstdLevel) : frame
        guard sent.payload.count <= Frame.maximumSize - Frame.headerSize else {
            let error = RedError(.limitExceeded, "the reply (\(sent.payload.count) bytes) is larger than a RedWire frame (\(Frame.maximumSize) bytes): select fewer rows or smaller values, or stream the query")
            return ByteBuffer(bytes: errorReply(to: frame, error).encoded())
        }
        return ByteBuffer(bytes: sent.encoded())
    }

    /// About how many bytes of rows a streamed result's frame carries.
    static let streamChunkBytes = 1 << 20

    /// An Error frame: the message as UTF-8 text (spec §1.8), or with structured errors
    /// `{"code","message","sqlstate"}` so clients can act on a stable code.
    func fail(_ request: Frame, _ error: RedError) async throws {
        try await send(errorReply(to: request, error))
    }

    private func errorReply(to request: Frame, _ error: RedError) -> Frame {
        let payload = structuredErrors
            ? JSONValue.object([("code", .string(error.code.rawValue)), ("message", .string(error.message)), ("sqlstate", .string(error.sqlState))]).text
            : error.message
        return .reply(.error, to: request, payload: Array(payload.utf8))
    }

    /// The largest request `answerWithoutWaiting` takes: parsing its SQL must stay short too.
    static let maxWithoutWaitingPayloadBytes = 4 << 10

    /// Answers `frame` right here, on the connection's reader (its event loop), when it is a
    /// statement request whose statement runs without waiting (`Session.executeWithoutWaiting`):
    /// no thread hop there and back. False, with nothing sent or changed, when the stream's
    /// task must run it as usual. The caller makes sure no earlier request of the stream is
    /// still unanswered, so replies keep their order.
    func answerWithoutWaiting(_ frame: Frame, session: Session) async throws -> Bool {
        guard let reply = replyWithoutWaiting(frame, session: session) else { return false }
        try await outbound.write(reply)
        return true
    }

    /// The encoded reply of `answerWithoutWaiting`, for the caller to write: nil, with
    /// nothing changed, when the statement must run on the stream's task.
    func replyWithoutWaiting(_ frame: Frame, session: Session) -> ByteBuffer? {
        guard frame.payload.count <= Self.maxWithoutWaitingPayloadBytes, activity.begin() else { return nil }
        defer { activity.end() }
        let started = ContinuousClock.now
        let reply: Frame
        do {
            guard let request = try RedWireStatementRequest(frame, prepared: prepared, preparedEnabled: context.configuration.preparedStatementsEnabled) else {
                return nil
            }
            let result = try request.executeWithoutWaiting(on: session)
            context.metrics.recordEventLoopAttempt(surface: "redwire", result: result, started: started)
            guard let result else { return nil }
            reply = request.reply(to: frame, result)
        } catch {
            reply = errorReply(to: frame, PGConnection.redError(error))
        }
        return encode(reply)
    }

    /// Answers one request on `session` (its stream's). Throws only when the reply cannot
    /// be written (the connection is gone).
    /// `prefetched`: the frame's rows when the connection's reader decoded them ahead (`BulkRowsPrefetch`).
    func handle(_ frame: Frame, prefetched: PrefetchedRows? = nil, session: Session, bulk: inout BulkStream?,
                settings: inout RedWireSessionSettings) async throws {
        guard activity.begin() else {
            return try await fail(frame, RedError(.closed, "redwire: the server is shutting down"))
        }
        defer { activity.end() }
        do {
            if let request = try RedWireStatementRequest(frame, prepared: prepared, preparedEnabled: context.configuration.preparedStatementsEnabled) {
                let result = try await run(on: session, for: frame) { try await request.execute(on: session) }
                return try await send(request.reply(to: frame, result))
            }
            switch frame.kind {
            case .get, .delete:
                let name = frame.kind == .get ? "Get" : "Delete"
                let (collection, id) = try Self.address(frame.payload, name)
                let kv = try await session.collection(named: collection)?.schema.model == .kv
                let key: Value
                if kv {
                    key = .text(id)
                } else {
                    guard let rid = Int64(id), rid > 0 else {
                        throw RedError(.invalidArgument, "\(name): id must be a rid (a positive integer) in a table or document collection")
                    }
                    key = .integer(rid)
                }
                let target = Session.identifier(collection)
                if frame.kind == .get {
                    let sql = kv ? "KV GET \(target).\(Session.literal(id))" : "SELECT rid, * FROM \(target) WHERE rid = $1"
                    let result = try await execute(sql, parameters: kv ? [] : [key], on: session, for: frame)
                    // Upstream answers only `found`; the record comes too, so a Get needs no second query.
                    var members: [(String, JSONValue)] = [("found", .bool(false)), ("ok", .bool(true))]
                    if let row = result.rows.first, !(kv && row[1].isNull) {
                        members[0] = ("found", .bool(true))
                        members.append(("record", QueryResult.record(columns: result.columns, row: row)))
                    }
                    try await send(.reply(.result, to: frame, payload: JSONValue.object(members).utf8))
                } else {
                    let sql = kv ? "KV DELETE \(target).\(Session.literal(id))" : "DELETE FROM \(target) WHERE rid = $1"
                    let result = try await execute(sql, parameters: kv ? [] : [key], on: session, for: frame)
                    let reply = JSONValue.object([("affected", .integer(Int64(result.rowsAffected)))])
                    try await send(.reply(.deleteOk, to: frame, payload: reply.utf8))
                }
            case .vectorSearch:
                // Ours (upstream reserves the kind): a JSON search request as HTTP's /similar takes, plus "collection".
                try await answerJSONRequest(frame, "VectorSearch", on: session) { body in
                    guard case .string(let collection)? = body["collection"] else {
                        throw RedError(.invalidArgument, "VectorSearch needs {\"collection\": name, \"vector\": [numbers], …}")
                    }
                    return try VectorSearchRequest.statement(collection: collection, body)
                }
            case .graphTraverse:
                // Ours (upstream reserves the kind): a JSON traversal request as HTTP's /graph/traverse takes.
                try await answerJSONRequest(frame, "GraphTraverse", on: session) { try GraphRequest.statement(.traverse, $0) }
            case .queryBinary:  // with MORE_FRAMES: streamed (without, a `RedWireStatementRequest`)
                guard let sql = String(validating: frame.payload, as: UTF8.self) else {
                    throw RedError(.protocolViolation, "QueryBinary payload must be UTF-8 SQL")
                }
                try await streamRows(on: session, for: frame) { try await session.stream(sql) }
            case .setSession:
                try settings.apply(frame.payload, to: session)
                context.logger.debug("redwire stream \(frame.streamID) settings: \(settings.json.text)")
                try await send(.reply(.result, to: frame, payload: settings.json.utf8))
            case .prepare:
                try checkPreparedEnabled()
                let request: PreparedStatementCodec.Prepare = try Self.decoding("Prepare") { try PreparedStatementCodec.decodePrepare(frame.payload) }
                let statement = try session.prepareAutoParameterized(request.sql)
                guard statement.parameterCount <= Int(UInt16.max) else {
                    throw RedError(.limitExceeded, "Prepare: \(statement.parameterCount) literals; at most \(UInt16.max) can be parameters")
                }
                try prepared.store(request.statementID, statement)
                try await send(.reply(.preparedOk, to: frame, payload: PreparedStatementCodec.encodePreparedOk(
                    statementID: request.statementID, parameterCount: UInt16(statement.parameterCount))))
            case .executePrepared:  // with MORE_FRAMES: streamed (without, a `RedWireStatementRequest`)
                try checkPreparedEnabled()
                let request: PreparedStatementCodec.Execute = try Self.decoding("ExecutePrepared") { try PreparedStatementCodec.decodeExecute(frame.payload) }
                let statement = try prepared.statement(request.statementID)
                try await streamRows(on: session, for: frame) { try await session.stream(statement, parameters: request.parameters) }
            case .bulkInsert:
                let (collection, payloads, single) = try Self.bulkPayloads(frame.payload)
                let document = try await session.collection(named: collection)?.schema.model == .document
                let operations = CollectionOperations(database: context.database, standbyReason: context.standbyReason)
                var ids: [JSONValue] = []
                // Each row on its own, as upstream: the first failure answers Error and earlier rows stay.
                for payload in payloads {
                    if document {
                        let rid = try await execute("INSERT INTO \(Session.identifier(collection)) DOCUMENT VALUES ($1) RETURNING rid",
                                                    parameters: [.json(payload)], on: session, for: frame).rows.first?.first
                        ids.append(rid?.jsonValue ?? .null)
                    } else {
                        ids.append(.integer(try await operations.insertRow(collection, payload, on: session).rid))
                    }
                }
                var members: [(String, JSONValue)] = [("affected", .integer(Int64(ids.count)))]
                if single {
                    members.append(("id", ids[0]))
                } else {
                    members.append(("ids", .array(ids)))
                }
                try await send(.reply(.bulkOk, to: frame, payload: JSONValue.object(members).utf8))
            case .bulkInsertBinary, .bulkInsertPrevalidated:
                let bulk: BinaryValueCodec.BulkInsert = try Self.decoding("binary bulk") { try BinaryValueCodec.decodeBulkInsert(frame.payload) }
                var count = ByteWriter(capacity: 8)
                count.u64(UInt64(try await insert(bulk, on: session, for: frame)))
                try await send(.reply(.bulkOk, to: frame, payload: count.bytes))
            case .bulkStreamStart:
                let start: (collection: String, columns: [String]) = try Self.decoding("stream start") { try BinaryValueCodec.decodeStreamStart(frame.payload) }
                guard !start.columns.isEmpty else { throw RedError(.invalidArgument, "stream start: no columns") }
                // Replaces an open stream, once its last commit is in: a failure there is this frame's error.
                if var old = bulk {
                    bulk = nil
                    await old.abandonOpenBatch()
                    try await old.settle()
                }
                bulk = BulkStream(collection: start.collection, columns: start.columns,
                                  flushRows: context.configuration.bulkStreamFlushRows, flushBytes: context.configuration.bulkStreamFlushBytes,
                                  earlyCommit: context.configuration.bulkStreamEarlyCommit)
                try await send(.reply(.bulkStreamAck, to: frame))
            case .bulkStreamRows:
                guard var stream = bulk else {
                    throw RedError(.invalidArgument, "stream rows: no active stream session (send MSG_BULK_STREAM_START first)")
                }
                // A failure ends the stream (batches committed before stay committed), a frame that
                // does not decode included: left open, it went on taking rows and its commit
                // answered BulkOk after this frame's Error. Its open batch is rolled back.
                bulk = nil
                do {
                    let rows: RowBlock = if let prefetched {
                        try await prefetched.rows()
                    } else {
                        try Self.decoding("stream rows") { try BinaryValueCodec.decodeStreamRowBlock(frame.payload, width: stream.columns.count) }
                    }
                    try await insert(rows, into: &stream, on: session, for: frame)
                } catch {
                    await stream.abandonOpenBatch()
                    try await stream.settle()  // the earlier batch's failure, if any, happened first
                    throw error
                }
                bulk = stream
                // Success has no reply: the client pipelines its rows.
            case .bulkStreamCommit:
                guard var stream = bulk else { throw RedError(.invalidArgument, "stream commit: no active stream session") }
                bulk = nil
                try await commitOpenBatch(&stream)
                try await stream.settle()
                var count = ByteWriter(capacity: 8)
                count.u64(UInt64(stream.flushed))
                try await send(.reply(.bulkOk, to: frame, payload: count.bytes))
            default:
                let reason = frame.kind.direction == .serverToClient
                    ? "redwire: \(frame.kind.name) is server-only"
                    : "redwire: cannot dispatch \(frame.kind.name) yet"
                throw RedError(.featureNotSupported, reason)
            }
        } catch {
            try await fail(frame, PGConnection.redError(error))
        }
    }

    /// A streamed result (ours; upstream only reserves the kinds): for a QueryBinary sent with
    /// MORE_FRAMES, `RowDescription` (`u16` columns, names), then `Result` frames flagged
    /// MORE_FRAMES with up to 1,000 rows or about 1 MiB each (`u32` rows, binary values, as
    /// BulkStreamRows), then `StreamEnd` (`u64` total rows). Rows are read lazily from the
    /// snapshot, so a result larger than memory streams. An error or a Cancel ends the stream
    /// with an `Error` frame instead of `StreamEnd`.
    private func streamRows(on session: Session, for request: Frame, open: () async throws -> RowStream) async throws {
        let stream = try await open()
        defer { stream.close() }
        running.register(request.correlationID) { session.cancelRunningStatement() }
        defer { running.remove(request.correlationID) }
        try await send(.reply(.rowDescription, to: request, payload: BinaryValueCodec.encodeRowDescription(stream.columns.map(\.name))))
        // Rows are encoded as they come and a chunk is cut by its encoded size: an estimate
        // counted a JSON document, a blob or a vector as 16 bytes, so 1,000 large rows made a
        // chunk over the frame limit, which went out as an Error frame in the middle of the
        // stream while later chunks and StreamEnd's total still followed.
        // The rows' values go straight into `body` (reused from chunk to chunk); the row count
        // goes in front at the flush. A row that would take the chunk past a frame moves on to
        // the next chunk.
        let limit = Frame.maximumSize - Frame.headerSize - 4
        var body = ByteWriter(capacity: 4096)
        var rows = 0
        var total: UInt64 = 0
        func flush() async throws {
            guard rows > 0 else { return }
            var payload = ByteWriter(capacity: body.count + 4)
            payload.u32(UInt32(rows))
            payload.append(body.bytes)
            try await send(Frame(.result, correlationID: request.correlationID, streamID: request.streamID, flags: .moreFrames,
                                 payload: payload.bytes))
            body.removeAll()
            rows = 0
        }
        while let row = try stream.next() {
            let start = body.count
            for value in row { BinaryValueCodec.encode(value, into: &body) }
            total += 1
            if body.count > limit {
                let rowBytes = body.count - start
                guard rowBytes <= limit else {
                    throw RedError(.limitExceeded, "row \(total) takes \(rowBytes) bytes, more than a RedWire frame holds (\(Frame.maximumSize)): select smaller values")
                }
                let carried = Array(body.bytes[start...])
                body.removeLast(rowBytes)
                try await flush()
                body.append(carried)
            }
            rows += 1
            if rows >= 1_000 || body.count >= Self.streamChunkBytes { try await flush() }
        }
        try await flush()
        var end = ByteWriter(capacity: 8)
        end.u64(total)
        try await send(.reply(.streamEnd, to: request, payload: end.bytes))
    }

    /// Answers a request whose payload is a JSON object that `statement` turns into one
    /// statement: the reply is the Result envelope a QueryWithParams gets.
    private func answerJSONRequest(_ frame: Frame, _ kind: String, on session: Session,
                                   _ statement: (JSONValue) throws -> (sql: String, parameters: [Value])) async throws {
        let body = try Self.decoding(kind) { try JSONValue.parse(String(decoding: frame.payload, as: UTF8.self)) }
        let request = try statement(body)
        let result = try await execute(request.sql, parameters: request.parameters, on: session, for: frame)
        try await send(.reply(.result, to: frame, payload: result.jsonUTF8(query: request.sql)))
    }

    /// Runs one statement that a Cancel naming `request`'s correlation id can stop.
    private func execute(_ sql: String, parameters: [Value], on session: Session, for request: Frame) async throws -> QueryResult {
        try await run(on: session, for: request) { try await session.execute(sql, parameters: parameters) }
    }

    /// Runs `statement` where a Cancel naming `request`'s correlation id can stop it, and
    /// records its time.
    private func run(on session: Session, for request: Frame, _ statement: () async throws -> QueryResult) async throws -> QueryResult {
        let started = ContinuousClock.now
        // On this task, with no task of its own: a Cancel flips the session's switch.
        running.register(request.correlationID) { session.cancelRunningStatement() }
        defer { running.remove(request.correlationID) }
        let result = try await statement()
        context.metrics.recordStatement(surface: "redwire", kind: result.statementType,
                                        nanoseconds: (ContinuousClock.now - started).wholeNanoseconds)
        return result
    }

    /// Decodes a payload; a malformed one is a protocol violation named after its kind.
    static func decoding<T>(_ what: String, _ decode: () throws -> T) throws -> T {
        do { return try decode() } catch let error as RedError {
            throw RedError(.protocolViolation, "\(what): \(error.message)")
        }
    }

    private func checkPreparedEnabled() throws {
        guard context.configuration.preparedStatementsEnabled else { throw RedWireStatementRequest.preparedDisabled }
    }

    /// Inserts a rows frame's rows as they arrive, into the stream's open batch (a transaction
    /// on one of the stream's two batch sessions, begun by its first rows), or into the
    /// client's own transaction when the stream runs inside one (then unpipelined). Inserting
    /// as frames arrive, rather than once a whole batch is pending, lets the first rows go in
    /// while later frames are still being received and decoded (`BulkRowsPrefetch`). The
    /// frame goes in 1,000 rows at a time, and after each the batch may commit (a client's
    /// frame can hold tens of thousands of rows, more than an early commit wants). On failure
    /// the open batch is rolled back; batches committed before stay committed.
    private func insert(_ rows: RowBlock, into stream: inout BulkStream, on session: Session, for request: Frame) async throws {
        let (table, columns) = (stream.collection, stream.columns)
        // Other sessions cannot see this one's temporary tables: with any, the rows go in here.
        if session.inTransaction || session.hasTemporaryTables {
            try await stream.settle()  // the batch before goes first, and its failure stops this one
            stream.flushed += try await insert(table, columns, rows, on: session, for: request)
            return
        }
        try MultiRowInsert.check(columns: columns, rows: rows)
        for start in stride(from: rows.startIndex, to: rows.endIndex, by: MultiRowInsert.rowsPerStatement) {
            let piece = rows[start..<min(rows.endIndex, start + MultiRowInsert.rowsPerStatement)]
            let batchSession = stream.openBatch ?? stream.nextBatchSession(context.database, like: session)
            do {
                if stream.openBatch == nil {
                    _ = try await batchSession.execute("BEGIN")
                    stream.openBatch = batchSession
                }
                _ = try await run(on: batchSession, for: request) { try await batchSession.insertRows(into: table, columns: columns, rows: piece) }
            } catch {
                await stream.abandonOpenBatch()
                try await stream.settle()  // the earlier batch's failure, if any, happened first
                throw error
            }
            stream.opened(piece)
            guard stream.openBytes <= BulkStream.maxPendingBytes else {
                await stream.abandonOpenBatch()
                try await stream.settle()
                throw RedError(.limitExceeded, "stream rows: more than \(BulkStream.maxPendingBytes >> 20) MiB of rows wait uncommitted; "
                               + "lower REDDB_BULK_STREAM_FLUSH_BYTES / _ROWS (0 disables a threshold)")
            }
            if stream.mustFlush || stream.mayFlushEarly { try await commitOpenBatch(&stream) }
        }
    }

    /// Starts the commit of the stream's open batch, once the batch before it has committed
    /// (commits stay in stream order), and returns: the engine applies this batch on one core
    /// while the next is decoded and inserted on the other (`BulkStream.committing`). A batch
    /// whose commit meets a write conflict (a key it shares with the batch before it, which
    /// its snapshot could not see) is inserted again once that batch is in, so a duplicate is
    /// reported as the unique violation it is.
    private func commitOpenBatch(_ stream: inout BulkStream) async throws {
        guard let batchSession = stream.openBatch else { return }
        let (table, columns, pieces, inserted) = (stream.collection, stream.columns, stream.openPieces, stream.openRowCount)
        stream.closeOpenBatch()
        do {
            try await stream.settle()
        } catch {
            _ = try? await batchSession.execute("ROLLBACK")
            throw error
        }
        let done = BulkStream.CommitDone()
        stream.committed = done
        stream.committing = Task {
            defer { done.markDone() }
            do {
                _ = try await batchSession.execute("COMMIT")
                return inserted
            } catch let error as RedError where error.code == .serializationFailure {
                // A key shared with the batch before, which this one's snapshot could not see:
                // inserting again reports it as the unique violation it is.
                let rows = RowBlock(concatenating: pieces)  // (joined only here, where it is needed)
                return try await MultiRowInsert.insertAll(table: table, columns: columns, rows: rows, on: batchSession) { batch in
                    try await batchSession.insertRows(into: table, columns: columns, rows: batch)
                }
            }
        }
    }

    /// BulkInsert's `{"collection", "payload": {…}}` or `{"collection", "payloads": [{…}, …]}` (spec §1.6.5).
    static func bulkPayloads(_ payload: [UInt8]) throws -> (collection: String, payloads: [JSONValue], single: Bool) {
        let (json, collection) = try collectionRequest(payload, "Insert")
        if let one = json["payload"], case .object = one { return (collection, [one], true) }
        guard case .array(let items)? = json["payloads"] else {
            throw RedError(.invalidArgument, "Insert: missing 'payload' object or 'payloads' array")
        }
        guard items.allSatisfy({ if case .object = $0 { true } else { false } }) else {
            throw RedError(.invalidArgument, "Insert: each payload must be a JSON object")
        }
        return (collection, items, false)
    }

    /// A JSON object payload naming a non-empty `collection`; errors are prefixed with `name`.
    static func collectionRequest(_ payload: [UInt8], _ name: String) throws -> (json: JSONValue, collection: String) {
        let json: JSONValue
        do { json = try JSONValue.parse(String(decoding: payload, as: UTF8.self)) } catch let error as RedError {
            throw RedError(.invalidArgument, "\(name): invalid JSON: \(error.message)")
        }
        guard case .object = json else { throw RedError(.invalidArgument, "\(name): payload must be a JSON object") }
        guard case .string(let collection)? = json["collection"], !collection.isEmpty else {
            throw RedError(.invalidArgument, "\(name): missing 'collection' string")
        }
        return (json, collection)
    }

    /// Get/Delete's `{"collection": "c", "id": "<string>"}` (spec §1.6.9).
    static func address(_ payload: [UInt8], _ name: String) throws -> (collection: String, id: String) {
        let (json, collection) = try collectionRequest(payload, name)
        guard case .string(let id)? = json["id"], !id.isEmpty else { throw RedError(.invalidArgument, "\(name): missing 'id' string") }
        return (collection, id)
    }

    /// All rows or none (see `MultiRowInsert.insertAll`); each batch is cancellable by `request`'s id.
    private func insert(_ bulk: BinaryValueCodec.BulkInsert, on session: Session, for request: Frame) async throws -> Int {
        try await insert(bulk.collection, bulk.columns, try MultiRowInsert.block(columns: bulk.columns, rows: bulk.rows), on: session, for: request)
    }

    private func insert(_ table: String, _ columns: [String], _ rows: RowBlock, on session: Session, for request: Frame) async throws -> Int {
        try await MultiRowInsert.insertAll(table: table, columns: columns, rows: rows, on: session) { batch in
            try await run(on: session, for: request) { try await session.insertRows(into: table, columns: columns, rows: batch) }
        }
    }
}

/// A RedWire bulk stream (BulkStreamStart/Rows/Commit) on one stream id: each rows frame is
/// inserted as it arrives into the open batch, a transaction that commits once it holds
/// 50,000 rows or 8 MiB (the spec's estimate), while the next batch is inserted
/// (`RedWireRequests.commitOpenBatch`); BulkStreamCommit commits the rest, waits for the last
/// commit and reports every row the stream inserted.
///
/// Those thresholds are the most a batch holds. A batch also commits early, once it holds an
/// eighth of a threshold and the batch before it has finished committing (`mayFlushEarly`):
/// the commit then runs on the other core while rows keep arriving, so what is left to commit
/// after the stream's last frame is a small batch rather than up to 50,000 rows applied on
/// one core while the other waits. When commits are slower than inserts (wide indexes), the
/// batch grows meanwhile, up to the thresholds, as before.
struct BulkStream: Sendable {
    /// The most a stream may hold uncommitted, whatever the thresholds say (it is all in memory).
    static let maxPendingBytes = 1 << 30
    /// Flush thresholds (`ServerConfiguration.bulkStreamFlushRows`/`Bytes`; 0 disables one).
    let flushRows: Int
    let flushBytes: Int
    /// Whether a batch may commit before the thresholds (`mayFlushEarly`).
    let earlyCommit: Bool

    let collection: String
    let columns: [String]
    /// The batch being inserted: a transaction open on one of `batchSessions`, and its rows
    /// (kept to insert them again if its commit conflicts with the batch before).
    var openBatch: Session?
    /// The open batch's rows, as the pieces inserted (sharing the frames' storage: a piece keeps
    /// its whole frame's values alive, so a batch holds at most about one frame more than
    /// `openBytes` counts, a frame being bounded by `BinaryValueCodec.maxDecodedRowBytes`).
    private(set) var openPieces: [RowBlock] = []
    private(set) var openRowCount = 0
    private(set) var openBytes = 0
    /// Rows whose commit has completed.
    var flushed = 0
    /// The last batch's COMMIT while it runs; its result is the batch's row count.
    var committing: Task<Int, any Error>?
    /// Set by `committing` when it ends, so a frame can tell without waiting for it.
    var committed: CommitDone?
    /// Two sessions that batches alternate between: one commits while the other inserts.
    private var batchSessions: [Session] = []
    private var batches = 0

    init(collection: String, columns: [String], flushRows: Int = 50_000, flushBytes: Int = 8 << 20, earlyCommit: Bool = true) {
        self.collection = collection
        self.columns = columns
        self.flushRows = flushRows
        self.flushBytes = flushBytes
        self.earlyCommit = earlyCommit
    }

    /// Notes rows inserted into the open batch (`openBatch` must be set).
    mutating func opened(_ rows: RowBlock) {
        openPieces.append(rows)
        openRowCount += rows.count
        for row in rows { for value in row { openBytes += BinaryValueCodec.estimatedSize(value) } }
    }

    /// Forgets the open batch once its commit is under way.
    mutating func closeOpenBatch() {
        openBatch = nil
        openPieces = []
        openRowCount = 0
        openBytes = 0
    }

    /// Rolls the open batch back (the stream failed, was replaced or its connection ended).
    mutating func abandonOpenBatch() async {
        if let session = openBatch { _ = try? await session.execute("ROLLBACK") }
        closeOpenBatch()
    }

    var mustFlush: Bool {
        (flushRows > 0 && openRowCount >= flushRows) || (flushBytes > 0 && openBytes >= flushBytes)
    }

    /// An eighth of a threshold is pending and no commit is running: committing now costs the
    /// inserts nothing and leaves less for the end (see the type's comment).
    var mayFlushEarly: Bool {
        guard earlyCommit, (flushRows > 0 && openRowCount >= flushRows / 8) || (flushBytes > 0 && openBytes >= flushBytes / 8) else { return false }
        return committed?.isDone ?? true
    }

    /// Whether a batch's commit task has ended.
    final class CommitDone: Sendable {
        private let done = Atomic<Bool>(false)
        var isDone: Bool { done.load(ordering: .acquiring) }
        func markDone() { done.store(true, ordering: .releasing) }
    }

    /// The session for the next batch (the other one may still be committing the last),
    /// with the stream session's statement timeout and access.
    mutating func nextBatchSession(_ database: Database, like streamSession: Session) -> Session {
        if batchSessions.count < 2 {
            // Access is set once, here: a batch session may still be committing when it is reused.
            let session = database.session()
            session.access = streamSession.access
            batchSessions.append(session)
        }
        defer { batches += 1 }
        let session = batchSessions[batches % batchSessions.count]
        session.statementTimeoutMilliseconds = streamSession.statementTimeoutMilliseconds
        return session
    }

    /// Waits for the running commit, if any, and counts its rows.
    mutating func settle() async throws {
        guard let task = committing else { return }
        committing = nil
        committed = nil
        flushed += try await task.value
    }
}
