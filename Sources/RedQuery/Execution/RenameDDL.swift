import RedCore
import RedEngine

/// Renames of what a table has besides columns: `ALTER INDEX … RENAME TO` and
/// `ALTER TABLE … RENAME CONSTRAINT`. An index and a PRIMARY KEY/UNIQUE constraint share a
/// name (the constraint is its index), and index names share the relations' namespace.
extension DDLExecutor {
    func renameIndex(_ written: String, ifExists: Bool, to newName: String) throws -> QueryResult {
        let name = try SchemaCatalog.localName(written, tx)
        guard let handle = try findIndex(written), let position = handle.schema.indexes.firstIndex(where: { $0.name == name }) else {
            if ifExists { return .message("relation \"\(name)\" does not exist, skipping", type: "alter", tag: "ALTER INDEX") }
            throw RedError(.undefinedCollection, "relation \"\(name)\" does not exist")
        }
        if newName != name { _ = try renamingIndex(at: position, of: handle, to: newName) }
        return .message("index '\(name)' renamed to '\(newName)'", type: "alter", tag: "ALTER INDEX")
    }

    /// The index at `position` of `handle` named `newName`, which no relation may have; a
    /// foreign key that made the index for itself keeps naming it (so dropping the key drops it).
    func renamingIndex(at position: Int, of handle: TableHandle, to newName: String) throws -> TableHandle {
        if try nameTaken(newName, besideTable: handle) { throw RedError(.duplicateCollection, "relation \"\(newName)\" already exists") }
        var schema = handle.schema
        let old = schema.indexes[position].name
        schema.indexes[position].name = newName
        for i in (schema.foreignKeys ?? []).indices where schema.foreignKeys![i].indexName == old { schema.foreignKeys![i].indexName = newName }
        return try store.setSchema(tx, handle, schema)
    }

    /// `RENAME CONSTRAINT old TO new`: a CHECK is renamed in place; a FOREIGN KEY here and in
    /// the referenced table's list of references; a PRIMARY KEY or UNIQUE constraint with its
    /// index, whose name it shares (so the new name must be free among relations too).
    func renameConstraint(_ old: String, to new: String, of handle: TableHandle, _ notes: inout [String]) throws -> TableHandle {
        var schema = handle.schema
        let taken = Set((schema.checks ?? []).map(\.name) + schema.indexes.filter(\.isConstraint).map(\.name) + (schema.foreignKeys ?? []).map(\.name))
        guard taken.contains(old) else { throw RedError(.undefinedObject, "constraint \"\(old)\" for table \"\(handle.name)\" does not exist") }
        guard old != new else { return handle }
        guard !taken.contains(new) else { throw RedError(.duplicateObject, "constraint \"\(new)\" for relation \"\(handle.name)\" already exists") }
        notes.append("constraint '\(old)' renamed to '\(new)'")
        if let i = schema.checks?.firstIndex(where: { $0.name == old }) {
            schema.checks![i].name = new
            return try store.setSchema(tx, handle, schema)
        }
        if let i = schema.foreignKeys?.firstIndex(where: { $0.name == old }) {
            schema.foreignKeys![i].name = new
            let reference = ForeignKeyReference(table: handle.name, constraint: old), renamed = ForeignKeyReference(table: handle.name, constraint: new)
            let parentName = schema.foreignKeys![i].referencedTable
            if parentName == handle.name {
                schema.referencedBy = schema.referencedBy?.map { $0 == reference ? renamed : $0 }
            } else if let parent = try store.open(tx, parentName, temporary: handle.isTemporary) {
                var parentSchema = parent.schema
                parentSchema.referencedBy = parentSchema.referencedBy?.map { $0 == reference ? renamed : $0 }
                _ = try store.setSchema(tx, parent, parentSchema)
            }
            return try store.setSchema(tx, handle, schema)
        }
        guard let i = schema.indexes.firstIndex(where: { $0.name == old && $0.isConstraint }) else {
            throw RedError(.undefinedObject, "constraint \"\(old)\" for table \"\(handle.name)\" does not exist")
        }
        return try renamingIndex(at: i, of: handle, to: new)
    }
}
