import RedCore
import RedEngine

/// How DDL finds what a name a user wrote means (`SchemaCatalog`): a relation that exists, the
/// table behind it, the table holding an index, and the stored name a new relation gets.
/// Unqualified names go along the session's search path after its temporary tables; a
/// qualified one (`app.t`, `public.t`) means exactly that relation.
extension DDLExecutor {
    /// A permanent table, collection, view or sequence is called `name` (they share one
    /// namespace; a session's temporary tables have their own, as `pg_temp` in PostgreSQL).
    func exists(_ name: String) throws -> Bool {
        try store.open(tx, name, temporary: false) != nil || ViewCatalog.definition(of: name, tx) != nil || sequences.definition(tx, name) != nil
    }

    /// The table a name a user wrote means, as `TableStore.open` finds it; but where a view or
    /// sequence of that name sits in a schema before the table's on the search path, the name
    /// means that one, which is no table (PostgreSQL's 42809).
    func openTable(_ name: String) throws -> TableHandle? {
        guard let handle = try store.open(tx, name) else { return nil }
        guard !handle.isTemporary, !name.contains("."), tx.searchPath != nil else { return handle }
        for candidate in SchemaCatalog.candidates(for: name, tx) {
            if candidate == handle.name { break }
            if try ViewCatalog.definition(of: candidate, tx) != nil || sequences.definition(tx, candidate) != nil {
                throw RedError(.invalidOperation, "\"\(name)\" is not a table", condition: "42809")
            }
        }
        return handle
    }

    /// The name a new permanent relation gets: in the schema it names, or the search path's
    /// first (`SchemaCatalog.creationName`). A temporary table's is its own.
    func newRelationName(_ name: String) throws -> String {
        context.creatingTemporary || name.hasPrefix(TemporaryNamespace.qualifier) ? name : try SchemaCatalog.creationName(for: name, tx)
    }

    func table(_ name: String) throws -> TableHandle {
        guard let handle = try openTable(name) else {
            throw try SchemaCatalog.missingSchema(in: name, tx) ?? RedError(.undefinedCollection, "relation \"\(name)\" does not exist")
        }
        return handle
    }

    /// The table with the index a name a user wrote means. Index names are their table's
    /// schema's, as in PostgreSQL: `app.i` is searched in schema `app` (`public.i` in public),
    /// a bare `i` among the session's temporary tables and then along the search path.
    func findIndex(_ written: String) throws -> TableHandle? {
        var schema: String?
        var local = written
        if let dot = written.firstIndex(of: ".") {
            let prefix = String(written[..<dot])
            if try prefix == "pg_temp" || SchemaCatalog.exists(prefix, tx) { (schema, local) = (prefix, String(written[written.index(after: dot)...])) }
        }
        let holding = try store.listReachable(tx).filter { $0.schema.indexes.contains { $0.name == local } }
        func schemaOf(_ handle: TableHandle) throws -> String { handle.isTemporary ? "pg_temp" : try SchemaCatalog.split(handle.name, tx).schema }
        if let schema { return try holding.first { try schemaOf($0) == schema } }
        if let temporary = holding.first(where: \.isTemporary) { return temporary }
        for schema in SchemaCatalog.lookupSchemas(tx) {
            if let found = try holding.first(where: { try schemaOf($0) == schema }) { return found }
        }
        return nil
    }

    /// Whether a new index or constraint of `handle` may not be called `name`: a relation or an
    /// index of that name is in the table's schema already.
    func nameTaken(_ name: String, besideTable handle: TableHandle) throws -> Bool {
        let schema = handle.isTemporary ? "pg_temp" : try SchemaCatalog.split(handle.name, tx).schema
        return try findIndex("\(schema).\(name)") != nil || exists(handle.isTemporary ? name : SchemaCatalog.exact(SchemaCatalog.physicalName(name, inSchema: schema)))
    }
}
