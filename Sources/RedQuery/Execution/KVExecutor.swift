import RedCore
import RedEngine

/// `KV PUT / GET / DELETE` (spec §6.1).
///
/// One key part addresses the default collection `kv_default`; with more
/// parts the first is the collection. PUT creates the collection on first use
/// and overwrites (upsert); GET of a missing or expired key returns one row
/// with a NULL value; DELETE reports whether it deleted (rows affected 0 or 1).
struct KVExecutor {
    let context: ExecutionContext
    var store: TableStore { context.store }
    var tx: Transaction { context.transaction }

    func execute(_ command: KVCommand) throws -> QueryResult {
        switch command {
        case .put(let collection, let key, let valueExpr, let ttl, let ifNotExists):
            let planner = Planner(context: context)
            let value = try context.evaluation([]).evaluate(try planner.bind(valueExpr, BindingContext(scope: Scope([], parent: nil), aggregatesForbiddenIn: "KV PUT")), [])
            let handle = try openOrCreate(collection)
            let existing = try liveItem(handle, key: key)
            let columns = [ResultColumn(name: "ok", type: .boolean), ResultColumn(name: "collection", type: .text),
                           ResultColumn(name: "key", type: .text), ResultColumn(name: "created", type: .boolean)]
            if ifNotExists, existing != nil {
                return QueryResult(columns: columns, rows: [[.boolean(false), .text(collection), .text(key), .boolean(false)]],
                                   rowsAffected: 0, statementType: "insert", commandTag: "INSERT 0 0")
            }
            try put(handle, key: key, value: value, expiresAt: ttl.map { context.now + $0 }, existing: existing)
            return QueryResult(columns: columns, rows: [[.boolean(true), .text(collection), .text(key), .boolean(existing == nil)]],
                               rowsAffected: 1, statementType: existing == nil ? "insert" : "update",
                               commandTag: existing == nil ? "INSERT 0 1" : "UPDATE 1")
        case .get(let collection, let key):
            var value = Value.null
            if let handle = try kvHandle(collection), let row = try store.getKV(tx, handle, key: key), row.isVisible(at: context.now) {
                value = row.values[0] ?? .null
            }
            let columns = StatementExecutor.resultColumns([ScopeColumn(name: "key", type: .text), ScopeColumn(name: "value", type: .any)], [[.text(key), value]])
            return QueryResult(columns: columns, rows: [[.text(key), value]], statementType: "select", commandTag: "SELECT 1")
        case .delete(let collection, let key):
            var deleted = false
            if let handle = try kvHandle(collection), let row = try store.getKV(tx, handle, key: key) {
                deleted = row.isVisible(at: context.now)
                try store.deleteKV(tx, handle, key: key, previous: row)
            }
            return QueryResult(columns: [ResultColumn(name: "key", type: .text), ResultColumn(name: "deleted", type: .boolean)],
                               rows: [[.text(key), .boolean(deleted)]], rowsAffected: deleted ? 1 : 0,
                               statementType: "delete", commandTag: "DELETE \(deleted ? 1 : 0)")
        }
    }

    func kvHandle(_ collection: String) throws -> TableHandle? {
        guard let handle = try store.open(tx, collection) else { return nil }
        guard handle.schema.model == .kv else {
            throw RedError(.invalidOperation, "model mismatch: expected kv, got \(handle.schema.model.rawValue) (\(collection))")
        }
        return handle
    }

    func openOrCreate(_ collection: String) throws -> TableHandle {
        if let handle = try kvHandle(collection) { return handle }
        return try store.create(tx, collection, schema: CollectionSchema(model: .kv))
    }

    /// The item under `key`, unless it is missing or expired.
    func liveItem(_ handle: TableHandle, key: String) throws -> StoredRow? {
        try store.getKV(tx, handle, key: key).flatMap { $0.isVisible(at: context.now) ? $0 : nil }
    }

    /// Writes `value` under `key`, keeping the creation time of the live item it replaces (`existing`).
    func put(_ handle: TableHandle, key: String, value: Value, expiresAt: Int64?, existing: StoredRow?) throws {
        let handle = expiresAt == nil ? handle : try store.noteExpiringItems(tx, handle)
        let row = StoredRow(rid: 0, values: value.isNull ? [:] : [0: value], expiresAt: expiresAt,
                            createdAt: existing?.createdAt ?? context.now, updatedAt: context.now)
        try store.putKV(tx, handle, key: key, row: row, previous: existing)
    }
}
