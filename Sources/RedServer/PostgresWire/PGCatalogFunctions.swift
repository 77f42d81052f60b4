import RedCore
import RedQuery

/// The catalog functions and casts PostgreSQL clients call beside the catalogs:
/// definitions (`pg_get_indexdef`, `pg_get_constraintdef`, `pg_get_expr`, `format_type`),
/// visibility and privilege checks (always true: every object is in `public`, and access is
/// decided by RedDB's roles, not per object), comments (none), and the `reg*` casts.
///
/// The `reg*` casts follow what clients do with them rather than a type RedDB does not have:
/// a name becomes its OID (`attrelid = 'users'::regclass`), an OID becomes its name
/// (`conrelid::regclass AS table`, `oid::regclass::text`).
enum PGCatalogFunctions {
    static func functions(owner: String) -> [String: SurfaceFunction] {
        let user = PGCatalogModel.ownerName(owner)
        let alwaysTrue = SurfaceFunction(arity: 1...4, resultType: .boolean, strict: false) { _, _ in .boolean(true) }
        let none = SurfaceFunction(arity: 1...2, resultType: .text, strict: false) { _, _ in .null }
        let zeroSize = SurfaceFunction(arity: 1...1, resultType: .integer) { _, _ in .integer(0) }
        var table: [String: SurfaceFunction] = [
            "format_type": SurfaceFunction(arity: 2...2, resultType: .text, strict: false) { args, snapshot in
                guard case .integer(let oid) = args[0] else { return .null }
                guard let type = PGBuiltinType.byOID[oid] else {
                    return .text(PGCatalogModel.of(snapshot, owner: user).userTypeName(oid: oid) ?? "???")
                }
                // With a typmod: `character varying(20)`, `numeric(10,2)`, `vector(3)`; a bare bpchar is `bpchar`.
                var modifiers = ""
                // An array's typmod is its elements': `character varying(3)[]`.
                if type.element != 0, case .integer(let typmod) = args[1], typmod >= 0, let element = PGBuiltinType.byOID[type.element] {
                    if let within = DeclaredType.formattedWithModifiersInside(typeName: element.name, typmod: Int32(clamping: typmod)) { return .text(within + "[]") }
                    let text = DeclaredType.modifierText(typeName: element.name, typmod: Int32(clamping: typmod))
                    if !text.isEmpty { return .text(element.formatted + text + "[]") }
                }
                if case .integer(let typmod) = args[1] {
                    if let within = DeclaredType.formattedWithModifiersInside(typeName: type.name, typmod: Int32(clamping: typmod)) { return .text(within) }
                    modifiers = DeclaredType.modifierText(typeName: type.name, typmod: Int32(clamping: typmod))
                }
                guard !modifiers.isEmpty else { return .text(oid == 1042 ? "bpchar" : type.formatted) }
                return .text(type.formatted + modifiers)
            },
            "pg_get_indexdef": SurfaceFunction(arity: 1...3, resultType: .text) { args, snapshot in
                let model = PGCatalogModel.of(snapshot, owner: user)
                guard let index = model.relation(oid: try integer(args[0])), index.kind == "i" else { return .null }
                let column = args.count > 1 ? try integer(args[1]) : 0
                let pretty = args.count > 2 && args[2] == .boolean(true)
                guard column != 0 else { return .text(PGCatalogModel.indexDefinition(index, pretty: pretty)) }
                guard column >= 1 && column <= index.columns.count else { return .text("") }
                if let expression = index.index?.expressions?[Int(column - 1)] { return .text(expression) }
                return .text(SQLIdentifier.quoted(index.columns[Int(column - 1)].name))
            },
            "pg_get_constraintdef": SurfaceFunction(arity: 1...2, resultType: .text) { args, snapshot in
                let model = PGCatalogModel.of(snapshot, owner: user), oid = try integer(args[0])
                if let constraint = model.constraint(oid: oid) { return .text(constraint.definition) }
                return model.domainConstraints.first { $0.oid == oid }.map { .text("CHECK (\($0.sql))" + ($0.validated ? "" : " NOT VALID")) } ?? .null
            },
            "pg_get_triggerdef": SurfaceFunction(arity: 1...2, resultType: .text) { args, snapshot in
                let model = PGCatalogModel.of(snapshot, owner: user)
                guard let trigger = model.trigger(oid: try integer(args[0])) else { return .null }
                return .text(PGCatalogModel.triggerDefinition(trigger, pretty: args.count > 1 && args[1] == .boolean(true)))
            },
            // Defaults and CHECKs are kept as their SQL text, which is what this prints.
            "pg_get_expr": SurfaceFunction(arity: 2...3, resultType: .text) { args, _ in args[0] },
            "pg_get_viewdef": SurfaceFunction(arity: 1...2, resultType: .text) { args, snapshot in
                let model = PGCatalogModel.of(snapshot, owner: user)
                let relation: PGCatalogModel.Relation?
                if case .text(let name) = args[0] { relation = model.relation(named: name) } else { relation = model.relation(oid: try integer(args[0])) }
                // With its closing semicolon, as PostgreSQL prints it (pg_dump cuts the last character).
                guard let query = relation?.view?.query ?? relation?.table?.schema.materializedQuery else { return .null }
                return .text(query.hasSuffix(";") ? query : query + ";")
            },
            "pg_get_userbyid": SurfaceFunction(arity: 1...1, resultType: .text) { _, _ in .text(user) },
            // The connection's user, as PostgreSQL names the role a session runs as.
            "current_user": SurfaceFunction(arity: 0...0, resultType: .text) { _, _ in .text(user) },
            "session_user": SurfaceFunction(arity: 0...0, resultType: .text) { _, _ in .text(user) },
            "current_role": SurfaceFunction(arity: 0...0, resultType: .text) { _, _ in .text(user) },
            "user": SurfaceFunction(arity: 0...0, resultType: .text) { _, _ in .text(user) },
            // The search path's schemas that exist; with its argument true, pg_catalog before them.
            "current_schemas": SurfaceFunction(arity: 1...1, resultType: .array, resultElement: .text) { args, snapshot in
                let path = snapshot.searchPath ?? [PGCatalogModel.schemaName]
                let implicit = args[0] == .boolean(true) && !path.contains("pg_catalog")
                return PGCatalogTable.texts(implicit ? ["pg_catalog"] + path : path)
            },
            // Privileges are RedDB's roles', not per object: no object has an ACL, nor a default one.
            "acldefault": SurfaceFunction(arity: 2...2, resultType: .array, resultElement: .text, strict: false) { _, _ in .null },
            // Replicas answer through their own server, which is no standby in PostgreSQL's sense
            // (it refuses writes itself); pg_dump asks this to pick its snapshot's isolation.
            "pg_is_in_recovery": SurfaceFunction(arity: 0...0, resultType: .boolean) { _, _ in .boolean(false) },
            "pg_encoding_to_char": SurfaceFunction(arity: 1...1, resultType: .text) { _, _ in .text("UTF8") },
            "getdatabaseencoding": SurfaceFunction(arity: 0...0, resultType: .text) { _, _ in .text("UTF8") },
            "pg_char_to_encoding": SurfaceFunction(arity: 1...1, resultType: .integer) { args, _ in
                .integer(args[0] == .text("UTF8") || args[0] == .text("utf8") ? 6 : -1)
            },
            "to_regclass": SurfaceFunction(arity: 1...1, resultType: .integer) { args, snapshot in
                guard case .text(let name) = args[0] else { return .null }
                return try PGCatalogModel.of(snapshot, owner: user).relation(written: name).relation.map { .integer($0.oid) } ?? .null
            },
            // psycopg's TypeInfo.fetch asks for types by name (`hstore` at SQLAlchemy's first connect).
            "to_regtype": SurfaceFunction(arity: 1...1, resultType: .integer) { args, _ in
                guard case .text(let name) = args[0] else { return .null }
                return PGBuiltinType.byName[name.lowercased()[...].trimmingCharacters(in: "\" ")].map { .integer($0.oid) } ?? .null
            },
            "pg_get_partkeydef": SurfaceFunction(arity: 1...1, resultType: .text, strict: false) { _, _ in .null },
        ]
        for name in ["pg_table_is_visible", "pg_type_is_visible", "pg_function_is_visible", "pg_collation_is_visible", "has_table_privilege", "has_schema_privilege",
                     "has_database_privilege", "has_column_privilege", "has_any_column_privilege", "has_sequence_privilege",
                     "has_function_privilege", "pg_relation_is_publishable", "pg_statistics_obj_is_visible", "pg_operator_is_visible",
                     "pg_conversion_is_visible", "pg_ts_config_is_visible", "pg_opclass_is_visible", "pg_opfamily_is_visible",
                     "pg_ts_parser_is_visible", "pg_ts_dict_is_visible", "pg_ts_template_is_visible"] {
            table[name] = alwaysTrue
        }
        // A permanent table hidden by a temporary one of its name is not visible (psql's \d lists the temporary one).
        table["pg_table_is_visible"] = SurfaceFunction(arity: 1...1, resultType: .boolean) { args, snapshot in
            let model = PGCatalogModel.of(snapshot, owner: user)
            guard let relation = model.relation(oid: try integer(args[0])) else { return .boolean(true) }
            return .boolean(model.isVisible(relation))
        }
        // COMMENT ON texts: obj_description(oid [, catalog]) and col_description(oid, column number).
        table["obj_description"] = SurfaceFunction(arity: 1...2, resultType: .text, strict: false) { args, snapshot in
            guard case .integer(let oid) = args[0] else { return .null }
            var catalog: String?
            if args.count > 1, case .text(let named) = args[1] { catalog = named }
            if let catalog, catalog != "pg_class", catalog != "pg_proc" { return .null }
            return PGCatalogModel.of(snapshot, owner: user).description(of: oid, catalog: catalog).map(Value.text) ?? .null
        }
        table["col_description"] = SurfaceFunction(arity: 2...2, resultType: .text, strict: false) { args, snapshot in
            guard case .integer(let oid) = args[0], case .integer(let column) = args[1] else { return .null }
            return PGCatalogModel.of(snapshot, owner: user).description(of: oid, subid: column).map(Value.text) ?? .null
        }
        for name in ["shobj_description", "pg_tablespace_location", "pg_get_statisticsobjdef_columns"] {
            table[name] = none
        }
        table.merge(PGFunctionCatalog.functions(owner: user)) { $1 }
        for name in ["pg_relation_size", "pg_total_relation_size", "pg_table_size", "pg_indexes_size", "pg_database_size"] { table[name] = zeroSize }
        return table
    }

    /// A `regproc` / `regprocedure` cast: an OID prints as itself, and so does a function the
    /// catalogs name — an access method's handler (pg_am) or a type's input and output
    /// functions (pg_type's `typinput`, `array_in`), written with or without its argument types
    /// (Rails' `t.typinput = 'array_in(cstring,oid,integer)'::regprocedure`), which compares equal
    /// to the catalog's text; any other name is 42883 (SQL functions are `PGFunctionCatalog.regproc`'s).
    static func noFunction(_ value: Value) throws -> Value {
        guard case .text(let written) = value, Int64(written) == nil else { return .text(value.displayText) }
        var name = written.trimmingCharacters(in: .whitespaces)
        if let open = name.firstIndex(of: "(") { name = String(name[..<open]) }
        if name.hasPrefix("pg_catalog.") { name.removeFirst("pg_catalog.".count) }
        let typeFunction = ["_in", "_out", "_recv", "_send"].contains { name.hasSuffix($0) }
        guard accessMethodHandlers.contains(name) || typeFunction else {
            throw RedError(.undefinedFunction, "function \"\(written)\" does not exist")
        }
        return .text(name)
    }

    static let accessMethodHandlers: Set<String> = ["heap_tableam_handler", "bthandler", "hashhandler"]

    /// Set-returning catalog functions. RedDB has no partitioned tables, so a relation's
    /// only "ancestor" is itself (psql's `\d` reads foreign keys through this).
    static let tableFunctions: [String: SurfaceTableFunction] = [
        // A foreign object's options (`{name=value, …}`) as rows; RedDB has none, but pg_dump asks of every column.
        "pg_options_to_table": SurfaceTableFunction(arity: 1...1, columns: [SurfaceColumn("option_name", .text), SurfaceColumn("option_value", .text)]) { args, _ in
            guard case .json(.array(let options)) = args[0] else { return [] }
            return options.compactMap { option -> [Value]? in
                guard case .string(let text) = option else { return nil }
                let parts = text.split(separator: "=", maxSplits: 1)
                return [.text(String(parts[0])), parts.count > 1 ? .text(String(parts[1])) : .null]
            }
        },
        // `information_schema._pg_expandarray(array)`: each element with its position, as the
        // record `(x, n)` (pgJDBC's key and index metadata select `(…).n` and `(…).x`).
        "_pg_expandarray": SurfaceTableFunction(arity: 1...1, columns: [SurfaceColumn("_pg_expandarray", .json)]) { args, _ in
            guard case .json(.array(let items)) = try DataType.array.coerce(args[0]) else { return [] }
            return items.enumerated().map { i, item in [.json(.object([("x", item), ("n", .integer(Int64(i + 1)))]))] }
        },
        "pg_partition_ancestors": SurfaceTableFunction(arity: 1...1, columns: [SurfaceColumn("relid", .integer)]) { args, snapshot in
            let oid: Int64
            if case .text(let text) = args[0], Int64(text) == nil {
                guard let relation = try PGCatalogModel.of(snapshot, owner: "").relation(written: text).relation else {
                    throw RedError(.undefinedCollection, "relation \"\(text)\" does not exist")
                }
                oid = relation.oid
            } else {
                oid = try integer(args[0])
            }
            return PGCatalogModel.of(snapshot, owner: "").relation(oid: oid) == nil ? [] : [[.integer(oid)]]
        },
    ]

    static let casts: [String: SurfaceFunction] = [
        "oid": SurfaceFunction(arity: 1...1, resultType: .integer) { args, _ in try DataType.integer.coerce(args[0]) },
        "xid": SurfaceFunction(arity: 1...1, resultType: .integer) { args, _ in try DataType.integer.coerce(args[0]) },
        // No functions are listed (pg_proc is empty), so a function's OID names nothing.
        "regproc": SurfaceFunction(arity: 1...1, resultType: .any) { args, snapshot in
            try PGFunctionCatalog.regproc(args[0], PGCatalogModel.of(snapshot, owner: ""), withArguments: false) ?? noFunction(args[0])
        },
        "regprocedure": SurfaceFunction(arity: 1...1, resultType: .any) { args, snapshot in
            try PGFunctionCatalog.regproc(args[0], PGCatalogModel.of(snapshot, owner: ""), withArguments: true) ?? noFunction(args[0])
        },
        "regclass": SurfaceFunction(arity: 1...1, resultType: .any) { args, snapshot in
            let model = PGCatalogModel.of(snapshot, owner: "")
            switch args[0] {
            case .text(let text):
                if let oid = Int64(text) { return .integer(oid) }
                let (relation, name) = try model.relation(written: text)
                if let relation { return .integer(relation.oid) }
                if PGCatalogTable.pgCatalog[name] != nil { return .integer(catalogRelationOIDs[name] ?? PGCatalogModel.stableOID(name, kind: "catalog")) }
                throw RedError(.undefinedCollection, "relation \"\(name)\" does not exist")
            case let value:
                let oid = try integer(value)
                // As PostgreSQL's regclass output: quoted where the name needs it (`"Order Items"`),
                // and with its schema when the search path does not find it by its name.
                return .text(model.relation(oid: oid).map {
                    model.isVisible($0) ? SQLIdentifier.quoted($0.name) : SQLIdentifier.quoted($0.schema) + "." + SQLIdentifier.quoted($0.name)
                } ?? String(oid))
            }
        },
        "regtype": SurfaceFunction(arity: 1...1, resultType: .any) { args, _ in
            switch args[0] {
            case .text(let text):
                guard let type = PGBuiltinType.byName[text.lowercased()[...].trimmingCharacters(in: "\" ")] else {
                    throw RedError(.undefinedObject, "type \"\(text)\" does not exist")
                }
                return .integer(type.oid)
            case let value:
                let oid = try integer(value)
                return .text(PGBuiltinType.byOID[oid]?.formatted ?? String(oid))
            }
        },
        "regnamespace": SurfaceFunction(arity: 1...1, resultType: .any) { args, snapshot in
            let namespaces = PGCatalogModel.of(snapshot, owner: "").namespaces.map { ($0.name, $0.oid) }
            switch args[0] {
            case .text(let text):
                guard let namespace = namespaces.first(where: { $0.0 == text }) else { throw RedError(.undefinedObject, "schema \"\(text)\" does not exist") }
                return .integer(namespace.1)
            case let value:
                let oid = try integer(value)
                return .text(namespaces.first { $0.1 == oid }?.0 ?? String(oid))
            }
        },
    ]

    /// PostgreSQL's OIDs of its catalog tables (`d.classid = 'pg_class'::regclass`).
    static let catalogRelationOIDs: [String: Int64] = [
        "pg_type": 1247, "pg_attribute": 1249, "pg_proc": 1255, "pg_class": 1259, "pg_database": 1262, "pg_tablespace": 1213,
        "pg_am": 2601, "pg_attrdef": 2604, "pg_constraint": 2606, "pg_depend": 2608, "pg_description": 2609, "pg_index": 2610,
        "pg_inherits": 2611, "pg_rewrite": 2618, "pg_trigger": 2620, "pg_namespace": 2615, "pg_sequence": 2224,
        "pg_extension": 3079, "pg_collation": 3456, "pg_enum": 3501, "pg_default_acl": 826, "pg_foreign_server": 1417,
        "pg_foreign_data_wrapper": 2328, "pg_aggregate": 2600, "pg_amop": 2602, "pg_amproc": 2603, "pg_cast": 2605,
        "pg_conversion": 2607, "pg_language": 2612, "pg_opclass": 2616, "pg_operator": 2617, "pg_opfamily": 2753,
        "pg_largeobject_metadata": 2995, "pg_foreign_table": 3118, "pg_policy": 3256, "pg_partitioned_table": 3350,
        "pg_statistic_ext": 3381, "pg_init_privs": 3394, "pg_event_trigger": 3466, "pg_range": 3541, "pg_transform": 3576,
        "pg_seclabel": 3596, "pg_ts_dict": 3600, "pg_ts_parser": 3601, "pg_ts_config": 3602, "pg_ts_template": 3764,
        "pg_subscription": 6100, "pg_publication": 6104, "pg_publication_rel": 6106, "pg_publication_namespace": 6237,
        "pg_db_role_setting": 2964, "pg_auth_members": 1261, "pg_shdescription": 2396, "pg_shseclabel": 3592,
    ]

    static func integer(_ value: Value) throws -> Int64 {
        guard case .integer(let i) = try DataType.integer.coerce(value) else { throw RedError(.datatypeMismatch, "an OID must be an integer") }
        return i
    }

}

extension Substring {
    /// The text without leading and trailing characters of `set` (`"\"users\" "` → `users`).
    func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
