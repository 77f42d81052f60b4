import RedCore
import RedDB
import RedQuery

/// SQL's `PREPARE name [(type, …)] AS statement` and `EXECUTE name [(argument, …)]`, which
/// PostgreSQL keeps in the same namespace as the extended protocol's named statements: a
/// statement prepared by SQL can be bound by Bind, one made by Parse run by EXECUTE, and
/// `DEALLOCATE` drops either. (pg_dump prepares its per-table queries so.)
///
/// PREPARE plans the statement as Parse does (the types named become its parameter types);
/// EXECUTE evaluates its arguments as one `SELECT`, converts each to its parameter's type and
/// runs the statement with them.
struct PGSQLPrepare: Equatable, Sendable {
    var name: String
    var typeNames: [String]
    var body: String

    /// `PREPARE name [(types)] AS statement`; `PREPARE TRANSACTION` (two-phase commit) is refused.
    static func parse(_ sql: String) throws -> PGSQLPrepare? {
        var scanner = PGSQLScanner(sql)
        guard scanner.keyword() == "prepare" else { return nil }
        let name = try scanner.name("a statement name after PREPARE")
        if name == "transaction", !scanner.atOpeningParenthesis, scanner.peekKeyword() != "as" {
            throw RedError(.featureNotSupported, "PREPARE TRANSACTION is not supported: RedDB has no two-phase commit")
        }
        var types: [String] = []
        if scanner.atOpeningParenthesis {
            types = try scanner.parenthesized().map { $0.trimmingSpaces() }
            guard types.allSatisfy({ !$0.isEmpty }) else { throw RedError(.syntaxError, "syntax error in PREPARE: an empty parameter type") }
        }
        guard scanner.keyword() == "as" else { throw RedError(.syntaxError, "syntax error in PREPARE: AS expected before the statement") }
        let body = scanner.rest.trimmingSpaces()
        guard !body.isEmpty else { throw RedError(.syntaxError, "syntax error in PREPARE: no statement after AS") }
        return PGSQLPrepare(name: name, typeNames: types, body: body)
    }

    /// `EXECUTE name [(arguments)]`: the name and each argument's SQL text.
    static func parseExecute(_ sql: String) throws -> (name: String, arguments: [String]) {
        var scanner = PGSQLScanner(sql)
        _ = scanner.keyword()
        let name = try scanner.name("a statement name after EXECUTE")
        var arguments: [String] = []
        if scanner.atOpeningParenthesis { arguments = try scanner.parenthesized().map { $0.trimmingSpaces() } }
        guard scanner.rest.trimmingSpaces().isEmpty else { throw RedError(.syntaxError, "syntax error at end of EXECUTE") }
        return (name, arguments)
    }

    /// The OID of a type as PREPARE names it (`integer`, `pg_catalog.oid`, `text`).
    static func typeOID(_ written: String) throws -> Int32 {
        var name = written.lowercased()
        if name.hasPrefix("pg_catalog.") { name.removeFirst("pg_catalog.".count) }
        if let type = PGBuiltinType.byName[name] { return Int32(type.oid) }
        if let type = DataType(sqlName: name) { return PGType(type).oid }
        throw RedError(.undefinedObject, "type \"\(written)\" does not exist")
    }
}

/// Reads PREPARE and EXECUTE: keywords, names, and parenthesised lists split at top-level
/// commas (quotes and nested parentheses kept whole).
struct PGSQLScanner {
    private let characters: [Character]
    private var index = 0

    init(_ text: String) { characters = Array(text) }

    var rest: String { String(characters[index...]) }
    var atOpeningParenthesis: Bool {
        var probe = self
        probe.skipSpaces()
        return probe.index < probe.characters.count && probe.characters[probe.index] == "("
    }

    mutating func skipSpaces() { while index < characters.count, characters[index].isWhitespace { index += 1 } }

    mutating func keyword() -> String {
        skipSpaces()
        let start = index
        while index < characters.count, characters[index].isLetter || characters[index] == "_" { index += 1 }
        return String(characters[start..<index]).lowercased()
    }

    /// A whole number, signed or not (`-2`, `+5`, `10`); nil (nothing consumed) when none is next.
    mutating func signedInteger() -> Int? {
        var probe = self
        probe.skipSpaces()
        var sign = 1
        if probe.index < probe.characters.count, probe.characters[probe.index] == "-" || probe.characters[probe.index] == "+" {
            if probe.characters[probe.index] == "-" { sign = -1 }
            probe.index += 1
            probe.skipSpaces()
        }
        let start = probe.index
        while probe.index < probe.characters.count, probe.characters[probe.index].isASCII, probe.characters[probe.index].isNumber { probe.index += 1 }
        guard probe.index > start, let magnitude = Int(String(probe.characters[start..<probe.index])) else { return nil }
        self = probe
        return sign * magnitude
    }

    /// Consumes `symbol` if it comes next (after spaces).
    mutating func symbol(_ symbol: Character) -> Bool {
        skipSpaces()
        guard index < characters.count, characters[index] == symbol else { return false }
        index += 1
        return true
    }

    /// A single-quoted string literal (`'it''s'`), its text; nil (nothing consumed) when none is next.
    mutating func stringLiteral() -> String? {
        var probe = self
        probe.skipSpaces()
        guard probe.index < probe.characters.count, probe.characters[probe.index] == "'" else { return nil }
        probe.index += 1
        var text = ""
        while probe.index < probe.characters.count {
            let c = probe.characters[probe.index]
            probe.index += 1
            if c == "'" {
                if probe.index < probe.characters.count, probe.characters[probe.index] == "'" { text.append("'"); probe.index += 1; continue }
                self = probe
                return text
            }
            text.append(c)
        }
        return nil
    }

    /// Nothing but spaces and semicolons left.
    var atEnd: Bool { characters[index...].allSatisfy { $0.isWhitespace || $0 == ";" } }

    func peekKeyword() -> String {
        var probe = self
        return probe.keyword()
    }

    /// An identifier, or a double-quoted one (kept as written, case and all).
    mutating func name(_ what: String) throws -> String {
        skipSpaces()
        if index < characters.count, characters[index] == "\"" {
            index += 1
            var name = ""
            while index < characters.count {
                if characters[index] == "\"" {
                    if index + 1 < characters.count, characters[index + 1] == "\"" { name.append("\""); index += 2; continue }
                    index += 1
                    return name
                }
                name.append(characters[index]); index += 1
            }
            throw RedError(.syntaxError, "unterminated quoted identifier")
        }
        let start = index
        while index < characters.count, characters[index].isLetter || characters[index].isNumber || characters[index] == "_" || characters[index] == "$" { index += 1 }
        guard index > start else { throw RedError(.syntaxError, "syntax error: \(what)") }
        return String(characters[start..<index]).lowercased()
    }

    /// `( a, b(1, 2), 'x,y' )` → `["a", "b(1, 2)", "'x,y'"]`.
    mutating func parenthesized() throws -> [String] {
        skipSpaces()
        index += 1  // (
        var items: [String] = [], current = "", depth = 0
        var quote: Character?
        while index < characters.count {
            let c = characters[index]
            index += 1
            if let q = quote {
                current.append(c)
                if c == q { quote = nil }
                continue
            }
            switch c {
            case "'", "\"": quote = c; current.append(c)
            case "(": depth += 1; current.append(c)
            case ")" where depth == 0:
                if !current.trimmingSpaces().isEmpty || !items.isEmpty { items.append(current) }
                return items
            case ")": depth -= 1; current.append(c)
            case "," where depth == 0: items.append(current); current = ""
            default: current.append(c)
            }
        }
        throw RedError(.syntaxError, "syntax error: unbalanced parentheses")
    }
}

extension PGConnection {
    func runSQLPrepare(_ prepare: PGSQLPrepare, preview: Bool) async throws -> QueryResult {
        if !preview {
            let declared = try prepare.typeNames.map(PGSQLPrepare.typeOID)
            try checkParse(prepare.name, declared: declared.map { UInt32(bitPattern: $0) })
            statements[prepare.name] = try await self.prepare(prepare.body, declared: declared)
        }
        return QueryResult(columns: [], rows: [], statementType: "prepare", commandTag: "PREPARE")
    }

    func runSQLExecute(name: String, arguments: [String], preview: Bool) async throws -> QueryResult {
        guard let statement = statements[name] else {
            throw RedError(.undefinedPreparedStatement, "prepared statement \"\(name)\" does not exist")
        }
        let count = max(statement.parameterOIDs.count, statement.parameterTypes.count)
        guard arguments.count == count else {
            throw RedError(.syntaxError, "wrong number of parameters for prepared statement \"\(name)\": expected \(count), got \(arguments.count)")
        }
        if preview { return QueryResult(columns: statement.columns ?? [], rows: [], statementType: "select", commandTag: "SELECT 0") }
        var values: [Value] = []
        if !arguments.isEmpty {
            let row = try await execute("SELECT " + arguments.joined(separator: ", "), parameters: []).rows.first ?? []
            for (i, value) in row.enumerated() {
                let type = i < statement.parameterTypes.count && statement.parameterTypes[i] != .any
                    ? statement.parameterTypes[i] : PGType(oid: statement.parameterOIDs[i], size: -1).dataType ?? .any
                values.append(type == .any || value.isNull ? value : try type.coerce(value))
            }
        }
        if let command = statement.command { return try await run(command, parameters: values) }
        return try await execute(statement.sql, parameters: values)
    }
}
