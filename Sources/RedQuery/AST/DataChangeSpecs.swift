import RedCore

// The parts of INSERT and UPDATE statements (the syntax tree, `AST.swift`).

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
    public var decodedRows: RowBlock?
    /// `WITH AUTO EMBED (fields) [USING provider] [MODEL 'm']`.
    public var autoEmbed: AutoEmbed?
    /// `OVERRIDING SYSTEM VALUE` (.always: values given for GENERATED ALWAYS identity columns
    /// are kept) or `OVERRIDING USER VALUE` (.byDefault: values given for identity columns are
    /// replaced by the sequence's).
    public var overriding: IdentityGeneration?
    /// Whether the statement fires its table's BEFORE and AFTER STATEMENT triggers: a COPY run
    /// as several statements fires them once, around them all (`Statement.insertValues`).
    public var firesBeforeStatementTriggers = true
    public var firesAfterStatementTriggers = true
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
