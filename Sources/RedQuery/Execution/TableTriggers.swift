import RedCore
import RedEngine

/// The triggers one INSERT, UPDATE or DELETE fires on its table, and the AFTER ROW events it
/// has queued.
///
/// PostgreSQL's order, kept here:
/// - BEFORE STATEMENT triggers fire before the first row is written, even when none is: an
///   UPDATE or DELETE has read its targets by then, so rows the trigger writes are not among
///   them (PostgreSQL's snapshot predates the trigger), and a target it changed is 27000.
/// - Each row's BEFORE ROW triggers fire after its defaults (INSERT) or SET (UPDATE) are applied
///   and before its generated columns, NOT NULL and CHECK constraints, unique keys and write.
///   Each gets the row the one before returned; one that returns NULL skips the row (no later
///   trigger runs, the row is not written or counted).
/// - AFTER ROW events are queued as rows are written and fire when all are (after the
///   statement's foreign keys are checked), with the rows as written; AFTER STATEMENT triggers
///   fire last.
/// - Triggers of one kind fire in the order of their names.
///
/// A trigger runs its function as a part of the statement (`PLpgSQLFunctionCall.fire`): on its
/// transaction, under its cancel switch and limits; a trigger's own writes fire triggers in
/// turn, nested at most `PLpgSQLFunctionCall.maxDepth` deep.
///
/// A class: statements test and fire it once per row (`if let triggers, …`), and a struct of
/// this many references was copied, each retained and released, every time.
final class TableTriggers {
    struct Fired {
        let definition: TriggerDefinition
        let call: PLpgSQLFunctionCall
    }

    let context: ExecutionContext
    let handle: TableHandle
    let event: TriggerDefinition.Event
    private let beforeStatement: [Fired]
    private let beforeRow: [Fired]
    private let afterRow: [Fired]
    private let afterStatement: [Fired]
    private let tableSchema: String
    /// The table's name without its schema (`TG_TABLE_NAME`), worked out once, not per firing.
    private let tableName: String
    /// NEW's and OLD's fields: the table's columns, as every firing hands them over.
    private let fields: [(name: String, type: DataType)]
    /// The statement's AFTER ROW events, in the order rows were written; shared by an upsert's
    /// INSERT and UPDATE triggers, whose events fire in one order as PostgreSQL's queue has them.
    final class AfterRowEvents {
        var events: [(triggers: [Fired], event: TriggerDefinition.Event, new: StoredRow?, old: StoredRow?)] = []
    }
    /// How many statements of PL/pgSQL functions (triggers, or functions SET, RETURNING or a
    /// default calls) had written when the statement began (`NoticeSink.functionWrites`; nil:
    /// not counted here, so every row is read again).
    private let functionWritesAtStart: Int?
    private let queue: AfterRowEvents

    private init(context: ExecutionContext, handle: TableHandle, event: TriggerDefinition.Event, beforeStatement: [Fired], beforeRow: [Fired],
                 afterRow: [Fired], afterStatement: [Fired], tableSchema: String, tableName: String, fields: [(name: String, type: DataType)],
                 functionWritesAtStart: Int?, queue: AfterRowEvents) {
        self.context = context
        self.handle = handle
        self.event = event
        self.beforeStatement = beforeStatement
        self.beforeRow = beforeRow
        self.afterRow = afterRow
        self.afterStatement = afterStatement
        self.tableSchema = tableSchema
        self.tableName = tableName
        self.fields = fields
        self.functionWritesAtStart = functionWritesAtStart
        self.queue = queue
    }

    /// The triggers `handle`'s `event` fires (`setColumns`: the columns an UPDATE's SET names);
    /// nil when none would.
    /// `sharing`: another event's triggers of the same statement, whose AFTER ROW queue this one joins.
    static func of(_ handle: TableHandle, _ event: TriggerDefinition.Event, setColumns: Set<String> = [],
                   context: ExecutionContext, sharing: TableTriggers? = nil) throws -> TableTriggers? {
        guard handle.schema.model == .table, let triggers = handle.schema.triggers, triggers.contains(where: \.enabled) else { return nil }
        let tx = context.transaction
        var functions: [String: PLpgSQLFunctionCall] = [:]
        func fired(_ timing: TriggerDefinition.Timing, row: Bool) throws -> [Fired] {
            try handle.schema.triggerList.filter { $0.fires(on: event, timing: timing, row: row, setColumns: setColumns) }.map { definition in
                if functions[definition.functionName] == nil {
                    let function = try Self.function(named: definition.functionName, tx)
                    functions[definition.functionName] = try PLpgSQLFunctionCall(function: function)
                }
                return Fired(definition: definition, call: functions[definition.functionName]!)
            }
        }
        let all = TableTriggers(context: context, handle: handle, event: event,
                                beforeStatement: try fired(.before, row: false), beforeRow: try fired(.before, row: true),
                                afterRow: try fired(.after, row: true), afterStatement: try fired(.after, row: false),
                                tableSchema: (try? SchemaCatalog.split(handle.name, tx).schema) ?? "public", tableName: handle.localName,
                                fields: handle.schema.columns.map { ($0.name, $0.type) },
                                functionWritesAtStart: context.noticeSink?.functionWrites, queue: sharing?.queue ?? AfterRowEvents())
        return all.beforeStatement.isEmpty && all.beforeRow.isEmpty && all.afterRow.isEmpty && all.afterStatement.isEmpty ? nil : all
    }

    /// The trigger function called `name`: no arguments, `RETURNS trigger` (42883 and 42P17 otherwise).
    static func function(named name: String, _ tx: Transaction) throws -> FunctionSpec {
        guard let function = try FunctionCatalog.overloads(of: name, tx).first(where: \.arguments.isEmpty) else {
            throw RedError(.undefinedFunction, "function \(name)() does not exist")
        }
        guard function.returnType?.lowercased() == "trigger", !function.returnsSet, function.language == "plpgsql" else {
            throw RedError(.invalidFunctionDefinition, "function \(name) must return type trigger", condition: "42P17")
        }
        return function
    }

    /// Whether rows go through BEFORE ROW triggers: then NOT NULL is checked after them
    /// (`beforeRow`), not when the row is first built, as a trigger may fill the column.
    var hasBeforeRow: Bool { !beforeRow.isEmpty }
    /// Whether BEFORE STATEMENT triggers run after the statement read its targets (which they
    /// may change: each is then checked before it is written).
    var hasBeforeStatement: Bool { !beforeStatement.isEmpty }

    func fireBeforeStatement() throws {
        for trigger in beforeStatement { _ = try fire(trigger, event, new: nil, old: nil) }
    }

    /// Runs the BEFORE ROW triggers on a row about to be written (INSERT: `new`; UPDATE: `new`
    /// and `old`; DELETE: `old`) and returns the row to go on with — NEW as the triggers left
    /// it, OLD for a delete — or nil when one returned NULL and the row is skipped.
    func beforeRow(new: StoredRow?, old: StoredRow?) throws -> StoredRow? {
        var current = new
        for trigger in beforeRow {
            switch try fire(trigger, event, new: current, old: old) {
            case .skipped: continue
            case .returned(nil): return nil
            case .returned(let values?):
                // A DELETE goes on; otherwise any row of the table's shape replaces NEW's values (the row keeps its identity).
                guard let base = current else { continue }
                current = try row(from: values, base: base)
            }
        }
        guard let current else { return old }
        try verifyNotNull(current)
        return current
    }

    /// Refuses to write `row`, read before BEFORE ROW triggers ran, when one of them has since
    /// changed or deleted it: PostgreSQL's 27000, rather than overwrite the trigger's change.
    func requireUnchangedSinceRead(_ row: StoredRow) throws {
        // Nothing but the statement itself and the functions it calls writes in its transaction
        // while it runs: until a function has written, no row read has changed (the common trigger
        // writes nothing, and its rows are not read again).
        if let start = functionWritesAtStart, context.noticeSink?.functionWrites == start { return }
        guard let current = try context.store.get(context.transaction, handle, rid: row.rid), current == row else {
            throw RedError(.invalidOperation, "tuple to be updated or deleted was already modified by an operation triggered by the current command",
                           hint: "Consider using an AFTER trigger instead of a BEFORE trigger to propagate changes to other rows.", condition: "27000")
        }
    }

    /// Notes a row written, for the AFTER ROW triggers.
    func rowWritten(new: StoredRow?, old: StoredRow?) throws {
        guard !afterRow.isEmpty else { return }
        queue.events.append((afterRow, event, new, old))
        try context.checkMaterialized(queue.events.count, "AFTER ROW trigger events")
    }

    /// Fires the queued AFTER ROW events, then the AFTER STATEMENT triggers.
    func fireAfter() throws {
        try fireAfterRows()
        try fireAfterStatement()
    }

    func fireAfterRows() throws {
        let events = queue.events
        queue.events = []
        for event in events {
            for trigger in event.triggers { _ = try fire(trigger, event.event, new: event.new, old: event.old) }
        }
    }

    func fireAfterStatement() throws {
        for trigger in afterStatement { _ = try fire(trigger, event, new: nil, old: nil) }
    }

    private func fire(_ trigger: Fired, _ event: TriggerDefinition.Event, new: StoredRow?, old: StoredRow?) throws -> TriggerOutcome {
        let columns = handle.schema.columns
        let definition = trigger.definition
        let invocation = TriggerInvocation(
            triggerName: definition.name, timing: definition.timing == .before ? "BEFORE" : "AFTER",
            level: definition.forEachRow ? "ROW" : "STATEMENT", operation: Self.operation(event),
            tableName: tableName, tableSchema: tableSchema, arguments: definition.arguments,
            columns: fields,
            new: new.map { row in columns.map { row.values[$0.id] ?? .null } },
            old: old.map { row in columns.map { row.values[$0.id] ?? .null } },
            whenSQL: definition.whenSQL)
        return try trigger.call.fire(invocation, on: handle.name, context)
    }

    /// `TG_OP`: a constant, not a string made per firing.
    private static func operation(_ event: TriggerDefinition.Event) -> String {
        switch event {
        case .insert: "INSERT"
        case .update: "UPDATE"
        case .delete: "DELETE"
        }
    }

    /// `base` with `values` (in the table's column order) as its columns' values.
    private func row(from values: [Value], base: StoredRow) throws -> StoredRow {
        let columns = handle.schema.columns
        guard values.count == columns.count else {
            throw RedError(.datatypeMismatch, "returned row structure does not match the structure of the triggering table",
                           detail: "Number of returned columns (\(values.count)) does not match expected column count (\(columns.count)).")
        }
        var row = base
        for i in columns.indices {  // by index: the columns are not copied out one by one
            let coerced: Value
            do { coerced = try columns[i].coerce(context.readingInstant(values[i], for: columns[i])) } catch let error as RedError {
                throw RedError(error.code, "\(error.message) (column \"\(columns[i].name)\" of relation \"\(tableName)\")", detail: error.detail,
                               condition: error.condition)
            }
            row.values[columns[i].id] = coerced.isNull ? nil : coerced
        }
        return row
    }

    private func verifyNotNull(_ row: StoredRow) throws {
        for column in handle.schema.columns where column.notNull && column.generatedSQL == nil && (row.values[column.id] ?? .null).isNull {
            throw RedError(.notNullViolation, "null value in column \"\(column.name)\" of relation \"\(handle.localName)\" violates not-null constraint")
        }
    }
}
