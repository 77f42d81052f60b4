import RedCore
import RedEngine

/// Sequences and identity columns, as PostgreSQL writes them:
/// `CREATE SEQUENCE [IF NOT EXISTS] s [options]`, `ALTER SEQUENCE [IF EXISTS] s options`,
/// `ALTER SEQUENCE [IF EXISTS] s RENAME TO t`, `DROP SEQUENCE [IF EXISTS] s, … [CASCADE | RESTRICT]`, a column's
/// `GENERATED { ALWAYS | BY DEFAULT } AS IDENTITY [ ( options ) ]`, and ALTER TABLE's
/// `ALTER [COLUMN] c …` changes.
extension Parser {
    /// After `CREATE SEQUENCE`.
    mutating func parseCreateSequence() throws -> Statement {
        let ifNotExists = try parseIfNotExists()
        let name = try parseSequenceName()
        let options = try parseSequenceOptions(allowRestart: false, allowOwnedBy: true, inParentheses: false)
        return .createSequence(name: name, ifNotExists: ifNotExists, options: options)
    }

    /// After `ALTER SEQUENCE`.
    mutating func parseAlterSequence() throws -> Statement {
        let ifExists = try parseIfExists()
        let name = try parseSequenceName()
        if acceptKeyword("rename") {
            try expectKeyword("to")
            return .renameSequence(name: name, ifExists: ifExists, to: try parseIdentifier(what: "sequence name"))
        }
        let options = try parseSequenceOptions(allowRestart: true, allowOwnedBy: true, inParentheses: false)
        guard options != SequenceOptions() else { throw unexpected(expected: "a sequence option (INCREMENT, MINVALUE, MAXVALUE, START, RESTART, CACHE, CYCLE, OWNED BY)") }
        return .alterSequence(name: name, ifExists: ifExists, options: options)
    }

    /// After `DROP SEQUENCE`.
    mutating func parseDropSequence() throws -> Statement {
        let ifExists = try parseIfExists()
        var names: [String] = []
        repeat { names.append(try parseSequenceName()) } while acceptSymbol(",")
        let cascade = acceptKeyword("cascade")
        if !cascade { _ = acceptKeyword("restrict") }
        return .dropSequence(names: names, ifExists: ifExists, cascade: cascade)
    }

    /// A sequence name, `public.` accepted in front (the one schema).
    mutating func parseSequenceName() throws -> String { try parseRelationName(what: "sequence name") }

    /// The options of CREATE / ALTER SEQUENCE, or of an identity column inside `( … )`
    /// (`SEQUENCE NAME` is not accepted: an identity's sequence is always `<table>_<column>_seq`).
    mutating func parseSequenceOptions(allowRestart: Bool, allowOwnedBy: Bool, inParentheses: Bool) throws -> SequenceOptions {
        var options = SequenceOptions()
        while true {
            if inParentheses, isSymbol(")") { break }
            if acceptKeyword("as") {
                let type = try parseAnyName()
                let names = ["smallint": "smallint", "int2": "smallint", "integer": "integer", "int": "integer", "int4": "integer",
                             "bigint": "bigint", "int8": "bigint"]
                guard let canonical = names[type] else { throw RedError(.invalidArgument, "sequence type must be smallint, integer, or bigint") }
                options.typeName = canonical
            } else if acceptKeyword("increment") {
                _ = acceptKeyword("by")
                options.increment = try parseSignedInteger()
            } else if acceptKeyword("minvalue") {
                options.minValue = .some(try parseSignedInteger())
            } else if acceptKeyword("maxvalue") {
                options.maxValue = .some(try parseSignedInteger())
            } else if acceptKeyword("start") {
                _ = acceptKeyword("with")
                options.start = try parseSignedInteger()
            } else if acceptKeyword("cache") {
                options.cache = try parseSignedInteger()
            } else if acceptKeyword("cycle") {
                options.cycle = true
            } else if isKeyword("no") {
                advance()
                if acceptKeyword("minvalue") { options.minValue = .some(nil) }
                else if acceptKeyword("maxvalue") { options.maxValue = .some(nil) }
                else if acceptKeyword("cycle") { options.cycle = false }
                else { throw unexpected(expected: "MINVALUE, MAXVALUE or CYCLE") }
            } else if allowRestart, acceptKeyword("restart") {
                options.restart = .some(try parseRestartValue())
            } else if allowOwnedBy, acceptKeyword("owned") {
                try expectKeyword("by")
                if acceptKeyword("none") {
                    options.ownedBy = .some(nil)
                } else {
                    var table = try parseIdentifier(what: "table name")
                    try expectSymbol(".")
                    var column = try parseAnyName()
                    if acceptSymbol(".") { (table, column) = ("\(table).\(column)", try parseAnyName()) }  // schema.table.column
                    options.ownedBy = .some((table, column))
                }
            } else if inParentheses, acceptKeyword("sequence") {
                try expectKeyword("name")
                options.sequenceName = try parseRelationName(what: "sequence name")
            } else {
                break
            }
        }
        return options
    }

    /// After RESTART: `[WITH] n`, or nil for the sequence's START.
    mutating func parseRestartValue() throws -> Int64? {
        _ = acceptKeyword("with")
        if case .integer = current.kind { return try parseSignedInteger() }
        return isSymbol("-") ? try parseSignedInteger() : nil
    }

    mutating func parseSignedInteger() throws -> Int64 {
        let negative = acceptSymbol("-")
        if !negative { _ = acceptSymbol("+") }
        guard case .integer(let v) = current.kind else { throw unexpected(expected: "an integer") }
        advance()
        if negative {
            guard v != Int64.min else { throw RedError(.numericOutOfRange, "value out of range for type bigint") }
            return -v
        }
        return v
    }

    /// After `GENERATED` in a column definition: `{ALWAYS | BY DEFAULT} AS IDENTITY [(options)]`.
    mutating func parseIdentityColumn() throws -> (IdentityGeneration, SequenceOptions) {
        let generation: IdentityGeneration
        if acceptKeyword("always") { generation = .always } else {
            try expectKeyword("by")
            try expectKeyword("default")
            generation = .byDefault
        }
        try expectKeyword("as")
        if isSymbol("(") { throw RedError(.syntaxError, "a generated column is GENERATED ALWAYS AS (expression) STORED") }
        try expectKeyword("identity")
        var options = SequenceOptions()
        if acceptSymbol("(") {
            options = try parseSequenceOptions(allowRestart: false, allowOwnedBy: false, inParentheses: true)
            try expectSymbol(")")
        }
        return (generation, options)
    }

    /// After `ALTER TABLE t ALTER [COLUMN]`: the column and what changes.
    mutating func parseAlterColumn() throws -> AlterAction {
        let column = try parseAnyName()
        if acceptKeyword("set") {
            if acceptKeyword("default") {
                return .alterColumn(column, .setDefault(try parseDefaultText()))
            }
            if acceptKeyword("not") {
                try expectKeyword("null")
                return .alterColumn(column, .setNotNull(true))
            }
            if acceptKeyword("data") {
                try expectKeyword("type")
                return .alterColumn(column, try parseAlterColumnType())
            }
            if acceptKeyword("generated") {
                let generation: IdentityGeneration
                if acceptKeyword("always") { generation = .always } else {
                    try expectKeyword("by")
                    try expectKeyword("default")
                    generation = .byDefault
                }
                var options = try parseIdentityAlterations()
                options.generation = generation
                return .alterColumn(column, .setIdentity(options))
            }
            // `SET INCREMENT BY 2`, `SET START 10`…: a sequence option of the identity.
            let first = try parseSequenceOptions(allowRestart: false, allowOwnedBy: false, inParentheses: false)
            guard first != SequenceOptions() else { throw unexpected(expected: "DEFAULT, NOT NULL, DATA TYPE, GENERATED or a sequence option") }
            let rest = try parseIdentityAlterations()
            var alteration = IdentityAlteration(generation: rest.generation, options: first)
            alteration.options.merge(rest.options)
            return .alterColumn(column, .setIdentity(alteration))
        }
        if isKeyword("restart") {
            return .alterColumn(column, .setIdentity(try parseIdentityAlterations()))
        }
        if acceptKeyword("drop") {
            if acceptKeyword("default") { return .alterColumn(column, .setDefault(nil)) }
            if acceptKeyword("not") {
                try expectKeyword("null")
                return .alterColumn(column, .setNotNull(false))
            }
            if acceptKeyword("expression") { return .alterColumn(column, .dropExpression(ifExists: try parseIfExists())) }
            try expectKeyword("identity")
            return .alterColumn(column, .dropIdentity(ifExists: try parseIfExists()))
        }
        if acceptKeyword("add") {
            try expectKeyword("generated")
            let (generation, options) = try parseIdentityColumn()
            return .alterColumn(column, .addIdentity(generation, options))
        }
        if acceptKeyword("type") { return .alterColumn(column, try parseAlterColumnType()) }
        throw unexpected(expected: "SET, DROP, ADD, RESTART or TYPE")
    }

    /// `SET GENERATED …`'s companions: any run of `SET option` and `RESTART [[WITH] n]`.
    mutating func parseIdentityAlterations() throws -> IdentityAlteration {
        var alteration = IdentityAlteration()
        while true {
            if isKeyword("set"), !isKeyword("default", ahead: 1), !isKeyword("not", ahead: 1), !isKeyword("data", ahead: 1) {
                advance()
                if acceptKeyword("generated") {
                    if acceptKeyword("always") { alteration.generation = .always } else {
                        try expectKeyword("by")
                        try expectKeyword("default")
                        alteration.generation = .byDefault
                    }
                    continue
                }
                let option = try parseSequenceOptions(allowRestart: false, allowOwnedBy: false, inParentheses: false)
                guard option != SequenceOptions() else { throw unexpected(expected: "GENERATED or a sequence option") }
                alteration.options.merge(option)
            } else if acceptKeyword("restart") {
                alteration.options.restart = .some(try parseRestartValue())
            } else {
                return alteration
            }
        }
    }

    /// `TYPE t [COLLATE c] [USING expression]`.
    mutating func parseAlterColumnType() throws -> ColumnAlteration {
        let parsed = try parseTypeNameWithArguments()
        if acceptKeyword("collate") { _ = try parseAnyName() }
        var using: String?
        if acceptKeyword("using") {
            let start = current.offset
            _ = try parseExpression()
            using = String(decoding: bytes[start..<min(current.offset, bytes.count)], as: UTF8.self).trimmingSpaces()
        }
        return .setType(parsed.type, element: parsed.element, enumVariants: parsed.strings, declared: parsed.declared,
                        namedType: parsed.namedType, using: using)
    }
}

extension SequenceOptions {
    /// `other`'s options over these.
    mutating func merge(_ other: SequenceOptions) {
        if let v = other.typeName { typeName = v }
        if let v = other.increment { increment = v }
        if let v = other.minValue { minValue = v }
        if let v = other.maxValue { maxValue = v }
        if let v = other.start { start = v }
        if let v = other.cache { cache = v }
        if let v = other.cycle { cycle = v }
        if let v = other.restart { restart = v }
        if let v = other.ownedBy { ownedBy = v }
    }
}
