import RedCore
import RedEngine

/// Temporary tables (`CREATE TEMP TABLE`), PostgreSQL's: a session's own tables, hidden from
/// every other session, which hide a permanent table of the same name and go when the session
/// ends. Where they live and how names find them is `TemporaryNamespace`; here are the
/// statements:
/// - CREATE makes the table in the namespace, with its indexes and serial sequences, and
///   notes its ON COMMIT action; the session runs those actions before each commit
///   (`applyOnCommitActions`).
/// - A foreign key links two temporary tables or two permanent ones, never one of each
///   (42P16, as in PostgreSQL), so each side is looked up among its own kind.
/// - No view may read one (0A000): a view is stored for every session. PostgreSQL would make
///   such a view temporary; temporary views are not supported.
/// - VACUUM drops the tables no session can reach any more: an ended session's whose drop
///   failed, and those an earlier process left (a crash).
extension StatementExecutor {
    func createTemporary(_ statement: Statement, onCommit: TemporaryOnCommit, _ context: ExecutionContext) throws -> QueryResult {
        guard let namespace = context.transaction.temporaryNamespace else {
            throw RedError(.featureNotSupported, "temporary tables belong to a session; this statement runs outside one")
        }
        let name: String, ifNotExists: Bool
        switch statement {
        case .createTable(let table, let skip, _, _, _, _, _, _, _): (name, ifNotExists) = (table, skip)
        case .createTableAs(let create): (name, ifNotExists) = (create.name, create.ifNotExists)
        default: throw RedError(.internalError, "only tables can be temporary")
        }
        if let dot = name.firstIndex(of: ".") {
            // `app.t` names a schema's table; `"a.b"` would read as one (`SchemaCatalog`).
            guard try !SchemaCatalog.exists(String(name[..<dot]), context.transaction) else {
                throw RedError(.invalidTableDefinition, "cannot create temporary relation in non-temporary schema", condition: "42P16")
            }
            throw RedError(.featureNotSupported, "temporary table names may not contain \".\" (\(name))")
        }
        namespace.markUsed()
        let existed = try context.store.open(context.transaction, name, temporary: true) != nil
        context.creatingTemporary = true
        defer { context.creatingTemporary = false }
        let result: QueryResult
        if case .createTableAs(let create) = statement {
            result = try createTableAs(create, context)
        } else {
            result = try DDLExecutor(context: context).execute(statement)
        }
        if !(existed && ifNotExists), let created = try context.store.open(context.transaction, name, temporary: true) {
            let action: TemporaryNamespace.OnCommit = switch onCommit {
            case .preserveRows: .preserveRows
            case .deleteRows: .deleteRows
            case .drop: .drop
            }
            namespace.created(created.collection, onCommit: action)
        }
        return result
    }

    /// Runs the ON COMMIT actions of the session's temporary tables in the transaction about to
    /// commit: `DELETE ROWS` empties its table, `DROP` drops it. Called by the session before
    /// every commit while any table has one.
    public func applyOnCommitActions() throws {
        let context = makeContext()
        guard let namespace = context.transaction.temporaryNamespace else { return }
        let tables = Dictionary(try context.store.listTemporary(context.transaction).map { ($0.collection.id, $0) }, uniquingKeysWith: { a, _ in a })
        for (collection, action) in namespace.onCommitActions {
            guard let table = tables[collection] else {
                namespace.forgetAction(of: collection)  // dropped since, or its CREATE rolled back
                continue
            }
            let name = TemporaryNamespace.qualifier + table.name  // this table, whatever else has its name
            switch action {
            case .preserveRows:
                continue
            case .deleteRows:
                _ = try DDLExecutor(context: context).execute(.truncate(names: [name], cascade: false, restartIdentity: false))
            case .drop:
                _ = try DDLExecutor(context: context).execute(.dropTable(names: [name], ifExists: false, kind: "table", cascade: false))
            }
        }
    }

    /// Drops every temporary table of the session (DISCARD TEMP, and the session's end).
    public func dropTemporaryTables() throws -> Int {
        let context = makeContext()
        guard let namespace = context.transaction.temporaryNamespace, namespace.isUsed else { return 0 }
        return try context.store.dropTemporaryTables(context.transaction) { namespace.owns($0) }
    }
}

/// What DDL needs to tell temporary tables and their permanent namesakes apart.
extension DDLExecutor {
    /// 0A000 for `pg_temp.name` (only tables can be temporary), an invalid-argument error for a
    /// name the engine keeps for itself (`__…`, which temporary tables' sequences have).
    static func requirePermanentName(_ name: String, _ kind: String) throws {
        if name.hasPrefix(TemporaryNamespace.qualifier) {
            throw RedError(.featureNotSupported, "temporary \(kind)s are not supported; only temporary tables are")
        }
        if name.hasPrefix("__") { throw RedError(.invalidArgument, "names starting with \"__\" are reserved: \(name)") }
    }

    /// Whether the table a CREATE makes cannot be called `name`: `exists`, or for a temporary
    /// table (`context.creatingTemporary`), a temporary table of the session is. A permanent
    /// table is refused while the session has a temporary one of its name (42P07 with a
    /// DETAIL): its rows, indexes and comments are added by name, which would reach the
    /// temporary table.
    func nameTaken(_ name: String) throws -> Bool {
        if context.creatingTemporary { return try store.open(tx, name, temporary: true) != nil }
        if try store.open(tx, name, temporary: true) != nil {
            throw RedError(.duplicateCollection, "relation \"\(name)\" already exists",
                           detail: "This session has a temporary table \"\(name)\"; drop it (or use another name) to create a permanent one.")
        }
        return try exists(name)
    }

    /// The collection name the table being created will have (which owns its sequences): a
    /// temporary table's is in its session's namespace.
    func newTableOwner(_ name: String) throws -> String {
        context.creatingTemporary ? try TableStore.temporaryName(tx, name) : name
    }

    /// The views reading `handle` (or its `column`): none for a temporary table, which no view
    /// may read (`TemporaryTables`), whatever the views reading a permanent namesake.
    func viewsReading(_ handle: TableHandle, column: String? = nil) throws -> [String] {
        handle.isTemporary ? [] : try ViewCatalog.dependents(of: handle.name, column: column, tx)
    }
}
