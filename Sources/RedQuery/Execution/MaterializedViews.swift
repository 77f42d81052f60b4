import RedCore
import RedEngine

/// PostgreSQL's materialized views: `CREATE MATERIALIZED VIEW name AS query [WITH [NO] DATA]`
/// makes a table of the query's rows (as CREATE TABLE AS does) and keeps the query's text in
/// the table's schema (`CollectionSchema.materializedQuery`); `REFRESH MATERIALIZED VIEW`
/// replaces the rows with the query's rows now, in the statement's transaction, so readers
/// see the old rows until it commits (which is what PostgreSQL's CONCURRENTLY gives, without
/// its need for a unique index); `DROP MATERIALIZED VIEW` drops it. Reading it is reading a
/// table — its indexes included. Writing it any other way is 42809, as in PostgreSQL.
extension StatementExecutor {
    func markMaterialized(_ name: String, query: String, _ context: ExecutionContext) throws {
        guard let handle = try context.store.open(context.transaction, name) else { throw RedError(.internalError, "materialized view \(name) was not created") }
        var schema = handle.schema
        schema.materializedQuery = query
        _ = try context.store.setSchema(context.transaction, handle, schema)
    }

    func materializedView(_ name: String, _ context: ExecutionContext) throws -> (TableHandle, String)? {
        guard let handle = try context.store.open(context.transaction, name) else { return nil }
        guard let query = handle.schema.materializedQuery else {
            throw RedError(.invalidOperation, "\"\(name)\" is not a materialized view")
        }
        return (handle, query)
    }

    func refreshMaterializedView(_ name: String, withData: Bool, _ context: ExecutionContext) throws -> QueryResult {
        guard let (handle, text) = try materializedView(name, context) else {
            throw RedError(.undefinedCollection, "relation \"\(name)\" does not exist")
        }
        var parser = try Parser(text)
        let query = try parser.parseQuery()
        let planner = Planner(context: context)
        // Its query's names are looked up as a view's are: in its own schema, then public.
        let plan = try SchemaCatalog.withHomePath(of: handle.name, context.transaction) { try planner.planQuery(query, outer: nil) }
        guard plan.columns.count == handle.schema.columns.count else {
            throw RedError(.invalidOperation, "materialized view \"\(name)\" no longer matches its query's columns; drop and create it again")
        }
        let rows = withData ? try Self.collect(plan, context).rows : []
        let previous = context.refreshingMaterializedView
        context.refreshingMaterializedView = handle.name
        defer { context.refreshingMaterializedView = previous }
        _ = try DDLExecutor(context: context).execute(.truncate(names: [handle.exactName], cascade: false, restartIdentity: false))
        try insert(rows[...], into: handle.exactName, columns: handle.schema.columns.map(\.name), context)
        return QueryResult(columns: [], rows: [], statementType: "refresh", commandTag: "REFRESH MATERIALIZED VIEW",
                           message: "materialized view '\(handle.name)' refreshed with \(rows.count) row\(rows.count == 1 ? "" : "s")")
    }

    func dropMaterializedViews(_ names: [String], ifExists: Bool, _ context: ExecutionContext) throws -> QueryResult {
        var notices: [String] = []
        for name in names {
            guard let (handle, _) = try materializedView(name, context) else {
                guard ifExists else { throw RedError(.undefinedCollection, "materialized view \"\(name)\" does not exist") }
                notices.append("materialized view \"\(name)\" does not exist, skipping")
                continue
            }
            let previous = context.refreshingMaterializedView
            context.refreshingMaterializedView = handle.name
            defer { context.refreshingMaterializedView = previous }
            _ = try DDLExecutor(context: context).execute(.dropTable(names: [handle.exactName], ifExists: false, kind: "table", cascade: false))
        }
        return .message("\(names.count - notices.count) materialized view\(names.count - notices.count == 1 ? "" : "s") dropped", type: "drop", tag: "DROP MATERIALIZED VIEW", notices: notices)
    }
}
