import Foundation

/// `body`'s result, computed on a thread of its own rather than on one of Swift's pool.
///
/// Why: tests wait for the programs they start (pgbench, `red bench`, Python and Java clients)
/// with blocking calls (`waitUntilExit`, `readDataToEndOfFile`). On two cores the pool has two
/// threads; a full run showed one core idle for 85 of its 245 seconds while such waits held a
/// pool thread, and every other test's task waited for the one left. A wait on a thread of its
/// own holds no pool thread.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
