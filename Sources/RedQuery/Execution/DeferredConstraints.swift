import RedCore
import RedEngine

/// One transaction's deferred FOREIGN KEY checks, kept by its session between statements.
///
/// A DEFERRABLE constraint's checks wait for COMMIT when it is INITIALLY DEFERRED or `SET
/// CONSTRAINTS … DEFERRED` says so (PostgreSQL's rules; Django declares its foreign keys
/// this way). Deferred are only the checks: that a referencing row finds its row, and that
/// a NO ACTION key that went away is no longer referenced. CASCADE, SET NULL, SET DEFAULT
/// and RESTRICT act at the end of the statement whatever the mode, as in PostgreSQL.
///
/// The checks read the rows as they are when they run, so a row changed or deleted since
/// is checked as it now is. A savepoint rollback restores the modes and the queued checks
/// as they were (`Saved`, which the session keeps with each savepoint): a rename rolled back
/// must not leave the checks under the new name. (A statement run again from its
/// start after an attempt gave up drops what that attempt queued: `forgetChecks`.)
public final class DeferredConstraints: @unchecked Sendable {
    /// What SET CONSTRAINTS said in this transaction.
    public struct Modes: Sendable {
        /// `SET CONSTRAINTS ALL`'s mode; nil: each constraint's INITIALLY mode.
        var all: Bool?
        /// `SET CONSTRAINTS name …`'s modes, by constraint name (after any ALL).
        var named: [String: Bool] = [:]
    }

    public var modes = Modes()
    var childChecks: [ForeignKeyEnforcement.ChildCheck] = []
    var parentChanges: [ForeignKeyEnforcement.ParentChange] = []

    public init() {}

    public var isEmpty: Bool { childChecks.isEmpty && parentChanges.isEmpty }

    /// The state a savepoint returns to: the modes SET CONSTRAINTS set, and the checks waiting
    /// (their tables as named then: a rename rolled back must not leave them following it).
    public struct Saved: Sendable {
        fileprivate let modes: Modes
        fileprivate let childChecks: [ForeignKeyEnforcement.ChildCheck]
        fileprivate let parentChanges: [ForeignKeyEnforcement.ParentChange]
    }

    public func save() -> Saved { Saved(modes: modes, childChecks: childChecks, parentChanges: parentChanges) }

    public func restore(_ saved: Saved) {
        modes = saved.modes
        childChecks = saved.childChecks
        parentChanges = saved.parentChanges
    }

    /// How many checks wait now; `forgetChecks(queuedAfter:)` drops those queued since.
    public var mark: (children: Int, parents: Int) { (childChecks.count, parentChanges.count) }

    /// Forgets the checks queued after `mark`: a write statement only adds checks, and one run
    /// again from its start (after an attempt that gave up) adds them again.
    public func forgetChecks(queuedAfter mark: (children: Int, parents: Int)) {
        if childChecks.count > mark.children { childChecks.removeSubrange(mark.children...) }
        if parentChanges.count > mark.parents { parentChanges.removeSubrange(mark.parents...) }
    }

    /// ALTER TABLE … RENAME: the waiting checks follow the table.
    func renameTable(_ old: String, to new: String) {
        childChecks = childChecks.map { $0.table == old ? ForeignKeyEnforcement.ChildCheck(table: new, constraint: $0.constraint, rid: $0.rid, temporary: $0.temporary) : $0 }
        parentChanges = parentChanges.map { change in
            var reference = change.reference
            if reference.table == old { reference.table = new }
            return ForeignKeyEnforcement.ParentChange(parent: change.parent == old ? new : change.parent, reference: reference,
                                                      oldKey: change.oldKey, newKey: change.newKey, temporary: change.temporary)
        }
    }

    /// Whether a waiting check reads `table` (as the referencing or the referenced table).
    func involves(_ table: String) -> Bool {
        childChecks.contains { $0.table == table } || parentChanges.contains { $0.parent == table || $0.reference.table == table }
    }

    /// Whether `fk`'s checks wait for COMMIT now.
    func defers(_ fk: ForeignKeyDefinition) -> Bool {
        guard fk.deferrable == true else { return false }
        return modes.named[fk.name] ?? modes.all ?? (fk.initiallyDeferred == true)
    }

    /// `SET CONSTRAINTS`: records the mode, then runs the waiting checks of the constraints it
    /// made immediate (23503 if one fails; the statement fails, the transaction with it).
    func set(_ names: [String]?, deferred: Bool, context: ExecutionContext) throws {
        if let names {
            let tables = try context.store.listReachable(context.transaction)
            let constraints = tables.flatMap { $0.schema.foreignKeys ?? [] }
            for name in names {
                let matching = constraints.filter { $0.name == name }
                guard !matching.isEmpty else {
                    // A CHECK, PRIMARY KEY or UNIQUE constraint of that name is never deferrable.
                    if tables.contains(where: { t in (t.schema.checks ?? []).contains { $0.name == name } || t.schema.indexes.contains { $0.isConstraint && $0.name == name } }) {
                        throw RedError(.invalidOperation, "constraint \"\(name)\" is not deferrable")
                    }
                    throw RedError(.undefinedObject, "constraint \"\(name)\" does not exist")
                }
                guard matching.allSatisfy({ $0.deferrable == true }) else {
                    throw RedError(.invalidOperation, "constraint \"\(name)\" is not deferrable")
                }
                modes.named[name] = deferred
            }
        } else {
            modes = Modes(all: deferred, named: [:])
        }
        if !deferred { try settle(context: context, everything: false) }
    }

    /// Runs the waiting checks: all of them (COMMIT), or those of constraints no longer
    /// deferred (the others wait on).
    func settle(context: ExecutionContext, everything: Bool) throws {
        let enforcement = ForeignKeyEnforcement(context: context, deferring: everything ? nil : self)
        let waiting = (childChecks, parentChanges)
        enforcement.take(waiting.0, waiting.1)
        childChecks = []
        parentChanges = []
        do {
            try enforcement.settle()
        } catch {
            // Nothing is lost when the statement is run again (a session that tried it without
            // waiting gives up with `WouldBlock` and runs it as usual).
            (childChecks, parentChanges) = waiting
            throw error
        }
    }
}
