import RedCore

/// What each PL/pgSQL statement does (see `PLpgSQLRun` for variables and errors).
extension PLpgSQLRun {
    mutating func execute(_ statements: [PLStatement]) async throws -> Completion {
        for statement in statements {
            let completion = try await execute(statement)
            if case .normal = completion { continue }
            return completion
        }
        return .normal
    }

    mutating func execute(_ statement: PLStatement) async throws -> Completion {
        switch statement {
        case .null:
            return .normal
        case .block(let block):
            return try await run(block)
        case .assign(let target, let expression):
            try await assign(target, try await value(of: expression))
        case .assignElement(let target, let subscripts, let expression):
            var indexes: [Int64] = []
            for index in subscripts {
                switch try await value(of: "CAST((\(index)) AS bigint)") {
                case .integer(let n): indexes.append(n)
                default: throw RedError(.invalidArgument, "array subscript in assignment must not be null", condition: "22004")
                }
            }
            try await assignElement(target, indexes, try await value(of: expression))
        case .ifThen(let branches, let otherwise):
            for branch in branches {
                if try await isTrue(branch.condition) { return try await execute(branch.body) }
            }
            return try await execute(otherwise ?? [])
        case .caseWhen(let operand, let branches, let otherwise):
            return try await runCase(operand, branches, otherwise)
        case .loop(let label, let kind, let body):
            return try await runLoop(label, kind, body)
        case .exit(let label, let condition, let continues):
            if let condition, !(try await isTrue(condition)) { return .normal }
            return continues ? .next(label: label) : .exit(label: label)
        case .returnStatement(let value):
            if setRows != nil {
                guard value == nil else { throw RedError(.datatypeMismatch, "RETURN cannot have a parameter in function returning set", hint: "Use RETURN NEXT or RETURN QUERY.") }
                return .returned(nil)
            }
            if returnsRow, let value {
                returnedRow = try await triggerRow(value)
                return .returned(nil)
            }
            guard let value else {
                guard !returnsValue else { throw RedError(.datatypeMismatch, "RETURN with no value in a function returning a value", condition: "42601") }
                return .returned(nil)
            }
            guard let resultType else { throw RedError(.datatypeMismatch, "RETURN cannot have a parameter in function returning void") }
            return .returned(try await self.value(of: "CAST((\(value)) AS \(resultType))"))
        case .returnNext(let expression):
            try await returnNext(expression)
        case .returnQuery(let source):
            let result = try await rows(of: source)
            rowCount = result.rows.count
            setFound(!result.rows.isEmpty)
            try addRows(result.rows)
        case .raise(let raise):
            try await self.raise(raise)
        case .perform(let query):
            let result = try await runSQL(query)
            rowCount = result.rows.count
            setFound(!result.rows.isEmpty)
        case .sql(let sql, let into):
            let result = try await runSQL(sql)
            let returnsRows = !result.columns.isEmpty && result.statementType != "do"
            rowCount = returnsRows && result.statementType == "select" ? result.rows.count : result.rowsAffected
            if let into {
                try await store(result, into: into, statement: sql)
            } else if returnsRows && result.statementType == "select" {
                throw RedError(.syntaxError, "query has no destination for result data",
                               hint: "If you want to discard the results of a SELECT, use PERFORM instead.")
            }
            if ["select", "insert", "update", "delete", "merge"].contains(result.statementType) {
                setFound(into.map { _ in !result.rows.isEmpty } ?? (rowCount > 0))
            }
        case .execute(let command, let into, let using):
            let (sql, parameters) = try await dynamicStatement(command, using)
            let result = try await runSQL(sql, dynamicParameters: parameters)
            rowCount = result.statementType == "select" ? result.rows.count : result.rowsAffected
            if let into { try await store(result, into: into, statement: sql) }  // EXECUTE leaves FOUND alone, as in PostgreSQL
        case .getDiagnostics(let items, let stacked):
            guard stacked else {
                for item in items { try await assign(item.target, .integer(Int64(rowCount))) }
                return .normal
            }
            guard let error = handling.last else {
                throw RedError(.syntaxError, "GET STACKED DIAGNOSTICS cannot be used outside an exception handler", condition: "0Z002")
            }
            for item in items {
                let text: String
                switch item.item {
                case "returned_sqlstate": text = error.sqlState
                case "message_text": text = error.message
                case "pg_exception_detail": text = error.detail ?? ""
                case "pg_exception_hint": text = error.hint ?? ""
                default: text = ""  // context, column, constraint, type, table and schema: fields errors do not carry here
                }
                try await assign(item.target, .text(text))
            }
        case .assert(let condition, let message):
            guard try await isTrue(condition) else {
                var text = "assertion failed"
                if let message { text = Self.raiseText(try await value(of: "CAST((\(message)) AS text)")) }
                throw RedError(.raisedException, text, condition: "P0004")
            }
        case .open(let cursor, let source):
            try await openCursor(cursor, source)
        case .fetch(let cursor, let direction, let into):
            try await fetch(cursor, direction, into: into)
        case .close(let cursor):
            try closeCursor(cursor)
        }
        return .normal
    }

    /// One more row of a set-returning function: the OUT variables' values, a record's fields,
    /// or one value.
    mutating func returnNext(_ expression: String?) async throws {
        guard setRows != nil else { try addRows([]); return }
        guard let expression else {
            guard columnsAreVariables else { throw RedError(.syntaxError, "RETURN NEXT must have a parameter") }
            var row: [Value] = []
            for column in setColumns { row.append(slotIndex(column.name).map { slots[$0].value } ?? .null) }
            return try addRows([row])
        }
        guard !columnsAreVariables else { throw RedError(.syntaxError, "RETURN NEXT cannot have a parameter in function with OUT parameters") }
        if let i = slotIndex(expression.trimmingSpaces().lowercased()), slots[i].isRecord {
            guard let fields = slots[i].fields else { throw RedError(.objectNotInPrerequisiteState, "record \"\(expression)\" is not assigned yet") }
            return try addRows([fields.map(\.value)])
        }
        guard setColumns.count == 1 else {
            throw RedError(.featureNotSupported, "RETURN NEXT of an expression in a function returning rows of several columns: return a record variable")
        }
        try addRows([[try await value(of: expression)]])
    }

    /// The rows of a FOR loop's or RETURN QUERY's query.
    mutating func rows(of source: PLQuerySource) async throws -> QueryResult {
        switch source {
        case .sql(let query):
            return try await runSQL(query)
        case .execute(let command, let using):
            let (sql, parameters) = try await dynamicStatement(command, using)
            return try await runSQL(sql, dynamicParameters: parameters)
        }
    }

    /// EXECUTE's text and its USING values.
    mutating func dynamicStatement(_ command: String, _ using: [String]) async throws -> (sql: String, parameters: [Value]) {
        guard case .text(let sql) = try await value(of: "CAST((\(command)) AS text)") else {
            throw RedError(.invalidArgument, "query string argument of EXECUTE is null", condition: "22004")
        }
        var parameters: [Value] = []
        for argument in using { parameters.append(try await value(of: argument)) }
        return (sql, parameters)
    }

    /// INTO: the first row (none: NULLs); STRICT wants exactly one.
    mutating func store(_ result: QueryResult, into: PLInto, statement: String) async throws {
        if into.strict {
            guard !result.rows.isEmpty else { throw RedError(.raisedException, "query returned no rows", condition: "P0002") }
            guard result.rows.count == 1 else {
                throw RedError(.raisedException, "query returned more than one row", hint: "Make sure the query returns a single row, or use LIMIT 1.",
                               condition: "P0003")
            }
        }
        try await store(result.rows.first, columns: result.columns, into: into.targets)
    }

    mutating func runCase(_ operand: String?, _ branches: [PLBranch], _ otherwise: [PLStatement]?) async throws -> Completion {
        let mark = pushScope()
        defer { popScope(mark) }
        if let operand {
            // Evaluated once, then compared with each WHEN's values.
            try await declare(name: "pl$case", typeText: nil, value: try await value(of: operand))
        }
        for branch in branches {
            let condition = operand == nil ? branch.condition : "\"pl$case\" IN (\(branch.condition))"
            if try await isTrue(condition) { return try await execute(branch.body) }
        }
        guard let otherwise else {
            throw RedError(.raisedException, "case not found", hint: "CASE statement is missing ELSE part.", condition: "20000")
        }
        return try await execute(otherwise)
    }

    // MARK: Loops

    /// What one pass's completion means for the loop labelled `label`: nil to go on, else
    /// what the loop completes with.
    func afterPass(_ completion: Completion, label: String?) -> Completion? {
        switch completion {
        case .normal: return nil
        case .next(let target) where target == nil || target == label: return nil
        case .exit(let target) where target == nil || target == label: return .normal
        default: return completion
        }
    }

    mutating func runLoop(_ label: String?, _ kind: PLLoopKind, _ body: [PLStatement]) async throws -> Completion {
        switch kind {
        case .plain:
            while true {
                try await checkCancelled()
                if let done = afterPass(try await execute(body), label: label) { return done }
            }
        case .whileTrue(let condition):
            while try await isTrue(condition) {
                try await checkCancelled()
                if let done = afterPass(try await execute(body), label: label) { return done }
            }
            return .normal
        case .range(let variable, let reverse, let low, let high, let step):
            let from = try await integer(low), to = try await integer(high)
            var by: Int64 = 1
            if let step { by = try await integer(step) }
            guard by > 0 else { throw RedError(.invalidArgument, "BY value of FOR loop must be greater than zero") }
            return try await withScope { run in
                try await run.declare(name: variable, typeText: "integer", value: .null)
                var i = from
                var ran = false
                while reverse ? i >= to : i <= to {
                    try await run.checkCancelled()
                    ran = true
                    try await run.assign(variable, .integer(i))
                    if let done = run.afterPass(try await run.execute(body), label: label) {
                        run.setFound(true)
                        return done
                    }
                    let (next, overflow) = reverse ? i.subtractingReportingOverflow(by) : i.addingReportingOverflow(by)
                    if overflow { break }
                    i = next
                }
                run.setFound(ran)
                return .normal
            }
        case .query(let targets, let source):
            if case .sql(let text) = source, targets.count == 1, let (cursor, arguments) = boundCursorReference(text) {
                return try await cursorLoop(cursor, arguments: arguments, target: targets[0], label: label, body)
            }
            for target in targets {
                guard let i = slotIndex(target), targets.count == 1 || !slots[i].isRecord else {
                    throw RedError(.syntaxError, "loop variable of loop over rows must be a record variable or list of scalar variables")
                }
            }
            return try await eachRow(try await rows(of: source), targets: targets, label: label, body)
        case .array(let variable, let slice, let array):
            guard let i = slotIndex(variable) else { throw RedError(.syntaxError, "\"\(variable)\" is not a known variable") }
            guard slice > 0 else {
                let result = try await runSQL("SELECT unnest(\(array))")
                return try await eachRow(result, targets: [variable], label: label, body)
            }
            if let typeText = slots[i].typeText, !typeText.hasSuffix("]") {
                throw RedError(.datatypeMismatch, "FOREACH ... SLICE loop variable must be of an array type")
            }
            let slices: [JSONValue]
            switch try await value(of: array) {
            case .null: throw RedError(.invalidArgument, "FOREACH expression must not be null", condition: "22004")
            case .json(.array(let items)): slices = try Self.slices(items, dimensions: slice)
            default: throw RedError(.datatypeMismatch, "FOREACH expression must yield an array, not a scalar")
            }
            for element in slices {
                try await checkCancelled()
                try await assign(variable, .json(element))
                if let done = afterPass(try await execute(body), label: label) {
                    setFound(true)
                    return done
                }
            }
            setFound(!slices.isEmpty)
            return .normal
        }
    }

    /// The sub-arrays of `dimensions` dimensions of an array, in order (all of it when it has
    /// that many); 2202E for more dimensions than the array has, as PostgreSQL says.
    static func slices(_ items: [JSONValue], dimensions slice: Int) throws -> [JSONValue] {
        var depth = items.isEmpty ? 0 : 1, probe = items  // an empty array has no dimensions
        while case .array(let inner)? = probe.first { depth += 1; probe = inner }
        guard slice <= depth else {
            throw RedError(.invalidArgument, "slice dimension (\(slice)) is out of the valid range 0..\(depth)", condition: "2202E")
        }
        if items.isEmpty { return [] }
        var level: [JSONValue] = [.array(items)]
        for _ in 0..<(depth - slice) {
            level = level.flatMap { node -> [JSONValue] in
                if case .array(let inner) = node { return inner }
                return [node]
            }
        }
        return level
    }

    mutating func eachRow(_ result: QueryResult, targets: [String], label: String?, _ body: [PLStatement]) async throws -> Completion {
        for row in result.rows {
            try await checkCancelled()
            try await store(row, columns: result.columns, into: targets)
            if let done = afterPass(try await execute(body), label: label) {
                setFound(true)
                return done
            }
        }
        setFound(!result.rows.isEmpty)
        return .normal
    }

    /// Runs `body` with a scope of its own for the variables it declares.
    mutating func withScope(_ body: (inout PLpgSQLRun) async throws -> Completion) async throws -> Completion {
        let mark = pushScope()
        defer { popScope(mark) }
        return try await body(&self)
    }

    // MARK: Array elements

    /// `name[i]… := value`: the array with that element set, cast to the variable's type (so the
    /// element takes the element type: `int[]`'s `a[1] := '5'` holds 5). A NULL array becomes
    /// one, and a one-dimensional array grows past its end with NULLs, as in PostgreSQL. Arrays
    /// here always start at 1 (there are no other lower bounds), so a subscript below 1, or one
    /// past the end of an inner dimension, is 2202E.
    mutating func assignElement(_ target: String, _ subscripts: [Int64], _ value: Value) async throws {
        guard let i = slotIndex(target) else { throw RedError(.syntaxError, "\"\(target)\" is not a known variable") }
        guard !slots[i].constant else { throw RedError(.invalidArgument, "variable \"\(target)\" is declared CONSTANT", condition: "22005") }
        if let typeText = slots[i].typeText, !typeText.hasSuffix("]") {
            // jsonb's own subscripts (`j['k'] := …`, `j[0]` from 0) are not arrays' 1-based elements.
            if DataType(sqlName: typeText) == .json {
                throw RedError(.featureNotSupported, "assigning to a subscript of jsonb variable \"\(target)\" is not supported yet; use jsonb_set")
            }
            throw RedError(.datatypeMismatch, "subscripted assignment to \"\(target)\" requires an array variable", condition: "42804")
        }
        let items: [JSONValue]
        switch slots[i].value {
        case .null: items = []
        case .json(.array(let current)) where !slots[i].isRecord: items = current
        default: throw RedError(.datatypeMismatch, "subscripted assignment to \"\(target)\" requires an array variable", condition: "42804")
        }
        let updated = try Self.setting(items, at: subscripts[...], to: value.arrayElementJSON)
        slots[i].value = try await cast(.json(.array(updated)), to: slots[i], name: target)
    }

    /// How far an assignment may grow an array: each element costs tens of bytes here.
    static var maxElementsBySubscript: Int { 1_000_000 }

    static func setting(_ items: [JSONValue], at path: ArraySlice<Int64>, to element: JSONValue) throws -> [JSONValue] {
        guard let index = path.first else { return items }
        guard index >= 1 else { throw RedError(.invalidArgument, "array subscript out of range", condition: "2202E") }
        var items = items
        if path.count == 1, index > items.count {
            guard index <= maxElementsBySubscript else {
                throw RedError(.limitExceeded, "array subscript \(index) would make an array of more than \(maxElementsBySubscript) elements")
            }
            items += repeatElement(JSONValue.null, count: Int(index) - items.count)
        }
        let k = Int(index) - 1
        if path.count == 1 {
            items[k] = element
        } else if items.isEmpty, index == 1 {
            items = [.array(try setting([], at: path.dropFirst(), to: element))]  // `m[1][1] := x` on a NULL array: {{x}}
        } else {
            guard index <= items.count, case .array(let inner) = items[k] else {
                throw RedError(.invalidArgument, "array subscript out of range", condition: "2202E")
            }
            items[k] = .array(try setting(inner, at: path.dropFirst(), to: element))
        }
        return items
    }

    // MARK: RAISE

    mutating func raise(_ raise: PLRaise) async throws {
        if raise.reraise {
            guard let error = handling.last else { throw RedError(.syntaxError, "RAISE without parameters cannot be used outside an exception handler", condition: "0Z002") }
            throw error
        }
        var message = ""
        if let format = raise.format {
            guard case .text(let template) = try await value(of: format) else { throw RedError(.invalidArgument, "RAISE format is NULL") }
            var arguments: [String] = []
            for argument in raise.arguments {
                arguments.append(Self.raiseText(try await value(of: "\(ArrayTextCast.raiseText.name)((\(argument)))")))
            }
            message = try Self.format(template, arguments)
        }
        var condition: String?
        if case .sqlState(let code)? = raise.condition { condition = code }
        if case .sqlStateClass(let prefix)? = raise.condition { condition = prefix + "000" }
        var detail: String?, hint: String?
        for option in raise.options {
            let text = Self.raiseText(try await value(of: option.expression))
            switch option.name {
            case "message": message = text
            case "detail": detail = text
            case "hint": hint = text
            case "errcode":
                if let code = PLConditionNames.code(named: text.lowercased()) { condition = code } else {
                    guard text.count == 5, text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) }) else {
                        throw RedError(.undefinedObject, "unrecognized exception condition \"\(text)\"")
                    }
                    condition = text
                }
            default: break  // COLUMN, CONSTRAINT, DATATYPE, TABLE, SCHEMA: error fields no surface shows yet
            }
        }
        if message.isEmpty, raise.format == nil { message = raise.condition.flatMap(Self.conditionName) ?? condition ?? "P0001" }
        switch raise.level {
        case "exception":
            throw RedError(.raisedException, message, detail: detail, hint: hint, condition: condition)
        case "warning":
            note([], [message])
        case "notice", "info":
            note([message])
        default:
            break  // DEBUG and LOG go to the server log in PostgreSQL, never to the client by default
        }
    }

    /// A value as RAISE prints it: PostgreSQL's output text, `<NULL>` for NULL.
    static func raiseText(_ value: Value) -> String {
        switch value {
        case .null: return "<NULL>"
        case .boolean(let b): return b ? "t" : "f"
        default: return value.displayText
        }
    }

    /// RAISE's format: each `%` takes the next argument, `%%` is a `%`; the counts must agree.
    static func format(_ template: String, _ arguments: [String]) throws -> String {
        var out = "", used = 0
        var characters = template.makeIterator()
        while let c = characters.next() {
            guard c == "%" else { out.append(c); continue }
            var lookahead = characters
            if lookahead.next() == "%" {
                characters = lookahead
                out.append("%")
                continue
            }
            guard used < arguments.count else { throw RedError(.syntaxError, "too few parameters specified for RAISE") }
            out += arguments[used]
            used += 1
        }
        guard used == arguments.count else { throw RedError(.syntaxError, "too many parameters specified for RAISE") }
        return out
    }

    static func conditionName(_ condition: PLCondition) -> String? {
        switch condition {
        case .sqlState(let code), .sqlStateClass(let code): return PLConditionNames.codes.first { $0.value == code }?.key
        case .others: return nil
        }
    }
}
