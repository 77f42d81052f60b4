import RedCore
import RedEngine
import RedQuery

/// `information_schema`'s views that tools read a schema through (Knex, TypeORM, Sequelize,
/// Prisma, migration tools), with PostgreSQL 15's columns in its order and its spellings
/// (`BASE TABLE`, `YES`/`NO`, `FOREIGN KEY`, `NO ACTION`). They list RedDB's objects in
/// schema `public`; the catalogs themselves are not listed.
extension PGCatalogTable {
    static let informationSchema: [String: PGCatalogTable] = [
        "schemata": PGCatalogTable("""
            catalog_name:t schema_name:t schema_owner:t default_character_set_catalog:t default_character_set_schema:t \
            default_character_set_name:t sql_path:t
            """) { model in
            model.namespaces.map {
                ["catalog_name": .text(PGCatalogModel.databaseName), "schema_name": .text($0.name), "schema_owner": .text(model.owner)]
            }
        },
        "tables": PGCatalogTable("""
            table_catalog:t table_schema:t table_name:t table_type:t self_referencing_column_name:t reference_generation:t \
            user_defined_type_catalog:t user_defined_type_schema:t user_defined_type_name:t is_insertable_into:t is_typed:t \
            commit_action:t
            """) { model in
            model.relations.filter { $0.kind == "r" || $0.kind == "v" }.map { r in
                ["table_catalog": .text(PGCatalogModel.databaseName), "table_schema": .text(r.schema),
                 "table_name": .text(r.name), "table_type": .text(r.kind == "v" ? "VIEW" : r.isTemporary ? "LOCAL TEMPORARY" : "BASE TABLE"),
                 "is_insertable_into": .text(r.kind == "v" ? "NO" : "YES"), "is_typed": .text("NO"),
                 "commit_action": r.isTemporary ? .text("PRESERVE") : .null]
            }
        },
        "columns": PGCatalogTable("""
            table_catalog:t table_schema:t table_name:t column_name:t ordinal_position:i column_default:t is_nullable:t \
            data_type:t character_maximum_length:n character_octet_length:n numeric_precision:n numeric_precision_radix:n \
            numeric_scale:n datetime_precision:n interval_type:t interval_precision:n character_set_catalog:t \
            character_set_schema:t character_set_name:t collation_catalog:t collation_schema:t collation_name:t \
            domain_catalog:t domain_schema:t domain_name:t udt_catalog:t udt_schema:t udt_name:t scope_catalog:t \
            scope_schema:t scope_name:t maximum_cardinality:n dtd_identifier:t is_self_referencing:t is_identity:t \
            identity_generation:t identity_start:t identity_increment:t identity_maximum:t identity_minimum:t \
            identity_cycle:t is_generated:t generation_expression:t is_updatable:t
            """) { model in
            model.relations.filter { $0.kind == "r" || $0.kind == "v" }.flatMap { r in
                r.columns.enumerated().map { i, column in
                    let type = column.wireType
                    var row: [String: Value] = [
                        "table_catalog": .text(PGCatalogModel.databaseName), "table_schema": .text(r.schema),
                        "table_name": .text(r.name), "column_name": .text(column.name), "ordinal_position": .integer(Int64(i + 1)),
                        "column_default": column.defaultSQL.map { .text($0) } ?? .null, "is_nullable": .text(column.notNull ? "NO" : "YES"),
                        "data_type": .text(type.element != 0 ? "ARRAY" : type.category == "E" ? "USER-DEFINED" : type.formatted),
                        "udt_catalog": .text(PGCatalogModel.databaseName),
                        "udt_schema": .text(type.category == "E" ? PGCatalogModel.schemaName : "pg_catalog"), "udt_name": .text(type.name), "dtd_identifier": .text(String(i + 1)),
                        "is_self_referencing": .text("NO"), "is_identity": .text(column.identity == nil ? "NO" : "YES"), "identity_cycle": .text("NO"),
                        "is_generated": .text(column.generatedSQL == nil ? "NEVER" : "ALWAYS"), "is_updatable": .text(r.kind == "v" ? "NO" : "YES"),
                    ]
                    if let generated = column.generatedSQL { row["generation_expression"] = .text(generated) }
                    if let domain = column.domain {
                        row["domain_catalog"] = .text(PGCatalogModel.databaseName)
                        row["domain_schema"] = .text(PGCatalogModel.schemaName)
                        row["domain_name"] = .text(domain.name)
                    }
                    if let identity = column.identity { row["identity_generation"] = .text(identity) }
                    row.merge(typeFacts(column)) { $1 }
                    return row
                }
            }
        },
        "triggers": informationSchemaTriggers,
        "views": PGCatalogTable("""
            table_catalog:t table_schema:t table_name:t view_definition:t check_option:t is_updatable:t is_insertable_into:t \
            is_trigger_updatable:t is_trigger_deletable:t is_trigger_insertable_into:t
            """) { model in
            model.relations.compactMap { r in
                r.view.map {
                    ["table_catalog": .text(PGCatalogModel.databaseName), "table_schema": .text(r.schema),
                     "table_name": .text(r.name), "view_definition": .text($0.query), "check_option": .text("NONE"),
                     "is_updatable": .text("NO"), "is_insertable_into": .text("NO"), "is_trigger_updatable": .text("NO"),
                     "is_trigger_deletable": .text("NO"), "is_trigger_insertable_into": .text("NO")]
                }
            }
        },
        "table_constraints": PGCatalogTable("""
            constraint_catalog:t constraint_schema:t constraint_name:t table_catalog:t table_schema:t table_name:t \
            constraint_type:t is_deferrable:t initially_deferred:t enforced:t nulls_distinct:t
            """) { model in
            model.constraints.map { c in
                let types = ["p": "PRIMARY KEY", "u": "UNIQUE", "f": "FOREIGN KEY", "c": "CHECK"]
                var row = constraintNames(c)
                row["table_catalog"] = .text(PGCatalogModel.databaseName)
                row["table_schema"] = .text(c.table.schema)
                row["table_name"] = .text(c.table.name)
                row["constraint_type"] = .text(types[c.kind] ?? "CHECK")
                row["is_deferrable"] = .text(c.foreignKey?.deferrable == true ? "YES" : "NO")
                row["initially_deferred"] = .text(c.foreignKey?.initiallyDeferred == true ? "YES" : "NO")
                row["enforced"] = .text("YES")
                row["nulls_distinct"] = c.kind == "u" ? .text("YES") : .null
                return row
            }
        },
        "key_column_usage": PGCatalogTable("""
            constraint_catalog:t constraint_schema:t constraint_name:t table_catalog:t table_schema:t table_name:t \
            column_name:t ordinal_position:i position_in_unique_constraint:n
            """) { model in
            model.constraints.filter { $0.kind != "c" }.flatMap { c in
                c.keys.enumerated().map { i, key in
                    var row = constraintNames(c)
                    row["table_catalog"] = .text(PGCatalogModel.databaseName)
                    row["table_schema"] = .text(c.table.schema)
                    row["table_name"] = .text(c.table.name)
                    row["column_name"] = .text(columnName(c.table, key))
                    row["ordinal_position"] = .integer(Int64(i + 1))
                    if c.kind == "f" { row["position_in_unique_constraint"] = .integer(Int64(i + 1)) }
                    return row
                }
            }
        },
        "referential_constraints": PGCatalogTable("""
            constraint_catalog:t constraint_schema:t constraint_name:t unique_constraint_catalog:t unique_constraint_schema:t \
            unique_constraint_name:t match_option:t update_rule:t delete_rule:t
            """) { model in
            model.constraints.compactMap { c in
                guard let fk = c.foreignKey else { return nil }
                var row = constraintNames(c)
                row["unique_constraint_catalog"] = .text(PGCatalogModel.databaseName)
                row["unique_constraint_schema"] = .text(c.referenced?.schema ?? c.table.schema)
                row["unique_constraint_name"] = c.index.map { .text($0.name) } ?? .null
                row["match_option"] = .text(fk.matchFull == true ? "FULL" : "NONE")
                row["update_rule"] = .text(fk.onUpdate.rawValue)
                row["delete_rule"] = .text(fk.onDelete.rawValue)
                return row
            }
        },
        "constraint_column_usage": PGCatalogTable("""
            table_catalog:t table_schema:t table_name:t column_name:t constraint_catalog:t constraint_schema:t constraint_name:t
            """) { model in
            // The columns a constraint is about: a foreign key's referenced ones, the others' own.
            model.constraints.flatMap { c in
                let table = c.foreignKey == nil ? c.table : c.referenced
                let keys = c.foreignKey == nil ? c.keys : c.referencedKeys
                return keys.compactMap { key -> [String: Value]? in
                    guard let table else { return nil }
                    var row = constraintNames(c)
                    row["table_catalog"] = .text(PGCatalogModel.databaseName)
                    row["table_schema"] = .text(table.schema)
                    row["table_name"] = .text(table.name)
                    row["column_name"] = .text(columnName(table, key))
                    return row
                }
            }
        },
        "check_constraints": PGCatalogTable("constraint_catalog:t constraint_schema:t constraint_name:t check_clause:t") { model in
            model.constraints.filter { $0.kind == "c" }.map { c in
                var row = constraintNames(c)
                row["check_clause"] = .text(c.check ?? "")
                return row
            } + model.domainConstraints.map { _, name, _, sql, _ in
                ["constraint_catalog": .text(PGCatalogModel.databaseName), "constraint_schema": .text(PGCatalogModel.schemaName),
                 "constraint_name": .text(name), "check_clause": .text(sql)]
            }
        },
        "domains": PGCatalogTable("""
            domain_catalog:t domain_schema:t domain_name:t data_type:t character_maximum_length:n character_octet_length:n \
            character_set_catalog:t character_set_schema:t character_set_name:t collation_catalog:t collation_schema:t \
            collation_name:t numeric_precision:n numeric_precision_radix:n numeric_scale:n datetime_precision:n interval_type:t \
            interval_precision:n domain_default:t udt_catalog:t udt_schema:t udt_name:t scope_catalog:t scope_schema:t \
            scope_name:t maximum_cardinality:n dtd_identifier:t
            """) { model in
            // As PostgreSQL lists one: its base type's facts (the bottom one's, for a domain over a domain).
            model.domains.map { _, base, domain, _ in
                let type = base.wireType
                var row: [String: Value] = [
                    "domain_catalog": .text(PGCatalogModel.databaseName), "domain_schema": .text(PGCatalogModel.schemaName),
                    "domain_name": .text(domain.name), "domain_default": domain.defaultSQL.map(Value.text) ?? .null,
                    "data_type": .text(type.element != 0 ? "ARRAY" : type.category == "E" ? "USER-DEFINED" : type.formatted),
                    "udt_catalog": .text(PGCatalogModel.databaseName), "udt_schema": .text(type.category == "E" ? PGCatalogModel.schemaName : "pg_catalog"),
                    "udt_name": .text(type.name), "dtd_identifier": .text("1"),
                ]
                row.merge(typeFacts(base)) { $1 }
                return row
            }
        },
        "domain_constraints": PGCatalogTable("""
            constraint_catalog:t constraint_schema:t constraint_name:t domain_catalog:t domain_schema:t domain_name:t \
            is_deferrable:t initially_deferred:t
            """) { model in
            model.domainConstraints.map { _, name, domain, _, _ in
                ["constraint_catalog": .text(PGCatalogModel.databaseName), "constraint_schema": .text(PGCatalogModel.schemaName),
                 "constraint_name": .text(name), "domain_catalog": .text(PGCatalogModel.databaseName),
                 "domain_schema": .text(PGCatalogModel.schemaName), "domain_name": .text(domain.name),
                 "is_deferrable": .text("NO"), "initially_deferred": .text("NO")]
            }
        },
    ]

    /// The facts of a column's type information_schema lists beside `data_type` (lengths,
    /// precisions, interval fields), as PostgreSQL gives them: a table column's or a domain's.
    static func typeFacts(_ column: PGCatalogModel.Column) -> [String: Value] {
        var row: [String: Value] = [:]
        let type = column.wireType
        let declared = column.element == nil ? column.declared : nil
        switch type.oid {
        case 20: row["numeric_precision"] = .integer(64); row["numeric_precision_radix"] = .integer(2); row["numeric_scale"] = .integer(0)
        case 23: row["numeric_precision"] = .integer(32); row["numeric_precision_radix"] = .integer(2); row["numeric_scale"] = .integer(0)
        case 21: row["numeric_precision"] = .integer(16); row["numeric_precision_radix"] = .integer(2); row["numeric_scale"] = .integer(0)
        case 700: row["numeric_precision"] = .integer(24); row["numeric_precision_radix"] = .integer(2)
        case 701: row["numeric_precision"] = .integer(53); row["numeric_precision_radix"] = .integer(2)
        case 1700:
            row["numeric_precision_radix"] = .integer(10)
            if let precision = declared?.precision {
                row["numeric_precision"] = .integer(Int64(precision))
                row["numeric_scale"] = .integer(Int64(declared?.scale ?? 0))
            }
        case 25: row["character_octet_length"] = .integer(1_073_741_824)
        case 1042, 1043:
            // Octets at four per character (UTF-8's longest), as PostgreSQL counts them.
            if let length = declared?.length {
                row["character_maximum_length"] = .integer(Int64(length))
                row["character_octet_length"] = .integer(Int64(length) * 4)
            } else {
                row["character_octet_length"] = .integer(1_073_741_824)
            }
        case 1082: row["datetime_precision"] = .integer(0)
        case 1083, 1114, 1184: row["datetime_precision"] = .integer(Int64(declared?.precision ?? 6))
        case 1186:
            row["datetime_precision"] = .integer(Int64(declared?.precision ?? 6))
            if let fields = declared?.intervalType { row["interval_type"] = .text(fields) }
        default: break
        }
        return row
    }

    static func constraintNames(_ c: PGCatalogModel.Constraint) -> [String: Value] {
        ["constraint_catalog": .text(PGCatalogModel.databaseName), "constraint_schema": .text(c.table.schema),
         "constraint_name": .text(c.name)]
    }

    static func columnName(_ relation: PGCatalogModel.Relation, _ attnum: Int64) -> String {
        attnum >= 1 && attnum <= relation.columns.count ? relation.columns[Int(attnum - 1)].name : "?"
    }
}
