import RedCore

/// `OVER (…)`: a window's PARTITION BY, ORDER BY and frame (ROWS or RANGE, with row counts,
/// numeric offsets or interval offsets).
extension Parser {
    mutating func parseWindowSpec() throws -> WindowSpec {
        try expectSymbol("(")
        var spec = WindowSpec(partitionBy: [], orderBy: [], frame: nil)
        if case .identifier(let name, let quoted) = current.kind, quoted || !["partition", "order", "rows", "range", "groups"].contains(name) {
            advance()
            spec.reference = name
        }
        if acceptKeyword("partition") {
            try expectKeyword("by")
            repeat { spec.partitionBy.append(try parseExpression()) } while acceptSymbol(",")
        }
        if acceptKeyword("order") {
            try expectKeyword("by")
            spec.orderBy = try parseOrderItems()
        }
        if isKeyword("rows") || isKeyword("range") || isKeyword("groups") {
            let unit: WindowFrame.Unit = isKeyword("rows") ? .rows : isKeyword("range") ? .range : .groups
            advance()
            if acceptKeyword("between") {
                let start = try parseFrameBound()
                try expectKeyword("and")
                spec.frame = WindowFrame(unit: unit, start: start, end: try parseFrameBound())
            } else {
                spec.frame = WindowFrame(unit: unit, start: try parseFrameBound(), end: .currentRow)
            }
            if isKeyword("exclude") {
                throw RedError(.featureNotSupported, "frame exclusion (EXCLUDE CURRENT ROW | GROUP | TIES | NO OTHERS) is not supported")
            }
            if unit == .range, let frame = spec.frame, [frame.start, frame.end].contains(where: \.hasOffset), spec.orderBy.count != 1 {
                throw RedError(.windowingError, "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column")
            }
            if unit != .range, let frame = spec.frame, [frame.start, frame.end].contains(where: {
                if case .precedingInterval = $0 { return true }; if case .followingInterval = $0 { return true }; return false
            }) {
                throw RedError(.datatypeMismatch, "argument of \(unit == .rows ? "ROWS" : "GROUPS") must be type bigint, not type interval")
            }

        }
        try expectSymbol(")")
        return spec
    }

    mutating func parseFrameBound() throws -> WindowFrame.Bound {
        if acceptKeyword("unbounded") {
            if acceptKeyword("preceding") { return .unboundedPreceding }
            try expectKeyword("following")
            return .unboundedFollowing
        }
        if acceptKeyword("current") {
            try expectKeyword("row")
            return .currentRow
        }
        if acceptKeyword("interval") {
            guard case .string(let text) = current.kind else { throw unexpected(expected: "an interval's text") }
            advance()
            let offset = try Interval.parse(text)
            guard offset.span >= 0 else { throw RedError(.invalidArgument, "invalid preceding or following size in window function", condition: "22013") }
            if acceptKeyword("preceding") { return .precedingInterval(offset) }
            try expectKeyword("following")
            return .followingInterval(offset)
        }
        let n = try parseIntegerLiteral("a frame offset")
        guard n >= 0 else { throw error("frame offsets must not be negative") }
        if acceptKeyword("preceding") { return .preceding(n) }
        try expectKeyword("following")
        return .following(n)
    }
}
