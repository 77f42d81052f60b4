import RedCore

/// `pg_typeof(x)`: the PostgreSQL type name of an expression, as PostgreSQL's `regtype` prints
/// it (`integer`, `timestamp with time zone`, `character varying`, `text[]`).
///
/// PostgreSQL answers from the expression's type, not its value, so this does too: the plan
/// describes the argument as it would describe a result column (its declaration, its integer
/// width, whether a timestamp is an instant) and the call becomes that name. Where the plan
/// cannot tell (a parameter of unknown type, `json` path results, an enum column), the value's
/// kind names it when the row is evaluated. RedDB's own `typeof(x)` keeps its kind names.
extension Planner {
    func bindTypeOf(_ argument: Expr, _ ctx: BindingContext) throws -> BoundExpr {
        var bound = try bind(argument, ctx)
        if case .constant(.null) = bound { return .constant(.text("unknown")) }
        let column = outputColumn(&bound, named: "", ctx)
        if column.enumLabels == nil, let name = Self.postgresTypeName(column) { return .constant(.text(name)) }
        return .function(Self.valueTypeOf, [bound])
    }

    /// The name of a column so described, or nil when its type is not known before running.
    static func postgresTypeName(_ column: ScopeColumn) -> String? {
        var declared = column.surfaceType.flatMap(DeclaredType.init(surfaceName:))
        if column.type == .array {
            if let surface = column.surfaceType, surface.hasSuffix("[]") { declared = DeclaredType(surfaceName: String(surface.dropLast(2))) }
            // An `int[]` column keeps its elements' declaration as its surface type.
            guard let element = column.element, element != .any, element != .array else { return nil }
            return (declared?.baseFormatted ?? element.postgresFormattedName) + "[]"
        }
        if let declared { return declared.baseFormatted }
        if let surface = column.surfaceType {
            if surface == DataType.time.rawValue { return DataType.time.postgresFormattedName }
            return surface.hasSuffix("[]") ? nil : surface  // `name`, `int2vector`, `oidvector`
        }
        return column.type == .any ? nil : column.type.postgresFormattedName
    }

    /// `pg_typeof` of a value the plan could not type: its kind's PostgreSQL name.
    static let valueTypeOf = ScalarFunction(name: "pg_typeof", arity: 1...1, acceptsNull: true, isDeterministicWithinStatement: true) { a, _ in
        .text(a[0].isNull ? "unknown" : DataType.of(a[0]).postgresFormattedName)
    }
}
