@_exported import RedCore
@_exported import RedEngine
@_exported import RedQuery
@_exported import RedStorage

/// The embedded RedDB API: `Database`, `Session`, `QueryResult`.
///
/// ```swift
/// import RedDB
/// let db = try await Database.open(path: "data.rdb")
/// let session = db.session()
/// try await session.execute("CREATE TABLE users (id INT PRIMARY KEY, name TEXT)")
/// try await session.execute("INSERT INTO users (id, name) VALUES ($1, $2)", parameters: [.integer(1), .text("Ada")])
/// let result = try await session.execute("SELECT name FROM users WHERE id = 1")
/// print(result.rows[0][0].displayText)  // Ada
/// try await db.close()
/// ```
public enum RedDB {
    /// The version `red --version` prints.
    public static let version = PostgresCompatibility.redDBVersion
}
