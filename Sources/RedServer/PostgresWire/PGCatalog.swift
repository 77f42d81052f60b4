import RedCore
import RedDB
import RedQuery

/// Answers psql's `\d table` (its five catalog queries), `\l` and `\dn` from RedDB's catalog,
/// exactly as psql reads them: by column position, booleans compared with `"t"`. Everything
/// lives in schema `public` of database `reddb`. Every other query that names a catalog
/// (psql's `\dt`, `\dv`, `\di` … lists among them) is ordinary SQL, run by the engine over
/// `PGSystemCatalog`'s relations.
/// Relation OIDs are stable: 16384 + FNV-1a-32("relation:<name>") mod 1 000 000.
struct PGCatalog {
    let collections: [CollectionInfo]
    let settings: PGSettings
    let user: String
    /// The query being answered, original case (column aliases keep their spelling).
    var sql = ""

    static let schemaName = PostgresCompatibility.schemaName
    static let databaseName = PostgresCompatibility.databaseName
    var owner: String { user.isEmpty ? "reddb" : user }

    static func mentionsCatalog(_ sql: String) -> Bool {
        // Every plain statement asks; almost none names a catalog. One pass over the bytes
        // answers those without lowercasing the text and a dozen Foundation searches.
        guard containsIgnoringASCIICase(sql.utf8, "pg_") || containsIgnoringASCIICase(sql.utf8, "information_schema.") else { return false }
        let lower = sql.lowercased()
        return ["pg_catalog.", "information_schema.", "pg_class", "pg_namespace", "pg_attribute", "pg_database", "pg_type",
                "pg_index", "pg_tables", "pg_settings", "pg_roles", "pg_user"].contains { lower.contains($0) }
    }

    /// Whether `text` contains `lowercaseNeedle` (ASCII), ignoring ASCII case.
    static func containsIgnoringASCIICase(_ text: String.UTF8View, _ lowercaseNeedle: StaticString) -> Bool {
        let needle = UnsafeBufferPointer(start: lowercaseNeedle.utf8Start, count: lowercaseNeedle.utf8CodeUnitCount)
        guard let first = needle.first else { return true }
        var window = text[...]
        while let start = window.firstIndex(where: { $0 | 0x20 == first }) {
            var match = true
            var position = start
            for expected in needle {
                guard position < window.endIndex else { return false }
                let byte = window[position]
                // Letters compare with their case bit set; every other byte exactly.
                if byte != expected, !(expected >= 0x61 && expected <= 0x7A && byte | 0x20 == expected) {
                    match = false
                    break
                }
                position = window.index(after: position)
            }
            if match { return true }
            window = window[window.index(after: start)...]
        }
        return false
    }

    /// psql's catalog queries, each answered exactly as psql reads it: a test on the
    /// lower-cased text and the answer. Every other catalog query is ordinary SQL over
    /// `PGSystemCatalog`'s relations.
    private static let routes: [(matches: @Sendable (String) -> Bool, answer: @Sendable (inout PGCatalog, String) throws -> QueryResult)] = [
        ({ $0.contains("select c.oid,") && $0.contains("c.relname") && $0.contains("from pg_catalog.pg_class c") }, { try $0.relationLookup($1) }),
        ({ $0.contains("select c.relchecks, c.relkind") }, { try $0.relationFlags($1) }),
        ({ $0.contains("from pg_catalog.pg_constraint r") && $0.contains("r.contype = 'c'") }, { $0.checkConstraints($1) }),
        ({ $0.contains("from pg_catalog.pg_attribute a") && $0.contains("a.attrelid =") }, { try $0.attributes($1) }),
        ({ $0.contains("from pg_catalog.pg_constraint r") && $0.contains("r.contype = 'f'") }, { $0.foreignKeys($1) }),
        ({ $0.contains("from pg_catalog.pg_constraint c") && $0.contains("confrelid in") }, { $0.referencingForeignKeys($1) }),
        ({ $0.contains("from pg_catalog.pg_trigger t") }, { c, _ in c.empty(["tgname", "pg_get_triggerdef", "tgenabled", "tgisinternal", "parent"]) }),
        ({ $0.contains("pg_catalog.pg_index i") && $0.contains("i.indisprimary") }, { try $0.indexes($1) }),
        ({ $0.contains("from pg_catalog.pg_policy pol") }, { c, _ in c.empty(["polname", "polpermissive", "array_to_string", "pg_get_expr", "pg_get_expr", "cmd"]) }),
        ({ $0.contains("from pg_catalog.pg_statistic_ext") }, { c, _ in
            c.empty(["oid", "stxrelid", "nsp", "stxname", "columns", "ndist_enabled", "deps_enabled", "mcv_enabled", "stxstattarget"]) }),
        ({ $0.contains("from pg_catalog.pg_publication p") }, { c, _ in c.empty(["pubname", "?column?", "?column?"]) }),
        ({ $0.contains("pg_catalog.pg_inherits i") }, { c, lower in
            lower.contains("i.inhrelid =") ? c.empty(["oid"]) : c.empty(["oid", "relkind", "inhdetachpending", "pg_get_expr"]) }),
        ({ $0.contains("from pg_catalog.pg_database d") }, { c, _ in try c.aliased(c.sql, rows: [c.databaseRow]) }),
        ({ $0.contains("from pg_catalog.pg_namespace n") && $0.contains("as \"name\"") }, { c, _ in
            try c.aliased(c.sql, rows: [["name": .text(Self.schemaName), "owner": .text(c.owner)]]) }),
    ]

    /// Whether `sql` is one of psql's catalog queries this type answers itself.
    static func answersItself(_ sql: String) -> Bool {
        guard mentionsCatalog(sql) else { return false }
        let lower = sql.lowercased()
        return routes.contains { $0.matches(lower) }
    }

    mutating func answer(_ sql: String) throws -> QueryResult {
        let lower = sql.lowercased()
        self.sql = sql
        guard let route = Self.routes.first(where: { $0.matches(lower) }) else {
            let preview = sql.prefix(80).split(separator: "\n").joined(separator: " ")
            throw RedError(.featureNotSupported, "this PostgreSQL catalog query is not emulated by RedDB: \(preview)…")
        }
        return try route.answer(&self, lower)
    }

    // MARK: Relations

    struct Relation {
        var name: String
        var kind: String  // "r" table, "i" index
        var table: CollectionInfo
        var index: IndexDefinition?
    }

    var relations: [Relation] {
        var out: [Relation] = []
        for c in collections {
            out.append(Relation(name: c.name, kind: "r", table: c, index: nil))
            for index in c.schema.indexes { out.append(Relation(name: index.name, kind: "i", table: c, index: index)) }
        }
        return out
    }

    static func oid(_ name: String, kind: String = "relation") -> Int64 {
        var hash: UInt32 = 2_166_136_261
        for byte in "\(kind):\(name)".utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return 16_384 + Int64(hash % 1_000_000)
    }

    /// psql's name pattern (`relname OPERATOR(pg_catalog.~) '^(users)$'`), or nil when absent.
    static func namePattern(_ lower: String) throws -> PGNamePattern? {
        guard let start = lower.range(of: "relname operator(pg_catalog.~) '") else { return nil }
        let rest = lower[start.upperBound...]
        guard let end = rest.firstIndex(of: "'") else { return nil }
        return try PGNamePattern(String(rest[..<end]))
    }

    /// The `'NNN'` literal of `<column> = 'NNN'`.
    static func oidLiteral(after marker: String, in lower: String) -> Int64? {
        guard let start = lower.range(of: marker) else { return nil }
        let digits = lower[start.upperBound...].drop { $0 == " " || $0 == "'" }.prefix { $0.isNumber }
        return Int64(digits)
    }

    private func matching(_ lower: String) throws -> [Relation] {
        guard let pattern = try Self.namePattern(lower) else { return relations }
        return relations.filter { pattern.matches($0.name) }
    }

    /// `\d NAME` step 1: oid, schema and name of every matching relation.
    func relationLookup(_ lower: String) throws -> QueryResult {
        let rows = try matching(lower).filter { $0.kind == "r" }.sorted { $0.name < $1.name }
            .map { [Value.integer(Self.oid($0.name)), .text(Self.schemaName), .text($0.name)] }
        return PGCatalog.table(["oid", "nspname", "relname"], rows: rows)
    }

    private func relation(oid: Int64?) -> Relation? {
        guard let oid else { return nil }
        return relations.first { Self.oid($0.name) == oid }
    }

    /// `\d NAME` step 2: the table's flags (relkind, has indexes …), exactly one row.
    func relationFlags(_ lower: String) throws -> QueryResult {
        let names = ["relchecks", "relkind", "relhasindex", "relhasrules", "relhastriggers", "relrowsecurity", "relforcerowsecurity",
                     "relhasoids", "relispartition", "?column?", "reltablespace", "reloftype", "relpersistence", "relreplident", "amname"]
        guard let r = relation(oid: Self.oidLiteral(after: "c.oid = ", in: lower)), r.kind == "r" else {
            return PGCatalog.table(names, rows: [])
        }
        let hasIndex = !r.table.schema.indexes.isEmpty
        // psql asks for foreign keys only of tables with triggers (PostgreSQL enforces them with triggers).
        let hasTriggers = !(r.table.schema.foreignKeys ?? []).isEmpty || !(r.table.schema.referencedBy ?? []).isEmpty
        let row: [Value] = [.text(String(r.table.schema.checks?.count ?? 0)), .text("r"), .text(hasIndex ? "t" : "f"), .text("f"), .text(hasTriggers ? "t" : "f"),
                            .text("f"), .text("f"),
                            .text("f"), .text("f"), .text(""), .text("0"), .text(""), .text("p"), .text("d"), .text("heap")]
        return PGCatalog.table(names, rows: [row])
    }

    /// `\d NAME`'s "Check constraints:" (asked when relchecks > 0): name and definition, by name.
    func checkConstraints(_ lower: String) -> QueryResult {
        let checks = relation(oid: Self.oidLiteral(after: "r.conrelid = ", in: lower))?.table.schema.checks ?? []
        return PGCatalog.table(["conname", "pg_get_constraintdef"],
                               rows: checks.sorted { $0.name < $1.name }.map { [.text($0.name), .text("CHECK (\($0.sql))")] })
    }

    /// `\d NAME`'s "Foreign-key constraints:": the table's own, by name.
    func foreignKeys(_ lower: String) -> QueryResult {
        let table = relation(oid: Self.oidLiteral(after: "r.conrelid = ", in: lower))?.table
        let rows = (table?.schema.foreignKeys ?? []).sorted { $0.name < $1.name }.map { fk -> [Value] in
            [.text("t"), .text(fk.name), .text(definition(of: fk, in: table!)), .text(table!.name)]
        }
        return PGCatalog.table(["sametable", "conname", "condef", "ontable"], rows: rows)
    }

    /// `\d NAME`'s "Referenced by:": other tables' constraints naming this one, by name.
    func referencingForeignKeys(_ lower: String) -> QueryResult {
        let table = relation(oid: Self.oidLiteral(after: "pg_partition_ancestors(", in: lower))?.table
        let rows = (table?.schema.referencedBy ?? []).sorted { $0.constraint < $1.constraint }.compactMap { reference -> [Value]? in
            guard let child = collections.first(where: { $0.name == reference.table }),
                  let fk = child.schema.foreignKeys?.first(where: { $0.name == reference.constraint }) else { return nil }
            return [.text(fk.name), .text(child.name), .text(definition(of: fk, in: child))]
        }
        return PGCatalog.table(["conname", "ontable", "condef"], rows: rows)
    }

    /// `pg_get_constraintdef` of a foreign key, as the catalogs give it.
    private func definition(of fk: ForeignKeyDefinition, in child: CollectionInfo) -> String {
        let parent = collections.first { $0.name == fk.referencedTable }?.schema
        return PGCatalogModel.definition(of: fk, childColumns: child.schema.columns, parentColumns: parent?.columns)
    }

    /// `\d NAME` step 3: the columns.
    func attributes(_ lower: String) throws -> QueryResult {
        let verbose = lower.contains("a.attstorage")
        var names = ["attname", "format_type", "pg_get_expr", "attnotnull", "attcollation", "attidentity", "attgenerated"]
        if verbose { names += ["attstorage", "attcompression", "attstattarget", "col_description"] }
        guard let r = relation(oid: Self.oidLiteral(after: "a.attrelid = ", in: lower)) else { return PGCatalog.table(names, rows: []) }
        let rows = r.table.schema.describedColumns.map { c -> [Value] in
            var row: [Value] = [.text(c.name), .text(Self.formatType(c.type)), c.defaultSQL.map { .text($0) } ?? .null,
                                .text(c.notNull || c.primaryKey ? "t" : "f"), .null, .text(""), .text("")]
            if verbose { row += [.text("x"), .text(""), .null, .null] }
            return row
        }
        return PGCatalog.table(names, rows: rows)
    }

    /// `\d NAME` step 4: indexes with their definitions and constraints.
    func indexes(_ lower: String) throws -> QueryResult {
        let names = ["relname", "indisprimary", "indisunique", "indisclustered", "indisvalid", "pg_get_indexdef",
                     "pg_get_constraintdef", "contype", "condeferrable", "condeferred", "indisreplident", "reltablespace"]
        guard let r = relation(oid: Self.oidLiteral(after: "c.oid = ", in: lower)) else { return PGCatalog.table(names, rows: []) }
        let columns = r.table.schema.columns
        let rows = r.table.schema.indexes.map { index -> (Bool, String, [Value]) in
            let indexColumns = index.columnIDs.compactMap { id in columns.first { $0.id == id }?.name }
            let primary = index.primaryKey == true
                || (index.isConstraint && indexColumns.count == 1 && columns.first { $0.name == indexColumns[0] }?.primaryKey == true)
            let list = indexColumns.joined(separator: ", ")
            let definition = "CREATE \(index.unique ? "UNIQUE " : "")INDEX \(index.name) ON \(r.table.name) USING \(index.method.rawValue) (\(list))"
            let constraint: Value = index.isConstraint ? .text(primary ? "PRIMARY KEY (\(list))" : "UNIQUE (\(list))") : .null
            let contype: Value = index.isConstraint ? .text(primary ? "p" : "u") : .null
            let flag: Value = index.isConstraint ? .text("f") : .null
            return (primary, index.name, [.text(index.name), .text(primary ? "t" : "f"), .text(index.unique ? "t" : "f"), .text("f"), .text("t"),
                                          .text(definition), constraint, contype, flag, flag, .text("f"), .text("0")])
        }
        let sorted = rows.sorted { ($0.0 ? 0 : 1, $0.1) < ($1.0 ? 0 : 1, $1.1) }.map(\.2)
        return PGCatalog.table(names, rows: sorted)
    }

    static func formatType(_ type: DataType) -> String {
        switch type {
        case .integer: return "bigint"
        case .float: return "double precision"
        case .decimal: return "numeric"
        case .boolean: return "boolean"
        case .blob: return "bytea"
        case .json: return "jsonb"
        case .timestamp: return "timestamp without time zone"
        case .any: return "text"
        default: return type.rawValue.lowercased()
        }
    }

    // MARK: Databases, schemas, information_schema

    var databaseRow: [String: Value] {
        ["name": .text(Self.databaseName), "owner": .text(owner), "encoding": .text("UTF8"), "collate": .text("C"), "ctype": .text("C"),
         "icu locale": .null, "locale provider": .text("libc"), "access privileges": .null, "size": .text("0 bytes"),
         "tablespace": .text("pg_default"), "description": .null]
    }

    // MARK: Result building

    /// A result whose columns are the query's `AS "alias"` names in order, filled from `rows`
    /// by lower-cased alias (unknown aliases are NULL).
    func aliased(_ sql: String, rows: [[String: Value]]) throws -> QueryResult {
        let aliasPattern = try Regex(#"(?i)\s+as\s+"([^"]+)""#)
        let aliases = sql.matches(of: aliasPattern).compactMap { $0.output[1].substring.map(String.init) }
        return PGCatalog.table(aliases, rows: rows.map { row in aliases.map { row[$0.lowercased()] ?? .null } })
    }

    func empty(_ names: [String]) -> QueryResult { PGCatalog.table(names, rows: []) }

    static func table(_ names: [String], rows: [[Value]]) -> QueryResult {
        QueryResult(columns: names.map { ResultColumn(name: $0, type: .text) }, rows: rows, statementType: "select",
                    commandTag: "SELECT \(rows.count)")
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
