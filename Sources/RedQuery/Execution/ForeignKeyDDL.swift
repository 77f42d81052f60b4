import RedCore
import RedEngine

/// Which indexes a FOREIGN KEY constraint reads through.
enum ForeignKeyCatalog {
    /// The referenced table's unique index over exactly `columns` (in any order): a reference
    /// is found by one lookup there. PostgreSQL requires one too.
    static func referencedIndex(in schema: CollectionSchema, columns: [UInt16]) -> Int? {
        schema.indexes.firstIndex { $0.unique && $0.isPlain && $0.columnIDs.count == columns.count && Set($0.columnIDs) == Set(columns) }
    }

    /// An index of the referencing table whose leading columns are `columns` (in any order):
    /// the referencing rows of one key are then one range of it.
    static func referencingIndex(in schema: CollectionSchema, columns: [UInt16]) -> Int? {
        schema.indexes.firstIndex { $0.isPlain && $0.columnIDs.count >= columns.count && Set($0.columnIDs.prefix(columns.count)) == Set(columns) }
    }

    /// Whether a referencing column of type `child` may reference one of type `parent`: the
    /// same type, or a number that widens into it (integers into NUMERIC or floats, NUMERIC
    /// into floats), as PostgreSQL allows; NUMERIC into INT is 42804 there too.
    static func compatible(_ child: DataType, _ parent: DataType) -> Bool {
        let integers: Set<DataType> = [.integer, .unsigned]
        switch (child, parent) {
        case _ where child == parent: return true
        case _ where integers.contains(child): return integers.contains(parent) || parent == .decimal || parent == .float
        case (.decimal, .float): return true
        default: return false
        }
    }
}

/// FOREIGN KEY definitions: adding, dropping, and keeping both tables' halves right when
/// either is dropped, renamed or loses a column.
extension DDLExecutor {
    /// Adds `spec` to `handle` (the referencing table). With `validate`, every row already
    /// there must reference a row (23503), as ALTER TABLE … ADD FOREIGN KEY checks.
    ///
    /// The referenced columns default to the referenced table's primary key and must be
    /// covered by a unique index over exactly them (42830). When no index of the referencing
    /// table leads with the constraint's columns, one is made (`<constraint>_index`) and
    /// dropped with the constraint: a DELETE of a referenced row then finds its referencing
    /// rows without scanning, and guards just their range.
    func addForeignKey(_ spec: ForeignKeySpec, to handle: TableHandle, validate: Bool, notes: inout [String]) throws -> TableHandle {
        guard handle.schema.model == .table else {
            throw RedError(.invalidOperation, "constraints need a table; \(handle.name) is a \(handle.schema.model.rawValue) collection")
        }
        let columns = try spec.columns.map { name -> ColumnDefinition in
            guard let column = handle.schema.columns.first(where: { $0.name == name }) else {
                throw RedError(.undefinedColumn, "column \"\(name)\" referenced in foreign key constraint does not exist")
            }
            return column
        }
        let selfReference = TemporaryNamespace.unqualified(spec.table).name == handle.name
        let named = try handle.isTemporary || TemporaryNamespace.unqualified(spec.table).temporaryOnly ? store.open(tx, spec.table, temporary: handle.isTemporary)
            : store.openPermanent(tx, named: spec.table)
        guard let parent = selfReference ? handle : named else {
            // As in PostgreSQL, a temporary table and a permanent one never reference each other.
            if try store.open(tx, spec.table, temporary: !handle.isTemporary) != nil {
                throw RedError(.invalidTableDefinition, handle.isTemporary ? "constraints on temporary tables may reference only temporary tables"
                                                                           : "constraints on permanent tables may reference only permanent tables")
            }
            throw RedError(.undefinedCollection, "relation \"\(spec.table)\" does not exist")
        }
        guard parent.schema.model == .table else { throw RedError(.invalidOperation, "referenced relation \"\(spec.table)\" is not a table") }
        let referenced: [ColumnDefinition]
        if let names = spec.referencedColumns {
            referenced = try names.map { name in
                guard let column = parent.schema.columns.first(where: { $0.name == name }) else {
                    throw RedError(.undefinedColumn, "column \"\(name)\" referenced in foreign key constraint does not exist")
                }
                return column
            }
        } else {
            let key = parent.schema.indexes.first { $0.primaryKey == true }?.columnIDs ?? parent.schema.columns.filter(\.primaryKey).map(\.id)
            guard !key.isEmpty else { throw RedError(.undefinedObject, "there is no primary key for referenced table \"\(spec.table)\"") }
            referenced = key.compactMap { id in parent.schema.columns.first { $0.id == id } }
        }
        guard referenced.count == columns.count else {
            throw RedError(.invalidForeignKey, "number of referencing and referenced columns for foreign key disagree")
        }
        guard Set(referenced.map(\.id)).count == referenced.count else {
            throw RedError(.invalidForeignKey, "foreign key referenced-columns list must not contain duplicates")
        }
        guard ForeignKeyCatalog.referencedIndex(in: parent.schema, columns: referenced.map(\.id)) != nil else {
            throw RedError(.invalidForeignKey, "there is no unique constraint matching given keys for referenced table \"\(spec.table)\"")
        }
        let name = try foreignKeyName(spec, table: handle)
        for (column, target) in zip(columns, referenced) where !ForeignKeyCatalog.compatible(column.type, target.type) {
            throw RedError(.datatypeMismatch, "foreign key constraint \"\(name)\" cannot be implemented",
                           detail: "Key columns \"\(column.name)\" and \"\(target.name)\" are of incompatible types: \(column.type.rawValue) and \(target.type.rawValue).")
        }
        guard (handle.schema.foreignKeys ?? []).count < Self.maxChecks else {
            throw RedError(.limitExceeded, "tables can have at most \(Self.maxChecks) FOREIGN KEY constraints")
        }
        var fk = ForeignKeyDefinition(name: name, columnIDs: columns.map(\.id), referencedTable: parent.name, referencedColumnIDs: referenced.map(\.id),
                                      onDelete: .init(rawValue: spec.onDelete.rawValue) ?? .noAction,
                                      onUpdate: .init(rawValue: spec.onUpdate.rawValue) ?? .noAction, matchFull: spec.matchFull)
        if spec.deferrable { fk.deferrable = true }
        if spec.initiallyDeferred { fk.initiallyDeferred = true }
        var schema = handle.schema
        schema.foreignKeys = (schema.foreignKeys ?? []) + [fk]
        if selfReference { schema.referencedBy = (schema.referencedBy ?? []) + [ForeignKeyReference(table: handle.name, constraint: name)] }
        let child = try ensureReferencingIndexes(try store.setSchema(tx, handle, schema))
        if !selfReference {
            var parentSchema = parent.schema
            parentSchema.referencedBy = (parentSchema.referencedBy ?? []) + [ForeignKeyReference(table: handle.name, constraint: name)]
            _ = try store.setSchema(tx, parent, parentSchema)
        }
        if validate { try verifyExistingReferences(fk, of: child) }
        notes.append("constraint '\(name)' added")
        return child
    }

    /// The name of a new constraint: the given one (free among the table's constraints), else
    /// PostgreSQL's `<table>_<column>[_<column>…]_fkey`, numbered when taken.
    func foreignKeyName(_ spec: ForeignKeySpec, table: TableHandle) throws -> String {
        let schema = table.schema
        let taken = Set((schema.checks ?? []).map(\.name) + schema.indexes.filter(\.isConstraint).map(\.name) + (schema.foreignKeys ?? []).map(\.name))
        if let name = spec.name {
            guard !taken.contains(name) else { throw RedError(.duplicateObject, "constraint \"\(name)\" for relation \"\(table.name)\" already exists") }
            return name
        }
        return Self.firstFree("\(table.localName)_\(spec.columns.joined(separator: "_"))_fkey") { taken.contains($0) }
    }

    /// Fails with 23503 if a row of `child` references no row.
    func verifyExistingReferences(_ fk: ForeignKeyDefinition, of child: TableHandle) throws {
        let enforcement = ForeignKeyEnforcement(context: context, deferring: nil)
        guard let parent = fk.referencedTable == child.name ? child : try store.open(tx, fk.referencedTable, temporary: child.isTemporary) else { return }
        let cursor = try store.scan(tx, child)
        while let row = try cursor.next() {
            guard row.isVisible(at: context.now) else { continue }
            let key = fk.columnIDs.map { row.values[$0] ?? .null }
            guard try ForeignKeyEnforcement.references(key, fk, table: child.name) else { continue }
            if try enforcement.lookUp(key, in: parent, columns: fk.referencedColumnIDs, guarding: true, memo: fk.name) == nil {
                throw ForeignKeyEnforcement.missingReference(key, fk, of: child)
            }
        }
    }

    /// Removes constraint `name` of `handle`, its index if one was made for it, and the
    /// referenced table's note of it.
    func dropForeignKey(_ name: String, of handle: TableHandle) throws -> TableHandle {
        guard let fk = handle.schema.foreignKeys?.first(where: { $0.name == name }) else { return handle }
        var child = handle
        var schema = child.schema
        schema.foreignKeys?.removeAll { $0.name == name }
        let reference = ForeignKeyReference(table: handle.name, constraint: name)
        if fk.referencedTable == handle.name { schema.referencedBy?.removeAll { $0 == reference } }
        child = try store.setSchema(tx, child, schema)
        if let index = fk.indexName, child.schema.indexes.contains(where: { $0.name == index }) {
            child = try store.dropIndex(tx, child, named: index)
            child = try ensureReferencingIndexes(child)  // another constraint may have read through it
        }
        if fk.referencedTable != handle.name, let parent = try store.open(tx, fk.referencedTable, temporary: handle.isTemporary) {
            var parentSchema = parent.schema
            parentSchema.referencedBy?.removeAll { $0 == reference }
            _ = try store.setSchema(tx, parent, parentSchema)
        }
        return child
    }

    /// Makes an index (`<constraint>_index`) for each constraint of `handle` that no index
    /// serves: a new constraint, or one whose index went with a dropped column or another
    /// constraint.
    func ensureReferencingIndexes(_ handle: TableHandle) throws -> TableHandle {
        var current = handle
        for fk in handle.schema.foreignKeys ?? [] where ForeignKeyCatalog.referencingIndex(in: current.schema, columns: fk.columnIDs) == nil {
            let indexName = try Self.firstFree("\(fk.name)_index") { try nameTaken($0, besideTable: current) }
            current = try store.createIndex(tx, current, name: indexName, columnIDs: fk.columnIDs, unique: false, method: .btree,
                                            isConstraint: false, now: context.now)
            var schema = current.schema
            if let i = schema.foreignKeys?.firstIndex(where: { $0.name == fk.name }) { schema.foreignKeys![i].indexName = indexName }
            current = try store.setSchema(tx, current, schema)
        }
        return current
    }

    /// Refuses (55006) to change `table` while the transaction has checks of it waiting for
    /// COMMIT: they name it, as PostgreSQL's pending trigger events do.
    func requireNoWaitingChecks(_ table: String, what: String) throws {
        guard let waiting = context.deferredConstraints, waiting.involves(table) else { return }
        throw RedError(.objectInUse, "cannot \(what) \"\(table)\" because it has pending trigger events",
                       detail: "Deferred foreign key checks of this transaction read it; run SET CONSTRAINTS ALL IMMEDIATE first.")
    }

    /// Before dropping the tables `dropping`: a constraint of another table referencing
    /// `handle` fails the drop (2BP01) or, with CASCADE, is dropped; the references `handle`
    /// makes leave their tables' notes.
    /// `dropping` holds the collection names of the tables being dropped: a temporary table and
    /// a permanent one of the same name are told apart.
    func detachForeignKeys(of handle: TableHandle, dropping: Set<String>, cascade: Bool) throws {
        for reference in handle.schema.referencedBy ?? [] where !dropping.contains(collectionName(reference.table, besides: handle)) {
            guard cascade else {
                throw RedError(.dependentObjectsStillExist, "cannot drop table \(handle.name) because other objects depend on it",
                               detail: "constraint \(reference.constraint) on table \(reference.table) depends on table \(handle.name); use CASCADE to drop the constraint too")
            }
            if let child = try store.open(tx, reference.table, temporary: handle.isTemporary) { _ = try dropForeignKey(reference.constraint, of: child) }
        }
        for fk in handle.schema.foreignKeys ?? [] where !dropping.contains(collectionName(fk.referencedTable, besides: handle)) {
            guard let parent = try store.open(tx, fk.referencedTable, temporary: handle.isTemporary) else { continue }
            var schema = parent.schema
            schema.referencedBy?.removeAll { $0 == ForeignKeyReference(table: handle.name, constraint: fk.name) }
            _ = try store.setSchema(tx, parent, schema)
        }
    }

    /// TRUNCATE of a referenced table must take its referencing tables along (0A000), as in
    /// PostgreSQL. Those referencing tables are guarded whole: a row a concurrent transaction
    /// adds to one of them (naming a row being truncated) makes this commit fail with 40001.
    func requireTruncatable(_ handle: TableHandle, with tables: [TableHandle]) throws {
        let names = Set(tables.map(\.collection.name))
        if let reference = handle.schema.referencedBy?.first(where: { !names.contains(collectionName($0.table, besides: handle)) }) {
            throw RedError(.featureNotSupported, "cannot truncate a table referenced in a foreign key constraint",
                           detail: "Table \"\(reference.table)\" references \"\(handle.name)\". Truncate table \"\(reference.table)\" at the same time.")
        }
        for reference in handle.schema.referencedBy ?? [] {
            if let child = try store.open(tx, reference.table, temporary: handle.isTemporary) { try tx.guardUnchanged(child.collection, keysStartingWith: []) }
        }
    }

    /// The tables `names` name and, with `cascade`, every table whose foreign keys reference
    /// one of them, transitively (TRUNCATE … CASCADE); each once.
    func truncatedTables(_ names: [String], cascade: Bool) throws -> [TableHandle] {
        var all: [TableHandle] = []
        var seen: Set<String> = []
        for name in names {
            let handle = try table(name)
            if seen.insert(handle.collection.name).inserted { all.append(handle) }
        }
        var next = 0
        while cascade, next < all.count {
            let handle = all[next]
            next += 1
            for reference in handle.schema.referencedBy ?? [] where !seen.contains(collectionName(reference.table, besides: handle)) {
                guard let child = try store.open(tx, reference.table, temporary: handle.isTemporary) else { continue }
                seen.insert(child.collection.name)
                all.append(child)
            }
        }
        return all
    }

    /// The collection name of the table `name` that a foreign key of `handle` means: a table of
    /// the same kind (both temporary or both permanent).
    func collectionName(_ name: String, besides handle: TableHandle) -> String {
        guard handle.isTemporary, let namespace = tx.temporaryNamespace else { return name }
        return namespace.physicalName(name)
    }

    /// After `handle` was renamed from `old`: the other tables' halves name it anew.
    func renameForeignKeyReferences(of handle: TableHandle, from old: String) throws -> TableHandle {
        var renamed = handle
        var schema = handle.schema
        var selfChanged = false
        for (i, fk) in (schema.foreignKeys ?? []).enumerated() {
            if fk.referencedTable == old {
                schema.foreignKeys![i].referencedTable = handle.name
                selfChanged = true
            } else if let parent = try store.open(tx, fk.referencedTable, temporary: handle.isTemporary) {
                var parentSchema = parent.schema
                parentSchema.referencedBy = parentSchema.referencedBy?.map { $0 == ForeignKeyReference(table: old, constraint: fk.name) ? ForeignKeyReference(table: handle.name, constraint: fk.name) : $0 }
                _ = try store.setSchema(tx, parent, parentSchema)
            }
        }
        for (i, reference) in (schema.referencedBy ?? []).enumerated() {
            if reference.table == old {
                schema.referencedBy![i].table = handle.name
                selfChanged = true
            } else if let child = try store.open(tx, reference.table, temporary: handle.isTemporary) {
                var childSchema = child.schema
                childSchema.foreignKeys = childSchema.foreignKeys?.map { fk in
                    var fk = fk
                    if fk.name == reference.constraint, fk.referencedTable == old { fk.referencedTable = handle.name }
                    return fk
                }
                _ = try store.setSchema(tx, child, childSchema)
            }
        }
        if selfChanged { renamed = try store.setSchema(tx, handle, schema) }
        return renamed
    }

    /// The constraint `reference` names, which references `handle` (its own, for a self-reference).
    func constraint(_ reference: ForeignKeyReference, referencing handle: TableHandle) throws -> ForeignKeyDefinition? {
        let referencing = reference.table == handle.name ? handle : try store.open(tx, reference.table, temporary: handle.isTemporary)
        return referencing?.schema.foreignKeys?.first { $0.name == reference.constraint }
    }

    /// Before column `column` of `handle` goes: the table's own constraints over it go too
    /// (PostgreSQL drops a table's constraints with their columns); one of any table that
    /// references it fails the drop (2BP01).
    func dropForeignKeys(over column: ColumnDefinition, of handle: TableHandle) throws -> TableHandle {
        for reference in handle.schema.referencedBy ?? [] {
            guard let fk = try constraint(reference, referencing: handle), fk.referencedColumnIDs.contains(column.id), !(reference.table == handle.name && fk.columnIDs.contains(column.id)) else { continue }
            throw RedError(.dependentObjectsStillExist, "cannot drop column \(column.name) of table \(handle.name) because other objects depend on it",
                           detail: "constraint \(reference.constraint) on table \(reference.table) depends on column \(column.name) of table \(handle.name); drop the constraint first")
        }
        var current = handle
        for fk in handle.schema.foreignKeys ?? [] where fk.columnIDs.contains(column.id) || (fk.referencedTable == handle.name && fk.referencedColumnIDs.contains(column.id)) {
            current = try dropForeignKey(fk.name, of: current)
        }
        return current
    }

    /// Refuses (2BP01) to drop index `name` of `handle` when a constraint reads through it and
    /// no other index would serve.
    func requireIndexUnneeded(_ name: String, of handle: TableHandle) throws {
        var without = handle.schema
        without.indexes.removeAll { $0.name == name }
        for fk in handle.schema.foreignKeys ?? [] where ForeignKeyCatalog.referencingIndex(in: without, columns: fk.columnIDs) == nil {
            throw RedError(.dependentObjectsStillExist, "cannot drop index \(name) because constraint \(fk.name) on table \(handle.name) requires it",
                           detail: "Drop the constraint first, or create another index on its columns.")
        }
        for reference in handle.schema.referencedBy ?? [] {
            guard let fk = try constraint(reference, referencing: handle), ForeignKeyCatalog.referencedIndex(in: without, columns: fk.referencedColumnIDs) == nil else { continue }
            throw RedError(.dependentObjectsStillExist, "cannot drop index \(name) because constraint \(reference.constraint) on table \(reference.table) requires it",
                           detail: "Drop the constraint first.")
        }
    }
}
