import RedCore

extension Planner {
    /// `(a, b) op (c, d)`: row values compared field by field, as PostgreSQL compares them —
    /// equal when every field is, otherwise ordered by the first fields that differ — each
    /// pair as a comparison of its own, so text beside a timestamp reads as one (keyset
    /// pagination's `(created_at, id) < ($1, $2)`).
    func bindRowComparison(_ op: String, _ left: [BoundExpr], _ right: [BoundExpr], _ ctx: BindingContext) throws -> BoundExpr {
        let pairs = zip(left, right).map { ($0, $1) }
        if op == "=" || op == "<>" {
            let each = try pairs.map { try bindBinary(op, $0.0, $0.1, ctx) }
            return each.dropFirst().reduce(each[0]) { op == "=" ? .and($0, $1) : .or($0, $1) }
        }
        let strict = String(op.prefix(1))  // `<=` decides on `<` until the last field
        var result = try bindBinary(op, pairs[pairs.count - 1].0, pairs[pairs.count - 1].1, ctx)
        for (a, b) in pairs.dropLast().reversed() {
            result = .or(try bindBinary(strict, a, b, ctx), .and(try bindBinary("=", a, b, ctx), result))
        }
        return result
    }
}
