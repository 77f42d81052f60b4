import RedCore
import RedEngine

/// CREATE, DROP and ALTER TRIGGER, and ALTER TABLE's ENABLE/DISABLE TRIGGER, PostgreSQL's
/// grammar (`TableTriggers` says how they fire). What cannot be honoured — INSTEAD OF,
/// TRUNCATE, transition tables, constraint triggers — is refused here, by name.
extension Parser {
    /// After `CREATE [OR REPLACE] TRIGGER`.
    mutating func parseCreateTrigger(orReplace: Bool) throws -> Statement {
        let name = try parseIdentifier(what: "trigger name")
        let timing: TriggerDefinition.Timing
        if acceptKeyword("before") {
            timing = .before
        } else if acceptKeyword("after") {
            timing = .after
        } else if isKeyword("instead") {
            throw RedError(.featureNotSupported, "INSTEAD OF triggers are not supported (views here are not updatable)")
        } else {
            throw unexpected(expected: "BEFORE or AFTER")
        }
        var events: [TriggerDefinition.Event] = []
        var updateColumns: [String] = []
        repeat {
            let event: TriggerDefinition.Event
            if acceptKeyword("insert") {
                event = .insert
            } else if acceptKeyword("update") {
                event = .update
                if acceptKeyword("of") {
                    repeat { updateColumns.append(try parseAnyName()) } while acceptSymbol(",")
                }
            } else if acceptKeyword("delete") {
                event = .delete
            } else if isKeyword("truncate") {
                throw RedError(.featureNotSupported, "TRUNCATE triggers are not supported; triggers fire on INSERT, UPDATE and DELETE")
            } else {
                throw unexpected(expected: "INSERT, UPDATE or DELETE")
            }
            guard !events.contains(event) else { throw RedError(.syntaxError, "duplicate trigger events specified at or near \"\(event.rawValue)\"") }
            events.append(event)
        } while acceptKeyword("or")
        try expectKeyword("on")
        acceptOnly()
        let table = try parseRelationName(what: "table name")
        if isKeyword("referencing") {
            throw RedError(.featureNotSupported, "transition tables (REFERENCING NEW TABLE / OLD TABLE) are not supported yet; use a FOR EACH ROW trigger")
        }
        if isKeyword("deferrable") || isKeyword("initially") || (isKeyword("not") && isKeyword("deferrable", ahead: 1)) || isKeyword("from") {
            throw RedError(.syntaxError, "\(describe(current).uppercased()) is only allowed on constraint triggers")
        }
        var forEachRow = false
        if acceptKeyword("for") {
            _ = acceptKeyword("each")
            if acceptKeyword("row") {
                forEachRow = true
            } else {
                try expectKeyword("statement")
            }
        }
        var whenSQL: String?
        if acceptKeyword("when") {
            try expectSymbol("(")
            let start = current.offset
            _ = try parseExpression()
            whenSQL = String(decoding: bytes[start..<min(current.offset, bytes.count)], as: UTF8.self).trimmingSpaces()
            try expectSymbol(")")
        }
        try expectKeyword("execute")
        guard acceptKeyword("function") || acceptKeyword("procedure") else { throw unexpected(expected: "FUNCTION") }
        let function = try parseFunctionName()
        try expectSymbol("(")
        var arguments: [String] = []
        if !isSymbol(")") {
            repeat {
                // Constants and simple names, all kept as text (TG_ARGV), as PostgreSQL keeps them.
                switch current.kind {
                case .string(let s): arguments.append(s)
                case .integer(let n): arguments.append(String(n))
                case .float(let x): arguments.append(String(x))
                case .decimal(let n): arguments.append(n.description)
                case .identifier(let s, _): arguments.append(s)
                default: throw unexpected(expected: "a constant trigger argument")
                }
                advance()
            } while acceptSymbol(",")
        }
        try expectSymbol(")")
        if !updateColumns.isEmpty, !events.contains(.update) { throw unexpected(expected: "UPDATE") }
        let definition = TriggerDefinition(name: name, timing: timing, events: events, updateColumns: updateColumns, forEachRow: forEachRow,
                                           whenSQL: whenSQL, functionName: function, arguments: arguments)
        return .createTrigger(definition, table: table, orReplace: orReplace)
    }

    /// After `DROP TRIGGER`: `[IF EXISTS] name ON table [CASCADE | RESTRICT]`.
    mutating func parseDropTrigger() throws -> Statement {
        let ifExists = try parseIfExists()
        let name = try parseIdentifier(what: "trigger name")
        try expectKeyword("on")
        let table = try parseRelationName(what: "table name")
        if !acceptKeyword("cascade") { _ = acceptKeyword("restrict") }
        return .dropTrigger(name: name, table: table, ifExists: ifExists)
    }

    /// After `ALTER TRIGGER`: `name ON table RENAME TO new`.
    mutating func parseAlterTrigger() throws -> Statement {
        let name = try parseIdentifier(what: "trigger name")
        try expectKeyword("on")
        let table = try parseRelationName(what: "table name")
        if isKeyword("depends") || isKeyword("no") {
            throw RedError(.featureNotSupported, "ALTER TRIGGER … DEPENDS ON EXTENSION is not supported")
        }
        try expectKeyword("rename")
        try expectKeyword("to")
        return .renameTrigger(name: name, table: table, to: try parseIdentifier(what: "trigger name"))
    }

    /// ALTER TABLE's `ENABLE [REPLICA | ALWAYS] TRIGGER name | ALL | USER` and `DISABLE TRIGGER …`,
    /// after ENABLE or DISABLE; nil when TRIGGER does not follow (the action is another one).
    mutating func parseTriggerSwitch(enable: Bool) throws -> AlterAction? {
        if enable, isKeyword("replica"), isKeyword("trigger", ahead: 1) {
            // Fires only when session_replication_role is replica, which sessions here never are.
            throw RedError(.featureNotSupported, "ENABLE REPLICA TRIGGER is not supported (there is no session_replication_role); ENABLE TRIGGER or ENABLE ALWAYS TRIGGER fire in every session")
        }
        if enable, isKeyword("always"), isKeyword("trigger", ahead: 1) { advance() }  // every session fires it, as ENABLE does here
        guard acceptKeyword("trigger") else { return nil }
        if acceptKeyword("all") { return .setTriggersEnabled(name: nil, enable, constraints: true) }
        if acceptKeyword("user") { return .setTriggersEnabled(name: nil, enable) }
        return .setTriggersEnabled(name: try parseIdentifier(what: "trigger name"), enable)
    }
}
