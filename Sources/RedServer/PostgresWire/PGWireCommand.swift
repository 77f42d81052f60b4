import RedCore
import RedDB
import RedQuery

/// Statements the PG-wire layer answers itself, because they are PostgreSQL
/// protocol vocabulary rather than queries (ADR 0010: adapters translate, the
/// engine never learns pg_catalog): run-time settings (SET/RESET/SHOW),
/// session housekeeping (DISCARD, DEALLOCATE), COPY (which talks to the client
/// mid-statement). Catalog queries, psql's among them, are SQL the engine runs over the
/// session's `PGSystemCatalog`.
///
/// RedDB's own SET forms (`SET CONFIG`, `SET TENANT`) and `SHOW TABLES` /
/// `SHOW COLLECTIONS` go to the engine like every other statement.
enum PGWireCommand {
    /// SET [SESSION | LOCAL] (`local`: until the transaction ends).
    case set(name: String, value: String?, local: Bool = false)
    case reset(name: String?)
    case show(name: String)
    /// Statements acknowledged without effect (`UNLISTEN`, `CLOSE ALL`, `SET TRANSACTION DEFERRABLE`).
    case acknowledge(tag: String)
    /// `SET TRANSACTION [ISOLATION LEVEL …] [READ ONLY | READ WRITE]` inside a transaction block
    /// (nil: the mode is not named).
    case setTransaction(readOnly: Bool?, isolation: IsolationLevel?)
    case discardAll
    /// `DISCARD TEMP[ORARY]`: the session's temporary tables are dropped.
    case discardTemp
    /// `DISCARD SEQUENCES`: currval and lastval forget this session's values.
    case discardSequences
    case deallocate(name: String?)
    /// SQL's `PREPARE name [(types)] AS statement` (`PGSQLPrepare`).
    case prepare(PGSQLPrepare)
    /// SQL's `EXECUTE name [(arguments)]`.
    case execute(name: String, arguments: [String])
    case copyFrom(PGCopyCommand)
    case copyTo(PGCopyCommand)
    /// `DECLARE name … CURSOR … FOR query` (`PGSQLCursor`).
    case declareCursor(PGSQLCursorDeclaration)
    /// `FETCH` or `MOVE`.
    case fetchCursor(PGSQLCursorMotion)
    /// `CLOSE name`, or `CLOSE ALL` (nil).
    case closeCursor(name: String?)
    /// `LISTEN channel` (`PGNotifications`).
    case listen(channel: String)
    /// `UNLISTEN channel`, or `UNLISTEN *` (nil).
    case unlisten(channel: String?)
    /// `NOTIFY channel [, 'payload']`.
    case notify(channel: String, payload: String)

    /// Classifies one statement; nil when it is for the engine.
    static func recognize(_ sql: String) throws -> PGWireCommand? {
        // Every plain statement passes through here: its first keyword, read from its bytes,
        // turns away all but wire commands before any word is built as a `String`.
        guard wireKeywords.contains(leadingKeyword(sql)) else { return nil }
        // Words are built as characters (16 bytes each): a 64 MiB SET would take a gigabyte.
        guard sql.utf8.count <= PGLimits.maxWireCommandBytes else {
            throw RedError(.limitExceeded, "statement longer than \(PGLimits.maxWireCommandBytes) bytes")
        }
        var words = PGWords(sql)
        guard let first = words.nextWord()?.lowercased() else { return nil }
        switch first {
        case "set":
            guard var name = words.nextWord()?.lowercased() else { return nil }
            let local = name == "local"
            if name == "session" || name == "local" { name = words.nextWord()?.lowercased() ?? "" }
            switch name {
            case "config", "tenant", "constraints": return nil
            case "transaction":
                // SET TRANSACTION modes apply to the open transaction, enforced by the session.
                let modes = words.restOfStatement().lowercased()
                let readOnly: Bool? = modes.contains("read only") ? true : (modes.contains("read write") ? false : nil)
                let isolation = try isolationLevel(in: modes)
                if readOnly == nil, isolation == nil { return .acknowledge(tag: "SET") }
                return .setTransaction(readOnly: readOnly, isolation: isolation)
            case "characteristics":
                // SET SESSION CHARACTERISTICS AS TRANSACTION …: the session's defaults.
                let modes = words.restOfStatement().lowercased()
                if modes.contains("read only") {
                    throw RedError(.featureNotSupported, "read-only session defaults are not supported; use BEGIN READ ONLY")
                }
                if let level = try isolationLevel(in: modes) {
                    return .set(name: "default_transaction_isolation", value: level.rawValue, local: false)
                }
                return .acknowledge(tag: "SET")
            case "time":
                guard words.nextWord()?.lowercased() == "zone" else { throw RedError(.syntaxError, "syntax error at or near \"time\"") }
                let value = words.restOfStatement()
                return .set(name: "timezone", value: value.lowercased() == "local" || value.lowercased() == "default" ? nil : unquote(value), local: local)
            case "names":
                return .set(name: "client_encoding", value: unquote(words.restOfStatement()), local: local)
            case "":
                throw RedError(.syntaxError, "syntax error at end of input: SET needs a parameter name")
            default:
                words.skipSpaces()
                if !words.accept("=") {
                    guard words.nextWord()?.lowercased() == "to" else {
                        throw RedError(.syntaxError, "syntax error in SET \(name): expected = or TO")
                    }
                }
                let value = words.restOfStatement()
                if name == "transaction_isolation" {  // the open block's level, as SET TRANSACTION sets it
                    guard let level = IsolationLevel(settingValue: unquote(value)) else {
                        throw RedError(.invalidArgument, "invalid value for parameter \"transaction_isolation\": \"\(unquote(value))\"")
                    }
                    return .setTransaction(readOnly: nil, isolation: level)
                }
                return .set(name: name, value: value.lowercased() == "default" ? nil : unquote(value), local: local)
            }
        case "reset":
            guard let name = words.nextWord()?.lowercased() else { throw RedError(.syntaxError, "RESET needs a parameter name or ALL") }
            if name == "time" {  // RESET TIME ZONE
                guard words.nextWord()?.lowercased() == "zone" else { throw RedError(.syntaxError, "syntax error at or near \"time\"") }
                return .reset(name: "timezone")
            }
            return .reset(name: name == "all" ? nil : name)
        case "show":
            let name = words.restOfStatement().lowercased()
            if ["tables", "collections"].contains(name) || name.hasPrefix("columns ") { return nil }
            if name == "transaction isolation level" { return .show(name: "transaction_isolation") }
            if name == "time zone" { return .show(name: "timezone") }
            return .show(name: name)
        case "discard":
            switch words.nextWord()?.lowercased() {
            case "all": return .discardAll
            case "temp", "temporary": return .discardTemp
            case "plans": return .acknowledge(tag: "DISCARD PLANS")  // no plans are kept per session
            case "sequences": return .discardSequences
            default: throw RedError(.syntaxError, "DISCARD needs ALL, PLANS, SEQUENCES, TEMP or TEMPORARY")
            }
        case "deallocate":
            var name = words.nextWord()
            if name?.lowercased() == "prepare" { name = words.nextWord() }
            return .deallocate(name: name?.lowercased() == "all" ? nil : name)
        case "prepare":
            return try PGSQLPrepare.parse(sql).map { .prepare($0) }
        case "execute":
            let (name, arguments) = try PGSQLPrepare.parseExecute(sql)
            return .execute(name: name, arguments: arguments)
        case "copy":
            let copy = try PGCopyCommand(parsing: sql)
            return copy.direction == .fromClient ? .copyFrom(copy) : .copyTo(copy)
        case "listen", "unlisten", "notify":
            return try listenOrNotify(first, sql)
        case "declare":
            return try PGSQLCursorDeclaration.parse(sql).map { .declareCursor($0) }
        case "fetch", "move":
            return try PGSQLCursorMotion.parse(sql).map { .fetchCursor($0) }
        case "close":
            var scanner = PGSQLScanner(sql)
            _ = scanner.keyword()
            let name = try scanner.name("a cursor name or ALL after CLOSE")
            guard scanner.atEnd else {
                throw RedError(.syntaxError, "syntax error at end of CLOSE")
            }
            return .closeCursor(name: name == "all" ? nil : name)
        default:
            return nil
        }
    }

    /// The level after `isolation level` in transaction modes; nil when none is named.
    static func isolationLevel(in modes: String) throws -> IsolationLevel? {
        guard let range = modes.range(of: "isolation level") else { return nil }
        let rest = modes[range.upperBound...].split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" || $0 == "\t" })
        for length in [2, 1] where rest.count >= length {
            if let level = IsolationLevel(settingValue: rest.prefix(length).joined(separator: " ")) { return level }
        }
        throw RedError(.syntaxError, "syntax error in SET TRANSACTION: unknown isolation level")
    }

    /// The first words of the statements `recognize` answers itself.
    static let wireKeywords: Set<String> = ["set", "reset", "show", "discard", "deallocate", "copy", "unlisten", "close", "listen", "notify",
                                            "prepare", "execute", "declare", "fetch", "move"]

    /// The statement's first word if it is made of ASCII letters, lowercased (whitespace and
    /// comments before it skipped); "" otherwise. Keywords are ASCII; a quoted name is none.
    static func leadingKeyword(_ sql: String) -> String {
        var keyword = ""
        var utf8 = sql.utf8[...]
        while let byte = utf8.first {
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D, 0x0C:
                utf8 = utf8.dropFirst()
            case UInt8(ascii: "-") where utf8.dropFirst().first == UInt8(ascii: "-"):
                utf8 = utf8.drop { $0 != 0x0A }
            case UInt8(ascii: "/") where utf8.dropFirst().first == UInt8(ascii: "*"):
                var rest = utf8.dropFirst(2)
                while let star = rest.firstIndex(of: UInt8(ascii: "*")) {
                    rest = rest[star...].dropFirst()
                    if rest.first == UInt8(ascii: "/") { break }
                }
                utf8 = rest.dropFirst()
            default:
                for letter in utf8 {
                    guard (letter | 0x20) >= UInt8(ascii: "a"), (letter | 0x20) <= UInt8(ascii: "z"), keyword.utf8.count < 16 else { break }
                    keyword.unicodeScalars.append(Unicode.Scalar(letter | 0x20))
                }
                if let next = utf8.dropFirst(keyword.utf8.count).first, next == UInt8(ascii: "_") || next >= 0x80 || (next >= 0x30 && next <= 0x39) {
                    return ""  // a longer identifier that merely starts like a keyword
                }
                return keyword
            }
        }
        return keyword
    }

    /// True for BEGIN/COMMIT/ROLLBACK/SAVEPOINT-like statements (they end implicit transactions).
    static func isTransactionControl(_ sql: String) -> Bool {
        var words = PGWords(sql)
        let first = words.nextWord()?.lowercased() ?? ""
        if first == "prepare" { return words.nextWord()?.lowercased() == "transaction" }  // not SQL's PREPARE name AS …
        return ["begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release"].contains(first)
    }

    static func unquote(_ value: String) -> String {
        var v = value
        if v.count >= 2, (v.hasPrefix("'") && v.hasSuffix("'")) || (v.hasPrefix("\"") && v.hasSuffix("\"")) {
            v = String(v.dropFirst().dropLast())
        }
        return v
    }
}

extension PGConnection {
    /// Answers a wire command with an ordinary result. `preview` (Parse/Describe) computes the
    /// shape without changing any setting.
    func run(_ command: PGWireCommand, preview: Bool = false, parameters: [Value] = []) async throws -> QueryResult {
        switch command {
        case .set(let name, let value, let local):
            if !preview { try settings.set(name, value, local: local) }
            session.statementTimeoutMilliseconds = settings.read(\.statementTimeoutMilliseconds)
            return QueryResult(columns: [], rows: [], statementType: "set", commandTag: "SET")
        case .reset(let name):
            if !preview {
                if let name {
                    try settings.set(name, nil, local: false)
                } else {
                    settings.resetAll()
                }
            }
            session.statementTimeoutMilliseconds = settings.read(\.statementTimeoutMilliseconds)
            return QueryResult(columns: [], rows: [], statementType: "reset", commandTag: "RESET")
        case .show(let name):
            if name == "transaction_isolation" {
                return QueryResult(columns: [ResultColumn(name: name, type: .text)], rows: [[.text(session.isolation.rawValue)]],
                                   statementType: "select", commandTag: "SHOW")
            }
            if name == "transaction_read_only" {
                return QueryResult(columns: [ResultColumn(name: name, type: .text)], rows: [[.text(session.isReadOnlyTransaction ? "on" : "off")]],
                                   statementType: "select", commandTag: "SHOW")
            }
            if name == "all" {
                return QueryResult(columns: [ResultColumn(name: "name", type: .text), ResultColumn(name: "setting", type: .text)],
                                   rows: settings.read(\.all).map { [.text($0.0), .text($0.1)] }, statementType: "select", commandTag: "SHOW")
            }
            // The column is named as PostgreSQL spells the parameter (`SHOW timezone` gives `TimeZone`).
            return QueryResult(columns: [ResultColumn(name: PGSettings.reported[name] ?? name, type: .text)], rows: [[.text(try settings.read { try $0.value(name) })]],
                               statementType: "select", commandTag: "SHOW")
        case .acknowledge(let tag):
            return QueryResult(columns: [], rows: [], statementType: "set", commandTag: tag)
        case .setTransaction(let readOnly, let isolation):
            if !preview {
                if let isolation { try session.setTransactionIsolation(isolation) }
                if let readOnly { try session.setTransactionReadOnly(readOnly) }
            }
            return QueryResult(columns: [], rows: [], statementType: "set", commandTag: "SET")
        case .discardAll:
            guard !session.inTransaction else {
                throw RedError(.activeSQLTransaction, "DISCARD ALL cannot run inside a transaction block")
            }
            if !preview {
                settings.resetAll()
                session.statementTimeoutMilliseconds = 0
                statements.removeAll()
                portals.removeAll()
                cursors.removeAll()
                session.discardSequenceValues()
                try await session.discardTemporaryTables()
            }
            return QueryResult(columns: [], rows: [], statementType: "discard", commandTag: "DISCARD ALL")
        case .discardSequences:
            if !preview { session.discardSequenceValues() }
            return QueryResult(columns: [], rows: [], statementType: "discard", commandTag: "DISCARD SEQUENCES")
        case .discardTemp:
            if !preview { try await session.discardTemporaryTables() }
            return QueryResult(columns: [], rows: [], statementType: "discard", commandTag: "DISCARD TEMP")
        case .deallocate(let name):
            if !preview {
                if let name {
                    guard statements.removeValue(forKey: name) != nil else {
                        throw RedError(.undefinedPreparedStatement, "prepared statement \"\(name)\" does not exist")
                    }
                } else {
                    statements = statements.filter { $0.key.isEmpty }
                }
            }
            return QueryResult(columns: [], rows: [], statementType: "deallocate", commandTag: name == nil ? "DEALLOCATE ALL" : "DEALLOCATE")
        case .prepare(let prepare):
            return try await runSQLPrepare(prepare, preview: preview)
        case .execute(let name, let arguments):
            return try await runSQLExecute(name: name, arguments: arguments, preview: preview)
        case .declareCursor(let declaration):
            return try await declareCursor(declaration, parameters: parameters, preview: preview)
        case .fetchCursor(let motion):
            return try fetchCursor(motion, preview: preview)
        case .closeCursor(let name):
            return try closeCursor(name, preview: preview)
        case .listen, .unlisten, .notify:
            return try runListenOrNotify(command, preview: preview)
        case .copyFrom, .copyTo:
            throw RedError(.featureNotSupported, "COPY is supported on the simple query protocol only")
        }
    }
}

/// A tiny cursor over a statement's leading words, enough to classify wire commands.
struct PGWords {
    let scalars: [Character]
    var index = 0

    init(_ text: String) { scalars = Array(text) }

    mutating func skipSpaces() {
        while index < scalars.count {
            if scalars[index].isWhitespace { index += 1; continue }
            if scalars[index] == "-", index + 1 < scalars.count, scalars[index + 1] == "-" {
                while index < scalars.count, scalars[index] != "\n" { index += 1 }
                continue
            }
            if scalars[index] == "/", index + 1 < scalars.count, scalars[index + 1] == "*" {
                index += 2
                while index + 1 < scalars.count, !(scalars[index] == "*" && scalars[index + 1] == "/") { index += 1 }
                index = min(index + 2, scalars.count)
                continue
            }
            break
        }
    }

    /// The next identifier-like word (letters, digits, `_`, `.`), or a double-quoted name.
    mutating func nextWord() -> String? {
        skipSpaces()
        guard index < scalars.count else { return nil }
        if scalars[index] == "\"" {
            var word = ""
            index += 1
            while index < scalars.count {
                if scalars[index] == "\"" {
                    if index + 1 < scalars.count, scalars[index + 1] == "\"" { word.append("\""); index += 2; continue }
                    index += 1
                    break
                }
                word.append(scalars[index])
                index += 1
            }
            return word
        }
        let start = index
        while index < scalars.count, scalars[index].isLetter || scalars[index].isNumber || scalars[index] == "_" || scalars[index] == "." {
            index += 1
        }
        return index > start ? String(scalars[start..<index]) : nil
    }

    mutating func accept(_ symbol: Character) -> Bool {
        skipSpaces()
        guard index < scalars.count, scalars[index] == symbol else { return false }
        index += 1
        return true
    }

    /// Everything left, trimmed, without a trailing `;`.
    mutating func restOfStatement() -> String {
        skipSpaces()
        var rest = String(scalars[min(index, scalars.count)...]).trimmingCharacters()
        while rest.hasSuffix(";") { rest = String(rest.dropLast()).trimmingCharacters() }
        index = scalars.count
        return rest
    }
}
