import Foundation
import RedCore

/// The writer lease (spec ops §1.10): one blob on a compare-and-swap backend naming which
/// server may write. It is the fencing token, not an election: a server started with
/// `RED_LEASE_REQUIRED=true` writes only while it holds the lease, and a replica promoted by
/// an operator (`POST /admin/failover/promote`) takes it, after which the old primary's next
/// refresh fails and it fences itself (every commit refused).
///
/// Blob `<RED_LEASE_PREFIX, leases/><RED_REMOTE_KEY>.lease.json`:
/// `{"database_key", "holder_id", "generation", "acquired_at_ms", "expires_at_ms"}`. Every
/// acquisition raises `generation`; a refresh keeps it and extends `expires_at_ms`.
public struct WriterLease: Sendable, Equatable {
    public var databaseKey: String
    public var holderID: String
    public var generation: UInt64
    public var acquiredAtMilliseconds: Int64
    public var expiresAtMilliseconds: Int64

    public var json: JSONValue {
        .object([("database_key", .string(databaseKey)), ("holder_id", .string(holderID)), ("generation", .integer(Int64(generation))),
                 ("acquired_at_ms", .integer(acquiredAtMilliseconds)), ("expires_at_ms", .integer(expiresAtMilliseconds))])
    }

    init(databaseKey: String, holderID: String, generation: UInt64, acquiredAtMilliseconds: Int64, expiresAtMilliseconds: Int64) {
        self.databaseKey = databaseKey
        self.holderID = holderID
        self.generation = generation
        self.acquiredAtMilliseconds = acquiredAtMilliseconds
        self.expiresAtMilliseconds = expiresAtMilliseconds
    }

    init(bytes: [UInt8], key: String) throws {
        let fields = try ManifestFields(ManifestFields.load(bytes, key: key), key)
        databaseKey = try fields.string("database_key")
        holderID = try fields.string("holder_id")
        generation = UInt64(try fields.integer("generation"))
        acquiredAtMilliseconds = try fields.integer("acquired_at_ms")
        expiresAtMilliseconds = try fields.integer("expires_at_ms")
    }
}

/// Acquires, refreshes and releases the lease with compare-and-swap writes.
public struct LeaseStore: Sendable {
    public let backend: any ConditionalBackend
    public let key: String
    public let databaseKey: String
    let now: @Sendable () -> Int64

    /// `prefix` (`RED_LEASE_PREFIX`, `leases/`) + `databaseKey` (`RED_REMOTE_KEY`) + `.lease.json`.
    public init(backend: any ConditionalBackend, prefix: String = "leases/", databaseKey: String,
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.backend = backend
        self.databaseKey = databaseKey
        key = (prefix.hasSuffix("/") ? prefix : prefix + "/") + databaseKey + ".lease.json"
        self.now = now
    }

    /// The lease as stored, if any.
    public func current() async throws -> WriterLease? {
        try await backend.getVersioned(key).map { try WriterLease(bytes: $0.bytes, key: key) }
    }

    /// Takes the lease for `holder` unless another holder's lease is still live (the error
    /// names that holder). A lost race with another acquirer throws serializationFailure.
    public func acquire(holder: String, ttlMilliseconds: Int64) async throws -> WriterLease {
        let stored = try await backend.getVersioned(key)
        let existing = try stored.map { try WriterLease(bytes: $0.bytes, key: key) }
        let time = now()
        if let existing, existing.holderID != holder, existing.expiresAtMilliseconds > time {
            throw Self.held(existing)
        }
        let lease = WriterLease(databaseKey: databaseKey, holderID: holder, generation: (existing?.generation ?? 0) + 1,
                                acquiredAtMilliseconds: time, expiresAtMilliseconds: time + ttlMilliseconds)
        guard try await backend.put(key, bytes: lease.json.utf8, ifVersion: stored?.version) else {
            if let winner = try await current(), winner.holderID != holder { throw Self.held(winner) }
            throw RedError(.serializationFailure, "lost a race for the writer lease \(key); try again")
        }
        // Read back: the lease must be exactly ours.
        guard try await current() == lease else { throw RedError(.serializationFailure, "lost a race for the writer lease \(key); try again") }
        return lease
    }

    /// Extends `lease` by `ttlMilliseconds`; fails when it is no longer the stored one.
    public func refresh(_ lease: WriterLease, ttlMilliseconds: Int64) async throws -> WriterLease {
        guard let stored = try await backend.getVersioned(key) else { throw Self.stale(lease, current: nil) }
        let current = try WriterLease(bytes: stored.bytes, key: key)
        guard current.holderID == lease.holderID, current.generation == lease.generation else { throw Self.stale(lease, current: current) }
        var renewed = current
        renewed.expiresAtMilliseconds = now() + ttlMilliseconds
        guard try await backend.put(key, bytes: renewed.json.utf8, ifVersion: stored.version) else {
            throw Self.stale(lease, current: try await self.current())
        }
        return renewed
    }

    /// Gives the lease up, if it is still `lease`.
    public func release(_ lease: WriterLease) async throws {
        guard let stored = try await backend.getVersioned(key), let current = try? WriterLease(bytes: stored.bytes, key: key),
              current.holderID == lease.holderID, current.generation == lease.generation else { return }
        _ = try await backend.delete(key, ifVersion: stored.version)
    }

    static func held(_ lease: WriterLease) -> RedError {
        RedError(.invalidOperation, "the writer lease is held by \(lease.holderID) (generation \(lease.generation)) until \(lease.expiresAtMilliseconds) ms")
    }

    static func stale(_ lease: WriterLease, current: WriterLease?) -> RedError {
        let now = current.map { "\($0.holderID) holds it now (generation \($0.generation))" } ?? "nobody holds it now"
        return RedError(.readOnlyTransaction, "writer lease not held: generation \(lease.generation) of \(lease.holderID) was replaced; \(now)")
    }
}
