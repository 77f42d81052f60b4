import RedCore
import RedQuery

/// SQL cursors: `DECLARE name [ASENSITIVE | INSENSITIVE] [[NO] SCROLL] CURSOR [{WITH | WITHOUT}
/// HOLD] FOR query`, `FETCH`/`MOVE [direction] [FROM | IN] name` and `CLOSE name | ALL`.
///
/// Drivers' server-side cursors are these statements: psycopg2's named cursors, psycopg 3's
/// `ServerCursor` (which also Describes the cursor as a portal), Django's `.iterator()`.
///
/// The query runs when DECLARE does and its rows are kept (PostgreSQL's cursors read the
/// snapshot DECLARE took; the rows are that snapshot). That is what a WITH HOLD cursor
/// is anyway; a result too large to keep fails DECLARE with the engine's own result limits.
///
/// Lifetime, as in PostgreSQL: a cursor without HOLD can only be declared inside a transaction
/// block and closes when the block ends; one WITH HOLD outlives a block that commits, and
/// closes with one that rolls back. Backward motion is refused only for a NO SCROLL cursor
/// (PostgreSQL allows it without SCROLL for the plans that can scan back, as kept rows can).
struct PGSQLCursorDeclaration: Equatable, Sendable {
    var name: String
    /// True for SCROLL, false for NO SCROLL, nil when neither is said.
    var scroll: Bool?
    var hold: Bool
    var query: String

    /// Parses DECLARE; nil for another statement.
    static func parse(_ sql: String) throws -> PGSQLCursorDeclaration? {
        var scanner = PGSQLScanner(sql)
        guard scanner.keyword() == "declare" else { return nil }
        let name = try scanner.name("a cursor name after DECLARE")
        var scroll: Bool?
        options: while true {
            switch scanner.keyword() {
            case "asensitive", "insensitive": continue
            case "binary": throw RedError(.featureNotSupported, "BINARY cursors are not supported: fetch through the extended protocol with binary result formats")
            case "scroll": scroll = true
            case "no":
                guard scanner.keyword() == "scroll" else { throw RedError(.syntaxError, "syntax error in DECLARE: SCROLL expected after NO") }
                scroll = false
            case "cursor": break options
            default: throw RedError(.syntaxError, "syntax error in DECLARE: CURSOR expected after the cursor's name")
            }
        }
        var hold = false
        var next = scanner.keyword()
        if next == "with" || next == "without" {
            guard scanner.keyword() == "hold" else { throw RedError(.syntaxError, "syntax error in DECLARE: HOLD expected after \(next.uppercased())") }
            hold = next == "with"
            next = scanner.keyword()
        }
        guard next == "for" else { throw RedError(.syntaxError, "syntax error in DECLARE: FOR expected before the query") }
        var query = scanner.rest.trimmingSpaces()
        while query.hasSuffix(";") { query = String(query.dropLast()).trimmingSpaces() }
        guard ["select", "values", "with", "table"].contains(PGWireCommand.leadingKeyword(query)) || query.hasPrefix("(") else {
            throw RedError(.syntaxError, "syntax error in DECLARE: a cursor's statement must be a SELECT or VALUES query")
        }
        return PGSQLCursorDeclaration(name: name, scroll: scroll, hold: hold, query: query)
    }
}

/// Where FETCH and MOVE go, PostgreSQL's directions reduced to four.
enum PGCursorDirection: Equatable, Sendable {
    /// The next `count` rows (nil: all the rest). NEXT is `forward(1)`.
    case forward(Int?)
    /// The previous `count` rows, nearest first (nil: all of them). PRIOR is `backward(1)`.
    case backward(Int?)
    /// The row at `n` (1 = first, -1 = last, 0 = before the first). FIRST and LAST are these.
    case absolute(Int)
    /// The row `n` away from the current one (0: the current row again).
    case relative(Int)
}

/// A FETCH or MOVE statement.
struct PGSQLCursorMotion: Equatable, Sendable {
    var direction: PGCursorDirection
    var name: String
    /// MOVE: the cursor moves as FETCH would move it, and no row is returned.
    var move: Bool

    /// Parses `FETCH`/`MOVE [direction] [FROM | IN] name`; nil for another statement.
    static func parse(_ sql: String) throws -> PGSQLCursorMotion? {
        var scanner = PGSQLScanner(sql)
        let verb = scanner.keyword()
        guard verb == "fetch" || verb == "move" else { return nil }
        var direction = PGCursorDirection.forward(1)
        func count(after word: String) throws -> Int {
            guard let n = scanner.signedInteger() else { throw RedError(.syntaxError, "syntax error in \(verb.uppercased()): a count expected after \(word.uppercased())") }
            return n
        }
        if let n = scanner.signedInteger() {
            direction = n >= 0 ? (n == 0 ? .relative(0) : .forward(n)) : .backward(-n)
        } else {
            switch scanner.peekKeyword() {
            case "next": _ = scanner.keyword()
            case "prior": _ = scanner.keyword(); direction = .backward(1)
            case "first": _ = scanner.keyword(); direction = .absolute(1)
            case "last": _ = scanner.keyword(); direction = .absolute(-1)
            case "all": _ = scanner.keyword(); direction = .forward(nil)
            case "absolute": _ = scanner.keyword(); direction = .absolute(try count(after: "absolute"))
            case "relative": _ = scanner.keyword(); direction = .relative(try count(after: "relative"))
            case "forward", "backward":
                let word = scanner.keyword()
                let forward = word == "forward"
                if scanner.peekKeyword() == "all" {
                    _ = scanner.keyword()
                    direction = forward ? .forward(nil) : .backward(nil)
                } else if let n = scanner.signedInteger() {
                    let ahead = forward ? n : -n
                    direction = ahead == 0 ? .relative(0) : (ahead > 0 ? .forward(ahead) : .backward(-ahead))
                } else {
                    direction = forward ? .forward(1) : .backward(1)
                }
            default: break
            }
        }
        if ["from", "in"].contains(scanner.peekKeyword()) { _ = scanner.keyword() }
        let name = try scanner.name("a cursor name in \(verb.uppercased())")
        guard scanner.atEnd else {
            throw RedError(.syntaxError, "syntax error at end of \(verb.uppercased())")
        }
        return PGSQLCursorMotion(direction: direction, name: name, move: verb == "move")
    }
}

/// One open cursor: its rows, and where it stands among them (0: before the first row,
/// 1…n: on that row, n + 1: after the last).
struct PGSQLCursor {
    var columns: [ResultColumn]
    var rows: [[Value]]
    var position = 0
    var scroll: Bool?
    var hold: Bool
    /// The block it was declared in (`Session.startedBlocks`), nil once it outlives it (WITH HOLD).
    var block: UInt64?
    /// The session's `savepointsMade` when declared: a ROLLBACK TO a savepoint made up to then
    /// closes it.
    var savepointsMadeWhenDeclared: UInt64 = 0
    /// `Session.committedBlocks` when it was declared: more once its block has committed.
    var commitsWhenDeclared: UInt64

    /// Moves as `direction` says and returns the rows passed over, in the order met.
    mutating func fetch(_ direction: PGCursorDirection, name: String) throws -> ArraySlice<[Value]> {
        let n = rows.count
        switch direction {
        case .forward(let count):
            let last = count.map { position.addingReportingOverflow($0).overflow ? n : min(position + $0, n) } ?? n
            let passed = position < last ? rows[position..<last] : []
            position = count.map { position.addingReportingOverflow($0).overflow ? n + 1 : min(position + $0, n + 1) } ?? n + 1
            return passed
        case .backward(let count):
            try checkBackward(name)
            let first = count.map { max(position - 1 - $0, 0) } ?? 0  // 0-based start of the rows passed
            let end = min(position - 1, n)  // the rows before the current one, 0-based end
            let passed = first < end ? ArraySlice(rows[first..<end].reversed()) : []
            position = count.map { max(position - $0, 0) } ?? 0
            return passed
        case .absolute(let index):
            let target = index > 0 ? min(index, n + 1) : (index == 0 ? 0 : max(n + 1 + index, 0))
            return try land(on: target, name: name)
        case .relative(let offset):
            let (sum, overflow) = position.addingReportingOverflow(offset)
            return try land(on: overflow ? (offset > 0 ? n + 1 : 0) : min(max(sum, 0), n + 1), name: name)
        }
    }

    /// ABSOLUTE and RELATIVE: the cursor stands at `target`, and returns that row if there is one.
    private mutating func land(on target: Int, name: String) throws -> ArraySlice<[Value]> {
        if target < position || (target == position && target >= 1 && target <= rows.count) { try checkBackward(name) }
        position = target
        return target >= 1 && target <= rows.count ? rows[(target - 1)..<target] : []
    }

    private func checkBackward(_ name: String) throws {
        guard scroll != false else {
            throw RedError(.objectNotInPrerequisiteState, "cursor can only scan forward",
                           detail: "Declare cursor \"\(name)\" with the SCROLL option to enable backward scan.")
        }
    }
}

/// A connection's open cursors, closed as their blocks end.
struct PGSQLCursors {
    private(set) var open: [String: PGSQLCursor] = [:]
    /// The session's ROLLBACK TO count last seen (`savepointRolledBack`).
    private var rollbacksSeen: UInt64 = 0

    subscript(name: String) -> PGSQLCursor? {
        get { open[name] }
        set { open[name] = newValue }
    }

    mutating func removeAll() { open.removeAll() }

    /// After a ROLLBACK TO (`rollbacks` changed since last seen), closes the cursors of the
    /// block `startedBlocks` declared after savepoint number `savepoint` was made, as
    /// PostgreSQL does: their query saw writes the rollback undid, and their names are free.
    mutating func savepointRolledBack(rollbacks: UInt64, savepoint: UInt64, startedBlocks: UInt64) {
        guard rollbacks != rollbacksSeen else { return }
        rollbacksSeen = rollbacks
        for (name, cursor) in open where cursor.block == startedBlocks && cursor.savepointsMadeWhenDeclared >= savepoint {
            open[name] = nil
        }
    }

    /// Closes those whose block has ended, keeping a WITH HOLD cursor whose block committed.
    /// Runs after every statement, before the next block can begin.
    mutating func blockMayHaveEnded(inBlock: Bool, startedBlocks: UInt64, committedBlocks: UInt64) {
        guard !open.isEmpty else { return }
        for (name, cursor) in open {
            guard let block = cursor.block, !(inBlock && block == startedBlocks) else { continue }
            if cursor.hold, committedBlocks != cursor.commitsWhenDeclared {
                open[name]?.block = nil
            } else {
                open[name] = nil
            }
        }
    }
}

extension PGConnection {
    /// DECLARE: runs the query (with the extended protocol's parameters) and keeps its rows.
    func declareCursor(_ declaration: PGSQLCursorDeclaration, parameters: [Value], preview: Bool) async throws -> QueryResult {
        try refuseInFailedBlock()
        let declared = QueryResult(columns: [], rows: [], statementType: "declare", commandTag: "DECLARE CURSOR")
        guard !preview else { return declared }
        guard session.inTransaction || declaration.hold else {
            throw RedError(.transactionClosed, "DECLARE CURSOR can only be used in transaction blocks")
        }
        guard cursors[declaration.name] == nil else {
            throw RedError(.duplicateObject, "cursor \"\(declaration.name)\" already exists", condition: "42P03")
        }
        guard cursors.open.count < PGLimits.maxPreparedStatements else {
            throw RedError(.limitExceeded, "too many open cursors on this connection (limit \(PGLimits.maxPreparedStatements)); close some")
        }
        let result = try await execute(declaration.query, parameters: parameters)
        // Kept rows are bounded per connection, as one result is.
        let kept = cursors.open.values.reduce(result.rows.count) { $0 + $1.rows.count }
        guard kept <= StatementExecutor.maxResultRows else {
            throw RedError(.limitExceeded, "this connection's cursors would hold more than \(StatementExecutor.maxResultRows) rows; close some")
        }
        cursors[declaration.name] = PGSQLCursor(columns: result.columns, rows: result.rows, scroll: declaration.scroll, hold: declaration.hold,
                                                block: session.inTransaction ? session.startedBlocks : nil,
                                                savepointsMadeWhenDeclared: session.savepointsMade,
                                                commitsWhenDeclared: session.committedBlocks)
        return declared
    }

    /// FETCH (the rows passed over, described by the cursor's columns) or MOVE (their count).
    func fetchCursor(_ motion: PGSQLCursorMotion, preview: Bool) throws -> QueryResult {
        try refuseInFailedBlock()
        guard var cursor = cursors[motion.name] else {
            throw RedError(.undefinedCursor, "cursor \"\(motion.name)\" does not exist")
        }
        if preview {
            return motion.move ? QueryResult(columns: [], rows: [], statementType: "move", commandTag: "MOVE 0")
                : QueryResult(columns: cursor.columns, rows: [], statementType: "select", commandTag: "FETCH 0")
        }
        let passed = try cursor.fetch(motion.direction, name: motion.name)
        cursors[motion.name] = cursor
        if motion.move { return QueryResult(columns: [], rows: [], statementType: "move", commandTag: "MOVE \(passed.count)") }
        return QueryResult(columns: cursor.columns, rows: Array(passed), statementType: "select", commandTag: "FETCH \(passed.count)")
    }

    /// CLOSE name, or CLOSE ALL.
    func closeCursor(_ name: String?, preview: Bool) throws -> QueryResult {
        try refuseInFailedBlock()
        guard !preview else { return QueryResult(columns: [], rows: [], statementType: "close", commandTag: name == nil ? "CLOSE CURSOR ALL" : "CLOSE CURSOR") }
        guard let name else {
            cursors.removeAll()
            return QueryResult(columns: [], rows: [], statementType: "close", commandTag: "CLOSE CURSOR ALL")
        }
        guard cursors[name] != nil else { throw RedError(.undefinedCursor, "cursor \"\(name)\" does not exist") }
        cursors[name] = nil
        return QueryResult(columns: [], rows: [], statementType: "close", commandTag: "CLOSE CURSOR")
    }

    /// After every statement: cursors of a block that has ended close (or are held).
    func closeCursorsOfEndedBlocks() {
        let rollback = session.lastRollbackToSavepoint
        cursors.savepointRolledBack(rollbacks: rollback.count, savepoint: rollback.savepoint, startedBlocks: session.startedBlocks)
        cursors.blockMayHaveEnded(inBlock: session.inTransaction, startedBlocks: session.startedBlocks, committedBlocks: session.committedBlocks)
    }

    private func refuseInFailedBlock() throws {
        guard !session.transactionFailed else {
            throw RedError(.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
        }
    }
}
