import RedCore

/// What a trigger function is called with: PostgreSQL's `TG_` variables, and the rows as `NEW`
/// and `OLD` (`TableTriggers` fills it for each row or statement).
public struct TriggerInvocation: Sendable {
    public var triggerName: String
    /// `BEFORE` or `AFTER`.
    public var timing: String
    /// `ROW` or `STATEMENT`.
    public var level: String
    /// `INSERT`, `UPDATE` or `DELETE`.
    public var operation: String
    public var tableName: String
    public var tableSchema: String
    public var arguments: [String]
    /// The table's columns, the fields of NEW and OLD.
    public var columns: [(name: String, type: DataType)]
    /// The row's values after and before the change, in `columns`' order; nil where the event
    /// has none (OLD on INSERT, NEW on DELETE, both for a statement trigger).
    public var new: [Value]?
    public var old: [Value]?
    /// `WHEN (…)`: the trigger runs only when it is true.
    public var whenSQL: String?
}

/// How a trigger function's run ended.
public enum TriggerOutcome: Sendable {
    /// WHEN was not true: the function did not run, and the row goes on unchanged.
    case skipped
    /// What RETURN gave: a row (NEW, OLD, another record) or NULL (nil: skip the row).
    case returned([Value]?)
}

extension PLpgSQLRun {
    /// Runs a trigger function's body for one row or statement.
    ///
    /// NEW and OLD are records with the table's columns as fields; the one the event lacks is
    /// NULL (its fields read NULL, and `RETURN` of it returns NULL: `RETURN NEW` in a BEFORE
    /// DELETE trigger skips the delete, as in PostgreSQL). A statement trigger's NEW and OLD
    /// are both NULL. The body must end with RETURN (2F005), as PostgreSQL requires.
    /// `declaresTriggerVariables` false: the body names no `TG_` variable, so none is declared.
    public mutating func runTrigger(_ block: PLBlock, _ call: TriggerInvocation, declaresTriggerVariables: Bool = true) async throws -> TriggerOutcome {
        scopes = [[:]]
        returnsRow = true
        for (name, values) in [("new", call.new), ("old", call.old)] {
            try await declare(name: name, typeText: nil, record: true, value: .null)
            setFields(of: slots.count - 1, call.columns.enumerated().map { k, column in (column.name, column.type, values?[k] ?? .null) })
            slots[slots.count - 1].nullRecord = values == nil
        }
        // In parentheses: `OLD.* IS DISTINCT FROM NEW.*` is an expression here, not a select list.
        if let whenSQL = call.whenSQL, !(try await isTrue("(\(whenSQL))")) { return .skipped }
        if declaresTriggerVariables {
            let text: [(String, String)] = [("tg_name", call.triggerName), ("tg_when", call.timing), ("tg_level", call.level),
                                            ("tg_op", call.operation), ("tg_relname", call.tableName), ("tg_table_name", call.tableName),
                                            ("tg_table_schema", call.tableSchema)]
            // Of their types already: declared with no cast query (a trigger runs for every row).
            for (name, value) in text { try await declare(name: name, typeText: "text", value: .text(value), typed: true) }
            try await declare(name: "tg_nargs", typeText: "integer", value: .integer(Int64(call.arguments.count)), typed: true)
            try await declare(name: "tg_argv", typeText: "text[]", value: .json(.array(call.arguments.map { .string($0) })), typed: true)
        }
        try await declare(name: "found", typeText: "boolean", value: .boolean(false))
        switch try await run(block) {
        case .returned: return .returned(returnedRow)
        case .exit(let label?): throw RedError(.syntaxError, "there is no label \"\(label)\" attached to any block or loop enclosing this statement")
        case .exit: throw RedError(.syntaxError, "EXIT cannot be used outside a loop, unless it has a label")
        case .next: throw RedError(.syntaxError, "CONTINUE cannot be used outside a loop")
        case .normal:
            throw RedError(.raisedException, "control reached end of trigger procedure without RETURN", condition: "2F005")
        }
    }

    /// What `RETURN expression` gives in a trigger function: NULL, the fields of the record
    /// variable it names (NULL when that record is NULL), or — any other expression, such as
    /// `COALESCE(NEW, OLD)` — its value, a record read as a JSON object whose members fill the
    /// table's columns by name.
    mutating func triggerRow(_ expression: String) async throws -> [Value]? {
        let text = expression.trimmingSpaces().lowercased()
        if text == "null" { return nil }
        guard let i = slotIndex(text), slots[i].isRecord else {
            switch try await value(of: expression) {
            case .null: return nil
            case .json(.object(let members)):
                let columns = slotIndex("new").flatMap { slots[$0].fields } ?? []
                return try columns.map { column in
                    guard let member = members.last(where: { $0.0 == column.name })?.1 else {
                        throw RedError(.datatypeMismatch, "returned row structure does not match the structure of the triggering table",
                                       detail: "The returned row has no column \"\(column.name)\".")
                    }
                    // A json column keeps the member as it is (a string stays a JSON string).
                    return column.type == .json ? (member == .null ? .null : .json(member)) : Value(json: member)
                }
            case let other:
                throw RedError(.datatypeMismatch, "returned value of a trigger function must be a row or NULL, not \(other.kindName)")
            }
        }
        guard let fields = slots[i].fields else {
            throw RedError(.objectNotInPrerequisiteState, "record \"\(text)\" is not assigned yet", detail: "The tuple structure of a not-yet-assigned record is indeterminate.",
                           condition: "55000")
        }
        return slots[i].nullRecord ? nil : fields.map(\.value)
    }
}
