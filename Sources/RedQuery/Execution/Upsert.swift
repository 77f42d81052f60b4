import RedCore
import RedEngine

/// `INSERT … ON CONFLICT`: PostgreSQL's upsert over the table's unique indexes.
///
/// A proposed row conflicts when a live row holds the same non-NULL values in
/// the targeted unique index (any unique index when no columns are named).
/// `DO NOTHING` skips it; `DO UPDATE SET …` rewrites the existing row, with the
/// existing values under the table's name and the proposed ones under
/// `excluded`, and an optional `WHERE` deciding whether to update at all. A row
/// may be changed only once per statement (21000 otherwise, as in PostgreSQL).
struct UpsertPlan {
    let handle: TableHandle
    /// Positions in `handle.schema.indexes` checked for conflicts.
    let indexes: [Int]
    let action: OnConflict.Action
    let assignments: [DMLExecutor.BoundAssignment]
    let condition: BoundExpr?
    /// The table's CHECK constraints, which the updated row must pass too.
    let checks: CheckConstraints
    /// Its generated columns, computed again for the updated row.
    let generated: GeneratedColumns

    init(onConflict: OnConflict, handle: TableHandle, executor: DMLExecutor, planner: Planner) throws {
        guard handle.schema.model == .table else {
            throw RedError(.featureNotSupported, "ON CONFLICT works on tables; \(handle.name) is a \(handle.schema.model.rawValue) collection")
        }
        self.handle = handle
        checks = try CheckConstraints(handle, planner: planner)
        generated = try GeneratedColumns(handle, planner: planner)
        let unique = handle.schema.indexes.indices.filter { handle.schema.indexes[$0].unique }
        if let constraint = onConflict.constraint {
            // Unique constraints and the primary key are unique indexes of the same name.
            indexes = unique.filter { handle.schema.indexes[$0].name == constraint }
            guard !indexes.isEmpty else {
                throw RedError(.undefinedObject, "constraint \"\(constraint)\" for table \"\(handle.name)\" does not exist")
            }
        } else if onConflict.columns.isEmpty {
            indexes = unique
        } else {
            let ids = try Set(onConflict.columns.map { name -> UInt16 in
                guard let column = handle.schema.column(named: name) else {
                    throw RedError(.undefinedColumn, "column \"\(name)\" of relation \"\(handle.name)\" does not exist")
                }
                return column.id
            })
            // A partial or expression index is not inferred from columns (PostgreSQL needs its
            // WHERE or expression repeated, which is not supported here).
            indexes = unique.filter { handle.schema.indexes[$0].isPlain && Set(handle.schema.indexes[$0].columnIDs) == ids }
            guard !indexes.isEmpty else {
                throw RedError(.invalidColumnReference, "there is no unique or exclusion constraint matching the ON CONFLICT specification")
            }
        }
        action = onConflict.action
        // The existing row under the table's name, the proposed one under `excluded` (hidden, so
        // unqualified names mean the existing row).
        let existing = TableScanNode.columns(of: handle.schema, qualifier: try SchemaCatalog.localName(handle.name, executor.tx))
        let excluded = existing.map { ScopeColumn(qualifier: "excluded", name: $0.name, type: $0.type, hidden: true) }
        let ctx = BindingContext(scope: Scope(existing + excluded, parent: nil), aggregatesForbiddenIn: "ON CONFLICT")
        if case .update(let items, let whereClause) = onConflict.action {
            assignments = try executor.bindAssignments(items, handle: handle, ctx: ctx, planner: planner)
            condition = try whereClause.map { try planner.bind($0, ctx) }
        } else {
            assignments = []
            condition = nil
        }
    }

    /// DO UPDATE (DO NOTHING changes no row, and locks none, as in PostgreSQL).
    var updates: Bool {
        if case .update = action { return true }
        return false
    }

    /// The live row the proposed row collides with, if any.
    func conflict(with row: StoredRow, executor: DMLExecutor) throws -> StoredRow? {
        for position in indexes {
            guard let values = try executor.store.indexKeyValues(executor.tx, handle, indexPosition: position, row),
                  handle.schema.indexes[position].nullsNotDistinct == true || !values.contains(where: \.isNull) else { continue }
            guard let rid = try executor.tx.get(handle.indexCollections[position], KeyEncoding.encode(values)).map(StoredRow.rid(fromKey:)),
                  let existing = try executor.store.get(executor.tx, handle, rid: rid), existing.isVisible(at: executor.context.now) else { continue }
            return existing
        }
        return nil
    }

    /// The columns DO UPDATE's SET names (an `UPDATE OF` trigger's test).
    var setColumns: Set<String> { Set(assignments.compactMap { $0.column?.name.lowercased() }) }

    /// Applies the action to `existing`; returns the updated row, or nil when nothing was
    /// written (WHERE not true, or a BEFORE UPDATE trigger of `triggers` returned NULL).
    func resolve(existing: StoredRow, proposed: StoredRow, touched: inout Set<Int64>, defaults: inout DefaultValues,
                 executor: DMLExecutor, eval: Evaluation, triggers: TableTriggers?) throws -> StoredRow? {
        guard case .update = action else { return nil }
        guard !touched.contains(existing.rid) else {
            throw RedError(.cardinalityViolation, "ON CONFLICT DO UPDATE command cannot affect row a second time; the statement proposes the same key twice")
        }
        let values = TableScanNode.values(of: existing, key: StoredRow.key(rid: existing.rid), schema: handle.schema)
            + TableScanNode.values(of: proposed, key: StoredRow.key(rid: proposed.rid), schema: handle.schema)
        if let condition, try Evaluation.truth(try eval.evaluate(condition, values)) != true { return nil }
        var updated = try executor.applying(assignments, to: existing, values: values, handle: handle, defaults: &defaults, eval: eval,
                                            checkNotNull: triggers?.hasBeforeRow != true)
        if let triggers, triggers.hasBeforeRow {
            guard let changed = try triggers.beforeRow(new: updated, old: existing) else { return nil }
            updated = changed
        }
        updated = try generated.filled(updated)
        try checks.verify(updated, old: existing)
        try executor.store.update(executor.tx, handle, old: existing, new: updated, now: executor.context.now)
        touched.insert(existing.rid)
        return updated
    }
}
