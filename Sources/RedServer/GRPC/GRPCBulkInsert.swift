import GRPCCore
import GRPCProtobuf
import RedCore
import RedDB
import RedProto

/// `BulkInsertBinary`: all rows or none, in one transaction, through the same multi-row
/// INSERT path (`Session.insertRows`) as COPY and RedWire's bulk stream, so every value is
/// checked as an INSERT checks it.
///
/// The router hands this handler the request's bytes (`GRPCServiceRegistration`), and it
/// works like COPY over PG-wire: this task decodes rows by hand (`BinaryBulkInsertScan`),
/// `MultiRowInsert.rowsPerStatement` at a time, while a child task inserts the batches
/// before them, up to `bulkBatchesAhead` behind (`RowBatchPipe`); a load keeps two cores busy.
/// A decoding error, a failed batch (the first one wins) or the call's cancellation rolls
/// everything back.
extension GRPCService {
    static let bulkBatchesAhead = 4

    func bulkInsertBinary(raw request: ServerRequest<RawBinaryBulkInsert>) async -> ServerResponse<Reddb_V1_BulkInsertReply> {
        await unary(request, .writer, rpc: "bulk_insert_binary") { raw, _ in
            let message = try BinaryBulkInsertScan(raw.bytes)
            let name = try Self.required(message.collection, "collection")
            let columns = message.fieldNames
            guard !columns.isEmpty else { throw RedError(.invalidArgument, "bulk insert: no columns") }
            let session = self.context.callerSession()
            _ = try await session.execute("BEGIN")
            do {
                let (count, firstRid) = try await Self.insertPipelined(message, into: name, columns: columns, on: session)
                _ = try await session.execute("COMMIT")
                var reply = Reddb_V1_BulkInsertReply()
                reply.ok = true
                reply.count = UInt64(count)
                reply.firstID = UInt64(max(0, firstRid ?? 0))
                return reply
            } catch {
                _ = try? await session.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// Decodes batches here and inserts them from a child task; returns the rows inserted and
    /// the first row's rid. Throws the first failure: an earlier batch's insert error is found
    /// before a later batch's decoding error.
    private static func insertPipelined(_ message: BinaryBulkInsertScan, into table: String, columns: [String],
                                        on session: Session) async throws -> (Int, Int64?) {
        let pipe = RowBatchPipe(capacity: bulkBatchesAhead)
        let insertFailed = BatchFlag()
        return try await withThrowingTaskGroup(of: (Int, Int64?).self) { group in
            group.addTask {
                var inserted = 0
                var firstRid: Int64?
                let failure = await pipe.consume(failed: insertFailed) { rows in
                    try checkCancellation()
                    let first = inserted == 0
                    let result = try await session.insertRows(into: table, columns: columns, rows: rows, returningRid: first)
                    if first, case .integer(let rid)? = result.rows.first?.first { firstRid = rid }
                    inserted += result.rowsAffected
                }
                if let failure { throw failure }
                return (inserted, firstRid)
            }
            var decodeFailure: (any Error)?
            var position = BinaryBulkInsertScan.Position()
            while !insertFailed.isSet {
                do {
                    try checkCancellation()
                    let rows = try message.nextRows(after: &position, limit: MultiRowInsert.rowsPerStatement)
                    if rows.isEmpty { break }
                    await pipe.put(rows)
                } catch {
                    decodeFailure = error
                    break
                }
            }
            pipe.finish()
            let inserted = try await group.next()!  // an insert failure, which came first, wins
            if let decodeFailure { throw decodeFailure }
            return inserted
        }
    }

    /// As a statement reports it when its call is cancelled.
    private static func checkCancellation() throws {
        if Task.isCancelled { throw RedError(.queryCanceled, "canceling statement due to user request") }
    }
}

/// The generated `reddb.v1.RedDb` routes, with `BulkInsertBinary` rerouted to take the
/// request's bytes undecoded (see `RawBinaryBulkInsert`).
struct GRPCServiceRegistration: RegistrableRPCService {
    let service: GRPCService

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        service.registerMethods(with: &router)
        let service = self.service
        router.registerHandler(
            forMethod: Reddb_V1_RedDb.Method.BulkInsertBinary.descriptor,
            deserializer: RawBinaryBulkInsertDeserializer(),
            serializer: ProtobufSerializer<Reddb_V1_BulkInsertReply>(),
            handler: { request, _ in
                StreamingServerResponse(single: await service.bulkInsertBinary(raw: try await ServerRequest(stream: request)))
            })
    }
}
