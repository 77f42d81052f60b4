import NIOCore
import RedCore
import RedDB
import Synchronization

/// Running COPY on a connection: CopyIn/CopyOut responses, the data exchange,
/// and inserting the rows through the session (so every value is validated as
/// an INSERT would validate it). COPY FROM runs in one transaction (the open
/// one or its own): either every row lands or none does.
extension PGConnection {
    /// COPY FROM STDIN: CopyInResponse, then CopyData until CopyDone (or CopyFail).
    func copyFromClient(_ copy: PGCopyCommand) async throws {
        guard case .table(let table, let listed) = copy.source else { throw RedError(.syntaxError, "COPY FROM takes a table") }
        guard let info = try await session.collection(named: table) else {
            throw RedError(.undefinedCollection, "relation \"\(table)\" does not exist")
        }
        // As in PostgreSQL, COPY without a column list leaves generated columns to be computed.
        let columns = listed ?? info.schema.columns.filter { !$0.name.hasPrefix("_") && $0.generatedSQL == nil }.map(\.name)
        guard !columns.isEmpty else { throw RedError(.invalidOperation, "COPY FROM needs a table with columns; \(table) has none") }
        if let listed {
            var seen: Set<String> = []
            for name in listed where !seen.insert(name).inserted {
                throw RedError(.duplicateColumn, "column \"\(name)\" specified more than once")
            }
        }
        let columnTypes = try columns.map { name -> DataType in
            guard let column = info.schema.columns.first(where: { $0.name == name }) else {
                throw RedError(.undefinedColumn, "column \"\(name)\" of relation \"\(table)\" does not exist")
            }
            return column.type
        }
        try writer.copyInResponse(columns: columns.count, binary: copy.binary)
        try await flush()

        var textParser = PGCopyRowParser(copy)
        textParser.columnTypes = columnTypes
        var parser: any PGCopyRowDecoding = copy.binary ? PGBinaryCopyParser(columnTypes: columnTypes) : textParser
        var failure: (any Error)?
        // The batch's rows end to end (`RowBlock`): no array per row. The parser fills `row`,
        // one array reused for every row.
        var batch: [Value] = []
        var batchRows = 0
        var row: [Value] = []
        var copied = 0
        var rowNumber = 0
        let rowsPerBatch = MultiRowInsert.rowsPerStatement
        let ownTransaction = !session.inTransaction
        if ownTransaction { try await session.execute("BEGIN") }

        let notNull = try PGCopyCommand.positions(of: copy.forceNotNull, in: columns, option: "FORCE_NOT_NULL")
        let forcedNull = try PGCopyCommand.positions(of: copy.forceNull, in: columns, option: "FORCE_NULL")
        func take(_ row: inout [Value]) throws {
            rowNumber += 1
            if copy.header, !copy.binary, rowNumber == 1 { return }
            guard row.count == columns.count else {
                throw RedError(.invalidTextRepresentation,
                               "COPY \(table), line \(rowNumber): expected \(columns.count) columns, got \(row.count)")
            }
            // The parser gave NULL for an unquoted NULL string and kept a quoted one as text.
            for i in notNull where row[i].isNull { row[i] = .text(copy.null) }
            for i in forcedNull where row[i] == .text(copy.null) { row[i] = .null }
            batch.append(contentsOf: row)
            batchRows += 1
        }

        // Parsing and inserting overlap: one child task inserts the batches (on the session, in
        // order) while they are read and parsed here, a few batches ahead (`RowBatchPipe`), so
        // a COPY keeps two cores busy.
        // Statement triggers fire once for the COPY, around its batches (each an INSERT), as
        // PostgreSQL fires them once for the command.
        let statementTriggers = info.schema.triggerList.contains { $0.enabled && !$0.forEachRow && $0.events.contains(.insert) }
        let inserter = BatchInserter(session: session, context: context, table: table, columns: columns, aroundBatches: statementTriggers)
        // A CancelRequest stops the COPY whether it arrives while a batch is inserted or while
        // the next one is parsed.
        let cancelled = BatchFlag()
        let insertFailed = BatchFlag()
        let session = self.session
        context.connections.setCanceller(id) {
            cancelled.set()
            session.cancelRunningStatement()
        }
        defer { context.connections.setCanceller(id, nil) }
        let pipe = RowBatchPipe(capacity: Self.copyBatchesAhead)
        await withTaskGroup(of: Result<Int, any Error>.self) { inserts in
            inserts.addTask {
                var inserted = 0
                var beforeFailure: (any Error)?
                do { try await inserter.fireStatementTriggers(before: true) } catch {
                    beforeFailure = error
                    insertFailed.set()  // the parser stops; the pipe is drained
                }
                let failure = await pipe.consume(failed: insertFailed) { rows in
                    guard beforeFailure == nil else { return }
                    if cancelled.isSet { throw RedError(.queryCanceled, "canceling statement due to user request") }
                    inserted += try await inserter.insert(rows)
                }
                return (beforeFailure ?? failure).map { .failure($0) } ?? .success(inserted)
            }
            /// A parse error (or the client's): an insert failure of an earlier batch, found once
            /// the batches before it are in, came first and wins.
            var parseFailure: (any Error)?
            func submit() async {
                if cancelled.isSet { parseFailure = parseFailure ?? RedError(.queryCanceled, "canceling statement due to user request") }
                guard batchRows > 0, !insertFailed.isSet, parseFailure == nil else { return }
                let rows = RowBlock(width: columns.count, values: batch, count: batchRows)
                batch.removeAll(keepingCapacity: true)  // (the block keeps the old storage; this starts a new one)
                batchRows = 0
                await pipe.put(rows)
            }
            receiving: while true {
                let message: PGFrontendMessage?
                activity.setAwaitingClient(true)  // pg_terminate_backend need not wait for data that may never come
                defer { activity.setAwaitingClient(false) }
                do { message = try await nextMessage() } catch {
                    parseFailure = parseFailure ?? error
                    break receiving
                }
                guard let message else {
                    parseFailure = parseFailure ?? RedError(.protocolViolation, "connection closed during COPY")
                    break receiving
                }
                switch message {
                case .copyData(let bytes):
                    guard parseFailure == nil, !insertFailed.isSet else { continue }  // read on to CopyDone
                    do {
                        try parser.append(bytes)
                        while try parser.nextValues(atEnd: false, into: &row) {
                            try take(&row)
                            if batchRows >= rowsPerBatch { await submit() }
                        }
                    } catch {
                        parseFailure = error
                    }
                case .copyDone:
                    if parseFailure == nil, !insertFailed.isSet {
                        do {
                            while try parser.nextValues(atEnd: true, into: &row) { try take(&row) }
                        } catch {
                            parseFailure = error
                        }
                        if parseFailure == nil { await submit() }
                    }
                    break receiving
                case .copyFail(let reason):
                    parseFailure = parseFailure ?? RedError(.queryCanceled, "COPY from stdin failed: \(reason)")
                    break receiving
                case .flush, .sync:
                    continue  // ignored during copy-in, as PostgreSQL does (PostgresNIO sends Sync early)
                default:
                    parseFailure = parseFailure ?? RedError(.protocolViolation, "unexpected message during COPY FROM STDIN")
                    break receiving
                }
            }
            pipe.finish()
            switch await inserts.next() {
            case .success(let count)?: copied = count
            case .failure(let error)?: failure = error
            case nil: break
            }
            if failure == nil { failure = parseFailure }
            if failure == nil {
                do { try await inserter.fireStatementTriggers(before: false) } catch { failure = error }
            }
        }
        if let failure {
            if ownTransaction { _ = try? await session.execute("ROLLBACK") }
            throw failure
        }
        if ownTransaction { try await session.execute("COMMIT") }
        // What the rows' triggers raised, as PostgreSQL sends it before the command completes.
        let raised = inserter.raised
        for notice in raised.notices { writer.notice(severity: "NOTICE", code: QueryResult.noticeCode(notice), message: notice) }
        for warning in raised.warnings { writer.notice(severity: "WARNING", code: "01000", message: warning) }
        writer.commandComplete("COPY \(copied)")
    }

    /// Parsed batches (of `MultiRowInsert.rowsPerStatement` rows) that may wait for the inserter.
    static let copyBatchesAhead = 4

    /// COPY TO STDOUT: runs the query, then CopyOutResponse, one CopyData per row, CopyDone.
    func copyToClient(_ copy: PGCopyCommand) async throws {
        let sql: String
        switch copy.source {
        case .table(let table, var columns):
            // Without a column list, generated columns stay out, as they do for COPY FROM (so a
            // table's COPY TO output loads back into it).
            if columns == nil, let info = try await session.collection(named: table),
               info.schema.columns.contains(where: { $0.generatedSQL != nil }) {
                columns = info.schema.columns.filter { !$0.name.hasPrefix("_") && $0.generatedSQL == nil }.map(\.name)
            }
            sql = "SELECT \(columns.map { $0.map(Session.identifier).joined(separator: ", ") } ?? "*") FROM \(Session.identifier(table))"
        case .query(let query):
            sql = query
        }
        let result = try await execute(sql, parameters: [])
        let types = result.columns.map { PGType($0) }
        try writer.copyOutResponse(columns: result.columns.count, binary: copy.binary)
        if copy.binary {
            // The file header travels in the same CopyData as the first tuple (or the trailer), as
            // PostgreSQL sends it; psycopg's reader expects whole tuples after the header in one message.
            var pending = PGBinaryCopyParser.header()
            for row in result.rows {
                var tuple = try PGBinaryCopyParser.encode(row, types: types)
                pending.writeBuffer(&tuple)
                writer.copyData(pending.readableBytesView)
                pending.clear()
                if mustFlush { try await flush() }
            }
            pending.writeInteger(Int16(-1))  // trailer: field count -1
            writer.copyData(pending.readableBytesView)
        } else {
            if copy.header {
                let names = result.columns.map { Value.text($0.name) }
                writer.copyData(PGCopyRowParser.encode(names, types: names.map { _ in .text }, copy: copy))
            }
            let quoted = try copy.forceQuote.map { try PGCopyCommand.positions(of: $0, in: result.columns.map(\.name), option: "FORCE_QUOTE") }
                ?? Set(result.columns.indices)
            let zone = settings.read(\.timeZone)
            for row in result.rows {
                writer.copyData(PGCopyRowParser.encode(row, types: types, copy: copy, forceQuoted: quoted, zone: zone))
                if mustFlush { try await flush() }
            }
        }
        writer.copyDone()
        writer.commandComplete("COPY \(result.rows.count)")
    }
}

/// Inserts COPY batches on a connection's session from a child task, counted in the metrics
/// as `PGConnection.run` counts a statement, without the connection object, which stays with
/// the task that reads the client. (The COPY's CancelRequest handler is set once for all of it.)
private struct BatchInserter: Sendable {
    let session: Session
    let context: ServerContext
    let table: String
    let columns: [String]
    /// Whether the COPY fires statement triggers itself, before and after the batches, which then fire none.
    let aroundBatches: Bool
    /// Notices and warnings triggers on the table raised, kept to PL/pgSQL's bound on notices.
    let raised = NoticeSink()

    /// The table's BEFORE (or AFTER) STATEMENT triggers, when the COPY fires them itself: an
    /// INSERT of no rows that fires only those.
    func fireStatementTriggers(before: Bool) async throws {
        guard aroundBatches else { return }
        do {
            let result = try await session.insertRows(into: table, columns: columns, rows: [], overriding: .always,
                                                      statementTriggers: (before: before, after: !before))
            raised.add(result)
        } catch {
            throw PGConnection.redError(error)
        }
    }

    func insert(_ rows: RowBlock) async throws -> Int {
        let started = ContinuousClock.now
        do {
            // COPY writes the values it is given into identity columns, GENERATED ALWAYS ones too (pg_dump's data).
            let result = try await session.insertRows(into: table, columns: columns, rows: rows, overriding: .always,
                                                      statementTriggers: (before: !aroundBatches, after: !aroundBatches))
            context.metrics.recordStatement(surface: "pg", kind: result.statementType, nanoseconds: (ContinuousClock.now - started).wholeNanoseconds)
            raised.add(result)
            return result.rowsAffected
        } catch {
            throw PGConnection.redError(error)
        }
    }
}
