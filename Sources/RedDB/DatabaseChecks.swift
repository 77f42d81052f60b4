import RedCore
import RedEngine
import RedStorage

extension Database {
    /// Checks every index of every collection against its rows (`TableStore.checkIndexes`),
    /// all at one snapshot: writers are never blocked, and what is reported is one moment's
    /// state. Reads the whole database; an operator's tool (`/catalog/consistency`, gRPC
    /// `CatalogConsistency`), not something to poll.
    public func checkIndexes() throws -> [TableIndexCheck] {
        let tx = try engine.begin()
        defer { tx.rollback() }
        return try store.list(tx).map { try store.checkIndexes(tx, $0) }
    }

    /// Checks the B+tree's structure (every page read, under the tree's shared lock: commits
    /// wait until it is done). Throws `dataCorrupted` naming the first violation.
    public func checkStructure() throws -> BTreeReport { try engine.verify() }
}
