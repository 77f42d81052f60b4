import Foundation
import RedCore
@testable import RedReplication
import Synchronization

/// A directory backend that misbehaves on demand, for the backup and lease tests:
/// - `unreachable`: every call fails, as with a store that cannot be reached;
/// - `refuseHeadWrites`: writes of `…head.json` fail (the segments before them land);
/// - `stall()`: versioned reads stall (ignoring cancellation) until `unstall()`;
/// - `loseConditionalReplies`: a conditional write lands but answers "precondition failed",
///   as a retry of a write whose reply was lost does.
final class MisbehavingBackend: ConditionalBackend {
    let inner: FileSystemBackend
    let unreachable = Mutex(false)
    let refuseHeadWrites = Mutex(false)
    let loseConditionalReplies = Mutex(false)
    /// While set, versioned reads wait here (a store that stopped answering) until `unstall()`.
    private let stalled = Mutex<[CheckedContinuation<Void, Never>]?>(nil)
    /// How many reads are waiting in the stall.
    let stalledReads = Atomic<Int>(0)

    func stall() { stalled.withLock { $0 = $0 ?? [] } }
    func unstall() {
        let waiting = stalled.withLock { waiting in defer { waiting = nil }; return waiting ?? [] }
        waiting.forEach { $0.resume() }
    }

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
        // A stall cancellation cannot cut short, as a stuck system call's.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let waits = stalled.withLock { waiting -> Bool in
                guard waiting != nil else { return false }
                waiting!.append(done)
                return true
            }
            if waits { stalledReads.add(1, ordering: .relaxed) } else { done.resume() }
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
