import RedCore
import RedEngine

/// CREATE, DROP and ALTER SCHEMA (`SchemaCatalog`): a schema is a catalog record, and what it
/// holds is every table, view and sequence whose name starts with `<schema>.`.
extension DDLExecutor {
    /// Relations named in `schema` (`app.…`), as dropping or renaming it finds them.
    struct SchemaContents {
        var tables: [TableHandle] = []
        var views: [String] = []
        var sequences: [String] = []
        var isEmpty: Bool { tables.isEmpty && views.isEmpty && sequences.isEmpty }
        var names: [String] { tables.map(\.name) + views + sequences }
        /// What PostgreSQL's DETAIL lists: `table app.t`, `view app.v`, `sequence app.s`.
        var described: [String] {
            tables.map { "\($0.schema.materializedQuery == nil ? "table" : "materialized view") \($0.name)" } + views.map { "view \($0)" }
                + sequences.map { "sequence \($0)" }
        }
    }

    func schemaContents(_ schema: String) throws -> SchemaContents {
        let prefix = schema + "."
        var contents = SchemaContents()
        contents.tables = try store.list(tx).filter { $0.name.hasPrefix(prefix) }
        contents.views = try ViewCatalog.all(tx).map(\.name).filter { $0.hasPrefix(prefix) }
        // A table's own sequences go with it (PostgreSQL does not list them either).
        contents.sequences = try store.sequences.all(tx).filter { $0.name.hasPrefix(prefix) && $0.definition.ownerTable == nil }.map(\.name)
        return contents
    }

    func createSchema(_ name: String, ifNotExists: Bool, owner: String?) throws -> QueryResult {
        if try SchemaCatalog.exists(name, tx) {
            guard ifNotExists else { throw RedError(.duplicateObject, "schema \"\(name)\" already exists", condition: "42P06") }
            return .message("schema \"\(name)\" already exists, skipping", type: "create", tag: "CREATE SCHEMA")
        }
        // A relation named `name.…` before the schema existed would become one of its own.
        if let clash = try schemaContents(name).names.first {
            throw RedError(.duplicateObject, "schema \"\(name)\" cannot be created: relation \"\(clash)\" already has its name",
                           detail: "Rename or drop that relation first.", condition: "42P06")
        }
        try SchemaCatalog.create(name, owner: owner, tx)
        return .message("CREATE SCHEMA", type: "create", tag: "CREATE SCHEMA")
    }

    /// DROP SCHEMA: RESTRICT (the default) refuses a schema holding anything (2BP01); CASCADE
    /// drops its views, then its tables (with their indexes, owned sequences and the foreign
    /// keys other tables hold on them), then its other sequences.
    func dropSchemas(_ names: [String], ifExists: Bool, cascade: Bool) throws -> QueryResult {
        var notices: [String] = []
        for name in names {
            guard !SchemaCatalog.builtIn.contains(name) else {
                throw RedError(.dependentObjectsStillExist, "cannot drop schema \(name) because the database system requires it", condition: "2BP01")
            }
            guard try SchemaCatalog.exists(name, tx) else {
                guard ifExists else { throw RedError(.undefinedObject, "schema \"\(name)\" does not exist", condition: "3F000") }
                notices.append("schema \"\(name)\" does not exist, skipping")
                continue
            }
            let contents = try schemaContents(name)
            if !contents.isEmpty {
                guard cascade else {
                    throw RedError(.dependentObjectsStillExist, "cannot drop schema \(name) because other objects depend on it",
                                   detail: contents.described.prefix(100).map { "\($0) depends on schema \(name)" }.joined(separator: "\n"), condition: "2BP01")
                }
                for view in contents.views where try ViewCatalog.definition(of: view, tx) != nil {
                    _ = try execute(.dropView(name: view, ifExists: true, cascade: true))
                }
                let tables = try schemaContents(name).tables
                let previous = context.refreshingMaterializedView
                defer { context.refreshingMaterializedView = previous }
                for table in tables {
                    context.refreshingMaterializedView = table.schema.materializedQuery == nil ? previous : table.name
                    _ = try execute(.dropTable(names: [table.name], ifExists: true, kind: "collection", cascade: true))
                }
                for sequence in try store.sequences.all(tx) where sequence.name.hasPrefix(name + ".") { try store.sequences.remove(tx, sequence.name) }
            }
            try SchemaCatalog.remove(name, tx)
        }
        return .message("DROP SCHEMA", type: "drop", tag: "DROP SCHEMA", notices: notices)
    }

    /// ALTER SCHEMA … RENAME TO: only an empty schema, since views keep the queries they were
    /// written with, which name the schema.
    func renameSchema(_ name: String, to newName: String) throws -> QueryResult {
        guard !SchemaCatalog.builtIn.contains(name) else {
            throw RedError(.featureNotSupported, "schema \(name) cannot be renamed")
        }
        guard let existing = try SchemaCatalog.all(tx).first(where: { $0.name == name }) else {
            throw RedError(.undefinedObject, "schema \"\(name)\" does not exist", condition: "3F000")
        }
        guard try schemaContents(name).isEmpty else {
            throw RedError(.featureNotSupported, "renaming schema \"\(name)\", which holds relations, is not supported; rename it while it is empty")
        }
        _ = try createSchema(newName, ifNotExists: false, owner: existing.owner)
        try SchemaCatalog.remove(name, tx)
        return .message("ALTER SCHEMA", type: "alter", tag: "ALTER SCHEMA")
    }
}
