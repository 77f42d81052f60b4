import RedCore
import RedEngine

/// Column DEFAULT expressions, parsed once per statement.
struct DefaultValues {
    let planner: Planner
    let context: ExecutionContext
    var parsed: [UInt16: BoundExpr] = [:]
    /// Domains' defaults looked up so far, by domain (a statement reads each once).
    var domainDefaults: [String: String?] = [:]

    /// The default of the domain `column` was declared with: it applies when the column has none.
    mutating func domainDefault(of column: ColumnDefinition) throws -> String? {
        guard let domain = column.domain else { return nil }
        if let known = domainDefaults[domain] { return known }
        let found = try DomainCatalog.definition(of: domain, context.transaction)?.defaultSQL
        domainDefaults[domain] = .some(found)
        return found
    }

    mutating func value(for column: ColumnDefinition, handle: TableHandle) throws -> Value {
        if column.identity != nil, let sequence = column.sequence {
            // Through the column's coercion: a sequence may run past an `integer` column's width.
            do { return try column.coerce(.integer(try context.nextIdentityValue(sequence))) } catch let error as RedError {
                throw RedError(error.code, "\(error.message) (identity column \"\(column.name)\" of relation \"\(handle.name)\")")
            }
        }
        guard let sql = try column.defaultSQL ?? domainDefault(of: column) else { return .null }
        // Names in it (a serial's `nextval('t_id_seq')`) mean what they meant for its table.
        let v = try SchemaCatalog.withHomePath(of: handle.collection.name, context.transaction) {
            let expr: BoundExpr
            if let cached = parsed[column.id] { expr = cached } else {
                var parser = try Parser(sql)
                expr = try planner.bind(try parser.parseExpression(), BindingContext(scope: Scope([], parent: nil), aggregatesForbiddenIn: "DEFAULT"))
                parsed[column.id] = expr
            }
            return try context.evaluation([]).evaluate(expr, [])
        }
        do { return try column.coerce(context.readingInstant(v, for: column)) } catch let error as RedError {
            throw RedError(error.code, "\(error.message) (default of column \"\(column.name)\" of relation \"\(handle.name)\")")
        }
    }
}
