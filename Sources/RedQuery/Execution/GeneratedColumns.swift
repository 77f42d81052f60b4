import RedCore
import RedEngine

/// A table's generated columns (`total NUMERIC GENERATED ALWAYS AS (price * qty) STORED`),
/// bound once per statement and computed into every row it writes.
///
/// PostgreSQL's rules, which we follow:
/// - the value is computed from the row's other columns whenever the row is inserted or
///   updated (and for the existing rows when the column is added), then made to fit the
///   column's type and checked against its NOT NULL, before CHECK constraints run;
/// - a value given for it is 428C9 (`cannot insert a non-DEFAULT value into column "total"`,
///   `column "total" can only be updated to DEFAULT`); DEFAULT is accepted;
/// - the expression reads only the row's own ordinary columns: another generated column is
///   42P17, as is a function whose result may change between calls (`now()`, `random()`,
///   `nextval`); subqueries are 0A000;
/// - a column the expression reads cannot be dropped (2BP01) or change type (0A000) while the
///   generated column exists; renaming it rewrites the expression.
///
/// The expression is kept as its SQL text (`ColumnDefinition.generatedSQL`) and bound against
/// the table's columns, like CHECK constraints, so `CheckConstraints.bind` and `renaming` serve it.
struct GeneratedColumns {
    let table: String
    let columns: [ColumnDefinition]
    let bound: [(column: ColumnDefinition, expr: BoundExpr)]
    let context: ExecutionContext

    init(_ schema: CollectionSchema, table: String, planner: Planner) throws {
        self.table = table
        columns = schema.columns
        context = planner.context
        bound = try schema.columns.compactMap { column in
            guard let sql = column.generatedSQL else { return nil }
            return (column, try CheckConstraints.bind(sql, columns: schema.columns, table: table, planner: planner))
        }
    }

    init(_ handle: TableHandle, planner: Planner) throws {
        try self.init(handle.schema, table: handle.name, planner: planner)
    }

    private init(table: String, columns: [ColumnDefinition], bound: [(column: ColumnDefinition, expr: BoundExpr)], context: ExecutionContext) {
        self.table = table
        self.columns = columns
        self.bound = bound
        self.context = context
    }

    /// These, restricted to the generated column with id `id` (one just added).
    func only(_ id: UInt16) -> GeneratedColumns {
        GeneratedColumns(table: table, columns: columns, bound: bound.filter { $0.column.id == id }, context: context)
    }

    /// `row` with every generated column computed from its other columns.
    func filled(_ row: StoredRow) throws -> StoredRow {
        var row = row
        try fill(&row)
        return row
    }

    /// `filled` in place: a bulk load's rows, most of which have no generated column, are
    /// neither copied nor retained on their way through.
    func fill(_ row: inout StoredRow) throws {
        guard !bound.isEmpty else { return }
        let values = columns.map { row.values[$0.id] ?? .null }
        let eval = context.evaluation([])
        for (column, expr) in bound {
            let value: Value
            do { value = try column.coerce(try eval.evaluate(expr, values)) } catch let error as RedError {
                throw RedError(error.code, "\(error.message) (generated column \"\(column.name)\" of relation \"\(table)\")", detail: error.detail,
                               condition: error.condition)
            }
            if value.isNull, column.notNull {
                throw RedError(.notNullViolation, "null value in column \"\(column.name)\" of relation \"\(table)\" violates not-null constraint")
            }
            row.values[column.id] = value.isNull ? nil : value
        }
    }

    /// 42P17/0A000 when `sql`, the generation expression of `column` among `columns`, breaks a rule above.
    static func validate(_ sql: String, column: String, columns: [ColumnDefinition], table: String, planner: Planner) throws {
        let tokens = try Lexer.tokenize(sql, limits: ParserLimits())
        for (i, token) in tokens.enumerated() {
            guard case .identifier(let word, false) = token.kind else { continue }
            if word == "select" || word == "values" { throw RedError(.featureNotSupported, "cannot use subquery in column generation expression") }
            if try IndexExpressions.callsChangingFunction(tokens, at: i) || FunctionCatalog.callsMutableFunction(tokens, at: i, planner.context.transaction) {
                throw invalidDefinition("generation expression is not immutable")
            }
        }
        _ = try CheckConstraints.bind(sql, columns: columns, table: table, planner: planner)  // unknown columns first: 42703
        for other in columns where other.name != column && other.generatedSQL != nil {
            if CheckConstraints.reads(sql, column: other.name, columns: columns, table: table, planner: planner) {
                throw invalidDefinition("cannot use generated column \"\(other.name)\" in column generation expression",
                                        detail: "A generated column cannot reference another generated column.")
            }
        }
        if CheckConstraints.reads(sql, column: column, columns: columns, table: table, planner: planner) {
            throw invalidDefinition("cannot use generated column \"\(column)\" in column generation expression",
                                    detail: "A generated column cannot reference itself.")
        }
    }

    static func invalidDefinition(_ message: String, detail: String? = nil) -> RedError {
        RedError(.invalidTableDefinition, message, detail: detail, condition: "42P17")
    }

    /// The generated columns of `schema` whose expressions read `column`.
    static func readers(of column: String, in schema: CollectionSchema, table: String, planner: Planner) -> [ColumnDefinition] {
        schema.columns.filter { other in
            guard other.name != column, let sql = other.generatedSQL else { return false }
            return CheckConstraints.reads(sql, column: column, columns: schema.columns, table: table, planner: planner)
        }
    }
}
