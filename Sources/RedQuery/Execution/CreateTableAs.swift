import RedCore
import RedEngine

/// `CREATE TABLE t [(names…)] AS query [WITH [NO] DATA]` and `SELECT … INTO t`, as
/// PostgreSQL runs them: the query runs once; the table gets one column per result column,
/// named by the list (then by the query), typed as the result describes it — a table column's
/// declaration (`varchar(20)`, `integer`) and an array's element type carry over, and a column
/// whose type the plan cannot know takes the kind of its first non-NULL value (text when all
/// are NULL) — with no constraints, defaults or indexes; then the rows go in. The tag is
/// `SELECT n`, or `CREATE TABLE AS` when no rows were asked for or the table already exists
/// under IF NOT EXISTS (with a NOTICE).
extension StatementExecutor {
    func createTableAs(_ given: CreateTableAs, _ context: ExecutionContext) throws -> QueryResult {
        var create = given
        create.name = try DDLExecutor(context: context).newRelationName(given.name)
        if try DDLExecutor(context: context).nameTaken(create.name) {
            guard create.ifNotExists else { throw RedError(.duplicateCollection, "relation \"\(create.name)\" already exists") }
            return .message("relation \"\(create.name)\" already exists, skipping", type: "create", tag: "CREATE TABLE AS")
        }
        let planner = Planner(context: context)
        // A materialized view's query reads as it will at each refresh: its schema, then public.
        let plan = try create.materializedText == nil ? planner.planQuery(create.query, outer: nil)
            : SchemaCatalog.withHomePath(of: create.name, context.transaction) { try planner.planQuery(create.query, outer: nil) }
        try checkParameters(planner.parameterCount)
        let names = create.columnNames ?? []
        guard names.count <= plan.columns.count else { throw RedError(.syntaxError, "too many column names were specified") }
        let rows = create.withData ? try Self.collect(plan, context).rows : []
        let specs = plan.columns.enumerated().map { i, column in
            Self.columnSpec(named: i < names.count ? names[i] : column.name, like: column, values: rows.lazy.map { $0[i] })
        }
        // Named exactly from here on: a bare name is public's, whatever the search path.
        let target = context.creatingTemporary ? create.name : SchemaCatalog.exact(create.name)
        _ = try DDLExecutor(context: context).execute(.createTable(name: target, ifNotExists: false, columns: specs, keys: [], checks: [],
                                                                   foreignKeys: [], appendOnly: false, ttlMilliseconds: nil))
        if let text = create.materializedText { try markMaterialized(target, query: text, context) }
        guard create.withData else {
            return .message("table '\(create.name)' created", type: "create", tag: create.materializedText == nil ? "CREATE TABLE AS" : "CREATE MATERIALIZED VIEW")
        }
        try insert(rows[...], into: target, columns: specs.map(\.name), context)
        if create.materializedText != nil {
            return QueryResult(columns: [], rows: [], rowsAffected: rows.count, statementType: "create", commandTag: "SELECT \(rows.count)",
                               message: "materialized view '\(create.name)' created with \(rows.count) row\(rows.count == 1 ? "" : "s")")
        }
        return QueryResult(columns: [], rows: [], rowsAffected: rows.count, statementType: "create", commandTag: "SELECT \(rows.count)",
                           message: "table '\(create.name)' created with \(rows.count) row\(rows.count == 1 ? "" : "s")")
    }

    /// `rows` into the table `name` (a materialized view's too, while it is being written), as
    /// INSERTs of `tableAsRowsPerInsert` rows: each copies its rows into one block, so a large result
    /// is not held twice at once. (A table just made, or a materialized view, has no triggers
    /// to see the statements.)
    func insert(_ rows: ArraySlice<[Value]>, into name: String, columns: [String], _ context: ExecutionContext) throws {
        let previous = context.refreshingMaterializedView
        context.refreshingMaterializedView = SchemaCatalog.canonical(name)
        defer { context.refreshingMaterializedView = previous }
        for start in stride(from: rows.startIndex, to: rows.endIndex, by: Self.tableAsRowsPerInsert) {
            let piece = try RowBlock(insertRows: rows[start..<min(rows.endIndex, start + Self.tableAsRowsPerInsert)])
            guard case .insert(let insert) = Statement.insertValues(table: name, columns: columns, rows: piece) else {
                throw RedError(.internalError, "CREATE TABLE AS built no INSERT")
            }
            _ = try DMLExecutor(context: context).insert(insert)
        }
    }

    static let tableAsRowsPerInsert = 10_000

    /// The column a result column becomes: its type (domain types kept), or the first value's kind.
    static func columnSpec(named name: String, like column: ScopeColumn, values: some Sequence<Value>) -> ColumnSpec {
        var type = column.type
        if type == .any { type = values.first(where: { !$0.isNull }).map(DataType.of) ?? .text }
        // An ENUM('a', 'b') column's variants do not travel with a result column: its text does.
        if type == .enumeration { type = .text }
        var spec = ColumnSpec(name: name, type: type)
        if type == .array, let element = column.element, ![.any, .array, .json, .vector].contains(element) {
            spec.arrayElement = element
            if let surface = column.surfaceType, surface.hasSuffix("[]") { spec.elementDeclared = DeclaredType(surfaceName: String(surface.dropLast(2)))?.forArrayElements }
        }
        if type != .array { spec.declared = column.surfaceType.flatMap(DeclaredType.init(surfaceName:)) }
        return spec
    }
}
