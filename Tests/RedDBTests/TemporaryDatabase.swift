import Foundation

/// A fresh directory for a test's database file, removed when `body` returns: tests that
/// close a database and open it again need a real path.
func withTemporaryDatabasePath<T>(_ name: String, _ body: (String) async throws -> T) async throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reddb-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try await body(dir.appendingPathComponent("data.rdb").path)
}
