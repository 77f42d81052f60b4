import NIOCore
import RedCore
import RedDB

/// Which frontend messages a PG-wire connection answers on its event loop, and how.
///
/// A connection's task reads messages on its channel's event loop. Sending each to Swift's
/// shared pool and the reply back costs two thread wake-ups per round trip, more than a
/// point `SELECT` itself, so messages that need no waiting are answered right there:
/// - Bind (up to `maxBytesWithoutWaiting` of parameters), Describe and Close: bookkeeping,
///   no statement runs (`answerAtOnce`); Sync and Flush;
/// - a Parse of plain SQL (no wire command such as COPY or SET), when planning it finds the
///   catalog cached (`Session.describeWithoutWaiting`);
/// - a simple Query of one plain statement, and the first Execute of a plain statement's
///   portal, when the statement runs without waiting (`Session.executeWithoutWaiting`:
///   read-only, cached, a few thousand rows at most, so its result is small to encode).
///
/// None of it has a suspension point, so `PGFastLane` answers these messages in the channel
/// pipeline itself when the connection's reader is idle. (A plain autocommit INSERT, UPDATE or
/// DELETE counts: `Session.executeWithoutWaiting` commits it at once when the log is idle, its
/// fsync on this thread; so do BEGIN, ROLLBACK, writes inside a block and a COMMIT the log
/// can make durable at once.) Anything else — other writes, long reads,
/// COPY, wire commands, a portal resumed after PortalSuspended, Terminate — returns nil
/// having done nothing, and the connection handles the message
/// on the shared pool as before (`PGConnection.handle`). An error met on the loop is
/// reported there exactly as the pool would report it.
extension PGConnection {
    /// The longest SQL text, or Bind parameter bytes, handled on the loop: parsing or decoding
    /// more must not hold up the loop's other connections.
    static let maxBytesWithoutWaiting = 4 << 10

    /// Handles `message` on the event loop, its replies left in `writer`; nil (nothing done)
    /// when it must go to the pool. No suspension point: `PGFastLane` calls it from the
    /// channel pipeline, and the reader task, for what the lane passed on, flushes after it
    /// when `endsReply` says so.
    func answerNow(_ message: PGFrontendMessage) -> Bool? {
        if let answered = answerAtOnce(message) { return answered }
        switch message {
        case .query(let sql):
            guard let statement = plainStatementMemo(sql) else { return nil }
            do {
                guard let result = try executeWithoutWaiting(statement, parameters: []) else { return nil }
                do { try append(result, columns: nil, sendDescription: true) } catch { report(error) }
            } catch {
                report(error)
            }
            skipUntilSync = false
            readyForQuery()
            return true
        case .execute(let name, let maxRows):
            guard !skipUntilSync else { return true }
            guard var portal = portals[name], portal.statement.command == nil, portal.pending == nil,
                  portal.statement.sql.utf8.count <= Self.maxBytesWithoutWaiting else { return nil }
            do {
                guard let result = try executeWithoutWaiting(portal.statement.sql, parameters: portal.parameters) else { return nil }
                portal.pending = result
                portal.sent = 0
                try appendRows(&portal, maxRows: Int(maxRows))
                portals[name] = portal
            } catch {
                report(error)
                skipUntilSync = true
            }
            return true
        case .sync:
            skipUntilSync = false
            portals[""] = nil
            readyForQuery()
            return true
        case .flush:
            return true
        default:
            return nil
        }
    }

    /// Whether the replies to `message` go to the client now rather than wait in `writer`
    /// for a Sync or Flush.
    static func endsReply(_ message: PGFrontendMessage) -> Bool {
        switch message {
        case .query, .sync, .flush: return true
        default: return false
        }
    }

    /// The messages answered with no suspension point at all (each `await` of an async method
    /// asks the runtime whether to switch executors, and a Bind/Describe/Execute/Sync round
    /// trip made a dozen): Bind (up to `maxBytesWithoutWaiting` of parameters), Describe,
    /// Close, and a Parse of plain SQL whose planning needs no waiting. Their replies wait in
    /// `writer` for the Sync. Nil (nothing done) for any other message.
    func answerAtOnce(_ message: PGFrontendMessage) -> Bool? {
        switch message {
        case .bind(let bind):
            guard bind.parameters.reduce(0, { $0 + ($1?.readableBytes ?? 0) }) <= Self.maxBytesWithoutWaiting else { return nil }
            fallthrough
        case .describe, .close:
            guard !skipUntilSync else { return true }
            do {
                _ = try answerBookkeeping(message)
            } catch {
                report(error)
                skipUntilSync = true
            }
            return true
        case .parse(let name, let sql, let declared):
            guard !skipUntilSync else { return true }
            guard plainStatementMemo(sql) != nil else { return nil }
            let oids = declared.map { Int32(bitPattern: $0) }
            do {
                try checkParse(name, declared: declared)
                guard let description = try session.describeWithoutWaiting(sql, parameterTypes: Self.declaredTypes(oids)) else { return nil }
                statements[name] = Self.prepared(sql, declared: oids, description)
                writer.parseComplete()
            } catch {
                report(error)
                skipUntilSync = true
            }
            return true
        default:
            return nil
        }
    }

    /// Texts whose `plainStatement` a connection remembers (short ones only, see `plainStatements`).
    static let rememberedPlainStatements = 64
    static let maxRememberedTextBytes = 1_024

    /// `plainStatement(sql)`, remembered for short texts.
    func plainStatementMemo(_ sql: String) -> String? {
        guard sql.utf8.count <= Self.maxRememberedTextBytes else { return Self.plainStatement(sql) }
        if let known = plainStatements[sql] { return known }
        let statement = Self.plainStatement(sql)
        if plainStatements.count >= Self.rememberedPlainStatements { plainStatements.removeAll(keepingCapacity: true) }
        plainStatements[sql] = statement
        return statement
    }

    /// The one statement of `sql` when it is short plain SQL the engine runs (not a wire
    /// command, not several statements); nil otherwise.
    static func plainStatement(_ sql: String) -> String? {
        guard sql.utf8.count <= maxBytesWithoutWaiting else { return nil }
        let pieces = PGStatementSplitter.split(sql)
        guard pieces.count == 1 else { return nil }
        do {
            return try PGWireCommand.recognize(pieces[0]) == nil ? pieces[0] : nil
        } catch {
            return nil  // the pool's handling reports it
        }
    }

    /// The statement's result if it runs without waiting; nil when it must run on the pool.
    private func executeWithoutWaiting(_ sql: String, parameters: [Value]) throws -> QueryResult? {
        let started = ContinuousClock.now
        let result = try session.executeWithoutWaiting(sql, parameters: parameters)
        context.metrics.recordEventLoopAttempt(surface: "pg", result: result, started: started)
        if result != nil { statementEnded() }
        return result
    }
}
