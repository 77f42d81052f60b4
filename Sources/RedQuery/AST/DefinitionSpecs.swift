import RedCore

// What DDL statements define, as the parser gives it: columns, constraints, types,
// domains, ALTER actions, index keys, comments and functions (the syntax tree, `AST.swift`).

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

public enum AlterAction: Sendable, Equatable {
    /// `ENABLE TRIGGER name` / `DISABLE TRIGGER name`; nil name: `ALL` or `USER` (every trigger).
    /// `ENABLE | DISABLE TRIGGER name | USER | ALL`: `name` nil for USER and ALL; `constraints`
    /// for ALL, which switches the foreign keys' checks too.
    case setTriggersEnabled(name: String?, Bool, constraints: Bool = false)
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
