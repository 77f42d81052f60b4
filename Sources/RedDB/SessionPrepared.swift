import RedCore
import RedQuery

/// Statements parsed once and run many times with their literals as parameters (RedWire
/// Prepare/ExecutePrepared, gRPC PrepareQuery/ExecutePrepared). Only the parse is kept:
/// each execution plans afresh against the catalogue of its own snapshot, so DDL between
/// the prepare and an execution is simply seen (no re-prepare needed), and access checks
/// happen per execution.
extension Session {
    /// Parses one statement, its expression literals becoming parameter slots.
    ///
    /// ```swift
    /// let byID = try session.prepareAutoParameterized("SELECT name FROM users WHERE id = 1")
    /// let r = try await session.execute(byID, parameters: [.integer(42)])
    /// ```
    public func prepareAutoParameterized(_ sql: String) throws -> AutoParameterizedStatement {
        try Parser.parseAutoParameterized(sql, limits: database.options.parserLimits)
    }

    /// Runs a prepared statement with one value per slot.
    @discardableResult
    public func execute(_ prepared: AutoParameterizedStatement, parameters: [Value]) async throws -> QueryResult {
        try Self.checkSlots(prepared, parameters)
        return try await asRequest {
            try refuseHiddenPublicNames(prepared.source)
            return try await run(prepared.statement, parameters: parameters, plans: prepared.plans)
        }
    }

    /// Runs a prepared statement and streams its rows (see `stream(_:parameters:)`).
    public func stream(_ prepared: AutoParameterizedStatement, parameters: [Value]) async throws -> RowStream {
        try Self.checkSlots(prepared, parameters)
        guard case .query = prepared.statement else {
            return RowStream(result: try await execute(prepared, parameters: parameters))
        }
        await lock.lock()
        defer { lock.unlock() }
        try refuseHiddenPublicNames(prepared.source)
        return try await openStream(prepared.statement, parameters)
    }

    static func checkSlots(_ prepared: AutoParameterizedStatement, _ parameters: [Value]) throws {
        guard parameters.count == prepared.parameterCount else {
            throw RedError(.invalidParameters, "prepared param count mismatch: the statement has \(prepared.parameterCount) parameter(s), \(parameters.count) bound")
        }
    }
}

extension Session {
    /// Inserts rows whose values are already decoded (bulk loads) as one INSERT, without
    /// building or parsing SQL text. Runs in the session's transaction, if one is open.
    ///
    /// ```swift
    /// try await session.insertRows(into: "users", columns: ["id", "name"], rows: [[.integer(1), .text("ada")]])
    /// ```
    @discardableResult
    public func insertRows(into table: String, columns: [String], rows: ArraySlice<[Value]>, returningRid: Bool = false,
                           overriding: IdentityGeneration? = nil, statementTriggers: (before: Bool, after: Bool) = (true, true)) async throws -> QueryResult {
        // Rows of unequal widths are this INSERT's error (42601).
        try await insertValues(table, columns, returningRid, overriding, statementTriggers) { try RowBlock(insertRows: rows) }
    }

    /// `insertRows` with the rows already in one block (a bulk load's batch as decoded: a
    /// RedWire stream's frame, COPY's and gRPC's batches).
    @discardableResult
    public func insertRows(into table: String, columns: [String], rows: RowBlock, returningRid: Bool = false,
                           overriding: IdentityGeneration? = nil, statementTriggers: (before: Bool, after: Bool) = (true, true)) async throws -> QueryResult {
        try await insertValues(table, columns, returningRid, overriding, statementTriggers) { rows }
    }

    /// Both `insertRows`: the rows are made inside the request, so an error making them aborts
    /// an open block as any statement's error does.
    private func insertValues(_ table: String, _ columns: [String], _ returningRid: Bool, _ overriding: IdentityGeneration?,
                              _ statementTriggers: (before: Bool, after: Bool), rows: () throws -> RowBlock) async throws -> QueryResult {
        try await asRequest {
            let block: RowBlock
            do { block = try rows() } catch {
                abortOpenTransaction()
                throw error
            }
            return try await run(.insertValues(table: table, columns: columns, rows: block, returningRid: returningRid, overriding: overriding,
                                               statementTriggers: statementTriggers), parameters: [])
        }
    }
}
