import RedCore
import RedStorage

/// What an expression or partial index (`CREATE INDEX … ON t (lower(email)) WHERE deleted_at
/// IS NULL`) holds for a row. The engine keeps rows as values by column id and knows no SQL,
/// so the query layer compiles each such index's SQL into one of these
/// (`TableStore.install(indexCompiler:)`), once per opened table definition.
public protocol IndexRowProgram: Sendable {
    /// The index key's values for `row`, in key order; nil when the row has no entry (the
    /// partial index's WHERE is not true for it). Runs inside the writing transaction.
    func keyValues(of row: StoredRow, tx: Transaction, store: TableStore) throws -> [Value]?
}

/// Turns an index definition's SQL into an `IndexRowProgram`.
public protocol IndexProgramCompiler: Sendable {
    /// `tx` is the transaction opening the table, for binding names only: the program runs in
    /// whichever transaction writes.
    func compile(_ index: IndexDefinition, table: String, schema: CollectionSchema, tx: Transaction, store: TableStore) throws -> any IndexRowProgram
}

/// Stands in for a program that could not be made: writes to the table fail with why, rather
/// than leaving an index silently short of entries.
struct UnavailableIndexProgram: IndexRowProgram {
    let error: RedError

    func keyValues(of row: StoredRow, tx: Transaction, store: TableStore) throws -> [Value]? { throw error }
}
