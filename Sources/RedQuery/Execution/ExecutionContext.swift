#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RedCore
import RedEngine
import Synchronization

/// One column of a row flowing between operators.
struct ScopeColumn: Sendable {
    /// Table name or alias that qualifies the column (`t` in `t.a`).
    var qualifier: String?
    var name: String
    var type: DataType
    /// System columns (`rid`, `created_at`, `updated_at`) are selectable by name but not part of `*`.
    var hidden = false
    /// A document collection's body: unknown names in its scope resolve to fields inside it.
    var isDocumentBody = false
    /// The second copy of a JOIN … USING column: left out of `*`, and an unqualified name
    /// means the other copy; `table.column` and `table.*` still reach it.
    var mergedAway = false
    /// The kept copy of a FULL JOIN … USING column: the other copies (positions), as either
    /// side may be null-extended; an unqualified name and `*` mean COALESCE of them all, as
    /// in PostgreSQL, where `table.column` still reads this copy alone.
    var coalescedWith: [Int] = []
    /// For an array column, its elements' type when known (PG-wire sends it as `T[]`).
    var element: DataType? = nil
    /// A surface's own type for the column's values (`SurfaceColumn.surfaceType`).
    var surfaceType: String? = nil
    /// A hidden column a subquery or view exports for a `FOR UPDATE` outside it: the row id
    /// of this table's row behind each of its rows (`RowLocking`).
    var lockedRowOf: TableHandle? = nil
    /// An enum column's labels in their declared order, which is how its values sort and
    /// compare (`EnumOrder`).
    var enumLabels: [String]? = nil

    /// Part of an unqualified `*`.
    var inStar: Bool { !hidden && !mergedAway }
}

/// A row source: the pull interface every operator implements.
protocol RowIterator: AnyObject {
    func next() throws -> [Value]?
}

/// A node of the physical plan. `open` starts one execution; `outerRows` is the
/// stack of enclosing rows for correlated subqueries.
protocol PlanNode: AnyObject, Sendable {
    var columns: [ScopeColumn] { get }
    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator
    /// EXPLAIN lines for this node (children indented by the caller's depth).
    func explain(_ depth: Int) -> [String]
}

extension PlanNode {
    func line(_ depth: Int, _ text: String) -> String {
        depth == 0 ? text : String(repeating: "  ", count: depth - 1) + "  ->  " + text
    }
}

/// A statement's cancel switch, flipped from another thread (a client's cancel request) and
/// read by the running statement at the same points as task cancellation. It lets a server
/// run a statement on the request's own task (no extra task hop per statement) and still
/// stop it.
public final class StatementCancellation: Sendable {
    /// Why a statement is stopped.
    public enum Reason: UInt64, Sendable {
        case none = 0, userRequest = 1, statementTimeout = 2
    }

    /// `epoch << 2 | reason`: each `reset` starts a new epoch, so a timer armed for an
    /// earlier statement that fires late (`cancelIfStill`) cannot stop a later one.
    private let state = Atomic<UInt64>(0)
    /// When the running statement's timeout falls due (monotonic nanoseconds; 0: none). The
    /// statement reads it at its cancellation checkpoints, so a timeout stops a running
    /// statement however busy the machine is; the session's timer task, which may have to
    /// wait for a thread of the pool (two, on two cores, both perhaps running long
    /// statements), is what wakes a statement that waits (for a lock).
    private let deadline = Atomic<UInt64>(0)
    /// The epoch `deadline` was set for: a deadline left from an earlier statement is ignored.
    private let deadlineEpoch = Atomic<UInt64>(0)

    public init() {}

    public var reason: Reason {
        let current = state.load(ordering: .relaxed)
        if current & 3 == 0, case let due = deadline.load(ordering: .relaxed), due != 0,
           deadlineEpoch.load(ordering: .relaxed) == current >> 2, Self.monotonicNanoseconds() >= due {
            cancelIfStill(current >> 2, reason: .statementTimeout)
        }
        return Reason(rawValue: state.load(ordering: .relaxed) & 3) ?? .none
    }

    /// The running statement times out `milliseconds` from now (cleared by `reset`).
    public func setTimeout(milliseconds: Int) {
        deadlineEpoch.store(epoch, ordering: .relaxed)
        deadline.store(Self.monotonicNanoseconds() &+ UInt64(milliseconds) &* 1_000_000, ordering: .relaxed)
    }

    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }

    public var isCancelled: Bool { reason != .none }

    /// The current epoch, for a timer that must only stop the statement running now.
    public var epoch: UInt64 { state.load(ordering: .relaxed) >> 2 }

    public func cancel() { cancelIfStill(epoch, reason: .userRequest) }

    /// Stops the statement of `epoch` if it is still the current one and not already stopped.
    public func cancelIfStill(_ epoch: UInt64, reason: Reason) {
        _ = state.compareExchange(expected: epoch << 2, desired: epoch << 2 | reason.rawValue, ordering: .relaxed)
    }

    /// Arms the switch for the next statement (a cancel aimed at an earlier one is dropped).
    public func reset() {
        deadline.store(0, ordering: .relaxed)
        var current = state.load(ordering: .relaxed)
        while true {
            let (exchanged, original) = state.compareExchange(expected: current, desired: ((current >> 2) &+ 1) << 2, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// The 57014 error a statement stopped for `reason` fails with (PostgreSQL's wording).
    public static func error(_ reason: Reason) -> RedError {
        RedError(.queryCanceled, reason == .statementTimeout ? "canceling statement due to statement timeout"
                                                             : "canceling statement due to user request")
    }
}

/// Everything a statement's execution needs: its transaction, clock and parameters.
final class ExecutionContext: @unchecked Sendable {
    let transaction: Transaction
    let store: TableStore
    private(set) var parameters: [Value]
    /// The statement's clock (epoch ms): TTL visibility and row timestamps.
    let now: Int64
    /// The same reading in microseconds: NOW() and the other current-time functions.
    let nowMicroseconds: Int64
    /// Rows scanned (reported as statistics).
    var rowsScanned = 0
    let limits: ExecutionLimits
    let cancellation: StatementCancellation?
    /// Running under `NonBlockingExecution`: the first cancellation checkpoint (a few
    /// thousand rows in) gives up with `WouldBlock`, bounding the work done on an event loop.
    let mustNotRunLong = NonBlockingExecution.isActive
    /// Hash sets of the statement's long constant IN lists and array parameters (`ConstantSets`).
    var constantSets: ConstantSets {
        if let constantSetsBuilt { return constantSetsBuilt }
        let built = ConstantSets()
        constantSetsBuilt = built
        return built
    }
    private var constantSetsBuilt: ConstantSets?
    /// Vectors of the statement's search texts, computed by the session (see `EmbeddingsNeeded`).
    var embeddings: [EmbeddingKey: [Float]] = [:]
    /// Planning for Describe: parameters have no values yet.
    var describing = false
    /// The open transaction block's deferred foreign key checks (nil in autocommit, where
    /// COMMIT is the statement's end).
    var deferredConstraints: DeferredConstraints?
    /// The surface's own relations, functions and casts (PG-wire's system catalogs), if any.
    var surfaceCatalog: (any SurfaceCatalog)?
    private var snapshot: CatalogSnapshot?
    /// The session's currval/lastval memory (nil: functions that need it say so).
    var sessionSequences: SessionSequenceValues?
    /// The session's advisory locks (nil: lock functions say they need a session).
    var locks: SessionLocks?
    /// The session's `random()` generator (nil: the system's, and setseed says it needs a session).
    var random: SessionRandom?
    /// Most rows an UPDATE or DELETE locks before changing them (`SessionLocks.lockRowsForWrite`);
    /// one changing more locks none. The session sets it: larger inside a transaction block than
    /// for an autocommit statement, whose locks only bridge the moment until its commit.
    var rowLocksPerWrite = 0
    /// The transaction's write count when the statement began (`canWaitForLocks`).
    private var writesAtStart: Int
    /// Whether the statement has written nothing yet, so that it may still stop to wait for a
    /// lock and be run again from the start (`Session.runWaitingForLocks`). After its first
    /// write it can only take locks nobody holds, and leaves the others to the commit check.
    var canWaitForLocks: Bool { transaction.writeCount == writesAtStart }
    /// False in a read-only transaction or session: nextval and setval refuse (25006).
    var allowsSequenceWrites = true
    /// The rows of the statement's WITH items, by name (`WithClauseExecution`).
    var withRelations: [String: WithRelation] = [:]
    /// The materialized view a REFRESH is rewriting, or DROP MATERIALIZED VIEW dropping: the
    /// one table that refuses other writes (`DMLExecutor.refuseMaterializedView`) and takes these.
    var refreshingMaterializedView: String?
    /// Set while CREATE TEMP TABLE runs: the table it creates is the session's own (`TemporaryTables`).
    var creatingTemporary = false
    /// The session's time zone: how instants are read from text and shown, and where their
    /// days begin (`SessionTimeZone`).
    var timeZone = SessionTimeZone.utc
    /// The variables of the PL/pgSQL block running the statement (`RoutineVariables`).
    var routineVariables: RoutineVariables?
    /// How many PL/pgSQL function calls this statement runs inside (`PLpgSQLFunctionCall`).
    var routineDepth = 0
    /// The definitions version this statement's snapshot sees, when plans made against it are
    /// right here (`StatementExecutor.definitionsVersion`): PL/pgSQL functions the statement
    /// calls reuse their statements' plans under it (`RoutinePlans`).
    var definitionsVersion: UInt64?
    /// Tables whose triggers run this statement: the statements firing them are writing to
    /// them, so DDL here may not change them (55006, as PostgreSQL's "in use by active queries").
    var tablesInUse: Set<String> = []
    /// Where RAISE NOTICE and WARNING in functions the statement calls go (`NoticeSink`).
    var noticeSink: NoticeSink?
    /// One of several parts of the statement running at once on other threads
    /// (`partition`): PL/pgSQL functions, which write to the one transaction, do not run there.
    var isParallelPart = false
    /// The statement's transaction is rolled back when it ends (a streamed read): a PL/pgSQL
    /// function must not write there, since its writes would be lost.
    var rollsBack = false
    /// Sequence definitions this statement looked up, by name (see `sequence(named:)`).
    var sequenceCache: [String: (name: String, definition: SequenceDefinition)] = [:]

    /// The next value of an identity column's sequence (named exactly, not folded).
    func nextIdentityValue(_ sequence: String) throws -> Int64 {
        let definition: SequenceDefinition
        if let cached = sequenceCache[sequence] { definition = cached.definition } else {
            guard let found = try store.sequences.definition(transaction, sequence) else {
                throw RedError(.undefinedCollection, "relation \"\(sequence)\" does not exist")
            }
            sequenceCache[sequence] = (sequence, found)
            definition = found
        }
        return try nextValue(ofSequence: sequence, definition)
    }

    /// The catalog as this statement sees it, read once per statement for surface relations.
    func catalogSnapshot() throws -> CatalogSnapshot {
        if let snapshot { return snapshot }
        let read = try CatalogSnapshot.read(self)
        snapshot = read
        return read
    }

    init(transaction: Transaction, store: TableStore, parameters: [Value], now: Int64, nowMicroseconds: Int64? = nil,
         limits: ExecutionLimits = ExecutionLimits(), cancellation: StatementCancellation? = nil) {
        self.cancellation = cancellation
        self.transaction = transaction
        self.store = store
        self.parameters = parameters
        self.now = now
        self.nowMicroseconds = nowMicroseconds ?? now * 1000
        self.limits = limits
        writesAtStart = transaction.writeCount
    }

    @inline(__always)
    func checkMaterialized(_ count: Int, _ what: @autoclosure () -> String) throws {
        guard count <= limits.maxMaterializedRows else {
            throw RedError(.limitExceeded, "\(what()) would hold more than \(limits.maxMaterializedRows) rows in memory; narrow the query (WHERE, LIMIT) or stream it")
        }
    }

    /// Throws 57014 once the task running the statement, or its cancel switch, is cancelled (a
    /// client's CancelRequest). Scans call it every few thousand rows, so cancelling a long
    /// query takes effect quickly.
    func checkCancelled() throws {
        if mustNotRunLong { throw WouldBlock(reason: .longRunning) }
        if let reason = cancellation?.reason, reason != .none { throw StatementCancellation.error(reason) }
        if Task.isCancelled { throw StatementCancellation.error(.userRequest) }
    }

    /// Counts one row examined, and checks for cancellation every 4,096 of them: the
    /// checkpoint of every loop whose length the data decides (scans, the rows a foreign
    /// key's action visits).
    @inline(__always)
    func countScanned() throws {
        rowsScanned += 1
        if rowsScanned & 4095 == 0 { try checkCancelled() }
    }

    func open(_ plan: PlanNode, outerRows: [[Value]]) throws -> RowIterator {
        try plan.open(self, outerRows: outerRows)
    }

    func evaluation(_ outerRows: [[Value]]) -> Evaluation { Evaluation(context: self, outerRows: outerRows) }

    /// The surface a plan made here is kept with (`PlanMemo`): its catalog's type.
    var surfaceKey: ObjectIdentifier? { surfaceCatalog.map { ObjectIdentifier(type(of: $0)) } }

    /// Makes this context serve the next expression of a PL/pgSQL function as a fresh one made
    /// like it would (`ContextStatementRunner.evaluate`): other parameters, and nothing kept
    /// from the expression before — the sets built from parameters, the rows counted, the
    /// writes the lock rule starts from, and the catalog and sequence definitions read (each
    /// read again only by an expression that needs it). What stays is what the caller's
    /// context hands every expression alike: the transaction, clock, limits and settings.
    func reuse(parameters: [Value], variables: RoutineVariables?) {
        self.parameters = parameters
        routineVariables = variables
        rowsScanned = 0
        constantSetsBuilt = nil
        snapshot = nil
        if !sequenceCache.isEmpty { sequenceCache = [:] }
        writesAtStart = transaction.writeCount
    }

    /// A context for one part of this statement run on another thread: the same transaction,
    /// parameters, clock, limits and cancel switch, with counters of its own.
    func partition() -> ExecutionContext {
        let part = ExecutionContext(transaction: transaction, store: store, parameters: parameters, now: now, nowMicroseconds: nowMicroseconds,
                                    limits: limits, cancellation: cancellation)
        part.surfaceCatalog = surfaceCatalog
        part.sessionSequences = sessionSequences
        part.locks = locks
        part.random = random
        part.allowsSequenceWrites = allowsSequenceWrites
        part.timeZone = timeZone
        part.routineVariables = routineVariables
        part.routineDepth = routineDepth
        part.noticeSink = noticeSink
        part.isParallelPart = true
        return part
    }
}

/// Per-statement resource limits.
public struct ExecutionLimits: Sendable {
    /// How many rows one operator may hold in memory (a hash table's build side, a sort,
    /// the groups of an aggregate, a window's input, a materialised CTE …). Past it the
    /// statement fails with 54000 instead of exhausting the server's memory.
    public var maxMaterializedRows = 20_000_000
    /// An aggregate over a whole table whose row ids span at least this many is computed in
    /// parts, one per CPU (`AggregateNode`); `Int.max` keeps every aggregate on one thread.
    public var parallelScanMinimumRows = 131_072
    /// How many parts such an aggregate runs in: nil for one per CPU (at most four). Tests set
    /// it to run the parallel path whatever the machine.
    public var parallelScanParts: Int?
    public init() {}
}

/// An iterator over rows already in memory.
final class ArrayIterator: RowIterator {
    var rows: [[Value]]
    var index = 0
    init(_ rows: [[Value]]) { self.rows = rows }
    func next() throws -> [Value]? {
        guard index < rows.count else { return nil }
        defer { index += 1 }
        return rows[index]
    }
}

/// An iterator defined by a closure (for simple streaming operators).
final class ClosureIterator: RowIterator {
    let body: () throws -> [Value]?
    init(_ body: @escaping () throws -> [Value]?) { self.body = body }
    func next() throws -> [Value]? { try body() }
}
