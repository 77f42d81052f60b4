import RedCore
import RedEngine

/// The locks an INSERT takes before it writes, so that two transactions meeting on one key
/// queue up as they do in PostgreSQL instead of the second failing at COMMIT (40001):
/// - the unique keys of every new row (`lockUniqueKeys`; UPDATE locks those its rows move
///   to): a second transaction inserting the same key waits for the first to end, then finds
///   its row (23505; ON CONFLICT takes the conflict path) or, after a rollback, inserts;
/// - ON CONFLICT DO UPDATE's existing rows (`lockBeforeInserting`, then `lockUpsertTarget`
///   for rows met later), as UPDATE locks its rows.
///
/// Waiting means running the statement again (`Session.runWaitingForLocks`), which one that
/// has already written cannot (`ExecutionContext.canWaitForLocks`): from then on it locks only
/// what nobody holds, and leaves a held key or row to the commit check, as before.
extension DMLExecutor {
    /// Locks the unique keys of `rows`, which the statement is about to insert, for the rest of
    /// the transaction; waits for a key another transaction holds. A statement with more keys
    /// than `rowLocksPerWrite`, or one inserting decoded rows (a bulk load: COPY, the bulk
    /// inserts), neither locks nor looks: loads do not fill the lock table or pay a lookup per
    /// key, and their conflicts stay commit-time ones (40001).
    ///
    /// An UPDATE passes its rows' old versions as `replacing`: a key a row keeps is not locked
    /// (the row's own lock covers it); only the keys it moves to are.
    func lockUniqueKeys(of rows: [StoredRow], _ handle: TableHandle, replacing old: [StoredRow]? = nil) throws {
        guard let locks = context.locks, !rows.isEmpty, locksBeforeInserting(rowCount: rows.count, handle),
              locks.mayLockRows(rows.count * handle.uniqueIndexCount) else { return }
        let canWait = context.canWaitForLocks
        for (i, row) in rows.enumerated() {
            for key in try store.uniqueKeys(tx, handle, row, replacing: old?[i]) {
                try locks.lockUniqueKey(key, wait: canWait)
            }
        }
    }

    /// Whether an INSERT of `rowCount` rows locks what it writes before writing: its unique
    /// keys, and the rows ON CONFLICT DO UPDATE updates. Only then are its rows built before
    /// any is written; a bulk load beyond the limits locks nothing and writes as it builds.
    func locksBeforeInserting(rowCount: Int, _ handle: TableHandle) -> Bool {
        guard context.locks != nil, handle.uniqueIndexCount > 0, [.table, .document].contains(handle.schema.model) else { return false }
        return rowCount * handle.uniqueIndexCount <= context.rowLocksPerWrite
    }

    /// Before the first write of an INSERT that `locksBeforeInserting`: locks the unique keys
    /// of the rows it will insert and, for ON CONFLICT DO UPDATE, the existing rows it will
    /// update (as UPDATE locks its targets), waiting for those another transaction holds. A
    /// proposed row that collides with a visible row takes no key: DO NOTHING then waits for
    /// nobody, as in PostgreSQL, and DO UPDATE locks that row instead. (The write loop looks each
    /// row up again: a later row may meet one the statement itself inserted.)
    func lockBeforeInserting(_ rows: [StoredRow], _ handle: TableHandle, _ upsert: UpsertPlan?) throws {
        guard let upsert else { return try lockUniqueKeys(of: rows, handle) }
        var inserted: [StoredRow] = []
        var updated: [(key: [UInt8], row: StoredRow, values: [Value])] = []
        var seen = Set<Int64>()
        for row in rows {
            guard let existing = try upsert.conflict(with: row, executor: self) else {
                inserted.append(row)
                continue
            }
            if upsert.updates, seen.insert(existing.rid).inserted { updated.append((StoredRow.key(rid: existing.rid), existing, [])) }
        }
        try lockUniqueKeys(of: inserted, handle)
        if context.canWaitForLocks { try awaitRowLocks(handle, updated) }
    }

    /// ON CONFLICT DO UPDATE's existing row is written as an UPDATE's rows are: wait for the
    /// lock another transaction holds on it, lock it, and fail with 40001 (READ COMMITTED:
    /// run again on a fresh snapshot) if it changed after the snapshot. At most
    /// `rowLocksPerWrite` rows per statement are locked (`locked` counts them).
    func lockUpsertTarget(_ existing: StoredRow, _ handle: TableHandle, locked: inout Int) throws {
        guard let locks = context.locks, locked < context.rowLocksPerWrite,
              [.table, .document].contains(handle.schema.model) else { return }
        locked += 1
        let key = StoredRow.key(rid: existing.rid)
        if context.canWaitForLocks {
            try awaitRowLocks(handle, [(key, existing, [])])
        } else if try locks.lockRow(existing.rid, of: (handle.collection.id, handle.name), shared: false, policy: .skipLocked) == .taken,
                  try tx.changedSinceSnapshot(handle.collection, key: key) {
            throw LockRowsNode.concurrentUpdate(of: handle.name)
        }
    }
}
