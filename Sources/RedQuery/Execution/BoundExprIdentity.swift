import RedCore

extension BoundExpr {
    /// Whether two bound expressions compute the same thing from the same row: the same tree,
    /// the same operators, functions (by name) and constants. What lets a WHERE clause's
    /// `lower(email) = $1` use an index on `lower(email)`. Parameters, outer references and
    /// subqueries are never the same as anything (an index expression has none).
    func isSame(as other: BoundExpr) -> Bool {
        switch (self, other) {
        case (.constant(let a), .constant(let b)): return a.isIdentical(to: b)
        case (.column(let a), .column(let b)): return a == b
        case (.documentField(let a, let p), .documentField(let b, let q)): return a == b && p == q
        case (.negate(let a), .negate(let b)), (.not(let a), .not(let b)): return a.isSame(as: b)
        case (.and(let a1, let a2), .and(let b1, let b2)), (.or(let a1, let a2), .or(let b1, let b2)),
             (.concat(let a1, let a2), .concat(let b1, let b2)):
            return a1.isSame(as: b1) && a2.isSame(as: b2)
        case (.arithmetic(let o, let a1, let a2), .arithmetic(let p, let b1, let b2)),
             (.comparison(let o, let a1, let a2), .comparison(let p, let b1, let b2)):
            return o == p && a1.isSame(as: b1) && a2.isSame(as: b2)
        case (.isNull(let a, let m), .isNull(let b, let n)): return m == n && a.isSame(as: b)
        case (.distinctFrom(let a1, let a2, let m), .distinctFrom(let b1, let b2, let n)):
            return m == n && a1.isSame(as: b1) && a2.isSame(as: b2)
        case (.between(let a1, let a2, let a3, let m), .between(let b1, let b2, let b3, let n)):
            return m == n && a1.isSame(as: b1) && a2.isSame(as: b2) && a3.isSame(as: b3)
        case (.inList(let a, let xs, let m), .inList(let b, let ys, let n)):
            return m == n && a.isSame(as: b) && Self.same(xs, ys)
        case (.like(let a1, let a2, let c, let m), .like(let b1, let b2, let d, let n)):
            return c == d && m == n && a1.isSame(as: b1) && a2.isSame(as: b2)
        case (.caseWhen(let o1, let br1, let e1), .caseWhen(let o2, let br2, let e2)):
            return Self.same(o1, o2) && Self.same(e1, e2) && br1.count == br2.count
                && zip(br1, br2).allSatisfy { $0.0.isSame(as: $1.0) && $0.1.isSame(as: $1.1) }
        case (.cast(let a, let s), .cast(let b, let t)): return s == t && a.isSame(as: b)
        case (.function(let f, let xs), .function(let g, let ys)):
            return f.name == g.name && f.isDeterministicWithinStatement && g.isDeterministicWithinStatement && Self.same(xs, ys)
        case (.array(let xs), .array(let ys)): return Self.same(xs, ys)
        default: return false
        }
    }

    private static func same(_ xs: [BoundExpr], _ ys: [BoundExpr]) -> Bool {
        xs.count == ys.count && zip(xs, ys).allSatisfy { $0.isSame(as: $1) }
    }

    private static func same(_ x: BoundExpr?, _ y: BoundExpr?) -> Bool {
        switch (x, y) {
        case (nil, nil): return true
        case (let a?, let b?): return a.isSame(as: b)
        default: return false
        }
    }
}
