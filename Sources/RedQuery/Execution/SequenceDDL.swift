import RedCore
import RedEngine

/// CREATE / ALTER / DROP SEQUENCE, and the sequences identity and serial columns own.
///
/// Sequences share the relation namespace with tables and views, as in PostgreSQL: a
/// sequence and a table cannot both be called `t_id_seq`. Their definitions change inside
/// the DDL's transaction; their values do not (see `SequenceRegistry`).
extension DDLExecutor {
    var sequences: SequenceRegistry { store.sequences }

    func createSequence(_ name: String, ifNotExists: Bool, options: SequenceOptions) throws -> QueryResult {
        try Self.requirePermanentName(name, "sequence")
        if try exists(name) {
            if ifNotExists { return .message("relation \"\(name)\" already exists, skipping", type: "create", tag: "CREATE SEQUENCE") }
            throw RedError(.duplicateCollection, "relation \"\(name)\" already exists")
        }
        var definition = try options.definition(id: UInt64.random(in: 1...UInt64.max))
        if case .some(.some(let owner)) = options.ownedBy { definition.ownerTable = try requireOwnerColumn(owner, of: name).collection.name }
        if case .some(.none) = options.ownedBy { definition.ownerTable = nil }
        try sequences.store(tx, name, definition)
        return .message("sequence '\(name)' created", type: "create", tag: "CREATE SEQUENCE")
    }

    /// The stored name of the sequence a name a user wrote means: along the search path when it
    /// is unqualified (`SchemaCatalog.candidates`), the session's temporary ones as
    /// `SequenceRegistry.storedName` finds them.
    func resolvedSequence(_ given: String) throws -> String? {
        for candidate in SchemaCatalog.candidates(for: given, tx) {
            if let stored = try sequences.storedName(tx, candidate) { return stored }
        }
        return nil
    }

    func alterSequence(_ given: String, ifExists: Bool, options: SequenceOptions) throws -> QueryResult {
        guard let name = try resolvedSequence(given), var definition = try sequences.definition(tx, name) else {
            if ifExists { return .message("relation \"\(given)\" does not exist, skipping", type: "alter", tag: "ALTER SEQUENCE") }
            throw RedError(.undefinedCollection, "relation \"\(given)\" does not exist")
        }
        let owner = try options.ownedBy.flatMap { $0 }.map { try requireOwnerColumn($0, of: name) }
        try options.applied(to: &definition, creating: false)
        if let owner { definition.ownerTable = owner.collection.name }
        try sequences.store(tx, name, definition)
        return .message("sequence '\(given)' altered", type: "alter", tag: "ALTER SEQUENCE")
    }

    /// ALTER SEQUENCE s RENAME TO t. PostgreSQL's defaults name a sequence by OID, so they
    /// follow a rename; ours hold its name, so every column default that calls nextval on it
    /// (and an identity or serial column's link) is rewritten to the new name. Its values go on.
    func renameSequence(_ given: String, ifExists: Bool, to newName: String) throws -> QueryResult {
        if given.hasPrefix("__") { throw RedError(.undefinedCollection, "relation \"\(given)\" does not exist") }
        guard let name = try resolvedSequence(given), let definition = try sequences.definition(tx, name) else {
            if ifExists { return .message("relation \"\(given)\" does not exist, skipping", type: "alter", tag: "ALTER SEQUENCE") }
            throw try SchemaCatalog.missingSchema(in: given, tx) ?? RedError(.undefinedCollection, "relation \"\(given)\" does not exist")
        }
        if TemporaryNamespace.isTemporary(name) { throw RedError(.featureNotSupported, "a temporary table's sequence cannot be renamed") }
        guard !newName.hasPrefix("__"), !newName.contains(".") else { throw RedError(.invalidArgument, "a sequence cannot be renamed to \(newName)") }
        // It stays in its schema.
        let renamedName = SchemaCatalog.physicalName(newName, inSchema: try SchemaCatalog.split(name, tx).schema)
        if try exists(SchemaCatalog.exact(renamedName)) { throw RedError(.duplicateCollection, "relation \"\(newName)\" already exists") }
        try sequences.remove(tx, name)
        try sequences.store(tx, renamedName, definition)
        let calls = [Self.quotedForNextval(name), "public." + Self.quotedForNextval(name)].map { "nextval('\($0)'" }
        let renamed = "nextval('\(Self.quotedForNextval(renamedName))'"
        for handle in try store.listReachable(tx) where handle.schema.model == .table {
            var schema = handle.schema
            for i in schema.columns.indices {
                if schema.columns[i].sequence == name { schema.columns[i].sequence = renamedName }
                if var sql = schema.columns[i].defaultSQL, calls.contains(where: sql.contains) {
                    for call in calls { sql = sql.replacingOccurrences(of: call, with: renamed) }
                    schema.columns[i].defaultSQL = sql
                }
            }
            if schema.columns != handle.schema.columns { _ = try store.setSchema(tx, handle, schema, structural: false) }
        }
        return .message("sequence '\(name)' renamed to '\(newName)'", type: "alter", tag: "ALTER SEQUENCE")
    }

    func dropSequences(_ names: [String], ifExists: Bool, cascade: Bool) throws -> QueryResult {
        var dropped = 0
        var skipped: [String] = []
        for given in names {
            guard let name = try resolvedSequence(given), let definition = try sequences.definition(tx, name) else {
                if let missing = try SchemaCatalog.missingSchema(in: given, tx) {
                    guard ifExists else { throw missing }
                    skipped.append("\(missing.message), skipping")
                    continue
                }
                if ifExists {
                    skipped.append("sequence \"\(given)\" does not exist, skipping")
                    continue
                }
                throw RedError(.undefinedCollection, "sequence \"\(given)\" does not exist")
            }
            // A column drawing from it: an identity needs it (drop the column instead), a serial's
            // default depends on it (CASCADE drops the default).
            if let table = definition.ownerTable, let handle = try store.open(tx, SchemaCatalog.exact(table)),
               let position = handle.schema.columns.firstIndex(where: { $0.sequence == name }) {
                let column = handle.schema.columns[position]
                if column.identity != nil {
                    throw RedError(.dependentObjectsStillExist, "cannot drop sequence \(given) because column \(column.name) of table \(handle.name) requires it",
                                   detail: "You can drop column \(column.name) of table \(handle.name) instead.")
                }
                guard cascade else {
                    throw RedError(.dependentObjectsStillExist, "cannot drop sequence \(given) because other objects depend on it",
                                   detail: "default value for column \(column.name) of table \(handle.name) depends on sequence \(given)")
                }
                var schema = handle.schema
                schema.columns[position].defaultSQL = nil
                schema.columns[position].sequence = nil
                _ = try store.setSchema(tx, handle, schema, structural: false)
            }
            try sequences.remove(tx, name)
            dropped += 1
        }
        return .message("\(dropped) sequence\(dropped == 1 ? "" : "s") dropped", type: "drop", tag: "DROP SEQUENCE", notices: skipped)
    }

    /// The table `OWNED BY` names, which must have the column and be temporary exactly when the
    /// sequence `sequence` (its stored name) is, as PostgreSQL asks for one schema. The table's
    /// collection name is what the sequence records (a temporary table's is not its SQL name).
    @discardableResult
    private func requireOwnerColumn(_ owner: (table: String, column: String), of sequence: String) throws -> TableHandle {
        guard let handle = try store.open(tx, owner.table) else { throw RedError(.undefinedCollection, "relation \"\(owner.table)\" does not exist") }
        let sameSchema = try handle.isTemporary || SchemaCatalog.split(handle.name, tx).schema == SchemaCatalog.split(sequence, tx).schema
        guard handle.isTemporary == TemporaryNamespace.isTemporary(sequence), sameSchema else {
            throw RedError(.objectNotInPrerequisiteState, "sequence must be in same schema as table it is linked to")
        }
        guard handle.schema.column(named: owner.column) != nil else {
            throw RedError(.undefinedColumn, "column \"\(owner.column)\" of relation \"\(owner.table)\" does not exist")
        }
        return handle
    }

    // MARK: Columns that own a sequence

    /// Creates the sequence an identity or serial column draws from, named `<table>_<column>_seq`
    /// (with a number after it when that is taken, as PostgreSQL does), owned by the column.
    /// `table` is the owner's collection name: a temporary table's sequence is therefore named
    /// in its session's namespace too, and two sessions' `t_id_seq` do not collide.
    func createOwnedSequence(table: String, column: String, typeName: String, options: SequenceOptions) throws -> String {
        var options = options
        if options.typeName == nil { options.typeName = typeName }
        var definition = try options.definition(id: UInt64.random(in: 1...UInt64.max))
        definition.ownerTable = table
        definition.ownerColumn = column
        if let given = options.sequenceName.map(SchemaCatalog.canonical), try given != "\(table)_\(column)_seq" || exists(given) {
            throw RedError(.featureNotSupported, "SEQUENCE NAME \(given) is not supported: an identity column's sequence is named \(table)_\(column)_seq")
        }
        let name = try Self.firstFree("\(table)_\(column)_seq") { try exists($0) }
        try sequences.store(tx, name, definition)
        return name
    }

    /// The sequences owned by `table` (or by its column `column`), by name.
    func ownedSequences(of table: String, column: String? = nil) throws -> [(name: String, definition: SequenceDefinition)] {
        try sequences.all(tx).filter { $0.definition.ownerTable == table && (column == nil || $0.definition.ownerColumn == column) }
    }

    /// Drops the sequences `table` (or its column `column`) owns, with the table or column.
    func dropOwnedSequences(of table: String, column: String? = nil) throws {
        for (name, _) in try ownedSequences(of: table, column: column) { try sequences.remove(tx, name) }
    }

    /// TRUNCATE … RESTART IDENTITY: the sequences the table owns start again, in this transaction.
    func restartOwnedSequences(of table: String) throws {
        var restart = SequenceOptions()
        restart.restart = .some(nil)
        for (name, var definition) in try ownedSequences(of: table) {
            try restart.applied(to: &definition, creating: false)
            try sequences.store(tx, name, definition)
        }
    }

    /// Keeps `OWNED BY` pointing at a renamed table or column.
    func renameSequenceOwner(table: String, column: String? = nil, toTable newTable: String, column newColumn: String? = nil) throws {
        for (name, var definition) in try ownedSequences(of: table, column: column) {
            definition.ownerTable = newTable
            if let newColumn { definition.ownerColumn = newColumn }
            try sequences.store(tx, name, definition)
        }
    }

    /// An identity or serial column's sequence type: the column's declared integer width.
    static func sequenceType(_ spec: ColumnSpec) throws -> String {
        guard spec.type == .integer, spec.arrayElement == nil else {
            throw RedError(.invalidArgument, "identity column type must be smallint, integer, or bigint")
        }
        return spec.integerWidth ?? "bigint"
    }

    /// The column definition of `spec` in table `table`, its sequence created when it is an
    /// identity or serial column. 42601 for an identity with a DEFAULT too.
    /// `owner`: the table's collection name, which owns the sequence (a temporary table's is
    /// not its SQL name: `TableHandle.collection`); `table` when nil.
    func newColumn(_ spec: ColumnSpec, id: UInt16, table: String, owner: String? = nil) throws -> ColumnDefinition {
        var spec = spec
        try resolveNamedType(&spec)
        var column = ColumnDefinition(id: id, name: spec.name, type: spec.type, notNull: spec.notNull || spec.serial || spec.identity != nil,
                                      primaryKey: spec.primaryKey, unique: spec.unique, defaultSQL: spec.defaultSQL, serial: spec.serial)
        if !spec.enumVariants.isEmpty || spec.namedType != nil { column.enumVariants = spec.enumVariants }
        column.arrayElement = spec.arrayElement
        column.elementDeclared = spec.elementDeclared
        column.declared = spec.declared
        column.enumType = spec.namedType
        column.domain = spec.domain
        if let generated = spec.generatedSQL {
            if spec.defaultSQL != nil || spec.serial {
                throw RedError(.syntaxError, "both default and generation expression specified for column \"\(spec.name)\" of table \"\(table)\"")
            }
            if spec.identity != nil {
                throw RedError(.syntaxError, "both identity and generation expression specified for column \"\(spec.name)\" of table \"\(table)\"")
            }
            column.generatedSQL = generated
        }
        if let identity = spec.identity {
            if spec.defaultSQL != nil {
                throw RedError(.syntaxError, "both default and identity specified for column \"\(spec.name)\" of table \"\(table)\"")
            }
            if spec.serial { throw RedError(.syntaxError, "both default and identity specified for column \"\(spec.name)\" of table \"\(table)\"") }
            column.sequence = try createOwnedSequence(table: owner ?? table, column: spec.name, typeName: try Self.sequenceType(spec), options: spec.identityOptions)
            column.identity = identity.rawValue
        } else if spec.serial {
            if spec.defaultSQL != nil {
                throw RedError(.syntaxError, "multiple default values specified for column \"\(spec.name)\" of table \"\(table)\"")
            }
            let sequence = try createOwnedSequence(table: owner ?? table, column: spec.name, typeName: try Self.sequenceType(spec), options: SequenceOptions())
            column.sequence = sequence
            // A temporary table's sequence by its stored name, which nothing else can mean.
            column.defaultSQL = "nextval('\(Self.quotedForNextval(sequence))'::regclass)"
        }
        return column
    }

    /// A sequence name as nextval's text argument spells it (`"Mixed_Case"` quoted).
    /// A sequence's name as nextval's text argument: `s`, `"S"`, `app.s` for one in a schema.
    static func quotedForNextval(_ name: String) -> String {
        let qualified = TemporaryNamespace.isTemporary(name) ? nil : name.firstIndex(of: ".").map { quotedIdentifier(String(name[..<$0])) + "." + quotedIdentifier(String(name[name.index(after: $0)...])) }
        return (qualified ?? quotedIdentifier(name)).replacingOccurrences(of: "'", with: "''")
    }

    /// `name` as an identifier: as it is when lower-case letters, digits and `_` (not first a
    /// digit), else in double quotes.
    static func quotedIdentifier(_ name: String) -> String {
        let plain = name.allSatisfy { ($0.isLetter && $0.isLowercase) || $0.isNumber || $0 == "_" } && !(name.first?.isNumber ?? true)
        return plain ? name : "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
