import RedCore

/// A FOREIGN KEY constraint, kept in the referencing (child) table's schema: every row's
/// `columnIDs` values, unless one is NULL (MATCH SIMPLE) or any is (MATCH FULL: all or none),
/// must equal the `referencedColumnIDs` values of a row of `referencedTable`, which holds a
/// unique index over exactly those columns.
///
/// The referenced (parent) table lists the constraint in `CollectionSchema.referencedBy`, so a
/// DELETE or UPDATE there finds the tables to check without reading every schema. Tables are
/// named, not numbered (collections are opened by name): renaming either table rewrites the
/// other's entry in the same transaction.
///
/// The child keeps an index whose leading columns are `columnIDs` (its own, or `indexName`
/// made for the constraint): a parent's DELETE finds the children through it, and guards
/// that range of index keys against concurrent inserts (`Transaction.guardUnchanged`).
public struct ForeignKeyDefinition: Codable, Sendable, Equatable {
    /// What a DELETE or key UPDATE of a referenced row does to the rows referencing it.
    public enum Action: String, Codable, Sendable {
        /// Fail (23503) if referencing rows remain when the statement ends.
        case noAction = "NO ACTION"
        /// Fail (23503) if any row referenced it, even one the statement put back.
        case restrict = "RESTRICT"
        /// Delete the referencing rows, or give them the new key.
        case cascade = "CASCADE"
        case setNull = "SET NULL"
        case setDefault = "SET DEFAULT"
    }

    public var name: String
    public var columnIDs: [UInt16]
    public var referencedTable: String
    /// Parallel to `columnIDs`.
    public var referencedColumnIDs: [UInt16]
    public var onDelete: Action
    public var onUpdate: Action
    /// MATCH FULL: a key is either all NULL (no reference) or has no NULL (nil: MATCH SIMPLE).
    public var matchFull: Bool?
    /// The child index made for this constraint (none of the table's served), dropped with it.
    public var indexName: String?
    /// DEFERRABLE: SET CONSTRAINTS may move its checks to COMMIT (nil: NOT DEFERRABLE).
    public var deferrable: Bool?
    /// INITIALLY DEFERRED: its checks wait for COMMIT unless SET CONSTRAINTS says otherwise.
    public var initiallyDeferred: Bool?

    public init(name: String, columnIDs: [UInt16], referencedTable: String, referencedColumnIDs: [UInt16],
                onDelete: Action, onUpdate: Action, matchFull: Bool) {
        self.name = name
        self.columnIDs = columnIDs
        self.referencedTable = referencedTable
        self.referencedColumnIDs = referencedColumnIDs
        self.onDelete = onDelete
        self.onUpdate = onUpdate
        self.matchFull = matchFull ? true : nil
    }
}

/// A referenced table's note of one constraint naming it (`CollectionSchema.referencedBy`).
public struct ForeignKeyReference: Codable, Sendable, Equatable, Hashable {
    /// The referencing table.
    public var table: String
    /// The constraint's name there.
    public var constraint: String

    public init(table: String, constraint: String) {
        self.table = table
        self.constraint = constraint
    }
}
