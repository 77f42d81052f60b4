import RedCore

/// PL/pgSQL's cursors, PostgreSQL's grammar: bound cursor declarations, OPEN, FETCH, MOVE and
/// CLOSE (`PLpgSQLRun` runs them: `PLpgSQLCursors`).
extension PLpgSQLParser {
    /// After the name: `[[NO] SCROLL] CURSOR [(name type, …)] {FOR | IS} query;`.
    mutating func parseCursorDeclaration(_ name: String) throws -> PLDeclaration {
        let scroll = try parseScrollOption()
        try expectWord("cursor")
        var parameters: [PLCursorParameter] = []
        if acceptSymbol("(") {
            repeat {
                let parameter = try parseName(what: "a cursor parameter")
                let type = try collectText(what: "a data type") { $0.isSymbol(",") || $0.isSymbol(")") }
                guard !parameters.contains(where: { $0.name == parameter }) else {
                    throw RedError(.syntaxError, "duplicate cursor parameter \"\(parameter)\"")
                }
                parameters.append(PLCursorParameter(name: parameter, typeText: type))
            } while acceptSymbol(",")
            try expectSymbol(")")
        }
        guard acceptWord("for") || acceptWord("is") else { throw unexpected(expected: "FOR or IS") }
        let query = try statementText(what: "a query")
        var declaration = PLDeclaration(name: name, typeText: "refcursor", constant: false, notNull: false, initial: nil)
        declaration.cursor = PLCursorDeclaration(parameters: parameters, query: query, scroll: scroll)
        return declaration
    }

    /// OPEN, FETCH, MOVE or CLOSE (`verb`, the current word).
    mutating func parseCursorStatement(_ verb: String) throws -> PLStatement {
        advance()
        switch verb {
        case "open":
            let cursor = try parseName(what: "a cursor")
            let scroll = try parseScrollOption()
            if acceptWord("for") {
                let source: PLQuerySource
                if acceptWord("execute") {
                    let command = try collectText(what: "a command string") { $0.isWord("using") }
                    var using: [String] = []
                    if acceptWord("using") {
                        repeat { using.append(try collectText(what: "an expression") { $0.isSymbol(",") }) } while acceptSymbol(",")
                    }
                    source = .execute(command, using: using)
                } else {
                    source = .sql(try collectText(what: "a query") { _ in false })
                }
                try expectSymbol(";")
                return .open(cursor: cursor, .query(source, scroll: scroll))
            }
            guard scroll == nil else { throw unexpected(expected: "FOR") }
            var arguments: [String] = []
            if acceptSymbol("(") {
                repeat { arguments.append(try collectText(what: "a cursor argument") { $0.isSymbol(",") || $0.isSymbol(")") }) } while acceptSymbol(",")
                try expectSymbol(")")
            }
            try expectSymbol(";")
            return .open(cursor: cursor, .bound(arguments: arguments))
        case "close":
            let cursor = try parseName(what: "a cursor")
            try expectSymbol(";")
            return .close(cursor: cursor)
        default:
            let moves = verb == "move"
            let direction = try parseFetchDirection(moves: moves)
            let cursor = try parseName(what: "a cursor")
            var into: PLInto?
            if !moves {
                into = try parseInto()
                guard !into!.strict else { throw RedError(.syntaxError, "FETCH … INTO cannot be STRICT") }
            }
            try expectSymbol(";")
            return .fetch(cursor: cursor, direction, into: into)
        }
    }

    /// `SCROLL` (true), `NO SCROLL` (false) or neither (nil).
    mutating func parseScrollOption() throws -> Bool? {
        if acceptWord("no") {
            try expectWord("scroll")
            return false
        }
        return acceptWord("scroll") ? true : nil
    }

    /// `[direction] [FROM | IN]` before the cursor's name. A count is an expression up to
    /// FROM or IN; FETCH takes one row at most, so FORWARD/BACKWARD n and ALL are MOVE's only.
    mutating func parseFetchDirection(moves: Bool) throws -> PLFetchDirection {
        func count() throws -> String { try collectText(what: "a count") { $0.isWord("from") || $0.isWord("in") } }
        var direction = PLFetchDirection.next
        if isWord("from", ahead: 1) || isWord("in", ahead: 1) || !(isWord("into", ahead: 1) || isSymbol(";", ahead: 1)) {
            // A direction word (else the word is the cursor's name: `FETCH next_row INTO …`).
        } else {
            return direction
        }
        if acceptWord("next") {
            direction = .next
        } else if acceptWord("prior") {
            direction = .prior
        } else if acceptWord("first") {
            direction = .first
        } else if acceptWord("last") {
            direction = .last
        } else if acceptWord("absolute") {
            direction = .absolute(try count())
        } else if acceptWord("relative") {
            direction = .relative(try count())
        } else if acceptWord("all") {
            guard moves else { throw RedError(.syntaxError, "FETCH statement cannot return multiple rows") }
            direction = .forward(nil)
        } else if !isWord("from"), !isWord("in"), case .literal = current.kind {
            // A bare count: `MOVE 3 FROM c` (FETCH 1 at most).
            direction = .forward(try count())
            guard moves || direction == .forward("1") else { throw RedError(.syntaxError, "FETCH statement cannot return multiple rows") }
        } else if isWord("forward") || isWord("backward") {
            let forward = isWord("forward")
            advance()
            var amount: String?
            if acceptWord("all") {
                guard moves else { throw RedError(.syntaxError, "FETCH statement cannot return multiple rows") }
                amount = nil
            } else if isWord("from") || isWord("in") {
                amount = "1"
            } else {
                amount = try count()
                guard moves else { throw RedError(.syntaxError, "FETCH statement cannot return multiple rows") }
            }
            direction = forward ? .forward(amount) : .backward(amount)
        }
        _ = acceptWord("from") || acceptWord("in")
        return direction
    }
}
