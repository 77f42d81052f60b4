import RedCore
import RedEngine

/// `COMMENT ON`: a description kept with the object's own definition (the table's schema,
/// its column or index there, the sequence's catalog record), so it changes with the
/// transaction, goes when the object goes and follows a rename. PG-wire shows them through
/// `pg_description`, `obj_description` and `col_description` (psql's `\d+`, `\dt+`).
extension DDLExecutor {
    func comment(on target: CommentTarget, _ text: String?) throws -> QueryResult {
        switch target {
        case .notKept:
            break
        case .schema(let name):
            guard try SchemaCatalog.exists(name, tx) else { throw RedError(.undefinedObject, "schema \"\(name)\" does not exist", condition: "3F000") }
        case .table(let name):
            let handle = try table(name)
            var schema = handle.schema
            schema.comment = text
            _ = try store.setSchema(tx, handle, schema, structural: false)
        case .column(let tableName, let columnName):
            let handle = try table(tableName)
            var schema = handle.schema
            guard let position = schema.columns.firstIndex(where: { $0.name == columnName }) else {
                throw RedError(.undefinedColumn, "column \"\(columnName)\" of relation \"\(tableName)\" does not exist")
            }
            schema.columns[position].comment = text
            _ = try store.setSchema(tx, handle, schema, structural: false)
        case .index(let given):
            let name = try SchemaCatalog.localName(given, tx)
            guard let handle = try findIndex(given), let position = handle.schema.indexes.firstIndex(where: { $0.name == name }) else {
                throw RedError(.undefinedCollection, "relation \"\(name)\" does not exist")
            }
            var schema = handle.schema
            schema.indexes[position].comment = text
            _ = try store.setSchema(tx, handle, schema, structural: false)
        case .sequence(let name):
            guard var definition = try sequences.definition(tx, name) else {
                throw RedError(.undefinedCollection, "relation \"\(name)\" does not exist")
            }
            definition.comment = text
            try sequences.store(tx, name, definition)
        case .function(let reference):
            guard let (found, index) = try lookUpFunction(reference, ifExists: false) else { break }
            var functions = found
            functions[index].comment = text
            try FunctionCatalog.store(reference.name, functions, tx)
        }
        return .message(text == nil ? "comment removed" : "comment set", type: "comment", tag: "COMMENT")
    }
}
