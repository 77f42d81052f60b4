import RedCore

/// One statement whose expression literals were turned into parameter slots (RedWire
/// Prepare and gRPC PrepareQuery, spec protocols §1.6.8): `SELECT * FROM t WHERE id = 7`
/// prepares as `… WHERE id = $1` with one slot, and each execution binds its own value.
///
/// Which literals become slots: every number, string, TRUE, FALSE and NULL written as an
/// expression operand, in the order they appear, in SELECT, INSERT, UPDATE and DELETE
/// (a leading minus folds into its number: `-5` is one slot holding -5). These stay as
/// written, because they are part of the statement's shape rather than values:
/// - ORDER BY and GROUP BY items (`ORDER BY 2` names an output column);
/// - typed literals (`DATE '2024-01-01'`, `INTERVAL '1 day'`), JSON object literals,
///   `WITH TTL` durations and type modifiers;
/// - every literal of any other statement (DDL, KV commands, SHOW …): those prepare with
///   no slots and run as written.
///
/// `$n` placeholders are refused in a statement prepared this way, so slot numbers are
/// unambiguous.
public struct AutoParameterizedStatement: Sendable {
    public let statement: Statement
    /// The statement's text as the client wrote it.
    public let source: String
    /// The literals in slot order (slot k is `literals[k - 1]`), as written.
    public let literals: [Value]
    /// How many values each execution binds.
    public var parameterCount: Int { literals.count }
    /// Its plan, kept between executions (see `PlanMemo`).
    public let plans = PlanMemo()
}

extension Parser {
    /// Parses exactly one statement and turns its expression literals into slots.
    ///
    /// ```swift
    /// let p = try Parser.parseAutoParameterized("SELECT name FROM users WHERE id = 7")
    /// // p.parameterCount == 1, p.literals == [.integer(7)]
    /// ```
    public static func parseAutoParameterized(_ text: String, limits: ParserLimits = ParserLimits()) throws -> AutoParameterizedStatement {
        var parser = try Parser(text, limits: limits)
        parser.autoParameterize = true
        let (statement, source) = try parser.parseOnlyStatement()
        switch statement {
        case .query, .insert, .update, .delete:
            return AutoParameterizedStatement(statement: statement, source: source, literals: parser.autoLiterals)
        default:
            var plain = try Parser(text, limits: limits)
            let (statement, source) = try plain.parseOnlyStatement()
            return AutoParameterizedStatement(statement: statement, source: source, literals: [])
        }
    }

    /// The text's single statement (surrounding `;` allowed); a second one is an error.
    mutating func parseOnlyStatement() throws -> (Statement, String) {
        while acceptSymbol(";") {}
        guard current.kind != .end else { throw RedError(.syntaxError, "there is no statement to prepare") }
        let start = current.offset
        let statement = try parseStatement()
        let end = current.offset
        while acceptSymbol(";") {}
        guard current.kind == .end else {
            throw error("a prepared statement holds a single statement; found more after it")
        }
        let source = String(decoding: bytes[start..<min(end, bytes.count)], as: UTF8.self)
        return (statement, source.trimmingSpaces())
    }

    /// A literal operand: itself, or the next parameter slot when auto-parameterising.
    mutating func literalOperand(_ value: Value) -> Expr {
        guard autoParameterize else { return .literal(value) }
        autoLiterals.append(value)
        parameterCount = autoLiterals.count
        return .parameter(autoLiterals.count)
    }

    /// `-` applied to the slot just made from a number: the slot holds the negative number,
    /// so `-5` is one value as it is without auto-parameterisation.
    mutating func foldNegation(into operand: Expr) -> Expr? {
        guard autoParameterize, case .parameter(let slot) = operand, slot == autoLiterals.count, slot > 0 else { return nil }
        switch autoLiterals[slot - 1] {
        case .integer(let i) where i != .min: autoLiterals[slot - 1] = .integer(-i)
        case .float(let d): autoLiterals[slot - 1] = .float(-d)
        case .decimal(let d):
            // `-9223372036854775808` is a bigint, as without auto-parameterisation (`ParserExpressions`).
            if d.scale == 0, let i = d.negated().smallMantissa { autoLiterals[slot - 1] = .integer(i) } else { autoLiterals[slot - 1] = .decimal(d.negated()) }
        default: return nil
        }
        return operand
    }

    /// Parses with literals kept as written (ORDER BY / GROUP BY items).
    mutating func keepingLiterals<T>(_ body: (inout Parser) throws -> T) rethrows -> T {
        let saved = autoParameterize
        autoParameterize = false
        defer { autoParameterize = saved }
        return try body(&self)
    }
}
