import RedCore
import RedEngine

/// `SELECT … FOR UPDATE | FOR NO KEY UPDATE | FOR SHARE | FOR KEY SHARE [OF t, …] [NOWAIT |
/// SKIP LOCKED]`: the rows a query returns are locked until its transaction ends, so that
/// read-then-write code (a balance checked, then debited; a job picked, then claimed) is not
/// interleaved with another transaction doing the same.
///
/// What it means here (the isolation levels are the session's, `IsolationLevel`):
/// - each returned row of each locked table takes a row lock in the database's `LockTable`:
///   exclusive for the UPDATE forms, shared for the SHARE forms;
/// - a row another transaction holds locked in a conflicting mode is waited for (the session
///   waits and runs the statement again), refused with 55P03 under NOWAIT, or left out under
///   SKIP LOCKED — which is how job queues hand each job to one worker;
/// - once locked, a row that a transaction committed after the statement's snapshot changed or
///   deleted fails the statement with 40001 ("could not serialize access due to concurrent
///   update"): the snapshot's version is no longer the row's, so locking it would lock the
///   wrong thing. Under REPEATABLE READ that is the answer, as in PostgreSQL (autocommit
///   statements retry on a fresh snapshot; a block retries from the start). Under READ
///   COMMITTED the session runs the statement again on a fresh snapshot
///   (`Session.runWaitingForLocks`), which re-reads the row as PostgreSQL does. Under SKIP
///   LOCKED such a row is left out instead, as a locked one is: workers claiming jobs
///   (`… ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`) then never fail on the job another
///   worker just claimed and committed;
/// - UPDATE and DELETE wait for the row locks others hold on the rows they change
///   (`SessionLocks.awaitRowsForWrite`), then lock them too (`lockRowsForWrite`), so a locked
///   row is changed by nobody else (an upsert's DO UPDATE likewise); a commit that changes a
///   locked row some other way (a cascade, TRUNCATE) still fails the locking transaction's
///   commit, through a read guard on every locked row.
///
/// The plan: `LockRowsNode` sits above the sort and below LIMIT, as PostgreSQL's LockRows
/// does, so SKIP LOCKED rows do not count towards the LIMIT and ORDER BY … LIMIT 1 FOR UPDATE
/// SKIP LOCKED finds the first row nobody holds. The locked tables' row ids travel to it as
/// hidden columns of the projection.
extension Planner {
    /// The locking clauses' targets among the FROM clause's tables, with the position of each
    /// one's row id in the joined row. Tables a clause does not name are not locked; a name
    /// that is not in FROM is 42P01, one that is not a table 0A000.
    func rowLockTargets(_ locking: [LockingClause], _ tree: JoinTree?, _ scope: Scope) throws -> [(position: Int, handle: TableHandle, shared: Bool, policy: LockingClause.WaitPolicy)] {
        var named = Set(locking.flatMap(\.tables))
        var targets: [(position: Int, handle: TableHandle, shared: Bool, policy: LockingClause.WaitPolicy)] = []
        for leaf in tree.map(leaves) ?? [] {
            guard let qualifier = leaf.plan.columns.first?.qualifier else { continue }
            let clauses = locking.filter { $0.tables.isEmpty || $0.tables.contains(qualifier) }
            guard !clauses.isEmpty else { continue }
            let explicit = named.remove(qualifier) != nil
            let strongest = Self.strongest(clauses)
            let (shared, policy) = (strongest.strength.isShared, strongest.waitPolicy)
            // A subquery or view: the row ids it exported (`exportLockedRows`).
            if lockedSubqueries.contains(qualifier) {
                for (i, column) in leaf.plan.columns.enumerated() {
                    guard let handle = column.lockedRowOf else { continue }
                    scope.used.insert(leaf.offset + i)
                    targets.append((leaf.offset + i, handle, shared, policy))
                }
                continue
            }
            guard let scan = leaf.plan as? TableScanNode, [.table, .document].contains(scan.handle.schema.model) else {
                if explicit {
                    throw RedError(.featureNotSupported, "\(Self.lockingName(clauses[0])) cannot be applied to \"\(qualifier)\": only the rows of tables, document collections, views and subqueries in FROM can be locked")
                }
                continue
            }
            let ridColumn = scan.handle.schema.model == .table ? scan.handle.schema.columns.count : 0
            let position = leaf.offset + ridColumn
            scope.used.insert(position)
            targets.append((position, scan.handle, shared, policy))
        }
        if let missing = locking.flatMap(\.tables).first(where: named.contains) {
            throw RedError(.undefinedCollection, "relation \"\(missing)\" in \(Self.lockingName(locking[0])) clause not found in FROM clause")
        }
        return targets
    }

    /// The clause a FROM subquery or view named `qualifier` plans with when the SELECT being
    /// planned locks its rows (PostgreSQL locks the rows of the tables underneath): the
    /// strongest of the clauses that apply, without OF. Nil when none applies.
    func lockingPushedDown(to qualifier: String) -> LockingClause? {
        let clauses = fromLocking.filter { $0.tables.isEmpty || $0.tables.contains(qualifier) }
        guard !clauses.isEmpty else { return nil }
        lockedSubqueries.insert(qualifier)
        return Self.strongest(clauses)
    }

    /// Several clauses on one table act as the strongest of them; NOWAIT wins over SKIP
    /// LOCKED, which wins over waiting, as in PostgreSQL. (No OF: it is for one table.)
    static func strongest(_ clauses: [LockingClause]) -> LockingClause {
        let strength: LockingClause.Strength = clauses.allSatisfy(\.strength.isShared) ? .share : .update
        let policy: LockingClause.WaitPolicy = clauses.contains { $0.waitPolicy == .noWait } ? .noWait
            : clauses.contains { $0.waitPolicy == .skipLocked } ? .skipLocked : .wait
        return LockingClause(strength: strength, waitPolicy: policy)
    }

    /// `FOR UPDATE`, `FOR NO KEY UPDATE` …: how PostgreSQL's messages name a clause.
    static func lockingName(_ clause: LockingClause) -> String { "FOR \(clause.strength.rawValue)" }

    /// 0A000 for a SELECT whose rows are not table rows one to one.
    static func refuseLocking(_ locking: [LockingClause], _ select: Select, aggregated: Bool, windowed: Bool) throws {
        guard let first = locking.first else { return }
        let what: String? = select.distinct || !select.distinctOn.isEmpty ? "DISTINCT clause"
            : !select.groupBy.isEmpty || select.groupingSets != nil ? "GROUP BY clause"
            : select.having != nil ? "HAVING clause"
            : aggregated ? "aggregate functions"
            : windowed ? "window functions" : nil
        if let what { throw RedError(.featureNotSupported, "\(lockingName(first)) is not allowed with \(what)") }
    }
}

/// Locks each row's target rows as it passes (see the `Planner` extension above).
final class LockRowsNode: PlanNode, @unchecked Sendable {
    struct Target {
        /// Where the row id is in the input row.
        let position: Int
        let handle: TableHandle
        let shared: Bool
        let policy: LockingClause.WaitPolicy
    }

    let input: PlanNode
    let targets: [Target]
    /// The clause as messages name it (`FOR SHARE`).
    let clauseName: String
    var columns: [ScopeColumn] { input.columns }

    init(_ input: PlanNode, targets: [Target], clauseName: String) {
        self.input = input
        self.targets = targets
        self.clauseName = clauseName
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        guard let locks = context.locks else {
            throw RedError(.featureNotSupported, "SELECT … \(clauseName) needs a session: row locks belong to the transaction of the connection that takes them")
        }
        // A locking clause anywhere (a CTE, a subquery) locks as a write would: not in a
        // read-only transaction or session, nor on a replica.
        guard context.allowsSequenceWrites else {
            throw RedError(.readOnlyTransaction, "cannot execute SELECT \(clauseName) in a read-only transaction")
        }
        let source = try input.open(context, outerRows: outerRows)
        let targets = self.targets, tx = context.transaction
        return ClosureIterator {
            rows: while let row = try source.next() {
                for target in targets {
                    // NULL: the missing side of an outer join, nothing to lock.
                    guard case .integer(let rid) = row[target.position] else { continue }
                    let relation = (id: target.handle.collection.id, name: target.handle.name)
                    let outcome = try locks.lockRow(rid, of: relation, shared: target.shared, policy: target.policy)
                    if outcome == .skipped { continue rows }
                    let key = StoredRow.key(rid: rid)
                    if try tx.changedSinceSnapshot(target.handle.collection, key: key) {
                        if target.policy == .skipLocked {
                            // Not this snapshot's row any more: for a queue, as good as taken.
                            if outcome == .taken { locks.unlockRow(rid, of: relation.id, shared: target.shared) }
                            continue rows
                        }
                        throw Self.concurrentUpdate(of: relation.name)
                    }
                    try tx.guardUnchanged(target.handle.collection, key: key)
                }
                return row
            }
            return nil
        }
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "LockRows")] + input.explain(depth + 1) }

    /// 40001 for a row of `table` a statement locks or changes after waiting, which a
    /// transaction that committed after the snapshot changed or deleted (PostgreSQL's
    /// REPEATABLE READ error).
    static func concurrentUpdate(of table: String) -> RedError {
        RedError(.serializationFailure, "could not serialize access due to concurrent update",
                 detail: "A transaction that committed after this one's snapshot changed or deleted a row of \"\(table)\" this statement locks or changes; retry the transaction.")
    }
}
