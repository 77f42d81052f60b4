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

extension Database {
    /// After an idle spell (`ServerlessWarmup`): reads the catalog, then every collection and
    /// index in turn, so their pages are in the cache before the first queries need them —
    /// stopping once the cache is full, where reading more would only evict what was read.
    /// Returns the entries read and the cache's resident bytes afterwards.
    public func warmCache() throws -> (entries: Int, residentBytes: Int, complete: Bool) {
        let tx = try engine.begin()
        defer { tx.rollback() }
        let budget = engine.options.cacheBytes
        var entries = 0
        let catalog = try tx.catalogScan()
        while try catalog.next() != nil { entries += 1 }
        for collection in try tx.collections() {
            let cursor = try tx.scan(collection)
            while try cursor.next() != nil {
                entries += 1
                if entries & 1023 == 0, engine.statistics.cache.residentBytes >= budget {
                    return (entries, engine.statistics.cache.residentBytes, false)
                }
            }
        }
        return (entries, engine.statistics.cache.residentBytes, true)
    }
}
