import RedCore

/// Schemas (`CREATE SCHEMA app`): PostgreSQL's namespaces for tables, views and sequences.
///
/// A relation in schema `app` is the collection (view, sequence) named `app.t`; one in
/// `public` keeps its bare name `t`, as every relation had before schemas existed. So a
/// qualified name is already the relation's own name, foreign keys, owned sequences and
/// change feeds keep naming it as before, and the other surfaces (RedWire, HTTP, MCP) reach
/// `app.t` by that name. A schema itself is one catalog record (`schema/<name>`), written in
/// the creating transaction, so CREATE SCHEMA rolls back like any DDL.
///
/// `"app.t"` quoted in one identifier is the same name as `app.t`: CREATE SCHEMA refuses a
/// schema whose name leads existing relation names (`app.…`), so the two never name two
/// relations.
///
/// Unqualified names are looked up along the session's search path (`Transaction.searchPath`,
/// set from PostgreSQL's `search_path`): the first schema on it holding the name wins, after
/// the session's temporary tables; a new relation goes into the first schema on it that
/// exists. Without a path (every surface but PG-wire, and PG-wire's default `"$user",
/// public` when no schema is named after the user) that is `public` alone, as before.
public enum SchemaCatalog {
    /// The schema every database has, whose relations keep their bare names.
    public static let publicSchema = "public"
    /// Schemas that exist without a record: PostgreSQL's own, which hold no user relation.
    public static let builtIn: Set<String> = ["public", "pg_catalog", "information_schema"]
    /// The longest schema name (PostgreSQL's identifier limit).
    public static let maxNameBytes = 63

    static let prefix = Array("schema/".utf8)
    static func key(_ name: String) -> [UInt8] { prefix + Array(name.utf8) }

    /// One schema as stored: who owns it (PostgreSQL's `AUTHORIZATION`), for pg_namespace.
    public struct Schema: Sendable, Equatable {
        public var name: String
        public var owner: String?
    }

    public static func exists(_ name: String, _ tx: Transaction) throws -> Bool {
        if builtIn.contains(name) { return true }
        return try tx.catalogGet(key(name)) != nil
    }

    /// The schemas created with CREATE SCHEMA, by name.
    public static func all(_ tx: Transaction) throws -> [Schema] {
        let cursor = try tx.catalogScan(.prefix(prefix))
        var schemas: [Schema] = []
        while let (key, value) = try cursor.next() {
            let name = String(decoding: key.dropFirst(prefix.count), as: UTF8.self)
            let owner = value.isEmpty ? nil : String(decoding: value, as: UTF8.self)
            schemas.append(Schema(name: name, owner: owner))
        }
        return schemas
    }

    /// Records a new schema. The caller has checked that no schema or relation prefix of its
    /// name exists (`relationsNamed(inSchema:)`).
    public static func create(_ name: String, owner: String?, _ tx: Transaction) throws {
        guard !name.isEmpty, name.utf8.count <= maxNameBytes else {
            throw RedError(.invalidArgument, "schema names are 1 to \(maxNameBytes) bytes of UTF-8", condition: "42602")
        }
        guard !name.hasPrefix("pg_") else {
            throw RedError(.invalidArgument, "unacceptable schema name \"\(name)\"", detail: "The prefix \"pg_\" is reserved for system schemas.",
                           condition: "42939")
        }
        guard !name.contains(".") else { throw RedError(.invalidArgument, "schema names may not contain \".\" (\(name))", condition: "42602") }
        try tx.catalogPut(key(name), Array((owner ?? "").utf8))
    }

    @discardableResult
    public static func remove(_ name: String, _ tx: Transaction) throws -> Bool { try tx.catalogDelete(key(name)) }

    /// `public.t` → `t`: how public's relations are stored. The parser keeps `public.` on a
    /// name so that it is not looked up along the search path (pg_dump empties the path and
    /// writes `public.t` everywhere); every exact lookup drops it.
    public static func canonical(_ name: String) -> String {
        name.hasPrefix("public.") ? String(name.dropFirst(7)) : name
    }

    /// `app.t` → (`app`, `t`) when schema `app` exists; `public.t` or a bare name (or a public
    /// table whose name has a dot of its own) → (`public`, name).
    public static func split(_ physical: String, _ tx: Transaction) throws -> (schema: String, name: String) {
        let physical = canonical(physical)
        guard let dot = physical.firstIndex(of: ".") else { return (publicSchema, physical) }
        let schema = String(physical[..<dot])
        guard schema != publicSchema, try exists(schema, tx) else { return (publicSchema, physical) }
        return (schema, String(physical[physical.index(after: dot)...]))
    }

    /// A relation's name within its schema (`app.t` → `t`): what its columns are qualified by.
    public static func localName(_ physical: String, _ tx: Transaction) throws -> String {
        physical.contains(".") ? try split(physical, tx).name : physical
    }

    /// PostgreSQL's 3F000 for a qualified name whose schema does not exist (DDL naming an
    /// existing relation looks its schema up first); nil otherwise, for the caller's 42P01.
    public static func missingSchema(in name: String, _ tx: Transaction) throws -> RedError? {
        guard let dot = name.firstIndex(of: "."), !name.hasPrefix(TemporaryNamespace.qualifier) else { return nil }
        let schema = String(name[..<dot])
        return try exists(schema, tx) ? nil : RedError(.undefinedObject, "schema \"\(schema)\" does not exist", condition: "3F000")
    }

    /// The name of relation `name` in `schema` (`t` in public, `app.t` elsewhere).
    public static func physicalName(_ name: String, inSchema schema: String) -> String {
        schema == publicSchema ? name : "\(schema).\(name)"
    }

    /// The schemas an unqualified name is looked up in, in order: the path's schemas that hold
    /// user relations (PostgreSQL's own are skipped: no table is in them). No path is public.
    public static func lookupSchemas(_ tx: Transaction) -> [String] {
        guard let path = tx.searchPath else { return [publicSchema] }
        return path.filter { $0 != "pg_catalog" && $0 != "information_schema" && $0 != "pg_temp" }
    }

    /// The path names in a stored definition of relation `physical` are looked up along (a
    /// view's query, a column's default): its own schema, then public, whatever the session's
    /// path, since they were written for that relation.
    public static func homePath(of physical: String) -> [String]? {
        guard let dot = physical.firstIndex(of: "."), !TemporaryNamespace.isTemporary(physical) else { return nil }
        return [String(physical[..<dot]), publicSchema]
    }

    /// Runs `body` with `tx` looking names up along `homePath(of: physical)`.
    public static func withHomePath<T>(of physical: String, _ tx: Transaction, _ body: () throws -> T) rethrows -> T {
        let path = tx.searchPath
        tx.searchPath = homePath(of: physical)
        defer { tx.searchPath = path }
        return try body()
    }

    /// The names `name` may stand for, in lookup order: itself when qualified (it has a dot),
    /// else its name in each schema of the search path.
    public static func candidates(for name: String, _ tx: Transaction) -> [String] {
        guard tx.searchPath != nil, !name.contains(".") else { return [canonical(name)] }
        return lookupSchemas(tx).map { physicalName(name, inSchema: $0) }
    }

    /// A stored relation name (`t`, `app.t`) as a name that means exactly it whatever the search
    /// path (`public.t`, `app.t`): what a statement run on the engine's behalf (a refresh, a
    /// cascade) names it by.
    public static func exact(_ physical: String) -> String {
        physical.contains(".") || TemporaryNamespace.isTemporary(physical) ? physical : "\(publicSchema).\(physical)"
    }

    /// The schema a new relation with the unqualified `name` goes into: the first on the path
    /// that exists (PostgreSQL's 3F000 when none does). A qualified name's schema must exist.
    public static func creationName(for name: String, _ tx: Transaction) throws -> String {
        // `"x.y"` quoted means `x.y` too, so a new relation's dotted name needs schema `x`
        // (relations named so before schemas existed stay where they are).
        if name.contains(".") {
            if let missing = try missingSchema(in: name, tx) { throw missing }
            return canonical(name)
        }
        guard tx.searchPath != nil else { return name }
        for schema in lookupSchemas(tx) where try exists(schema, tx) { return physicalName(name, inSchema: schema) }
        throw RedError(.undefinedObject, "no schema has been selected to create in", condition: "3F000")
    }
}
