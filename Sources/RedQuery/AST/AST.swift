import RedCore

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

public struct ColumnSpec: Sendable, Equatable {
    public var name: String
    public var type: DataType
    public var notNull = false
    public var primaryKey = false
    public var unique = false
    public var defaultSQL: String?
    /// SERIAL / BIGSERIAL: draws from a sequence the column owns.
    public var serial = false
    /// `GENERATED { ALWAYS | BY DEFAULT } AS IDENTITY [(options)]`.
    public var identity: IdentityGeneration?
    public var identityOptions = SequenceOptions()
    /// An integer type's declared width (`smallint`, `integer`, `bigint`), for its sequence.
    public var integerWidth: String?
    /// `GENERATED ALWAYS AS (expression) STORED`: the expression's text.
    public var generatedSQL: String?
    /// A type name the parser does not know (`mood`): an enum type's or a domain's, resolved
    /// when the statement runs (`type` is then `.enumeration`).
    public var namedType: String?
    /// The domain the column was declared with, once resolved: `type` and the rest are then
    /// its base type's (`DomainCatalog`).
    public var domain: String?
    /// `integer`, `varchar(255)`, `numeric(10,2)`: what the type name declares beyond `type`.
    public var declared: DeclaredType?
    /// ENUM('a', 'b'): the allowed values.
    public var enumVariants: [String] = []
    /// `T[]`: the elements' type.
    public var arrayElement: DataType?
    /// `int4[]`, `varchar(3)[]`: what the element type declared (`ColumnDefinition.elementDeclared`).
    public var elementDeclared: DeclaredType?
    /// Column CHECK constraints (`price NUMERIC CHECK (price > 0)`).
    public var checks: [CheckSpec] = []
    /// `REFERENCES table [(column)] …` on the column.
    public var references: ForeignKeySpec?
}

/// `ALTER TYPE name ADD VALUE [IF NOT EXISTS] 'label' [BEFORE | AFTER 'other']` or `RENAME TO new`.
public enum EnumTypeAlteration: Sendable, Equatable {
    case addValue(String, ifNotExists: Bool, neighbour: String?, before: Bool)
    case rename(String)
}

/// `CREATE DOMAIN name [AS] type [COLLATE c] [DEFAULT expr] [[CONSTRAINT n] NOT NULL | NULL | CHECK (expr)]…`.
public struct DomainSpec: Sendable, Equatable {
    public var name: String
    /// The base type as written (`varchar(20)`, `numeric(10,2)[]`), parsed again where used.
    public var baseType: String
    public var defaultSQL: String?
    public var notNull = false
    public var checks: [CheckSpec] = []
}

/// What `ALTER DOMAIN name …` changes.
public enum DomainAlteration: Sendable, Equatable {
    /// `SET DEFAULT expr` (its text), `DROP DEFAULT` (nil).
    case setDefault(String?)
    /// `SET NOT NULL` (true), `DROP NOT NULL`.
    case setNotNull(Bool)
    /// `ADD [CONSTRAINT n] CHECK (…) [NOT VALID]`: `validate` false for NOT VALID.
    case addCheck(CheckSpec, validate: Bool)
    case dropConstraint(String, ifExists: Bool)
    case renameConstraint(String, to: String)
    case validateConstraint(String)
    case rename(to: String)
}

/// `LIKE source [INCLUDING | EXCLUDING what]…` among CREATE TABLE's elements: the source's
/// columns (names, types, NOT NULL) at that place, and what the options include.
public struct TableLike: Sendable, Equatable {
    public enum Part: String, Sendable, CaseIterable {
        case defaults, constraints, indexes, identity, generated, comments, statistics, storage, compression
    }
    public var table: String
    /// How many of the statement's own columns come before it.
    public var position: Int
    public var including: Set<Part> = []

    public init(table: String, position: Int) {
        self.table = table
        self.position = position
    }
}

/// `CREATE TABLE [IF NOT EXISTS] t [(names…)] AS query [WITH [NO] DATA]`, and
/// `SELECT … INTO t FROM …`: a table with the query's columns, filled with its rows.
/// A temporary table's `ON COMMIT` clause: what each commit does to it.
public enum TemporaryOnCommit: Sendable, Equatable {
    case preserveRows, deleteRows, drop
}

public struct CreateTableAs: Sendable, Equatable {
    public var name: String
    public var ifNotExists: Bool
    /// New names for the first columns (the rest keep the query's).
    public var columnNames: [String]?
    public var query: Query
    /// False for `WITH NO DATA`: the table is created empty.
    public var withData: Bool
    /// For `CREATE MATERIALIZED VIEW`: the query's text, kept for REFRESH.
    public var materializedText: String? = nil
}

/// `[CONSTRAINT name] FOREIGN KEY (columns…) REFERENCES table [(columns…)] [MATCH FULL|SIMPLE]
/// [ON DELETE action] [ON UPDATE action]`, or `REFERENCES …` on a column.
public struct ForeignKeySpec: Sendable, Equatable {
    /// The actions' SQL spellings, as `ForeignKeyDefinition.Action` stores them.
    public enum Action: String, Sendable, Equatable {
        case noAction = "NO ACTION", restrict = "RESTRICT", cascade = "CASCADE", setNull = "SET NULL", setDefault = "SET DEFAULT"
    }

    public var name: String?
    public var columns: [String]
    public var table: String
    /// nil: the referenced table's primary key.
    public var referencedColumns: [String]?
    public var onDelete = Action.noAction
    public var onUpdate = Action.noAction
    public var matchFull = false
    public var deferrable = false
    public var initiallyDeferred = false

    public init(name: String?, columns: [String], table: String, referencedColumns: [String]?) {
        self.name = name
        self.columns = columns
        self.table = table
        self.referencedColumns = referencedColumns
    }
}

/// A table constraint `[CONSTRAINT name] PRIMARY KEY | UNIQUE (columns…)` that is not one
/// unnamed column (that one is marked on its column, as a column constraint would be).
public struct KeySpec: Sendable, Equatable {
    public var name: String?
    public var columns: [String]
    public var primary: Bool
    /// `UNIQUE NULLS NOT DISTINCT (…)`: NULLs equal in the key (PostgreSQL 15).
    public var nullsNotDistinct = false

    public init(name: String?, columns: [String], primary: Bool) {
        self.name = name
        self.columns = columns
        self.primary = primary
    }
}

/// `[CONSTRAINT name] CHECK (expression)`, the expression kept as written.
public struct CheckSpec: Sendable, Equatable {
    public var name: String?
    public var sql: String

    public init(name: String?, sql: String) {
        self.name = name
        self.sql = sql
    }
}

public enum InsertModel: Sendable, Equatable { case row, document, kv, vector, node, edge }

public struct InsertStatement: Sendable, Equatable {
    public static func == (a: InsertStatement, b: InsertStatement) -> Bool {
        a.table == b.table && a.model == b.model && a.columns == b.columns && a.source == b.source && a.ttlMilliseconds == b.ttlMilliseconds
            && a.expiresAt == b.expiresAt && a.returning == b.returning && a.metadata.map(\.0) == b.metadata.map(\.0)
            && a.metadata.map(\.1) == b.metadata.map(\.1) && a.onConflict == b.onConflict && a.decodedRows == b.decodedRows
            && a.autoEmbed == b.autoEmbed && a.overriding == b.overriding
    }
    public var table: String
    public var model: InsertModel
    public var columns: [String]?
    public var source: Query
    public var ttlMilliseconds: Int64?
    public var expiresAt: Expr?
    /// `WITH METADATA (k = v, …)`: keys lower-cased, stored with the item (hidden column `_metadata`).
    public var metadata: [(String, Expr)] = []
    public var returning: [SelectItem]?
    /// `ON CONFLICT [(columns)] DO NOTHING | DO UPDATE SET … [WHERE …]` (PostgreSQL's upsert).
    public var onConflict: OnConflict?
    /// Rows whose values are already in hand (`Statement.insertValues`): inserted as they
    /// are, instead of `source`, with no literal expressions built per value.
    public var decodedRows: ArraySlice<[Value]>?
    /// `WITH AUTO EMBED (fields) [USING provider] [MODEL 'm']`.
    public var autoEmbed: AutoEmbed?
    /// `OVERRIDING SYSTEM VALUE` (.always: values given for GENERATED ALWAYS identity columns
    /// are kept) or `OVERRIDING USER VALUE` (.byDefault: values given for identity columns are
    /// replaced by the sequence's).
    public var overriding: IdentityGeneration?
}

/// `WITH AUTO EMBED (f1, f2, …) [USING provider] [MODEL 'm']` on an INSERT: each inserted
/// row's non-empty text values of the fields, joined by spaces, are embedded (one batched
/// call) and stored in the vector collection `<table>_embeddings`, in the same transaction.
public struct AutoEmbed: Sendable, Equatable {
    public var fields: [String]
    public var provider: String?
    public var model: String?
    public init(fields: [String], provider: String? = nil, model: String? = nil) {
        self.fields = fields
        self.provider = provider
        self.model = model
    }
}

public struct OnConflict: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        case nothing
        case update([Assignment], whereClause: Expr?)
    }
    /// The unique columns whose conflict is handled; empty = any unique index (or `constraint`'s).
    public var columns: [String]
    public var action: Action
    /// `ON CONFLICT ON CONSTRAINT name`: the unique constraint (or unique index) named.
    public var constraint: String? = nil
}

public struct Assignment: Sendable, Equatable {
    public var column: String
    public var op: String
    public var value: Expr
}

public enum AlterAction: Sendable, Equatable {
    case addColumn(ColumnSpec, ifNotExists: Bool)
    case dropColumn(String, ifExists: Bool)
    case renameColumn(String, to: String)
    case renameTable(to: String)
    case setAppendOnly(Bool)
    /// `SET (fillfactor = n)` / `RESET (fillfactor)`: PostgreSQL's page fill target, which RedDB's
    /// B+tree has no use for; accepted (in range) and not kept, as in CREATE TABLE … WITH.
    case setFillFactor
    /// `ADD [CONSTRAINT name] PRIMARY KEY | UNIQUE (columns…)`, checked against existing rows.
    case addConstraint(KeySpec)
    /// `ADD [CONSTRAINT name] CHECK (expression)`, checked against existing rows.
    case addCheck(CheckSpec)
    /// `ADD [CONSTRAINT name] FOREIGN KEY …`, checked against existing rows.
    case addForeignKey(ForeignKeySpec)
    /// `RENAME CONSTRAINT name TO new`: a CHECK, FOREIGN KEY, or PRIMARY KEY/UNIQUE (with its index).
    case renameConstraint(String, to: String)
    /// `VALIDATE CONSTRAINT name`: a no-op, as constraints are validated when added.
    case validateConstraint(String)
    /// `DROP CONSTRAINT [IF EXISTS] name`: a CHECK, PRIMARY KEY, UNIQUE or FOREIGN KEY constraint.
    case dropConstraint(String, ifExists: Bool)
    /// `ALTER [COLUMN] name …`.
    case alterColumn(String, ColumnAlteration)
}

/// An identity column's kind: ALWAYS refuses values given by INSERT (unless OVERRIDING SYSTEM
/// VALUE) and UPDATE; BY DEFAULT takes them.
public enum IdentityGeneration: String, Sendable, Equatable {
    case always = "ALWAYS", byDefault = "BY DEFAULT"
}

/// `ALTER COLUMN c SET GENERATED … / SET option / RESTART …`.
public struct IdentityAlteration: Sendable, Equatable {
    public var generation: IdentityGeneration?
    public var options = SequenceOptions()
}

/// What `ALTER TABLE … ALTER [COLUMN] c` changes.
public enum ColumnAlteration: Sendable, Equatable {
    /// SET DEFAULT expression (its SQL text) or DROP DEFAULT (nil).
    case setDefault(String?)
    /// SET NOT NULL (true) or DROP NOT NULL (false).
    case setNotNull(Bool)
    /// [SET DATA] TYPE t [USING expression].
    /// `namedType`: an enum type's name (`TYPE mood`), resolved when the statement runs.
    case setType(DataType, element: DataType?, enumVariants: [String], declared: DeclaredType?, namedType: String? = nil, using: String?)
    /// ADD GENERATED … AS IDENTITY [(options)].
    case addIdentity(IdentityGeneration, SequenceOptions)
    case setIdentity(IdentityAlteration)
    case dropIdentity(ifExists: Bool)
    /// DROP EXPRESSION [IF EXISTS]: a generated column becomes an ordinary one, keeping its values.
    case dropExpression(ifExists: Bool)
}

public enum KVCommand: Sendable, Equatable {
    case put(collection: String, key: String, value: Expr, ttlMilliseconds: Int64?, ifNotExists: Bool)
    case get(collection: String, key: String)
    case delete(collection: String, key: String)
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
    case dropFunctions([FunctionReference], ifExists: Bool, cascade: Bool)
    /// `RENAME TO g` (the new name) or `OWNER TO r` (nil: roles own nothing here, so only the
    /// function's existence is checked).
    case alterFunction(FunctionReference, renameTo: String?)
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

/// `(a:label {prop: v})-[r:label*1..3]->(b)…`: nodes, and the edges between consecutive ones.
public struct GraphPattern: Sendable, Equatable {
    public struct Node: Sendable, Equatable {
        public var alias: String
        /// Matched against the node's type, case-insensitively; nil: any.
        public var label: String?
        /// Property equalities `{name: value}`.
        public var properties: [Property]
    }

    public struct Property: Sendable, Equatable {
        public var name: String
        public var value: Value
    }

    public struct Edge: Sendable, Equatable {
        public var alias: String
        public var label: String?
        public var direction: GraphDirection
        /// Hops: exactly one by default; `*` is 1…`GraphPattern.maxHops`, `*n` exactly n, `*n..m`.
        public var minHops: Int
        public var maxHops: Int
    }

    /// Longest variable-length edge a pattern may ask for.
    public static let maxHops = 16
    /// Most nodes one pattern may have.
    public static let maxNodes = 32

    public var nodes: [Node]
    /// `edges[i]` joins `nodes[i]` and `nodes[i + 1]`.
    public var edges: [Edge]
}

/// A text ranking and a vector ranking of one collection's items, fused.
public struct HybridSearch: Sendable, Equatable {
    public var collection: String
    public var vector: Expr?
    public var text: Expr?
    /// nil: 10.
    public var limit: Expr?

    public init(collection: String, vector: Expr?, text: Expr?, limit: Expr?) {
        self.collection = collection
        self.vector = vector
        self.text = text
        self.limit = limit
    }
}

/// A ranked full-text search over the text of collections' items.
public struct TextSearch: Sendable, Equatable {
    public var query: Expr
    /// Empty: every collection.
    public var collections: [String]
    /// nil: 10.
    public var limit: Expr?
    /// Terms also match words one edit away (terms of four or more letters).
    public var fuzzy: Bool

    public init(query: Expr, collections: [String], limit: Expr?, fuzzy: Bool) {
        self.query = query
        self.collections = collections
        self.limit = limit
        self.fuzzy = fuzzy
    }
}

/// A graph command over the nodes and edges of graph collections.
public struct GraphCommand: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case neighborhood
        case traverse(depthFirst: Bool)
        case shortestPath(target: Expr, algorithm: GraphPathAlgorithm)
        /// `degree`, `closeness`, `betweenness`, `eigenvector` or `pagerank`.
        case centrality(algorithm: String)
        /// `label_propagation`.
        case community(algorithm: String, maxIterations: Int)
        /// `connected`/`weak` or `strong`.
        case components(strong: Bool)
        case cycles(maxLength: Int)
        case clustering
        case topologicalSort
        /// Whole-graph figures, or with a node reference that node's fields.
        case properties(node: Expr?)
        /// PageRank whose random jumps all land on one node: closeness to it.
        case personalizedPageRank(source: Expr)
        /// Kleinberg's hubs and authorities.
        case hits
    }

    public var kind: Kind
    /// The graph collection; nil: every graph collection.
    public var collection: String?
    /// `PROJECTION name` in place of the collection: that graph projection's view of its source.
    public var projection: String?
    /// The start node: its id, or a label unique in the graph (text or a parameter).
    public var source: Expr
    public var direction: GraphDirection = .outgoing
    /// nil: the command's default (NEIGHBORHOOD 3, TRAVERSE 5).
    public var depth: Expr?
    /// Only edges with one of these labels; nil: every edge.
    public var edgeLabels: [String]?
    /// Analytics: `ORDER BY metric [ASC|DESC]` (the metric already checked) and `LIMIT n`.
    public var orderDescending: Bool?
    /// The ORDER BY metric where a command has several (HITS: `authority`/`score` or `hub`).
    public var orderMetric: String?
    public var limit: Expr?

    public init(kind: Kind, collection: String?, source: Expr) {
        self.kind = kind
        self.collection = collection
        self.source = source
    }
}

public enum GraphDirection: String, Sendable, Equatable { case outgoing, incoming, both }

public enum GraphPathAlgorithm: String, Sendable, Equatable { case bfs, dijkstra, bellmanFord = "bellman_ford" }


/// A nearest-neighbour search over one vector collection (`VECTOR SEARCH` and `SEARCH SIMILAR`).
public struct VectorSearch: Sendable, Equatable {
    /// What the stored vectors are compared with.
    public enum Source: Sendable, Equatable {
        /// An expression yielding a vector: `[0.1, 0.2]`, `$1`, `(SELECT dense FROM …)`.
        case value(Expr)
        /// The stored vector `id` of `collection`: `(docs, 42)` or `docs(42)`.
        case reference(collection: String, id: Expr)
        /// Text to embed first (`SIMILAR TO 'query'`, `SEARCH SIMILAR TEXT 'q'`).
        case text(Expr)
    }

    public var collection: String
    public var source: Source
    /// Over each candidate's `entity_id, score, distance, content, dimension` and metadata fields.
    public var filter: Expr?
    /// nil: the collection's declared metric.
    public var metric: VectorMetric?
    /// `THRESHOLD t` (L2: distance ≤ t, others: score ≥ t); `SEARCH SIMILAR`'s `MIN_SCORE`.
    public var threshold: Expr?
    /// nil: 10.
    public var limit: Expr?
    public var includeVectors = false
    /// `SEARCH SIMILAR`: only `entity_id, score`, and MIN_SCORE is a score bound whatever the metric.
    public var scoresOnly = false
    /// `USING provider`: who embeds a text source (nil: the default provider).
    public var embeddingProvider: String?

    public init(collection: String, source: Source) {
        self.collection = collection
        self.source = source
    }
}

extension Statement {
    /// `INSERT INTO table (columns) VALUES …, … [RETURNING rid]` with values already in hand
    /// (bulk loads: COPY, RedWire and gRPC bulk inserts): no SQL text is built or parsed.
    /// Names are taken as written, like quoted identifiers. `overriding` as INSERT's clause
    /// (COPY keeps the values given for GENERATED ALWAYS identity columns, as in PostgreSQL).
    public static func insertValues(table: String, columns: [String], rows: ArraySlice<[Value]>, returningRid: Bool = false,
                                    overriding: IdentityGeneration? = nil) -> Statement {
        var insert = InsertStatement(table: table, model: .row, columns: columns, source: Query(body: .values([])))
        insert.decodedRows = rows
        insert.overriding = overriding
        if returningRid { insert.returning = [SelectItem(expr: .column(["rid"]), alias: nil)] }
        return .insert(insert)
    }
}


/// `ASK 'question' …` (see ParserAsk.swift). Numbers are literals or parameters.
public struct AskStatement: Sendable, Equatable {
    public enum Cache: Sendable, Equatable {
        /// `CACHE TTL 'd'`: answers may be reused for this long.
        case ttlMilliseconds(Int64)
        /// `NOCACHE`.
        case bypass
    }

    /// Most providers in one `USING` ladder.
    public static let maxProviders = 8

    public var question: Expr
    /// `USING`: tried in order while they fail with retryable errors; empty: the default provider.
    public var providers: [String] = []
    public var model: String?
    public var depth: Expr?
    public var limit: Expr?
    public var minScore: Expr?
    /// `COLLECTION c`: retrieval looks only there.
    public var collection: String?
    public var temperature: Expr?
    public var seed: Expr?
    public var strict = true
    public var stream = false
    public var cache: Cache?
    /// `EXPLAIN ASK`: retrieval and plan only, no provider call.
    public var explain = false

    public init(question: Expr) { self.question = question }
}

/// `SEARCH CONTEXT 'q' [FIELD f] [COLLECTION c] { LIMIT n | DEPTH d }`: every item holding the
/// value, and the graph around the ones that are nodes (see ContextSearchExecutor.swift).
public struct ContextSearch: Sendable, Equatable {
    public var query: Expr
    public var field: String?
    public var collection: String?
    /// Per kind of item; nil: 25.
    public var limit: Expr?
    /// Graph hops from matched nodes; nil: 1.
    public var depth: Expr?
    public init(query: Expr) { self.query = query }
}

/// One part of an index key: a column, or an expression (`lower(email)`, `(a + b)`) kept as
/// its text without the parentheses around it.
public enum IndexKeySpec: Sendable, Equatable {
    case column(String)
    case expression(String)

    /// The name PostgreSQL gives an expression key (in generated index names and the index's
    /// pg_attribute): its function's name for a call (`lower(email)` → `lower`), else `expr`.
    public static func name(ofExpression text: String) -> String {
        let head = text.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
        return !head.isEmpty && text.dropFirst(head.count).first == "(" ? head.lowercased() : "expr"
    }
}

/// What `COMMENT ON` names.
public enum CommentTarget: Sendable, Equatable {
    /// `COMMENT ON EXTENSION e` (every pg_dump of PostgreSQL writes one): accepted and not
    /// kept — an extension's comment is its own description.
    case notKept(String)
    /// `COMMENT ON SCHEMA s`: the schema must exist; its comment is not kept.
    case schema(String)
    case table(String)
    case column(table: String, column: String)
    case index(String)
    case sequence(String)
    /// `COMMENT ON FUNCTION f[(types)]`: kept with the function's definition.
    case function(FunctionReference)
}

/// `CREATE [OR REPLACE] FUNCTION name (arguments) RETURNS … LANGUAGE sql AS 'body' …`, as
/// written; kept as the function's definition (`FunctionCatalog`), so types are their text.
public struct FunctionSpec: Sendable, Equatable, Codable {
    public struct Argument: Sendable, Equatable, Codable {
        /// nil for an unnamed argument, read in the body as `$n`.
        public var name: String?
        /// The type as written (`integer`, `numeric(10,2)`, `text[]`, an enum type's name).
        public var type: String
        /// `DEFAULT expr` / `= expr`: its text.
        public var defaultSQL: String?
        /// `out` or `inout`; nil for an input argument.
        public var mode: String?

        public init(name: String?, type: String, defaultSQL: String? = nil, mode: String? = nil) {
            self.name = name
            self.type = type
            self.defaultSQL = defaultSQL
            self.mode = mode
        }
    }
    public var name: String
    public var arguments: [Argument]
    /// `RETURNS type` / `RETURNS SETOF type`: the type's text; nil for `RETURNS TABLE (…)`.
    public var returnType: String?
    /// `RETURNS SETOF …` or `RETURNS TABLE (…)`: the function gives rows (called in FROM).
    public var returnsSet: Bool
    /// `RETURNS TABLE (name type, …)`: the rows' columns.
    public var tableColumns: [Argument]
    public var language: String
    /// The body's text: what `AS '…'` / `AS $$…$$` holds, or `SELECT expr` for `RETURN expr`.
    public var body: String
    /// `i`mmutable, `s`table or `v`olatile (the default), as `pg_proc.provolatile` says it.
    public var volatility: String
    /// `STRICT` / `RETURNS NULL ON NULL INPUT`: a NULL argument gives NULL without running the body.
    public var strict: Bool
    /// `COMMENT ON FUNCTION`'s text (kept by CREATE OR REPLACE, as in PostgreSQL).
    public var comment: String?
    /// With OUT or INOUT parameters: every parameter's mode in declared order (`i`, `o`, `b`, as
    /// `pg_proc.proargmodes`), `arguments` holding the inputs and `tableColumns` the outputs.
    public var parameterModes: [String]?

    public init(name: String, arguments: [Argument], returnType: String?, returnsSet: Bool, tableColumns: [Argument],
                language: String, body: String, volatility: String, strict: Bool) {
        self.name = name
        self.arguments = arguments
        self.returnType = returnType
        self.returnsSet = returnsSet
        self.tableColumns = tableColumns
        self.language = language
        self.body = body
        self.volatility = volatility
        self.strict = strict
    }
}

/// One function a DROP FUNCTION or ALTER FUNCTION names: its name, and its argument types as
/// written when given (`f(int, text)`), which pick one of several functions of that name.
public struct FunctionReference: Sendable, Equatable {
    public var name: String
    public var argumentTypes: [String]?

    public init(name: String, argumentTypes: [String]?) {
        self.name = name
        self.argumentTypes = argumentTypes
    }
}
