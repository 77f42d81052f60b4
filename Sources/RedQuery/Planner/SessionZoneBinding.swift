import RedCore

/// Where an instant (`timestamptz`) meets the session's time zone, the binder puts a
/// `SessionZoneFunctions` call that reads the zone when the statement runs (see
/// `SessionTimeZone` for what PostgreSQL does there). The plan knows which expressions are
/// instants (`isZoned`); values do not, as every timestamp is a UTC instant inside.
extension Planner {
    /// A cast's operand, made ready for the cast: text, a date or a wall-clock time read as an
    /// instant on the session's clocks when the cast is to `timestamptz` (`instant`); an
    /// instant cast to `timestamp`, `date` or `time` read off those clocks, or to text shown
    /// with their offset. A parameter is read so only when it comes as text (a client that
    /// typed it `timestamptz` has had it read by its surface, PG-wire in the session's zone).
    func sessionZoneCastOperand(_ inner: BoundExpr, to type: DataType, instant: Bool, _ ctx: BindingContext) -> BoundExpr {
        if case .parameter = inner { return type == .timestamp && instant ? .function(SessionZoneFunctions.instantFromText, [inner]) : inner }
        if type == .timestamp, instant {
            switch staticType(inner, ctx) {
            case .text, .any: return .function(SessionZoneFunctions.instantFromText, [inner])
            case .date: return .function(SessionZoneFunctions.instantFromLocal, [inner])
            case .timestamp where !isZoned(inner, ctx): return .function(SessionZoneFunctions.instantFromLocal, [inner])
            default: return inner
            }
        }
        guard isZoned(inner, ctx) else { return inner }
        switch type {
        case .timestamp, .date, .time: return .function(SessionZoneFunctions.localFromInstant, [inner])
        case .text: return .function(SessionZoneFunctions.instantText, [inner])
        default: return inner
        }
    }

    /// The parameter a cast's operand is, also when read as an instant (`$1::timestamptz`).
    static func castParameter(_ operand: BoundExpr) -> Int? {
        if case .parameter(let n) = operand { return n }
        if case .function(let f, let arguments) = operand, f.name == SessionZoneFunctions.instantFromText.name,
           case .parameter(let n)? = arguments.first { return n }
        return nil
    }

    /// A function of an instant that PostgreSQL computes on the session's clocks, bound so;
    /// nil for any other call.
    func sessionZoneCall(_ name: String, _ arguments: [BoundExpr], _ ctx: BindingContext) throws -> BoundExpr? {
        func zoned(_ i: Int) -> Bool { i < arguments.count && isZoned(arguments[i], ctx) }
        switch name {
        case "date_trunc" where arguments.count == 2 && (zoned(1) || staticType(arguments[1], ctx) == .date):
            return .function(SessionZoneFunctions.dateTrunc, arguments)
        case "date_part" where arguments.count == 2 && zoned(1), "extract" where arguments.count == 2 && zoned(1):
            return .cast(.function(SessionZoneFunctions.datePart, [.constant(.text(name))] + arguments), name == "extract" ? .decimal : .float)
        case "to_char" where arguments.count == 2 && zoned(0):
            return .function(SessionZoneFunctions.toChar, arguments)
        case "age" where arguments.indices.contains(where: zoned):
            // Both read off the session's clocks; untyped text is an instant beside one.
            let local = arguments.map { argument -> BoundExpr in
                if isZoned(argument, ctx) { return .function(SessionZoneFunctions.localFromInstant, [argument]) }
                guard [.text, .any].contains(staticType(argument, ctx)) else { return argument }
                return .function(SessionZoneFunctions.localFromInstant, [.function(SessionZoneFunctions.instantFromText, [argument])])
            }
            return .function(try ScalarFunction.lookup("age", argumentCount: arguments.count), local)
        case "to_json", "to_jsonb", "json_build_object", "jsonb_build_object", "json_build_array", "jsonb_build_array":
            guard arguments.indices.contains(where: zoned) else { return nil }
            let written = arguments.map { isZoned($0, ctx) ? BoundExpr.function(SessionZoneFunctions.instantJSONText, [$0]) : $0 }
            return .function(try ScalarFunction.lookup(name, argumentCount: arguments.count), written)
        case "coalesce", "greatest", "least", "nullif":
            // Beside an instant, wall-clock times, dates and text are put on the session's clocks,
            // as PostgreSQL resolves the call to `timestamptz`.
            guard arguments.indices.contains(where: zoned) else { return nil }
            return .function(try ScalarFunction.lookup(name, argumentCount: arguments.count), arguments.map { instantOperand($0, ctx) ?? $0 })
        case "concat", "concat_ws", "format":
            guard arguments.indices.contains(where: zoned) else { return nil }
            let written = arguments.map { isZoned($0, ctx) ? BoundExpr.function(SessionZoneFunctions.instantText, [$0]) : $0 }
            return .function(try ScalarFunction.lookup(name, argumentCount: arguments.count), written)
        default:
            return nil
        }
    }

    /// `instant ± interval` (also `interval + instant`, and an untyped literal that reads as an
    /// interval): days and months counted on the session's clocks. Nil for anything else.
    func sessionZoneShift(_ op: String, _ l: BoundExpr, _ r: BoundExpr, _ ctx: BindingContext) -> BoundExpr? {
        guard op == "+" || op == "-" else { return nil }
        // An untyped literal is an interval beside `+` only: `instant - '…'` is instant less
        // instant in PostgreSQL (`instantOperand`).
        func interval(_ e: BoundExpr) -> BoundExpr? {
            if staticType(e, ctx) == .duration { return e }
            guard op == "+", case .constant(.text(let text)) = e, let parsed = try? Interval.parse(text) else { return nil }
            return .constant(.interval(parsed))
        }
        if isZoned(l, ctx), let by = interval(r) { return .function(SessionZoneFunctions.shift, [l, by, .constant(.integer(op == "-" ? -1 : 1))]) }
        if op == "+", let by = interval(l), isZoned(r, ctx) { return .function(SessionZoneFunctions.shift, [r, by, .constant(.integer(1))]) }
        return nil
    }

    /// Items compared with an instant, made instants (`instantOperand`): `created_at >=
    /// '2024-07-01'` is from the session's midnight.
    func readingTextAsInstants(_ items: [BoundExpr], against value: BoundExpr, _ ctx: BindingContext) -> [BoundExpr] {
        guard isZoned(value, ctx) else { return items }
        return items.map { instantOperand($0, ctx) ?? $0 }
    }

    /// What meets an instant (compared with it, subtracted from it, beside it in `coalesce`)
    /// made one as PostgreSQL converts it: untyped text read on the session's clocks, a
    /// wall-clock time or a date put on them. Nil when nothing is needed: an instant already, a
    /// parameter (its surface has read it), anything else.
    func instantOperand(_ e: BoundExpr, _ ctx: BindingContext) -> BoundExpr? {
        if case .parameter = e { return nil }
        if case .constant(.text) = e { return .function(SessionZoneFunctions.instantFromText, [e]) }
        guard [.timestamp, .date].contains(staticType(e, ctx)), !isZoned(e, ctx) else { return nil }
        return .function(SessionZoneFunctions.instantFromLocal, [e])
    }
}
