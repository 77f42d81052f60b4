import RedCore

/// An open cursor of a PL/pgSQL run: its query's rows, taken when it was opened (so, as in
/// PostgreSQL, it sees the data as of OPEN, not the run's later writes), and where it stands.
///
/// Positions count as PostgreSQL's cursors do: 0 is before the first row, 1…n are the rows,
/// n + 1 is after the last. The rows are all read at OPEN, as a `FOR … IN query` loop reads
/// them; a cursor over a large table holds them until it is closed or the run ends.
struct OpenCursor {
    var rows: [[Value]]
    var columns: [ResultColumn]
    var position = 0
    /// `NO SCROLL` (false): moving backward is 55000.
    var scroll: Bool?
}

/// OPEN, FETCH, MOVE, CLOSE and `FOR r IN cursor` (`PLStatement.open`, `.fetch`, `.close`).
///
/// A cursor variable (`refcursor`) holds its portal's name: a bound cursor's is its own name
/// unless assigned before OPEN; an unbound one's that is NULL at OPEN becomes
/// `<unnamed portal n>`. Open cursors are the run's (`PLpgSQLRun.cursors`), closed when it ends:
/// returning a `refcursor` for the caller to FETCH from is not supported.
extension PLpgSQLRun {
    mutating func openCursor(_ name: String, _ source: PLCursorSource) async throws {
        guard let i = slotIndex(name) else { throw RedError(.syntaxError, "\"\(name)\" is not a known variable") }
        let declared = slots[i].cursor
        var portal: String
        switch slots[i].value {
        case .text(let text): portal = text
        default:
            unnamedPortals += 1
            portal = "<unnamed portal \(unnamedPortals)>"
        }
        guard cursors[portal] == nil else { throw RedError(.duplicateObject, "cursor \"\(portal)\" already in use", condition: "42P03") }
        let result: QueryResult, scroll: Bool?
        switch source {
        case .bound(let arguments):
            guard let declared else { throw RedError(.syntaxError, "cursor \"\(name)\" has no query: open it with OPEN \(name) FOR query") }
            result = try await boundRows(name, declared, arguments)
            scroll = declared.scroll
        case .query(let query, let written):
            guard declared == nil else { throw RedError(.syntaxError, "cursor \"\(name)\" is bound to a query already: OPEN \(name) opens it") }
            result = try await rows(of: query)
            scroll = written
        }
        slots[i].value = .text(portal)
        cursors[portal] = OpenCursor(rows: result.rows, columns: result.columns, scroll: scroll)
    }

    /// A bound cursor's rows, its parameters variables of the query with the arguments' values.
    private mutating func boundRows(_ name: String, _ declared: PLCursorDeclaration, _ arguments: [String]) async throws -> QueryResult {
        let expected = declared.parameters.count
        guard arguments.count == expected else {
            let message = expected == 0 ? "cursor \"\(name)\" has no arguments"
                : arguments.isEmpty ? "cursor \"\(name)\" has arguments"
                : arguments.count < expected ? "not enough arguments for cursor \"\(name)\"" : "too many arguments for cursor \"\(name)\""
            throw RedError(.syntaxError, message)
        }
        var values: [Value] = []
        for argument in arguments { values.append(try await value(of: argument)) }  // in the caller's scope
        let mark = pushScope()
        defer { popScope(mark) }
        for (parameter, value) in zip(declared.parameters, values) {
            try await declare(name: parameter.name, typeText: parameter.typeText, value: value)
        }
        return try await runSQL(declared.query)
    }

    /// FETCH (into targets: the row there, or NULLs past either end) and MOVE (no targets).
    /// FOUND says whether FETCH got a row, or MOVE moved over or onto one.
    mutating func fetch(_ name: String, _ direction: PLFetchDirection, into: PLInto?) async throws {
        let portal = try portalName(name)
        guard var cursor = cursors[portal] else { throw RedError(.undefinedCursor, "cursor \"\(portal)\" does not exist") }
        let n = cursor.rows.count, from = cursor.position
        var target: Int
        var absolute = false
        switch direction {
        case .next: target = from + 1
        case .prior: target = from - 1
        case .first: target = 1; absolute = true
        case .last: target = n; absolute = true
        case .absolute(let count):
            let k = try await self.count(count, within: n)
            target = k >= 0 ? k : n + 1 + k
            absolute = true
        case .relative(let count):
            target = from + (try await self.count(count, within: n))
            absolute = true  // PostgreSQL moves k - 1 rows, then reports whether it landed on one
        case .forward(let count?): target = from + (try await self.count(count, within: n))
        case .forward(nil): target = n + 1
        case .backward(let count?): target = from - (try await self.count(count, within: n))
        case .backward(nil): target = 0
        }
        target = min(max(target, 0), n + 1)
        if target < from, cursor.scroll == false {
            throw RedError(.objectNotInPrerequisiteState, "cursor can only scan forward", hint: "Declare it with SCROLL option to enable backward scan.")
        }
        cursor.position = target
        cursors[portal] = cursor
        let row = target >= 1 && target <= n ? cursor.rows[target - 1] : nil
        if let into {
            try await store(row, columns: cursor.columns, into: into.targets)
            setFound(row != nil)
            rowCount = row == nil ? 0 : 1
        } else if absolute || target == from {
            setFound(row != nil)
            rowCount = row == nil ? 0 : 1
        } else {
            // Rows moved over: forward up to the last row, backward down to the first.
            let moved = target > from ? max(0, min(target, n) - from) : max(0, from - max(target, 1))
            setFound(moved > 0)
            rowCount = moved
        }
    }

    mutating func closeCursor(_ name: String) throws {
        let portal = try portalName(name)
        guard cursors.removeValue(forKey: portal) != nil else { throw RedError(.undefinedCursor, "cursor \"\(portal)\" does not exist") }
    }

    /// `FOR r IN cursor [(arguments)] LOOP`: opens the bound cursor, runs the body for each row
    /// with `r` a record of the loop's own, and closes it.
    mutating func cursorLoop(_ name: String, arguments: [String], target: String, label: String?, _ body: [PLStatement]) async throws -> Completion {
        try await openCursor(name, .bound(arguments: arguments))
        let portal = try portalName(name)
        let result = cursors[portal].map { QueryResult(columns: $0.columns, rows: $0.rows, statementType: "select", commandTag: "") }
        return try await withScope { run in
            defer { run.cursors[portal] = nil }
            try await run.declare(name: target, typeText: nil, record: true, value: .null)
            return try await run.eachRow(result ?? QueryResult(columns: [], rows: [], statementType: "select", commandTag: ""),
                                         targets: [target], label: label, body)
        }
    }

    /// `c` or `c(arguments)` naming a bound cursor variable, as a FOR loop's query text.
    func boundCursorReference(_ text: String) -> (name: String, arguments: [String])? {
        let trimmed = text.trimmingSpaces()
        let name = String(trimmed.prefix { $0.isLetter || $0.isNumber || $0 == "_" }).lowercased()
        guard !name.isEmpty, let i = slotIndex(name), slots[i].cursor != nil else { return nil }
        let rest = String(trimmed.dropFirst(name.count)).trimmingSpaces()
        if rest.isEmpty { return (name, []) }
        guard rest.hasPrefix("("), rest.hasSuffix(")") else { return nil }
        return (name, Self.topLevelItems(String(rest.dropFirst().dropLast())))
    }

    /// `a, f(b, c), 'x,y'` → its three items: commas outside brackets and quotes.
    static func topLevelItems(_ text: String) -> [String] {
        var items: [String] = [], current = "", depth = 0, quoted = false
        for character in text {
            if character == "'" { quoted.toggle() }
            if !quoted {
                if character == "(" || character == "[" { depth += 1 }
                if character == ")" || character == "]" { depth -= 1 }
                if character == ",", depth == 0 {
                    items.append(current.trimmingSpaces())
                    current = ""
                    continue
                }
            }
            current.append(character)
        }
        if !current.trimmingSpaces().isEmpty { items.append(current.trimmingSpaces()) }
        return items
    }

    private func portalName(_ name: String) throws -> String {
        guard let i = slotIndex(name) else { throw RedError(.syntaxError, "\"\(name)\" is not a known variable") }
        guard case .text(let portal) = slots[i].value else { throw RedError(.invalidArgument, "cursor variable \"\(name)\" is null", condition: "22004") }
        return portal
    }

    /// A count or position, an integer as PostgreSQL reads it, kept within the `rows` of the
    /// cursor and a step either side (a larger one lands past an end all the same), so adding
    /// it to a position cannot overflow.
    private mutating func count(_ expression: String, within rows: Int) async throws -> Int {
        guard case .integer(let n) = try await value(of: "CAST((\(expression)) AS integer)") else {
            throw RedError(.invalidArgument, "relative or absolute cursor position is null", condition: "22004")
        }
        return Int(max(-Int64(rows) - 2, min(Int64(rows) + 2, n)))
    }
}
