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
        /// DROP IDENTITY / DROP EXPRESSION on a column that is not `what`: a NOTICE under IF EXISTS, else 55000.
        func notApplicable(_ what: String, ifExists: Bool) throws -> TableHandle {
            let message = "column \"\(name)\" of relation \"\(handle.name)\" is not \(what)"
            guard ifExists else { throw RedError(.objectNotInPrerequisiteState, message) }
            notes.append(message + ", skipping")
            return handle
        }
        func identityError() -> RedError {
            RedError(.syntaxError, "column \"\(name)\" of relation \"\(handle.name)\" is an identity column",
                     detail: "Use ALTER TABLE ... ALTER COLUMN ... DROP IDENTITY instead.")
        }
        switch change {
        case .setDefault(let sql):
            if column.identity != nil { throw identityError() }
            if column.generatedSQL != nil {
                throw RedError(.syntaxError, "column \"\(name)\" of relation \"\(handle.name)\" is a generated column")
            }
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
            schema.columns[position].sequence = try createOwnedSequence(table: handle.collection.name, column: name, typeName: DeclaredType.integerTypeName(column.declared),
                                                                        options: options)
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
            guard column.identity != nil else { return try notApplicable("an identity column", ifExists: ifExists) }
            if let sequence = column.sequence { try sequences.remove(tx, sequence) }
            schema.columns[position].identity = nil
            schema.columns[position].sequence = nil
            notes.append("column '\(name)' identity dropped")
            return try store.setSchema(tx, handle, schema, structural: false)
        case .dropExpression(let ifExists):
            guard column.generatedSQL != nil else { return try notApplicable("a stored generated column", ifExists: ifExists) }
            schema.columns[position].generatedSQL = nil
            notes.append("column '\(name)' expression dropped")
            return try store.setSchema(tx, handle, schema)
        case .setType(let type, let element, let variants, let declared, let namedType, let using):
            // A named type resolves as a new column's does: an enum type, a domain, or RedDB's own.
            var spec = ColumnSpec(name: column.name, type: type)
            spec.arrayElement = element
            if element == nil { spec.declared = declared } else { spec.elementDeclared = declared?.forArrayElements }
            spec.enumVariants = variants
            spec.namedType = namedType
            try resolveNamedType(&spec)
            return try changeType(handle, position, to: spec.type, element: spec.arrayElement, variants: spec.enumVariants,
                                  declared: spec.arrayElement == nil ? spec.declared : spec.elementDeclared, enumType: spec.namedType,
                                  domain: spec.domain, using: using, &notes)
        }
    }

    /// `ALTER COLUMN c TYPE t [USING expression]`. A change the stored values need not follow
    /// (`varchar(100)` to `varchar(200)`, `int` to `bigint`) only changes the schema; any other
    /// rewrites every row, through `USING` when given, else by the type's coercion, which
    /// PostgreSQL allows only where an assignment cast exists (42804 otherwise: numbers among
    /// themselves, anything to text). Indexes follow the new values; CHECK constraints are
    /// checked again, and a domain's (`domain`: the column's new type is one) on every value.
    func changeType(_ handle: TableHandle, _ position: Int, to type: DataType, element: DataType?, variants: [String], declared: DeclaredType?,
                    enumType: String? = nil, domain: String? = nil, using: String?, _ notes: inout [String]) throws -> TableHandle {
        var schema = handle.schema
        let column = schema.columns[position]
        var changed = column
        // An array's declaration is its elements' (`int4[]`), kept apart.
        let (declared, elementDeclared) = element == nil ? (declared, nil) : (nil, declared?.forArrayElements)
        changed.type = type
        changed.declared = declared
        changed.elementDeclared = elementDeclared
        changed.enumType = enumType
        changed.domain = domain
        changed.arrayElement = element.flatMap { [.any, .array, .json, .vector].contains($0) ? nil : $0 }
        if type == .enumeration {
            guard !variants.isEmpty || enumType != nil else { throw RedError(.syntaxError, "ENUM needs its variants: ENUM('a', 'b', …)") }
            changed.enumVariants = variants
        } else {
            changed.enumVariants = nil
        }
        if column.identity != nil || column.sequence != nil, type != .integer {
            throw RedError(.invalidArgument, "identity column type must be smallint, integer, or bigint")
        }
        if let view = try viewsReading(handle, column: column.name).first {
            throw RedError(.featureNotSupported, "cannot alter type of a column used by a view or rule",
                           detail: "view \(view) depends on column \"\(column.name)\"")
        }
        if let reader = GeneratedColumns.readers(of: column.name, in: schema, table: handle.name, planner: Planner(context: context)).first {
            throw RedError(.featureNotSupported, "cannot alter type of a column used by a generated column",
                           detail: "Column \"\(column.name)\" is used by generated column \"\(reader.name)\".")
        }
        notes.append("column '\(column.name)' type changed")
        if changed == column, using == nil { return handle }
        var widened = column
        widened.declared = changed.declared
        if widened == changed, using == nil, DeclaredType.widens(from: column.declared, to: changed.declared) {
            // `varchar(100)` to `varchar(200)`, `integer` to `bigint`: every stored value still fits.
            schema.columns[position] = changed
            return try store.setSchema(tx, handle, schema, structural: false)
        }
        let inForeignKey = try (schema.foreignKeys ?? []).contains { $0.columnIDs.contains(column.id) }
            || ((schema.referencedBy ?? []).contains { reference in
                try store.open(tx, reference.table, temporary: handle.isTemporary)?.schema.foreignKeys?.contains {
                    $0.name == reference.constraint && $0.referencedTable == handle.name && $0.referencedColumnIDs.contains(column.id)
                } == true
            })
        if inForeignKey, changed.type != column.type {
            throw RedError(.featureNotSupported, "cannot change the type of column \"\(column.name)\": a foreign key constraint uses it; drop the constraint first")
        }
        let numbers: Set<DataType> = [.integer, .float, .decimal, .unsigned, .money]
        let assignable = changed.type == column.type || type == .text || (numbers.contains(column.type) && numbers.contains(type))
        if using == nil, !assignable {
            throw RedError(.datatypeMismatch, "column \"\(column.name)\" cannot be cast automatically to type \(type.rawValue)",
                           detail: "You might need to specify \"USING \(column.name)::\(type.rawValue)\".")
        }
        let planner = Planner(context: context)
        let conversion = try using.map { try CheckConstraints.bind($0, columns: handle.schema.columns, table: handle.name, planner: planner) }
        let domainRules = try domain.flatMap { name in try DomainCatalog.definition(of: name, tx).map { try DomainRules(name, $0, type: type, planner: planner) } }
        schema.columns[position] = changed
        var updated = try store.setSchema(tx, handle, schema)
        let eval = context.evaluation([])
        var rewrites: [(StoredRow, StoredRow)] = []
        let cursor = try store.scan(tx, handle)
        while let row = try cursor.next() {
            let old = row.values[column.id] ?? .null
            let source = try conversion.map { try eval.evaluate($0, handle.schema.columns.map { row.values[$0.id] ?? .null }) } ?? old
            let value: Value
            do { value = try changed.coerce(source) } catch let error as RedError {
                throw RedError(error.code, "\(error.message) (column \"\(column.name)\" of relation \"\(handle.name)\")", detail: error.detail,
                               condition: error.condition)
            }
            if value.isNull, changed.notNull, row.isVisible(at: context.now) {
                throw RedError(.notNullViolation, "column \"\(column.name)\" of relation \"\(handle.name)\" contains null values")
            }
            if let domainRules, row.isVisible(at: context.now) { try domainRules.verify(value, context) }
            var new = row
            new.values[column.id] = value.isNull ? nil : value
            rewrites.append((row, new))
            try context.checkMaterialized(rewrites.count, "ALTER COLUMN … TYPE")
        }
        for (old, new) in rewrites { try store.update(tx, updated, old: old, new: new, now: context.now) }
        // An expression or partial index over the column computed the old rows' entries from
        // values of the old type: built again from the rewritten rows.
        for index in updated.schema.indexes where !index.isPlain
            && IndexExpressions.reads(index, column: column.name, columns: updated.schema.columns, table: handle.name, planner: planner) {
            updated = try store.rebuildIndex(tx, updated, named: index.name, now: context.now)
        }
        if let checks = updated.schema.checks, !checks.isEmpty { try verifyExistingRows(updated, names: Set(checks.map(\.name))) }
        return updated
    }

    /// A default that draws from a sequence is not tried out when it is set: trying would take a value.
    static func callsSequenceFunction(_ sql: String) -> Bool {
        let lowered = sql.lowercased()
        return lowered.contains("nextval") || lowered.contains("setval")
    }
}
