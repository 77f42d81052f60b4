import Foundation
import RedCore
import RedEngine
import Synchronization

/// The operator's read-only switch (spec ops §1.7): `--read-only`, `RED_READONLY` /
/// `REDDB_READONLY`, or `POST /admin/readonly {"enabled": bool}` at run time. While it is on,
/// every write on every surface fails with 25006 "instance is configured read_only — writes
/// rejected" (HTTP 403, gRPC FAILED_PRECONDITION), as do backups: it fences the engine's
/// commits (`StorageEngine.setWriteFence(by: "read_only")`), so nothing reaches the log
/// however it arrives. Reads go on. A writer-lease fence, when both apply, is the one reported.
///
/// A change made at run time is kept in `<data file>-runtime-state.json` (`{"read_only": bool}`,
/// replaced durably: `DurableFile`) so a restart comes back in the same mode;
/// the flag and the variables turn it on whatever the file says. (Upstream keeps the file as
/// `.runtime-state.json` in the data directory, which two databases there would share.)
///
/// On a replica the switch is recorded and reported but fences nothing: a replica refuses
/// every client write already, and its own apply of the primary's log must go on.
public final class ReadOnlyMode: Sendable {
    private let enabled: Mutex<Bool>
    let statePath: String
    private let engine: StorageEngine
    private let isReplica: Bool

    static let fence = RedError(.readOnlyTransaction,
                                "instance is configured read_only — writes rejected; POST /admin/readonly {\"enabled\": false} lifts it")

    init(configured: Bool, engine: StorageEngine, isReplica: Bool) throws {
        statePath = engine.path + "-runtime-state.json"
        self.engine = engine
        self.isReplica = isReplica
        var persisted = false
        if let data = FileManager.default.contents(atPath: statePath) {
            guard let json = try? JSONValue.parse(utf8: [UInt8](data)), case .object = json else {
                throw RedError(.dataCorrupted, "\(statePath) is not a JSON object; fix or remove it")
            }
            if case .bool(let on)? = json["read_only"] { persisted = on }
        }
        enabled = Mutex(configured || persisted)
        apply(configured || persisted)
    }

    public var isEnabled: Bool { enabled.withLock { $0 } }

    /// Turns the mode on or off, keeping the choice for restarts; returns the previous state.
    /// When the state cannot be kept, nothing changes and the error says why.
    @discardableResult
    public func set(_ on: Bool) throws -> Bool {
        try enabled.withLock { current in
            let previous = current
            try persist(on)
            current = on
            apply(on)
            return previous
        }
    }

    private func apply(_ on: Bool) {
        guard !isReplica else { return }
        engine.setWriteFence(on ? Self.fence : nil, by: "read_only")
    }

    private func persist(_ on: Bool) throws {
        try DurableFile.replace(statePath, with: JSONValue.object([("read_only", .bool(on))]).utf8)
    }
}
