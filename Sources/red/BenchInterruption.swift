import Foundation
import RedBench

/// Runs a bench so that Ctrl-C or SIGTERM leaves nothing behind: the `red server`s and
/// PostgreSQL clusters it starts stop (they register with `DuelCleanup` themselves), and
/// `scratch`, the directory of its data, is removed; then the process exits 130.
///
/// Why: a bench removed its directory in a `defer`, which a signal never runs. An interrupted
/// `red bench storage` left its databases (gigabytes at the default sizes) in `--dir`, and an
/// interrupted `red bench replication` left its primary and replica running.
func runRemovingOnInterrupt<T>(scratch: String?, _ body: () async throws -> T) async throws -> T {
    DuelCleanup.shared.installSignalHandlers()
    if let scratch { DuelCleanup.shared.add { try? FileManager.default.removeItem(atPath: scratch) } }
    defer { DuelCleanup.shared.runAll() }
    do {
        return try await body()
    } catch {
        await DuelCleanup.shared.parkIfInterrupted()  // the handler is tearing down and exits 130
        throw error
    }
}
