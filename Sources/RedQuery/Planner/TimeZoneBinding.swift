import RedCore

/// `ts AT TIME ZONE zone` and `timezone(zone, ts)`, resolved by the operand's type as
/// PostgreSQL resolves the function's overloads.
///
/// RedDB keeps every timestamp as a UTC instant, so a `timestamptz`
/// and a `timestamp` hold the same number and only the plan knows which one an expression
/// is: a `TIMESTAMPTZ` column, a cast to `timestamptz`, `now()` and its kin are instants.
/// - A plain `timestamp` is a wall-clock time: read in `zone`, it gives the instant, a
///   `timestamptz` (`TimeZoneConversion.toInstant`).
/// - Anything else (a `timestamptz`, a date, text, a parameter) is taken as an instant —
///   `timestamptz` is PostgreSQL's preferred type among them — and gives the wall-clock time
///   in `zone`, a `timestamp` (`TimeZoneConversion.toLocal`).
extension Planner {
    func bindTimeZoneConversion(_ arguments: [Expr], _ ctx: BindingContext) throws -> BoundExpr {
        let zone = try bind(arguments[0], ctx)
        let operand = try bind(arguments[1], ctx)
        var type = Self.type(of: operand, scope: ctx.scope, aggregation: ctx.aggregation).valueType
        if type == .any { type = staticType(operand, ctx) }
        switch type {
        case .timestamp where !isZoned(operand, ctx):
            return .function(TimeZoneConversion.toInstant, [zone, operand])
        case .timestamp:
            return .function(TimeZoneConversion.toLocal, [zone, operand])
        case .date, .text, .any:
            // Read as an instant on the session's clocks, as `'…'::timestamptz` is.
            return .function(TimeZoneConversion.toLocal, [zone, .cast(.function(sessionInstant(of: type), [operand]), .timestamp)])
        case .time:
            throw RedError(.featureNotSupported, "AT TIME ZONE of a time of day (timetz) is not supported; give a timestamp")
        default:
            throw RedError(.undefinedFunction, "function timezone(text, \(type.rawValue)) does not exist")
        }
    }

    /// `date_trunc(unit, ts, zone)` (PostgreSQL 12's): truncated as a wall clock in `zone` reads
    /// the instant, the result that local time's instant — `date_trunc('day', ts, 'America/New_York')`
    /// is New York's midnight. An untyped operand is read as an instant, as PostgreSQL reads it.
    func bindZonedDateTrunc(_ arguments: [Expr], _ ctx: BindingContext) throws -> BoundExpr {
        let unit = try bind(arguments[0], ctx), zone = try bind(arguments[2], ctx)
        var operand = try bind(arguments[1], ctx)
        let type = staticType(operand, ctx)
        if [.text, .date, .any].contains(type) { operand = .cast(.function(sessionInstant(of: type), [operand]), .timestamp) }
        let local = BoundExpr.function(TimeZoneConversion.toLocal, [zone, operand])
        let truncated = BoundExpr.function(try ScalarFunction.lookup("date_trunc", argumentCount: 2), [unit, local])
        return .function(TimeZoneConversion.toInstant, [zone, truncated])
    }

    /// What reads a date (its midnight) or text as an instant on the session's clocks.
    private func sessionInstant(of type: DataType) -> ScalarFunction {
        type == .date ? SessionZoneFunctions.instantFromLocal : SessionZoneFunctions.instantFromText
    }

    /// Whether the plan knows `e` as a `timestamptz`: see above. What PostgreSQL types so stays
    /// so: an instant plus or minus an interval, `date_trunc` and `date_bin` of one, and
    /// `coalesce`, `greatest`, `least`, `nullif` and `CASE` whose results all are.
    func isZoned(_ e: BoundExpr, _ ctx: BindingContext) -> Bool {
        if DeclaredType.isInstant(surfaceName: DeclaredCast.declared(by: e)) { return true }
        /// NULL, or an instant.
        func fits(_ e: BoundExpr) -> Bool {
            if case .constant(.null) = e { return true }
            return isZoned(e, ctx)
        }
        switch e {
        case .arithmetic(let op, let a, let b) where op == "+" || op == "-":
            func isInterval(_ e: BoundExpr) -> Bool { staticType(e, ctx) == .duration }
            return (isZoned(a, ctx) && isInterval(b)) || (op == "+" && isInterval(a) && isZoned(b, ctx))
        case .function(let f, let arguments):
            switch f.name {
            case "date_bin": return arguments.count >= 2 && isZoned(arguments[1], ctx)
            // Of a date too: PostgreSQL takes it as a timestamptz.
            case "date_trunc": return arguments.count >= 2 && (isZoned(arguments[1], ctx) || staticType(arguments[1], ctx) == .date)
            case "coalesce", "greatest", "least": return arguments.allSatisfy(fits) && arguments.contains { isZoned($0, ctx) }
            case "nullif": return arguments.first.map { isZoned($0, ctx) } ?? false
            default: return false
            }
        case .caseWhen(_, let branches, let otherwise):
            let results = branches.map(\.1) + (otherwise.map { [$0] } ?? [])
            return results.allSatisfy(fits) && results.contains { isZoned($0, ctx) }
        case .column(let i):
            guard let aggregation = ctx.aggregation else { return i < ctx.scope.columns.count && DeclaredType.isInstant(surfaceName: ctx.scope.columns[i].surfaceType) }
            // Above an aggregation: a group key, or an aggregate that gives one of its inputs.
            let input = BindingContext(scope: aggregation.inputScope)
            if i < aggregation.boundKeys.count { return isZoned(aggregation.boundKeys[i], input) }
            let calls = aggregation.calls, k = i - aggregation.boundKeys.count
            guard k >= 0, k < calls.count, [.min, .max, .first, .last].contains(calls[k].kind), let argument = calls[k].arguments.first else { return false }
            return isZoned(argument, input)
        case .scalarSubquery(let subquery):
            return DeclaredType.isInstant(surfaceName: subquery.plan.columns.first?.surfaceType)
        case .outer(let depth, let i):
            var scope: Scope? = ctx.scope
            for _ in 0..<depth { scope = scope?.parent }
            guard let scope, i < scope.columns.count else { return false }
            return DeclaredType.isInstant(surfaceName: scope.columns[i].surfaceType)
        default:
            return false
        }
    }

    /// Text literals compared with a `timestamp` (without time zone), read as one: a zone after
    /// the time dropped, as the column stored it (`ts = '2024-01-01 10:00-03'` finds 10:00).
    func readingTextAsTimestamps(_ items: [BoundExpr], against value: BoundExpr, _ ctx: BindingContext) -> [BoundExpr] {
        guard items.contains(where: { if case .constant(.text) = $0 { return true }; return false }),
              staticType(value, ctx) == .timestamp, !isZoned(value, ctx) else { return items }
        return items.map { item in
            guard case .constant(.text(let s)) = item, let us = CalendarMath.parseTimestamp(s, ignoringZone: true) else { return item }
            return .constant(.timestamp(us))
        }
    }
}
