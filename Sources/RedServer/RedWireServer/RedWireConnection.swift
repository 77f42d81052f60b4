import Logging
import NIOCore
import RedCore
import RedDB
import RedWire
import Synchronization

/// One RedWire connection: preamble, handshake, then request frames until Bye or EOF.
///
/// - A wrong magic byte or a minor version above 1 closes the connection silently, and so
///   does any malformed frame (the decoder throws): framing cannot be resynchronised.
/// - Handshake failures answer AuthFail `{"reason": …}` and close.
/// - After the handshake every request gets exactly one reply carrying its correlation id
///   and stream id; errors are Error frames (UTF-8 message) and the connection stays usable.
/// - **Streams.** Each stream id is a session of its own: its requests run one after another,
///   in arrival order (stream 0 alone behaves exactly like upstream's sequential dispatch),
///   while different streams run concurrently and their replies interleave. A client
///   multiplexes independent queries, or transactions, by giving each its stream id. At
///   most `maxStreams` streams are open per connection and `maxPendingFrames` requests may
///   wait per stream; beyond either the request gets an Error frame.
/// - Ping is answered at once; Bye waits for every stream's work, then echoes and closes.
/// - **Cancel** (0x20, payload: the `u64` correlation id of a running request) is handled
///   at once too, whatever stream it names: the running statement stops with
///   `canceling statement due to user request` in its Error reply, and the Cancel itself is
///   answered with a Result `{"cancelled":true|false,"ok":true}` (false: nothing was running
///   under that id).
final class RedWireConnection {
    typealias Inbound = NIOAsyncChannelInboundStream<RedWireInbound>.AsyncIterator
    typealias Outbound = NIOAsyncChannelOutboundWriter<ByteBuffer>

    let context: ServerContext
    let session: Session
    var inbound: Inbound
    let outbound: Outbound
    let id: Int32
    var logger: Logger

    static let maxStreams = 1_024
    static let maxPendingFrames = 1_024

    init(context: ServerContext, inbound: Inbound, outbound: Outbound, id: Int32) {
        self.context = context
        self.session = context.database.session()
        self.inbound = inbound
        self.outbound = outbound
        self.id = id
        var logger = context.logger
        logger[metadataKey: "redwire_connection"] = "\(id)"
        self.logger = logger
    }

    static func serve(_ connection: NIOAsyncChannel<RedWireInbound, ByteBuffer>, context: ServerContext) async {
        let channel = connection.channel
        do {
            try await connection.executeThenClose { inbound, outbound in
                // Over the connection limit the connection just closes: RedWire has no pre-handshake error frame.
                _ = try await context.serveRegistered(channel) { registration in
                    let handler = RedWireConnection(context: context, inbound: inbound.makeAsyncIterator(), outbound: outbound,
                                                    id: registration.id)
                    try await handler.run()
                }
            }
        } catch {
            context.logger.debug("redwire connection ended: \(error)")
        }
    }

    func run() async throws {
        guard case .preamble(let magic, let minor)? = try await inbound.next(),
              magic == RedWirePreamble.magic, minor <= RedWirePreamble.maximumMinorVersion else { return }
        guard let features = try await handshake() else { return }
        let requests = RedWireRequests(context: context, outbound: outbound, activity: ConnectionActivity(id: id, context: context),
                                       running: RunningRequests(), structuredErrors: features & RedWireHandshake.structuredErrors != 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            var streams: [UInt16: AsyncStream<Frame>.Continuation] = [:]
            defer { for stream in streams.values { stream.finish() } }
            while case .frame(let frame)? = try await inbound.next() {
                switch frame.kind {
                case .ping:
                    try await requests.send(.reply(.pong, to: frame))
                    continue
                case .cancel:
                    guard frame.payload.count == 8 else {
                        try await requests.fail(frame, RedError(.protocolViolation, "Cancel payload must be the u64 correlation id to cancel"))
                        continue
                    }
                    let target = frame.payload.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                    let cancelled = requests.running.cancel(target)
                    let reply = JSONValue.object([("cancelled", .bool(cancelled)), ("ok", .bool(true))])
                    try await requests.send(.reply(.result, to: frame, payload: Array(reply.text.utf8)))
                    continue
                case .bye:
                    for stream in streams.values { stream.finish() }
                    streams.removeAll()
                    try await group.waitForAll()
                    try await requests.send(.reply(.bye, to: frame))
                    return
                default:
                    break
                }
                if let stream = streams[frame.streamID] {
                    if case .dropped = stream.yield(frame) {
                        try await requests.fail(frame, RedError(.limitExceeded, "redwire: more than \(Self.maxPendingFrames) requests waiting on stream \(frame.streamID)"))
                    }
                    continue
                }
                guard streams.count < Self.maxStreams else {
                    try await requests.fail(frame, RedError(.limitExceeded, "redwire: more than \(Self.maxStreams) open streams on one connection"))
                    continue
                }
                let (stream, continuation) = AsyncStream.makeStream(of: Frame.self, bufferingPolicy: .bufferingOldest(Self.maxPendingFrames))
                streams[frame.streamID] = continuation
                continuation.yield(frame)
                let session = frame.streamID == 0 ? self.session : context.database.session()
                group.addTask {
                    defer { session.abortOpenTransaction() }
                    var bulk: BulkStream?
                    for await request in stream { try await requests.handle(request, session: session, bulk: &bulk) }
                }
            }
        }
    }

    // MARK: Handshake

    /// Runs the handshake; the negotiated feature bits once authenticated, nil when refused.
    private func handshake() async throws -> Int64? {
        var state = RedWireHandshake(users: context.configuration.users, tokens: context.tokens)
        guard case .frame(let hello)? = try await inbound.next() else { return nil }
        do {
            guard hello.kind == .hello else { throw RedError(.invalidAuthorization, "first frame after magic must be Hello") }
            try await send(.reply(.helloAck, to: hello, payload: Array(try state.hello(hello.payload).text.utf8)))
            while true {
                guard case .frame(let response)? = try await inbound.next() else { return nil }
                guard response.kind == .authResponse else {
                    throw RedError(.invalidAuthorization, "expected AuthResponse, got \(response.kind.name)")
                }
                do {
                    switch try state.authResponse(response.payload) {
                    case .challenge(let serverFirst):
                        try await send(.reply(.authRequest, to: response, payload: Array(serverFirst.utf8)))
                    case .done(let ok):
                        try await send(.reply(.authOk, to: response, payload: Array(ok.text.utf8)))
                        return state.negotiatedFeatures
                    }
                } catch let error as RedError {
                    try await authFail(error.message, to: response)
                    return nil
                }
            }
        } catch let error as RedError {
            try await authFail(error.message, to: hello)
            return nil
        }
    }

    private func authFail(_ reason: String, to request: Frame) async throws {
        logger.info("redwire handshake refused: \(reason)")
        try await send(.reply(.authFail, to: request, payload: Array(JSONValue.object([("reason", .string(reason))]).text.utf8)))
    }

    private func send(_ frame: Frame) async throws {
        try await outbound.write(ByteBuffer(bytes: frame.encoded()))
    }
}

/// Marks the connection busy while any of its streams runs a request, so that graceful
/// shutdown closes it only between requests.
final class ConnectionActivity: Sendable {
    let id: Int32
    let context: ServerContext
    private let running = Mutex(0)

    init(id: Int32, context: ServerContext) { self.id = id; self.context = context }

    /// False when the server is shutting down: the request must not start.
    func begin() -> Bool {
        let first = running.withLock { count in count += 1; return count == 1 }
        return first ? context.connections.startRequest(id) : true
    }

    func end() {
        let last = running.withLock { count in count -= 1; return count == 0 }
        if last { _ = context.connections.finishRequest(id) }
    }
}

/// The statements running on one connection, by the correlation id of their request,
/// with what cancels each.
final class RunningRequests: Sendable {
    private let cancellers = Mutex<[UInt64: @Sendable () -> Void]>([:])

    func register(_ correlationID: UInt64, _ cancel: @escaping @Sendable () -> Void) {
        cancellers.withLock { $0[correlationID] = cancel }
    }

    func remove(_ correlationID: UInt64) {
        _ = cancellers.withLock { $0.removeValue(forKey: correlationID) }
    }

    /// Cancels the statement running under `correlationID`; false if none is.
    func cancel(_ correlationID: UInt64) -> Bool {
        guard let cancel = cancellers.withLock({ $0[correlationID] }) else { return false }
        cancel()
        return true
    }
}

/// Runs requests of one RedWire connection; shared by its stream tasks.
struct RedWireRequests: Sendable {
    let context: ServerContext
    let outbound: RedWireConnection.Outbound
    let activity: ConnectionActivity
    let running: RunningRequests
    /// The client asked for JSON error payloads (feature bit 1 in Hello).
    let structuredErrors: Bool

    func send(_ frame: Frame) async throws {
        try await outbound.write(ByteBuffer(bytes: frame.encoded()))
    }

    /// An Error frame: the message as UTF-8 text (spec §1.8), or with structured errors
    /// `{"code","message","sqlstate"}` so clients can act on a stable code.
    func fail(_ request: Frame, _ error: RedError) async throws {
        let payload = structuredErrors
            ? JSONValue.object([("code", .string(error.code.rawValue)), ("message", .string(error.message)), ("sqlstate", .string(error.code.sqlState))]).text
            : error.message
        try await send(.reply(.error, to: request, payload: Array(payload.utf8)))
    }

    /// Answers one request on `session` (its stream's). Throws only when the reply cannot
    /// be written (the connection is gone).
    func handle(_ frame: Frame, session: Session, bulk: inout BulkStream?) async throws {
        guard activity.begin() else {
            return try await fail(frame, RedError(.closed, "redwire: the server is shutting down"))
        }
        defer { activity.end() }
        do {
            switch frame.kind {
            case .query:
                guard let sql = String(validating: frame.payload, as: UTF8.self) else {
                    throw RedError(.protocolViolation, "Query payload must be UTF-8 SQL")
                }
                let result = try await execute(sql, parameters: [], on: session, for: frame)
                let summary = JSONValue.object([("affected", .integer(Int64(result.rowsAffected))), ("ok", .bool(true)),
                                                ("statement", .string(result.statementType))])
                try await send(.reply(.result, to: frame, payload: Array(summary.text.utf8)))
            case .queryWithParams:
                let query = try ParamValueCodec.decode(frame.payload)
                let result = try await execute(query.sql, parameters: query.parameters, on: session, for: frame)
                try await send(.reply(.result, to: frame, payload: Array(result.json(query: query.sql).text.utf8)))
            case .get, .delete:
                let name = frame.kind == .get ? "Get" : "Delete"
                let (collection, id) = try Self.address(frame.payload, name)
                let kv = try await session.collections().first { $0.name == collection }?.schema.model == .kv
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
                        members.append(("record", CollectionOperations.record(columns: result.columns, row: row)))
                    }
                    try await send(.reply(.result, to: frame, payload: Array(JSONValue.object(members).text.utf8)))
                } else {
                    let sql = kv ? "KV DELETE \(target).\(Session.literal(id))" : "DELETE FROM \(target) WHERE rid = $1"
                    let result = try await execute(sql, parameters: kv ? [] : [key], on: session, for: frame)
                    let reply = JSONValue.object([("affected", .integer(Int64(result.rowsAffected)))])
                    try await send(.reply(.deleteOk, to: frame, payload: Array(reply.text.utf8)))
                }
            case .queryBinary where frame.flags.contains(.moreFrames):
                guard let sql = String(validating: frame.payload, as: UTF8.self) else {
                    throw RedError(.protocolViolation, "QueryBinary payload must be UTF-8 SQL")
                }
                try await streamRows(sql, on: session, for: frame)
            case .queryBinary:
                guard let sql = String(validating: frame.payload, as: UTF8.self) else {
                    throw RedError(.protocolViolation, "QueryBinary payload must be UTF-8 SQL")
                }
                let result = try await execute(sql, parameters: [], on: session, for: frame)
                let body = BinaryValueCodec.encode(.init(columns: result.columns.map(\.name), rows: result.rows))
                try await send(.reply(.result, to: frame, payload: body))
            case .bulkInsert:
                let (collection, payloads, single) = try Self.bulkPayloads(frame.payload)
                let document = try await session.collections().first { $0.name == collection }?.schema.model == .document
                let operations = CollectionOperations(database: context.database)
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
                try await send(.reply(.bulkOk, to: frame, payload: Array(JSONValue.object(members).text.utf8)))
            case .bulkInsertBinary, .bulkInsertPrevalidated:
                let bulk: BinaryValueCodec.BulkInsert
                do { bulk = try BinaryValueCodec.decodeBulkInsert(frame.payload) } catch let error as RedError {
                    throw RedError(.protocolViolation, "binary bulk: \(error.message)")
                }
                var count = ByteWriter(capacity: 8)
                count.u64(UInt64(try await insert(bulk, on: session, for: frame)))
                try await send(.reply(.bulkOk, to: frame, payload: count.bytes))
            case .bulkStreamStart:
                let start: (collection: String, columns: [String])
                do { start = try BinaryValueCodec.decodeStreamStart(frame.payload) } catch let error as RedError {
                    throw RedError(.protocolViolation, "stream start: \(error.message)")
                }
                guard !start.columns.isEmpty else { throw RedError(.invalidArgument, "stream start: no columns") }
                bulk = BulkStream(collection: start.collection, columns: start.columns)  // replaces an open stream
                try await send(.reply(.bulkStreamAck, to: frame))
            case .bulkStreamRows:
                guard var stream = bulk else {
                    throw RedError(.invalidArgument, "stream rows: no active stream session (send MSG_BULK_STREAM_START first)")
                }
                let rows: [[Value]]
                do { rows = try BinaryValueCodec.decodeStreamRows(frame.payload, width: stream.columns.count) } catch let error as RedError {
                    throw RedError(.protocolViolation, "stream rows: \(error.message)")
                }
                stream.append(rows)
                bulk = stream
                if stream.mustFlush {
                    bulk = nil  // a failed flush ends the stream; rows flushed before stay committed
                    try await flush(&stream, on: session, for: frame)
                    bulk = stream
                }
                // Success has no reply: the client pipelines its rows.
            case .bulkStreamCommit:
                guard var stream = bulk else { throw RedError(.invalidArgument, "stream commit: no active stream session") }
                bulk = nil
                try await flush(&stream, on: session, for: frame)
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
    private func streamRows(_ sql: String, on session: Session, for request: Frame) async throws {
        let stream = try await session.stream(sql)
        defer { stream.close() }
        running.register(request.correlationID) { session.cancelRunningStatement() }
        defer { running.remove(request.correlationID) }
        try await send(.reply(.rowDescription, to: request, payload: BinaryValueCodec.encodeRowDescription(stream.columns.map(\.name))))
        var chunk: [[Value]] = []
        var chunkBytes = 0
        var total: UInt64 = 0
        func flush() async throws {
            guard !chunk.isEmpty else { return }
            try await send(Frame(.result, correlationID: request.correlationID, streamID: request.streamID, flags: .moreFrames,
                                 payload: BinaryValueCodec.encodeStreamRows(chunk)))
            chunk.removeAll(keepingCapacity: true)
            chunkBytes = 0
        }
        while let row = try stream.next() {
            chunk.append(row)
            chunkBytes += row.reduce(0) { $0 + BinaryValueCodec.estimatedSize($1) }
            total += 1
            if chunk.count >= 1_000 || chunkBytes >= 1 << 20 { try await flush() }
        }
        try await flush()
        var end = ByteWriter(capacity: 8)
        end.u64(total)
        try await send(.reply(.streamEnd, to: request, payload: end.bytes))
    }

    /// Runs one statement that a Cancel naming `request`'s correlation id can stop.
    private func execute(_ sql: String, parameters: [Value], on session: Session, for request: Frame) async throws -> QueryResult {
        let started = ContinuousClock.now
        // On this task, with no task of its own: a Cancel flips the session's switch.
        running.register(request.correlationID) { session.cancelRunningStatement() }
        defer { running.remove(request.correlationID) }
        let result = try await session.execute(sql, parameters: parameters)
        context.metrics.recordStatement(surface: "redwire", kind: result.statementType,
                                        nanoseconds: (ContinuousClock.now - started).wholeNanoseconds)
        return result
    }

    /// Inserts a bulk stream's pending rows and commits them.
    private func flush(_ stream: inout BulkStream, on session: Session, for request: Frame) async throws {
        guard !stream.pending.isEmpty else { return }
        let rows = stream.pending
        stream.pending.removeAll()
        stream.pendingBytes = 0
        stream.flushed += try await insert(.init(collection: stream.collection, columns: stream.columns, rows: rows),
                                           on: session, for: request)
    }

    /// BulkInsert's `{"collection", "payload": {…}}` or `{"collection", "payloads": [{…}, …]}` (spec §1.6.5).
    static func bulkPayloads(_ payload: [UInt8]) throws -> (collection: String, payloads: [JSONValue], single: Bool) {
        let json: JSONValue
        do { json = try JSONValue.parse(String(decoding: payload, as: UTF8.self)) } catch let error as RedError {
            throw RedError(.invalidArgument, "Insert: invalid JSON: \(error.message)")
        }
        guard case .object = json else { throw RedError(.invalidArgument, "Insert: payload must be a JSON object") }
        guard case .string(let collection)? = json["collection"], !collection.isEmpty else {
            throw RedError(.invalidArgument, "Insert: missing 'collection' string")
        }
        if let one = json["payload"], case .object = one { return (collection, [one], true) }
        guard case .array(let items)? = json["payloads"] else {
            throw RedError(.invalidArgument, "Insert: missing 'payload' object or 'payloads' array")
        }
        guard items.allSatisfy({ if case .object = $0 { true } else { false } }) else {
            throw RedError(.invalidArgument, "Insert: each payload must be a JSON object")
        }
        return (collection, items, false)
    }

    /// Get/Delete's `{"collection": "c", "id": "<string>"}` (spec §1.6.9).
    static func address(_ payload: [UInt8], _ name: String) throws -> (collection: String, id: String) {
        let json: JSONValue
        do { json = try JSONValue.parse(String(decoding: payload, as: UTF8.self)) } catch let error as RedError {
            throw RedError(.invalidArgument, "\(name): invalid JSON: \(error.message)")
        }
        guard case .object = json else { throw RedError(.invalidArgument, "\(name): payload must be a JSON object") }
        guard case .string(let collection)? = json["collection"], !collection.isEmpty else {
            throw RedError(.invalidArgument, "\(name): missing 'collection' string")
        }
        guard case .string(let id)? = json["id"], !id.isEmpty else { throw RedError(.invalidArgument, "\(name): missing 'id' string") }
        return (collection, id)
    }

    /// All rows or none (see `MultiRowInsert.insertAll`); each batch is cancellable by `request`'s id.
    private func insert(_ bulk: BinaryValueCodec.BulkInsert, on session: Session, for request: Frame) async throws -> Int {
        try await MultiRowInsert.insertAll(table: bulk.collection, columns: bulk.columns, rows: bulk.rows, on: session) { sql, parameters in
            try await execute(sql, parameters: parameters, on: session, for: request)
        }.count
    }
}

/// A RedWire bulk stream (BulkStreamStart/Rows/Commit) on one stream id: rows wait here
/// until 50,000 of them or 8 MiB (the spec's estimate) are pending, then are inserted and
/// committed; BulkStreamCommit flushes the rest and reports every row the stream inserted.
struct BulkStream: Sendable {
    static let flushRows = 50_000
    static let flushBytes = 8 << 20

    let collection: String
    let columns: [String]
    var pending: [[Value]] = []
    var pendingBytes = 0
    var flushed = 0

    init(collection: String, columns: [String]) { self.collection = collection; self.columns = columns }

    mutating func append(_ rows: [[Value]]) {
        pending += rows
        for row in rows { for value in row { pendingBytes += BinaryValueCodec.estimatedSize(value) } }
    }

    var mustFlush: Bool { pending.count >= Self.flushRows || pendingBytes >= Self.flushBytes }
}
