import RedCore

/// Parses a PL/pgSQL body into `PLBlock` (see there for what is kept as text).
///
/// The grammar is PostgreSQL's (cursors in `PLpgSQLCursorParser`), less what is not supported
/// yet (`ALIAS FOR`): that is 0A000, never a silent misreading. A statement that starts with none of PL/pgSQL's words is SQL, up to
/// its `;`, with a `name :=` or `name =` start being an assignment.
struct PLpgSQLParser {
    typealias Token = PLpgSQLScanner.Token

    let bytes: [UInt8]
    var tokens: [Token]
    var position = 0
    var nesting = 0
    /// The blocks and loops around the statement being parsed, innermost last: what EXIT and
    /// CONTINUE may name, checked here as PostgreSQL checks them when it compiles the body.
    var enclosing: [(label: String?, isLoop: Bool)] = []

    /// Deepest nesting of blocks, loops and IFs: the parser recurses, so the depth is bounded.
    static let maxNesting = 200

    static func parse(_ body: String) throws -> PLBlock {
        var parser = try PLpgSQLParser(body)
        // An optional label and the outer block; its final `;` may be left out.
        let label = try parser.parseLabel()
        guard parser.isWord("declare") || parser.isWord("begin") else { throw parser.unexpected() }
        let block = try parser.parseBlock(label: label, finalSemicolonOptional: true)
        guard case .end = parser.current.kind else { throw parser.unexpected() }
        return block
    }

    init(_ body: String) throws {
        bytes = Array(body.utf8)
        tokens = try PLpgSQLScanner.scan(bytes)
    }

    // MARK: Tokens

    var current: Token { tokens[position] }
    mutating func advance() { if position < tokens.count - 1 { position += 1 } }

    func word(ahead: Int = 0) -> String? {
        let k = min(position + ahead, tokens.count - 1)
        if case .word(let w, false) = tokens[k].kind { return w }
        return nil
    }
    func isWord(_ w: String, ahead: Int = 0) -> Bool { word(ahead: ahead) == w }
    mutating func acceptWord(_ w: String) -> Bool {
        guard isWord(w) else { return false }
        advance()
        return true
    }
    mutating func expectWord(_ w: String) throws {
        guard acceptWord(w) else { throw unexpected(expected: w.uppercased()) }
    }
    func isSymbol(_ s: String, ahead: Int = 0) -> Bool { tokens[min(position + ahead, tokens.count - 1)].kind == .symbol(s) }
    mutating func acceptSymbol(_ s: String) -> Bool {
        guard isSymbol(s) else { return false }
        advance()
        return true
    }
    mutating func expectSymbol(_ s: String) throws {
        guard acceptSymbol(s) else { throw unexpected(expected: "\"\(s)\"") }
    }

    /// A name: a word (quoted or not).
    mutating func parseName(what: String) throws -> String {
        switch current.kind {
        case .word(let w, _):
            guard !w.isEmpty else { throw RedError(.syntaxError, "zero-length delimited identifier") }
            advance()
            return w
        default:
            throw unexpected(expected: what)
        }
    }

    func text(_ range: Range<Int>) -> String {
        guard !range.isEmpty else { return "" }
        return String(decoding: bytes[tokens[range.lowerBound].start..<tokens[range.upperBound - 1].end], as: UTF8.self)
    }

    func unexpected(expected: String? = nil) -> RedError {
        let near: String
        if case .end = current.kind { near = "end of input" } else {
            near = "\"\(String(decoding: bytes[current.start..<current.end], as: UTF8.self))\""
        }
        let message = near == "end of input" ? "syntax error at end of input" : "syntax error at or near \(near)"
        return RedError(.syntaxError, expected.map { "\(message) (expected \($0))" } ?? message)
    }

    /// Tokens from here up to (not including) the first, outside brackets and CASE … END,
    /// that `stop` accepts or a `;`; at least one unless `allowEmpty`.
    mutating func collect(allowEmpty: Bool = false, what: String, until stop: (PLpgSQLParser) -> Bool) throws -> Range<Int> {
        let start = position
        var depth = 0, cases = 0
        while true {
            if case .end = current.kind { break }
            if depth == 0, cases == 0, isSymbol(";") || stop(self) { break }
            if isSymbol("(") || isSymbol("[") { depth += 1 }
            if isSymbol(")") || isSymbol("]") {
                depth -= 1
                guard depth >= 0 else { throw unexpected() }
            }
            if depth == 0 {
                if isWord("case") { cases += 1 }
                if isWord("end"), cases > 0 { cases -= 1 }
            }
            advance()
        }
        guard allowEmpty || position > start else { throw unexpected(expected: what) }
        return start..<position
    }

    mutating func collectText(what: String, until stop: (PLpgSQLParser) -> Bool) throws -> String {
        text(try collect(what: what, until: stop))
    }

    /// The rest of the statement, through its `;`.
    mutating func statementText(what: String) throws -> String {
        let text = try collectText(what: what) { _ in false }
        try expectSymbol(";")
        return text
    }

    mutating func nested<T>(_ body: (inout PLpgSQLParser) throws -> T) throws -> T {
        nesting += 1
        defer { nesting -= 1 }
        guard nesting <= Self.maxNesting else {
            throw RedError(.limitExceeded, "PL/pgSQL blocks, loops and IFs nest more than \(Self.maxNesting) deep")
        }
        return try body(&self)
    }

    // MARK: Blocks

    mutating func parseLabel() throws -> String? {
        guard acceptSymbol("<<") else { return nil }
        let label = try parseName(what: "a label")
        try expectSymbol(">>")
        return label
    }

    mutating func parseBlock(label: String?, finalSemicolonOptional: Bool = false) throws -> PLBlock {
        try nested { parser in
            var declarations: [PLDeclaration] = []
            while parser.acceptWord("declare") {
                while !parser.isWord("begin") && !parser.isWord("declare") {
                    declarations.append(try parser.parseDeclaration())
                }
            }
            try parser.expectWord("begin")
            parser.enclosing.append((label, false))
            defer { parser.enclosing.removeLast() }
            let body = try parser.parseStatements(until: ["exception", "end"])
            var handlers: [PLHandler] = []
            if parser.acceptWord("exception") {
                while parser.acceptWord("when") {
                    var conditions: [PLCondition] = []
                    repeat { conditions.append(try parser.parseCondition()) } while parser.acceptWord("or")
                    try parser.expectWord("then")
                    handlers.append(PLHandler(conditions: conditions, body: try parser.parseStatements(until: ["when", "end"])))
                }
                guard !handlers.isEmpty else { throw parser.unexpected(expected: "WHEN") }
            }
            try parser.expectWord("end")
            try parser.endLabel(label)
            if !(finalSemicolonOptional && { if case .end = parser.current.kind { return true }; return false }()) {
                try parser.expectSymbol(";")
            }
            return PLBlock(label: label, declarations: declarations, body: body, handlers: handlers)
        }
    }

    /// `END [label]`: a label given must be the block's or loop's own.
    mutating func endLabel(_ label: String?) throws {
        guard case .word(let w, _) = current.kind, !isSymbol(";") else { return }
        guard w == label else { throw RedError(.syntaxError, "end label \"\(w)\" differs from block's label \"\(label ?? "")\"") }
        advance()
    }

    mutating func parseDeclaration() throws -> PLDeclaration {
        let name = try parseName(what: "a variable name")
        if isWord("cursor") || (isWord("no") && isWord("scroll", ahead: 1)) || isWord("scroll") {
            return try parseCursorDeclaration(name)
        }
        if isWord("alias") { throw RedError(.featureNotSupported, "PL/pgSQL ALIAS declarations are not supported yet") }
        let constant = acceptWord("constant")
        let typeRange = try collect(what: "a data type") { p in
            p.isWord("not") && p.isWord("null", ahead: 1) || p.isWord("default") || p.isSymbol(":=") || p.isSymbol("=") || p.isWord("collate")
        }
        let typeText = text(typeRange)  // `table.column%TYPE` and `table%ROWTYPE` are resolved when the block runs
        if acceptWord("collate") { _ = try parseName(what: "a collation") }
        var notNull = false
        if acceptWord("not") {
            try expectWord("null")
            notNull = true
        }
        var initial: String?
        if acceptWord("default") || acceptSymbol(":=") || acceptSymbol("=") {
            initial = try collectText(what: "an expression") { _ in false }
        }
        try expectSymbol(";")
        if constant && initial == nil { throw RedError(.syntaxError, "variable \"\(name)\" must have a default value, since it's declared CONSTANT") }
        if notNull && initial == nil {
            throw RedError(.syntaxError, "variable \"\(name)\" must have a default value, since it's declared NOT NULL")
        }
        return PLDeclaration(name: name, typeText: typeText.lowercased() == "record" ? nil : typeText, constant: constant, notNull: notNull, initial: initial)
    }

    mutating func parseCondition() throws -> PLCondition {
        if acceptWord("sqlstate") {
            guard case .literal = current.kind else { throw unexpected(expected: "a SQLSTATE in quotes") }
            let quoted = text(position..<(position + 1))
            advance()
            let code = String(quoted.dropFirst().dropLast())
            guard code.count == 5, code.utf8.allSatisfy({ Lexer.isDigit($0) || ($0 >= 0x41 && $0 <= 0x5A) }) else {
                throw RedError(.syntaxError, "invalid SQLSTATE code", condition: "42601")
            }
            return .sqlState(code)
        }
        let name = try parseName(what: "a condition name")
        if name == "others" { return .others }
        if let code = PLConditionNames.codes[name] { return code.count == 2 ? .sqlStateClass(code) : .sqlState(code) }
        throw RedError(.undefinedObject, "unrecognized exception condition \"\(name)\"")
    }

    // MARK: Statements

    /// Statements up to one of `terminators` (words), which is left unread.
    mutating func parseStatements(until terminators: Set<String>) throws -> [PLStatement] {
        var statements: [PLStatement] = []
        while true {
            if case .end = current.kind { throw unexpected(expected: terminators.map { $0.uppercased() }.sorted().joined(separator: " or ")) }
            if let w = word(), terminators.contains(w) { return statements }
            statements.append(try parseStatement())
        }
    }

    mutating func parseStatement() throws -> PLStatement {
        if acceptSymbol(";") { return .null }  // an empty statement
        let label = try parseLabel()
        if label != nil, !(isWord("declare") || isWord("begin") || isWord("loop") || isWord("while") || isWord("for") || isWord("foreach")) {
            throw unexpected(expected: "a block or a loop after the label")
        }
        guard let w = word() else { return try parseSQLOrAssignment() }
        switch w {
        case "declare", "begin": return .block(try parseBlock(label: label))
        case "if": return try parseIf()
        case "case": return try parseCase()
        case "loop", "while", "for", "foreach": return try parseLoop(label: label)
        case "exit", "continue":
            advance()
            var target: String?
            if case .word(let name, _) = current.kind, name != "when" { target = name; advance() }
            try checkExit(target, continues: w == "continue")
            var condition: String?
            if acceptWord("when") { condition = try collectText(what: "a condition") { _ in false } }
            try expectSymbol(";")
            return .exit(label: target, when: condition, continues: w == "continue")
        case "return":
            advance()
            if acceptWord("next") {
                let value = try collect(allowEmpty: true, what: "an expression") { _ in false }
                try expectSymbol(";")
                return .returnNext(value.isEmpty ? nil : text(value))
            }
            if acceptWord("query") {
                if acceptWord("execute") {
                    let command = try collectText(what: "a command string") { $0.isWord("using") }
                    var using: [String] = []
                    if acceptWord("using") {
                        repeat { using.append(try collectText(what: "an expression") { $0.isSymbol(",") }) } while acceptSymbol(",")
                    }
                    try expectSymbol(";")
                    return .returnQuery(.execute(command, using: using))
                }
                return .returnQuery(.sql(try statementText(what: "a query")))
            }
            let value = try collect(allowEmpty: true, what: "an expression") { _ in false }
            try expectSymbol(";")
            return .returnStatement(value.isEmpty ? nil : text(value))
        case "raise": return try parseRaise()
        case "perform":
            advance()
            return .perform("SELECT " + (try statementText(what: "a query")))
        case "execute":
            advance()
            let command = try collectText(what: "a command string") { $0.isWord("into") || $0.isWord("using") }
            var into: PLInto?
            var using: [String] = []
            for _ in 0..<2 {
                if isWord("into"), into == nil { into = try parseInto() }
                if acceptWord("using") {
                    repeat { using.append(try collectText(what: "an expression") { $0.isSymbol(",") || $0.isWord("into") }) } while acceptSymbol(",")
                }
            }
            try expectSymbol(";")
            return .execute(command, into: into, using: using)
        case "get":
            advance()
            let stacked = acceptWord("stacked")
            if !stacked { _ = acceptWord("current") }
            try expectWord("diagnostics")
            let known: Set<String> = stacked
                ? ["returned_sqlstate", "message_text", "pg_exception_detail", "pg_exception_hint", "pg_exception_context", "column_name",
                   "constraint_name", "pg_datatype_name", "table_name", "schema_name"]
                : ["row_count"]
            var items: [PLDiagnostic] = []
            repeat {
                let target = try parseName(what: "a variable")
                guard acceptSymbol(":=") || acceptSymbol("=") else { throw unexpected(expected: ":=") }
                let item = try parseName(what: "a diagnostics item")
                guard known.contains(item) else {
                    throw RedError(.syntaxError, "unrecognized GET \(stacked ? "STACKED" : "CURRENT") DIAGNOSTICS item \"\(item)\"")
                }
                items.append(PLDiagnostic(target: target, item: item))
            } while acceptSymbol(",")
            try expectSymbol(";")
            return .getDiagnostics(items, stacked: stacked)
        case "null" where isSymbol(";", ahead: 1):
            advance()
            advance()
            return .null
        case "assert":
            advance()
            let condition = try collectText(what: "a condition") { $0.isSymbol(",") }
            var message: String?
            if acceptSymbol(",") { message = try collectText(what: "a message") { _ in false } }
            try expectSymbol(";")
            return .assert(condition, message: message)
        case "open", "fetch", "move", "close":
            // A variable of that name being assigned is no cursor statement.
            if isSymbol("=", ahead: 1) || isSymbol(":=", ahead: 1) || isSymbol("[", ahead: 1) { return try parseSQLOrAssignment() }
            return try parseCursorStatement(w)
        default:
            return try parseSQLOrAssignment()
        }
    }

    /// EXIT needs an enclosing loop or a label of an enclosing block or loop; CONTINUE a loop.
    func checkExit(_ target: String?, continues: Bool) throws {
        let verb = continues ? "CONTINUE" : "EXIT"
        guard let target else {
            guard enclosing.contains(where: \.isLoop) else {
                throw RedError(.syntaxError, continues ? "CONTINUE cannot be used outside a loop" : "EXIT cannot be used outside a loop, unless it has a label")
            }
            return
        }
        guard let named = enclosing.last(where: { $0.label == target }) else {
            throw RedError(.syntaxError, "there is no label \"\(target)\" attached to any block or loop enclosing this statement")
        }
        if continues, !named.isLoop { throw RedError(.syntaxError, "block label \"\(target)\" cannot be used in \(verb)") }
    }

    mutating func parseIf() throws -> PLStatement {
        try nested { parser in
            parser.advance()
            var branches: [PLBranch] = []
            var otherwise: [PLStatement]?
            repeat {
                let condition = try parser.collectText(what: "a condition") { $0.isWord("then") }
                try parser.expectWord("then")
                branches.append(PLBranch(condition: condition, body: try parser.parseStatements(until: ["elsif", "elseif", "else", "end"])))
            } while parser.acceptWord("elsif") || parser.acceptWord("elseif")
            if parser.acceptWord("else") { otherwise = try parser.parseStatements(until: ["end"]) }
            try parser.expectWord("end")
            try parser.expectWord("if")
            try parser.expectSymbol(";")
            return .ifThen(branches, otherwise: otherwise)
        }
    }

    mutating func parseCase() throws -> PLStatement {
        try nested { parser in
            parser.advance()
            var operand: String?
            if !parser.isWord("when") { operand = try parser.collectText(what: "an expression") { $0.isWord("when") } }
            var branches: [PLBranch] = []
            while parser.acceptWord("when") {
                let condition = try parser.collectText(what: "a condition") { $0.isWord("then") }
                try parser.expectWord("then")
                branches.append(PLBranch(condition: condition, body: try parser.parseStatements(until: ["when", "else", "end"])))
            }
            guard !branches.isEmpty else { throw parser.unexpected(expected: "WHEN") }
            var otherwise: [PLStatement]?
            if parser.acceptWord("else") { otherwise = try parser.parseStatements(until: ["end"]) }
            try parser.expectWord("end")
            try parser.expectWord("case")
            try parser.expectSymbol(";")
            return .caseWhen(operand: operand, branches, otherwise: otherwise)
        }
    }

    mutating func parseLoop(label: String?) throws -> PLStatement {
        try nested { parser in
            let kind: PLLoopKind
            if parser.acceptWord("while") {
                kind = .whileTrue(try parser.collectText(what: "a condition") { $0.isWord("loop") })
            } else if parser.acceptWord("for") {
                let target = try parser.parseName(what: "a loop variable")
                var targets = [target]
                while parser.acceptSymbol(",") { targets.append(try parser.parseName(what: "a loop variable")) }
                try parser.expectWord("in")
                let reverse = parser.acceptWord("reverse")
                if !reverse, parser.acceptWord("execute") {
                    let command = try parser.collectText(what: "a command string") { $0.isWord("using") || $0.isWord("loop") }
                    var using: [String] = []
                    if parser.acceptWord("using") {
                        repeat { using.append(try parser.collectText(what: "an expression") { $0.isSymbol(",") || $0.isWord("loop") }) } while parser.acceptSymbol(",")
                    }
                    kind = .query(targets: targets, .execute(command, using: using))
                } else {
                    let range = try parser.collect(what: "a query or a range") { $0.isWord("loop") }
                    if let dots = range.first(where: { parser.tokens[$0].kind == .symbol("..") }) {
                        guard targets.count == 1 else { throw RedError(.syntaxError, "an integer FOR loop has one loop variable") }
                        let upper = range.upperBound
                        let by = (dots..<upper).first { parser.tokens[$0].kind == .word("by", quoted: false) }
                        let low = parser.text(range.lowerBound..<dots), high = parser.text((dots + 1)..<(by ?? upper))
                        guard !low.isEmpty, !high.isEmpty else { throw RedError(.syntaxError, "a FOR range needs a low and a high bound (FOR i IN 1..10)") }
                        kind = .range(variable: target, reverse: reverse, low: low, high: high, step: by.map { parser.text(($0 + 1)..<upper) })
                    } else {
                        guard !reverse else { throw RedError(.syntaxError, "REVERSE needs an integer range (FOR i IN REVERSE 10..1)") }
                        kind = .query(targets: targets, .sql(parser.text(range)))
                    }
                }
            } else if parser.acceptWord("foreach") {
                let variable = try parser.parseName(what: "a loop variable")
                var slice = 0
                if parser.acceptWord("slice") {
                    guard parser.current.kind == .literal, let n = Int(parser.text(parser.position..<(parser.position + 1))), n >= 0 else {
                        throw parser.unexpected(expected: "a slice dimension (a whole number)")
                    }
                    parser.advance()
                    slice = n
                }
                try parser.expectWord("in")
                try parser.expectWord("array")
                kind = .array(variable: variable, slice: slice, try parser.collectText(what: "an array") { $0.isWord("loop") })
            } else {
                kind = .plain
            }
            try parser.expectWord("loop")
            parser.enclosing.append((label, true))
            let body = try parser.parseStatements(until: ["end"])
            parser.enclosing.removeLast()
            try parser.expectWord("end")
            try parser.expectWord("loop")
            try parser.endLabel(label)
            try parser.expectSymbol(";")
            return .loop(label: label, kind, body: body)
        }
    }

    mutating func parseRaise() throws -> PLStatement {
        advance()
        if acceptSymbol(";") { return .raise(PLRaise(level: "exception", format: nil, arguments: [], condition: nil, options: [], reraise: true)) }
        var level = "exception"
        if let w = word(), ["debug", "log", "info", "notice", "warning", "exception"].contains(w) {
            level = w
            advance()
        }
        var format: String?
        var arguments: [String] = []
        var condition: PLCondition?
        if case .literal = current.kind, bytes[current.start] == UInt8(ascii: "'") || bytes[current.start] == UInt8(ascii: "E") || bytes[current.start] == UInt8(ascii: "e") || bytes[current.start] == UInt8(ascii: "$") {
            format = text(position..<(position + 1))
            advance()
            while acceptSymbol(",") { arguments.append(try collectText(what: "an expression") { $0.isSymbol(",") || $0.isWord("using") }) }
        } else if !isWord("using") && !isSymbol(";") {
            condition = try parseCondition()
            if condition == .others { throw RedError(.syntaxError, "RAISE cannot name OTHERS") }
        }
        var options: [PLRaiseOption] = []
        if acceptWord("using") {
            repeat {
                let name = try parseName(what: "MESSAGE, DETAIL, HINT or ERRCODE")
                guard ["message", "detail", "hint", "errcode", "column", "constraint", "datatype", "table", "schema"].contains(name) else {
                    throw RedError(.syntaxError, "unrecognized RAISE statement option \"\(name)\"")
                }
                guard acceptSymbol("=") || acceptSymbol(":=") else { throw unexpected(expected: "=") }
                options.append(PLRaiseOption(name: name, expression: try collectText(what: "an expression") { $0.isSymbol(",") }))
            } while acceptSymbol(",")
        }
        try expectSymbol(";")
        if format != nil, options.contains(where: { $0.name == "message" }) { throw RedError(.syntaxError, "RAISE option already specified: MESSAGE") }
        return .raise(PLRaise(level: level, format: format, arguments: arguments, condition: condition, options: options))
    }

    /// `INTO [STRICT] target, …` here; leaves the tokens after it.
    mutating func parseInto() throws -> PLInto {
        try expectWord("into")
        let strict = acceptWord("strict")
        var targets: [String] = []
        repeat {
            var name = try parseName(what: "a variable")
            if acceptSymbol(".") { name += "." + (try parseName(what: "a field")) }
            targets.append(name)
        } while acceptSymbol(",")
        return PLInto(targets: targets, strict: strict)
    }

    mutating func parseSQLOrAssignment() throws -> PLStatement {
        // `name :=` / `name =` / `record.field :=`: an assignment.
        if case .word(let name, _) = current.kind {
            var length = 1
            var target = name
            if isSymbol(".", ahead: 1), case .word(let field, _) = tokens[min(position + 2, tokens.count - 1)].kind {
                target += "." + field
                length = 3
            }
            if isSymbol(":=", ahead: length) || isSymbol("=", ahead: length) {
                for _ in 0...length { advance() }
                return .assign(target: target, expression: try statementText(what: "an expression"))
            }
            if length == 1, isSymbol("[", ahead: 1) {
                // `a[1] := …` (no SQL statement starts that way).
                advance()
                var subscripts: [String] = []
                while acceptSymbol("[") {
                    subscripts.append(try collectText(what: "an array subscript") { $0.isSymbol("]") })
                    try expectSymbol("]")
                }
                guard acceptSymbol(":=") || acceptSymbol("=") else { throw unexpected(expected: "\":=\"") }
                return .assignElement(target: target, subscripts: subscripts, expression: try statementText(what: "an expression"))
            }
        }
        // SQL up to its `;`, with an INTO clause taken out: for SELECT the first INTO outside
        // brackets; for INSERT, UPDATE, DELETE and MERGE one after RETURNING.
        let dataChanges: Set<String> = ["insert", "update", "delete", "merge"]
        let first = word() ?? ""
        let returnsRows = dataChanges.contains(first) || ["select", "with", "values", "table"].contains(first)
        let start = position
        var into: PLInto?
        var pieces: [Range<Int>] = []
        var pieceStart = position
        var depth = 0
        var changesData = false, sawReturning = false
        while true {
            if case .end = current.kind { throw unexpected(expected: "\";\"") }
            if depth == 0, isSymbol(";") { break }
            if isSymbol("(") || isSymbol("[") { depth += 1 }
            if isSymbol(")") || isSymbol("]") { depth -= 1 }
            if depth == 0, let w = word() {
                if dataChanges.contains(w) { changesData = true }  // the main statement of a WITH too
                if w == "returning" { sawReturning = true }
            }
            if depth == 0, into == nil, returnsRows, isWord("into"), !changesData || sawReturning {
                pieces.append(pieceStart..<position)
                into = try parseInto()
                pieceStart = position
                continue
            }
            advance()
        }
        pieces.append(pieceStart..<position)
        guard position > start else { throw unexpected(expected: "a statement") }
        try expectSymbol(";")
        let sql = pieces.filter { !$0.isEmpty }.map(text).joined(separator: " ")
        return .sql(sql, into: into)
    }
}

/// PostgreSQL's condition names, as exception handlers and RAISE name them: a SQLSTATE, or
/// for a class name its two-character class.
public enum PLConditionNames {
    /// The full SQLSTATE a name stands for (a class name: its `…000`).
    public static func code(named name: String) -> String? {
        codes[name].map { $0.count == 2 ? $0 + "000" : $0 }
    }

    public static let codes: [String: String] = [
        "raise_exception": "P0001", "no_data_found": "P0002", "too_many_rows": "P0003", "assert_failure": "P0004",
        "plpgsql_error": "P0", "case_not_found": "20000",
        "unique_violation": "23505", "foreign_key_violation": "23503", "not_null_violation": "23502", "check_violation": "23514",
        "exclusion_violation": "23P01", "restrict_violation": "23001", "integrity_constraint_violation": "23",
        "division_by_zero": "22012", "numeric_value_out_of_range": "22003", "invalid_text_representation": "22P02",
        "string_data_right_truncation": "22001", "invalid_datetime_format": "22007", "datetime_field_overflow": "22008",
        "invalid_parameter_value": "22023", "null_value_not_allowed": "22004", "character_not_in_repertoire": "22021",
        "invalid_regular_expression": "2201B", "data_exception": "22", "cardinality_violation": "21000",
        "duplicate_object": "42710", "duplicate_table": "42P07", "duplicate_column": "42701", "duplicate_function": "42723",
        "duplicate_schema": "42P06", "duplicate_database": "42P04", "duplicate_alias": "42712",
        "undefined_table": "42P01", "undefined_column": "42703", "undefined_function": "42883", "undefined_object": "42704",
        "undefined_parameter": "42P02", "ambiguous_column": "42702", "ambiguous_function": "42725",
        "syntax_error": "42601", "insufficient_privilege": "42501", "wrong_object_type": "42809", "datatype_mismatch": "42804",
        "invalid_column_reference": "42P10", "invalid_table_definition": "42P16", "invalid_object_definition": "42P17",
        "dependent_objects_still_exist": "2BP01", "syntax_error_or_access_rule_violation": "42",
        "serialization_failure": "40001", "deadlock_detected": "40P01", "transaction_rollback": "40",
        "lock_not_available": "55P03", "object_in_use": "55006", "object_not_in_prerequisite_state": "55000",
        "read_only_sql_transaction": "25006", "active_sql_transaction": "25001", "in_failed_sql_transaction": "25P02",
        "feature_not_supported": "0A000", "invalid_cursor_name": "34000", "query_canceled": "57014",
        "program_limit_exceeded": "54000", "too_many_columns": "54011", "internal_error": "XX000",
        "sequence_generator_limit_exceeded": "2200H",
        "invalid_escape_sequence": "22025", "array_subscript_error": "2202E", "indicator_overflow": "22022",
    ]
}

extension Parser {
    /// `DO [LANGUAGE name] 'body' [LANGUAGE name]`: only PL/pgSQL runs inline, as in PostgreSQL.
    mutating func parseDo() throws -> Statement {
        advance()
        var language: String?
        func parseLanguage() throws {
            guard acceptKeyword("language") else { return }
            guard language == nil else { throw RedError(.syntaxError, "conflicting or redundant options") }
            if case .string(let name) = current.kind { advance(); language = name.lowercased() } else { language = try parseAnyName() }
        }
        try parseLanguage()
        guard case .string(let body) = current.kind else { throw unexpected(expected: "the block's code in quotes ($$ … $$)") }
        advance()
        try parseLanguage()
        guard (language ?? "plpgsql") == "plpgsql" else {
            throw RedError(.featureNotSupported, "language \"\(language!)\" does not support inline code execution")
        }
        return .doBlock(try PLpgSQLParser.parse(body))
    }
}
