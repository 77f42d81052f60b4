import RedCore
import RedQuery

/// `pg_notify(channel, payload)`: NOTIFY as a function (applications call it with bound
/// parameters, `SELECT pg_notify('jobs', $1)`). The channel is taken as written, not folded.
struct PGNotifyFunction: Sendable {
    let pending: PGPendingNotifications
    let processID: Int32

    var function: SurfaceFunction {
        let pending = self.pending, processID = self.processID
        return SurfaceFunction(arity: 2...2, resultType: .text, strict: false) { args, _ in
            let channel: String = if case .text(let name) = args[0] { name } else { args[0].isNull ? "" : args[0].displayText }
            let payload: String = if case .text(let text) = args[1] { text } else { args[1].isNull ? "" : args[1].displayText }
            try PGNotification.check(channel: channel, payload: payload)
            try pending.add(.notify(PGNotification(processID: processID, channel: channel, payload: payload)))
            return .null
        }
    }
}

extension PGWireCommand {
    /// `LISTEN channel`, `UNLISTEN channel | *`, `NOTIFY channel [, 'payload']`.
    static func listenOrNotify(_ verb: String, _ sql: String) throws -> PGWireCommand {
        var scanner = PGSQLScanner(sql)
        _ = scanner.keyword()
        if verb == "unlisten", scanner.rest.trimmingSpaces().hasPrefix("*") {
            _ = scanner.symbol("*")
            guard scanner.atEnd else { throw RedError(.syntaxError, "syntax error at end of UNLISTEN") }
            return .unlisten(channel: nil)
        }
        var channel = try scanner.name("a channel name after \(verb.uppercased())")
        // An identifier past 63 bytes is cut to them, as PostgreSQL cuts every name (pg_notify's
        // channel is a string, and too long there is 22023).
        while channel.utf8.count > PGNotification.maxChannelBytes { channel.removeLast() }
        switch verb {
        case "listen", "unlisten":
            guard scanner.atEnd else { throw RedError(.syntaxError, "syntax error at end of \(verb.uppercased())") }
            return verb == "listen" ? .listen(channel: channel) : .unlisten(channel: channel)
        default:
            var payload = ""
            if scanner.symbol(",") {
                guard let literal = scanner.stringLiteral() else { throw RedError(.syntaxError, "syntax error in NOTIFY: the payload must be a string literal") }
                payload = literal
            }
            guard scanner.atEnd else { throw RedError(.syntaxError, "syntax error at end of NOTIFY") }
            try PGNotification.check(channel: channel, payload: payload)
            return .notify(channel: channel, payload: payload)
        }
    }
}

extension PGConnection {
    /// LISTEN, UNLISTEN and NOTIFY: noted now, in effect when the block (or statement) commits.
    func runListenOrNotify(_ command: PGWireCommand, preview: Bool) throws -> QueryResult {
        guard !session.transactionFailed else {
            throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
        }
        let tag: String
        let action: PGPendingNotifications.Action
        switch command {
        case .listen(let channel): (tag, action) = ("LISTEN", .listen(channel))
        case .unlisten(let channel): (tag, action) = ("UNLISTEN", .unlisten(channel))
        case .notify(let channel, let payload): (tag, action) = ("NOTIFY", .notify(PGNotification(processID: id, channel: channel, payload: payload)))
        default: throw RedError(.internalError, "not a notification command")
        }
        if !preview { try pendingNotifications.add(action) }
        return QueryResult(columns: [], rows: [], statementType: tag.lowercased(), commandTag: tag)
    }

    /// After every statement: pending actions of a block that has ended are applied if it
    /// committed and dropped if not; those of a statement outside a block (it succeeded, or
    /// `statementFailedForNotifications` would have dropped them) are applied now.
    func settleNotifications() {
        if let block = notificationBlock {
            if session.inTransaction, block.started == session.startedBlocks { return }
            notificationBlock = nil
            let actions = pendingNotifications.takeAll()
            if session.committedBlocks != block.commits { apply(actions) }
            return
        }
        guard !pendingNotifications.isEmpty else { return }
        if session.inTransaction {
            notificationBlock = (session.startedBlocks, session.committedBlocks)
        } else {
            apply(pendingNotifications.takeAll())
        }
    }

    /// A statement failed: outside a block, what it noted is dropped (inside one, the block
    /// has failed and its ROLLBACK drops everything).
    func statementFailedForNotifications() {
        if notificationBlock == nil, !session.inTransaction, !pendingNotifications.isEmpty { _ = pendingNotifications.takeAll() }
    }

    private func apply(_ actions: [PGPendingNotifications.Action]) {
        var outgoing: [PGNotification] = []
        for action in actions {
            switch action {
            case .notify(let notification):
                outgoing.append(notification)
            case .listen(let channel):
                if listening.isEmpty { inbox.activate() }
                if listening.insert(channel).inserted { context.notifications.listen(channel, id, inbox) }
            case .unlisten(let channel?):
                if listening.remove(channel) != nil { context.notifications.unlisten(channel, id) }
            case .unlisten(nil):
                context.notifications.unlistenAll(id, channels: listening)
                listening.removeAll()
            }
        }
        guard !outgoing.isEmpty else { return }
        context.notifications.publish(outgoing, except: id)
        // Its own, written just before its next ReadyForQuery (`writeOwnNotifications`), after
        // the statement's reply whichever path wrote that.
        ownNotifications += outgoing.filter { listening.contains($0.channel) }
    }

    /// The connection's own notifications, into `writer` before its ReadyForQuery.
    func writeOwnNotifications() {
        guard !ownNotifications.isEmpty else { return }
        for notification in ownNotifications { writer.notification(notification) }
        ownNotifications.removeAll()
    }
}
