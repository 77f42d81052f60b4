import RedCore
import RedEngine

/// Runs one parsed statement inside a caller-provided transaction.
///
/// Transaction control (BEGIN/COMMIT/ROLLBACK) belongs to the session and
/// never reaches this type. Everything else — queries, DML, DDL, KV — runs
/// synchronously against the transaction; the session commits afterwards.
public struct StatementExecutor {
    public let transaction: Transaction
    public let store: TableStore
    public let parameters: [Value]
    public let now: Int64
    /// The same reading in microseconds: what NOW() gives.
    public let nowMicroseconds: Int64

    /// Most rows a single result may hold in memory.
    public static let maxResultRows = 10_000_000

    public let limits: ExecutionLimits

    public let cancellation: StatementCancellation?

    /// Vectors of the statement's search texts (see `EmbeddingsNeeded`).
    public var embeddings: [EmbeddingKey: [Float]] = [:]

    /// The transaction block's deferred foreign key checks (nil outside a block).
    public var deferredConstraints: DeferredConstraints?

    /// The surface's own relations, functions and casts (see `SurfaceCatalog`).
    public var surfaceCatalog: (any SurfaceCatalog)?

    /// The session's currval/lastval memory.
    public var sessionSequences: SessionSequenceValues?
    /// The session's advisory locks, for `pg_advisory_lock` and its family.
    public var locks: SessionLocks?
    /// The session's `random()` generator, which `setseed` seeds.
    public var random: SessionRandom?
    /// Most rows an UPDATE or DELETE locks (`ExecutionContext.rowLocksPerWrite`; 0: none).
    public var rowLocksPerWrite = 0

    /// False in a read-only transaction or session: nextval and setval refuse.
    public var allowsSequenceWrites = true

    /// The session's time zone (`ExecutionContext.timeZone`).
    public var timeZone = SessionTimeZone.utc

    /// The variables of the PL/pgSQL block running the statement, carried by its parameters.
    public var routineVariables: RoutineVariables?
    /// How many PL/pgSQL function calls the statement runs inside.
    var routineDepth = 0
    /// Tables whose triggers run the statement (`ExecutionContext.tablesInUse`).
    var tablesInUse: Set<String> = []
    /// Where the notices of PL/pgSQL functions the statement calls go: the outermost statement's
    /// (nil: this one is the outermost).
    var noticeSink: NoticeSink?
    /// The caller rolls the statement's transaction back when it ends (a streamed read).
    public var rollsBack = false

    /// Where a query's plan is kept for the next execution of the same statement, with the
    /// definitions version this transaction's snapshot sees; nil: plan afresh, keep nothing.
    /// The caller sets it only where a plan made against that version is right for this
    /// snapshot (see `PlanMemo`).
    public var planMemo: (memo: PlanMemo, definitions: UInt64)?
    /// The definitions version this transaction's snapshot sees, set where a plan made against
    /// it is right for this snapshot (the session's rule for `planMemo`): the statements of
    /// PL/pgSQL functions the statement calls keep their plans under it (`RoutinePlans`).
    public var definitionsVersion: UInt64?

    /// The rows of the statement's WITH items, by name (`WithClauseExecution`).
    var withRelations: [String: WithRelation] = [:]

    /// `now` counts epoch milliseconds (row TTLs and timestamps of change); `nowMicroseconds`,
    /// the same reading to the microsecond, is NOW()'s value (`now` × 1000 when not given).
    public init(transaction: Transaction, store: TableStore, parameters: [Value], now: Int64, nowMicroseconds: Int64? = nil,
                limits: ExecutionLimits = ExecutionLimits(), cancellation: StatementCancellation? = nil) {
        self.cancellation = cancellation
        self.transaction = transaction
        self.store = store
        self.parameters = parameters
        self.now = now
        self.nowMicroseconds = nowMicroseconds ?? now * 1000
        self.limits = limits
    }

    /// An executor for a statement run as a part of the one `context` runs (a PL/pgSQL
    /// function's): the same transaction, clock, limits, cancel switch and session state
    /// (`makeContext`'s inverse), with its own parameters and no variables.
    init(partOf context: ExecutionContext, parameters: [Value]) {
        self.init(transaction: context.transaction, store: context.store, parameters: parameters, now: context.now,
                  nowMicroseconds: context.nowMicroseconds, limits: context.limits, cancellation: context.cancellation)
        deferredConstraints = context.deferredConstraints
        surfaceCatalog = context.surfaceCatalog
        sessionSequences = context.sessionSequences
        locks = context.locks
        random = context.random
        rowLocksPerWrite = context.rowLocksPerWrite
        allowsSequenceWrites = context.allowsSequenceWrites
        timeZone = context.timeZone
        routineDepth = context.routineDepth
        tablesInUse = context.tablesInUse
        noticeSink = context.noticeSink
        rollsBack = context.rollsBack
        definitionsVersion = context.definitionsVersion
    }

    func makeContext() -> ExecutionContext {
        let context = ExecutionContext(transaction: transaction, store: store, parameters: parameters, now: now, nowMicroseconds: nowMicroseconds,
                                       limits: limits, cancellation: cancellation)
        context.embeddings = embeddings
        context.deferredConstraints = deferredConstraints
        context.surfaceCatalog = surfaceCatalog
        context.sessionSequences = sessionSequences
        context.locks = locks
        context.random = random
        context.rowLocksPerWrite = rowLocksPerWrite
        context.allowsSequenceWrites = allowsSequenceWrites
        context.withRelations = withRelations
        context.timeZone = timeZone
        context.routineVariables = routineVariables
        context.routineDepth = routineDepth
        context.tablesInUse = tablesInUse
        context.noticeSink = noticeSink
        context.rollsBack = rollsBack
        context.definitionsVersion = definitionsVersion
        return context
    }

    /// Runs every deferred foreign key check (at COMMIT); 23503 when one fails.
    public func checkDeferredConstraints(_ deferred: DeferredConstraints) throws {
        try deferred.settle(context: makeContext(), everything: true)
    }

    /// True for statements that never write (the session can skip commit work for them).
    public static func isReadOnly(_ statement: Statement) -> Bool {
        switch statement {
        case .query(let query) where !query.locking.isEmpty: return false  // FOR UPDATE locks rows, as a write would
        case .query, .explain, .show, .showColumns, .vectorSearch, .graph, .textSearch, .hybridSearch, .match, .ask, .contextSearch, .setConstraints, .lockTable: return true
        case .kv(.get): return true
        default: return false
        }
    }

    /// What a statement that writes is called in "cannot execute … in a read-only transaction".
    public static func verb(of statement: Statement) -> String {
        switch statement {
        case .insert: return "INSERT"
        case .update: return "UPDATE"
        case .delete: return "DELETE"
        case .kv: return "KV"
        case .merge: return "MERGE"
        case .withClause(_, let main): return verb(of: main)
        case .query(let query) where !query.locking.isEmpty: return "SELECT FOR \(query.locking[0].strength.rawValue)"
        default: return "DDL"
        }
    }

    /// Runs `statement`. The notices and warnings PL/pgSQL functions it calls raise come with
    /// its result (`NoticeSink`).
    public func execute(_ statement: Statement) throws -> QueryResult {
        guard noticeSink == nil else { return try executeStatement(statement) }
        var collecting = self
        let sink = NoticeSink()
        collecting.noticeSink = sink
        var result: QueryResult
        do {
            result = try collecting.executeStatement(statement)
        } catch let error as RedError {
            throw error.raisedAfter(notices: sink.notices, warnings: sink.warnings)
        }
        result.notices += sink.notices
        result.warnings += sink.warnings
        return result
    }

    private func executeStatement(_ statement: Statement) throws -> QueryResult {
        let context = makeContext()
        switch statement {
        case .query(let query):
            let (plan, parameterCount) = try plan(query, context)
            try checkParameters(parameterCount)
            return try Self.collect(plan, context)
        case .explain(let inner):
            return try explain(inner, context)
        case .withClause(let items, let main):
            return try executeWithClause(items: items, main)
        case .merge(let merge):
            return try executeMerge(merge)
        case .insert(let insert):
            var dml = DMLExecutor(context: context)
            dml.planMemo = planMemo
            return try dml.insert(insert)
        case .createTableAs(let create): return try createTableAs(create, context)
        case .refreshMaterializedView(let name, let withData): return try refreshMaterializedView(name, withData: withData, context)
        case .dropMaterializedView(let names, let ifExists): return try dropMaterializedViews(names, ifExists: ifExists, context)
        case .createTemporary(let create, let onCommit): return try createTemporary(create, onCommit: onCommit, context)
        case .setConstraints(let names, let deferred):
            guard let pending = context.deferredConstraints else {
                return QueryResult(columns: [], rows: [], statementType: "set", commandTag: "SET CONSTRAINTS",
                                   message: "SET CONSTRAINTS can only be used in transaction blocks")
            }
            try pending.set(names, deferred: deferred, context: context)
            return QueryResult(columns: [], rows: [], statementType: "set", commandTag: "SET CONSTRAINTS", message: "SET CONSTRAINTS")
        case .update(let table, let alias, let assignments, let from, let whereClause, let returning):
            return try DMLExecutor(context: context).update(table: table, alias: alias, assignments: assignments, from: from,
                                                            whereClause: whereClause, returning: returning)
        case .delete(let table, let alias, let using, let whereClause, let returning):
            return try DMLExecutor(context: context).delete(table: table, alias: alias, using: using, whereClause: whereClause, returning: returning)
        case .kv(let command): return try KVExecutor(context: context).execute(command)
        case .vectorSearch(let search):
            let plan = try Planner(context: context).planVectorSearch(search, qualifier: nil, outer: nil)
            return try Self.collect(plan, context)
        case .graph, .textSearch, .hybridSearch, .contextSearch: return try CommandRowsNode.run(statement, context)
        case .begin, .commit, .rollback, .savepoint, .releaseSavepoint, .rollbackToSavepoint:
            throw RedError(.internalError, "transaction control must be handled by the session")
        default:
            return try DDLExecutor(context: context).execute(statement)
        }
    }

    /// Plans a query and returns its columns and a row source, for streaming large results.
    /// Column types not known from the schema are `.any`.
    public func openQuery(_ statement: Statement) throws -> (columns: [ResultColumn], next: () throws -> [Value]?) {
        guard case .query(let query) = statement else {
            throw RedError(.invalidArgument, "only queries (SELECT, VALUES, WITH …) can be streamed")
        }
        let context = makeContext()
        let planner = Planner(context: context)
        let plan = try planner.planQuery(query, outer: nil)
        try checkParameters(planner.parameterCount)
        let iterator = try context.open(plan, outerRows: [])
        return (Self.resultColumns(plan.columns, []), { try iterator.next() })
    }

    /// The query's plan: the one kept in `planMemo` for this version and surface, or a new one
    /// (kept there when it may run again).
    func plan(_ query: Query, _ context: ExecutionContext) throws -> (PlanNode, parameterCount: Int) {
        let surface = context.surfaceKey
        let path = context.transaction.searchPath
        if let (memo, definitions) = planMemo, case .some(.some(let kept)) = memo.lookup(definitions: definitions, surface: surface, searchPath: path) {
            return (kept.plan, kept.parameterCount)
        }
        let planner = Planner(context: context)
        let plan = try planner.planQuery(query, outer: nil)
        if let (memo, definitions) = planMemo {
            let reusable = query.locking.isEmpty && !planner.bindsSurfaceFunctions && PlanReuse.isReusable(plan)
            memo.keep(reusable ? ReusableQueryPlan(plan: plan, parameterCount: planner.parameterCount) : nil, definitions: definitions, surface: surface, searchPath: path)
        }
        return (plan, planner.parameterCount)
    }

    func checkParameters(_ used: Int) throws {
        guard used <= parameters.count else {
            throw RedError(.invalidParameters, "wrong number of parameters: the statement uses $\(used), got \(parameters.count)")
        }
    }

    static func collect(_ plan: PlanNode, _ context: ExecutionContext) throws -> QueryResult {
        if let expressions = (plan as? ProjectNode)?.fromlessExpressions {
            // A FROM-less SELECT (`SELECT 1`, each expression of a PL/pgSQL function): its one row
            // evaluated here, without iterators.
            let eval = context.evaluation([])
            let row = try expressions.map { try eval.evaluate($0, []) }
            return QueryResult(columns: resultColumns(plan.columns, [row]), rows: [row], statementType: "select", commandTag: "SELECT 1")
        }
        let iterator = try context.open(plan, outerRows: [])
        var rows: [[Value]] = []
        while let row = try iterator.next() {
            rows.append(row)
            if rows.count & 4095 == 0 { try context.checkCancelled() }
            guard rows.count <= maxResultRows else {
                throw RedError(.limitExceeded, "the result has more than \(maxResultRows) rows; add a LIMIT or use the streaming API")
            }
        }
        let columns = resultColumns(plan.columns, rows)
        return QueryResult(columns: columns, rows: rows, statementType: "select", commandTag: "SELECT \(rows.count)")
    }

    /// Declared types where known, otherwise the kind of the first non-NULL value.
    static func resultColumns(_ columns: [ScopeColumn], _ rows: [[Value]]) -> [ResultColumn] {
        columns.enumerated().map { i, c in
            var type = c.type
            if type == .any, let v = rows.lazy.map({ $0[i] }).first(where: { !$0.isNull }) { type = DataType.of(v) }
            return ResultColumn(name: c.name, type: type.valueType, element: type == .array ? c.element : nil, surfaceType: c.surfaceType)
        }
    }

    func explain(_ statement: Statement, _ context: ExecutionContext) throws -> QueryResult {
        let planner = Planner(context: context)
        let lines: [String]
        switch statement {
        case .query(let query): lines = try planner.planQuery(query, outer: nil).explain(0)
        case .update(let table, let alias, _, nil, let whereClause, _), .delete(let table, let alias, nil, let whereClause, _):
            let scan = try DMLExecutor(context: context).targetScan(table: table, alias: alias, whereClause: whereClause, planner: planner)
            lines = ["\(statement.isUpdate ? "Update" : "Delete") on \(table)"] + scan.explain(1)
        case .vectorSearch(let search):
            lines = try planner.planVectorSearch(search, qualifier: nil, outer: nil).explain(0)
        case .insert(let insert):
            lines = ["Insert on \(insert.table)"] + (try planner.planQuery(insert.source, outer: nil).explain(1))
        default:
            lines = ["Utility statement"]
        }
        return QueryResult(columns: [ResultColumn(name: "QUERY PLAN", type: .text)], rows: lines.map { [.text($0)] },
                           statementType: "explain", commandTag: "EXPLAIN")
    }
}

extension Statement {
    var isUpdate: Bool { if case .update = self { return true } else { return false } }
}

extension DataType {
    static func of(_ v: Value) -> DataType {
        switch v {
        case .null: return .any
        case .boolean: return .boolean
        case .integer: return .integer
        case .float: return .float
        case .decimal: return .decimal
        case .text: return .text
        case .blob: return .blob
        case .json: return .json
        case .timestamp: return .timestamp
        case .date: return .date
        case .uuid: return .uuid
        case .vector: return .vector
        case .interval: return .duration
        }
    }
}
