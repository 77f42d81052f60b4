import RedCore
import RedEngine
import RedQuery

/// What the session's SQL can name, for surfaces that look a target up before they run
/// statements (COPY, RedWire's typed requests) or list the catalog (PG-wire, HTTP, MCP).
extension Session {
    /// `read` through the open transaction (which sees its own uncommitted DDL), or through a
    /// fresh one of the session, rolled back after. The caller holds the session lock.
    func readCatalog<T>(_ read: (Transaction) throws -> T) throws -> T {
        switch state {
        case .active(let tx), .failed(let tx):
            return try read(tx)
        case .idle:
            let tx = try beginTransaction()
            defer { tx.rollback() }
            return try read(tx)
        }
    }

    /// The table or collection `name` is in this session's SQL (a temporary table first; its
    /// open transaction's view, with uncommitted DDL), or nil. COPY and the binary surfaces
    /// look their targets up with it.
    public func collection(named name: String) async throws -> CollectionInfo? {
        await lock.lock()
        defer { lock.unlock() }
        return try readCatalog { try database.store.open($0, name) }.map { CollectionInfo(name: $0.name, schema: $0.schema) }
    }

    /// The collections this session can see (its open transaction's, with uncommitted DDL),
    /// ordered by name. Catalog emulations (PG-wire's pg_catalog, HTTP's listing) read this.
    public func collections() async throws -> [CollectionInfo] {
        await lock.lock()
        defer { lock.unlock() }
        return try readCatalog { try database.store.list($0) }.map { CollectionInfo(name: $0.name, schema: $0.schema) }.sorted { $0.name < $1.name }
    }
}
