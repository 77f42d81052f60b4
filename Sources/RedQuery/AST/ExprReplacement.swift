/// Rewriting a syntax tree by replacing expressions: what inlining a SQL function's body does
/// with its parameters (`FunctionInlining`).
///
/// The search is top-down: where `replace` answers with an expression, that expression takes
/// the node's place and is not searched further; where it answers nil, the node's children
/// are searched, subqueries included. Commands embedded in FROM (`(SEARCH TEXT …)`,
/// `(VECTOR SEARCH …)`) are left as they are.
extension Expr {
    func replacing(_ replace: (Expr) throws -> Expr?) rethrows -> Expr {
        if let replacement = try replace(self) { return replacement }
        func r(_ e: Expr) throws -> Expr { try e.replacing(replace) }
        switch self {
        case .literal, .column, .parameter, .star: return self
        case .unary(let op, let e): return .unary(op, try r(e))
        case .binary(let op, let a, let b): return .binary(op, try r(a), try r(b))
        case .isNull(let e, let negated): return .isNull(try r(e), negated: negated)
        case .isDistinctFrom(let a, let b, let negated): return .isDistinctFrom(try r(a), try r(b), negated: negated)
        case .between(let a, let low, let high, let negated): return .between(try r(a), try r(low), try r(high), negated: negated)
        case .inList(let e, let items, let negated): return .inList(try r(e), try items.map(r), negated: negated)
        case .inSubquery(let e, let q, let negated): return .inSubquery(try r(e), try q.replacingExpressions(replace), negated: negated)
        case .quantified(let op, let a, let all, let b): return .quantified(op, try r(a), all: all, try r(b))
        case .exists(let q, let negated): return .exists(try q.replacingExpressions(replace), negated: negated)
        case .subquery(let q): return .subquery(try q.replacingExpressions(replace))
        case .like(let a, let b, let ci, let negated): return .like(try r(a), try r(b), caseInsensitive: ci, negated: negated)
        case .caseWhen(let operand, let branches, let otherwise):
            return .caseWhen(operand: try operand.map(r), branches: try branches.map { WhenBranch(condition: try r($0.condition), result: try r($0.result)) },
                             otherwise: try otherwise.map(r))
        case .cast(let e, let type): return .cast(try r(e), type)
        case .function(let call): return .function(try call.replacingExpressions(replace))
        case .array(let items): return .array(try items.map(r))
        }
    }
}

extension FunctionCall {
    func replacingExpressions(_ replace: (Expr) throws -> Expr?) rethrows -> FunctionCall {
        var call = self
        call.arguments = try arguments.map { try $0.replacing(replace) }
        call.filter = try filter.map { try $0.replacing(replace) }
        call.orderBy = try orderBy.map { try $0.replacingExpressions(replace) }
        call.over = try over.map { try $0.replacingExpressions(replace) }
        return call
    }
}

extension OrderItem {
    func replacingExpressions(_ replace: (Expr) throws -> Expr?) rethrows -> OrderItem {
        var item = self
        item.expr = try expr.replacing(replace)
        return item
    }
}

extension WindowSpec {
    func replacingExpressions(_ replace: (Expr) throws -> Expr?) rethrows -> WindowSpec {
        var spec = self
        spec.partitionBy = try partitionBy.map { try $0.replacing(replace) }
        spec.orderBy = try orderBy.map { try $0.replacingExpressions(replace) }
        return spec
    }
}

extension Query {
    func replacingExpressions(_ replace: (Expr) throws -> Expr?) rethrows -> Query {
        var query = self
        for i in query.with.indices { query.with[i].query = try with[i].query.replacingExpressions(replace) }
        query.body = try body.replacingExpressions(replace)
        query.orderBy = try orderBy.map { try $0.replacingExpressions(replace) }
        query.limit = try limit.map { try $0.replacing(replace) }
        query.offset = try offset.map { try $0.replacing(replace) }
        return query
    }
}

extension QueryBody {
    func replacingExpressions(_ replace: (Expr) throws -> Expr?) rethrows -> QueryBody {
        switch self {
        case .select(let select): return .select(try select.replacingExpressions(replace))
        case .values(let rows): return .values(try rows.map { try $0.map { try $0.replacing(replace) } })
        case .setOperation(let op, let all, let a, let b):
            return .setOperation(op, all: all, try a.replacingExpressions(replace), try b.replacingExpressions(replace))
        case .nested(let q): return .nested(try q.replacingExpressions(replace))
        }
    }
}

extension Select {
    func replacingExpressions(_ replace: (Expr) throws -> Expr?) rethrows -> Select {
        var select = self
        select.distinctOn = try distinctOn.map { try $0.replacing(replace) }
        select.items = try items.map { SelectItem(expr: try $0.expr.replacing(replace), alias: $0.alias) }
        select.from = try from.map { try $0.replacingExpressions(replace) }
        select.whereClause = try whereClause.map { try $0.replacing(replace) }
        select.groupBy = try groupBy.map { try $0.replacing(replace) }
        select.having = try having.map { try $0.replacing(replace) }
        select.windows = try windows.mapValues { try $0.replacingExpressions(replace) }
        return select
    }
}

extension TableRef {
    func replacingExpressions(_ replace: (Expr) throws -> Expr?) rethrows -> TableRef {
        switch self {
        case .table, .qualifiedTable, .any, .vectorSearch, .command: return self
        case .subquery(let q, let alias, let columns): return .subquery(try q.replacingExpressions(replace), alias: alias, columns: columns)
        case .lateral(let ref): return .lateral(try ref.replacingExpressions(replace))
        case .function(let call, let alias, let columns): return .function(try call.replacingExpressions(replace), alias: alias, columns: columns)
        case .join(let a, let b, let kind, let on):
            return .join(try a.replacingExpressions(replace), try b.replacingExpressions(replace), kind, on: try on.map { try $0.replacing(replace) })
        case .joinUsing(let a, let b, let kind, let columns):
            return .joinUsing(try a.replacingExpressions(replace), try b.replacingExpressions(replace), kind, columns: columns)
        }
    }
}

extension Query {
    /// Whether any FROM item of this query or of a query inside it (in FROM or in an
    /// expression) satisfies `test`.
    func containsTableRef(where test: (TableRef) -> Bool) -> Bool {
        var found = false
        func visit(_ query: Query) {
            for cte in query.with { visit(cte.query) }
            visit(query.body)
            for e in query.orderBy.map(\.expr) + [query.limit, query.offset].compactMap({ $0 }) { visit(e) }
        }
        func visit(_ body: QueryBody) {
            switch body {
            case .select(let select):
                if let from = select.from { visit(from) }
                for e in select.items.map(\.expr) + select.distinctOn + select.groupBy + [select.whereClause, select.having].compactMap({ $0 }) { visit(e) }
            case .values(let rows): for e in rows.joined() { visit(e) }
            case .setOperation(_, _, let a, let b): visit(a); visit(b)
            case .nested(let q): visit(q)
            }
        }
        func visit(_ ref: TableRef) {
            if test(ref) { found = true }
            switch ref {
            case .subquery(let q, _, _): visit(q)
            case .lateral(let inner): visit(inner)
            case .function(let call, _, _): for e in call.arguments { visit(e) }
            case .join(let a, let b, _, let on): visit(a); visit(b); if let on { visit(on) }
            case .joinUsing(let a, let b, _, _): visit(a); visit(b)
            case .table, .qualifiedTable, .any, .vectorSearch, .command: break
            }
        }
        func visit(_ e: Expr) {
            _ = e.replacing { node in
                switch node {
                case .subquery(let q), .exists(let q, _): visit(q)
                case .inSubquery(let l, let q, _): visit(l); visit(q)
                default: return nil
                }
                return node
            }
        }
        visit(self)
        return found
    }
}
