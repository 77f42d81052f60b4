import RedCore

/// GROUP BY with grouping sets, as PostgreSQL reads it:
///
/// ```sql
/// GROUP BY a, b                              -- one set: (a, b)
/// GROUP BY ROLLUP (a, b)                     -- (a, b), (a), ()
/// GROUP BY CUBE (a, b)                       -- (a, b), (a), (b), ()
/// GROUP BY GROUPING SETS ((a, b), (a), ())   -- as listed
/// GROUP BY a, ROLLUP (b, c)                  -- each element's sets crossed: (a, b, c), (a, b), (a)
/// ```
/// Inside ROLLUP and CUBE a parenthesised list is one unit (`ROLLUP ((a, b), c)`); inside
/// GROUPING SETS an item may itself be a ROLLUP or CUBE. The expressions are kept once each
/// in `Select.groupBy`, the sets as positions in it (`Select.groupingSets`).
extension Parser {
    /// At most this many grouping sets (PostgreSQL's limit too): CUBE of n items makes 2ⁿ.
    static let maxGroupingSets = 4096

    mutating func parseGroupBy() throws -> (keys: [Expr], sets: [[Int]]?) {
        var elements: [[[Expr]]] = []
        var plain = true
        repeat {
            if let sets = try parseGroupingElement() {
                elements.append(sets)
                plain = false
            } else {
                elements.append([[try parseExpression()]])
            }
        } while acceptSymbol(",")
        if plain { return (elements.map { $0[0][0] }, nil) }
        // The sets of the whole clause: one set from each element, every combination.
        var combined: [[Expr]] = [[]]
        for element in elements {
            combined = combined.flatMap { prefix in element.map { prefix + $0 } }
            guard combined.count <= Self.maxGroupingSets else {
                throw RedError(.limitExceeded, "too many grouping sets present (maximum \(Self.maxGroupingSets))")
            }
        }
        var keys: [Expr] = []
        let sets = combined.map { set -> [Int] in
            var positions: [Int] = []
            for e in set {
                let i = keys.firstIndex(of: e) ?? { keys.append(e); return keys.count - 1 }()
                if !positions.contains(i) { positions.append(i) }
            }
            return positions
        }
        return (keys, sets)
    }

    /// ROLLUP, CUBE, GROUPING SETS or `()`: the sets it stands for; nil for a plain expression.
    private mutating func parseGroupingElement() throws -> [[Expr]]? {
        if isSymbol("("), isSymbol(")", ahead: 1) {
            advance(); advance()
            return [[]]
        }
        if isKeyword("rollup"), isSymbol("(", ahead: 1) {
            advance()
            let units = try parseGroupingUnits()
            // (u1 … un), (u1 … un-1), …, ()
            return (0...units.count).reversed().map { Array(units.prefix($0)).flatMap { $0 } }
        }
        if isKeyword("cube"), isSymbol("(", ahead: 1) {
            advance()
            let units = try parseGroupingUnits()
            guard units.count <= 12 else { throw RedError(.limitExceeded, "CUBE is limited to 12 elements") }
            // Every subset, the fullest first, in PostgreSQL's order.
            let n = units.count
            return (0..<(1 << n)).map { mask in
                units.enumerated().filter { i, _ in (mask >> (n - 1 - i)) & 1 == 0 }.flatMap { $0.element }
            }
        }
        if isKeyword("grouping"), isKeyword("sets", ahead: 1) {
            advance(); advance()
            try expectSymbol("(")
            var sets: [[Expr]] = []
            repeat {
                if let nested = try parseGroupingElement() {
                    sets += nested
                } else if isSymbol("(") {
                    sets.append(try parseParenthesizedList())
                } else {
                    sets.append([try parseExpression()])
                }
            } while acceptSymbol(",")
            try expectSymbol(")")
            return sets
        }
        return nil
    }

    /// `(unit, unit, …)` of ROLLUP and CUBE, each unit an expression or a parenthesised list.
    private mutating func parseGroupingUnits() throws -> [[Expr]] {
        try expectSymbol("(")
        var units: [[Expr]] = []
        repeat {
            units.append(isSymbol("(") ? try parseParenthesizedList() : [try parseExpression()])
        } while acceptSymbol(",")
        try expectSymbol(")")
        return units
    }

    /// `(a, b)` as a list of expressions (`()` is empty).
    private mutating func parseParenthesizedList() throws -> [Expr] {
        try expectSymbol("(")
        if acceptSymbol(")") { return [] }
        var list: [Expr] = []
        repeat { list.append(try parseExpression()) } while acceptSymbol(",")
        try expectSymbol(")")
        return list
    }
}
