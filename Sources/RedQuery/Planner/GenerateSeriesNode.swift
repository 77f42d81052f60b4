import RedCore

/// `generate_series(start, stop[, step])`: integers from start to stop inclusive, or
/// timestamps (dates are taken as midnight) stepped by an interval, each the previous plus
/// the step on the calendar as PostgreSQL adds it (`'2024-01-31'` by `1 month` gives February
/// 29th, then March 29th). Arguments are evaluated once per execution (they may reference
/// outer rows).
final class GenerateSeriesNode: PlanNode, @unchecked Sendable {
    let arguments: [BoundExpr]
    let columns: [ScopeColumn]
    /// A series of instants (`timestamptz`): text and dates are read, and days and months
    /// stepped, on the session's clocks (`SessionTimeZone.adding`), as PostgreSQL steps them.
    var inSessionZone: Bool { DeclaredType.isInstant(surfaceName: columns[0].surfaceType) }

    /// Longest series one call may produce.
    static let maxRows: Int64 = 100_000_000

    init(arguments: [BoundExpr], column: ScopeColumn) {
        self.arguments = arguments
        self.columns = [column]
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let eval = context.evaluation(outerRows)
        let values = try arguments.map { try eval.evaluate($0, []) }
        if values.contains(where: \.isNull) { return ArrayIterator([]) }
        if values.contains(where: Self.isTemporal) { return try timestamps(values, context) }
        func integer(_ v: Value) throws -> Int64 {
            guard case .integer(let i) = try DataType.integer.coerce(v) else { throw RedError(.datatypeMismatch, "generate_series needs integers") }
            return i
        }
        let start = try integer(values[0]), stop = try integer(values[1])
        let step = values.count > 2 ? try integer(values[2]) : 1
        guard step != 0 else { throw RedError(.invalidArgument, "step size cannot equal zero") }
        // In 128 bits: stop - start, -step and the + 1 each overflow 64 at the ends of the range.
        let span = Int128(stop) - Int128(start), stride = Int128(step)
        let count = span == 0 || (span > 0) == (stride > 0) ? span / stride + 1 : 0
        guard count <= Int128(Self.maxRows) else { throw RedError(.limitExceeded, "generate_series would produce \(count) rows; the limit is \(Self.maxRows)") }
        var current = start
        var produced: Int64 = 0
        return ClosureIterator {
            guard Int128(produced) < count else { return nil }
            // Up to 100M rows: let a cancelled statement stop here, as table scans do.
            if produced & 4095 == 4095 { try context.checkCancelled() }
            defer { produced += 1; current &+= step }
            return [.integer(current)]
        }
    }

    /// A timestamp, a date or an interval among the arguments makes a timestamp series.
    static func isTemporal(_ v: Value) -> Bool {
        switch v {
        case .timestamp, .date, .interval: return true
        default: return false
        }
    }

    private func timestamps(_ values: [Value], _ context: ExecutionContext) throws -> RowIterator {
        guard values.count == 3 else { throw RedError(.undefinedFunction, "generate_series(timestamp, timestamp) needs a step: generate_series(start, stop, interval)") }
        let zone = inSessionZone ? context.timeZone : nil
        func bound(_ value: Value) throws -> Int64 {
            try TimeFunctions.microseconds(try zone?.instant(reading: value, timestampIsWallClock: false) ?? value)
        }
        let start = try bound(values[0]), stop = try bound(values[1])
        guard case .interval(let step) = try DataType.duration.coerce(values[2]) else {
            throw RedError(.datatypeMismatch, "generate_series steps timestamps by an interval, got \(values[2].kindName)")
        }
        let sign = step.span.signum()
        guard sign != 0 else { throw RedError(.invalidArgument, "step size cannot equal zero") }
        var current: Int64? = start
        var produced: Int64 = 0
        return ClosureIterator {
            guard let now = current, sign > 0 ? now <= stop : now >= stop else { return nil }
            produced += 1
            guard produced <= Self.maxRows else { throw RedError(.limitExceeded, "generate_series would produce more than \(Self.maxRows) rows") }
            if produced & 4095 == 0 { try context.checkCancelled() }
            // Past the end of the timestamp range the series simply ends.
            current = try? zone.map { try $0.adding(step, to: now) } ?? step.added(to: now)
            if CalendarMath.isInfinite(now) { current = nil }
            return [.timestamp(now)]
        }
    }

    func explain(_ depth: Int) -> [String] { [line(depth, "Function Scan on generate_series")] }
}
