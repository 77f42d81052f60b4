import RedCore

/// `CAST(x AS type)` and `x::type`, bound: what the operand needs before the conversion, as
/// PostgreSQL resolves it.
/// - Text read as a `timestamp` keeps its time as written (`TimeZoneConversion.localTimestampText`);
///   read as a `timestamptz` (`nextTimestampCastIsInstant`, set by the declared cast around
///   this one) it is an instant on the session's clocks, as are dates and wall-clock times
///   (`sessionZoneCastOperand`).
/// - A parameter takes the cast's type (Describe reports it).
/// - An array to text is `{…}` (`ArrayTextCast`); JSON to text is jsonb's or json's text; a
///   float to an integer rounds half to even.
extension Planner {
    func bindCast(_ e: Expr, to type: DataType, _ ctx: BindingContext) throws -> BoundExpr {
        let instant = nextTimestampCastIsInstant
        nextTimestampCastIsInstant = false
        var inner = try bind(e, ctx)
        if type == .timestamp, !instant, [.text, .any].contains(staticType(inner, ctx)), !{ if case .parameter = inner { return true }; return false }() {
            // Text read as a `timestamp` keeps its time as written: a zone after it is dropped.
            inner = .function(TimeZoneConversion.localTimestampText, [inner])
        }
        if case .parameter(let n) = inner {
            if type == .time, parameterTypes[n] == nil { parameterSurfaceTypes[n] = DataType.time.rawValue }  // `$1::time`
            noteParameterType(n, type)
        }
        inner = sessionZoneCastOperand(inner, to: type, instant: instant, ctx)
        if type == .text, let text = outputText(inner, ctx) { return text }
        // float8 → integer rounds half to even (PostgreSQL's rint); numeric literals round half away from zero.
        if type == .integer, staticType(inner, ctx) == .float, !inner.isConstant {
            return .function(ScalarFunction.floatToIntegerHalfEven, [inner])
        }
        return .cast(inner, type)
    }

    /// An array's or a JSON value's text as PostgreSQL's output function writes it; nil for
    /// other types, whose plain conversion to text is already that.
    func outputText(_ inner: BoundExpr, _ ctx: BindingContext) -> BoundExpr? {
        if isArrayTyped(inner, ctx) { return .function(ArrayTextCast.function, [inner]) }  // `{1,2}`, not JSON
        guard staticType(inner, ctx) == .json else { return nil }
        var described = inner
        let jsonb = outputColumn(&described, named: "", ctx).surfaceType != DeclaredType(kind: .json).surfaceName
        return .function(JSONTextCast.function, [inner, .constant(.boolean(jsonb))])
    }

    /// `__raise_text(x)`: x as PL/pgSQL's RAISE prints it, its type's output text (arrays as
    /// `{…}`, booleans `t`/`f`, jsonb as jsonb writes it); NULL stays NULL (RAISE prints `<NULL>`).
    func bindRaiseText(_ argument: Expr, _ ctx: BindingContext) throws -> BoundExpr {
        let inner = try bind(argument, ctx)
        return outputText(inner, ctx) ?? .function(ArrayTextCast.raiseText, [inner])
    }
}
