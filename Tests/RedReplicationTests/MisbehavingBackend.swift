import Foundation
import RedCore
@testable import RedReplication
import Synchronization

/// A directory backend that misbehaves on demand, for the backup and lease tests:
/// - `unreachable`: every call fails, as with a store that cannot be reached;
/// - `refuseHeadWrites`: writes of `…head.json` fail (the segments before them land);
/// - `hang`: versioned reads stall (ignoring cancellation);
/// - `loseConditionalReplies`: a conditional write lands but answers "precondition failed",
///   as a retry of a write whose reply was lost does.
final class MisbehavingBackend: ConditionalBackend {
    let inner: FileSystemBackend
    let unreachable = Mutex(false)
    let refuseHeadWrites = Mutex(false)
    let loseConditionalReplies = Mutex(false)
    /// Every versioned read hangs this long first (a store that stopped answering).
    let hang = Mutex<Duration?>(nil)

    init(_ inner: FileSystemBackend) { self.inner = inner }

    var description: String { "misbehaving " + inner.description }

    private func check() throws {
        if unreachable.withLock({ $0 }) { throw RedError(.ioError, "backend unreachable") }
    }

    func put(_ key: String, bytes: [UInt8]) async throws {
        try check()
        if key.hasSuffix("head.json"), refuseHeadWrites.withLock({ $0 }) { throw RedError(.ioError, "head write refused") }
        try await inner.put(key, bytes: bytes)
    }
    func putFile(_ key: String, from path: String) async throws { try check(); try await inner.putFile(key, from: path) }
    func get(_ key: String) async throws -> [UInt8]? { try check(); return try await inner.get(key) }
    func getFile(_ key: String, to path: String) async throws -> Bool { try check(); return try await inner.getFile(key, to: path) }
    func list(prefix: String) async throws -> [String] { try check(); return try await inner.list(prefix: prefix) }
    func delete(_ key: String) async throws { try check(); try await inner.delete(key) }
    func getVersioned(_ key: String) async throws -> (bytes: [UInt8], version: String)? {
        try check()
        if let hang = hang.withLock({ $0 }) {
            // A stall cancellation cannot cut short, as a stuck system call's.
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(hang.components.seconds * 1000))) { done.resume() }
            }
        }
        return try await inner.getVersioned(key)
    }
    func put(_ key: String, bytes: [UInt8], ifVersion version: String?) async throws -> Bool {
        try check()
        let written = try await inner.put(key, bytes: bytes, ifVersion: version)
        return loseConditionalReplies.withLock { $0 } ? false : written
    }
    func delete(_ key: String, ifVersion version: String) async throws -> Bool { try check(); return try await inner.delete(key, ifVersion: version) }
}
