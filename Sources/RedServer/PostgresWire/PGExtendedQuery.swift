import NIOCore
import RedCore
import RedDB

/// A statement prepared by Parse: its text, what the wire layer answers itself
/// (if anything), and the description Describe reports.
struct PGPreparedStatement {
    var sql: String
    var command: PGWireCommand?
    /// OID per parameter: the client's where it gave one, else what the server inferred.
    var parameterOIDs: [Int32]
    /// The types the engine inferred for `$1…$n` (`.any` when unconstrained).
    var parameterTypes: [DataType]
    /// Result columns; nil when the statement returns no rows (Describe answers NoData).
    var columns: [ResultColumn]?
    /// The parameters the statement takes as instants (`$1::timestamptz`, `at >= $1` on a
    /// `timestamptz` column) whatever type the client sent: text in them is read on the
    /// session's clocks.
    var instantParameters: Set<Int> = []
}

/// A portal made by Bind: a statement with its parameter values and result formats,
/// plus the rows not yet sent when Execute stopped at a row limit (PortalSuspended).
struct PGPortal {
    var statement: PGPreparedStatement
    var parameters: [Value]
    var columns: [PGColumn]?
    var pending: QueryResult?
    var sent = 0
}

extension PGConnection {
    /// Parse, Bind, Describe, Execute and Close. Errors propagate; the caller reports them
    /// and skips messages until Sync.
    func extended(_ message: PGFrontendMessage) async throws {
        switch message {
        case .parse(let name, let sql, let declared):
            try checkParse(name, declared: declared)
            statements[name] = try await prepare(sql, declared: declared.map { Int32(bitPattern: $0) })
            writer.parseComplete()
        case .execute(let name, let maxRows):
            guard var portal = portals[name] else { throw RedError(.undefinedCursor, "portal \"\(name)\" does not exist") }
            try await execute(&portal, maxRows: Int(maxRows))
            portals[name] = portal
            statementEnded()
        default:
            guard try answerBookkeeping(message) else { throw RedError(.internalError, "not an extended-protocol message") }
        }
    }

    /// Bind, Describe and Close: no statement runs, so they are answered into `writer` at once,
    /// without a suspension point. False for any other message. Errors propagate as in `extended`.
    func answerBookkeeping(_ message: PGFrontendMessage) throws -> Bool {
        switch message {
        case .bind(let bind):
            guard let statement = statements[bind.statement] else {
                throw RedError(.undefinedPreparedStatement, "prepared statement \"\(bind.statement)\" does not exist")
            }
            guard portals.count < PGLimits.maxPreparedStatements || portals[bind.portal] != nil else {
                throw RedError(.limitExceeded, "too many open portals on this connection (limit \(PGLimits.maxPreparedStatements))")
            }
            portals[bind.portal] = try makePortal(bind, statement)
            writer.bindComplete()
        case .describe(.statement, let name):
            guard let statement = statements[name] else {
                throw RedError(.undefinedPreparedStatement, "prepared statement \"\(name)\" does not exist")
            }
            try writer.parameterDescription(statement.parameterOIDs)
            if let columns = statement.columns {
                try writer.rowDescription(columns.map { PGColumn(name: $0.name, type: PGType($0), format: .text) })
            } else {
                writer.noData()
            }
        case .describe(.portal, let name):
            if portals[name] == nil, let cursor = cursors[name] {
                // A SQL cursor is a portal too (psycopg 3 describes its server cursors so).
                try writer.rowDescription(cursor.columns.map { PGColumn(name: $0.name, type: PGType($0), format: .text) })
                return true
            }
            guard let portal = portals[name] else { throw RedError(.undefinedCursor, "portal \"\(name)\" does not exist") }
            if let columns = portal.columns { try writer.rowDescription(columns) } else { writer.noData() }
        case .close(.statement, let name):
            statements[name] = nil
            writer.closeComplete()
        case .close(.portal, let name):
            if portals.removeValue(forKey: name) == nil { cursors[name] = nil }
            writer.closeComplete()
        default:
            return false
        }
        return true
    }

    /// Refuses a Parse that would replace a named statement or pass the limits.
    func checkParse(_ name: String, declared: [UInt32]) throws {
        if !name.isEmpty, statements[name] != nil {
            throw RedError(.duplicatePreparedStatement, "prepared statement \"\(name)\" already exists")
        }
        guard statements.count < PGLimits.maxPreparedStatements || statements[name] != nil else {
            throw RedError(.limitExceeded, "too many prepared statements on this connection (limit \(PGLimits.maxPreparedStatements)); close some")
        }
        guard declared.count <= PGLimits.maxParameters else {
            throw RedError(.protocolViolation, "too many parameter types in Parse")
        }
    }

    /// Plans the statement (never runs it) so Describe can answer and Bind can decode.
    func prepare(_ sql: String, declared: [Int32]) async throws -> PGPreparedStatement {
        let pieces = PGStatementSplitter.split(sql)
        guard pieces.count <= 1 else {
            throw RedError(.syntaxError, "cannot insert multiple commands into a prepared statement")
        }
        if let command = try PGWireCommand.recognize(sql) {
            switch command {
            case .copyFrom, .copyTo:
                // COPY answers Execute with CopyIn/CopyOutResponse; Describe reports no row data.
                return PGPreparedStatement(sql: sql, command: command, parameterOIDs: declared, parameterTypes: declared.map { _ in .any }, columns: nil)
            case .declareCursor(let declaration):
                // DECLARE's parameters are its query's (psycopg 3's server cursors bind them).
                var statement = Self.prepared(sql, declared: declared, try await session.describe(declaration.query, parameterTypes: Self.declaredTypes(declared)))
                statement.command = command
                statement.columns = nil
                return statement
            default: break
            }
            let preview = try await run(command, preview: true)
            return PGPreparedStatement(sql: sql, command: command, parameterOIDs: declared, parameterTypes: declared.map { _ in .any },
                                       columns: preview.columns.isEmpty && preview.statementType != "select" ? nil : preview.columns)
        }
        let description = try await session.describe(sql, parameterTypes: Self.declaredTypes(declared))
        return Self.prepared(sql, declared: declared, description)
    }

    static func declaredTypes(_ declared: [Int32]) -> [DataType?] { declared.map { PGType(oid: $0, size: -1).dataType } }

    /// A plain SQL statement with its parameter OIDs: the client's where it declared one,
    /// else what planning inferred.
    static func prepared(_ sql: String, declared: [Int32], _ description: StatementDescription) -> PGPreparedStatement {
        var oids: [Int32] = []
        let count = max(description.parameterTypes.count, declared.count)
        for i in 0..<count {
            if i < declared.count, declared[i] != 0, declared[i] != PGType.unknown.oid {
                oids.append(declared[i])
            } else {
                let inferred = i < description.parameterTypes.count ? description.parameterTypes[i] : .any
                if let surface = description.parameterSurfaceTypes[i], let type = PGType(surfaceName: surface) {
                    oids.append(type.oid)
                } else if let element = description.parameterArrayElements[i] {
                    oids.append(PGArrayCodec.arrayOID(of: PGType(element).oid))
                } else {
                    oids.append(PGType(inferred).oid)
                }
            }
        }
        var types = description.parameterTypes
        while types.count < count { types.append(.any) }
        let instants = Set(description.parameterSurfaceTypes.filter { DeclaredType.isInstant(surfaceName: $0.value) }.keys)
        return PGPreparedStatement(sql: sql, command: nil, parameterOIDs: oids, parameterTypes: types, columns: description.columns,
                                   instantParameters: instants.union(oids.indices.filter { oids[$0] == PGType.timestamptz.oid }))
    }

    private func makePortal(_ bind: PGBind, _ statement: PGPreparedStatement) throws -> PGPortal {
        let count = bind.parameters.count
        guard count == statement.parameterOIDs.count else {
            throw RedError(.protocolViolation, "bind message supplies \(count) parameters, but prepared statement \"\" requires \(statement.parameterOIDs.count)")
        }
        let formats = try Self.formats(bind.parameterFormats, count: count, what: "parameter")
        var values: [Value] = []
        values.reserveCapacity(count)
        let zone = statement.instantParameters.isEmpty ? nil : settings.read(\.timeZone)
        for i in 0..<count {
            do {
                values.append(try PGValueCodec.decodeParameter(bind.parameters[i], format: formats[i], declared: statement.parameterOIDs[i],
                                                               inferred: statement.parameterTypes[i],
                                                               zone: statement.instantParameters.contains(i) ? zone : nil))
            } catch let error as RedError {
                throw RedError(error.code == .protocolViolation ? .invalidParameters : error.code,
                               "parameter $\(i + 1): \(error.message)")
            }
        }
        var columns: [PGColumn]?
        if let described = statement.columns {
            let resultFormats = try Self.formats(bind.resultFormats, count: described.count, what: "result")
            columns = zip(described, resultFormats).map { PGColumn(name: $0.name, type: PGType($0), format: $1) }
        }
        return PGPortal(statement: statement, parameters: values, columns: columns)
    }

    /// Expands PostgreSQL's format-code list: none = all text, one = all that, else one each.
    static func formats(_ codes: [Int16], count: Int, what: String) throws -> [PGFormat] {
        let expanded: [Int16]
        switch codes.count {
        case 0: expanded = Array(repeating: 0, count: count)
        case 1: expanded = Array(repeating: codes[0], count: count)
        case count: expanded = codes
        default:
            throw RedError(.protocolViolation, "bind message has \(codes.count) \(what) formats but \(count) \(what)s")
        }
        return try expanded.map { code in
            guard let format = PGFormat(rawValue: code) else { throw RedError(.protocolViolation, "unsupported format code: \(code)") }
            return format
        }
    }

    /// Runs the portal on its first Execute; sends at most `maxRows` rows (0 = all), then
    /// PortalSuspended if rows remain, else CommandComplete.
    private func execute(_ portal: inout PGPortal, maxRows: Int) async throws {
        switch portal.statement.command {
        case .copyFrom(let copy)?:
            try await copyFromClient(copy)
            return
        case .copyTo(let copy)?:
            try await copyToClient(copy)
            return
        default: break
        }
        if portal.pending == nil {
            if let command = portal.statement.command {
                portal.pending = try await run(command, parameters: portal.parameters)
            } else {
                portal.pending = try await execute(portal.statement.sql, parameters: portal.parameters)
            }
            portal.sent = 0
        }
        try await sendRows(&portal, maxRows: maxRows)
    }

    /// Sends the portal's result: at most `maxRows` rows (0 = all) after those sent before,
    /// then PortalSuspended if rows remain, else CommandComplete.
    func sendRows(_ portal: inout PGPortal, maxRows: Int) async throws {
        guard let (result, columns, end) = try rowsToSend(portal, maxRows: maxRows) else { return }
        let start = portal.sent
        let style = textStyle(columns)
        for row in result.rows[start..<end] {
            try writer.dataRow(row, columns, style: style)
            if mustFlush { try await flush() }
        }
        endRows(&portal, result, from: start, to: end, maxRows: maxRows)
    }

    /// `sendRows` for a result known to be small (`Session.executeWithoutWaiting`'s): all of
    /// it into `writer`, with no flush and so no suspension.
    func appendRows(_ portal: inout PGPortal, maxRows: Int) throws {
        guard let (result, columns, end) = try rowsToSend(portal, maxRows: maxRows) else { return }
        let start = portal.sent
        let style = textStyle(columns)
        for row in result.rows[start..<end] { try writer.dataRow(row, columns, style: style) }
        endRows(&portal, result, from: start, to: end, maxRows: maxRows)
    }

    /// The pending result, its columns and where this Execute's rows end; nil (CommandComplete
    /// written) when there are no rows to send.
    private func rowsToSend(_ portal: PGPortal, maxRows: Int) throws -> (QueryResult, [PGColumn], Int)? {
        guard let result = portal.pending else { return nil }
        guard let columns = portal.columns, !result.columns.isEmpty || result.statementType == "select" else {
            // No rows to send (or the statement was never described as returning rows).
            writer.commandComplete(result.commandTag)
            return nil
        }
        guard columns.count == result.columns.count else {
            throw RedError(.internalError, "statement returned \(result.columns.count) columns, described \(columns.count)")
        }
        return (result, columns, maxRows > 0 ? min(result.rows.count, portal.sent + maxRows) : result.rows.count)
    }

    /// After rows `start..<end`: PortalSuspended if rows remain, else CommandComplete.
    private func endRows(_ portal: inout PGPortal, _ result: QueryResult, from start: Int, to end: Int, maxRows: Int) {
        portal.sent = end
        if end < result.rows.count {
            writer.portalSuspended()
            return
        }
        for notice in result.notices { writer.notice(severity: "NOTICE", code: QueryResult.noticeCode(notice), message: notice) }
        for warning in result.warnings { writer.notice(severity: "WARNING", code: "01000", message: warning) }
        if let note = result.transactionWarning { writer.notice(severity: "WARNING", code: "25001", message: note) }
        let tag = maxRows > 0 && result.statementType == "select" ? "SELECT \(end - start)" : result.commandTag
        writer.commandComplete(tag)
    }
}
