import RedCore
import RedEngine
import Synchronization

/// The database's catalog as one statement's transaction sees it: every collection with its
/// schema, and every view with its query and columns, each by name.
public struct CatalogSnapshot: Sendable {
    public struct Table: Sendable {
        public var name: String
        public var schema: CollectionSchema
        /// The columns a catalog lists, in order (`describedColumns`: a table's own, without
        /// internal ones; for other models the columns their rows show).
        public var columns: [ColumnDefinition]
        /// One of the session's temporary tables (in `temporarySchema`).
        public var temporary = false
    }

    public struct View: Sendable {
        public var name: String
        public var query: String
        public var columns: [SurfaceColumn]
    }

    /// A domain as catalogs list it: its base type resolved (through domains it is over) to
    /// what a column of it holds, and its constraints.
    public struct Domain: Sendable {
        public var name: String
        /// The base type as written (`varchar(20)`, or the domain it is over).
        public var baseName: String
        /// A column of the domain: its type, declaration and elements (`name`, `domain` set).
        public var column: ColumnDefinition
        public var notNull: Bool
        public var defaultSQL: String?
        /// `validated` false for a check added NOT VALID and not validated since.
        public var checks: [(name: String, sql: String, validated: Bool)]
    }

    /// A SQL function (`CREATE FUNCTION`) as catalogs list it: its definition, and its argument
    /// and result types as columns of them would be (`domain` and `enumType` set where named).
    public struct Function: Sendable {
        public var spec: FunctionSpec
        public var arguments: [ColumnDefinition]
        /// RETURNS TABLE's columns (named), or the one result type; empty for SETOF a table.
        public var results: [ColumnDefinition]
        /// `RETURNS SETOF t` where `t` is a table: its name.
        public var rowTable: String?
    }

    public struct Sequence: Sendable {
        public var name: String
        public var definition: SequenceDefinition
        /// The last value nextval handed out; nil before the first (pg_sequences.last_value).
        public var lastValue: Int64?
        /// A sequence of one of the session's temporary tables (in `temporarySchema`).
        public var temporary = false
    }

    /// The session's temporary tables first (they hide permanent ones of their names), then
    /// the permanent tables, each part by name.
    public var tables: [Table]
    public var views: [View]
    /// The schema PostgreSQL would show the session's temporary tables in (`pg_temp_<session>`),
    /// once it has made one.
    public var temporarySchema: String?
    public var sequences: [Sequence] = []
    /// Enum types (`CREATE TYPE … AS ENUM`): name and labels, in order.
    public var enumTypes: [(name: String, labels: [String])] = []
    /// Domains (`CREATE DOMAIN`), by name.
    public var domains: [Domain] = []
    /// SQL functions (`CREATE FUNCTION`), by name.
    public var functions: [Function] = []
    /// Installed extensions (`CREATE EXTENSION`) and their versions, by name.
    public var extensions: [(name: String, version: String)] = []
    /// The schemas CREATE SCHEMA made (`SchemaCatalog`), by name.
    public var schemas: [SchemaCatalog.Schema] = []
    /// The statement's search path (`Transaction.searchPath`; nil: public alone).
    public var searchPath: [String]?
    /// What surfaces derive from this snapshot, kept for the statement that read it.
    private let memo = Memo()

    public init(tables: [Table], views: [View]) {
        self.tables = tables
        self.views = views
    }

    /// `make()`'s result under `key`, computed once per snapshot: a surface's model of the
    /// catalog, a relation's rows. One statement reads one snapshot, so a catalog relation on
    /// the inner side of a join, or a catalog function called per row, costs its work once.
    public func memoized<T: Sendable>(_ key: String, _ make: () throws -> T) rethrows -> T {
        if let value = memo.values.withLock({ $0[key] }) as? T { return value }
        let value = try make()
        memo.values.withLock { $0[key] = value }
        return value
    }

    private final class Memo: Sendable {
        let values = Mutex<[String: any Sendable]>([:])
    }

    /// What `context`'s transaction sees. A view whose query no longer plans (a column it read
    /// was dropped) is listed without columns rather than failing every catalog query.
    static func read(_ context: ExecutionContext) throws -> CatalogSnapshot {
        let namespace = context.transaction.temporaryNamespace.flatMap { $0.isUsed ? $0 : nil }
        let temporary = try context.store.listTemporary(context.transaction).map {
            Table(name: $0.name, schema: $0.schema, columns: $0.schema.describedColumns, temporary: true)
        }.sorted { $0.name < $1.name }
        let tables = temporary + (try context.store.list(context.transaction).map {
            Table(name: $0.name, schema: $0.schema, columns: $0.schema.describedColumns)
        }.sorted { $0.name < $1.name })
        let views = try ViewCatalog.all(context.transaction).map { view -> View in
            let planned = try? Planner(context: context).planView(view.name, view.definition)
            let columns = planned.map { plan in
                plan.columns.enumerated().map { i, c in
                    SurfaceColumn(i < view.definition.columns.count ? view.definition.columns[i] : c.name, c.type, element: c.element, surfaceType: c.surfaceType)
                }
            } ?? []
            return View(name: view.name, query: view.definition.query, columns: columns)
        }
        var snapshot = CatalogSnapshot(tables: tables, views: views.sorted { $0.name < $1.name })
        snapshot.temporarySchema = namespace.map { "pg_temp_\($0.session)" }
        let registry = context.store.sequences
        snapshot.sequences = try registry.all(context.transaction).compactMap { sequence in
            let temporary = TemporaryNamespace.isTemporary(sequence.name)
            // Another session's temporary sequences are not this one's to see.
            if temporary, namespace?.owns(sequence.name) != true { return nil }
            let state = try registry.state(sequence.definition)
            return Sequence(name: TemporaryNamespace.displayName(of: sequence.name), definition: sequence.definition,
                            lastValue: state.isCalled ? state.lastValue : nil, temporary: temporary)
        }
        snapshot.enumTypes = try EnumTypeCatalog.all(context.transaction).sorted { $0.name < $1.name }
        snapshot.domains = try DomainCatalog.all(context.transaction).map { name, definition in
            let column = Self.column(of: try DomainCatalog.resolvedBase(definition, context.transaction), named: name, domain: name)
            return Domain(name: name, baseName: definition.base, column: column, notNull: definition.notNull, defaultSQL: definition.defaultSQL,
                          checks: definition.checks.map { ($0.name, $0.sql, $0.notValid != true) })
        }.sorted { $0.name < $1.name }
        snapshot.functions = try FunctionCatalog.all(context.transaction).map { spec in
            let planner = Planner(context: context)
            let rowTable = try planner.rowTypeTable(spec)
            // void and trigger (pseudo-types) describe no result column.
            let void = ["void", "trigger"].contains(spec.returnType?.lowercased())
            let results = rowTable != nil || void ? [] : spec.tableColumns.isEmpty
                ? [try describedColumn(spec.returnType ?? "text", named: spec.name, context)]
                : try spec.tableColumns.map { try describedColumn($0.type, named: $0.name ?? spec.name, context) }
            return Function(spec: spec, arguments: try spec.arguments.map { try describedColumn($0.type, named: $0.name ?? "", context) },
                            results: results, rowTable: rowTable)
        }.sorted { $0.spec.name < $1.spec.name }
        snapshot.extensions = try ExtensionCatalog.all(context.transaction)
        snapshot.schemas = try SchemaCatalog.all(context.transaction)
        snapshot.searchPath = context.transaction.searchPath
        return snapshot
    }

    /// A column of type `text` as written (`numeric(10,2)`, `text[]`, a domain's or an enum
    /// type's name), as a table's column of that type would be described.
    static func describedColumn(_ text: String, named name: String, _ context: ExecutionContext) throws -> ColumnDefinition {
        var parser = try Parser("value \(text)")
        let spec = try parser.parseColumnSpec()
        if let named = spec.namedType, let definition = try DomainCatalog.definition(of: named, context.transaction) {
            return column(of: try DomainCatalog.resolvedBase(definition, context.transaction), named: name, domain: named)
        }
        return column(of: spec, named: name, domain: nil)
    }

    /// A column of the type `spec` declares (its base type's, for a column of `domain`).
    private static func column(of spec: ColumnSpec, named name: String, domain: String?) -> ColumnDefinition {
        var column = ColumnDefinition(id: 0, name: name, type: spec.type)
        column.declared = spec.declared
        column.arrayElement = spec.arrayElement
        column.elementDeclared = spec.elementDeclared
        column.enumType = spec.type == .enumeration ? spec.namedType : nil
        column.domain = domain
        return column
    }
}

