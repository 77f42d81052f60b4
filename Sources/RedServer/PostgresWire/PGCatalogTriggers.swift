import RedCore
import RedQuery
import RedEngine

/// Triggers as PostgreSQL's catalogs show them: `pg_trigger`'s rows and `pg_get_triggerdef`,
/// which psql's `\d` reads for its "Triggers:" lines and pg_dump for the CREATE TRIGGER it
/// writes (a table's `relhastriggers` says to look).
extension PGCatalogModel {
    struct Trigger: Sendable {
        var oid: Int64
        var definition: TriggerDefinition
        var table: Relation
        var functionOID: Int64
    }

    /// Every table's triggers, by table and name.
    var triggers: [Trigger] {
        relations.filter { $0.kind == "r" }.flatMap { table in
            (table.table?.schema.triggerList ?? []).map { definition in
                Trigger(oid: Self.stableOID("\(table.oid).\(definition.name)", kind: "trigger"), definition: definition, table: table,
                        functionOID: functions.first { $0.spec.name == definition.functionName && $0.spec.arguments.isEmpty }?.oid ?? 0)
            }
        }
    }

    func trigger(oid: Int64) -> Trigger? { triggers.first { $0.oid == oid } }

    /// `pg_trigger.tgtype`'s bits: row 1, before 2, insert 4, delete 8, update 16.
    static func triggerType(_ definition: TriggerDefinition) -> Int64 {
        var bits: Int64 = definition.forEachRow ? 1 : 0
        if definition.timing == .before { bits |= 2 }
        if definition.events.contains(.insert) { bits |= 4 }
        if definition.events.contains(.delete) { bits |= 8 }
        if definition.events.contains(.update) { bits |= 16 }
        return bits
    }

    /// `pg_get_triggerdef`: `CREATE TRIGGER name AFTER INSERT OR UPDATE OF a ON public.t FOR EACH
    /// ROW WHEN (…) EXECUTE FUNCTION f('x')`, events in PostgreSQL's order. `pretty` (psql's `\d`)
    /// leaves names in public unqualified; otherwise (pg_dump) they are qualified.
    static func triggerDefinition(_ trigger: Trigger, pretty: Bool) -> String {
        let definition = trigger.definition
        var events: [String] = []
        if definition.events.contains(.insert) { events.append("INSERT") }
        if definition.events.contains(.delete) { events.append("DELETE") }
        if definition.events.contains(.update) {
            events.append("UPDATE" + (definition.updateColumns.isEmpty ? "" : " OF " + definition.updateColumns.map(SQLIdentifier.quoted).joined(separator: ", ")))
        }
        let table = trigger.table
        let tableName = pretty ? table.qualifiedName.split(separator: ".").map { SQLIdentifier.quoted(String($0)) }.joined(separator: ".")
                               : "\(SQLIdentifier.quoted(table.schema)).\(SQLIdentifier.quoted(table.name.split(separator: ".").last.map(String.init) ?? table.name))"
        var sql = "CREATE TRIGGER \(SQLIdentifier.quoted(definition.name)) \(definition.timing == .before ? "BEFORE" : "AFTER") "
            + events.joined(separator: " OR ") + " ON \(tableName) FOR EACH \(definition.forEachRow ? "ROW" : "STATEMENT")"
        if let when = definition.whenSQL { sql += " WHEN (\(withoutEnclosingParentheses(when)))" }
        let arguments = definition.arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" }.joined(separator: ", ")
        sql += " EXECUTE FUNCTION \(pretty ? "" : "public.")\(SQLIdentifier.quoted(definition.functionName))(\(arguments))"
        return sql
    }
}

extension PGCatalogTable {
    /// `information_schema.triggers`: a row per trigger and event, `action_order` counting the
    /// table's triggers of that event, timing and level in firing (name) order.
    static let informationSchemaTriggers = PGCatalogTable("""
        trigger_catalog:t trigger_schema:t trigger_name:t event_manipulation:t event_object_catalog:t event_object_schema:t \
        event_object_table:t action_order:i action_condition:t action_statement:t action_orientation:t action_timing:t \
        action_reference_old_table:t action_reference_new_table:t action_reference_old_row:t action_reference_new_row:t created:t
        """) { model in
        var rows: [[String: Value]] = []
        var order: [String: Int64] = [:]
        for trigger in model.triggers {
            let definition = trigger.definition
            let full = PGCatalogModel.triggerDefinition(trigger, pretty: true)
            let statement = full.range(of: " EXECUTE FUNCTION ").map { "EXECUTE FUNCTION " + full[$0.upperBound...] } ?? ""
            for event in [TriggerDefinition.Event.insert, .delete, .update] where definition.events.contains(event) {
                let key = "\(trigger.table.oid) \(event.rawValue) \(definition.timing.rawValue) \(definition.forEachRow)"
                order[key, default: 0] += 1
                rows.append(["trigger_catalog": .text(PGCatalogModel.databaseName), "trigger_schema": .text(trigger.table.schema),
                             "trigger_name": .text(definition.name), "event_manipulation": .text(event.rawValue.uppercased()),
                             "event_object_catalog": .text(PGCatalogModel.databaseName), "event_object_schema": .text(trigger.table.schema),
                             "event_object_table": .text(trigger.table.name), "action_order": .integer(order[key]!),
                             "action_condition": definition.whenSQL.map { .text("(\($0))") } ?? .null, "action_statement": .text(statement),
                             "action_orientation": .text(definition.forEachRow ? "ROW" : "STATEMENT"),
                             "action_timing": .text(definition.timing == .before ? "BEFORE" : "AFTER")])
            }
        }
        return rows
    }

    static let pgTrigger = PGCatalogTable("""
        oid:i tgrelid:i tgparentid:i tgname:t tgfoid:i tgtype:i tgenabled:t tgisinternal:b tgconstrrelid:i tgconstrindid:i \
        tgconstraint:i tgdeferrable:b tginitdeferred:b tgnargs:i tgattr:v tgargs:t tgqual:t tgoldtable:t tgnewtable:t
        """) { model in
        model.triggers.map { trigger in
            let definition = trigger.definition
            let attributes = definition.updateColumns.compactMap { name in
                trigger.table.columns.firstIndex { $0.name == name }.map { Int64($0 + 1) }
            }
            return ["oid": .integer(trigger.oid), "tgrelid": .integer(trigger.table.oid), "tgname": .text(definition.name),
                    "tgfoid": .integer(trigger.functionOID), "tgtype": .integer(PGCatalogModel.triggerType(definition)),
                    "tgenabled": .text(definition.enabled ? "O" : "D"), "tgisinternal": .boolean(false),
                    "tgnargs": .integer(Int64(definition.arguments.count)), "tgattr": ints(attributes),
                    // bytea in PostgreSQL: each argument followed by a zero byte, shown escaped.
                    "tgargs": .text(definition.arguments.map { $0 + "\\000" }.joined()),
                    "tgqual": definition.whenSQL.map(Value.text) ?? .null]
        }
    }
}
