@_exported import RedCore
@_exported import RedEngine
@_exported import RedStorage

/// The embedded RedDB API.
///
/// Today this is the transactional storage engine (`StorageEngine`,
/// `Transaction`, `Collection`); the SQL `Database`/`Session` API arrives
/// with the query layer and is built on exactly these types.
///
/// ```swift
/// import RedDB
/// let engine = try await StorageEngine.open(path: "data.rdb")
/// try await engine.transaction { tx in
///     let users = try tx.collectionIfExists(named: "users") ?? tx.createCollection("users")
///     try tx.put(users, Array("alice".utf8), Array("30".utf8))
/// }
/// try await engine.close()
/// ```
public enum RedDB {
    /// The version `red --version` prints.
    public static let version = "0.1.0"
}
