/// PL/pgSQL as a `DO` block carries it: the parsed body the session runs (`Session.runDoBlock`).
///
/// Control flow is parsed here; the SQL inside — expressions, conditions, queries and the
/// statements a block runs — is kept as text, as PostgreSQL keeps it, and goes to the SQL
/// parser when it runs: an expression `e` becomes `SELECT (e)`, and a name in it that no
/// table in the statement has is the block's variable of that name (`RoutineVariables`).
public struct PLBlock: Sendable, Equatable {
    /// `<<label>>` before the block: what `EXIT label` names.
    public var label: String?
    public var declarations: [PLDeclaration]
    public var body: [PLStatement]
    /// `EXCEPTION WHEN … THEN …`: with any, the block's body runs under a savepoint.
    public var handlers: [PLHandler]
}

/// `name [CONSTANT] type [NOT NULL] [{DEFAULT | := | =} expression];`
public struct PLDeclaration: Sendable, Equatable {
    public var name: String
    /// The SQL type as written; nil for `record` (its fields are the row last put in it).
    public var typeText: String?
    public var constant: Bool
    public var notNull: Bool
    /// The initial value's expression; nil: NULL.
    public var initial: String?
    /// `name [[NO] SCROLL] CURSOR [(parameters)] FOR query`: a bound cursor (a `refcursor`).
    public var cursor: PLCursorDeclaration? = nil
}

/// A bound cursor's query, with the parameters OPEN passes it (variables of the query).
public struct PLCursorDeclaration: Sendable, Equatable {
    public var parameters: [PLCursorParameter]
    public var query: String
    /// `SCROLL` true, `NO SCROLL` false, neither nil (then it may move backward too).
    public var scroll: Bool?
}

public struct PLCursorParameter: Sendable, Equatable {
    public var name: String
    public var typeText: String
}

/// What `OPEN` opens the cursor on.
public enum PLCursorSource: Sendable, Equatable {
    /// A bound cursor, with its parameters' values (expressions, in order).
    case bound(arguments: [String])
    /// `OPEN c [[NO] SCROLL] FOR query | FOR EXECUTE text [USING …]` of a `refcursor` variable.
    case query(PLQuerySource, scroll: Bool?)
}

/// FETCH's and MOVE's directions, as PostgreSQL's cursor positions count them.
public enum PLFetchDirection: Sendable, Equatable {
    case next, prior, first, last
    case absolute(String), relative(String)
    /// FORWARD / BACKWARD n (n rows; MOVE only for n > 1), or ALL with nil (MOVE only).
    case forward(String?), backward(String?)
}

public struct PLHandler: Sendable, Equatable {
    public var conditions: [PLCondition]
    public var body: [PLStatement]
}

/// What an exception handler catches, or what `RAISE` raises.
public enum PLCondition: Sendable, Equatable {
    /// `OTHERS`: every error but a cancel and a failed ASSERT, as in PostgreSQL.
    case others
    /// A five-character SQLSTATE (`SQLSTATE '23505'`, or a condition name such as `unique_violation`).
    case sqlState(String)
    /// A class of conditions by name (`integrity_constraint_violation`: every `23…`).
    case sqlStateClass(String)
}

public struct PLBranch: Sendable, Equatable {
    public var condition: String
    public var body: [PLStatement]
}

/// `INTO [STRICT] target, …` of a statement returning rows.
public struct PLInto: Sendable, Equatable {
    /// Variable names, `record.field` for a record's field.
    public var targets: [String]
    public var strict: Bool
}

public enum PLLoopKind: Sendable, Equatable {
    /// `LOOP … END LOOP`.
    case plain
    /// `WHILE condition LOOP`.
    case whileTrue(String)
    /// `FOR name IN [REVERSE] low .. high [BY step] LOOP`: `name` is an integer of the loop's own.
    case range(variable: String, reverse: Bool, low: String, high: String, step: String?)
    /// `FOR target IN query LOOP` / `FOR target IN EXECUTE text [USING …] LOOP`: one record,
    /// or scalar variables taking the row's columns in order (`FOR a, b IN SELECT …`).
    case query(targets: [String], PLQuerySource)
    /// `FOREACH name [SLICE n] IN ARRAY expression LOOP`: the elements, or with a slice > 0
    /// the sub-arrays of that many dimensions.
    case array(variable: String, slice: Int, String)
}

public enum PLQuerySource: Sendable, Equatable {
    case sql(String)
    case execute(String, using: [String])
}

/// `RAISE [level] …`.
public struct PLRaise: Sendable, Equatable {
    /// `debug`, `log`, `info`, `notice`, `warning` or `exception`.
    public var level: String
    /// `'format'` with `%` placeholders, nil when the condition or `USING MESSAGE` says it.
    public var format: String?
    public var arguments: [String]
    public var condition: PLCondition?
    /// `USING name = expression, …`: MESSAGE, DETAIL, HINT, ERRCODE.
    public var options: [PLRaiseOption]
    /// `RAISE;` inside a handler: the error being handled, again.
    public var reraise = false
}

public struct PLRaiseOption: Sendable, Equatable {
    public var name: String
    public var expression: String
}

public struct PLDiagnostic: Sendable, Equatable {
    public var target: String
    /// `row_count`, or in a handler `returned_sqlstate`, `message_text`, `pg_exception_detail`.
    public var item: String
}

public indirect enum PLStatement: Sendable, Equatable {
    case block(PLBlock)
    case assign(target: String, expression: String)
    /// `name[i] := expression` / `name[i][j] := …`: one element of an array variable.
    case assignElement(target: String, subscripts: [String], expression: String)
    case ifThen([PLBranch], otherwise: [PLStatement]?)
    /// `CASE [operand] WHEN values | condition THEN … [ELSE …] END CASE`; `operand` nil: searched.
    case caseWhen(operand: String?, [PLBranch], otherwise: [PLStatement]?)
    case loop(label: String?, PLLoopKind, body: [PLStatement])
    /// `EXIT [label] [WHEN condition]`, or with `continues` `CONTINUE …`.
    case exit(label: String?, when: String?, continues: Bool)
    case returnStatement(String?)
    /// `RETURN NEXT [expression]` in a set-returning function: one more row (nil: the OUT variables').
    case returnNext(String?)
    /// `RETURN QUERY query` / `RETURN QUERY EXECUTE text [USING …]`: the query's rows, added.
    case returnQuery(PLQuerySource)
    case raise(PLRaise)
    /// `PERFORM query`: the query (as `SELECT …`) run for its effects.
    case perform(String)
    /// Any other SQL statement, with its `INTO` taken out.
    case sql(String, into: PLInto?)
    /// `EXECUTE text [INTO …] [USING expression, …]`.
    case execute(String, into: PLInto?, using: [String])
    /// `GET [CURRENT] DIAGNOSTICS` (ROW_COUNT), or in a handler `GET STACKED DIAGNOSTICS`.
    case getDiagnostics([PLDiagnostic], stacked: Bool)
    case assert(String, message: String?)
    /// `OPEN cursor …`.
    case open(cursor: String, PLCursorSource)
    /// `FETCH [direction FROM] cursor INTO targets`, or with no targets `MOVE [direction FROM] cursor`.
    case fetch(cursor: String, PLFetchDirection, into: PLInto?)
    case close(cursor: String)
    case null
}

extension PLBlock {
    /// Every statement of the block, nested ones included, in order.
    public var allStatements: [PLStatement] {
        var found: [PLStatement] = []
        func visit(_ statements: [PLStatement]) {
            for statement in statements {
                found.append(statement)
                switch statement {
                case .block(let block): visit(block.body); block.handlers.forEach { visit($0.body) }
                case .ifThen(let branches, let otherwise), .caseWhen(_, let branches, let otherwise):
                    branches.forEach { visit($0.body) }
                    visit(otherwise ?? [])
                case .loop(_, _, let body): visit(body)
                default: break
                }
            }
        }
        visit(body)
        handlers.forEach { visit($0.body) }
        return found
    }
}
