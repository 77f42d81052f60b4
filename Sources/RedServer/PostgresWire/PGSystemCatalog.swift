import RedCore
import RedEngine
import RedQuery

/// PostgreSQL's system catalogs (`pg_catalog.pg_class`, `pg_attribute`, `pg_index`,
/// `pg_constraint` …), `information_schema`, and the catalog functions and casts clients
/// use with them (`pg_get_indexdef`, `format_type`, `'users'::regclass`), supplied to the
/// engine as a `SurfaceCatalog`: PG-wire sessions carry one, so the introspection queries
/// of ORMs and tools (Django's `get_constraints`, SQLAlchemy's reflection, Knex and
/// TypeORM's `information_schema` reads) run as ordinary SQL — joined, filtered, grouped
/// and parameterised as they are written. psql's backslash commands (`\d NAME` for tables,
/// views and indexes, `\dt`, `\l`, `\dn` …) are such queries too, and print what they print
/// against PostgreSQL.
///
/// Everything lives in schema `public` of database `reddb`; relation OIDs are `stableOID`'s
/// hashes (probed past a collision), constraint OIDs the same hash of `constraint:<table>.<name>`, and column
/// numbers (`attnum`) count a relation's listed columns from 1. Column types are reported as
/// the wire sends the values (`PGType`): every integer is `int8`, arrays of a known element type are `T[]`, other arrays `jsonb`.
struct PGSystemCatalog: SurfaceCatalog {
    let user: String
    let functions: [String: SurfaceFunction]
    /// The connection's run-time settings (`pg_settings`, `current_setting`, `set_config`).
    let settings: PGSessionSettings
    /// The database's advisory locks (`pg_locks`); nil lists none.
    let locks: LockTable?
    /// The level in force on the connection's session, nil when unknown.
    let isolation: @Sendable () -> IsolationLevel?
    /// The server's PG-wire connections (`pg_stat_activity`); nil lists none.
    let activities: (@Sendable () -> [PGActivity.Row])?
    /// Whether this caller may see and signal a connection.
    let mayAct: @Sendable (PGActivity.Row) -> Bool

    /// `isolation`: the level in force on the connection's session (`transaction_isolation`
    /// is the open block's, not a stored setting).
    /// `notifications`: the connection's `pg_notify` (nil: the function does not exist).
    /// `backends`: the server's connections and whether this caller may cancel or end any
    /// other's (`pg_stat_activity`, `pg_cancel_backend`, `pg_terminate_backend`).
    init(user: String, settings: PGSessionSettings = PGSessionSettings(), locks: LockTable? = nil,
         isolation: @escaping @Sendable () -> IsolationLevel? = { nil }, notifications: PGNotifyFunction? = nil,
         backends: (registry: ConnectionRegistry, mayAct: @Sendable (PGActivity.Row) -> Bool, caller: PGActivity?)? = nil) {
        self.user = user
        self.settings = settings
        self.locks = locks
        self.isolation = isolation
        if let registry = backends?.registry {
            activities = { registry.activities() }
        } else {
            activities = nil
        }
        if let backends {
            mayAct = backends.mayAct
        } else {
            mayAct = { _ in false }
        }
        var functions = PGCatalogFunctions.functions(owner: user).merging(PGSettingsCatalog.functions(settings, isolation: isolation)) { $1 }
        if let notifications { functions["pg_notify"] = notifications.function }
        if let backends { functions.merge(PGActivityCatalog.functions(backends.registry, mayAct: backends.mayAct, caller: backends.caller)) { $1 } }
        self.functions = functions
    }

    func relation(schema: String?, name: String) -> SurfaceRelation? {
        if schema == nil || schema == "pg_catalog", name == "pg_settings" { return PGSettingsCatalog.relation(settings, isolation: isolation) }
        if schema == nil || schema == "pg_catalog", name == "pg_locks" { return PGLocksCatalog.relation(locks ?? LockTable()) }
        if schema == nil || schema == "pg_catalog", name == "pg_stat_activity" { return PGActivityCatalog.relation(activities ?? { [] }, mayRead: mayAct) }
        let definition: PGCatalogTable?
        switch schema {
        case nil, "pg_catalog": definition = PGCatalogTable.pgCatalog[name]
        case "information_schema": definition = PGCatalogTable.informationSchema[name]
        default: definition = nil
        }
        guard let definition else { return nil }
        let owner = user
        guard schema != "information_schema", !definition.columns.contains(where: { $0.name == "tableoid" }) else {
            return SurfaceRelation(columns: definition.columns) { snapshot in definition.rows(PGCatalogModel.of(snapshot, owner: owner)) }
        }
        // A catalog table's system column `tableoid` (pg_dump pairs it with each row's oid), outside `*`.
        let tableOID = Value.integer(PGCatalogFunctions.catalogRelationOIDs[name] ?? PGCatalogModel.stableOID(name, kind: "catalog"))
        return SurfaceRelation(columns: definition.columns + [SurfaceColumn("tableoid", .integer, hidden: true)]) { snapshot in
            definition.rows(PGCatalogModel.of(snapshot, owner: owner)).map { $0 + [tableOID] }
        }
    }

    func function(named name: String) -> SurfaceFunction? { functions[name] }

    func cast(to typeName: String) -> SurfaceFunction? { PGCatalogFunctions.casts[typeName] }

    func tableFunction(named name: String) -> SurfaceTableFunction? { PGCatalogFunctions.tableFunctions[name] }

    /// `SET check_function_bodies = off` (pg_dump's scripts) lets CREATE FUNCTION skip its check.
    var checksFunctionBodies: Bool {
        let value = settings.read { $0.values["check_function_bodies"] }?.lowercased() ?? "on"
        return !["off", "false", "0", "no"].contains(value)
    }
}

/// One catalog relation: its columns (PostgreSQL's, in PostgreSQL's order) and its rows
/// given as column name → value; columns a row leaves out take their type's empty value
/// (false, 0, NULL), as most of PostgreSQL's flags and counters are for RedDB's objects.
struct PGCatalogTable: Sendable {
    let columns: [SurfaceColumn]
    /// Integer columns whose empty value is NULL rather than 0 (`character_maximum_length`).
    let nullable: Set<String>
    let build: @Sendable (PGCatalogModel) -> [[String: Value]]

    /// `spec`: `name:type` pairs separated by spaces, types `b` boolean, `i` integer (OIDs,
    /// counts), `n` integer that is NULL unless given, `t` text, `a` text array, `ai` integer
    /// array, `v` int2vector and `o` oidvector (integer arrays PostgreSQL prints `1 2`), `f` float,
    /// `nm` PostgreSQL's `name`, text whose characters a subscript picks (`typname[0] = '_'`).
    init(_ spec: String, _ build: @escaping @Sendable (PGCatalogModel) -> [[String: Value]] = { _ in [] }) {
        var nullable: Set<String> = []
        columns = spec.split(separator: " ").map { pair in
            let parts = pair.split(separator: ":")
            let type: DataType
            var element: DataType?
            var surfaceType: String?
            switch parts[1] {
            case "v": type = .array; element = .integer; surfaceType = "int2vector"
            case "o": type = .array; element = .integer; surfaceType = "oidvector"
            case "b": type = .boolean
            case "i": type = .integer
            case "n": type = .integer; nullable.insert(String(parts[0]))
            case "a": type = .array; element = .text
            case "ai": type = .array; element = .integer
            case "f": type = .float
            case "nm": type = .text; surfaceType = "name"
            default: type = .text
            }
            return SurfaceColumn(String(parts[0]), type, element: element, surfaceType: surfaceType)
        }
        self.nullable = nullable
        self.build = build
    }

    func rows(_ model: PGCatalogModel) -> [[Value]] {
        build(model).map { row in
            columns.map { column in
                if let value = row[column.name] { return value }
                switch column.type {
                case .boolean: return .boolean(false)
                case .integer: return nullable.contains(column.name) ? .null : .integer(0)
                default: return .null
                }
            }
        }
    }
}

/// The snapshot's objects as PostgreSQL's catalogs number them: relations (tables, views,
/// indexes) and constraints, with OIDs and column numbers.
struct PGCatalogModel: Sendable {
    struct Column: Sendable {
        var name: String
        var type: DataType
        var notNull: Bool
        var defaultSQL: String?
        var element: DataType?
        /// An identity column's `ALWAYS` or `BY DEFAULT`.
        var identity: String? = nil
        /// What its type name declared (`integer`, `varchar(20)`): its type and typmod here.
        var declared: DeclaredType? = nil
        /// A generated column's expression (`attgenerated` 's', its text in pg_attrdef).
        var generatedSQL: String? = nil
        /// A column of an enum type: that type (its values travel as text).
        var enumType: PGBuiltinType? = nil
        /// An array column's element declaration (`int4[]`, `varchar(3)[]`): its array type and typmod.
        var elementDeclared: DeclaredType? = nil
        /// A column declared with a domain: the domain's type, which catalogs name (its values
        /// travel as the base type, `wireType`, as PostgreSQL sends them).
        var domain: PGBuiltinType? = nil

        /// The type its values travel as (`int8[]` for an `INT[]` column, `int4` for an `integer`
        /// one), or its enum type.
        var wireType: PGBuiltinType {
            if let enumType, element == nil { return enumType }
            if let declared, element == nil, let type = PGBuiltinType.byOID[Int64(PGType(declared).oid)] { return type }
            if let elementDeclared, element != nil, let array = PGArrayCodec.arrayOID(ofDeclared: PGType(elementDeclared).oid),
               let type = PGBuiltinType.byOID[Int64(array)] { return type }
            return PGBuiltinType.of(type, element: element)
        }

        /// `atttypmod`: -1, or the declared length, precision and scale (an array's: its elements').
        var typmod: Int32 { element == nil ? declared?.typmod ?? -1 : elementDeclared?.typmod ?? -1 }
    }

    struct Relation: Sendable {
        var oid: Int64
        var name: String
        /// `r` table, `v` view, `i` index, `S` sequence.
        var kind: String
        var columns: [Column]
        var table: CatalogSnapshot.Table?
        var view: CatalogSnapshot.View?
        var index: IndexDefinition?
        /// For a sequence (`S`): its definition.
        var sequence: SequenceDefinition?
        /// For a sequence: the last value nextval handed out, nil before the first.
        var sequenceLastValue: Int64?
        /// For an index: the table it indexes, and that table's OID.
        var indexedTable: CatalogSnapshot.Table?
        var indexedTableOID: Int64 = 0
        /// For an index: the table's column numbers it covers, in order.
        var indexKeys: [Int64] = []
        var isPrimaryKey = false
        /// Its schema: `public`, a schema CREATE SCHEMA made, or the session's temporary schema
        /// for a temporary table and its indexes and sequences.
        var namespace = PGCatalogModel.publicNamespace
        var schema = PGCatalogModel.schemaName
        var isTemporary = false
        /// What SQL names it by: `t` in public, `app.t` in schema `app` (`regclass` reads it).
        var qualifiedName: String { namespace == PGCatalogModel.publicNamespace || isTemporary ? name : "\(schema).\(name)" }

        /// Its `COMMENT ON` text.
        var comment: String? { table?.schema.comment ?? index?.comment ?? sequence?.comment }

        /// Its own triggers; and PostgreSQL enforces foreign keys with triggers, so a table in one says it has some.
        var hasTriggers: Bool {
            !(table?.schema.triggers ?? []).isEmpty || !(table?.schema.foreignKeys ?? []).isEmpty || !(table?.schema.referencedBy ?? []).isEmpty
        }
    }

    struct Constraint: Sendable {
        var oid: Int64
        var name: String
        /// `p` primary key, `u` unique, `f` foreign key, `c` check.
        var kind: String
        var table: Relation
        var keys: [Int64]
        var index: Relation?
        var foreignKey: ForeignKeyDefinition?
        var referenced: Relation?
        var referencedKeys: [Int64] = []
        var check: String?
        var definition: String
    }

    static let catalogNamespace: Int64 = 11
    static let publicNamespace: Int64 = 2200
    static let informationSchemaNamespace: Int64 = 13_000
    static let databaseOID: Int64 = 16_383
    static let ownerOID: Int64 = 10
    static let schemaName = PostgresCompatibility.schemaName
    static let databaseName = PostgresCompatibility.databaseName

    let owner: String
    /// Enum types (`CREATE TYPE … AS ENUM`), as pg_type lists them (`typtype` 'e'), with their labels.
    private(set) var enumTypes: [(type: PGBuiltinType, labels: [String])] = []
    /// Domains (`CREATE DOMAIN`), as pg_type lists them (`typtype` 'd'): the type, a column of
    /// its base type, and its definition. Their CHECKs are in pg_constraint (`contypid`).
    /// `baseDomain`: the domain one is over, if it is (`typbasetype` names it, as in PostgreSQL).
    private(set) var domains: [(type: PGBuiltinType, base: Column, domain: CatalogSnapshot.Domain, baseDomain: PGBuiltinType?)] = []
    private(set) var relations: [Relation] = []
    /// SQL functions (`CREATE FUNCTION`) as pg_proc lists them (`PGFunctionCatalog`).
    private(set) var functions: [Function] = []
    /// The session's temporary schema (`pg_temp_<session>`), once it has made a temporary table.
    private(set) var temporarySchema: (oid: Int64, name: String)?
    /// The schemas CREATE SCHEMA made, with their OIDs and owners.
    private(set) var schemas: [(oid: Int64, name: String, owner: String?)] = []
    /// The statement's search path (nil: public alone).
    let searchPath: [String]?
    private(set) var constraints: [Constraint] = []
    /// Installed extensions and their versions (`pg_extension`).
    private(set) var extensions: [(name: String, version: String)] = []
    private var byOID: [Int64: Int] = [:]
    private var byName: [String: Int] = [:]
    private var constraintsByOID: [Int64: Int] = [:]

    /// The model of `snapshot`, built once per statement.
    static func of(_ snapshot: CatalogSnapshot, owner: String) -> PGCatalogModel {
        snapshot.memoized("pg-catalog-model:\(owner)") { PGCatalogModel(snapshot, owner: owner) }
    }

    /// Who owns everything: the connected user, or `reddb` for an anonymous connection.
    static func ownerName(_ user: String) -> String { user.isEmpty ? "reddb" : user }

    /// User objects' OIDs: from 16384 (PostgreSQL's first), a million of them (`stableOID`).
    static let userOIDs: ClosedRange<Int64> = 16_384...(16_384 + 999_999)

    /// An object's OID before probing: 16384 + FNV-1a-32("<kind>:<name>") mod 1 000 000, so
    /// the same name keeps its OID from one statement and one connection to the next.
    static func stableOID(_ name: String, kind: String = "relation") -> Int64 {
        var hash: UInt32 = 2_166_136_261
        for byte in "\(kind):\(name)".utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return userOIDs.lowerBound + Int64(hash % UInt32(userOIDs.count))
    }

    init(_ snapshot: CatalogSnapshot, owner: String) {
        self.owner = Self.ownerName(owner)
        searchPath = snapshot.searchPath
        // Probed as relations' are, so no two schemas share an OID.
        var namespaceOIDs: Set<Int64> = []
        schemas = snapshot.schemas.map { schema in
            let oid = Self.unused(Self.stableOID(schema.name, kind: "namespace")) { namespaceOIDs.contains($0) }
            namespaceOIDs.insert(oid)
            return (oid, schema.name, schema.owner)
        }
        let schemaOIDs = Dictionary(schemas.map { ($0.name, $0.oid) }, uniquingKeysWith: { a, _ in a })
        extensions = snapshot.extensions
        enumTypes = snapshot.enumTypes.map { type in
            (PGBuiltinType(oid: Self.stableOID(type.name, kind: "type"), name: type.name, formatted: type.name, length: 4, category: "E",
                           element: 0, array: 0), type.labels)
        }
        let enumTypeByName = Dictionary(enumTypes.map { ($0.type.name, $0.type) }, uniquingKeysWith: { a, _ in a })
        domains = snapshot.domains.map { domain in
            let c = domain.column
            let base = Column(name: c.name, type: c.type, notNull: false, element: c.arrayElement, declared: c.declared,
                              enumType: c.enumType.flatMap { enumTypeByName[$0] }, elementDeclared: c.elementDeclared)
            let wire = base.wireType
            return (PGBuiltinType(oid: Self.stableOID(domain.name, kind: "type"), name: domain.name, formatted: domain.name, length: wire.length,
                                  category: wire.category, element: 0, array: 0), base, domain, nil)
        }
        let domainByName = Dictionary(domains.map { ($0.type.name, $0.type) }, uniquingKeysWith: { a, _ in a })
        for i in domains.indices {
            let base = domains[i].domain.baseName
            domains[i].baseDomain = domainByName[base.hasPrefix("public.") ? String(base.dropFirst(7)) : base]
        }
        /// The type catalogs name for a column so declared: its domain, else the type it travels as.
        func catalogType(_ c: ColumnDefinition) -> PGBuiltinType {
            c.domain.flatMap { domainByName[$0] } ?? Column(name: c.name, type: c.type, notNull: false, element: c.arrayElement, declared: c.declared,
                                                            enumType: c.enumType.flatMap { enumTypeByName[$0] }, elementDeclared: c.elementDeclared).wireType
        }
        var functionOIDs: Set<Int64> = []
        functions = snapshot.functions.map { f in
            let identity = f.arguments.map { catalogType($0).name }.joined(separator: ",")
            let oid = Self.unused(Self.stableOID("\(f.spec.name)(\(identity))", kind: "function")) { functionOIDs.contains($0) }
            functionOIDs.insert(oid)
            return Function(oid: oid, definition: f, argumentTypes: f.arguments.map(catalogType), resultTypes: f.results.map(catalogType))
        }
        temporarySchema = snapshot.temporarySchema.map { (Self.stableOID($0, kind: "namespace"), $0) }
        let temporarySchema = self.temporarySchema
        /// Places a relation named `app.t` (an index: of table `app.t`, `of`) in schema `app` as
        /// `t`, when that schema exists (`SchemaCatalog`).
        func inSchema(_ relation: Relation, of physical: String) -> Relation {
            guard let dot = physical.firstIndex(of: "."), let oid = schemaOIDs[String(physical[..<dot])] else { return relation }
            var relation = relation
            relation.schema = String(physical[..<dot])
            relation.namespace = oid
            if relation.name == physical { relation.name = String(physical[physical.index(after: dot)...]) }
            return relation
        }
        /// Places a temporary table's relation (and its indexes and sequences) in the temporary
        /// schema, under an OID of its own: a permanent table of its name keeps its own.
        func placed(_ relation: Relation, temporary: Bool, of physical: String? = nil) -> Relation {
            guard temporary, let temporarySchema else { return inSchema(relation, of: physical ?? relation.name) }
            var relation = relation
            relation.isTemporary = true
            relation.namespace = temporarySchema.oid
            relation.schema = temporarySchema.name
            relation.oid = Self.stableOID("pg_temp.\(relation.name)", kind: relation.kind == "r" ? "relation" : "relation-\(relation.kind)")
            return relation
        }
        // Tables by `key`: a temporary table's name and a permanent namesake's apart.
        func key(_ name: String, temporary: Bool) -> String { temporary ? "pg_temp.\(name)" : name }
        var tables: [String: Relation] = [:]
        for table in snapshot.tables {
            let columns = table.columns.map {
                Column(name: $0.name, type: $0.type, notNull: $0.notNull || $0.primaryKey, defaultSQL: $0.defaultSQL, element: $0.arrayElement,
                       identity: $0.identity, declared: $0.declared, generatedSQL: $0.generatedSQL, enumType: $0.enumType.flatMap { enumTypeByName[$0] },
                       elementDeclared: $0.elementDeclared, domain: $0.domain.flatMap { domainByName[$0] })
            }
            // A materialized view is a table that keeps its query (relkind 'm').
            let kind = table.schema.materializedQuery == nil ? "r" : "m"
            tables[key(table.name, temporary: table.temporary)] = add(placed(Relation(oid: PGCatalogModel.stableOID(table.name), name: table.name, kind: kind,
                                                                                       columns: columns, table: table), temporary: table.temporary))
        }
        for view in snapshot.views {
            // Described as the query's columns are (`integer`, `varchar(20)`), as PostgreSQL's are.
            let columns = view.columns.map {
                Column(name: $0.name, type: $0.type, notNull: false, element: $0.element, declared: $0.surfaceType.flatMap(DeclaredType.init(surfaceName:)))
            }
            add(placed(Relation(oid: PGCatalogModel.stableOID(view.name), name: view.name, kind: "v", columns: columns, view: view), temporary: false))
        }
        for sequence in snapshot.sequences {
            let columns = [Column(name: "last_value", type: .integer, notNull: true), Column(name: "log_cnt", type: .integer, notNull: true),
                           Column(name: "is_called", type: .boolean, notNull: true)]
            add(placed(Relation(oid: PGCatalogModel.stableOID(sequence.name), name: sequence.name, kind: "S", columns: columns,
                                sequence: sequence.definition, sequenceLastValue: sequence.lastValue), temporary: sequence.temporary))
        }
        var indexes: [String: [String: Relation]] = [:]  // table → index name → relation
        for table in snapshot.tables {
            for index in table.schema.indexes {
                let keys = index.columnIDs.map { Self.attnum(of: $0, in: table) }
                let names = index.columnIDs.compactMap { id in table.columns.first { $0.id == id } }
                let primary = index.primaryKey == true || (index.isConstraint && names.count == 1 && names[0].primaryKey)
                // An expression part is a column of the index named as PostgreSQL names it (its
                // function, or `expr`); its type is not known without binding, so text.
                let columns = index.columnIDs.enumerated().map { i, id -> Column in
                    if let column = table.columns.first(where: { $0.id == id }) {
                        return Column(name: column.name, type: column.type, notNull: false, element: column.arrayElement, declared: column.declared)
                    }
                    let text = index.expressions?[i] ?? ""
                    return Column(name: IndexKeySpec.name(ofExpression: text), type: .text, notNull: false)
                }
                let tableKey = key(table.name, temporary: table.temporary)
                indexes[tableKey, default: [:]][index.name] = add(placed(Relation(
                    oid: PGCatalogModel.stableOID(index.name), name: index.name, kind: "i", columns: columns, index: index,
                    indexedTable: table, indexedTableOID: tables[tableKey]?.oid ?? 0, indexKeys: keys, isPrimaryKey: primary), temporary: table.temporary,
                    of: table.name))
            }
        }
        var constraintOIDs: Set<Int64> = []
        func addConstraint(_ constraint: Constraint) {
            var constraint = constraint
            constraint.oid = Self.unused(constraint.oid) { constraintOIDs.contains($0) }
            constraintOIDs.insert(constraint.oid)
            constraintsByOID[constraint.oid] = constraints.count
            constraints.append(constraint)
        }
        for table in snapshot.tables {
            let tableKey = key(table.name, temporary: table.temporary)
            guard let own = tables[tableKey] else { continue }
            for index in table.schema.indexes where index.isConstraint {
                guard let relation = indexes[tableKey]?[index.name] else { continue }
                let list = relation.columns.map { SQLIdentifier.quoted($0.name) }.joined(separator: ", ")
                addConstraint(Constraint(oid: Self.constraintOID(tableKey, index.name), name: index.name, kind: relation.isPrimaryKey ? "p" : "u",
                                         table: own, keys: relation.indexKeys, index: relation,
                                         definition: relation.isPrimaryKey ? "PRIMARY KEY (\(list))"
                                            : "UNIQUE \(index.nullsNotDistinct == true ? "NULLS NOT DISTINCT " : "")(\(list))"))
            }
            for check in table.schema.checks ?? [] {
                addConstraint(Constraint(oid: Self.constraintOID(tableKey, check.name), name: check.name, kind: "c", table: own,
                                         keys: Self.columnsNamed(in: check.sql, table), check: check.sql, definition: "CHECK (\(check.sql))"))
            }
            for fk in table.schema.foreignKeys ?? [] {
                let parentKey = key(fk.referencedTable, temporary: table.temporary)  // both temporary, or both not
                let parent = tables[parentKey]
                let parentTable = parent?.table
                let keys = fk.columnIDs.map { Self.attnum(of: $0, in: table) }
                let referencedKeys = fk.referencedColumnIDs.map { id in parentTable.map { Self.attnum(of: id, in: $0) } ?? 0 }
                // The parent's unique index the constraint relies on, as PostgreSQL records it.
                let parentIndex = parentTable?.schema.indexes.first { $0.unique && $0.columnIDs == fk.referencedColumnIDs }
                addConstraint(Constraint(oid: Self.constraintOID(tableKey, fk.name), name: fk.name, kind: "f", table: own, keys: keys,
                                         index: parentIndex.flatMap { indexes[parentKey]?[$0.name] }, foreignKey: fk,
                                         referenced: parent, referencedKeys: referencedKeys,
                                         definition: Self.definition(of: fk, childColumns: table.columns, parentColumns: parentTable?.columns)))
            }
        }
    }

    /// Adds a relation under its hashed OID, or the next free one when two names hash alike:
    /// OIDs must be unique, names need not be (an index may share a table's name, and two
    /// tables' indexes each other's). `relation(named:)` finds the first, tables first.
    @discardableResult
    private mutating func add(_ relation: Relation) -> Relation {
        var relation = relation
        let taken = byOID
        relation.oid = Self.unused(relation.oid) { taken[$0] != nil }
        byOID[relation.oid] = relations.count
        if byName[relation.qualifiedName] == nil { byName[relation.qualifiedName] = relations.count }
        relations.append(relation)
        return relation
    }

    /// `oid`, or the next OID after it (wrapping within the user range) that is not taken.
    static func unused(_ oid: Int64, _ isTaken: (Int64) -> Bool) -> Int64 {
        var candidate = oid
        while isTaken(candidate) { candidate = candidate >= userOIDs.upperBound ? userOIDs.lowerBound : candidate + 1 }
        return candidate
    }

    func relation(oid: Int64) -> Relation? { byOID[oid].map { relations[$0] } }
    func relation(named name: String) -> Relation? { byName[name].map { relations[$0] } }

    /// The relation a `regclass` text means (`t`, `"T"`, `app.t`, `"app"."t"`, `public.t`): a
    /// qualified name exactly, a bare one as the search path finds it, the session's temporary
    /// tables first. Also returns the name read, for PostgreSQL's own catalogs.
    func relation(written text: String) throws -> (relation: Relation?, name: String) {
        let (name, qualified) = try RelationNameText.read(text)
        if qualified {
            let (bare, temporaryOnly) = TemporaryNamespace.unqualified(name)
            if temporaryOnly { return (relation(named: bare).flatMap { $0.isTemporary ? $0 : nil }, bare) }
            return (relation(named: name), name)
        }
        if let first = relation(named: name), first.isTemporary { return (first, name) }
        for schema in searchPath ?? [Self.schemaName] {
            if let found = relation(named: schema == Self.schemaName ? name : "\(schema).\(name)") { return (found, name) }
        }
        return (nil, name)
    }

    /// Every schema pg_namespace lists: PostgreSQL's own, public, the session's temporary one
    /// and those CREATE SCHEMA made.
    var namespaces: [(oid: Int64, name: String)] {
        [(Self.catalogNamespace, "pg_catalog"), (Self.publicNamespace, Self.schemaName), (Self.informationSchemaNamespace, "information_schema")]
            + [temporarySchema].compactMap { $0 } + schemas.map { ($0.oid, $0.name) }
    }

    /// pg_table_is_visible: whether `relation`'s bare name finds it, the session's temporary
    /// schema first, then the search path's schemas in order (psql's `\d` lists what is).
    func isVisible(_ relation: Relation) -> Bool {
        if relation.isTemporary { return true }
        if let first = self.relation(named: relation.name), first.isTemporary { return false }
        for schema in searchPath ?? [Self.schemaName] {
            if schema == relation.schema { return true }
            if byName[schema == Self.schemaName ? relation.name : "\(schema).\(relation.name)"] != nil { return false }
        }
        return false
    }
    func constraint(oid: Int64) -> Constraint? { constraintsByOID[oid].map { constraints[$0] } }

    /// The domains' CHECK constraints, as pg_constraint lists them (`contypid`, no `conrelid`).
    var domainConstraints: [(oid: Int64, name: String, domain: PGBuiltinType, sql: String, validated: Bool)] {
        domains.flatMap { type, _, domain, _ in
            domain.checks.map { (Self.stableOID("\(domain.name).\($0.name)", kind: "domain-constraint"), $0.name, type, $0.sql, $0.validated) }
        }
    }

    /// A type's name by OID, for a type no built-in one has: an enum type or a domain.
    func userTypeName(oid: Int64) -> String? {
        enumTypes.first { $0.type.oid == oid }?.type.name ?? domains.first { $0.type.oid == oid }?.type.name
    }

    /// `COMMENT ON` texts as pg_description holds them: the object's OID, and the column
    /// number for a column's (0 for the object's own).
    var descriptions: [(objoid: Int64, objsubid: Int64, text: String)] {
        relations.flatMap { r in
            [r.comment.map { (r.oid, Int64(0), $0) }].compactMap { $0 }
                + (r.table?.columns ?? []).enumerated().compactMap { i, column in column.comment.map { (r.oid, Int64(i + 1), $0) } }
        }
    }

    /// obj_description / col_description: the comment on `oid` (its column `subid`), if any.
    /// `catalog`: `pg_proc` for a function's, `pg_class` for a relation's (nil: either).
    func description(of oid: Int64, subid: Int64 = 0, catalog: String? = nil) -> String? {
        if subid == 0, catalog != "pg_class", let f = function(oid: oid) { return f.spec.comment }
        guard catalog != "pg_proc", let r = relation(oid: oid) else { return nil }
        if subid == 0 { return r.comment }
        guard let columns = r.table?.columns, subid >= 1, subid <= columns.count else { return nil }
        return columns[Int(subid - 1)].comment
    }

    static func constraintOID(_ table: String, _ name: String) -> Int64 { PGCatalogModel.stableOID("\(table).\(name)", kind: "constraint") }

    static func attnum(of id: UInt16, in table: CatalogSnapshot.Table) -> Int64 {
        table.columns.firstIndex { $0.id == id }.map { Int64($0 + 1) } ?? 0
    }

    /// The table's columns a CHECK's text names (PostgreSQL records them in `conkey`).
    static func columnsNamed(in sql: String, _ table: CatalogSnapshot.Table) -> [Int64] {
        let words = Set(sql.lowercased().split { !($0.isLetter || $0.isNumber || $0 == "_") }.map(String.init))
        return table.columns.enumerated().filter { words.contains($0.element.name.lowercased()) }.map { Int64($0.offset + 1) }
    }

    /// `pg_get_constraintdef` of a foreign key: `FOREIGN KEY (a) REFERENCES t(id) ON DELETE CASCADE`
    /// (psql's `\d` prints it in its foreign-key footers).
    /// A relation's name as SQL writes it: `t`, or `app.t` for one in schema `app`.
    static func qualified(_ physical: String) -> String {
        guard let dot = physical.firstIndex(of: ".") else { return SQLIdentifier.quoted(physical) }
        return SQLIdentifier.quoted(String(physical[..<dot])) + "." + SQLIdentifier.quoted(String(physical[physical.index(after: dot)...]))
    }

    static func definition(of fk: ForeignKeyDefinition, childColumns: [ColumnDefinition], parentColumns: [ColumnDefinition]?) -> String {
        func names(_ ids: [UInt16], _ columns: [ColumnDefinition]?) -> String {
            ids.map { id in columns?.first { $0.id == id }.map { SQLIdentifier.quoted($0.name) } ?? "?" }.joined(separator: ", ")
        }
        var text = "FOREIGN KEY (\(names(fk.columnIDs, childColumns))) REFERENCES \(qualified(fk.referencedTable))(\(names(fk.referencedColumnIDs, parentColumns)))"
        if fk.matchFull == true { text += " MATCH FULL" }
        if fk.onUpdate != .noAction { text += " ON UPDATE \(fk.onUpdate.rawValue)" }
        if fk.onDelete != .noAction { text += " ON DELETE \(fk.onDelete.rawValue)" }
        if fk.deferrable == true { text += " DEFERRABLE" }
        if fk.initiallyDeferred == true { text += " INITIALLY DEFERRED" }
        return text
    }

    /// `pg_get_indexdef`: `CREATE UNIQUE INDEX name ON public.t USING btree (a, lower(b)) WHERE (c IS NULL)`.
    /// Expressions print as written: a function call bare, anything else in two pairs of
    /// parentheses (PostgreSQL's deparser puts one around an operator expression, the key list
    /// one more); `pretty` (pg_get_indexdef's third argument, psql's `\d`) drops the deparser's
    /// own pair, and the one around the WHERE.
    static func indexDefinition(_ index: Relation, pretty: Bool = false) -> String {
        guard let definition = index.index, let table = index.indexedTable else { return "" }
        let columns = index.columns.enumerated().map { i, column -> String in
            guard let written = definition.expressions?[i] ?? nil else { return SQLIdentifier.quoted(column.name) }
            // Parentheses the expression was written in are dropped first, so a definition read
            // back (pg_dump, then a restore) prints as it did, not one pair deeper each time.
            let text = withoutEnclosingParentheses(written)
            return column.name != "expr" ? text : pretty ? "(\(text))" : "((\(text)))"
        }.joined(separator: ", ")
        var sql = "CREATE \(definition.unique ? "UNIQUE " : "")INDEX \(SQLIdentifier.quoted(index.name)) ON \(SQLIdentifier.quoted(index.schema)).\(SQLIdentifier.quoted(table.name.hasPrefix(index.schema + ".") ? String(table.name.dropFirst(index.schema.count + 1)) : table.name)) USING \(definition.method.rawValue) (\(columns))"
        if definition.nullsNotDistinct == true { sql += " NULLS NOT DISTINCT" }
        if let written = definition.predicate {
            let predicate = withoutEnclosingParentheses(written)
            sql += pretty ? " WHERE \(predicate)" : " WHERE (\(predicate))"
        }
        return sql
    }

    /// `text` without pairs of parentheses around the whole of it: `((a + b))` → `a + b`, while
    /// `(a) + (b)` stays. Quotes are respected.
    static func withoutEnclosingParentheses(_ text: String) -> String {
        var text = text.trimmingCharacters(in: .whitespaces)
        while text.hasPrefix("("), text.hasSuffix(")") {
            var depth = 0, quote: Character?, closesEarly = false
            for (offset, c) in text.enumerated() {
                if let q = quote { if c == q { quote = nil }; continue }
                if c == "'" || c == "\"" { quote = c; continue }
                if c == "(" { depth += 1 } else if c == ")" {
                    depth -= 1
                    if depth == 0, offset < text.count - 1 { closesEarly = true; break }
                }
            }
            guard !closesEarly else { break }
            text = String(text.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
        }
        return text
    }

    /// pg_constraint's one-letter action codes.
    static func actionCode(_ action: ForeignKeyDefinition.Action) -> String {
        switch action {
        case .noAction: return "a"
        case .restrict: return "r"
        case .cascade: return "c"
        case .setNull: return "n"
        case .setDefault: return "d"
        }
    }
}
