import RedCore
import RedEngine

/// What a client needs to know about a statement before it runs it: the types
/// of its `$n` parameters and the columns it will return.
///
/// PostgreSQL's extended protocol asks for this at Describe time (clients such
/// as asyncpg encode parameters by the types the server reports, PostgresNIO
/// decodes rows by the RowDescription it gets before any row), so it must be
/// answered without executing anything: the statement is planned, never run.
///
/// Parameter types are inferred the way PostgreSQL infers them for the common
/// shapes: `column <op> $n` takes the column's type, `INSERT … VALUES ($n)` and
/// `UPDATE … SET column = $n` take the target column's type. Anything else is
/// `.any`, which surfaces report as text.
public struct StatementDescription: Sendable, Equatable {
    /// `parameterTypes[n - 1]` is the type of `$n`; `.any` when nothing constrains it.
    public var parameterTypes: [DataType]
    /// The result columns, or nil when the statement returns no rows.
    public var columns: [ResultColumn]?
    /// For a parameter that is an array (`x = ANY($n)`), its elements' type, by `n - 1`.
    public var parameterArrayElements: [Int: DataType]
    /// PostgreSQL's name of a parameter's type where it is more precise than `parameterTypes`
    /// (`int4`, `timestamptz`, `varchar(20)`, `oid[]`), by `n - 1`.
    public var parameterSurfaceTypes: [Int: String]

    public init(parameterTypes: [DataType], columns: [ResultColumn]?, parameterArrayElements: [Int: DataType] = [:],
                parameterSurfaceTypes: [Int: String] = [:]) {
        self.parameterTypes = parameterTypes
        self.columns = columns
        self.parameterArrayElements = parameterArrayElements
        self.parameterSurfaceTypes = parameterSurfaceTypes
    }
}

extension StatementExecutor {
    /// Plans `statement` (never executes it) and describes its parameters and result.
    /// `parameterCount` is the highest `$n` the parser saw.
    /// `declaredTypes[n - 1]` is the type the client already gave `$n` (nil = infer it).
    public func describe(_ statement: Statement, parameterCount: Int, declaredTypes: [DataType?] = []) throws -> StatementDescription {
        if case .withClause(let items, let main) = statement {
            return try describeWithClause(items: items, main, parameterCount: parameterCount, declaredTypes: declaredTypes)
        }
        let context = makeContext()
        context.describing = true
        let planner = Planner(context: context)
        for (i, type) in declaredTypes.enumerated() {
            if let type { planner.parameterTypes[i + 1] = type }
        }
        var columns: [ResultColumn]?
        switch statement {
        case .query(let query):
            let plan = try planner.planQuery(query, outer: nil)
            columns = Self.resultColumns(plan.columns, [])
        case .explain:
            columns = [ResultColumn(name: "QUERY PLAN", type: .text)]
        case .show(let what):
            columns = what == "vectors"
                ? [ResultColumn(name: "name", type: .text), ResultColumn(name: "dimension", type: .integer), ResultColumn(name: "metric", type: .text)]
                : [ResultColumn(name: "name", type: .text), ResultColumn(name: "model", type: .text)]
        case .graph, .textSearch, .contextSearch:
            columns = CommandRowsNode.columns(of: statement)
        case .hybridSearch(let search):
            columns = CommandRowsNode.columns(of: statement)
            if case .parameter(let n)? = search.vector { planner.noteParameterType(n, .vector) }
            if case .parameter(let n)? = search.text { planner.noteParameterType(n, .text) }
        case .vectorSearch(let search):
            columns = Self.resultColumns(VectorSearchNode.resultColumns(for: search, qualifier: nil), [])
            switch search.source {
            case .value(.parameter(let n)): planner.noteParameterType(n, .vector)
            case .text(.parameter(let n)): planner.noteParameterType(n, .text)
            case .reference(_, .parameter(let n)): planner.noteParameterType(n, .integer)
            default: break
            }
            if case .parameter(let n)? = search.limit { planner.noteParameterType(n, .integer) }
            if case .parameter(let n)? = search.threshold { planner.noteParameterType(n, .float) }
        case .showColumns:
            columns = DDLExecutor.showColumnsResult
        case .ask(let ask):
            columns = ask.explain ? AskStatement.explainColumns : AskStatement.resultColumns
            if case .parameter(let n) = ask.question { planner.noteParameterType(n, .text) }
        case .kv(.put):
            columns = [ResultColumn(name: "ok", type: .boolean), ResultColumn(name: "collection", type: .text),
                       ResultColumn(name: "key", type: .text), ResultColumn(name: "created", type: .boolean)]
        case .kv(.get):
            columns = [ResultColumn(name: "key", type: .text), ResultColumn(name: "value", type: .any)]
        case .kv(.delete):
            columns = [ResultColumn(name: "key", type: .text), ResultColumn(name: "deleted", type: .boolean)]
        case .insert(let insert):
            columns = try describeInsert(insert, planner: planner)
        case .update(let table, let alias, let assignments, let from, let whereClause, let returning):
            columns = try describeTargeted(table: table, alias: alias, joined: from, whereClause: whereClause,
                                           assignments: assignments, returning: returning, planner: planner)
        case .delete(let table, let alias, let using, let whereClause, let returning):
            columns = try describeTargeted(table: table, alias: alias, joined: using, whereClause: whereClause,
                                           assignments: [], returning: returning, planner: planner)
        default:
            columns = nil
        }
        let count = max(parameterCount, planner.parameterCount)
        let types = (0..<count).map { planner.parameterTypes[$0 + 1]?.valueType ?? .any }
        let arrays = Dictionary(uniqueKeysWithValues: planner.parameterArrayElements.filter { $0.key <= count }.map { ($0.key - 1, $0.value) })
        let surfaces = Dictionary(uniqueKeysWithValues: planner.parameterSurfaceTypes.filter { $0.key <= count }.map { ($0.key - 1, $0.value) })
        return StatementDescription(parameterTypes: types, columns: columns, parameterArrayElements: arrays, parameterSurfaceTypes: surfaces)
    }

    private func describeInsert(_ insert: InsertStatement, planner: Planner) throws -> [ResultColumn]? {
        guard let handle = try store.open(transaction, insert.table) else {
            // INSERT DOCUMENT/KV/VECTOR/NODE/EDGE creates its collection on first use: RETURNING is
            // described against the schema that insert would create.
            guard insert.model != .row else { throw RedError(.undefinedCollection, "relation \"\(insert.table)\" does not exist") }
            guard let returning = insert.returning else { return nil }
            let schema: CollectionSchema
            switch insert.model {
            case .vector: schema = .implicitVectorCollection
            case .node, .edge: schema = CollectionSchema(model: .graph)
            case .kv: schema = CollectionSchema(model: .kv)
            default: schema = CollectionSchema(model: .document)
            }
            let scope = Scope(TableScanNode.columns(of: schema, qualifier: insert.table), parent: nil)
            return Self.resultColumns(try DMLExecutor(context: planner.context).bindReturning(returning, scope: scope, planner: planner).columns, [])
        }
        if handle.schema.model != .table {
            // Documents, KV and vectors name fields, not schema columns; only a vector's are typed.
            if handle.schema.model == .vector, case .values(let rows) = insert.source.body, let names = insert.columns {
                let types: [DataType?] = names.map { name in
                    switch try? DMLExecutor.vectorField(name) {
                    case "dense": return .vector
                    case "content": return .text
                    case "metadata": return .json
                    default: return nil
                    }
                }
                for row in rows {
                    for (i, expr) in row.enumerated() where i < types.count {
                        if case .parameter(let n) = expr, let type = types[i] { planner.noteParameterType(n, type) }
                    }
                }
            }
        } else {
            try describeTableInsert(insert, handle, planner: planner)
        }
        guard let returning = insert.returning else { return nil }
        let bound = try DMLExecutor(context: planner.context).bindReturning(returning, handle: handle, alias: nil, planner: planner)
        return Self.resultColumns(bound.columns, [])
    }

    /// Types an INSERT's parameters by the table columns they fill, and checks those columns exist.
    private func describeTableInsert(_ insert: InsertStatement, _ handle: TableHandle, planner: Planner) throws {
        let visible = handle.schema.columns.filter { !$0.name.hasPrefix("_") }
        let targets: [ColumnDefinition] = try (insert.columns ?? visible.map(\.name)).map { name in
            guard let column = handle.schema.columns.first(where: { $0.name == name }) else {
                throw RedError(.undefinedColumn, "column \"\(name)\" of relation \"\(insert.table)\" does not exist")
            }
            return column
        }
        switch insert.source.body {
        case .values(let rows):
            for row in rows {
                for (i, expr) in row.enumerated() where i < targets.count {
                    if case .parameter(let n) = expr {
                        planner.noteParameterType(n, column: targets[i].type, element: targets[i].arrayElement, surfaceType: targets[i].surfaceTypeName)
                    }
                    _ = try? planner.bind(expr, BindingContext(scope: Scope([], parent: nil), aggregatesForbiddenIn: "VALUES"))
                }
            }
        default:
            _ = try planner.planQuery(insert.source, outer: nil)
        }
    }

    private func describeTargeted(table: String, alias: String?, joined: TableRef?, whereClause: Expr?,
                                  assignments: [Assignment], returning: [SelectItem]?, planner: Planner) throws -> [ResultColumn]? {
        guard let handle = try store.open(transaction, table) else {
            throw RedError(.undefinedCollection, "relation \"\(table)\" does not exist")
        }
        var from = TableRef.table(table, alias: alias)
        if let joined { from = .join(from, joined, .cross, on: nil) }
        let (_, scope, _) = try planner.planFrom(from, whereClause: whereClause, outer: nil)
        let ctx = BindingContext(scope: scope, aggregatesForbiddenIn: "UPDATE")
        for assignment in assignments {
            if case .parameter(let n) = assignment.value,
               let column = handle.schema.columns.first(where: { $0.name == assignment.column }) {
                planner.noteParameterType(n, column: column.type, element: column.arrayElement, surfaceType: column.surfaceTypeName)
            }
            _ = try planner.bind(assignment.value, ctx)
        }
        guard let returning else { return nil }
        let bound = try DMLExecutor(context: planner.context).bindReturning(returning, scope: scope, planner: planner)
        return Self.resultColumns(bound.columns, [])
    }
}

extension AskStatement {
    /// An ASK's one row (the pipeline is in RedAI; RedDB fills the row).
    public static let resultColumns: [ResultColumn] = [
        ResultColumn(name: "answer", type: .text), ResultColumn(name: "answer_tokens", type: .json),
        ResultColumn(name: "provider", type: .text), ResultColumn(name: "model", type: .text), ResultColumn(name: "mode", type: .text),
        ResultColumn(name: "retry_count", type: .integer), ResultColumn(name: "prompt_tokens", type: .integer),
        ResultColumn(name: "completion_tokens", type: .integer), ResultColumn(name: "cost_usd", type: .float),
        ResultColumn(name: "cache_hit", type: .boolean), ResultColumn(name: "sources_count", type: .integer),
        ResultColumn(name: "sources_flat", type: .json), ResultColumn(name: "citations", type: .json), ResultColumn(name: "validation", type: .json),
    ]

    /// `EXPLAIN ASK`: one JSON column.
    public static let explainColumns = [ResultColumn(name: "plan", type: .json)]
}
