import RedCore
import RedEngine

/// `CREATE TABLE t (LIKE source [INCLUDING …], …)`, as PostgreSQL copies a table's shape:
/// always the columns' names, types (declared widths included) and NOT NULL; with
/// `INCLUDING DEFAULTS` their defaults (a serial's `nextval` keeps drawing from the source's
/// sequence, as in PostgreSQL), `GENERATED` their generation expressions, `IDENTITY` identity
/// columns (each with a sequence of its own), `CONSTRAINTS` the CHECK constraints (under their
/// names), `INDEXES` the primary key, unique constraints and other indexes (named after the
/// new table), `COMMENTS` the column comments; `ALL` is every one. Foreign keys never come along.
/// STATISTICS, STORAGE and COMPRESSION have nothing to copy here.
extension DDLExecutor {
    /// What is made after the table exists: the indexes that are not constraints, and comments.
    struct LikedParts {
        var indexes: [(keys: [IndexKeySpec], unique: Bool, method: String, predicate: String?)] = []
        var comments: [String: String] = [:]
    }

    /// Puts each LIKE's columns at its place among `specs`, and its keys and checks with the others'.
    func expand(_ likes: [TableLike], into specs: inout [ColumnSpec], keys: inout [KeySpec], checks: inout [CheckSpec]) throws -> LikedParts {
        var parts = LikedParts()
        var inserted = 0
        for like in likes {
            guard let source = try store.open(tx, like.table) else {
                throw RedError(.undefinedCollection, "relation \"\(like.table)\" does not exist")
            }
            guard source.schema.model == .table else {
                throw RedError(.invalidOperation, "\"\(like.table)\" is a \(source.schema.model.rawValue) collection, not a table")
            }
            let schema = source.schema
            var copied: [ColumnSpec] = []
            for column in schema.columns {
                var spec = ColumnSpec(name: column.name, type: column.type)
                spec.notNull = column.notNull || column.primaryKey
                spec.declared = column.declared
                spec.arrayElement = column.arrayElement
                spec.elementDeclared = column.elementDeclared
                spec.enumVariants = column.enumVariants ?? []
                spec.namedType = column.domain ?? column.enumType
                if like.including.contains(.defaults), column.identity == nil, column.generatedSQL == nil { spec.defaultSQL = column.defaultSQL }
                if like.including.contains(.generated) { spec.generatedSQL = column.generatedSQL }
                if like.including.contains(.identity), let identity = column.identity {
                    spec.identity = IdentityGeneration(rawValue: identity)
                    spec.integerWidth = DeclaredType.integerTypeName(column.declared)
                }
                if like.including.contains(.comments), let comment = column.comment { parts.comments[column.name] = comment }
                copied.append(spec)
            }
            specs.insert(contentsOf: copied, at: like.position + inserted)
            inserted += copied.count
            if like.including.contains(.constraints) {
                checks += (schema.checks ?? []).map { CheckSpec(name: $0.name, sql: $0.sql) }
            }
            if like.including.contains(.indexes) {
                func names(_ index: IndexDefinition) -> [String] { index.columnIDs.compactMap { id in schema.columns.first { $0.id == id }?.name } }
                for index in schema.indexes {
                    let isPrimary = index.primaryKey == true || (index.isConstraint && index.columnIDs.count == 1
                        && schema.columns.first { $0.id == index.columnIDs[0] }?.primaryKey == true)
                    if index.isConstraint {
                        keys.append(KeySpec(name: nil, columns: names(index), primary: isPrimary))
                    } else {
                        let keyParts = index.columnIDs.enumerated().map { i, id -> IndexKeySpec in
                            if let expression = index.expressions?[i] { return .expression(expression) }
                            return .column(schema.columns.first { $0.id == id }?.name ?? "")
                        }
                        parts.indexes.append((keyParts, index.unique, index.method.rawValue, index.predicate))
                    }
                }
            }
        }
        return parts
    }

    func finishLike(_ parts: LikedParts, _ handle: TableHandle) throws {
        for index in parts.indexes {
            _ = try createIndex(nil, on: handle.exactName, keys: index.keys, unique: index.unique, method: index.method, ifNotExists: false,
                                predicate: index.predicate)
        }
        guard !parts.comments.isEmpty, let current = try store.open(tx, handle.exactName) else { return }
        var schema = current.schema
        for i in schema.columns.indices { schema.columns[i].comment = parts.comments[schema.columns[i].name] ?? schema.columns[i].comment }
        _ = try store.setSchema(tx, current, schema, structural: false)
    }
}
