import Foundation

/// Cleanup actions run once, on normal exit or on Ctrl-C / SIGTERM, so that neither the
/// PostgreSQL cluster nor our server outlives the duel, and their directories go too.
public final class DuelCleanup: @unchecked Sendable {
    public static let shared = DuelCleanup()
    private let lock = NSLock()
    private var actions: [(id: Int, action: () -> Void)] = []
    private var nextID = 0
    private var signalSources: [DispatchSourceSignal] = []
    private var interrupted = false

    /// True once Ctrl-C or SIGTERM arrived: the handler is tearing down and will exit 130.
    public var isInterrupted: Bool {
        lock.lock(); defer { lock.unlock() }
        return interrupted
    }

    /// After an interrupt, failures of the run are only the servers going away: park the
    /// caller until the handler's `exit(130)` so that no other exit code or report wins.
    public func parkIfInterrupted() async {
        while isInterrupted { try? await Task.sleep(for: .seconds(1)) }
    }

    /// Registers an action; returns a token for `remove`. Actions run last-registered first.
    @discardableResult
    public func add(_ action: @escaping () -> Void) -> Int {
        lock.lock(); defer { lock.unlock() }
        nextID += 1
        actions.append((nextID, action))
        return nextID
    }

    public func remove(_ id: Int) {
        lock.lock(); defer { lock.unlock() }
        actions.removeAll { $0.id == id }
    }

    /// Runs and forgets every registered action.
    public func runAll() {
        lock.lock()
        let pending = actions.reversed().map(\.action)
        actions.removeAll()
        lock.unlock()
        for action in pending { action() }
    }

    /// On SIGINT or SIGTERM: clean up, then exit 130 (the shell's code for Ctrl-C).
    public func installSignalHandlers() {
        lock.lock(); defer { lock.unlock() }
        guard signalSources.isEmpty else { return }
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [self] in
                lock.lock()
                interrupted = true
                lock.unlock()
                FileHandle.standardError.write(Data("\ninterrupted: stopping the servers it started and removing their data\n".utf8))
                runAll()
                exit(130)
            }
            source.resume()
            signalSources.append(source)
        }
    }
}
