import RedCore
import RedEngine

/// CREATE, DROP and ALTER TRIGGER, and ALTER TABLE's ENABLE/DISABLE TRIGGER. A trigger is
/// part of its table's schema (`TriggerDefinition`); what CREATE checks is what PostgreSQL
/// checks: the table is a table, the function exists and returns `trigger`, UPDATE OF's
/// columns exist, and WHEN names only the NEW and OLD the event has.
extension DDLExecutor {
    func createTrigger(_ definition: TriggerDefinition, table: String, orReplace: Bool) throws -> QueryResult {
        let handle = try triggerTable(table)
        _ = try TableTriggers.function(named: definition.functionName, tx)
        for column in definition.updateColumns where handle.schema.column(named: column) == nil {
            throw RedError(.undefinedColumn, "column \"\(column)\" of relation \"\(handle.localName)\" does not exist")
        }
        if let whenSQL = definition.whenSQL { try checkWhen(whenSQL, definition, handle) }
        var schema = handle.schema
        var triggers = schema.triggers ?? []
        var added = definition
        added.updateColumns = definition.updateColumns.map { handle.schema.column(named: $0)?.name ?? $0 }
        if let i = triggers.firstIndex(where: { $0.name == definition.name }) {
            guard orReplace else {
                throw RedError(.duplicateObject, "trigger \"\(definition.name)\" for relation \"\(handle.localName)\" already exists")
            }
            triggers[i] = added
        } else {
            guard triggers.count < TriggerDefinition.maxPerTable else {
                throw RedError(.limitExceeded, "a table has at most \(TriggerDefinition.maxPerTable) triggers")
            }
            triggers.append(added)
        }
        schema.triggers = triggers
        _ = try store.setSchema(tx, handle, schema)
        return .message("trigger '\(definition.name)' created", type: "create", tag: "CREATE TRIGGER")
    }

    func dropTrigger(_ name: String, table: String, ifExists: Bool) throws -> QueryResult {
        guard let handle = try openTable(table) else {
            if ifExists { return .message("relation \"\(table)\" does not exist, skipping", type: "drop", tag: "DROP TRIGGER") }
            throw try SchemaCatalog.missingSchema(in: table, tx) ?? RedError(.undefinedCollection, "relation \"\(table)\" does not exist")
        }
        var schema = handle.schema
        guard let i = schema.triggers?.firstIndex(where: { $0.name == name }) else {
            if ifExists { return .message("trigger \"\(name)\" for relation \"\(handle.localName)\" does not exist, skipping", type: "drop", tag: "DROP TRIGGER") }
            throw Self.missingTrigger(name, handle)
        }
        schema.triggers!.remove(at: i)
        if schema.triggers!.isEmpty { schema.triggers = nil }
        _ = try store.setSchema(tx, handle, schema)
        return .message("trigger '\(name)' dropped", type: "drop", tag: "DROP TRIGGER")
    }

    func renameTrigger(_ name: String, table: String, to newName: String) throws -> QueryResult {
        let handle = try triggerTable(table)
        var schema = handle.schema
        guard let i = schema.triggers?.firstIndex(where: { $0.name == name }) else { throw Self.missingTrigger(name, handle) }
        if newName != name, schema.triggers!.contains(where: { $0.name == newName }) {
            throw RedError(.duplicateObject, "trigger \"\(newName)\" for relation \"\(handle.localName)\" already exists")
        }
        schema.triggers![i].name = newName
        _ = try store.setSchema(tx, handle, schema, structural: false)
        return .message("trigger '\(name)' renamed to '\(newName)'", type: "alter", tag: "ALTER TRIGGER")
    }

    /// `ENABLE TRIGGER name | USER | ALL` / `DISABLE TRIGGER …` of ALTER TABLE. ALL switches
    /// the foreign keys' checks as well (`CollectionSchema.foreignKeyChecksDisabled`), as it
    /// does PostgreSQL's constraint triggers: what `pg_dump --disable-triggers` relies on to
    /// load data in any order.
    func setTriggersEnabled(_ handle: TableHandle, name: String?, _ enabled: Bool, constraints: Bool, _ notes: inout [String]) throws -> TableHandle {
        var schema = handle.schema
        if constraints { schema.foreignKeyChecksDisabled = enabled ? nil : true }
        var triggers = schema.triggers ?? []
        if let name {
            guard let i = triggers.firstIndex(where: { $0.name == name }) else { throw Self.missingTrigger(name, handle) }
            triggers[i].enabled = enabled
        } else {
            for i in triggers.indices { triggers[i].enabled = enabled }
        }
        schema.triggers = triggers.isEmpty ? nil : triggers
        notes.append("\(name.map { "trigger '\($0)'" } ?? "triggers") \(enabled ? "enabled" : "disabled")")
        return try store.setSchema(tx, handle, schema)
    }

    /// A column a trigger names (UPDATE OF, or WHEN's `new.c` / `old.c`) is neither dropped nor
    /// renamed under it: the trigger keeps its text, so it would lose the column.
    func refuseTriggerReaders(of column: String, _ handle: TableHandle, what: String) throws {
        for trigger in handle.schema.triggerList {
            var names = trigger.updateColumns.contains { $0.lowercased() == column.lowercased() }
            if !names, let sql = trigger.whenSQL, let tokens = try? Lexer.tokenize(sql, limits: ParserLimits()) {
                names = tokens.contains { if case .identifier(let s, _) = $0.kind { s == column } else { false } }
            }
            if names {
                throw RedError(.dependentObjectsStillExist, "cannot \(what) of table \(handle.localName) because trigger \(trigger.name) names it",
                               hint: "Drop the trigger, \(what), then create the trigger again.")
            }
        }
    }

    /// DROP FUNCTION … CASCADE: the triggers that call the function go with it (their notices).
    func dropTriggers(calling function: String) throws -> [String] {
        var notices: [String] = []
        for handle in try store.list(tx) where (handle.schema.triggers ?? []).contains(where: { $0.functionName == function }) {
            if context.tablesInUse.contains(handle.name) {
                throw RedError(.objectInUse, "cannot drop the triggers of \"\(handle.localName)\" because it is being used by active queries in this session")
            }
            var schema = handle.schema
            for trigger in schema.triggerList where trigger.functionName == function {
                notices.append("drop cascades to trigger \(trigger.name) on table \(handle.localName)")
            }
            schema.triggers!.removeAll { $0.functionName == function }
            if schema.triggers!.isEmpty { schema.triggers = nil }
            _ = try store.setSchema(tx, handle, schema)
        }
        return notices
    }

    /// DDL a trigger runs may not change a table a statement firing triggers is writing to: the
    /// statement goes on with the definition it read (PostgreSQL's 55006).
    func refuseTablesInUse(_ statement: Statement) throws {
        let named: (verb: String, tables: [String])
        switch statement {
        case .alterTable(let name, _, _): named = ("ALTER TABLE", [name])
        case .dropTable(let names, _, _, _): named = ("DROP TABLE", names)
        case .truncate(let names, _, _): named = ("TRUNCATE", names)
        case .createIndex(_, let table, _, _, _, _, _, _, _): named = ("CREATE INDEX", [table])
        case .createTrigger(_, let table, _), .dropTrigger(_, let table, _), .renameTrigger(_, let table, _): named = ("change triggers of", [table])
        case .dropIndex(_, let table?, _): named = ("DROP INDEX on", [table])
        case .dropIndex(let name, nil, _): named = ("DROP INDEX on", try findIndex(name).map { [$0.name] } ?? [])
        case .dropSchemas(let names, _, true):
            if let schema = names.first(where: { schema in context.tablesInUse.contains { $0.hasPrefix(schema + ".") } }) {
                throw RedError(.objectInUse, "cannot DROP SCHEMA \"\(schema)\" because a table of it is being used by active queries in this session")
            }
            return
        default: return
        }
        for name in named.tables {
            guard let handle = try store.open(tx, name), context.tablesInUse.contains(handle.name) else { continue }
            throw RedError(.objectInUse, "cannot \(named.verb) \"\(handle.localName)\" because it is being used by active queries in this session")
        }
    }

    static func missingTrigger(_ name: String, _ handle: TableHandle) -> RedError {
        RedError(.undefinedObject, "trigger \"\(name)\" for table \"\(handle.localName)\" does not exist")
    }

    /// The table a trigger goes on: triggers fire on tables' rows, not on views or other models.
    private func triggerTable(_ name: String) throws -> TableHandle {
        guard let handle = try openTable(name) else {
            if try ViewCatalog.definition(of: name, tx) != nil {
                throw RedError(.invalidOperation, "\"\(name)\" is a view", detail: "Views cannot have row-level BEFORE or AFTER triggers; INSTEAD OF triggers are not supported.",
                               condition: "42809")
            }
            throw try SchemaCatalog.missingSchema(in: name, tx) ?? RedError(.undefinedCollection, "relation \"\(name)\" does not exist")
        }
        guard handle.schema.model == .table else {
            throw RedError(.invalidOperation, "\"\(name)\" is a \(handle.schema.model.rawValue) collection: triggers go on tables", condition: "42809")
        }
        if handle.schema.materializedQuery != nil {
            throw RedError(.invalidOperation, "\"\(name)\" is a materialized view", detail: "Triggers on materialized views are not supported.", condition: "42809")
        }
        return handle
    }

    /// WHEN reads NEW and OLD only as the event has them (PostgreSQL's 42P17 and 0A000), and
    /// binds over the table's columns as `new.*` and `old.*`.
    private func checkWhen(_ sql: String, _ definition: TriggerDefinition, _ handle: TableHandle) throws {
        let tokens = try Lexer.tokenize(sql, limits: ParserLimits())
        let reads = { (record: String) in
            tokens.indices.contains { i in
                if case .identifier(record, false) = tokens[i].kind, i + 1 < tokens.count, tokens[i + 1].kind == .symbol(".") { return true }
                return false
            }
        }
        let readsNew = reads("new"), readsOld = reads("old")
        if !definition.forEachRow, readsNew || readsOld {
            throw RedError(.invalidFunctionDefinition, "statement trigger's WHEN condition cannot reference column values", condition: "42P17")
        }
        if definition.events.contains(.insert), readsOld {
            throw RedError(.invalidFunctionDefinition, "INSERT trigger's WHEN condition cannot reference OLD values", condition: "42P17")
        }
        if definition.events.contains(.delete), readsNew {
            throw RedError(.invalidFunctionDefinition, "DELETE trigger's WHEN condition cannot reference NEW values", condition: "42P17")
        }
        var parser = try Parser(sql)
        let condition = try parser.parseExpression()
        let scope = Scope(TableScanNode.columns(of: handle.schema, qualifier: "new") + TableScanNode.columns(of: handle.schema, qualifier: "old"),
                          parent: nil)
        let bound = try Planner(context: context).bind(condition, BindingContext(scope: scope, aggregatesForbiddenIn: "trigger WHEN conditions"))
        let type = Planner.staticType(bound)
        guard type == .boolean || type == .any else {
            throw RedError(.datatypeMismatch, "argument of WHEN must be type boolean, not type \(type.rawValue)")
        }
    }
}
