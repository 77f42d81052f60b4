import RedCore
import RedEngine
import RedQuery

/// What the session's SQL can name, for surfaces that look a target up before they run
/// statements (COPY, RedWire's typed requests) or list the catalog (PG-wire, HTTP, MCP).
extension Session {
    /// The table or collection `name` is in this session's SQL (a temporary table first; its
    /// open transaction's view, with uncommitted DDL), or nil. COPY and the binary surfaces
    /// look their targets up with it.
    public func collection(named name: String) async throws -> CollectionInfo? {
        await lock.lock()
        defer { lock.unlock() }
        let handle: TableHandle?
        switch state {
        case .active(let tx), .failed(let tx):
            handle = try database.store.open(tx, name)
        case .idle:
            let tx = try beginTransaction()
            defer { tx.rollback() }
            handle = try database.store.open(tx, name)
        }
        return handle.map { CollectionInfo(name: $0.name, schema: $0.schema) }
    }

    /// The collections this session can see (its open transaction's, with uncommitted DDL),
    /// ordered by name. Catalog emulations (PG-wire's pg_catalog, HTTP's listing) read this.
    public func collections() async throws -> [CollectionInfo] {
        await lock.lock()
        defer { lock.unlock() }
        let list: [TableHandle]
        switch state {
        case .active(let tx), .failed(let tx):
            list = try database.store.list(tx)
        case .idle:
            let tx = try beginTransaction()
            defer { tx.rollback() }
            list = try database.store.list(tx)
        }
        return list.map { CollectionInfo(name: $0.name, schema: $0.schema) }.sorted { $0.name < $1.name }
    }
}
