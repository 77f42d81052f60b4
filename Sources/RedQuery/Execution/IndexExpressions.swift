import RedCore
import RedEngine
import RedStorage

/// Expression and partial indexes: `CREATE INDEX … ON t (lower(email), (a + b)) WHERE
/// deleted_at IS NULL`.
///
/// The definition keeps each expression and the predicate as written (as CHECK constraints
/// keep theirs), so renaming a column rewrites the text and dropping one drops the index, as
/// in PostgreSQL. `SQLIndexPrograms`, installed in the engine's `TableStore` when a database
/// opens, binds that text against the table's columns once per opened definition; every
/// row write then evaluates it to find the row's entry (or that it has none).
///
/// Only expressions whose value depends on the row alone may be indexed, or an entry would
/// not be found again: subqueries are 0A000 and functions that read the clock, the session,
/// a sequence or chance (`now()`, `random()`, `nextval()`, …) are 42P17, PostgreSQL's
/// "must be marked IMMUTABLE".
///
/// Reads (`AccessPathSelection`): a query reads through such an index when a WHERE conjunct
/// compares the index's leading expression (bound, it must be the same tree as the index's)
/// with a value fixed for the scan, and, for a partial index, when the WHERE repeats every
/// conjunct of the index's predicate (so no row the query wants lacks an entry). An
/// expression of known type stores its values coerced to that type and lookups coerce their
/// value the same way, so `a + b = 15.0` finds what `a + b` stored as 15. Foreign keys and
/// `ON CONFLICT (columns)` match plain indexes only; `ON CONFLICT DO NOTHING` without columns
/// checks every unique index, these included.
enum IndexExpressions {
    /// Functions whose result is not a function of their arguments alone.
    /// Whether `tokens[i]` calls one of `notImmutable` (`now()`, or a bare `current_timestamp`).
    static func callsChangingFunction(_ tokens: [Token], at i: Int) -> Bool {
        guard case .identifier(let word, false) = tokens[i].kind, notImmutable.contains(word) else { return false }
        let called = i + 1 < tokens.count && tokens[i + 1].kind == .symbol("(")
        return called || ["current_timestamp", "current_date", "current_time", "localtimestamp", "localtime",
                          "current_user", "session_user", "user"].contains(word)
    }

    static let notImmutable: Set<String> = [
        "now", "current_timestamp", "current_date", "current_time", "localtimestamp", "localtime", "clock_timestamp",
        "statement_timestamp", "transaction_timestamp", "timeofday", "random", "setseed", "gen_random_uuid",
        "uuid_generate_v4", "nextval", "currval", "lastval", "setval", "current_user", "session_user", "user",
        "current_setting", "current_schema", "current_database", "version", "pg_backend_pid", "txid_current",
        "embed", "embedding", "semantic_search", "ask",
    ]

    /// Binds `sql` against the table's columns, refusing what PostgreSQL refuses in an index;
    /// `part` is "expression" or "predicate", as its messages say.
    static func bind(_ sql: String, part: String, columns: [ColumnDefinition], table: String, planner: Planner) throws -> BoundExpr {
        try typedBind(sql, part: part, columns: columns, table: table, planner: planner).expr
    }

    /// `bind`, with the expression's type when it is known before execution (`.any` otherwise).
    static func typedBind(_ sql: String, part: String, columns: [ColumnDefinition], table: String,
                          planner: Planner) throws -> (expr: BoundExpr, type: DataType) {
        let tokens = try Lexer.tokenize(sql, limits: ParserLimits())
        for (i, token) in tokens.enumerated() {
            guard case .identifier(let word, false) = token.kind else {
                if case .parameter = token.kind { throw RedError(.syntaxError, "there is no parameter $n in an index \(part)") }
                continue
            }
            if word == "select" || word == "values" {
                throw RedError(.featureNotSupported, "cannot use subquery in index \(part)")
            }
            if try callsChangingFunction(tokens, at: i) || FunctionCatalog.callsMutableFunction(tokens, at: i, planner.context.transaction) {
                throw RedError(.invalidArgument, "functions in index \(part) must be marked IMMUTABLE", condition: "42P17")
            }
            // Index keys are computed where no statement timeout or cancel reaches (a loop in the
            // body could not be stopped): SQL functions only.
            if i + 1 < tokens.count, tokens[i + 1].kind == .symbol("("),
               try FunctionCatalog.overloads(of: word, planner.context.transaction).contains(where: { $0.language == "plpgsql" }) {
                throw RedError(.featureNotSupported, "PL/pgSQL functions in index \(part)s are not supported yet; use a LANGUAGE sql function")
            }
        }
        var parser = try Parser(sql)
        let expr = try parser.parseExpression()
        let scope = Scope(columns.map { ScopeColumn(qualifier: table, name: $0.name, type: $0.type) }, parent: nil)
        let ctx = BindingContext(scope: scope, aggregatesForbiddenIn: "index \(part)s")
        let bound = try planner.bind(expr, ctx)
        let known = planner.staticType(bound, ctx)
        return (bound, known != .any ? known : Planner.type(of: bound, scope: scope, aggregation: nil).valueType)
    }

    /// Whether the index reads `column` in an expression or its predicate (it no longer
    /// binds without it).
    static func reads(_ index: IndexDefinition, column: String, columns: [ColumnDefinition], table: String, planner: Planner) -> Bool {
        sql(of: index).contains { CheckConstraints.reads($0.sql, column: column, columns: columns, table: table, planner: planner) }
    }

    /// The index's SQL texts: each expression, then the predicate, with which part it is.
    static func sql(of index: IndexDefinition) -> [(sql: String, part: String)] {
        (index.expressions ?? []).compactMap { $0.map { ($0, "expression") } } + (index.predicate.map { [($0, "predicate")] } ?? [])
    }

    /// The index with column `old` renamed to `new` in its expressions and predicate.
    static func renaming(_ index: IndexDefinition, column old: String, to new: String) throws -> IndexDefinition {
        var renamed = index
        renamed.expressions = try index.expressions?.map { try $0.map { try CheckConstraints.renaming($0, column: old, to: new) } }
        renamed.predicate = try index.predicate.map { try CheckConstraints.renaming($0, column: old, to: new) }
        return renamed
    }

    /// The name PostgreSQL gives `CREATE INDEX ON t (…)`: the table, each key's column (or
    /// function) name, then `idx`, numbered until no relation has it; at most 63 bytes.
    static func generatedName(table: String, keys: [IndexKeySpec], taken: (String) throws -> Bool) throws -> String {
        let parts = keys.map { key -> String in
            switch key {
            case .column(let name): return name
            case .expression(let text): return IndexKeySpec.name(ofExpression: text)
            }
        }
        let base = String(decoding: Array(([table] + parts).joined(separator: "_").utf8.prefix(59)), as: UTF8.self)
        var candidate = base + "_idx"
        var number = 0
        while try taken(candidate) {
            number += 1
            candidate = base + "_idx\(number)"
        }
        return candidate
    }
}

extension DDLExecutor {
    /// CREATE INDEX: each key part a column or an expression (bound now, so a bad one fails
    /// before anything is built), the predicate likewise; then the index is filled from the rows.
    func createIndex(_ givenName: String?, on tableName: String, keys: [IndexKeySpec], unique: Bool, method: String,
                     ifNotExists: Bool, predicate: String?, nullsNotDistinct: Bool = false) throws -> QueryResult {
        let handle = try table(tableName)
        guard handle.schema.model == .table else { throw RedError(.invalidOperation, "indexes are supported on tables; \(tableName) is a \(handle.schema.model.rawValue)") }
        // An index lives in its table's schema (a schema-qualified name for it is refused by
        // PostgreSQL; here its schema part is dropped).
        let name = try givenName.map { try SchemaCatalog.localName($0, tx) } ?? IndexExpressions.generatedName(table: handle.localName, keys: keys) { try nameTaken($0, besideTable: handle) }
        if try nameTaken(name, besideTable: handle) {
            if ifNotExists { return .message("relation \"\(name)\" already exists, skipping", type: "create", tag: "CREATE INDEX") }
            throw RedError(.duplicateCollection, "relation \"\(name)\" already exists")
        }
        let planner = Planner(context: context)
        var ids: [UInt16] = []
        var expressions: [String?] = []
        for key in keys {
            switch key {
            case .column(let c):
                guard let column = handle.schema.column(named: c) else { throw RedError(.undefinedColumn, "column \"\(c)\" does not exist") }
                ids.append(column.id)
                expressions.append(nil)
            case .expression(let sql):
                _ = try IndexExpressions.bind(sql, part: "expression", columns: handle.schema.columns, table: handle.name, planner: planner)
                ids.append(IndexDefinition.expressionKey)
                expressions.append(sql)
            }
        }
        if let predicate {
            _ = try IndexExpressions.bind(predicate, part: "predicate", columns: handle.schema.columns, table: handle.name, planner: planner)
        }
        _ = try store.createIndex(tx, handle, name: name, columnIDs: ids, unique: unique, method: method == "hash" ? .hash : .btree,
                                  isConstraint: false, expressions: expressions.contains { $0 != nil } ? expressions : nil,
                                  predicate: predicate, nullsNotDistinct: nullsNotDistinct, now: context.now)
        let shown = keys.map { key -> String in
            switch key {
            case .column(let c): return c
            case .expression(let sql): return sql
            }
        }
        return .message("\(unique ? "unique " : "")index '\(name)' created on '\(tableName)' (\(shown.joined(separator: ", "))) using \(method.uppercased())",
                        type: "create", tag: "CREATE INDEX")
    }
}

/// Compiles expression and partial indexes for the engine (see `IndexExpressions`).
public struct SQLIndexPrograms: IndexProgramCompiler {
    public init() {}

    public func compile(_ index: IndexDefinition, table: String, schema: CollectionSchema, tx: Transaction, store: TableStore) throws -> any IndexRowProgram {
        let planner = Planner(context: ExecutionContext(transaction: tx, store: store, parameters: [], now: 0))
        let keys = try index.columnIDs.enumerated().map { i, id -> SQLIndexProgram.Key in
            if let sql = index.expressions?[i] {
                let (expr, type) = try IndexExpressions.typedBind(sql, part: "expression", columns: schema.columns, table: table, planner: planner)
                return .expression(expr, type)
            }
            guard schema.columns.contains(where: { $0.id == id }) else {
                throw RedError(.internalError, "index \(index.name) names a column the table does not have")
            }
            return .column(id)
        }
        let predicate = try index.predicate.map { try IndexExpressions.bind($0, part: "predicate", columns: schema.columns, table: table, planner: planner) }
        return SQLIndexProgram(columnIDs: schema.columns.map(\.id), keys: keys, predicate: predicate)
    }
}

/// One expression or partial index's computation: each row's values laid out in the table's
/// column order (as the expressions were bound), the predicate tested, the keys evaluated.
struct SQLIndexProgram: IndexRowProgram {
    enum Key: Sendable {
        case column(UInt16)
        /// The expression and its static type (`.any` when unknown): values are stored coerced to it.
        case expression(BoundExpr, DataType)
    }

    let columnIDs: [UInt16]
    let keys: [Key]
    let predicate: BoundExpr?

    func keyValues(of row: StoredRow, tx: Transaction, store: TableStore) throws -> [Value]? {
        let values = columnIDs.map { row.values[$0] ?? .null }
        // A fresh context per row: writers run concurrently, and a context is not shared.
        let eval = ExecutionContext(transaction: tx, store: store, parameters: [], now: 0).evaluation([])
        if let predicate, try Evaluation.truth(try eval.evaluate(predicate, values)) != true { return nil }
        return try keys.map { key in
            switch key {
            case .column(let id): return row.values[id] ?? .null
            case .expression(let expr, let type):
                let value = try eval.evaluate(expr, values)
                return type == .any || value.isNull ? value : (try? type.coerce(value)) ?? value
            }
        }
    }

    /// The conjuncts of the partial index's predicate (empty for a full index).
    var predicateConjuncts: [BoundExpr] { predicate?.conjuncts ?? [] }
}
