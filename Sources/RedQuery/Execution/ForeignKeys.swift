import RedCore
import RedEngine

/// Enforces FOREIGN KEY constraints for one statement (`ForeignKeyDefinition`).
///
/// The statement's writes report each row they insert, update or delete (`inserted`,
/// `updated`, `deleted`); nothing is checked then. `settle`, when the statement's own writes
/// are done, does what PostgreSQL's referential triggers do at the end of a statement:
/// - a changed or removed referenced key: its referencing rows are found through the child's
///   index and the constraint's action runs: NO ACTION fails (23503) unless the key exists
///   again, RESTRICT fails, CASCADE deletes them or gives them the new key, SET NULL and SET
///   DEFAULT rewrite them; rows written by an action report in turn, so actions chain;
/// - a new or changed referencing key: the referenced table must hold it (23503).
///
/// Checking at the end of the statement lets one statement insert a parent after its child
/// or delete a whole tree of a self-referencing table, as PostgreSQL allows.
///
/// Checks of deferred constraints are handed to the transaction's `DeferredConstraints` instead.
///
/// Concurrency: each check guards what it read (`Transaction.guardUnchanged`): a child's
/// parent key entry, a parent's range of child index entries. A concurrent transaction that
/// changed either and committed first makes this one's commit fail with 40001.
final class ForeignKeyEnforcement {
    let context: ExecutionContext
    /// Where checks of deferred constraints go (nil: every check runs now, as at COMMIT).
    let deferring: DeferredConstraints?
    private var store: TableStore { context.store }
    private var tx: Transaction { context.transaction }

    /// Child rows whose references must be found, by table name, constraint name and rid.
    private var childChecks: [ChildCheck] = []
    /// Referenced keys that went away (deleted, or replaced by `newKey` values).
    private var parentChanges: [ParentChange] = []
    private var handles: [String: TableHandle] = [:]
    /// Keys already found in a referenced table this statement, per referencing table and constraint.
    private var found: Set<[UInt8]> = []
    private var defaults: DefaultValues
    /// CHECK constraints of the tables actions rewrite, bound once per statement.
    private var checks: [String: CheckConstraints] = [:]
    /// The children's generated columns, computed again for rows a cascade rewrites.
    private var generated: [String: GeneratedColumns] = [:]
    /// The triggers of tables the actions changed, whose AFTER events are still to fire
    /// (`fireCascadedAfterTriggers`).
    private var cascadedTriggers: [TableTriggers] = []

    /// `temporary`: the tables are a session's temporary ones. A foreign key links tables of
    /// one kind only, so each name is looked up among that kind (a temporary table hiding a
    /// permanent one of its name must not stand in for it).
    struct ChildCheck {
        let table: String
        let constraint: String
        let rid: Int64
        var temporary = false
    }

    /// A referenced key that went away: the referenced columns' values before, and after
    /// (nil: the row was deleted). Keys only, not rows: deferred ones wait until COMMIT.
    struct ParentChange {
        let parent: String
        let reference: ForeignKeyReference
        let oldKey: [Value]
        let newKey: [Value]?
        var temporary = false
    }

    init(context: ExecutionContext, deferring: DeferredConstraints?) {
        self.context = context
        self.deferring = deferring
        defaults = DefaultValues(planner: Planner(context: context), context: context)
    }

    /// The enforcement for writes to `handle`, or nil when no constraint involves the table
    /// (the common case costs nothing per row).
    static func of(_ handle: TableHandle, context: ExecutionContext) -> ForeignKeyEnforcement? {
        guard handle.schema.model == .table, !(handle.schema.foreignKeys ?? []).isEmpty || !(handle.schema.referencedBy ?? []).isEmpty else { return nil }
        let enforcement = ForeignKeyEnforcement(context: context, deferring: context.deferredConstraints)
        enforcement.handles[handle.name] = handle
        return enforcement
    }

    /// Queues checks that waited (`DeferredConstraints.settle`).
    func take(_ children: [ChildCheck], _ parents: [ParentChange]) {
        childChecks += children
        parentChanges += parents
    }

    // MARK: Reports from the writes

    func inserted(_ handle: TableHandle, _ row: StoredRow) {
        guard handle.schema.foreignKeyChecksDisabled != true else { return }  // DISABLE TRIGGER ALL
        for fk in handle.schema.foreignKeys ?? [] { childChecks.append(ChildCheck(table: handle.name, constraint: fk.name, rid: row.rid, temporary: handle.isTemporary)) }
    }

    func updated(_ handle: TableHandle, old: StoredRow, new: StoredRow) throws {
        func changed(_ ids: [UInt16]) -> Bool { ids.contains { !Self.sameKey(old.values[$0] ?? .null, new.values[$0] ?? .null) } }
        guard handle.schema.foreignKeyChecksDisabled != true else { return }  // DISABLE TRIGGER ALL
        for fk in handle.schema.foreignKeys ?? [] where changed(fk.columnIDs) {
            childChecks.append(ChildCheck(table: handle.name, constraint: fk.name, rid: new.rid, temporary: handle.isTemporary))
        }
        for reference in handle.schema.referencedBy ?? [] {
            guard let fk = try constraint(reference, of: handle), changed(fk.referencedColumnIDs) else { continue }
            parentChanges.append(ParentChange(parent: handle.name, reference: reference, oldKey: fk.referencedColumnIDs.map { old.values[$0] ?? .null },
                                              newKey: fk.referencedColumnIDs.map { new.values[$0] ?? .null }, temporary: handle.isTemporary))
        }
    }

    func deleted(_ handle: TableHandle, _ row: StoredRow) throws {
        guard handle.schema.foreignKeyChecksDisabled != true else { return }  // DISABLE TRIGGER ALL
        for reference in handle.schema.referencedBy ?? [] {
            guard let fk = try constraint(reference, of: handle) else { continue }
            parentChanges.append(ParentChange(parent: handle.name, reference: reference, oldKey: fk.referencedColumnIDs.map { row.values[$0] ?? .null },
                                              newKey: nil, temporary: handle.isTemporary))
        }
    }

    /// Whether two values are the same key: equal as index keys hold them (JSON by its text,
    /// 0 and -0.0 alike), which is how the referencing rows were found.
    static func sameKey(_ a: Value, _ b: Value) -> Bool {
        // A numeric's key is exact where a float's is its double: the two are one value when equal.
        switch (a, b) {
        case (.decimal, .float), (.float, .decimal): return a == b
        default: break
        }
        var x: [UInt8] = [], y: [UInt8] = []
        KeyEncoding.append(a, to: &x)
        KeyEncoding.append(b, to: &y)
        return x == y
    }

    // MARK: End of statement

    /// The AFTER ROW and STATEMENT triggers of the rows the actions changed, after the
    /// statement's own AFTER triggers, as PostgreSQL's queue has them.
    func fireCascadedAfterTriggers() throws {
        // In the order the actions ran; nothing is added meanwhile (a trigger's statements settle in enforcements of their own).
        for triggers in cascadedTriggers { try triggers.fireAfter() }
        cascadedTriggers.removeAll()
    }

    /// Runs the checks and actions the statement's writes called for, and those the actions
    /// call for in turn. Throws the first violation.
    func settle() throws {
        var nextParent = 0
        var nextChild = 0
        while true {
            // Counted, not checked each step: the first check declines a statement run on an
            // event loop (`NonBlockingExecution`), and most statements settle a few keys.
            try context.countScanned()
            if nextParent < parentChanges.count {
                let change = parentChanges[nextParent]
                nextParent += 1
                try settle(change)
            } else if nextChild < childChecks.count {
                let check = childChecks[nextChild]
                nextChild += 1
                try verifyReference(check)
            } else {
                break
            }
        }
        parentChanges = []
        childChecks = []
    }

    /// A referencing row must name a row of the referenced table.
    private func verifyReference(_ check: ChildCheck) throws {
        let table = check.table
        let child = try handle(table, temporary: check.temporary)
        guard let fk = child.schema.foreignKeys?.first(where: { $0.name == check.constraint }) else { return }
        if let deferring, deferring.defers(fk) {
            deferring.childChecks.append(check)
            return
        }
        guard let row = try store.get(tx, child, rid: check.rid), row.isVisible(at: context.now) else { return }  // gone since
        let key = fk.columnIDs.map { row.values[$0] ?? .null }
        guard try Self.references(key, fk, table: table) else { return }
        let parent = try handle(fk.referencedTable, temporary: check.temporary)
        if try lookUp(key, in: parent, columns: fk.referencedColumnIDs, guarding: true, memo: "\(table)\u{0}\(fk.name)") == nil {
            throw Self.missingReference(key, fk, of: child)
        }
    }

    /// 23503 for a referencing row of `child` whose `key` its referenced table lacks.
    static func missingReference(_ key: [Value], _ fk: ForeignKeyDefinition, of child: TableHandle) -> RedError {
        RedError(.foreignKeyViolation, "insert or update on table \"\(child.localName)\" violates foreign key constraint \"\(fk.name)\"",
                 detail: "Key (\(names(fk.columnIDs, child)))=(\(text(key))) is not present in table \"\(TableHandle.localName(of: fk.referencedTable))\".")
    }

    /// Whether `key` refers to anything: not when a value is NULL (MATCH SIMPLE), or all are
    /// (MATCH FULL, which refuses a mix with 23503).
    static func references(_ key: [Value], _ fk: ForeignKeyDefinition, table: String) throws -> Bool {
        let nulls = key.filter(\.isNull).count
        if fk.matchFull == true, nulls > 0, nulls < key.count {
            throw RedError(.foreignKeyViolation, "insert or update on table \"\(table)\" violates foreign key constraint \"\(fk.name)\"",
                           detail: "MATCH FULL does not allow mixing of null and nonnull key values.")
        }
        return nulls == 0
    }

    /// The rid of the visible row of `parent` whose `columns` hold `key`, through the unique
    /// index over them; with `guarding`, the index entry is guarded until commit.
    func lookUp(_ key: [Value], in parent: TableHandle, columns: [UInt16], guarding: Bool, memo: String? = nil) throws -> Int64? {
        guard let (position, bytes) = try Self.uniqueKey(key, in: parent, columns: columns) else { return nil }
        let memoKey = memo.map { Array($0.utf8) + [0] + bytes }
        if let memoKey, found.contains(memoKey) { return 0 }
        let index = parent.indexCollections[position]
        if guarding { try tx.guardUnchanged(index, key: bytes) }
        guard let entry = try tx.get(index, bytes) else { return nil }
        let rid = StoredRow.rid(fromKey: entry)
        guard let row = try store.get(tx, parent, rid: rid), row.isVisible(at: context.now) else { return nil }
        if let memoKey { found.insert(memoKey) }
        return rid
    }

    /// The position of `parent`'s unique index over exactly `columns` and `key`'s entry key
    /// in it (values in the index's column order, made to the parent's column types); nil
    /// when a value cannot be one of the parent's.
    static func uniqueKey(_ key: [Value], in parent: TableHandle, columns: [UInt16]) throws -> (Int, [UInt8])? {
        guard let position = ForeignKeyCatalog.referencedIndex(in: parent.schema, columns: columns) else {
            throw RedError(.invalidForeignKey, "there is no unique constraint matching given keys for referenced table \"\(parent.name)\"")
        }
        var bytes: [UInt8] = []
        for id in parent.schema.indexes[position].columnIDs {
            guard let j = columns.firstIndex(of: id), let column = parent.schema.columns.first(where: { $0.id == id }),
                  let value = Self.converted(key[j], to: column) else { return nil }
            KeyEncoding.append(value, to: &bytes)
        }
        return (position, bytes)
    }

    /// `value` as a value of `column`, when that is the same key: a conversion that changes it
    /// (1.5 rounded into an integer column, 'A' matched to ENUM variant 'a') means no row of
    /// that column can hold it.
    static func converted(_ value: Value, to column: ColumnDefinition) -> Value? {
        guard !value.isNull, let converted = try? column.coerce(value), sameKey(converted, value) else { return nil }
        return converted
    }

    /// A referenced key changed or went away: the referencing rows get the constraint's action.
    private func settle(_ change: ParentChange) throws {
        let child = try handle(change.reference.table, temporary: change.temporary)
        guard let fk = child.schema.foreignKeys?.first(where: { $0.name == change.reference.constraint }) else { return }
        let oldKey = change.oldKey
        guard !oldKey.contains(where: \.isNull) else { return }  // nothing can reference it
        let action = change.newKey == nil ? fk.onDelete : fk.onUpdate
        if action == .noAction, let deferring, deferring.defers(fk) {
            deferring.parentChanges.append(change)
            return
        }
        let parent = try handle(change.parent, temporary: change.temporary)
        // NO ACTION: a key the statement put back (or another row now holds) still serves.
        // No guard: a key that exists again is this transaction's own write (keys are unique).
        if action == .noAction, try lookUp(oldKey, in: parent, columns: fk.referencedColumnIDs, guarding: false) != nil { return }
        let children = try referencingRows(of: oldKey, fk, child, firstOnly: action == .noAction || action == .restrict)
        // An action changes the child's rows as PostgreSQL's referential query does, firing the
        // child's triggers: statement ones even when no row matches, row ones per row.
        var triggers: TableTriggers?
        if action != .noAction, action != .restrict {
            let event: TriggerDefinition.Event = action == .cascade && change.newKey == nil ? .delete : .update
            let keyColumns = Set(fk.columnIDs.compactMap { id in child.schema.columns.first { $0.id == id }?.name.lowercased() })
            triggers = try TableTriggers.of(child, event, setColumns: keyColumns, context: context)
            try triggers?.fireBeforeStatement()
        }
        defer { if let triggers { cascadedTriggers.append(triggers) } }
        guard !children.isEmpty else { return }
        if child.schema.appendOnly, action != .noAction, action != .restrict {
            throw RedError(.invalidOperation, "table \"\(child.name)\" is APPEND ONLY: \(change.newKey == nil ? "ON DELETE" : "ON UPDATE") \(action.rawValue) of foreign key constraint \"\(fk.name)\" would change its rows")
        }
        switch action {
        case .noAction, .restrict:
            throw RedError(.foreignKeyViolation,
                           "update or delete on table \"\(TableHandle.localName(of: change.parent))\" violates foreign key constraint \"\(fk.name)\" on table \"\(child.localName)\"",
                           detail: "Key (\(Self.names(fk.referencedColumnIDs, parent)))=(\(Self.text(oldKey))) is still referenced from table \"\(child.localName)\".")
        case .cascade:
            if let newKey = change.newKey {
                try rewrite(children, of: child, fk, triggers) { column, position in newKey[position] }
            } else {
                for row in children {
                    if let triggers, triggers.hasBeforeRow || triggers.hasBeforeStatement {
                        try triggers.requireUnchangedSinceRead(row)  // a statement trigger changed it since it was read: 27000
                        guard try triggers.beforeRow(new: nil, old: row) != nil else { continue }  // NULL: this row stays
                        try triggers.requireUnchangedSinceRead(row)
                    }
                    try store.delete(tx, child, row)
                    try deleted(child, row)
                    try triggers?.rowWritten(new: nil, old: row)
                }
            }
        case .setNull:
            try rewrite(children, of: child, fk, triggers) { _, _ in .null }
        case .setDefault:
            try rewrite(children, of: child, fk, triggers) { column, _ in try defaults.value(for: column, handle: child) }
        }
    }

    /// Gives `rows` new values in the constraint's columns (`value` per column and position in
    /// the key), enforcing NOT NULL and the child's CHECK constraints, and computing its generated
    /// columns, as an UPDATE would.
    private func rewrite(_ rows: [StoredRow], of child: TableHandle, _ fk: ForeignKeyDefinition, _ triggers: TableTriggers?,
                         value: (ColumnDefinition, Int) throws -> Value) throws {
        if checks[child.name] == nil { checks[child.name] = try CheckConstraints(child, planner: Planner(context: context)) }
        let checks = checks[child.name]!
        if generated[child.name] == nil { generated[child.name] = try GeneratedColumns(child, planner: Planner(context: context)) }
        let generated = generated[child.name]!
        for old in rows {
            var new = old
            for (position, id) in fk.columnIDs.enumerated() {
                guard let column = child.schema.columns.first(where: { $0.id == id }) else { continue }
                let v = try column.coerce(try value(column, position))
                if v.isNull, column.notNull, triggers?.hasBeforeRow != true {  // a BEFORE trigger may fill it; checked after it
                    throw RedError(.notNullViolation, "null value in column \"\(column.name)\" of relation \"\(child.name)\" violates not-null constraint")
                }
                new.values[id] = v
            }
            new.updatedAt = context.now
            if let triggers, triggers.hasBeforeRow || triggers.hasBeforeStatement {
                try triggers.requireUnchangedSinceRead(old)  // a statement trigger changed it since it was read: 27000
                guard let changed = try triggers.beforeRow(new: new, old: old) else { continue }  // NULL: this row stays
                new = changed
                try triggers.requireUnchangedSinceRead(old)
            }
            new = try generated.filled(new)
            try checks.verify(new, old: old)
            try store.update(tx, child, old: old, new: new, now: context.now)
            try updated(child, old: old, new: new)
            try triggers?.rowWritten(new: new, old: old)
            // A default may be the very key that went away: checked even when it did not change.
            if !(childChecks.last.map { $0.table == child.name && $0.constraint == fk.name && $0.rid == new.rid } ?? false) {
                childChecks.append(ChildCheck(table: child.name, constraint: fk.name, rid: new.rid, temporary: child.isTemporary))
            }
        }
    }

    /// The visible rows of `child` whose constraint columns hold `key` (the first only, with
    /// `firstOnly`), found through an index leading with them (a scan if the table has none),
    /// the range guarded until commit.
    private func referencingRows(of key: [Value], _ fk: ForeignKeyDefinition, _ child: TableHandle, firstOnly: Bool) throws -> [StoredRow] {
        var prefix: [UInt8] = []
        var childKey: [Value] = []
        for id in fk.columnIDs {
            guard let column = child.schema.columns.first(where: { $0.id == id }),
                  let value = Self.converted(key[childKey.count], to: column) else { return [] }
            childKey.append(value)
        }
        func matches(_ row: StoredRow) -> Bool {
            row.isVisible(at: context.now) && zip(fk.columnIDs, childKey).allSatisfy { Self.sameKey(row.values[$0] ?? .null, $1) }
        }
        var rows: [StoredRow] = []
        if let position = ForeignKeyCatalog.referencingIndex(in: child.schema, columns: fk.columnIDs) {
            let order = child.schema.indexes[position].columnIDs.prefix(fk.columnIDs.count)
            for id in order { KeyEncoding.append(childKey[fk.columnIDs.firstIndex(of: id)!], to: &prefix) }
            try tx.guardUnchanged(child.indexCollections[position], keysStartingWith: prefix)
            let cursor = try store.indexScan(tx, child, indexPosition: position, range: .values(prefix))
            while let rid = try cursor.next() {
                try context.countScanned()
                if let row = try store.get(tx, child, rid: rid), matches(row) { rows.append(row) }
                if firstOnly, !rows.isEmpty { break }
                try context.checkMaterialized(rows.count, "the rows referencing one key of \(fk.referencedTable) (constraint \(fk.name))")
            }
        } else {
            try tx.guardUnchanged(child.collection, keysStartingWith: [])
            let cursor = try store.scan(tx, child)
            while let row = try cursor.next() {
                try context.countScanned()
                if matches(row) { rows.append(row) }
                if firstOnly, !rows.isEmpty { break }
                try context.checkMaterialized(rows.count, "the rows referencing one key of \(fk.referencedTable) (constraint \(fk.name))")
            }
        }
        return rows
    }

    // MARK: Helpers

    private func handle(_ name: String, temporary: Bool) throws -> TableHandle {
        let key = temporary ? "\u{0}" + name : name
        if let cached = handles[key] { return cached }
        guard let opened = try store.open(tx, name, temporary: temporary) else {
            throw RedError(.internalError, "table \"\(name)\" named by a foreign key constraint does not exist")
        }
        handles[key] = opened
        return opened
    }

    private func constraint(_ reference: ForeignKeyReference, of parent: TableHandle) throws -> ForeignKeyDefinition? {
        try handle(reference.table, temporary: parent.isTemporary).schema.foreignKeys?.first { $0.name == reference.constraint }
    }

    private static func names(_ ids: [UInt16], _ handle: TableHandle) -> String {
        ids.map { id in handle.schema.columns.first { $0.id == id }?.name ?? "?" }.joined(separator: ", ")
    }

    static func text(_ key: [Value]) -> String { key.map(\.displayText).joined(separator: ", ") }
}
