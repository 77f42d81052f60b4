import RedCore
import RedEngine
import Synchronization

/// A call of a `LANGUAGE plpgsql` function inside a statement.
///
/// SQL functions are inlined; a PL/pgSQL function runs: the binder makes the call a scalar
/// function (`Planner.bindPLpgSQLCall`) whose evaluation runs the body's interpreter
/// (`PLpgSQLRun`) with the arguments as its variables. The body's statements are parts of
/// the calling statement (`ContextStatementRunner`): they run on its transaction, under its
/// cancel switch and its read-only and role limits, and never wait.
///
/// Why `Task.immediate`: evaluation is synchronous and the interpreter is `async` (a DO block
/// runs it on its session, where statements may wait for locks). Started with
/// `Task.immediate`, a task runs on the caller's thread until it first suspends, and with
/// this runner nothing suspends, so the call is over when `Task.immediate` returns. A run that
/// did suspend would be a defect; it is reported as one (XX000) rather than waited for.
struct PLpgSQLFunctionCall: Sendable {
    let function: FunctionSpec
    let block: PLBlock
    /// Where the body's statements keep their plans between calls, held weakly: a kept plan of
    /// `SELECT f(n - 1)` in f's body holds this call, and a strong reference would make a cycle
    /// that outlives `ParsedBlocks`' eviction of the body.
    private weak var keptPlans: RoutinePlans?

    /// Whether the body names any `TG_` variable: a trigger declares them only then (a dozen
    /// variables each firing, for every row, where most bodies read NEW and OLD alone). A body
    /// that does not spell `tg_` cannot read one: EXECUTE's dynamic SQL sees no variables.
    let readsTriggerVariables: Bool

    init(function: FunctionSpec) throws {
        self.function = function
        let (block, plans) = try ParsedBlocks.shared.parsed(function.body)
        self.block = block
        keptPlans = plans
        readsTriggerVariables = Self.mentionsTriggerVariables(function.body)
    }

    static func mentionsTriggerVariables(_ body: String) -> Bool {
        let bytes = Array(body.utf8)
        guard bytes.count >= 3 else { return false }
        for i in 0..<(bytes.count - 2) where bytes[i] | 0x20 == UInt8(ascii: "t") && bytes[i + 1] | 0x20 == UInt8(ascii: "g") && bytes[i + 2] == UInt8(ascii: "_") {
            return true
        }
        return false
    }

    /// The body's plans: those this call was made with while `ParsedBlocks` keeps them, else
    /// the ones it keeps now.
    private var plans: RoutinePlans { keptPlans ?? (try? ParsedBlocks.shared.parsed(function.body).1) ?? RoutinePlans() }

    /// How deep PL/pgSQL functions may call one another. PostgreSQL stops at its stack depth
    /// limit; here both bound it: this many calls, and a thread's stack with less than
    /// `StackDepth.reserveBytes` left (`StackDepth.check`).
    static let maxDepth = 1_000

    func run(_ arguments: [Value], _ context: ExecutionContext) throws -> Value {
        if !function.tableColumns.isEmpty { return try outRow(arguments, context).first ?? .null }  // its one OUT parameter
        let resultType = function.returnType.flatMap { $0.lowercased() == "void" ? nil : $0 }
        let block = self.block, name = function.name
        let inputs = inputs(arguments)
        return try perform(context) { run in try await run.runFunction(block, name: name, arguments: inputs, resultType: resultType) }
    }

    /// A function with OUT parameters (not SETOF): the values they hold when the body ends.
    private func outRow(_ arguments: [Value], _ context: ExecutionContext) throws -> [Value] {
        let block = self.block, inputs = inputs(arguments)
        let outputs = function.tableColumns.map { (name: $0.name ?? function.name, typeText: Optional($0.type)) }
        return try perform(context) { run in try await run.runOutFunction(block, arguments: inputs, outputs: outputs) }
    }

    /// A set-returning function's rows, with `columns` its result's columns.
    func rows(_ arguments: [Value], columns: [(name: String, typeText: String?)], _ context: ExecutionContext) throws -> [[Value]] {
        if !function.returnsSet { return [try outRow(arguments, context)] }
        let block = self.block, inputs = inputs(arguments)
        let columnsAreVariables = !function.tableColumns.isEmpty
        return try perform(context) { run in
            try await run.runSetFunction(block, arguments: inputs, columns: columns, columnsAreVariables: columnsAreVariables)
        }
    }

    /// A trigger function's run for one row or statement (`TableTriggers`).
    /// `table`: the trigger's table, which DDL in the trigger may not change (55006).
    func fire(_ invocation: TriggerInvocation, on table: String, _ context: ExecutionContext) throws -> TriggerOutcome {
        let block = self.block, declaresTriggerVariables = readsTriggerVariables
        return try perform(context, tableInUse: table) { run in
            try await run.runTrigger(block, invocation, declaresTriggerVariables: declaresTriggerVariables)
        }
    }

    private func inputs(_ arguments: [Value]) -> [(name: String?, typeText: String, value: Value)] {
        zip(function.arguments, arguments).map { (name: $0.name, typeText: $0.type, value: $1) }
    }

    /// Runs `body` on a new interpreter over `context`'s transaction, to completion, now.
    private func perform<T>(_ context: ExecutionContext, tableInUse: String? = nil,
                            _ body: @escaping (inout PLpgSQLRun<ContextStatementRunner>) async throws -> T) throws -> T {
        guard context.routineDepth < Self.maxDepth else {
            throw RedError(.limitExceeded, "stack depth limit exceeded: PL/pgSQL functions call one another more than \(Self.maxDepth) deep",
                           condition: "54001")
        }
        try StackDepth.check("PL/pgSQL function \(function.name) called \(context.routineDepth + 1) deep")
        try ContextStatementRunner.checkCancelled(context)  // recursion without loops still ends at a cancel or timeout
        guard !context.isParallelPart else {
            throw RedError(.featureNotSupported, "PL/pgSQL function \(function.name) cannot run in a parallel scan (vector search); call it outside the search")
        }
        let state = ImmediateRun<T>(runner: ContextStatementRunner(context: context, volatility: function.volatility, tableInUse: tableInUse),
                                    plans: plans, body: body)
        let nonBlocking = context.mustNotRunLong
        Task.immediate {
            await NonBlockingExecution.$isActive.withValue(nonBlocking) {
                var run = PLpgSQLRun(runner: state.runner)
                run.plans = state.plans
                do {
                    state.result = .success(try await state.body(&run))
                } catch {
                    state.result = .failure(error)
                }
                if run.hasNotices { state.runner.context.noticeSink?.add(run.result) }
            }
        }
        guard let result = state.result else {
            throw RedError(.internalError, "PL/pgSQL function \(function.name) stopped part way (it waited for something); this is a defect")
        }
        return try result.get()
    }

    /// What the immediately started task reads and leaves behind (only the caller's thread
    /// touches it: the task runs there to completion before `Task.immediate` returns).
    private final class ImmediateRun<T>: @unchecked Sendable {
        let runner: ContextStatementRunner
        let plans: RoutinePlans
        let body: (inout PLpgSQLRun<ContextStatementRunner>) async throws -> T
        var result: Result<T, any Error>?
        init(runner: ContextStatementRunner, plans: RoutinePlans, body: @escaping (inout PLpgSQLRun<ContextStatementRunner>) async throws -> T) {
            self.runner = runner
            self.plans = plans
            self.body = body
        }
    }
}

/// The statements of a PL/pgSQL function, run as parts of the statement that called it (see
/// `PLpgSQLFunctionCall`).
struct ContextStatementRunner: PLStatementRunner {
    let context: ExecutionContext
    /// The function's `pg_proc.provolatile`: only a volatile one may write.
    let volatility: String
    /// A trigger's table, in use by the statement that fires it (`ExecutionContext.tablesInUse`).
    var tableInUse: String?
    var canEndTransaction: Bool { false }
    var mayYield: Bool { false }

    func parse(_ sql: String) throws -> [(Statement, String)] { try Self.parsed.statements(sql) }

    /// Function bodies' statements, parsed once: a function called for every row runs the same
    /// few texts again and again. Bounded; emptied when full.
    static let parsed = ParsedStatements(capacity: 4_096)

    /// Most statements functions run for one statement tried without waiting (on an event loop):
    /// past it, the statement runs on the waiting path, where a cancel or timeout reaches it.
    static let maxStatementsWithoutWaiting = 256

    func run(_ statement: Statement, parameters: [Value], variables: RoutineVariables?, plans: PlanMemo?) async throws -> QueryResult {
        try checkStatement()
        if !StatementExecutor.isReadOnly(statement) {
            context.noticeSink?.countWrite()
            // PostgreSQL's rule: only a VOLATILE function writes.
            guard volatility == "v" else {
                throw RedError(.featureNotSupported, "\(StatementExecutor.verb(of: statement)) is not allowed in a non-volatile function")
            }
            // The caller's limits: a read-only transaction or role writes nothing through a function.
            guard context.allowsSequenceWrites else {
                throw RedError(.readOnlyTransaction, "cannot execute \(StatementExecutor.verb(of: statement)) in a read-only transaction")
            }
            // A read tried without waiting is rolled back afterwards: a write goes to the waiting path.
            if context.mustNotRunLong { throw WouldBlock(reason: .longRunning) }
            guard !context.rollsBack else {
                throw RedError(.featureNotSupported, "a PL/pgSQL function that writes cannot run in a streamed query, whose transaction is rolled back; run the query without streaming")
            }
        }
        var executor = executor(parameters, variables: PLpgSQLRun<ContextStatementRunner>.seesVariables(statement) ? variables : nil)
        if let plans, let version = reusableDefinitions { executor.planMemo = (plans, version) }
        return try executor.execute(statement)
    }

    /// Evaluates a `SELECT expression` whose kept plan is that expression over no table: no
    /// query runs, no result is built (the plan was made, and kept, by the expression's first run).
    func evaluate(_ statement: Statement, parameters: [Value], variables: RoutineVariables, plans: PlanMemo) throws -> Value? {
        guard let version = reusableDefinitions,
              case .some(.some(let kept)) = plans.lookup(definitions: version, surface: context.surfaceKey, searchPath: context.transaction.searchPath),
              let expressions = (kept.plan as? ProjectNode)?.fromlessExpressions, expressions.count == 1,
              kept.parameterCount <= parameters.count else { return nil }
        try checkStatement()
        return try expressionContext.context(parameters, variables) { executor(parameters, variables: variables).makeContext() }
            .evaluation([]).evaluate(expressions[0], [])
    }

    /// One context for every expression `evaluate` runs in this call, made at the first and
    /// then only given the next one's parameters (`ExecutionContext.reuse`): making one per
    /// expression (an executor copied from the caller's context, then a context from it) was
    /// a fifth of a simple function's time.
    let expressionContext = ExpressionContext()

    final class ExpressionContext: @unchecked Sendable {  // used by one function call's run, one statement at a time
        private var made: ExecutionContext?

        func context(_ parameters: [Value], _ variables: RoutineVariables, make: () -> ExecutionContext) -> ExecutionContext {
            if let made {
                made.reuse(parameters: parameters, variables: variables)
                return made
            }
            let context = make()
            made = context
            return context
        }
    }

    /// A cancel or timeout ends the function; so does a run that has gone on too long for a
    /// statement tried without waiting (it goes to the waiting path).
    private func checkStatement() throws {
        try checkCancelled()
        if context.mustNotRunLong, (context.noticeSink?.countStatement() ?? 0) > Self.maxStatementsWithoutWaiting {
            throw WouldBlock(reason: .longRunning)
        }
    }

    /// An executor for one of the function's statements, as a part of the calling statement.
    private func executor(_ parameters: [Value], variables: RoutineVariables?) -> StatementExecutor {
        var executor = StatementExecutor(partOf: context, parameters: parameters)
        executor.routineVariables = variables
        executor.routineDepth += 1
        if let tableInUse { executor.tablesInUse.insert(tableInUse) }
        return executor
    }

    /// The definitions version a kept plan must have been made against: the calling statement's,
    /// unless this transaction has changed definitions since or the session has temporary tables
    /// (which hide permanent ones) — the session's rule for its own plans (`PlanMemo`); nil: plan afresh.
    private var reusableDefinitions: UInt64? {
        guard let version = context.definitionsVersion, !context.transaction.hasDefinitionWrites,
              !(context.transaction.temporaryNamespace?.isUsed ?? false) else { return nil }
        return version
    }

    func endTransaction(commit: Bool) async throws -> QueryResult {
        throw RedError(.activeSQLTransaction, "invalid transaction termination", condition: "2D000")
    }

    func savepoint() throws -> Transaction.Savepoint { try context.transaction.savepoint() }
    func rollback(to savepoint: Transaction.Savepoint) throws { try context.transaction.rollback(to: savepoint) }
    /// A cancel or timeout (unlike `ExecutionContext.checkCancelled`, not a reason to stop an
    /// attempt without waiting: a short function runs there too).
    func checkCancelled() throws { try Self.checkCancelled(context) }

    static func checkCancelled(_ context: ExecutionContext) throws {
        if let reason = context.cancellation?.reason, reason != .none { throw StatementCancellation.error(reason) }
        if Task.isCancelled { throw StatementCancellation.error(.userRequest) }
    }
}

/// `FROM f(…)` of a set-returning PL/pgSQL function: its rows, each value cast to its column's
/// type. The arguments are evaluated once per execution (they may read outer rows).
final class PLpgSQLRowsNode: PlanNode, @unchecked Sendable {
    let call: PLpgSQLFunctionCall
    let arguments: [BoundExpr]
    let columns: [ScopeColumn]
    let resultColumns: [(name: String, typeText: String?)]
    /// Each column's cast, over the function's row as it came.
    let casts: [BoundExpr]

    init(call: PLpgSQLFunctionCall, arguments: [BoundExpr], columns: [ScopeColumn], resultColumns: [(name: String, typeText: String?)], casts: [BoundExpr]) {
        self.call = call
        self.arguments = arguments
        self.columns = columns
        self.resultColumns = resultColumns
        self.casts = casts
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let eval = context.evaluation(outerRows)
        let values = try arguments.map { try eval.evaluate($0, []) }
        if call.function.strict, values.contains(where: \.isNull) { return ArrayIterator([]) }
        let rows = try call.rows(values, columns: resultColumns, context)
        return ArrayIterator(try rows.map { row in try casts.map { try eval.evaluate($0, row) } })
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "Function Scan on \(call.function.name) (PL/pgSQL)")] }
}

extension Planner {
    /// `FROM f(…)` of a set-returning PL/pgSQL function (`PLpgSQLRowsNode`), its columns named by
    /// `alias` and `names` as a SQL function's are.
    func planPLpgSQLRows(_ function: FunctionSpec, _ arguments: [Expr], alias: String?, names: [String], _ ctx: BindingContext) throws -> PlanNode {
        let call = try PLpgSQLFunctionCall(function: function)
        let typed = try zip(arguments, function.arguments).map { try bind(try FunctionCatalog.cast($0, to: $1.type), ctx) }
        let result = try resultColumns(function)
        let table = try rowTypeTable(function)
        // SETOF a table: its columns' own types (the rows are the table's, uncast).
        let tableTypes = try table.map { try planLeaf(.table($0, alias: nil), outer: nil).columns.filter(\.inStar).map(\.type) }
        let raw = Scope(result.map { ScopeColumn(qualifier: "$raw", name: $0.name, type: .any) }, parent: nil)
        let casts = try result.map { column in
            try bind(column.type.map { try FunctionCatalog.cast(.column(["$raw", column.name]), to: $0) } ?? .column(["$raw", column.name]),
                     BindingContext(scope: raw, aggregatesForbiddenIn: "functions in FROM"))
        }
        let qualifier = alias ?? function.name
        let baseType = function.tableColumns.isEmpty && result.count == 1 && table == nil
        let shown = names.isEmpty && baseType ? [alias ?? function.name] : names
        let columns = result.enumerated().map { k, column in
            ScopeColumn(qualifier: qualifier, name: k < shown.count ? shown[k] : column.name,
                        type: tableTypes.map { k < $0.count ? $0[k] : .any } ?? Planner.staticType(casts[k]))
        }
        return PLpgSQLRowsNode(call: call, arguments: typed, columns: columns, resultColumns: result.map { ($0.name, $0.type) }, casts: casts)
    }

    /// A call of PL/pgSQL `function`: a scalar function running its body, on arguments cast to
    /// their parameters' types, its value cast to the result type.
    func bindPLpgSQLCall(_ function: FunctionSpec, _ arguments: [Expr], _ ctx: BindingContext) throws -> BoundExpr {
        bindsRoutineCalls = true
        let call = try PLpgSQLFunctionCall(function: function)
        let typed = try zip(arguments, function.arguments).map { try bind(try FunctionCatalog.cast($0, to: $1.type), ctx) }
        let scalar = ScalarFunction(name: function.name, arity: typed.count...typed.count, acceptsNull: !function.strict,
                                    isDeterministicWithinStatement: false) { values, context in try call.run(values, context) }
        let value = BoundExpr.function(scalar, typed)
        guard let resultType = function.returnType, resultType.lowercased() != "void" else { return value }
        // The cast's bound shape, with the call where its NULL stands: the call's type is then the result's.
        let cast = try bind(try FunctionCatalog.cast(.literal(.null), to: resultType), ctx)
        switch cast {
        case .cast(.constant(.null), let type): return .cast(value, type)
        case .function(let f, var castArguments):
            guard case .constant(.null)? = castArguments.first else { return value }
            castArguments[0] = value
            return .function(f, castArguments)
        default: return value
        }
    }
}

/// What the PL/pgSQL functions a statement calls leave with it: the notices and warnings RAISE
/// gives, collected for the statement's result (PG-wire sends them before its rows) and kept
/// to the same bound as a DO block's; and counts of the statements they ran and of those that
/// wrote. Used by one statement at a time (and by COPY, for its batches' triggers).
public final class NoticeSink: Sendable {
    private let kept = Mutex<(notices: [String], warnings: [String])>(([], []))
    /// Statements PL/pgSQL functions ran for the statement (`ContextStatementRunner`).
    private let statements = Atomic<Int>(0)
    /// Those of them that may have written (anything but a read).
    private let writes = Atomic<Int>(0)

    func countStatement() -> Int { statements.add(1, ordering: .relaxed).newValue }
    func countWrite() { writes.add(1, ordering: .relaxed) }
    /// How many statements of functions the statement called may have written so far: while it
    /// is unchanged, no row the statement read has been changed by one (`TableTriggers`).
    var functionWrites: Int { writes.load(ordering: .relaxed) }
    public init() {}
    public var notices: [String] { kept.withLock { $0.notices } }
    public var warnings: [String] { kept.withLock { $0.warnings } }

    public func add(_ result: QueryResult) {
        kept.withLock { kept in
            kept.notices += result.notices.prefix(max(0, 10_000 - kept.notices.count)).map(NoticeSink.bounded)
            kept.warnings += result.warnings.prefix(max(0, 10_000 - kept.warnings.count)).map(NoticeSink.bounded)
        }
    }

    /// Longest notice kept, in bytes; a longer one is cut (PostgreSQL sends any length, but
    /// here they are held in memory until the statement ends).
    static let maxNoticeBytes = 8 << 10

    static func bounded(_ text: String) -> String {
        guard text.utf8.count > maxNoticeBytes else { return text }
        return String(decoding: text.utf8.prefix(maxNoticeBytes), as: UTF8.self) + "…"
    }
}

/// PL/pgSQL bodies, what they parse to and their statements' plans (`RoutinePlans`), shared by
/// every call and trigger: a statement that fires a trigger per key of a cascade, or binds a
/// call per execution, parses each body once, and its calls plan each query once. Bounded;
/// emptied when full.
final class ParsedBlocks: Sendable {
    private let entries = Mutex<[String: (PLBlock, RoutinePlans)]>([:])
    static let shared = ParsedBlocks()
    static let capacity = 1_024

    func parsed(_ body: String) throws -> (PLBlock, RoutinePlans) {
        if let kept = entries.withLock({ $0[body] }) { return kept }
        let parsed = (try PLpgSQLParser.parse(body), RoutinePlans())
        return entries.withLock { entries in
            if let kept = entries[body] { return kept }  // another call parsed it meanwhile: one set of plans
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[body] = parsed
            return parsed
        }
    }
}

/// Statement texts and what they parse to, shared by every PL/pgSQL function call.
final class ParsedStatements: Sendable {
    private let entries = Mutex<[String: [(Statement, String)]]>([:])
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// Longest text kept (a longer one, EXECUTE's dynamic SQL most likely, is parsed each time).
    static let maxTextBytes = 16 << 10

    func statements(_ sql: String) throws -> [(Statement, String)] {
        guard sql.utf8.count <= Self.maxTextBytes else { return try Parser.parseScript(sql) }
        if let kept = entries.withLock({ $0[sql] }) { return kept }
        let statements = try Parser.parseScript(sql)
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[sql] = statements
        }
        return statements
    }
}
