import RedCore

/// A commit that lost to a concurrent one, thrown where commits are ordered (under the tree's
/// exclusive lock), where the collection can only be named by its id. `StorageEngine.commit`
/// turns it into the 40001 the caller sees once it has left the lock, naming the table (or
/// the index and its table) as the user knows it.
struct WriteConflict: Error {
    let collectionID: UInt32
    /// The message, given how to name the collection (`table "users"`).
    let message: @Sendable (String) -> String
}

extension StorageEngine {
    /// Runs `body` (the ordered part of a commit), turning a `WriteConflict` it throws into the
    /// 40001 that names the collection.
    func namingConflicts<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let conflict as WriteConflict { throw serializationFailure(conflict) }
    }

    /// The 40001 for `conflict`.
    func serializationFailure(_ conflict: WriteConflict) -> RedError {
        RedError(.serializationFailure, conflict.message(describeCollection(conflict.collectionID)))
    }

    /// How a message names collection `id`: `table "users"`, `index "users_email_key" of table
    /// "users"` for an index's entries, or `collection id 20` when the catalog no longer holds it.
    /// Reads the catalog as last committed (a rare path: only conflicts come here).
    func describeCollection(_ id: UInt32) -> String {
        let fallback = "collection id \(id)"
        guard let tx = try? begin() else { return fallback }
        defer { tx.rollback() }
        guard let collections = try? tx.collections(), let found = collections.first(where: { $0.id == id }) else { return fallback }
        let parts = found.name.split(separator: "/")
        guard parts.count == 3, parts[0] == "__index", let tableID = UInt32(parts[1]),
              let table = collections.first(where: { $0.id == tableID }) else {
            return found.name.hasPrefix("__") ? fallback : "\"\(found.name)\""
        }
        let index = (try? CollectionSchema.decode(table.metadata, collection: table.name))?.indexes.first { $0.storageName == found.name }
        return index.map { "index \"\($0.name)\" of \"\(table.name)\"" } ?? "an index of \"\(table.name)\""
    }
}
