import Foundation
import GRPCCore
import RedCore
import RedDB
import RedQuery
import RedProto
import Synchronization

/// The query rpcs: `Query`, `QueryStream`, `ExplainQuery`, `BatchQuery`, `PrepareQuery`,
/// `ExecutePrepared`. Each call runs on its own autocommit session (gRPC has no
/// connection-scoped state, as upstream), so `BEGIN` in one call and `COMMIT` in the next do
/// not form a transaction; a multi-statement transaction goes in one `BatchQuery`.
extension GRPCService {
    func query(request: ServerRequest<Reddb_V1_QueryRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_QueryReply> {
        await unary(request, rpc: "query") { message, _ in
            let sql = try Self.required(message.query, "query")
            let parameters = try message.params.map(GRPCValues.value)
            let result = try await self.context.callerSession().execute(sql, parameters: parameters)
            return GRPCValues.queryReply(result, filter: GRPCValues.EntityFilter(message.entityTypes + message.capabilities))
        }
    }

    func explainQuery(request: ServerRequest<Reddb_V1_QueryRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PayloadReply> {
        await unary(request, rpc: "explain") { message, _ in
            let sql = try Self.required(message.query, "query")
            let result = try await self.context.callerSession().execute("EXPLAIN " + sql, parameters: try message.params.map(GRPCValues.value))
            return Self.payloadReply(result.json(query: sql))
        }
    }

    /// Runs the statements in order on one session, so `BEGIN; …; COMMIT` works; the first
    /// failure fails the whole call (and rolls back a transaction it left open).
    func batchQuery(request: ServerRequest<Reddb_V1_BatchQueryRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_BatchQueryReply> {
        await unary(request, rpc: "batch_query") { message, _ in
            guard message.queries.count <= Self.maxBatchStatements else {
                throw RedError(.limitExceeded, "BatchQuery takes at most \(Self.maxBatchStatements) queries, got \(message.queries.count)")
            }
            let session = self.context.callerSession()
            var reply = Reddb_V1_BatchQueryReply()
            do {
                for sql in message.queries {
                    reply.results.append(GRPCValues.queryReply(try await session.execute(sql), filter: .all))
                }
            } catch {
                if session.inTransaction { _ = try? await session.execute("ROLLBACK") }
                throw error
            }
            if session.inTransaction { _ = try? await session.execute("ROLLBACK") }
            return reply
        }
    }

    static let maxBatchStatements = 10_000

    func prepareQuery(request: ServerRequest<Reddb_V1_PrepareQueryRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_PrepareQueryReply> {
        await unary(request, rpc: "prepare") { message, _ in
            guard self.context.configuration.preparedStatementsEnabled else {
                throw RedError(.featureNotSupported, "prepared statements disabled (REDDB_DISABLE_PREPARED)")
            }
            // Literals become the parameters (spec §3.5, as RedWire §1.6.8).
            let statement = try self.context.callerSession().prepareAutoParameterized(try Self.required(message.query, "query"))
            var reply = Reddb_V1_PrepareQueryReply()
            reply.preparedID = try self.prepared.register(statement)
            reply.parameterCount = UInt32(statement.parameterCount)
            return reply
        }
    }

    func executePrepared(request: ServerRequest<Reddb_V1_ExecutePreparedRequest>, context _: GRPCCore.ServerContext) async throws -> ServerResponse<Reddb_V1_QueryReply> {
        await unary(request, rpc: "execute_prepared") { message, _ in
            let statement = try self.prepared.lookup(message.preparedID).statement
            let parameters = try message.bindJson.map(GRPCValues.boundValue)
            let result = try await self.context.callerSession().execute(statement, parameters: parameters)
            return GRPCValues.queryReply(result, filter: .all)
        }
    }

    /// RedDB for Swift: the rows of one statement in chunks, read lazily from the snapshot, so a
    /// result larger than memory reaches the client. Header, then rows chunks, then end.
    func queryStream(request: ServerRequest<Reddb_V1_QueryRequest>, context _: GRPCCore.ServerContext) async throws -> StreamingServerResponse<Reddb_V1_QueryStreamEvent> {
        let stream: RowStream
        let sql: String
        do {
            let identity = try context.auth.authenticate(token: Self.token(in: request.metadata))
            sql = try Self.required(request.message.query, "query")
            stream = try await context.session(for: identity).stream(sql, parameters: try request.message.params.map(GRPCValues.value))
        } catch {
            return StreamingServerResponse(error: GRPCStatusMapping.rpcError(error))
        }
        let box = UncheckedSendable(stream)
        return StreamingServerResponse { writer in
            let stream = box.value
            defer { stream.close() }
            var header = Reddb_V1_QueryStreamHeader()
            header.columns = stream.columns.map(\.name)
            header.statement = stream.statementType
            try await writer.write(.with { $0.header = header })
            var count: UInt64 = 0
            var chunk: [JSONValue] = []
            var chunkBytes = 0
            func flush() async throws {
                guard !chunk.isEmpty else { return }
                try await writer.write(.with { $0.rows = .with { $0.recordsJson = JSONValue.array(chunk).text } })
                chunk.removeAll(keepingCapacity: true)
                chunkBytes = 0
            }
            do {
                while let row = try stream.next() {
                    try Task.checkCancellation()
                    let record = GRPCValues.record(columns: stream.columns, row: row)
                    chunkBytes += GRPCValues.estimatedSize(row)
                    chunk.append(record)
                    count += 1
                    if chunk.count >= GRPCValues.streamChunkRows || chunkBytes >= GRPCValues.streamChunkBytes { try await flush() }
                }
                try await flush()
            } catch {
                throw GRPCStatusMapping.rpcError(error)
            }
            try await writer.write(.with { $0.end = .with { $0.recordCount = count; $0.affectedRows = UInt64(stream.rowsAffected) } })
            return [:]
        }
    }
}

/// A value the compiler cannot prove Sendable but that one task at a time uses: the row
/// stream, handed from the rpc handler to the response producer that alone reads it.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Server-wide prepared statements of the gRPC surface (spec: protocols §3.5): any caller may
/// execute any id; ids start at 1; an entry expires an hour after it was prepared (swept on
/// prepare and every 256th execute); at most `maxEntries` live at once.
final class PreparedQueryRegistry: Sendable {
    struct Entry: Sendable {
        var statement: AutoParameterizedStatement
        var createdAt: ContinuousClock.Instant
    }

    static let lifetime = Duration.seconds(3_600)
    static let maxEntries = 10_000

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var nextID: UInt64 = 1
        var executions: UInt64 = 0
    }

    private let state = Mutex(State())

    func register(_ statement: AutoParameterizedStatement) throws -> UInt64 {
        let now = ContinuousClock.now
        return try state.withLock { s in
            s.entries = s.entries.filter { now - $0.value.createdAt < Self.lifetime }
            guard s.entries.count < Self.maxEntries else {
                throw RedError(.limitExceeded, "too many prepared statements (\(Self.maxEntries)); they expire an hour after PrepareQuery")
            }
            let id = s.nextID
            s.nextID += 1
            s.entries[id] = Entry(statement: statement, createdAt: now)
            return id
        }
    }

    func lookup(_ id: UInt64) throws -> Entry {
        let now = ContinuousClock.now
        return try state.withLock { s in
            s.executions &+= 1
            if s.executions % 256 == 0 { s.entries = s.entries.filter { now - $0.value.createdAt < Self.lifetime } }
            guard let entry = s.entries[id], now - entry.createdAt < Self.lifetime else {
                throw RedError(.undefinedPreparedStatement, "prepared statement \(id) is unknown or expired")
            }
            return entry
        }
    }
}
