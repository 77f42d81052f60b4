import RedCore
import Synchronization

/// The variables of the PL/pgSQL block a statement runs in, as its SQL sees them.
///
/// A name in the statement that none of its tables has — `v_total`, or `r.id` for a field of
/// a record variable — is the variable of that name: the binder reads it as the parameter
/// that carries the variable's value, cast to the variable's type (`CAST($n AS type)`), so
/// a plan never depends on the value itself. Columns come first, as PostgreSQL's
/// `plpgsql.variable_conflict = use_column` has it (PostgreSQL's default refuses the
/// ambiguity instead). Inside a SQL function's body (behind its name barrier) the block's
/// variables are not visible, as its caller's columns are not.
public struct RoutineVariables: Sendable {
    public struct Variable: Sendable {
        /// How the variable is read: `CAST($n AS type)`, or `$n` for a value of no declared type.
        public var read: Expr
        public init(read: Expr) { self.read = read }
    }

    public var byName: [String: Variable]
    /// Record variables' field names, in order (`r.*` lists them).
    public var records: [String: [String]]
    public init(_ byName: [String: Variable] = [:], records: [String: [String]] = [:]) {
        self.byName = byName
        self.records = records
    }

    /// The read of a variable declared of `typeText` and carried by parameter `n`. Each read is
    /// parsed once (a trigger declares a dozen variables for every row it fires on).
    public static func read(parameter n: Int, typeText: String?) throws -> Expr {
        guard let typeText else { return .parameter(n) }
        let key = CastKey(typeText: typeText, parameter: n)
        if let kept = casts.withLock({ $0[key] }) { return kept }
        var parser = try Parser("CAST($\(n) AS \(typeText))")
        let read = try parser.parseExpression()
        guard case .end = parser.current.kind else { throw RedError(.syntaxError, "type \"\(typeText)\" is not a type name") }
        casts.withLock { kept in
            if kept.count >= maxCasts { kept.removeAll(keepingCapacity: true) }
            kept[key] = read
        }
        return read
    }

    private struct CastKey: Hashable {
        var typeText: String
        var parameter: Int
    }

    private static let maxCasts = 4_096

    /// `CAST($n AS type)` parsed, by the type's text and n.
    private static let casts = Mutex<[CastKey: Expr]>([:])
}

extension Planner {
    /// How `path` reads a variable of the running PL/pgSQL block, when it names one and no
    /// name barrier stands between `scope` and the statement's outermost scope.
    func routineVariable(_ path: [String], _ scope: Scope) -> Expr? {
        guard let variables = context.routineVariables, let variable = variables.byName[path.joined(separator: ".")] else { return nil }
        var current: Scope? = scope
        while let s = current {
            if s.barrier { return nil }
            current = s.parent
        }
        return variable.read
    }

    /// The fields of the running block's record `name` (`OLD.*` in a select list or VALUES), as
    /// column references; nil when no such record is visible from `scope`.
    func routineRecordFields(_ name: String, _ scope: Scope) -> [Expr]? {
        guard let fields = context.routineVariables?.records[name], routineVariable([name], scope) != nil else { return nil }
        return fields.map { .column([name, $0]) }
    }

    func isRoutineVariable(_ path: [String], _ scope: Scope) -> Bool {
        (try? resolve(path, scope)) == nil && routineVariable(path, scope) != nil
    }
}
