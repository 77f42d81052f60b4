import RedCore
import RedQuery
import RedEngine

/// `pg_catalog`'s relations, with PostgreSQL 15's columns in its order. Those describing
/// objects RedDB has (namespaces, relations, columns, types, indexes, constraints, defaults)
/// list them; those describing objects it has none of (inheritance, rules, policies …) are empty, so queries joining them still run.
extension PGCatalogTable {
    static func ints(_ values: [Int64]) -> Value { .json(.array(values.map { .integer($0) })) }
    static func texts(_ values: [String]) -> Value { .json(.array(values.map { .string($0) })) }

    static let pgCatalog: [String: PGCatalogTable] = [
        "pg_namespace": PGCatalogTable("oid:i nspname:t nspowner:i nspacl:a") { model in
            model.namespaces.map { ["oid": .integer($0.oid), "nspname": .text($0.name), "nspowner": .integer(PGCatalogModel.ownerOID)] }
        },
        "pg_class": PGCatalogTable("""
            oid:i relname:t relnamespace:i reltype:i reloftype:i relowner:i relam:i relfilenode:i reltablespace:i relpages:i \
            reltuples:f relallvisible:i reltoastrelid:i relhasindex:b relisshared:b relpersistence:t relkind:t relnatts:i \
            relchecks:i relhasrules:b relhastriggers:b relhassubclass:b relrowsecurity:b relforcerowsecurity:b relispopulated:b \
            relreplident:t relispartition:b relrewrite:i relfrozenxid:i relminmxid:i relacl:a reloptions:a relpartbound:t
            """) { model in
            model.relations.map { r in
                let schema = r.table?.schema
                return ["oid": .integer(r.oid), "relname": .text(r.name), "relnamespace": .integer(r.namespace),
                        "relowner": .integer(PGCatalogModel.ownerOID), "relam": .integer(accessMethod(r)),
                        "relfilenode": .integer(r.kind == "v" ? 0 : r.oid), "reltuples": .float(-1),
                        "relhasindex": .boolean(!(schema?.indexes ?? []).isEmpty), "relpersistence": .text(r.isTemporary ? "t" : "p"), "relkind": .text(r.kind),
                        "relnatts": .integer(Int64(r.columns.count)), "relchecks": .integer(Int64(schema?.checks?.count ?? 0)),
                        "relhastriggers": .boolean(r.hasTriggers), "relispopulated": .boolean(true), "relreplident": .text(r.kind == "r" || r.kind == "m" ? "d" : "n")]
                    .merging(r.kind == "S" ? ["reltuples": .float(1)] : [:]) { $1 }
            }
        },
        "pg_attribute": PGCatalogTable("""
            attrelid:i attname:t atttypid:i attstattarget:i attlen:i attnum:i attndims:i attcacheoff:i atttypmod:i attbyval:b \
            attalign:t attstorage:t attcompression:t attnotnull:b atthasdef:b atthasmissing:b attidentity:t attgenerated:t \
            attisdropped:b attislocal:b attinhcount:i attcollation:i attacl:a attoptions:a attfdwoptions:a attmissingval:a
            """) { model in
            model.relations.flatMap { r in
                r.columns.enumerated().map { i, column in
                    let type = column.wireType
                    // A domain column names the domain; its typmod is the domain's (`typtypmod`).
                    return ["attrelid": .integer(r.oid), "attname": .text(column.name), "atttypid": .integer(column.domain?.oid ?? type.oid),
                            "attstattarget": .integer(-1), "attlen": .integer(type.length), "attnum": .integer(Int64(i + 1)), "attcacheoff": .integer(-1),
                            "atttypmod": .integer(column.domain == nil ? Int64(column.typmod) : -1),
                            "attbyval": .boolean(type.length > 0 && type.length <= 8), "attalign": .text(type.length == 8 ? "d" : "i"),
                            "attstorage": .text(type.length > 0 ? "p" : type.oid == 1700 ? "m" : "x"), "attcompression": .text(""), "attnotnull": .boolean(column.notNull),
                            "atthasdef": .boolean(column.defaultSQL != nil || column.generatedSQL != nil),
                            "attidentity": .text(column.identity == "ALWAYS" ? "a" : column.identity == nil ? "" : "d"),
                            "attgenerated": .text(column.generatedSQL == nil ? "" : "s"),
                            "attislocal": .boolean(true), "attcollation": .integer(type.category == "S" ? 100 : 0)]
                }
            }
        },
        "pg_type": PGCatalogTable("""
            oid:i typname:nm typnamespace:i typowner:i typlen:i typbyval:b typtype:t typcategory:t typispreferred:b typisdefined:b \
            typdelim:t typrelid:i typsubscript:t typelem:i typarray:i typinput:t typoutput:t typreceive:t typsend:t typmodin:t \
            typmodout:t typanalyze:t typalign:t typstorage:t typnotnull:b typbasetype:i typtypmod:i typndims:i typcollation:i \
            typdefaultbin:t typdefault:t typacl:a
            """) { model in
            (PGBuiltinType.all + model.enumTypes.map(\.type)).map { t in
                let isArray = t.element != 0
                let stem = isArray ? "array" : t.name
                let isEnum = t.category == "E"
                return ["oid": .integer(t.oid), "typname": .text(t.name),
                        "typnamespace": .integer(isEnum ? PGCatalogModel.publicNamespace : PGCatalogModel.catalogNamespace),
                        "typowner": .integer(PGCatalogModel.ownerOID), "typlen": .integer(t.length),
                        "typbyval": .boolean(t.length > 0 && t.length <= 8), "typtype": .text(isEnum ? "e" : "b"), "typcategory": .text(t.category),
                        "typisdefined": .boolean(true), "typdelim": .text(","), "typsubscript": .text(isArray ? "array_subscript_handler" : "-"),
                        "typelem": .integer(t.element), "typarray": .integer(t.array), "typinput": .text("\(stem)_in"),
                        "typoutput": .text("\(stem)_out"), "typreceive": .text("\(stem)_recv"), "typsend": .text("\(stem)_send"),
                        "typmodin": .text("-"), "typmodout": .text("-"), "typanalyze": .text("-"), "typalign": .text(t.length == 8 ? "d" : "i"),
                        "typstorage": .text(t.length > 0 ? "p" : t.oid == 1700 ? "m" : "x"), "typtypmod": .integer(-1),
                        "typcollation": .integer(t.category == "S" ? 100 : 0)]
            } + model.domains.map { type, base, domain, baseDomain in
                let wire = base.wireType
                return ["oid": .integer(type.oid), "typname": .text(type.name), "typnamespace": .integer(PGCatalogModel.publicNamespace),
                        "typowner": .integer(PGCatalogModel.ownerOID), "typlen": .integer(wire.length), "typbyval": .boolean(wire.length > 0 && wire.length <= 8),
                        "typtype": .text("d"), "typcategory": .text(wire.category), "typisdefined": .boolean(true), "typdelim": .text(","),
                        "typsubscript": .text("-"), "typelem": .integer(0), "typarray": .integer(0), "typinput": .text("domain_in"),
                        "typoutput": .text("\(wire.name)_out"), "typreceive": .text("domain_recv"), "typsend": .text("\(wire.name)_send"),
                        "typmodin": .text("-"), "typmodout": .text("-"), "typanalyze": .text("-"), "typalign": .text(wire.length == 8 ? "d" : "i"),
                        "typstorage": .text(wire.length > 0 ? "p" : wire.oid == 1700 ? "m" : "x"), "typnotnull": .boolean(domain.notNull),
                        "typbasetype": .integer(baseDomain?.oid ?? wire.oid), "typtypmod": .integer(baseDomain == nil ? Int64(base.typmod) : -1), "typndims": .integer(base.element == nil ? 0 : 1),
                        "typcollation": .integer(wire.category == "S" ? 100 : 0),
                        // pg_dump reads the expression from typdefaultbin (through pg_get_expr, which prints the text kept).
                        "typdefaultbin": domain.defaultSQL.map(Value.text) ?? .null, "typdefault": domain.defaultSQL.map(Value.text) ?? .null]
            }
        },
        "pg_extension": PGCatalogTable("oid:i extname:t extowner:i extnamespace:i extrelocatable:b extversion:t extconfig:ai extcondition:a") { model in
            model.extensions.map { name, version in
                // plpgsql is built in (PostgreSQL 15's OID), so pg_dump leaves it out as it does there.
                ["oid": .integer(name == "plpgsql" ? 13_559 : PGCatalogModel.stableOID(name, kind: "extension")), "extname": .text(name), "extowner": .integer(PGCatalogModel.ownerOID),
                 "extnamespace": .integer(name == "plpgsql" ? PGCatalogModel.catalogNamespace : PGCatalogModel.publicNamespace),
                 "extrelocatable": .boolean(name != "plpgsql"), "extversion": .text(version)]
            }
        },
        "pg_available_extensions": PGCatalogTable("name:t default_version:t installed_version:t comment:t") { model in
            let installed = Dictionary(model.extensions.map { ($0.name, $0.version) }, uniquingKeysWith: { a, _ in a })
            return BuiltinExtensions.all.map { name, version, comment in
                ["name": .text(name), "default_version": .text(version), "installed_version": installed[name].map(Value.text) ?? .null,
                 "comment": .text(comment)]
            }
        },
        "pg_enum": PGCatalogTable("oid:i enumtypid:i enumsortorder:f enumlabel:t") { model in
            model.enumTypes.flatMap { type, labels in
                labels.enumerated().map { i, label -> [String: Value] in
                    ["oid": .integer(PGCatalogModel.stableOID("\(type.name).\(label)", kind: "enum")), "enumtypid": .integer(type.oid),
                     "enumsortorder": .float(Double(i + 1)), "enumlabel": .text(label)]
                }
            }
        },
        "pg_index": PGCatalogTable("""
            indexrelid:i indrelid:i indnatts:i indnkeyatts:i indisunique:b indnullsnotdistinct:b indisprimary:b indisexclusion:b \
            indimmediate:b indisclustered:b indisvalid:b indcheckxmin:b indisready:b indislive:b indisreplident:b indkey:v \
            indcollation:o indclass:o indoption:v indexprs:t indpred:t
            """) { model in
            model.relations.filter { $0.kind == "i" }.map { r in
                let count = Int64(r.indexKeys.count)
                let ready = r.index?.servesReads ?? true
                return ["indexrelid": .integer(r.oid), "indrelid": .integer(r.indexedTableOID),
                        "indnatts": .integer(count), "indnkeyatts": .integer(count), "indisunique": .boolean(r.index?.unique ?? false),
                        "indnullsnotdistinct": .boolean(r.index?.nullsNotDistinct == true),
                        "indisprimary": .boolean(r.isPrimaryKey), "indimmediate": .boolean(true), "indisvalid": .boolean(ready),
                        "indisready": .boolean(true), "indislive": .boolean(true), "indkey": ints(r.indexKeys),
                        "indcollation": ints(r.columns.map { $0.wireType.category == "S" ? 100 : 0 }),
                        "indclass": ints(r.columns.map { operatorClass(of: $0.wireType.oid) ?? 0 }), "indoption": ints(r.indexKeys.map { _ in 0 }),
                        // PostgreSQL's node trees; clients only test them for NULL (psql reads pg_get_indexdef).
                        "indexprs": r.index?.expressions.map { .text($0.compactMap { $0 }.joined(separator: ", ")) } ?? .null,
                        "indpred": r.index?.predicate.map(Value.text) ?? .null]
            }
        },
        "pg_constraint": PGCatalogTable("""
            oid:i conname:t connamespace:i contype:t condeferrable:b condeferred:b convalidated:b conrelid:i contypid:i conindid:i \
            conparentid:i confrelid:i confupdtype:t confdeltype:t confmatchtype:t conislocal:b coninhcount:i connoinherit:b \
            conkey:ai confkey:ai conpfeqop:ai conppeqop:ai conffeqop:ai confdelsetcols:ai conexclop:ai conbin:t
            """) { model in
            model.constraints.map { c in
                var row: [String: Value] = [
                    "oid": .integer(c.oid), "conname": .text(c.name), "connamespace": .integer(c.table.namespace),
                    "contype": .text(c.kind), "condeferrable": .boolean(c.foreignKey?.deferrable ?? false),
                    "condeferred": .boolean(c.foreignKey?.initiallyDeferred ?? false), "convalidated": .boolean(true),
                    "conrelid": .integer(c.table.oid), "contypid": .integer(0), "conindid": .integer(c.index?.oid ?? 0), "confrelid": .integer(c.referenced?.oid ?? 0),
                    "confupdtype": .text(" "), "confdeltype": .text(" "), "confmatchtype": .text(" "), "conislocal": .boolean(true),
                    "connoinherit": .boolean(c.kind == "p" || c.kind == "u"), "conkey": ints(c.keys),
                ]
                if let fk = c.foreignKey {
                    row["confupdtype"] = .text(PGCatalogModel.actionCode(fk.onUpdate))
                    row["confdeltype"] = .text(PGCatalogModel.actionCode(fk.onDelete))
                    row["confmatchtype"] = .text(fk.matchFull == true ? "f" : "s")
                    row["confkey"] = ints(c.referencedKeys)
                }
                if let check = c.check { row["conbin"] = .text(check) }
                return row
            } + model.domainConstraints.map { oid, name, domain, sql, validated in
                ["oid": .integer(oid), "conname": .text(name), "connamespace": .integer(PGCatalogModel.publicNamespace), "contype": .text("c"),
                 "condeferrable": .boolean(false), "condeferred": .boolean(false), "convalidated": .boolean(validated), "conrelid": .integer(0),
                 "contypid": .integer(domain.oid), "conindid": .integer(0), "confrelid": .integer(0), "confupdtype": .text(" "),
                 "confdeltype": .text(" "), "confmatchtype": .text(" "), "conislocal": .boolean(true), "connoinherit": .boolean(false), "conbin": .text(sql)]
            }
        },
        "pg_attrdef": PGCatalogTable("oid:i adrelid:i adnum:i adbin:t") { model in
            model.relations.filter { $0.kind == "r" }.flatMap { r in
                r.columns.enumerated().compactMap { i, column -> [String: Value]? in
                    guard let sql = column.generatedSQL ?? column.defaultSQL else { return nil }
                    return ["oid": .integer(PGCatalogModel.defaultOID(table: r.qualifiedName, column: column.name)), "adrelid": .integer(r.oid),
                            "adnum": .integer(Int64(i + 1)), "adbin": .text(sql)]
                }
            }
        },
        "pg_opclass": PGCatalogTable("oid:i opcmethod:i opcname:t opcnamespace:i opcowner:i opcfamily:i opcintype:i opcdefault:b opckeytype:i") { _ in
            var rows: [[String: Value]] = []
            var seen: Set<Int64> = []
            for type in PGBuiltinType.all {
                guard let oid = operatorClass(of: type.oid), seen.insert(oid).inserted else { continue }
                let isArray = type.element != 0
                rows.append(["oid": .integer(oid), "opcmethod": .integer(403), "opcname": .text(isArray ? "array_ops" : "\(type.name)_ops"),
                             "opcnamespace": .integer(PGCatalogModel.catalogNamespace), "opcowner": .integer(PGCatalogModel.ownerOID),
                             "opcfamily": .integer(oid), "opcintype": .integer(isArray ? 2277 : type.oid), "opcdefault": .boolean(true)])
            }
            return rows
        },
        "pg_am": PGCatalogTable("oid:i amname:t amhandler:t amtype:t") { _ in
            [["oid": .integer(2), "amname": .text("heap"), "amhandler": .text("heap_tableam_handler"), "amtype": .text("t")],
             ["oid": .integer(403), "amname": .text("btree"), "amhandler": .text("bthandler"), "amtype": .text("i")],
             ["oid": .integer(405), "amname": .text("hash"), "amhandler": .text("hashhandler"), "amtype": .text("i")]]
        },
        "pg_database": PGCatalogTable("""
            oid:i datname:t datdba:i encoding:i datlocprovider:t datistemplate:b datallowconn:b datconnlimit:i datfrozenxid:i \
            datminmxid:i dattablespace:i datcollate:t datctype:t daticulocale:t datcollversion:t datacl:a
            """) { _ in
            [["oid": .integer(PGCatalogModel.databaseOID), "datname": .text(PGCatalogModel.databaseName), "datdba": .integer(PGCatalogModel.ownerOID),
              "encoding": .integer(6), "datlocprovider": .text("c"), "datallowconn": .boolean(true), "datconnlimit": .integer(-1),
              "dattablespace": .integer(1663), "datcollate": .text("C"), "datctype": .text("C")]]
        },
        "pg_roles": PGCatalogTable("""
            rolname:t rolsuper:b rolinherit:b rolcreaterole:b rolcreatedb:b rolcanlogin:b rolreplication:b rolconnlimit:i \
            rolpassword:t rolvaliduntil:t rolbypassrls:b rolconfig:a oid:i
            """) { model in
            [["rolname": .text(model.owner), "rolsuper": .boolean(true), "rolinherit": .boolean(true), "rolcreaterole": .boolean(true),
              "rolcreatedb": .boolean(true), "rolcanlogin": .boolean(true), "rolconnlimit": .integer(-1), "rolpassword": .text("********"),
              "oid": .integer(PGCatalogModel.ownerOID)]]
        },
        "pg_user": PGCatalogTable("usename:t usesysid:i usecreatedb:b usesuper:b userepl:b usebypassrls:b passwd:t valuntil:t useconfig:a") { model in
            [["usename": .text(model.owner), "usesysid": .integer(PGCatalogModel.ownerOID), "usecreatedb": .boolean(true),
              "usesuper": .boolean(true), "passwd": .text("********")]]
        },
        "pg_tablespace": PGCatalogTable("oid:i spcname:t spcowner:i spcacl:a spcoptions:a") { _ in
            [["oid": .integer(1663), "spcname": .text("pg_default"), "spcowner": .integer(PGCatalogModel.ownerOID)],
             ["oid": .integer(1664), "spcname": .text("pg_global"), "spcowner": .integer(PGCatalogModel.ownerOID)]]
        },
        "pg_collation": PGCatalogTable("""
            oid:i collname:t collnamespace:i collowner:i collprovider:t collisdeterministic:b collencoding:i collcollate:t \
            collctype:t colliculocale:t collversion:t
            """) { _ in
            [["oid": .integer(100), "collname": .text("default"), "collnamespace": .integer(PGCatalogModel.catalogNamespace),
              "collowner": .integer(PGCatalogModel.ownerOID), "collprovider": .text("d"), "collisdeterministic": .boolean(true),
              "collencoding": .integer(-1)]]
        },
        "pg_tables": PGCatalogTable("schemaname:t tablename:t tableowner:t tablespace:t hasindexes:b hasrules:b hastriggers:b rowsecurity:b") { model in
            model.relations.filter { $0.kind == "r" }.map { r in
                let schema = r.table?.schema
                return ["schemaname": .text(r.schema), "tablename": .text(r.name), "tableowner": .text(model.owner),
                        "hasindexes": .boolean(!(schema?.indexes ?? []).isEmpty),
                        "hastriggers": .boolean(r.hasTriggers)]
            }
        },
        "pg_views": PGCatalogTable("schemaname:t viewname:t viewowner:t definition:t") { model in
            model.relations.compactMap { r in
                r.view.map { ["schemaname": .text(r.schema), "viewname": .text(r.name), "viewowner": .text(model.owner),
                              "definition": .text($0.query)] }
            }
        },
        "pg_indexes": PGCatalogTable("schemaname:t tablename:t indexname:t tablespace:t indexdef:t") { model in
            model.relations.filter { $0.kind == "i" }.map { r in
                ["schemaname": .text(r.schema), "tablename": .text(r.indexedTable?.name ?? ""), "indexname": .text(r.name),
                 "indexdef": .text(PGCatalogModel.indexDefinition(r))]
            }
        },
        "pg_description": PGCatalogTable("objoid:i classoid:i objsubid:i description:t") { model in
            // The public schema's own comment, as PostgreSQL 15 ships it (pg_dump clears it when missing).
            [["objoid": .integer(PGCatalogModel.publicNamespace), "classoid": .integer(2615), "objsubid": .integer(0), "description": .text("standard public schema")]]
                + model.descriptions.map { ["objoid": .integer($0.objoid), "classoid": .integer(1259), "objsubid": .integer($0.objsubid), "description": .text($0.text)] }
                + model.functions.compactMap { f in
                    f.spec.comment.map { ["objoid": .integer(f.oid), "classoid": .integer(1255), "objsubid": .integer(0), "description": .text($0)] }
                }
        },
        "pg_auth_members": PGCatalogTable("oid:i roleid:i member:i grantor:i admin_option:b inherit_option:b set_option:b"),
        "pg_shdescription": PGCatalogTable("objoid:i classoid:i description:t"),
        "pg_inherits": PGCatalogTable("inhrelid:i inhparent:i inhseqno:i inhdetachpending:b"),
        "pg_trigger": pgTrigger,
        "pg_depend": PGCatalogTable("classid:i objid:i objsubid:i refclassid:i refobjid:i refobjsubid:i deptype:t") { $0.dependencies },
        "pg_sequence": PGCatalogTable("seqrelid:i seqtypid:i seqstart:i seqincrement:i seqmax:i seqmin:i seqcache:i seqcycle:b") { model in
            model.relations.compactMap { r -> [String: Value]? in
                guard let s = r.sequence else { return nil }
                return ["seqrelid": .integer(r.oid), "seqtypid": .integer(sequenceTypeOID(s)), "seqstart": .integer(s.start),
                        "seqincrement": .integer(s.increment), "seqmax": .integer(s.maxValue), "seqmin": .integer(s.minValue),
                        "seqcache": .integer(s.cache), "seqcycle": .boolean(s.cycle)]
            }
        },
        // last_value is NULL until nextval first hands a value out, as in PostgreSQL.
        "pg_sequences": PGCatalogTable("""
            schemaname:t sequencename:t sequenceowner:t data_type:t start_value:i min_value:i max_value:i increment_by:i cycle:b \
            cache_size:i last_value:n
            """) { model in
            model.relations.compactMap { r -> [String: Value]? in
                guard let s = r.sequence else { return nil }
                return ["schemaname": .text(r.schema), "sequencename": .text(r.name), "sequenceowner": .text(model.owner),
                        "data_type": .text(s.typeName), "start_value": .integer(s.start), "min_value": .integer(s.minValue),
                        "max_value": .integer(s.maxValue), "increment_by": .integer(s.increment), "cycle": .boolean(s.cycle),
                        "cache_size": .integer(s.cache), "last_value": r.sequenceLastValue.map(Value.integer) ?? .null]
            }
        },
        "pg_range": PGCatalogTable("rngtypid:i rngsubtype:i rngmultitypid:i rngcollation:i rngsubopc:i rngcanonical:t rngsubdiff:t"),
        "pg_proc": PGFunctionCatalog.pgProc,
        "pg_matviews": PGCatalogTable("schemaname:t matviewname:t matviewowner:t tablespace:t hasindexes:b ispopulated:b definition:t") { model in
            model.relations.filter { $0.kind == "m" }.map { r in
                ["schemaname": .text(r.schema), "matviewname": .text(r.name), "matviewowner": .text(model.owner),
                 "hasindexes": .boolean(!(r.table?.schema.indexes.isEmpty ?? true)), "ispopulated": .boolean(true),
                 "definition": .text(r.table?.schema.materializedQuery ?? "")]
            }
        },
        "pg_policy": PGCatalogTable("oid:i polname:t polrelid:i polcmd:t polpermissive:b polroles:ai polqual:t polwithcheck:t"),
        "pg_partitioned_table": PGCatalogTable("partrelid:i partstrat:t partnatts:i partdefid:i partattrs:ai partclass:ai partcollation:ai partexprs:t"),
        "pg_foreign_table": PGCatalogTable("ftrelid:i ftserver:i ftoptions:a"),
        "pg_rewrite": PGCatalogTable("oid:i rulename:t ev_class:i ev_type:t ev_enabled:t is_instead:b ev_qual:t ev_action:t"),
        "pg_event_trigger": PGCatalogTable("oid:i evtname:t evtevent:t evtowner:i evtfoid:i evtenabled:t evttags:a"),
        "pg_statistic_ext": PGCatalogTable("oid:i stxrelid:i stxname:t stxnamespace:i stxowner:i stxstattarget:i stxkeys:ai stxkind:a stxexprs:t"),
        "pg_publication": PGCatalogTable("oid:i pubname:t pubowner:i puballtables:b pubinsert:b pubupdate:b pubdelete:b pubtruncate:b pubviaroot:b"),
        "pg_publication_rel": PGCatalogTable("oid:i prpubid:i prrelid:i prqual:t prattrs:ai"),
        "pg_publication_namespace": PGCatalogTable("oid:i pnpubid:i pnnspid:i"),
        "pg_cast": PGCatalogTable("oid:i castsource:i casttarget:i castfunc:i castcontext:t castmethod:t"),
        "pg_operator": PGCatalogTable("oid:i oprname:t oprnamespace:i oprowner:i oprkind:t oprcanmerge:b oprcanhash:b oprleft:i oprright:i oprresult:i oprcom:i oprnegate:i oprcode:t oprrest:t oprjoin:t"),
        "pg_language": PGFunctionCatalog.pgLanguage,
        "pg_db_role_setting": PGCatalogTable("setdatabase:i setrole:i setconfig:a"),
        "pg_foreign_server": PGCatalogTable("oid:i srvname:t srvowner:i srvfdw:i srvtype:t srvversion:t srvacl:a srvoptions:a"),
        "pg_foreign_data_wrapper": PGCatalogTable("oid:i fdwname:t fdwowner:i fdwhandler:i fdwvalidator:i fdwacl:a fdwoptions:a"),
        "pg_conversion": PGCatalogTable("oid:i conname:t connamespace:i conowner:i conforencoding:i contoencoding:i conproc:t condefault:b"),
        "pg_ts_config": PGCatalogTable("oid:i cfgname:t cfgnamespace:i cfgowner:i cfgparser:i"),
        "pg_ts_parser": PGCatalogTable("oid:i prsname:t prsnamespace:i prsstart:t prstoken:t prsend:t prsheadline:t prslextype:t"),
        "pg_ts_dict": PGCatalogTable("oid:i dictname:t dictnamespace:i dictowner:i dicttemplate:i dictinitoption:t"),
        "pg_ts_template": PGCatalogTable("oid:i tmplname:t tmplnamespace:i tmplinit:t tmpllexize:t"),
        "pg_opfamily": PGCatalogTable("oid:i opfmethod:i opfname:t opfnamespace:i opfowner:i"),
        "pg_aggregate": PGCatalogTable("aggfnoid:i aggkind:t aggnumdirectargs:i aggtransfn:t aggfinalfn:t aggtranstype:i agginitval:t"),
        // Empty: what pg_dump reads about privileges, transforms, subscriptions, large objects,
        // operator families and security labels, none of which RedDB has.
        "pg_init_privs": PGCatalogTable("objoid:i classoid:i objsubid:i privtype:t initprivs:a"),
        "pg_default_acl": PGCatalogTable("oid:i defaclrole:i defaclnamespace:i defaclobjtype:t defaclacl:a"),
        "pg_transform": PGCatalogTable("oid:i trftype:i trflang:i trffromsql:i trftosql:i"),
        "pg_subscription": PGCatalogTable("""
            oid:i subdbid:i subskiplsn:t subname:t subowner:i subenabled:b subbinary:b substream:b subtwophasestate:t \
            subdisableonerr:b subconninfo:t subslotname:t subsynccommit:t subpublications:a
            """),
        "pg_largeobject_metadata": PGCatalogTable("oid:i lomowner:i lomacl:a"),
        "pg_amop": PGCatalogTable("oid:i amopfamily:i amoplefttype:i amoprighttype:i amopstrategy:i amoppurpose:t amopopr:i amopmethod:i amopsortfamily:i"),
        "pg_amproc": PGCatalogTable("oid:i amprocfamily:i amproclefttype:i amprocrighttype:i amprocnum:i amproc:i"),
        "pg_seclabel": PGCatalogTable("objoid:i classoid:i objsubid:i provider:t label:t"),
        "pg_shseclabel": PGCatalogTable("objoid:i classoid:i provider:t label:t"),
        "pg_seclabels": PGCatalogTable("objoid:i classoid:i objsubid:i objtype:t objnamespace:i objname:t provider:t label:t"),
    ]

    /// The default B-tree operator class of a column type (`pg_index.indclass`, `pg_opclass`);
    /// every array type shares `array_ops`.
    static func operatorClass(of typeOID: Int64) -> Int64? {
        let classes: [Int64: Int64] = [16: 424, 17: 421, 20: 3124, 21: 1979, 23: 1978, 25: 3126, 701: 3123, 700: 1970, 1700: 3125,
                                       1082: 3122, 1083: 1991, 1114: 3128, 1184: 3127, 2950: 2968, 3802: 4033, 1043: 3126, 1042: 426]
        if let known = classes[typeOID] { return known }
        return PGBuiltinType.byOID[typeOID]?.element != 0 && PGBuiltinType.byOID[typeOID] != nil ? 397 : nil
    }

    /// A sequence's type as pg_type knows it (`int2`, `int4`, `int8`).
    static func sequenceTypeOID(_ s: SequenceDefinition) -> Int64 {
        s.typeName == "smallint" ? 21 : s.typeName == "integer" ? 23 : 20
    }

    /// `relam`: heap for tables, the index's own method, none for views and sequences.
    static func accessMethod(_ relation: PGCatalogModel.Relation) -> Int64 {
        switch relation.kind {
        case "r": return 2
        case "i": return relation.index?.method == .hash ? 405 : 403
        default: return 0
        }
    }
}
