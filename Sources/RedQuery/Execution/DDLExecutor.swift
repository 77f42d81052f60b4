import RedCore
import RedEngine

/// CREATE / DROP / ALTER / TRUNCATE, indexes, views, VACUUM and SHOW.
///
/// DDL runs in the statement's transaction like any write, so a failed or
/// rolled-back CREATE leaves nothing behind.
struct DDLExecutor {
    let context: ExecutionContext
    var store: TableStore { context.store }
    var tx: Transaction { context.transaction }

    /// A table's column may not be called so: `rid` is every row's id. (Upstream reserves
    /// `created_at` and `updated_at` too; here a table may declare them, as Rails, Laravel and
    /// many schemas do, and its own columns then answer to those names — see
    /// `TableScanNode.columns(of:qualifier:)`.)
    static let reservedColumnNames: Set<String> = ["rid"]
    static let maxColumns = 1600
    /// CHECK constraints per table: each is evaluated on every write, and naming one scans the others.
    static let maxChecks = 1_000

    func execute(_ statement: Statement) throws -> QueryResult {
        if !context.tablesInUse.isEmpty { try refuseTablesInUse(statement) }
        switch statement {
        case .createTable(let given, let ifNotExists, var specs, var keys, var tableChecks, let foreignKeys, let appendOnly, let ttl, let likes):
            let name = try newRelationName(given)
            if try nameTaken(name) {
                if ifNotExists { return .message("relation \"\(name)\" already exists, skipping", type: "create", tag: "CREATE TABLE") }
                throw RedError(.duplicateCollection, "relation \"\(name)\" already exists")
            }
            let liked = try likes.isEmpty ? nil : expand(likes, into: &specs, keys: &keys, checks: &tableChecks)
            guard !specs.isEmpty, specs.count <= Self.maxColumns else { throw RedError(.limitExceeded, "tables have 1 to \(Self.maxColumns) columns") }
            var columns: [ColumnDefinition] = []
            for (i, spec) in specs.enumerated() {
                try validateNewColumn(spec, existing: columns)
                columns.append(try newColumn(spec, id: UInt16(i + 1), table: name, owner: try newTableOwner(name)))
            }
            guard columns.filter(\.primaryKey).count + keys.filter(\.primary).count <= 1 else {
                throw RedError(.invalidTableDefinition, "multiple primary keys for table \"\(name)\" are not allowed")
            }
            let planner = Planner(context: context)
            for column in columns {
                if let sql = column.generatedSQL { try GeneratedColumns.validate(sql, column: column.name, columns: columns, table: name, planner: planner) }
            }
            var schema = CollectionSchema(model: .table, columns: columns, appendOnly: appendOnly, defaultTTLMilliseconds: ttl)
            try addChecks(specs.flatMap(\.checks) + tableChecks, to: &schema, table: name)
            var handle = try store.create(tx, name, schema: schema, temporary: context.creatingTemporary)
            for key in keys { handle = try addKey(key, to: handle) }
            var notes: [String] = []
            for fk in foreignKeys { handle = try addForeignKey(fk, to: handle, validate: false, notes: &notes) }
            if let liked { try finishLike(liked, handle) }
            return .message("table '\(name)' created", type: "create", tag: "CREATE TABLE")
        case .createCollection(let name, let model, let ifNotExists):
            if try exists(name) {
                if ifNotExists { return .message("relation \"\(name)\" already exists, skipping", type: "create", tag: "CREATE") }
                throw RedError(.duplicateCollection, "relation \"\(name)\" already exists")
            }
            let schemaModel: CollectionSchema.Model = model == .kv ? .kv : model == .node ? .graph : .document
            _ = try store.create(tx, name, schema: CollectionSchema(model: schemaModel))
            return .message("\(schemaModel.rawValue) '\(name)' created", type: "create", tag: "CREATE")
        case .createVector(let name, let ifNotExists, let dimension, let metric):
            if try exists(name) {
                if ifNotExists { return .message("relation \"\(name)\" already exists, skipping", type: "create", tag: "CREATE VECTOR") }
                throw RedError(.duplicateCollection, "relation \"\(name)\" already exists")
            }
            var schema = CollectionSchema(model: .vector)
            schema.vector = CollectionSchema.VectorSettings(dimension: dimension, metric: metric ?? .cosine)
            _ = try store.create(tx, name, schema: schema)
            return .message("vector '\(name)' created", type: "create", tag: "CREATE VECTOR")
        case .dropTable(let names, let ifExists, let kind, let cascade):
            var dropped = 0
            var skipped: [String] = []
            let dropping = Set(try names.compactMap { try openTable($0)?.collection.name })
            for name in names {
                guard let handle = try openTable(name) else {
                    if try ViewCatalog.definition(of: name, tx) != nil {
                        throw RedError(.invalidOperation, "\"\(name)\" is not a \(kind); use DROP VIEW")
                    }
                    if let missing = try SchemaCatalog.missingSchema(in: name, tx) {
                        guard ifExists else { throw missing }
                        skipped.append("\(missing.message), skipping")
                        continue
                    }
                    if ifExists {
                        skipped.append("\(kind == "table" ? "table" : "collection") \"\(name)\" does not exist, skipping")
                        continue
                    }
                    throw RedError(.undefinedCollection, "\(kind == "table" ? "table" : "collection") \"\(name)\" does not exist")
                }
                if kind != "collection", kind != handle.schema.model.rawValue {
                    throw RedError(.invalidOperation, "model mismatch: expected \(kind), got \(handle.schema.model.rawValue) (\(name))")
                }
                if handle.schema.materializedQuery != nil, context.refreshingMaterializedView != handle.name {
                    throw RedError(.invalidOperation, "\"\(name)\" is not a table; use DROP MATERIALIZED VIEW")
                }
                if !handle.isTemporary { try dropDependentViews(of: handle.name, column: nil, cascade: cascade, what: "table \(name)") }
                try requireNoWaitingChecks(handle.name, what: "DROP TABLE")
                try detachForeignKeys(of: handle, dropping: dropping, cascade: cascade)
                try store.drop(tx, handle)
                try dropOwnedSequences(of: handle.collection.name)
                dropped += 1
            }
            return .message("\(dropped) \(kind)\(dropped == 1 ? "" : "s") dropped", type: "drop", tag: kind == "table" ? "DROP TABLE" : "DROP",
                            notices: skipped)
        case .truncate(let given, let cascade, let restartIdentity):
            var count = 0
            let tables = try truncatedTables(given, cascade: cascade)
            for handle in tables {
                try DMLExecutor(context: context).refuseMaterializedView(handle)
                try requireNoWaitingChecks(handle.name, what: "TRUNCATE")
                try requireTruncatable(handle, with: tables)
                let cursor = try store.scan(tx, handle)
                while let (key, row) = try cursor.nextEntry() {
                    var stored = row
                    if handle.schema.model != .kv { stored.rid = StoredRow.rid(fromKey: key) }
                    try store.deleteScanned(tx, handle, key: key, row: stored)
                    count += 1
                }
                if restartIdentity { try restartOwnedSequences(of: handle.collection.name) }
            }
            return .message("\(count) entities truncated from \(tables.map(\.name).joined(separator: ", "))", type: "truncate", tag: "TRUNCATE TABLE")
        case .alterTable(let name, let ifExists, let actions):
            guard var handle = try openTable(name) else {
                if ifExists { return .message("relation \"\(name)\" does not exist, skipping", type: "alter", tag: "ALTER TABLE") }
                throw try SchemaCatalog.missingSchema(in: name, tx) ?? RedError(.undefinedCollection, "relation \"\(name)\" does not exist")
            }
            guard handle.schema.model == .table else { throw RedError(.invalidOperation, "\(name) is a \(handle.schema.model.rawValue), not a table") }
            // Renames keep the waiting checks (they follow the table, as PostgreSQL's do); other changes wait for them.
            if !actions.allSatisfy({ if case .renameTable = $0 { true } else if case .renameColumn = $0 { true } else { false } }) {
                try requireNoWaitingChecks(handle.name, what: "ALTER TABLE")
            }
            var notes: [String] = []
            for action in actions {
                handle = try alter(handle, action, &notes)
            }
            return .message("table '\(handle.name)' altered: \(notes.joined(separator: ", "))", type: "alter", tag: "ALTER TABLE",
                            notices: notes.filter { $0.hasSuffix(", skipping") })
        case .createIndex(let name, let tableName, let keys, let unique, let method, let ifNotExists, let predicate, _, let nullsNotDistinct):
            return try createIndex(name, on: tableName, keys: keys, unique: unique, method: method, ifNotExists: ifNotExists, predicate: predicate,
                                   nullsNotDistinct: nullsNotDistinct)
        case .dropIndex(let written, let tableName, let ifExists):
            let name = try SchemaCatalog.localName(written, tx)
            let found: TableHandle?
            if let tableName { found = try store.open(tx, tableName).flatMap { h in h.schema.indexes.contains { $0.name == name } ? h : nil } }
            else { found = try findIndex(written) }
            guard let handle = found else {
                if ifExists { return .message("index \"\(name)\" does not exist, skipping", type: "drop", tag: "DROP INDEX") }
                throw RedError(.undefinedObject, "index \"\(name)\" does not exist")
            }
            if handle.schema.indexes.first(where: { $0.name == name })?.isConstraint == true {
                throw RedError(.dependentObjectsStillExist, "cannot drop index \(name) because constraint \(name) on table \(handle.name) requires it",
                               detail: "You can drop constraint \(name) on table \(handle.name) instead.")
            }
            try requireIndexUnneeded(name, of: handle)
            _ = try store.dropIndex(tx, handle, named: name)
            return .message("index '\(name)' dropped from '\(handle.name)'", type: "drop", tag: "DROP INDEX")
        case .createEnumType(let name, let labels):
            return try createEnumType(name, labels: labels)
        case .alterEnumType(let name, let change):
            return try alterEnumType(name, change)
        case .dropType(let names, let ifExists, let cascade):
            return try dropTypes(names, ifExists: ifExists, cascade: cascade)
        case .createDomain(let spec):
            return try createDomain(spec)
        case .alterDomain(let name, let change):
            return try alterDomain(name, change)
        case .dropDomains(let names, let ifExists, let cascade):
            return try dropDomains(names, ifExists: ifExists, cascade: cascade)
        case .createFunction(let spec, let orReplace):
            return try createFunction(spec, orReplace: orReplace)
        case .dropFunctions(let references, let ifExists, let cascade):
            return try dropFunctions(references, ifExists: ifExists, cascade: cascade)
        case .createTrigger(let definition, let table, let orReplace):
            return try createTrigger(definition, table: table, orReplace: orReplace)
        case .dropTrigger(let name, let table, let ifExists):
            return try dropTrigger(name, table: table, ifExists: ifExists)
        case .renameTrigger(let name, let table, let newName):
            return try renameTrigger(name, table: table, to: newName)
        case .alterFunction(let reference, let newName):
            return try alterFunction(reference, renameTo: newName)
        case .createExtension(let name, let ifNotExists):
            return try ExtensionCatalog.create(name, ifNotExists: ifNotExists, tx)
        case .dropExtensions(let names, let ifExists):
            return try ExtensionCatalog.drop(names, ifExists: ifExists, tx)
        case .createSchema(let name, let ifNotExists, let owner):
            return try createSchema(name, ifNotExists: ifNotExists, owner: owner)
        case .dropSchemas(let names, let ifExists, let cascade):
            return try dropSchemas(names, ifExists: ifExists, cascade: cascade)
        case .renameSchema(let name, let newName):
            return try renameSchema(name, to: newName)
        case .renameIndex(let name, let ifExists, let newName):
            return try renameIndex(name, ifExists: ifExists, to: newName)
        case .createView(let given, let orReplace, let ifNotExists, let columns, let query, let text):
            let name = try newRelationName(given)
            try Self.requirePermanentName(name, "view")
            if try store.open(tx, name, temporary: false) != nil || store.sequences.definition(tx, name) != nil {
                throw RedError(.duplicateCollection, "relation \"\(name)\" already exists")
            }
            let existing = try ViewCatalog.definition(of: name, tx)
            let temporaryOpens = tx.temporaryNamespace?.opens
            if existing != nil, !orReplace {
                if ifNotExists { return .message("view \"\(name)\" already exists, skipping", type: "create", tag: "CREATE VIEW") }
                throw RedError(.duplicateCollection, "relation \"\(name)\" already exists")
            }
            let planner = Planner(context: context)
            // Planned as if expanding the view itself, so its nesting counts against the limit
            // (`Planner.maxViewNesting`) as it will when it is read: a view is never created
            // that could not be selected from.
            planner.expandingViews.insert(name)
            // Validates names now, as PostgreSQL does, in the view's own schema and then public,
            // as they will be read (`SchemaCatalog.homePath`).
            let plan = try SchemaCatalog.withHomePath(of: name, tx) { try planner.planQuery(query, outer: nil) }
            planner.expandingViews.remove(name)
            if tx.temporaryNamespace?.opens != temporaryOpens {
                // PostgreSQL would make the view temporary; a view here is stored for every session.
                throw RedError(.featureNotSupported, "view \"\(name)\" reads a temporary table; views over temporary tables are not supported (query the table, or use a subquery or WITH)")
            }
            let newColumns = try Planner.renamed(plan.columns, columns, qualifier: name, what: "view \(name)").map(\.name)
            guard Set(newColumns).count == newColumns.count else {
                throw RedError(.duplicateColumn, "column names of view \"\(name)\" must be unique")
            }
            if let existing {
                // OR REPLACE may add columns at the end, never drop or rename one (PostgreSQL's rule).
                let oldColumns = try Planner.renamed(try planner.planView(name, existing).columns, existing.columns, qualifier: name, what: "view \(name)").map(\.name)
                guard newColumns.count >= oldColumns.count else { throw RedError(.invalidTableDefinition, "cannot drop columns from view") }
                for (old, new) in zip(oldColumns, newColumns) where old != new {
                    throw RedError(.invalidTableDefinition, "cannot change name of view column \"\(old)\" to \"\(new)\"")
                }
            }
            try ViewCatalog.store(name, ViewDefinition(query: text, columns: columns), tx)
            return .message("view '\(name)' created", type: "create", tag: "CREATE VIEW")
        case .dropView(let given, let ifExists, let cascade):
            let name = try ViewCatalog.resolve(given, tx)?.name ?? given
            guard try ViewCatalog.definition(of: name, tx) != nil else {
                if try store.open(tx, name) != nil { throw RedError(.invalidOperation, "\"\(name)\" is not a view; use DROP TABLE") }
                if let missing = try SchemaCatalog.missingSchema(in: given, tx) {
                    guard ifExists else { throw missing }
                    return .message("\(missing.message), skipping", type: "drop", tag: "DROP VIEW")
                }
                if ifExists { return .message("view \"\(name)\" does not exist, skipping", type: "drop", tag: "DROP VIEW") }
                throw RedError(.undefinedCollection, "view \"\(name)\" does not exist")
            }
            try dropDependentViews(of: name, column: nil, cascade: cascade, what: "view \(name)")
            _ = try ViewCatalog.remove(name, tx)
            return .message("view '\(name)' dropped", type: "drop", tag: "DROP VIEW")
        case .reindex(let indexName, let tableName, _):
            var targets: [(handle: TableHandle, indexes: [String])] = []
            if indexName == "" {
                targets = []  // REINDEX SYSTEM
            } else if let indexName {
                guard let found = try findIndex(indexName) else { throw RedError(.undefinedCollection, "relation \"\(indexName)\" does not exist") }
                targets = [(found, [indexName])]
            } else if let tableName {
                let handle = try table(tableName)
                targets = [(handle, handle.schema.indexes.map(\.name))]
            } else {
                targets = try store.listReachable(tx).filter { $0.schema.model == .table }.map { ($0, $0.schema.indexes.map(\.name)) }
            }
            var count = 0
            for (handle, names) in targets {
                var current = handle
                for index in names { current = try store.rebuildIndex(tx, current, named: index, now: context.now) }
                count += names.count
            }
            return .message("reindexed \(count) index\(count == 1 ? "" : "es")", type: "reindex", tag: "REINDEX")
        case .alterOwner(let kind, let name, let ifExists, _):
            return try alterOwner(kind: kind, name: name, ifExists: ifExists)
        case .lockTable(let names, let mode):
            return try lockTables(names, mode: mode)
        case .vacuum(let name, let tag):
            if name == nil, let namespace = tx.temporaryNamespace {
                try store.dropTemporaryTables(tx) { namespace.isAbandoned($0) }  // left by a process that died
            }
            let handles = try name.map { [try table($0)] } ?? store.list(tx).filter { $0.schema.hasExpiringItems == true }
            var reclaimed = 0
            for handle in handles {
                let cursor = try store.scan(tx, handle)
                while let (key, row) = try cursor.nextEntry() {
                    if row.isVisible(at: context.now) { continue }
                    var stored = row
                    if handle.schema.model != .kv { stored.rid = StoredRow.rid(fromKey: key) }
                    try store.deleteScanned(tx, handle, key: key, row: stored)
                    reclaimed += 1
                }
            }
            return .message("vacuum reclaimed \(reclaimed) expired item\(reclaimed == 1 ? "" : "s")", type: "vacuum", tag: tag)
        case .createSequence(let given, let ifNotExists, let options):
            let name = try newRelationName(given)
            return try createSequence(name, ifNotExists: ifNotExists, options: options)
        case .alterSequence(let name, let ifExists, let options):
            return try alterSequence(name, ifExists: ifExists, options: options)
        case .renameSequence(let name, let ifExists, let newName):
            return try renameSequence(name, ifExists: ifExists, to: newName)
        case .comment(let target, let text):
            return try comment(on: target, text)
        case .dropSequence(let names, let ifExists, let cascade):
            return try dropSequences(names, ifExists: ifExists, cascade: cascade)
        case .show(let what):
            switch what {
            case "tables", "collections":
                let rows = try store.list(tx).map { [Value.text($0.name), .text($0.schema.model.rawValue)] }
                return QueryResult(columns: [ResultColumn(name: "name", type: .text), ResultColumn(name: "model", type: .text)], rows: rows,
                                   statementType: "select", commandTag: "SELECT \(rows.count)")
            case "vectors":
                let rows = try store.list(tx).filter { $0.schema.model == .vector }.map { h -> [Value] in
                    [.text(h.name), h.schema.vector?.dimension.map { .integer(Int64($0)) } ?? .null, .text((h.schema.vector?.metric ?? .cosine).rawValue)]
                }
                return QueryResult(columns: [ResultColumn(name: "name", type: .text), ResultColumn(name: "dimension", type: .integer),
                                             ResultColumn(name: "metric", type: .text)],
                                   rows: rows, statementType: "select", commandTag: "SELECT \(rows.count)")
            default:
                throw RedError(.featureNotSupported, "SHOW \(what) is not supported; try SHOW TABLES, SHOW VECTORS or SHOW COLUMNS FROM t")
            }
        case .showColumns(let name):
            guard let handle = try store.open(tx, name) else { throw RedError(.undefinedCollection, "relation \"\(name)\" does not exist") }
            let rows: [[Value]] = handle.schema.describedColumns.map { c in
                [.text(c.name), .text(c.type.rawValue), .boolean(c.notNull || c.primaryKey), .boolean(handle.schema.isPrimaryKey(c)), .boolean(c.unique),
                 c.defaultSQL.map { .text($0) } ?? .null]
            }
            return QueryResult(columns: Self.showColumnsResult, rows: rows, statementType: "select", commandTag: "SELECT \(rows.count)")
        case .checkpoint:  // the session runs it (`Session.runCheckpoint`, DO blocks too); a function's body reaches here
            throw RedError(.featureNotSupported, "CHECKPOINT cannot run inside a function", hint: "Run it as a statement of its own or in a DO block.")
        default:
            throw RedError(.internalError, "statement not handled by DDL")
        }
    }

    static let showColumnsResult = [
        ResultColumn(name: "column", type: .text), ResultColumn(name: "type", type: .text), ResultColumn(name: "not_null", type: .boolean),
        ResultColumn(name: "primary_key", type: .boolean), ResultColumn(name: "unique", type: .boolean), ResultColumn(name: "default", type: .text),
    ]

    /// Refuses (2BP01) to remove what a view reads, or with CASCADE drops those views (and theirs).
    func dropDependentViews(of name: String, column: String?, cascade: Bool, what: String) throws {
        let dependents = try ViewCatalog.dependents(of: name, column: column, tx).filter { $0 != name }
        guard !dependents.isEmpty else { return }
        guard cascade else {
            throw RedError(.dependentObjectsStillExist,
                           "cannot drop \(what) because other objects depend on it: view \(dependents.joined(separator: ", ")); use CASCADE or drop them first")
        }
        for view in dependents {
            try dropDependentViews(of: view, column: nil, cascade: true, what: "view \(view)")
            _ = try ViewCatalog.remove(view, tx)
        }
    }

    /// `base`, or `base` with the first number after it that is free (PostgreSQL's way of
    /// naming constraints): `t_a_check`, `t_a_check1`, …
    static func firstFree(_ base: String, isTaken: (String) throws -> Bool) rethrows -> String {
        var candidate = base
        var number = 0
        while try isTaken(candidate) {
            number += 1
            candidate = "\(base)\(number)"
        }
        return candidate
    }

    func validateNewColumn(_ spec: ColumnSpec, existing: [ColumnDefinition]) throws {
        guard !Self.reservedColumnNames.contains(spec.name) else {
            throw RedError(.invalidOperation, "column name \"\(spec.name)\" is reserved for the system column of every row")
        }
        guard !existing.contains(where: { $0.name == spec.name }) else {
            throw RedError(.duplicateColumn, "column \"\(spec.name)\" specified more than once")
        }
        if let sql = spec.defaultSQL {
            var parser = try Parser(sql)
            _ = try parser.parseExpression()
        }
    }

    /// Adds a PRIMARY KEY or UNIQUE constraint: a unique index over the columns, built from the
    /// rows already there (a duplicate fails it with 23505). A primary key also makes its columns
    /// NOT NULL, failing on existing NULLs (23502), as PostgreSQL's does.
    ///
    /// One column is marked on the column (`primaryKey`/`unique`); several columns make a
    /// table constraint. Unless named, the index is named as PostgreSQL names the constraint
    /// (`<table>_pkey`, `<table>_<a>[_<b>…]_key`).
    func addKey(_ key: KeySpec, to handle: TableHandle) throws -> TableHandle {
        var schema = handle.schema
        guard schema.model == .table else { throw RedError(.invalidOperation, "constraints need a table; \(handle.name) is a \(schema.model.rawValue) collection") }
        let positions = try key.columns.map { name in
            guard let position = schema.columns.firstIndex(where: { $0.name == name }) else {
                throw RedError(.undefinedColumn, "column \"\(name)\" of relation \"\(handle.name)\" does not exist")
            }
            return position
        }
        let ids = positions.map { schema.columns[$0].id }
        if key.primary, schema.hasPrimaryKey {
            throw RedError(.invalidTableDefinition, "multiple primary keys for table \"\(handle.name)\" are not allowed")
        }
        let single = positions.count == 1
        let indexName = key.name ?? (key.primary ? "\(handle.localName)_pkey" : "\(handle.localName)_\(key.columns.joined(separator: "_"))_key")
        if schema.indexes.contains(where: { $0.name == indexName }) || (schema.checks ?? []).contains(where: { $0.name == indexName })
            || (schema.foreignKeys ?? []).contains(where: { $0.name == indexName }) {
            throw RedError(.duplicateCollection, "relation \"\(indexName)\" already exists")
        }
        if key.primary {
            let cursor = try store.scan(tx, handle)
            while let row = try cursor.next() {
                if row.isVisible(at: context.now), let null = positions.first(where: { (row.values[schema.columns[$0].id] ?? .null).isNull }) {
                    throw RedError(.notNullViolation, "column \"\(schema.columns[null].name)\" of relation \"\(handle.name)\" contains null values")
                }
            }
            for position in positions { schema.columns[position].notNull = true }
        }
        if single {
            if key.primary { schema.columns[positions[0]].primaryKey = true } else { schema.columns[positions[0]].unique = true }
        }
        let updated = try store.setSchema(tx, handle, schema)
        return try store.createIndex(tx, updated, name: indexName, columnIDs: ids, unique: true, method: .btree, isConstraint: true,
                                     primaryKey: key.primary && !single, nullsNotDistinct: key.nullsNotDistinct, now: context.now)
    }

    func alter(_ handle: TableHandle, _ action: AlterAction, _ notes: inout [String]) throws -> TableHandle {
        var schema = handle.schema
        switch action {
        case .setTriggersEnabled(let name, let enabled, let constraints):
            return try setTriggersEnabled(handle, name: name, enabled, constraints: constraints, &notes)
        case .addCheck(let spec):
            let added = try addChecks([spec], to: &schema, table: handle.name)
            let updated = try store.setSchema(tx, handle, schema)
            try verifyExistingRows(updated, names: added)
            notes.append("constraint '\(added.first ?? "")' added")
            return updated
        case .addForeignKey(let spec):
            return try addForeignKey(spec, to: handle, validate: true, notes: &notes)
        case .renameConstraint(let old, let new):
            return try renameConstraint(old, to: new, of: handle, &notes)
        case .setFillFactor:
            return handle
        case .validateConstraint(let name):
            // Constraints are checked against the rows when added (NOT VALID too): nothing is left to do.
            let known = (schema.foreignKeys ?? []).contains { $0.name == name } || (schema.checks ?? []).contains { $0.name == name }
            guard known else { throw RedError(.undefinedObject, "constraint \"\(name)\" of relation \"\(handle.name)\" does not exist") }
            notes.append("constraint '\(name)' valid")
            return handle
        case .dropConstraint(let name, let ifExists):
            if schema.foreignKeys?.contains(where: { $0.name == name }) == true {
                notes.append("constraint '\(name)' dropped")
                return try dropForeignKey(name, of: handle)
            }
            guard let checks = schema.checks, checks.contains(where: { $0.name == name }) else {
                if let index = schema.indexes.first(where: { $0.isConstraint && $0.name == name }) {
                    try requireIndexUnneeded(name, of: handle)
                    // A PRIMARY KEY or UNIQUE constraint: its index goes, its columns stay NOT NULL (as in PostgreSQL).
                    if index.columnIDs.count == 1, let i = schema.columns.firstIndex(where: { $0.id == index.columnIDs[0] }) {
                        schema.columns[i].primaryKey = false
                        schema.columns[i].unique = false
                    }
                    notes.append("constraint '\(name)' dropped")
                    return try store.dropIndex(tx, try store.setSchema(tx, handle, schema), named: name)
                }
                if ifExists {
                    notes.append("constraint \"\(name)\" of relation \"\(handle.name)\" does not exist, skipping")
                    return handle
                }
                throw RedError(.undefinedObject, "constraint \"\(name)\" of relation \"\(handle.name)\" does not exist")
            }
            schema.checks = checks.filter { $0.name != name }
            notes.append("constraint '\(name)' dropped")
            return try store.setSchema(tx, handle, schema)
        case .addConstraint(let key):
            return try addKey(key, to: handle)
        case .addColumn(let spec, let ifNotExists):
            if schema.column(named: spec.name) != nil {
                if ifNotExists {
                    notes.append("column \"\(spec.name)\" of relation \"\(handle.name)\" already exists, skipping")
                    return handle
                }
                throw RedError(.duplicateColumn, "column \"\(spec.name)\" of relation \"\(handle.name)\" already exists")
            }
            try validateNewColumn(spec, existing: schema.columns)
            if spec.primaryKey { throw RedError(.featureNotSupported, "adding a PRIMARY KEY column is not supported; add the column, then CREATE UNIQUE INDEX") }
            // As in PostgreSQL, 1,600 columns at most, and ids are never reused: a table whose
            // ADD/DROP history has used up the 16-bit ids must be recreated (the counter would overflow).
            guard schema.columns.count < Self.maxColumns else {
                throw RedError(.limitExceeded, "tables can have at most \(Self.maxColumns) columns")
            }
            guard schema.nextColumnID < UInt16.max else {
                throw RedError(.limitExceeded, "table \"\(handle.name)\" has used all \(UInt16.max) column ids (dropped columns keep theirs); recreate it to add more")
            }
            let column = try newColumn(spec, id: schema.nextColumnID, table: handle.name, owner: handle.collection.name)
            if let sql = column.generatedSQL {
                try GeneratedColumns.validate(sql, column: column.name, columns: schema.columns + [column], table: handle.name, planner: Planner(context: context))
            }
            schema.nextColumnID += 1
            schema.columns.append(column)
            var updated = try store.setSchema(tx, handle, schema)
            // Existing rows take the default (or the identity's next value, or the generated
            // value) now, as PostgreSQL does, or fail NOT NULL.
            if column.generatedSQL != nil {
                var generated = try GeneratedColumns(updated, planner: Planner(context: context))
                generated = generated.only(column.id)
                let cursor = try store.scan(tx, updated)
                var rewrites: [(StoredRow, StoredRow)] = []
                while let row = try cursor.next() {
                    rewrites.append((row, try generated.filled(row)))
                    try context.checkMaterialized(rewrites.count, "ADD COLUMN … GENERATED")
                }
                for (old, new) in rewrites { try store.update(tx, updated, old: old, new: new, now: context.now) }
            } else if column.defaultSQL != nil || column.notNull || column.sequence != nil || column.domain != nil {
                var defaults = DefaultValues(planner: Planner(context: context), context: context)
                // A domain's default fills the rows too, and its constraints hold for what they get.
                let domain = try column.domain.flatMap { name in
                    try DomainCatalog.definition(of: name, tx).map { try DomainRules(name, $0, type: column.type, planner: Planner(context: context)) }
                }
                let cursor = try store.scan(tx, updated)
                var rewrites: [(StoredRow, StoredRow)] = []
                while let row = try cursor.next() {
                    let value = try defaults.value(for: column, handle: updated)
                    if value.isNull, column.notNull, row.isVisible(at: context.now) {
                        throw RedError(.notNullViolation, "column \"\(column.name)\" of relation \"\(handle.name)\" contains null values")
                    }
                    if let domain, row.isVisible(at: context.now) { try domain.verify(value, context) }
                    guard !value.isNull else { continue }  // the row reads NULL for the new column as it is
                    var new = row
                    new.values[column.id] = value
                    rewrites.append((row, new))
                    try context.checkMaterialized(rewrites.count, "ADD COLUMN")
                }
                for (old, new) in rewrites { try store.update(tx, updated, old: old, new: new, now: context.now) }
            }
            if spec.unique {
                updated = try store.createIndex(tx, updated, name: "\(handle.localName)_\(spec.name)_key", columnIDs: [column.id], unique: true,
                                                method: .btree, isConstraint: true, now: context.now)
            }
            if !spec.checks.isEmpty {
                var withChecks = updated.schema
                let added = try addChecks(spec.checks, to: &withChecks, table: handle.name)
                updated = try store.setSchema(tx, updated, withChecks)
                try verifyExistingRows(updated, names: added)
            }
            if var references = spec.references {
                references.columns = [spec.name]
                updated = try addForeignKey(references, to: updated, validate: true, notes: &notes)
            }
            notes.append("column '\(spec.name)' added")
            return updated
        case .dropColumn(let name, let ifExists):
            guard let column = schema.column(named: name) else {
                if ifExists { notes.append("column \"\(name)\" of relation \"\(handle.name)\" does not exist, skipping"); return handle }
                throw RedError(.undefinedColumn, "column \"\(name)\" of relation \"\(handle.name)\" does not exist")
            }
            guard schema.columns.count > 1 else { throw RedError(.invalidOperation, "cannot drop the last column of table \"\(handle.name)\"") }
            if !handle.isTemporary { try dropDependentViews(of: handle.name, column: name, cascade: false, what: "column \(name) of table \(handle.name)") }
            if let reader = GeneratedColumns.readers(of: name, in: schema, table: handle.name, planner: Planner(context: context)).first {
                throw RedError(.dependentObjectsStillExist, "cannot drop column \(name) of table \(handle.name) because other objects depend on it",
                               detail: "column \(reader.name) of table \(handle.name) depends on column \(name) of table \(handle.name)")
            }
            try refuseTriggerReaders(of: column.name, handle, what: "drop column \(name)")
            var current = try dropForeignKeys(over: column, of: handle)
            // As in PostgreSQL, the indexes and CHECK constraints that read the column go with it.
            let planner = Planner(context: context)
            for index in current.schema.indexes where index.columnIDs.contains(column.id)
                || (!index.isPlain && IndexExpressions.reads(index, column: column.name, columns: current.schema.columns, table: handle.name, planner: planner)) {
                current = try store.dropIndex(tx, current, named: index.name)
            }
            schema = current.schema
            schema.checks = schema.checks?.filter { check in
                !CheckConstraints.reads(check.sql, column: column.name, columns: schema.columns, table: handle.name, planner: planner)
            }
            schema.columns.removeAll { $0.id == column.id }
            try dropOwnedSequences(of: handle.collection.name, column: column.name)
            notes.append("column '\(name)' dropped")
            return try ensureReferencingIndexes(try store.setSchema(tx, current, schema))
        case .renameColumn(let old, let new):
            guard let i = schema.columns.firstIndex(where: { $0.name == old }) else {
                throw RedError(.undefinedColumn, "column \"\(old)\" does not exist")
            }
            guard schema.column(named: new) == nil, !Self.reservedColumnNames.contains(new) else {
                throw RedError(.duplicateColumn, "column \"\(new)\" of relation \"\(handle.name)\" already exists")
            }
            if let view = try viewsReading(handle, column: old).first {
                throw RedError(.dependentObjectsStillExist, "view \(view) reads column \(old) of \(handle.name); drop or recreate the view before renaming the column")
            }
            try refuseTriggerReaders(of: schema.columns[i].name, handle, what: "rename column \(old)")
            // The checks keep their text: references to the column are rewritten to the new name.
            schema.checks = try schema.checks?.map { check in
                var renamed = check
                renamed.sql = try CheckConstraints.renaming(check.sql, column: schema.columns[i].name, to: new)
                return renamed
            }
            schema.indexes = try schema.indexes.map { index in
                index.isPlain ? index : try IndexExpressions.renaming(index, column: schema.columns[i].name, to: new)
            }
            for j in schema.columns.indices {
                if let sql = schema.columns[j].generatedSQL {
                    schema.columns[j].generatedSQL = try CheckConstraints.renaming(sql, column: schema.columns[i].name, to: new)
                }
            }
            schema.columns[i].name = new
            try requireChecksBind(schema, table: handle.name, what: "rename column \(old)")
            try renameSequenceOwner(table: handle.collection.name, column: old, toTable: handle.collection.name, column: new)
            notes.append("column '\(old)' renamed to '\(new)'")
            return try store.setSchema(tx, handle, schema)
        case .renameTable(let newName):
            // The new name is in the table's own schema.
            let physical = handle.isTemporary ? newName : SchemaCatalog.physicalName(newName, inSchema: try SchemaCatalog.split(handle.name, tx).schema)
            if try ViewCatalog.definition(of: SchemaCatalog.exact(physical), tx) != nil || sequences.definition(tx, SchemaCatalog.exact(physical)) != nil {
                throw RedError(.duplicateCollection, "relation \"\(newName)\" already exists")
            }
            let renamed = try store.rename(tx, handle, to: newName)
            try renameSequenceOwner(table: handle.collection.name, toTable: renamed.collection.name)
            if let view = try viewsReading(handle).first {
                throw RedError(.dependentObjectsStillExist, "view \(view) reads \(handle.name); drop or recreate the view before renaming the table")
            }
            try requireChecksBind(schema, table: newName, what: "rename table \(handle.name)")  // a check may qualify columns with the old name
            notes.append("renamed to '\(newName)'")
            context.deferredConstraints?.renameTable(handle.name, to: renamed.name)
            return try renameForeignKeyReferences(of: renamed, from: handle.name)
        case .alterColumn(let name, let change):
            return try alterColumn(handle, name, change, &notes)
        case .setAppendOnly(let on):
            schema.appendOnly = on
            notes.append("append_only = \(on)")
            return try store.setSchema(tx, handle, schema)
        }
    }
}
