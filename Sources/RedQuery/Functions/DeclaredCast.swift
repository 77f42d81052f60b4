import RedCore

/// A cast to a type with a declaration (`'abcdef'::varchar(3)`, `x::numeric(10,2)`,
/// `n::integer`), parsed as `__declared_cast(CAST(operand AS base), 'surface name')`.
///
/// The inner cast converts to the stored kind; this applies the declaration as an explicit
/// cast does in PostgreSQL: text is cut to the length (where a column write fails with 22001),
/// a numeric is rounded to its scale, an integer checked against its width. The plan describes
/// the result with the declaration (`Planner` reads the name back as the column's surface type),
/// so PG-wire sends `1::int4` as int4 and `2::numeric(10,2)` as `2.00`.
enum DeclaredCast {
    static let name = "__declared_cast"

    static let function = ScalarFunction(name: name, arity: 2...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
        guard case .text(let surfaceName) = a[1], let declared = DeclaredType(surfaceName: surfaceName) else {
            throw RedError(.internalError, "\(name) needs a declared type")
        }
        return try declared.fit(a[0], explicit: true)
    }

    /// `function` for one declaration, parsed when the cast is bound rather than at every row
    /// (`CAST($n AS integer)` reads each integer variable of a PL/pgSQL function).
    static func applying(_ declared: DeclaredType) -> ScalarFunction {
        ScalarFunction(name: name, arity: 2...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
            try declared.fit(a[0], explicit: true)
        }
    }

    /// The declaration applied as a value's input is, not as an explicit cast: text too long
    /// for a `varchar(n)` fails (22001) instead of being cut (`json_populate_record`'s members).
    static let input = ScalarFunction(name: "__declared_input", arity: 2...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
        guard case .text(let surfaceName) = a[1], let declared = DeclaredType(surfaceName: surfaceName) else {
            throw RedError(.internalError, "__declared_input needs a declared type")
        }
        return try declared.fit(a[0], explicit: false)
    }

    /// A record function's document: an object (or NULL), as PostgreSQL requires of one
    /// populating a row (`json_populate_record(NULL::t, '[1]')` is refused). With the function's
    /// name, an element of a `_recordset`'s array.
    static let recordDocument = ScalarFunction(name: "__record_document", arity: 1...2, acceptsNull: false, isDeterministicWithinStatement: true) { a, _ in
        switch try JSONOperators.document(a[0]) {
        case .object: return a[0]
        case _ where a.count == 2: throw RedError(.invalidArgument, "argument of \(a[1].displayText) must be an array of objects")
        case .array: throw RedError(.invalidArgument, "cannot call populate_composite on an array")
        default: throw RedError(.invalidArgument, "cannot call populate_composite on a scalar")
        }
    }

    /// Functions whose result PostgreSQL types `timestamp with time zone` (RedDB's timestamps
    /// are UTC instants either way): described so, and shown on the session's clocks.
    static let zonedFunctions: Set<String> = ["now", "current_timestamp", "transaction_timestamp", "statement_timestamp", "clock_timestamp",
                                              "make_timestamptz", "to_timestamp", TimeZoneConversion.toInstant.name,
                                              SessionZoneFunctions.instantFromText.name, SessionZoneFunctions.instantFromLocal.name,
                                              SessionZoneFunctions.shift.name, SessionZoneFunctions.dateTrunc.name]

    /// The declaration a bound expression's result has: a cast to one, or a function of
    /// `zonedFunctions` (nil for anything else).
    static func declared(by expr: BoundExpr) -> String? {
        guard case .function(let f, let arguments) = expr else { return nil }
        if zonedFunctions.contains(f.name) { return DeclaredType(kind: .timestamptz).surfaceName }
        guard f.name == name, case .constant(.text(let surfaceName))? = arguments.last else { return nil }
        return surfaceName
    }
}
