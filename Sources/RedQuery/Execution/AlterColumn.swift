import RedCore
import RedEngine

/// `ALTER TABLE t ALTER [COLUMN] c …`: defaults, NOT NULL and identity, as PostgreSQL
/// changes them (migrations from Django, Rails, Alembic or Prisma emit these).
extension DDLExecutor {
    func alterColumn(_ handle: TableHandle, _ name: String, _ change: ColumnAlteration, _ notes: inout [String]) throws -> TableHandle {
        var schema = handle.schema
        guard let position = schema.columns.firstIndex(where: { $0.name == name }) else {
            throw RedError(.undefinedColumn, "column \"\(name)\" of relation \"\(handle.name)\" does not exist")
        }
        let column = schema.columns[position]
        func identityError() -> RedError {
            RedError(.syntaxError, "column \"\(name)\" of relation \"\(handle.name)\" is an identity column",
                     detail: "Use ALTER TABLE ... ALTER COLUMN ... DROP IDENTITY instead.")
        }
        switch change {
        case .setDefault(let sql):
            if column.identity != nil { throw identityError() }
            if let sql {
                var parser = try Parser(sql)
                _ = try parser.parseExpression()
                schema.columns[position].defaultSQL = sql
                // Rows already there keep their values; the default is checked against the type now.
                var defaults = DefaultValues(planner: Planner(context: context), context: context)
                if !Self.callsSequenceFunction(sql) { _ = try defaults.value(for: schema.columns[position], handle: handle) }
                notes.append("column '\(name)' default set")
            } else {
                schema.columns[position].defaultSQL = nil
                notes.append("column '\(name)' default dropped")
            }
            return try store.setSchema(tx, handle, schema, structural: false)
        case .setNotNull(let on):
            if on {
                guard !column.notNull else { return handle }
                let cursor = try store.scan(tx, handle)
                while let row = try cursor.next() {
                    if row.isVisible(at: context.now), (row.values[column.id] ?? .null).isNull {
                        throw RedError(.notNullViolation, "column \"\(name)\" of relation \"\(handle.name)\" contains null values")
                    }
                }
                schema.columns[position].notNull = true
                notes.append("column '\(name)' set not null")
            } else {
                if schema.isPrimaryKey(column) {
                    throw RedError(.invalidTableDefinition, "column \"\(name)\" is in a primary key")
                }
                if column.identity != nil { throw RedError(.syntaxError, "column \"\(name)\" of relation \"\(handle.name)\" is an identity column") }
                schema.columns[position].notNull = false
                notes.append("column '\(name)' drop not null")
            }
            return try store.setSchema(tx, handle, schema)
        case .addIdentity(let generation, let options):
            guard column.type == .integer, column.arrayElement == nil else {
                throw RedError(.invalidArgument, "identity column type must be smallint, integer, or bigint")
            }
            guard column.notNull else {
                throw RedError(.objectNotInPrerequisiteState, "column \"\(name)\" of relation \"\(handle.name)\" must be declared NOT NULL before identity can be added")
            }
            if column.identity != nil {
                throw RedError(.objectNotInPrerequisiteState, "column \"\(name)\" of relation \"\(handle.name)\" is already an identity column")
            }
            if column.defaultSQL != nil {
                throw RedError(.objectNotInPrerequisiteState, "column \"\(name)\" of relation \"\(handle.name)\" already has a default value")
            }
            // As in PostgreSQL, the new sequence starts at its START whatever the rows hold.
            schema.columns[position].sequence = try createOwnedSequence(table: handle.name, column: name, typeName: "bigint", options: options)
            schema.columns[position].identity = generation.rawValue
            notes.append("column '\(name)' identity added")
            return try store.setSchema(tx, handle, schema, structural: false)
        case .setIdentity(let alteration):
            guard column.identity != nil, let sequence = column.sequence, var definition = try sequences.definition(tx, sequence) else {
                throw RedError(.objectNotInPrerequisiteState, "column \"\(name)\" of relation \"\(handle.name)\" is not an identity column")
            }
            if alteration.options != SequenceOptions() {
                try alteration.options.applied(to: &definition, creating: false)
                try sequences.store(tx, sequence, definition)
            }
            if let generation = alteration.generation { schema.columns[position].identity = generation.rawValue }
            notes.append("column '\(name)' identity altered")
            return try store.setSchema(tx, handle, schema, structural: false)
        case .dropIdentity(let ifExists):
            guard column.identity != nil else {
                if ifExists {
                    notes.append("column \"\(name)\" of relation \"\(handle.name)\" is not an identity column, skipping")
                    return handle
                }
                throw RedError(.objectNotInPrerequisiteState, "column \"\(name)\" of relation \"\(handle.name)\" is not an identity column")
            }
            if let sequence = column.sequence { try sequences.remove(tx, sequence) }
            schema.columns[position].identity = nil
            schema.columns[position].sequence = nil
            notes.append("column '\(name)' identity dropped")
            return try store.setSchema(tx, handle, schema, structural: false)
        case .setType:
            throw RedError(.featureNotSupported, "ALTER COLUMN … TYPE is not supported yet; add a new column, copy the values with UPDATE, and drop the old one")
        }
    }

    /// A default that draws from a sequence is not tried out when it is set: trying would take a value.
    static func callsSequenceFunction(_ sql: String) -> Bool {
        let lowered = sql.lowercased()
        return lowered.contains("nextval") || lowered.contains("setval")
    }
}
