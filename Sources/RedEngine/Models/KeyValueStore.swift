import RedCore

/// KV collections: items keyed by the user's key bytes instead of a rid.
extension TableStore {
    public func getKV(_ tx: Transaction, _ handle: TableHandle, key: String) throws -> StoredRow? {
        guard let bytes = try tx.get(handle.collection, try Self.kvKey(key)) else { return nil }
        return try StoredRow.decode(rid: 0, bytes)
    }

    /// The column a key-value item's value is stored under.
    static let kvValueColumn: UInt16 = 0

    /// `previous`: the live item the key held before, if any (insert vs update, and the
    /// before value, in the change feed).
    public func putKV(_ tx: Transaction, _ handle: TableHandle, key: String, row: StoredRow, previous: StoredRow?) throws {
        try tx.put(handle.collection, try Self.kvKey(key), row.encoded())
        tx.noteChange(PendingChange(collection: handle.name, kind: "kv", operation: previous == nil ? .insert : .update, key: key,
                                    before: previous.map(Self.kvValue), after: Self.kvValue(row)))
    }

    /// `previous`: the item being deleted, when the caller has read it (its value goes to the change feed).
    @discardableResult
    public func deleteKV(_ tx: Transaction, _ handle: TableHandle, key: String, previous: StoredRow? = nil) throws -> Bool {
        let deleted = try tx.delete(handle.collection, try Self.kvKey(key))
        if deleted {
            tx.noteChange(PendingChange(collection: handle.name, kind: "kv", operation: .delete, key: key, before: previous.map(Self.kvValue)))
        }
        return deleted
    }

    static func kvValue(_ row: StoredRow) -> Value { row.values[kvValueColumn] ?? .null }

    /// Deletes a row found by a scan, whatever the collection's key scheme.
    public func deleteScanned(_ tx: Transaction, _ handle: TableHandle, key: [UInt8], row: StoredRow) throws {
        if handle.schema.model == .kv {
            if try tx.delete(handle.collection, key) {
                tx.noteChange(PendingChange(collection: handle.name, kind: "kv", operation: .delete, key: String(decoding: key, as: UTF8.self),
                                            before: Self.kvValue(row)))
            }
        } else {
            try delete(tx, handle, row)
        }
    }

    static func kvKey(_ key: String) throws -> [UInt8] {
        let bytes = Array(key.utf8)
        guard !bytes.isEmpty, bytes.count <= Limits.maxKeyBytes else {
            throw RedError(.limitExceeded, "KV keys must be 1 to \(Limits.maxKeyBytes) bytes, got \(bytes.count)")
        }
        return bytes
    }
}
