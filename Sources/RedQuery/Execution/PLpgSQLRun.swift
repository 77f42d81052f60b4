import RedCore

/// One run of a PL/pgSQL block — a `DO` block (`Session.runDoBlock`) or a function's body
/// (`PLpgSQLFunctionCall`): its variables, and the order its statements run in. The statements
/// themselves run through `runner` (`PLStatementRunner`).
///
/// - **Variables** live in slots, named by the scopes of the blocks and loops that declare
///   them (an inner name hides an outer one). Every statement the block runs gets all slot
///   values as its parameters and the visible names as `RoutineVariables`, so its SQL reads
///   a variable as `CAST($n AS type)` with `n` the slot's number; a record variable's fields
///   (`r.id`) follow the slots, typed as the query that filled the record typed them, and the
///   record itself (`r`) reads as a JSON object of them, as a table's whole-row reference does.
/// - **Expressions** are queries: `x := a + 1` runs `SELECT a + 1` (one row, one column, as
///   PostgreSQL requires), and a typed target casts the value to its type.
/// - **Control flow** (`EXIT`, `CONTINUE`, `RETURN`) comes back as a `Completion` from each
///   statement list, never as an error, so an EXCEPTION handler cannot catch it.
/// - **Errors**: a block with handlers takes a savepoint before its body; an error there
///   rolls back to it and the first handler whose condition matches the SQLSTATE runs, with
///   `SQLSTATE` and `SQLERRM` as variables. `OTHERS` catches everything but a cancel (57014)
///   and a failed ASSERT (P0004), as in PostgreSQL.
/// - **Bounds**: loops check for cancellation (statement timeout, a client's cancel) on every
///   pass and let other tasks run now and then; notices are kept to `maxNotices`.
public struct PLpgSQLRun<Runner: PLStatementRunner> {
    var runner: Runner

    struct Slot {
        var name: String
        var value: Value = .null
        /// How SQL reads it (`CAST($n AS type)`, or `$n` when untyped); nil for a record.
        var read: Expr?
        var typeText: String?
        var constant = false
        var notNull = false
        /// A record's fields, once a row was put in it.
        var fields: [(name: String, type: DataType, value: Value)]?
        /// A record that is NULL although typed (a trigger's OLD on INSERT, NEW on DELETE): its
        /// fields read NULL, and RETURN of it returns NULL.
        var nullRecord = false
        /// A bound cursor's query (`c CURSOR FOR …`).
        var cursor: PLCursorDeclaration?
        var isRecord: Bool { read == nil }
    }

    enum Completion {
        case normal
        case exit(label: String?)
        case next(label: String?)
        /// `RETURN [value]`: a function's value (nil for a DO or a void function).
        case returned(Value?)
    }

    var slots: [Slot] = []
    var scopes: [[String: Int]] = []
    /// The open cursors by portal name (`PLpgSQLCursors`); they close when the run ends.
    var cursors: [String: OpenCursor] = [:]
    var unnamedPortals = 0
    /// The variables as SQL sees them (`VariableLayout`), built when they change shape: a
    /// variable declared, a scope left, a record given fields. Nil: build it at the next statement.
    var layout: VariableLayout?
    /// Where the body's statements keep their plans between calls (`RoutinePlans`); nil: each
    /// is planned where it runs, as in a DO block, which runs once.
    var plans: RoutinePlans?
    /// ROW_COUNT: rows the last statement returned or changed.
    var rowCount = 0
    /// The errors the running handlers handle, innermost last (`RAISE;`).
    var handling: [RedError] = []
    private var notices: [String] = []
    private var warnings: [String] = []
    private var droppedNotices = 0
    private var passes = 0

    static var maxNotices: Int { 10_000 }

    /// How many EXCEPTION blocks' savepoints are open (COMMIT is refused inside one).
    var openSavepoints = 0
    /// What RETURN gives: the function's result type as written; nil in a DO or a void function.
    var resultType: String?
    var returnsValue = false
    /// A set-returning function's rows so far (nil in any other run), its columns' types, and
    /// whether its columns are variables (RETURNS TABLE, OUT parameters) RETURN NEXT reads.
    var setRows: [[Value]]?
    var setColumns: [(name: String, typeText: String?)] = []
    var columnsAreVariables = false
    /// A trigger function's run: RETURN gives a row (`returnedRow`), NEW, OLD or NULL.
    var returnsRow = false
    var returnedRow: [Value]?

    public init(runner: Runner) { self.runner = runner }

    /// Whether `statement` reads the block's variables: queries and data changes do; DDL does
    /// not (as in PostgreSQL), so a CHECK, DEFAULT or view a block creates never names one.
    public static func seesVariables(_ statement: Statement) -> Bool {
        switch statement {
        case .query, .insert, .update, .delete, .merge, .withClause, .explain: return true
        default: return false
        }
    }

    /// Whether RAISE or the statements gave notices or warnings.
    var hasNotices: Bool { !notices.isEmpty || !warnings.isEmpty || droppedNotices > 0 }

    /// The DO statement's own result: no rows, the notices its statements and RAISE gave.
    public var result: QueryResult {
        var result = QueryResult(columns: [], rows: [], statementType: "do", commandTag: "DO", message: "DO")
        result.notices = notices + (droppedNotices > 0 ? ["\(droppedNotices) more notices were dropped"] : [])
        result.warnings = warnings
        return result
    }

    /// Runs a DO block.
    public mutating func runOutermost(_ block: PLBlock) async throws {
        scopes = [[:]]
        try await declare(name: "found", typeText: "boolean", value: .boolean(false))
        _ = try await runToEnd(block)
    }

    /// Runs a function's body with its arguments as variables (`$1` … as well as by name) and
    /// returns what RETURN gave, cast to `resultType` (nil for void).
    public mutating func runFunction(_ block: PLBlock, name: String, arguments: [(name: String?, typeText: String, value: Value)],
                                     resultType: String?) async throws -> Value {
        scopes = [[:]]
        self.resultType = resultType
        returnsValue = resultType != nil
        try await declareArguments(arguments)
        try await declare(name: "found", typeText: "boolean", value: .boolean(false))
        switch try await runToEnd(block) {
        case .returned(let value?): return value
        case .returned(nil) where !returnsValue: return .null
        default:
            guard !returnsValue else {
                throw RedError(.raisedException, "control reached end of function without RETURN", condition: "2F005")
            }
            return .null
        }
    }

    /// Runs a set-returning function's body and returns its rows (RETURN NEXT, RETURN QUERY).
    /// With `columnsAreVariables` the columns are variables of the body, as RETURNS TABLE's and
    /// OUT parameters are.
    public mutating func runSetFunction(_ block: PLBlock, arguments: [(name: String?, typeText: String, value: Value)],
                                        columns: [(name: String, typeText: String?)], columnsAreVariables: Bool) async throws -> [[Value]] {
        scopes = [[:]]
        setRows = []
        setColumns = columns
        self.columnsAreVariables = columnsAreVariables
        try await declareArguments(arguments)
        if columnsAreVariables {
            for column in columns { try await declare(name: column.name, typeText: column.typeText, value: .null) }
        }
        try await declare(name: "found", typeText: "boolean", value: .boolean(false))
        _ = try await runToEnd(block)
        return setRows ?? []
    }

    /// Runs the body of a function with OUT parameters and returns the values they hold at its
    /// end (or at a bare RETURN). They are variables starting NULL; an INOUT one is the argument
    /// of its name, starting with the value passed.
    public mutating func runOutFunction(_ block: PLBlock, arguments: [(name: String?, typeText: String, value: Value)],
                                        outputs: [(name: String, typeText: String?)]) async throws -> [Value] {
        scopes = [[:]]
        try await declareArguments(arguments)
        for output in outputs where slotIndex(output.name) == nil {
            try await declare(name: output.name, typeText: output.typeText, value: .null)
        }
        try await declare(name: "found", typeText: "boolean", value: .boolean(false))
        _ = try await runToEnd(block)
        return outputs.map { output in slotIndex(output.name).map { slots[$0].value } ?? .null }
    }

    /// A function's arguments, in slots 1…n, so `$k` (parameter k) is argument k.
    private mutating func declareArguments(_ arguments: [(name: String?, typeText: String, value: Value)]) async throws {
        for (k, argument) in arguments.enumerated() {
            try await declare(name: argument.name ?? "$\(k + 1)", typeText: argument.typeText, value: argument.value)
        }
    }

    /// Adds rows to a set-returning function's result.
    mutating func addRows(_ rows: [[Value]]) throws {
        guard setRows != nil else {
            throw RedError(.syntaxError, "cannot use RETURN NEXT or RETURN QUERY in a function that does not return a set (RETURNS SETOF or TABLE)")
        }
        for row in rows where row.count != setColumns.count {
            throw RedError(.datatypeMismatch, "structure of query does not match function result type",
                           detail: "Returned \(row.count) columns, the function returns \(setColumns.count).")
        }
        guard setRows!.count + rows.count <= StatementExecutor.maxResultRows else {
            throw RedError(.limitExceeded, "a function's result has more than \(StatementExecutor.maxResultRows) rows")
        }
        setRows! += rows
    }

    private mutating func runToEnd(_ block: PLBlock) async throws -> Completion {
        let completion = try await run(block)
        switch completion {
        case .normal, .returned: return completion
        case .exit(let label):
            throw RedError(.syntaxError, label.map { "there is no label \"\($0)\" attached to any block or loop enclosing this statement" }
                           ?? "EXIT cannot be used outside a loop, unless it has a label")
        case .next:
            throw RedError(.syntaxError, "CONTINUE cannot be used outside a loop")
        }
    }

    // MARK: Blocks

    mutating func run(_ block: PLBlock) async throws -> Completion {
        let mark = pushScope()
        defer { popScope(mark) }
        for declaration in block.declarations { try await declare(declaration) }
        let completion: Completion
        if block.handlers.isEmpty {
            completion = try await execute(block.body)
        } else {
            let savepoint = try runner.savepoint()
            let cursorsBefore = Set(cursors.keys)
            openSavepoints += 1
            do {
                completion = try await execute(block.body)
                openSavepoints -= 1
            } catch let error as RedError {
                openSavepoints -= 1
                // Only errors are caught: a lock wait or a declined attempt ends the statement as it would anywhere.
                guard let handler = block.handlers.first(where: { $0.conditions.contains { Self.matches($0, error) } }) else { throw error }
                note(error.notices, error.warnings)  // raised before the error, and shown even though it is handled
                try runner.rollback(to: savepoint)
                // Cursors the failed body opened go with it, as PostgreSQL drops a subtransaction's portals.
                cursors = cursors.filter { cursorsBefore.contains($0.key) }
                var handled = error
                (handled.notices, handled.warnings) = ([], [])  // reported above; `RAISE;` must not report them again
                completion = try await handle(handled, with: handler)
            } catch {
                openSavepoints -= 1
                throw error
            }
        }
        // `EXIT label` of this block ends it; anything else goes on out.
        if case .exit(let label?) = completion, label == block.label { return .normal }
        return completion
    }

    mutating func handle(_ error: RedError, with handler: PLHandler) async throws -> Completion {
        let mark = pushScope()
        handling.append(error)
        defer {
            handling.removeLast()
            popScope(mark)
        }
        try await declare(name: "sqlstate", typeText: "text", value: .text(error.sqlState))
        try await declare(name: "sqlerrm", typeText: "text", value: .text(error.message))
        return try await execute(handler.body)
    }

    static func matches(_ condition: PLCondition, _ error: RedError) -> Bool {
        switch condition {
        case .others: return error.sqlState != "57014" && error.sqlState != "P0004"
        case .sqlState(let code): return error.sqlState == code
        case .sqlStateClass(let prefix): return error.sqlState.hasPrefix(prefix)
        }
    }

    // MARK: Variables

    mutating func declare(_ declaration: PLDeclaration) async throws {
        var value = Value.null
        if let initial = declaration.initial {
            value = try await self.value(of: initial)
        }
        var typeText = declaration.typeText
        if let written = typeText {
            let compact = written.lowercased().filter { $0 != " " && $0 != "\n" && $0 != "\t" }
            if compact.hasSuffix("%rowtype") {
                // A record with the table's columns, NULL until a row is put in it.
                let table = String(written.trimmingSpaces().dropLast("%rowtype".count)).trimmingSpaces()
                let columns = try await runSQL("SELECT * FROM \(table) LIMIT 0").columns
                try await declare(name: declaration.name, typeText: nil, record: true, value: .null)
                setFields(of: slots.count - 1, columns.map { ($0.name, $0.type, Value.null) })
                return
            }
            if compact.hasSuffix("%type") {
                typeText = try await referencedType(String(written.trimmingSpaces().dropLast("%type".count)).trimmingSpaces())
            }
        }
        if let cursor = declaration.cursor {
            // Named after itself, so its portal is too, as PostgreSQL initializes a bound cursor.
            try await declare(name: declaration.name, typeText: "refcursor", value: .text(declaration.name))
            slots[slots.count - 1].cursor = cursor
            return
        }
        try await declare(name: declaration.name, typeText: typeText, record: typeText == nil, value: value,
                          constant: declaration.constant, notNull: declaration.notNull)
    }

    /// The type `what%TYPE` names: another variable's, or a table column's as declared.
    mutating func referencedType(_ what: String) async throws -> String {
        if let i = slotIndex(what.lowercased()) {
            guard let typeText = slots[i].typeText else { throw RedError(.featureNotSupported, "%TYPE of a record or an untyped variable (\(what))") }
            return typeText
        }
        guard let dot = what.lastIndex(of: ".") else { throw RedError(.undefinedObject, "variable \"\(what)\" does not exist") }
        let table = String(what[..<dot]), column = String(what[what.index(after: dot)...])
        guard let described = try await runSQL("SELECT \(column) FROM \(table) LIMIT 0").columns.first else {
            throw RedError(.undefinedColumn, "column \"\(what)\" does not exist")
        }
        if let declared = described.surfaceType { return declared }
        switch described.type {
        case .integer: return "bigint"
        case .float: return "double precision"
        case .decimal: return "numeric"
        case .json: return "jsonb"
        case .blob: return "bytea"
        default: return described.type.rawValue
        }
    }

    /// A variable of `typeText` (nil: untyped, or with `record` a record) in the innermost scope.
    /// `typed`: the value is of the type already (no cast).
    mutating func declare(name: String, typeText written: String?, record: Bool = false, value: Value, constant: Bool = false,
                          notNull: Bool = false, typed: Bool = false) async throws {
        let typeText = written?.lowercased() == "refcursor" ? "text" : written  // a cursor variable holds its portal's name
        let read = record ? nil : try RoutineVariables.read(parameter: slots.count + 1, typeText: typeText)
        var slot = Slot(name: name, read: read, typeText: typeText, constant: constant, notNull: notNull)
        if read != nil { slot.value = typed ? value : try await cast(value, to: slot, name: name) }
        scopes[scopes.count - 1][name] = slots.count
        slots.append(slot)
        layout = nil
    }

    func slotIndex(_ name: String) -> Int? {
        for scope in scopes.reversed() { if let i = scope[name] { return i } }
        return nil
    }

    /// The value as the slot's type holds it (NOT NULL checked).
    mutating func cast(_ value: Value, to slot: Slot, name: String) async throws -> Value {
        if value == .null {
            guard !slot.notNull else {
                throw RedError(.invalidArgument, "null value cannot be assigned to variable \"\(name)\" declared NOT NULL", condition: "22004")
            }
            return .null
        }
        guard let typeText = slot.typeText else { return value }
        // Values already of the type need no cast (a loop's counter, a sum): no query for them.
        // (The names are compared in place, not lowercased into a new string: this runs for
        // every assignment and every function's result.)
        func named(_ name: String) -> Bool { Self.equalIgnoringASCIICase(typeText, name) }
        switch value {
        case .boolean: if named("boolean") || named("bool") { return value }
        case .text: if named("text") { return value }
        case .float: if named("double precision") || named("float8") { return value }
        case .integer(let n):
            if named("bigint") || named("int8") { return value }
            if named("integer") || named("int") || named("int4") { if Int32(exactly: n) != nil { return value } }
            if named("smallint") || named("int2") { if Int16(exactly: n) != nil { return value } }
        default: break
        }
        let result = try await runSQL("SELECT CAST($1 AS \(typeText))", dynamicParameters: [value])
        return result.rows.first?.first ?? .null
    }

    /// `a == b.lowercased()` for a lowercase ASCII `b`, without making a string.
    static func equalIgnoringASCIICase(_ a: String, _ lowercase: String) -> Bool {
        a.utf8.count == lowercase.utf8.count
            && zip(a.utf8, lowercase.utf8).allSatisfy { (0x41...0x5A).contains($0) ? $0 | 0x20 == $1 : $0 == $1 }
    }

    mutating func assign(_ target: String, _ value: Value) async throws {
        let dot = target.firstIndex(of: ".")
        let base = dot.map { String(target[..<$0]) } ?? target
        guard let i = slotIndex(base) else { throw RedError(.syntaxError, "\"\(target)\" is not a known variable") }
        if let dot {
            let field = String(target[target.index(after: dot)...])
            guard slots[i].isRecord, slots[i].fields != nil else {
                throw RedError(.syntaxError, slots[i].isRecord ? "record \"\(base)\" is not assigned yet" : "\"\(base)\" is not a record")
            }
            guard let f = slots[i].fields?.firstIndex(where: { $0.name == field }) else {
                throw RedError(.undefinedColumn, "record \"\(base)\" has no field \"\(field)\"")
            }
            // Of the field's type, as PostgreSQL casts it (`NEW.n := '5'` holds 5). Instants are
            // left to the row's conversion, which reads them in the session's zone; a value that
            // does not convert fails there, naming its column. In place: no copy of the fields.
            let type = slots[i].fields![f].type
            let stored = type == .any || type == .timestamp || value.isNull ? value : (try? type.coerce(value)) ?? value
            slots[i].fields![f].value = stored
            slots[i].nullRecord = false
            return
        }
        guard !slots[i].constant else { throw RedError(.invalidArgument, "variable \"\(target)\" is declared CONSTANT", condition: "22005") }
        guard !slots[i].isRecord else { throw RedError(.featureNotSupported, "assigning a value to record \"\(target)\" is not supported yet; SELECT … INTO it") }
        slots[i].value = try await cast(value, to: slots[i], name: target)
    }

    /// Puts a result row into INTO's targets: one record, or scalars in column order.
    mutating func store(_ row: [Value]?, columns: [ResultColumn], into targets: [String]) async throws {
        if targets.count == 1, let i = slotIndex(targets[0]), slots[i].isRecord {
            setFields(of: i, columns.enumerated().map { k, column in (column.name, column.type, row?[k] ?? .null) })
            return
        }
        for (k, target) in targets.enumerated() {
            try await assign(target, k < columns.count ? (row?[k] ?? .null) : .null)
        }
    }

    mutating func setFound(_ found: Bool) {
        if let i = slotIndex("found") { slots[i].value = .boolean(found) }
    }

    // MARK: Running SQL

    /// Runs one SQL statement in the block's transaction; with `dynamicParameters` (EXECUTE)
    /// it sees those parameters and none of the block's variables.
    mutating func runSQL(_ sql: String, dynamicParameters: [Value]? = nil) async throws -> QueryResult {
        if dynamicParameters == nil, let plans, !runner.canEndTransaction {
            // A function's statement: parsed and planned once for the calls with these variables.
            let (layout, values) = visibleVariables()
            let site = try plans.site(sql, expression: false, layout: layout.id) { try parseOne(sql) }
            // Queries (expressions are queries) keep their plans between calls, an INSERT its VALUES.
            var memo: PlanMemo?
            switch site.statement {
            case .query, .insert: memo = site.memo
            default: break
            }
            let result = try await runner.run(site.statement, parameters: values, variables: layout.variables, plans: memo)
            note(result.notices, result.warnings)
            return result
        }
        let statement = try parseOne(sql)
        switch statement {
        case .commit, .rollback:
            // PostgreSQL's transaction control in a DO run outside a transaction block.
            guard runner.canEndTransaction, openSavepoints == 0, dynamicParameters == nil else {
                throw RedError(.activeSQLTransaction, "invalid transaction termination", condition: "2D000")
            }
            return try await runner.endTransaction(commit: statement == .commit)
        case .begin, .savepoint, .releaseSavepoint, .rollbackToSavepoint:
            throw RedError(.featureNotSupported, "BEGIN and savepoints are not supported in a DO block; use a block with an EXCEPTION clause")
        default: break
        }
        let result: QueryResult
        if let dynamicParameters {
            result = try await runner.run(statement, parameters: dynamicParameters, variables: nil, plans: nil)
        } else {
            let (layout, values) = visibleVariables()
            result = try await runner.run(statement, parameters: values, variables: layout.variables, plans: nil)
        }
        note(result.notices, result.warnings)
        return result
    }

    /// The one statement `sql` holds. Transaction control is left to `runSQL`, which allows
    /// COMMIT and ROLLBACK where the runner can end the transaction, and refuses them elsewhere.
    mutating func parseOne(_ sql: String) throws -> Statement {
        let statements = try runner.parse(sql)
        guard statements.count == 1 else {
            throw RedError(.syntaxError, statements.isEmpty ? "the statement is empty" : "a statement of a DO block must be one SQL statement")
        }
        switch statements[0].0 {
        case .commit where !runner.canEndTransaction, .rollback where !runner.canEndTransaction:
            throw RedError(.activeSQLTransaction, "invalid transaction termination", condition: "2D000")
        case .begin, .savepoint, .releaseSavepoint, .rollbackToSavepoint:
            throw RedError(.featureNotSupported, "BEGIN and savepoints are not supported in a DO block; use a block with an EXCEPTION clause")
        default: return statements[0].0
        }
    }

    mutating func note(_ newNotices: [String], _ newWarnings: [String] = []) {
        for notice in newNotices {
            if notices.count < Self.maxNotices { notices.append(NoticeSink.bounded(notice)) } else { droppedNotices += 1 }
        }
        for warning in newWarnings {
            if warnings.count < Self.maxNotices { warnings.append(NoticeSink.bounded(warning)) } else { droppedNotices += 1 }
        }
    }

    /// `SELECT expression`: exactly one column, at most one row (none is NULL).
    ///
    /// In a function, an expression kept as a plain expression (`RoutinePlans`, `evaluate`) is
    /// evaluated without running a query.
    mutating func value(of expression: String) async throws -> Value {
        if let literal = Self.literalValue(expression) { return literal }
        let result: QueryResult
        if let plans, !runner.canEndTransaction {
            let (layout, values) = visibleVariables()
            let site = try plans.site(expression, expression: true, layout: layout.id) { try parseOne("SELECT " + expression) }
            if let value = try runner.evaluate(site.statement, parameters: values, variables: layout.variables, plans: site.memo) { return value }
            result = try await runner.run(site.statement, parameters: values, variables: layout.variables, plans: site.memo)
            note(result.notices, result.warnings)
        } else {
            result = try await runSQL("SELECT " + expression)
        }
        guard result.columns.count == 1 else {
            throw RedError(.syntaxError, "query \"SELECT \(expression)\" returned \(result.columns.count) columns")
        }
        guard result.rows.count <= 1 else { throw RedError(.cardinalityViolation, "query \"SELECT \(expression)\" returned more than one row") }
        return result.rows.first?.first ?? .null
    }

    /// The longest integer constant: a sign and Int64's 19 digits.
    private static var maxIntegerDigits: Int { 20 }

    /// A constant written as itself — a quoted string with no quote or backslash inside, an
    /// integer, NULL, TRUE or FALSE — is its value without a query (`NEW.state := 'done'`,
    /// `n := 0`): what `SELECT` of it gives, a statement's plan and run saved. Looked at byte by
    /// byte, without copying: it runs before every expression.
    static func literalValue(_ expression: String) -> Value? {
        let bytes = expression.utf8
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
        var start = bytes.startIndex, end = bytes.endIndex
        while start < end, isSpace(bytes[start]) { start = bytes.index(after: start) }
        while start < end, isSpace(bytes[bytes.index(before: end)]) { end = bytes.index(before: end) }
        let text = bytes[start..<end]
        guard let first = text.first else { return nil }
        let quote = UInt8(ascii: "'")
        if first == quote {
            guard text.count >= 2, text.last == quote else { return nil }
            let inner = text.dropFirst().dropLast()
            guard !inner.contains(quote), !inner.contains(UInt8(ascii: "\\")) else { return nil }
            return .text(String(Substring(inner)))
        }
        if text.count == 4 || text.count == 5, (UInt8(ascii: "A")...UInt8(ascii: "z")).contains(first) {
            switch String(Substring(text)).lowercased() {
            case "null": return .null
            case "true": return .boolean(true)
            case "false": return .boolean(false)
            default: return nil
            }
        }
        guard first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first), text.count <= maxIntegerDigits,
              let n = Int64(String(Substring(text))) else { return nil }
        return .integer(n)
    }

    /// A condition: true only when the expression is true (NULL is false).
    mutating func isTrue(_ condition: String) async throws -> Bool {
        switch try await value(of: condition) {
        case .boolean(let b): return b
        case .null: return false
        case let other:
            throw RedError(.datatypeMismatch, "the condition \(condition) is \(other.displayText), not a boolean")
        }
    }

    mutating func integer(_ expression: String) async throws -> Int64 {
        switch try await value(of: "CAST((\(expression)) AS bigint)") {
        case .integer(let n): return n
        default: throw RedError(.invalidArgument, "lower and upper bounds of FOR loop cannot be null", condition: "22004")
        }
    }

    mutating func checkCancelled() async throws {
        passes += 1
        try runner.checkCancelled()
        if passes & 1023 == 0, runner.mayYield {
            await Task.yield()  // a long loop shares the thread
            try Task.checkCancellation()
        }
    }
}
