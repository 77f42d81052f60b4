import Foundation
import RedCore

/// What a collection holds and how: stored as the engine collection's
/// metadata (JSON), so DDL is transactional with the data it describes.
///
/// Columns carry a stable `id` that rows store instead of a position, so
/// ADD, DROP and RENAME COLUMN never rewrite rows: a dropped column's values
/// are simply ignored, a new column reads as its default in old rows.
public struct CollectionSchema: Codable, Sendable, Equatable {
    public enum Model: String, Codable, Sendable { case table, document, kv, vector, graph }

    public var model: Model
    public var columns: [ColumnDefinition]
    public var nextColumnID: UInt16
    public var indexes: [IndexDefinition]
    /// UPDATE and DELETE are refused.
    public var appendOnly: Bool
    /// Applied to inserted rows that name no TTL of their own.
    public var defaultTTLMilliseconds: Int64?
    /// Counter for index collection names (never reused).
    public var nextIndexNumber: UInt32
    /// Set once an item with a TTL is written, so expiry sweeps skip collections that never had one.
    public var hasExpiringItems: Bool?
    /// CHECK constraints, in creation order (nil in schemas written before they existed).
    public var checks: [CheckConstraint]?
    /// Vector collections: the declared dimension (nil: any, fixed by nothing) and metric.
    public var vector: VectorSettings?
    /// FOREIGN KEY constraints of this table (nil in schemas written before they existed).
    public var foreignKeys: [ForeignKeyDefinition]?
    /// The constraints of other tables (or this one) that reference this table.
    public var referencedBy: [ForeignKeyReference]?
    /// `COMMENT ON TABLE`'s text.
    public var comment: String?
    /// A materialized view's query (its SQL text): the table holds that query's rows as of its
    /// last `REFRESH MATERIALIZED VIEW`, and ordinary writes are refused.
    public var materializedQuery: String?
    /// Triggers (`CREATE TRIGGER`; nil in schemas written before they existed).
    public var triggers: [TriggerDefinition]?
    /// `ALTER TABLE … DISABLE TRIGGER ALL`: the foreign keys' checks on this table are off too,
    /// as PostgreSQL's constraint triggers are (those of its own foreign keys, and the actions of
    /// the ones referencing it), until `ENABLE TRIGGER ALL`. nil: on.
    public var foreignKeyChecksDisabled: Bool?

    public init(model: Model, columns: [ColumnDefinition] = [], appendOnly: Bool = false, defaultTTLMilliseconds: Int64? = nil) {
        self.model = model
        self.columns = columns
        self.nextColumnID = UInt16(columns.count + 1)
        self.indexes = []
        self.appendOnly = appendOnly
        self.defaultTTLMilliseconds = defaultTTLMilliseconds
        self.nextIndexNumber = 1
    }

    /// A CHECK constraint: every row written must make `sql`, a boolean expression over the
    /// table's columns kept as its SQL text, true or NULL (PostgreSQL's rule).
    public struct CheckConstraint: Codable, Sendable, Equatable {
        public var name: String
        public var sql: String

        public init(name: String, sql: String) {
            self.name = name
            self.sql = sql
        }
    }

    /// How a vector collection's vectors are compared: `CREATE VECTOR name DIM n METRIC m`.
    public struct VectorSettings: Codable, Sendable, Equatable {
        /// Every vector stored must have this many components (nil for implicitly created collections).
        public var dimension: Int?
        public var metric: VectorMetric

        public init(dimension: Int?, metric: VectorMetric) {
            self.dimension = dimension
            self.metric = metric
        }
    }

    /// Whether `column` is (part of) the primary key, declared on the column or as a table constraint.
    public func isPrimaryKey(_ column: ColumnDefinition) -> Bool {
        column.primaryKey || indexes.contains { $0.primaryKey == true && $0.columnIDs.contains(column.id) }
    }

    /// Whether the table has a primary key.
    public var hasPrimaryKey: Bool { columns.contains(where: \.primaryKey) || indexes.contains { $0.primaryKey == true } }

    public func column(named name: String) -> ColumnDefinition? {
        columns.first { $0.name == name } ?? columns.first { $0.name.lowercased() == name.lowercased() }
    }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(self)) ?? Data())
    }

    public static func decode(_ bytes: [UInt8], collection: String) throws -> CollectionSchema {
        do { return try JSONDecoder().decode(CollectionSchema.self, from: Data(bytes)) } catch {
            throw RedError(.dataCorrupted, "the schema of collection \(collection) does not decode: \(error)")
        }
    }
}

public struct ColumnDefinition: Codable, Sendable, Equatable {
    /// PostgreSQL's name for the column's type where it is narrower than `type`'s stored kind:
    /// its declaration (`int4`, `varchar(20)`, `timestamptz`), or `time` for a TIME column
    /// (stored as text). What PG-wire describes the column and its parameters with.
    public var surfaceTypeName: String? {
        if arrayElement != nil { return elementDeclared.map { $0.surfaceName + "[]" } }
        return declared?.surfaceName ?? (type == .time ? DataType.time.rawValue : nil)
    }

    public var id: UInt16
    public var name: String
    public var type: DataType
    public var notNull: Bool
    public var primaryKey: Bool
    public var unique: Bool
    /// SQL text of the DEFAULT expression, evaluated per inserted row by the query layer.
    public var defaultSQL: String?
    /// SERIAL / BIGSERIAL. Columns made since sequences exist draw from `sequence` through
    /// their default `nextval('…')`; older ones (no `sequence`, no default) take the row's id.
    public var serial: Bool?
    /// ENUM columns: the allowed values (matched case-insensitively, stored as declared).
    public var enumVariants: [String]?
    /// A column of a named enum type (`CREATE TYPE mood AS ENUM …`): the type, whose labels
    /// `enumVariants` holds; its values must match a label exactly, as in PostgreSQL.
    public var enumType: String?
    /// A column declared with a domain (`CREATE DOMAIN`): its name. The column's type and
    /// declaration are the domain's base type's; the domain's constraints are checked on write.
    public var domain: String?
    /// `T[]` columns: the elements' type, each element coerced to it on write (nil for plain
    /// ARRAY columns and those made before it was recorded, whose elements are as given).
    public var arrayElement: DataType?
    /// For a `T[]` column, what `T` declared beyond `arrayElement` (`int4[]`: `int4`); nil for
    /// other columns and those made before it was recorded (`DeclaredType.forArrayElements`).
    public var elementDeclared: DeclaredType?
    /// Identity columns: `ALWAYS` or `BY DEFAULT` (PostgreSQL's GENERATED … AS IDENTITY).
    public var identity: String?
    /// The sequence an identity or serial column draws from (see `SequenceRegistry`).
    public var sequence: String?
    /// `COMMENT ON COLUMN`'s text.
    public var comment: String?
    /// What the PostgreSQL type name declared beyond `type` (`integer`, `varchar(255)`,
    /// `numeric(10,2)`): checked on write, shown in catalogs. nil for `bigint`, `text` and
    /// the like, and for columns made before it was recorded.
    public var declared: DeclaredType?
    /// `GENERATED ALWAYS AS (expression) STORED`: the expression as written, computed from the
    /// row's other columns on every write (see `GeneratedColumns`).
    public var generatedSQL: String?

    public init(id: UInt16, name: String, type: DataType, notNull: Bool = false, primaryKey: Bool = false,
                unique: Bool = false, defaultSQL: String? = nil, serial: Bool = false) {
        self.serial = serial ? true : nil
        self.id = id
        self.name = name
        self.type = type
        self.notNull = notNull || primaryKey
        self.primaryKey = primaryKey
        self.unique = unique
        self.defaultSQL = defaultSQL
    }
}

extension ColumnDefinition {
    /// The value made to fit this column: its type's coercion and declaration (widths,
    /// lengths, scale), plus the ENUM variant check and, for a `T[]` column, each element's
    /// coercion to `T`.
    public func coerce(_ value: Value) throws -> Value {
        var coerced: Value
        if type == .timestamp, declared?.kind != .timestamptz, case .text(let text) = value, let us = CalendarMath.parseTimestamp(text, ignoringZone: true) {
            coerced = .timestamp(us)  // a `timestamp` column keeps the time as written, dropping a zone (pgJDBC sends one)
        } else {
            coerced = try type.coerce(value)
        }
        if let declared { coerced = try declared.fit(coerced) }
        if let element = arrayElement, case .json(.array(let items)) = coerced {
            try PostgresArrayText.checkRectangular(items)
            let elements = try Self.coerceElements(items, to: element)
            guard let elementDeclared else { return .json(.array(elements)) }
            return .json(.array(try Self.fitElements(elements, of: element, to: elementDeclared)))
        }
        guard let variants = enumVariants, case .text(let s) = coerced else { return coerced }
        if let enumType {
            guard variants.contains(s) else { throw RedError(.invalidTextRepresentation, "invalid input value for enum \(enumType): \"\(s)\"") }
            return coerced
        }
        guard let match = variants.first(where: { $0.lowercased() == s.lowercased() }) else {
            throw RedError(.invalidTextRepresentation, "'\(s)' is not a valid variant. Expected one of: \(variants.joined(separator: ", "))")
        }
        return .text(match)
    }

    /// Elements (nested arrays element by element) made to fit `type`; values JSON has no
    /// kind for (timestamps, dates, UUIDs) are kept as their text.
    static func coerceElements(_ items: [JSONValue], to type: DataType) throws -> [JSONValue] {
        try items.map { item in
            switch item {
            case .null: return .null
            case .array(let inner): return .array(try coerceElements(inner, to: type))
            case .string(let s): return try element(type.coerce(.text(s)))
            default: return try element(type.coerce(Value(json: item)))
            }
        }
    }

    private static func element(_ value: Value) -> JSONValue { value.arrayElementJSON }

    /// Elements (nested arrays element by element) fitted to a declaration: an `int4[]`'s in
    /// integer range, a `varchar(3)[]`'s at most 3 characters.
    static func fitElements(_ items: [JSONValue], of type: DataType, to declared: DeclaredType) throws -> [JSONValue] {
        try items.map { item in
            switch item {
            case .null: return .null
            case .array(let inner): return .array(try fitElements(inner, of: type, to: declared))
            case .string(let s): return element(try declared.fit(type.coerce(.text(s))))
            default: return element(try declared.fit(type.coerce(Value(json: item))))
            }
        }
    }
}

public struct IndexDefinition: Codable, Sendable, Equatable {
    public enum Method: String, Codable, Sendable { case btree, hash }
    public var name: String
    public var columnIDs: [UInt16]
    public var unique: Bool
    public var method: Method
    /// The engine collection holding the entries.
    public var storageName: String
    /// Created implicitly for a PRIMARY KEY or UNIQUE column (dropped with the column).
    public var isConstraint: Bool
    /// The table's primary key when it is a table constraint (`PRIMARY KEY (a, b)`, or named);
    /// a single unnamed key column is marked on the column instead (nil in older schemas).
    public var primaryKey: Bool?
    /// An operator's marks (gRPC `MarkIndexBuilding`, `MarkIndexReady`, `MarkIndexStale`,
    /// `FailIndex`, `SetIndexEnabled`): the planner reads through an index only when it is
    /// ready and enabled. Writes keep every index up to date whatever its marks, so marking it
    /// ready again (or `REINDEX`) needs no catch-up. nil: ready, enabled.
    public var status: Status?
    public var enabled: Bool?

    public enum Status: String, Codable, Sendable { case ready, building, stale, failed }
    /// Key parts that are expressions (`lower(email)`), as written, by position in `columnIDs`
    /// (whose entry there is `expressionKey`); nil when every part is a column.
    public var expressions: [String?]?
    /// A partial index's WHERE, as written: only rows it is true for have an entry.
    public var predicate: String?
    /// `COMMENT ON INDEX`'s text.
    public var comment: String?
    /// A unique index's NULLS NOT DISTINCT: rows whose keys hold NULLs are duplicates when
    /// the keys are otherwise equal (nil: NULLs are distinct, PostgreSQL's default).
    public var nullsNotDistinct: Bool?

    /// `columnIDs`' entry for an expression part: no column has this id, so code that matches
    /// indexes to columns never takes an expression for one.
    public static let expressionKey = UInt16.max

    /// Whether queries may read through this index.
    public var servesReads: Bool { (enabled ?? true) && (status ?? .ready) == .ready }
    /// Every part a column and every row in it: the index the planner, foreign keys and
    /// ON CONFLICT can match to columns. An expression or partial index has its entries
    /// computed by an `IndexRowProgram`.
    public var isPlain: Bool { expressions == nil && predicate == nil }

    public init(name: String, columnIDs: [UInt16], unique: Bool, method: Method, storageName: String, isConstraint: Bool) {
        self.name = name
        self.columnIDs = columnIDs
        self.unique = unique
        self.method = method
        self.storageName = storageName
        self.isConstraint = isConstraint
    }
}
