import RedCore
import RedEngine

/// The syntax tree the parser produces and the planner consumes.
///
/// Names are already case-folded by the lexer (PostgreSQL rules). Column
/// references keep their dotted path: `t.a` may be a qualified column or, on
/// a document collection, a JSON path; the binder decides.
public indirect enum Expr: Sendable, Equatable {
    case literal(Value)
    case column([String])
    case parameter(Int)
    case star(qualifier: String?)
    case unary(String, Expr)
    case binary(String, Expr, Expr)
    case isNull(Expr, negated: Bool)
    case isDistinctFrom(Expr, Expr, negated: Bool)
    case between(Expr, Expr, Expr, negated: Bool)
    case inList(Expr, [Expr], negated: Bool)
    case inSubquery(Expr, Query, negated: Bool)
    /// `x op ANY|SOME|ALL (…)`: the right side is `.subquery` or an array expression.
    case quantified(String, Expr, all: Bool, Expr)
    case exists(Query, negated: Bool)
    case subquery(Query)
    case like(Expr, Expr, caseInsensitive: Bool, negated: Bool)
    case caseWhen(operand: Expr?, branches: [WhenBranch], otherwise: Expr?)
    case cast(Expr, DataType)
    case function(FunctionCall)
    case array([Expr])
}

public struct WhenBranch: Sendable, Equatable {
    public var condition: Expr
    public var result: Expr
}

public struct FunctionCall: Sendable, Equatable {
    public var name: String
    public var arguments: [Expr]
    public var distinct: Bool
    /// `count(*)`.
    public var star: Bool
    public var over: WindowSpec?
    /// Aggregates: `FILTER (WHERE …)`.
    public var filter: Expr? = nil
    /// Aggregates: `ORDER BY …` inside the call (`string_agg(x, ',' ORDER BY y)`).
    public var orderBy: [OrderItem] = []

    public init(name: String, arguments: [Expr], distinct: Bool, star: Bool, over: WindowSpec? = nil) {
        self.name = name
        self.arguments = arguments
        self.distinct = distinct
        self.star = star
        self.over = over
    }
}

public struct WindowSpec: Sendable, Equatable {
    /// `OVER name` / `OVER (name …)`: a window defined in the query's WINDOW clause.
    public var reference: String? = nil
    public var partitionBy: [Expr]
    public var orderBy: [OrderItem]
    public var frame: WindowFrame?
}

public struct WindowFrame: Sendable, Equatable {
    public enum Unit: Sendable, Equatable { case rows, range, groups }
    public enum Bound: Sendable, Equatable {
        case unboundedPreceding, preceding(Int64), currentRow, following(Int64), unboundedFollowing
        /// `INTERVAL '7 days' PRECEDING` / `FOLLOWING`: a RANGE offset over dates or timestamps.
        case precedingInterval(Interval), followingInterval(Interval)

        public var hasOffset: Bool {
            switch self {
            case .preceding, .following, .precedingInterval, .followingInterval: return true
            default: return false
            }
        }

        var isFollowing: Bool {
            switch self {
            case .following, .followingInterval: return true
            default: return false
            }
        }
    }
    public var unit: Unit
    public var start: Bound
    public var end: Bound
}

public struct OrderItem: Sendable, Equatable {
    public var expr: Expr
    public var descending: Bool
    /// nil = the default (NULLS LAST ascending, NULLS FIRST descending).
    public var nullsFirst: Bool?
}

public struct SelectItem: Sendable, Equatable {
    public var expr: Expr
    public var alias: String?
}

public indirect enum TableRef: Sendable, Equatable {
    case table(String, alias: String?)
    /// `schema.name` with a schema other than `public`: a surface's relation
    /// (`pg_catalog.pg_class`, `information_schema.columns`), else the table `name`.
    case qualifiedTable(schema: String, name: String, alias: String?)
    /// `FROM ANY`: every item of every collection.
    case any(alias: String?)
    /// `(SELECT …) AS alias [(column, …)]`.
    case subquery(Query, alias: String, columns: [String])
    /// `LATERAL (SELECT …) AS alias`: the subquery may read the FROM items before it.
    case lateral(TableRef)
    /// A set-returning function in FROM: `generate_series(1, 10) AS g [(x)]`.
    case function(FunctionCall, alias: String?, columns: [String])
    case join(TableRef, TableRef, JoinKind, on: Expr?)
    /// `a JOIN b USING (k, …)`: equality on the named columns, which appear once.
    case joinUsing(TableRef, TableRef, JoinKind, columns: [String])
    /// `(VECTOR SEARCH …) [AS] alias` or `(SEARCH SIMILAR …) [AS] alias`: the hits as rows.
    case vectorSearch(VectorSearch, alias: String?)
    /// `(SEARCH TEXT …) [AS] alias` or `(GRAPH …) [AS] alias`: a command's result as rows.
    case command(Statement, alias: String?)
}

public enum JoinKind: String, Sendable, Equatable { case inner, left, right, full, cross }

public struct Select: Sendable, Equatable {
    public var distinct = false
    /// `DISTINCT ON (…)`: the first row (in ORDER BY order) of each distinct key.
    public var distinctOn: [Expr] = []
    public var items: [SelectItem] = []
    public var from: TableRef?
    public var whereClause: Expr?
    public var groupBy: [Expr] = []
    /// `GROUP BY ROLLUP (…)`, `CUBE (…)`, `GROUPING SETS (…)`: the sets grouped by, each the
    /// positions in `groupBy` of its expressions; nil for a plain GROUP BY.
    public var groupingSets: [[Int]]?
    public var having: Expr?
    /// `WINDOW name AS (…)` definitions.
    public var windows: [String: WindowSpec] = [:]
    /// `SELECT … INTO new_table FROM …`: the statement is a CREATE TABLE AS (only allowed
    /// on the statement's own SELECT; the planner refuses it anywhere else).
    public var into: String?
    /// `SELECT … INTO TEMP[ORARY] t`: the new table is temporary.
    public var intoTemporary = false
    /// Set by the planner on an inlined SQL function's argument row (never parsed): names in
    /// its select list, WHERE and LATERAL items are not looked up past its FROM scope.
    var isolatesNames = false
}

public indirect enum QueryBody: Sendable, Equatable {
    case select(Select)
    case values([[Expr]])
    case setOperation(SetOperator, all: Bool, QueryBody, QueryBody)
    /// A parenthesised query with its own ORDER BY / LIMIT.
    case nested(Query)
}

public enum SetOperator: String, Sendable, Equatable { case union, intersect, except }

public struct CommonTableExpression: Sendable, Equatable {
    public var name: String
    public var columns: [String]
    public var query: Query
    /// Declared under `WITH RECURSIVE`: its query may read its own rows.
    public var recursive = false
}

/// PostgreSQL 15's MERGE.
public struct MergeStatement: Sendable, Equatable {
    public var target: String
    public var alias: String?
    public var source: TableRef
    /// The name the source's columns are read by (its alias, or its table's name).
    public var sourceName: String
    public var condition: Expr
    public var clauses: [MergeClause]
}

/// `WHEN [NOT] MATCHED [AND condition] THEN action`.
public struct MergeClause: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        case update([Assignment])
        case delete
        /// `INSERT [(columns)] VALUES (…)`; nil values: `DEFAULT VALUES`.
        case insert(columns: [String]?, values: [Expr]?)
        case nothing
    }
    public var matched: Bool
    public var condition: Expr?
    public var action: Action
}

/// One item of a `WITH` clause that `Statement.withClause` runs: a query, or a data-modifying
/// statement whose RETURNING rows it names (none without RETURNING).
public indirect enum WithItem: Sendable, Equatable {
    case query(CommonTableExpression)
    case modifying(name: String, columns: [String], Statement)

    public var name: String {
        switch self {
        case .query(let cte): return cte.name
        case .modifying(let name, _, _): return name
        }
    }
}

public struct Query: Sendable, Equatable {
    public var with: [CommonTableExpression] = []
    public var body: QueryBody
    public var orderBy: [OrderItem] = []
    public var limit: Expr?
    public var offset: Expr?
    /// `FETCH FIRST n ROWS WITH TIES`: rows that sort equal to the last one come too.
    public var withTies = false
    /// `FOR UPDATE | NO KEY UPDATE | SHARE | KEY SHARE [OF t, …] [NOWAIT | SKIP LOCKED]`, each
    /// clause as written.
    public var locking: [LockingClause] = []
}

/// One `FOR UPDATE …` clause of a SELECT: lock the rows it returns, of the tables it names
/// (none: every table in FROM), until the transaction ends.
public struct LockingClause: Sendable, Equatable {
    public enum Strength: String, Sendable, Equatable {
        case update = "UPDATE", noKeyUpdate = "NO KEY UPDATE", share = "SHARE", keyShare = "KEY SHARE"

        /// FOR SHARE and FOR KEY SHARE take shared locks; the update forms exclusive ones.
        /// (PostgreSQL also lets KEY SHARE and NO KEY UPDATE coexist; here they conflict.)
        public var isShared: Bool { self == .share || self == .keyShare }
    }
    public enum WaitPolicy: Sendable, Equatable { case wait, noWait, skipLocked }

    public var strength: Strength
    public var tables: [String]
    public var waitPolicy: WaitPolicy

    public init(strength: Strength, tables: [String] = [], waitPolicy: WaitPolicy = .wait) {
        self.strength = strength
        self.tables = tables
        self.waitPolicy = waitPolicy
    }
}

public indirect enum Statement: Sendable, Equatable {
    case query(Query)
    /// `WITH … INSERT | UPDATE | DELETE`, and a WITH any of whose items modifies data
    /// (`WITH moved AS (DELETE … RETURNING *) INSERT INTO archive SELECT * FROM moved`):
    /// `WithClauseExecution` runs the items in order, keeps their rows, and the statement
    /// reads them by name.
    /// (WITH RECURSIVE is kept on each query item, `CommonTableExpression.recursive`.)
    case withClause(items: [WithItem], Statement)
    /// `MERGE INTO target USING source ON condition WHEN [NOT] MATCHED … THEN …` (`MergeExecution`).
    case merge(MergeStatement)
    case insert(InsertStatement)
    /// `from`: PostgreSQL's `UPDATE … FROM other tables`.
    case update(table: String, alias: String?, assignments: [Assignment], from: TableRef?, whereClause: Expr?, returning: [SelectItem]?)
    /// `using`: PostgreSQL's `DELETE … USING other tables`.
    case delete(table: String, alias: String?, using: TableRef?, whereClause: Expr?, returning: [SelectItem]?)
    /// `checks`: the table's CHECK constraints, column and table ones alike.
    case createTable(name: String, ifNotExists: Bool, columns: [ColumnSpec], keys: [KeySpec], checks: [CheckSpec],
                     foreignKeys: [ForeignKeySpec], appendOnly: Bool, ttlMilliseconds: Int64?, likes: [TableLike] = [])
    case createTableAs(CreateTableAs)
    /// `CREATE [GLOBAL | LOCAL] TEMP[ORARY] TABLE …`: the `createTable` or `createTableAs` inside
    /// makes a table of the session's own (`TemporaryNamespace`).
    case createTemporary(Statement, onCommit: TemporaryOnCommit)
    /// `CREATE TYPE name AS ENUM ('a', …)`, `ALTER TYPE name …`, `DROP TYPE [IF EXISTS] names [CASCADE]`.
    case createEnumType(name: String, labels: [String])
    case alterEnumType(name: String, EnumTypeAlteration)
    case dropType(names: [String], ifExists: Bool, cascade: Bool)
    /// `CREATE DOMAIN`, `ALTER DOMAIN name …`, `DROP DOMAIN [IF EXISTS] names [CASCADE]` (`DomainCatalog`).
    case createDomain(DomainSpec)
    case alterDomain(name: String, DomainAlteration)
    case dropDomains(names: [String], ifExists: Bool, cascade: Bool)
    /// `CREATE [OR REPLACE] FUNCTION … LANGUAGE sql`, `DROP FUNCTION [IF EXISTS] f[(types)], …`,
    /// `ALTER FUNCTION f[(types)] RENAME TO g | OWNER TO r` (`FunctionCatalog`).
    case createFunction(FunctionSpec, orReplace: Bool)
    /// `DO [LANGUAGE plpgsql] $$ … $$`: an anonymous PL/pgSQL block (`Session.runDoBlock`).
    case doBlock(PLBlock)
    case dropFunctions([FunctionReference], ifExists: Bool, cascade: Bool)
    /// `RENAME TO g` (the new name) or `OWNER TO r` (nil: roles own nothing here, so only the
    /// function's existence is checked).
    case alterFunction(FunctionReference, renameTo: String?)
    /// `CREATE [OR REPLACE] TRIGGER … ON table …`, `DROP TRIGGER [IF EXISTS] name ON table`,
    /// `ALTER TRIGGER name ON table RENAME TO new` (`TableTriggers`).
    case createTrigger(TriggerDefinition, table: String, orReplace: Bool)
    case dropTrigger(name: String, table: String, ifExists: Bool)
    case renameTrigger(name: String, table: String, to: String)
    /// `CREATE EXTENSION [IF NOT EXISTS] name …` / `DROP EXTENSION [IF EXISTS] names [CASCADE]`:
    /// records which of the built-in extensions (`ExtensionCatalog`) a database asked for.
    case createExtension(name: String, ifNotExists: Bool)
    case dropExtensions(names: [String], ifExists: Bool)
    /// `CREATE SCHEMA [IF NOT EXISTS] name [AUTHORIZATION role]` (`SchemaCatalog`).
    case createSchema(name: String, ifNotExists: Bool, owner: String?)
    /// `DROP SCHEMA [IF EXISTS] name, … [CASCADE | RESTRICT]`.
    case dropSchemas(names: [String], ifExists: Bool, cascade: Bool)
    /// `ALTER SCHEMA name RENAME TO new`.
    case renameSchema(name: String, to: String)
    case createCollection(name: String, model: InsertModel, ifNotExists: Bool)
    case dropTable(names: [String], ifExists: Bool, kind: String, cascade: Bool)
    /// `SET CONSTRAINTS ALL | name, … DEFERRED | IMMEDIATE` (names nil: ALL).
    case setConstraints(names: [String]?, deferred: Bool)
    /// CASCADE also empties the tables whose foreign keys reference these (and theirs).
    /// `restartIdentity`: the tables' identity and serial sequences start again.
    case truncate(names: [String], cascade: Bool, restartIdentity: Bool)
    case createSequence(name: String, ifNotExists: Bool, options: SequenceOptions)
    case alterSequence(name: String, ifExists: Bool, options: SequenceOptions)
    case renameSequence(name: String, ifExists: Bool, to: String)
    /// `ALTER INDEX [IF EXISTS] name RENAME TO new` (a constraint's index renames its constraint too).
    case renameIndex(name: String, ifExists: Bool, to: String)
    /// `COMMENT ON … IS 'text' | NULL` (nil, or '', removes the comment).
    case comment(on: CommentTarget, text: String?)
    case dropSequence(names: [String], ifExists: Bool, cascade: Bool)
    case alterTable(name: String, ifExists: Bool, actions: [AlterAction])
    /// `name` nil: `CREATE INDEX ON t (…)`, named as PostgreSQL names it. `predicate`: a partial
    /// index's WHERE, as written.
    /// `concurrently`: CREATE INDEX CONCURRENTLY, which builds as any CREATE INDEX does (never
    /// blocking other transactions) but, as in PostgreSQL, cannot run inside a transaction block.
    /// `nullsNotDistinct`: a unique index's NULLS NOT DISTINCT (PostgreSQL 15): NULLs are equal there.
    case createIndex(name: String?, table: String, keys: [IndexKeySpec], unique: Bool, method: String, ifNotExists: Bool, predicate: String?,
                     concurrently: Bool = false, nullsNotDistinct: Bool = false)
    case dropIndex(name: String, table: String?, ifExists: Bool)
    case createView(name: String, orReplace: Bool, ifNotExists: Bool, columns: [String], query: Query, text: String)
    case dropView(name: String, ifExists: Bool, cascade: Bool)
    /// `readOnly`: BEGIN … READ ONLY (writes then fail with 25006). `isolation`: BEGIN ISOLATION
    /// LEVEL … (nil: the session's default).
    case begin(readOnly: Bool, isolation: IsolationLevel? = nil)
    case commit
    case rollback
    case savepoint(String)
    case releaseSavepoint(String)
    case rollbackToSavepoint(String)
    case explain(Statement)
    case kv(KVCommand)
    /// VACUUM or ANALYZE (`tag`, the command tag answered).
    case vacuum(table: String?, tag: String = "VACUUM")
    /// `CHECKPOINT`: writes every committed change into the database file now (`Session`).
    case checkpoint
    /// `LOCK [TABLE] name, … [IN mode MODE] [NOWAIT]`: `mode` upper-cased (`ACCESS SHARE`).
    case lockTable(names: [String], mode: String)
    /// `REFRESH MATERIALIZED VIEW [CONCURRENTLY] name [WITH [NO] DATA]`.
    case refreshMaterializedView(name: String, withData: Bool)
    /// `DROP MATERIALIZED VIEW [IF EXISTS] name, …`.
    case dropMaterializedView(names: [String], ifExists: Bool)
    /// `ALTER … name OWNER TO role`: `kind` is `table`, `view`, `materialized view`, `sequence`, `schema` or `type`.
    case alterOwner(kind: String, name: String, ifExists: Bool, role: String)
    /// `REINDEX INDEX name` / `REINDEX TABLE name` / `REINDEX {SCHEMA | DATABASE | SYSTEM} [name]`
    /// (PostgreSQL's forms): rebuilds the index, every index of the table, or every index there is
    /// (both nil), from the rows; an empty index name is `SYSTEM` (no catalog indexes here).
    /// `outsideBlock` names the form PostgreSQL refuses inside a transaction block (25001):
    /// `REINDEX CONCURRENTLY`, `REINDEX SCHEMA`, `REINDEX DATABASE`, `REINDEX SYSTEM`.
    case reindex(index: String?, table: String?, outsideBlock: String? = nil)
    case show(String)
    /// `SHOW COLUMNS FROM t`: the columns of a collection and their constraints.
    case showColumns(String)
    /// `CREATE VECTOR [IF NOT EXISTS] name DIM n [METRIC m]`; nil metric: cosine.
    case createVector(name: String, ifNotExists: Bool, dimension: Int, metric: VectorMetric?)
    /// `VECTOR SEARCH …` and `SEARCH SIMILAR …`.
    case vectorSearch(VectorSearch)
    /// `GRAPH NEIGHBORHOOD | TRAVERSE | SHORTEST_PATH …`.
    case graph(GraphCommand)
    /// `SEARCH TEXT 'q' [COLLECTION c] [LIMIT n] [FUZZY]`.
    case textSearch(TextSearch)
    /// `SEARCH HYBRID [SIMILAR|VECTOR v] [TEXT 'q'] COLLECTION c [LIMIT n]`.
    case hybridSearch(HybridSearch)
    /// `[EXPLAIN] ASK 'question' …`: answered by an AI provider from retrieved rows.
    case ask(AskStatement)
    /// `SEARCH CONTEXT 'q' [FIELD f] [COLLECTION c] [LIMIT n] [DEPTH d]`.
    case contextSearch(ContextSearch)
    /// A MATCH pattern's bindings, as the FROM item of the query MATCH … RETURN becomes.
    case match(GraphPattern)
}

extension Statement {
    /// `INSERT INTO table (columns) VALUES …, … [RETURNING rid]` with values already in hand
    /// (bulk loads: COPY, RedWire and gRPC bulk inserts): no SQL text is built or parsed.
    /// Names are taken as written, like quoted identifiers. `overriding` as INSERT's clause
    /// (COPY keeps the values given for GENERATED ALWAYS identity columns, as in PostgreSQL).
    /// `statementTriggers`: whether it fires the table's BEFORE and AFTER STATEMENT triggers.
    public static func insertValues(table: String, columns: [String], rows: RowBlock, returningRid: Bool = false,
                                    overriding: IdentityGeneration? = nil, statementTriggers: (before: Bool, after: Bool) = (true, true)) -> Statement {
        var insert = InsertStatement(table: table, model: .row, columns: columns, source: Query(body: .values([])))
        insert.decodedRows = rows
        insert.overriding = overriding
        insert.firesBeforeStatementTriggers = statementTriggers.before
        insert.firesAfterStatementTriggers = statementTriggers.after
        if returningRid { insert.returning = [SelectItem(expr: .column(["rid"]), alias: nil)] }
        return .insert(insert)
    }
}

extension RowBlock {
    /// Rows given one array each, for `Statement.insertValues`: rows of unequal widths are
    /// the 42601 a VALUES list of them is.
    public init<Rows: Swift.Collection>(insertRows rows: Rows) throws where Rows.Element == [Value] {
        guard let block = RowBlock(rows: rows) else { throw RedError(.syntaxError, "VALUES lists must all be the same length") }
        self = block
    }
}
