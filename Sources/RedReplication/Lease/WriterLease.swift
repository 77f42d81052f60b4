import Foundation
import RedCore

/// The writer lease (spec ops §1.10): one blob on a compare-and-swap backend naming which
/// server may write. It is the fencing token, not an election: a server started with
/// `RED_LEASE_REQUIRED=true` writes only while it holds the lease, and a replica promoted by
/// an operator (`POST /admin/failover/promote`) takes it, after which the old primary's next
/// refresh fails and it fences itself (every commit refused).
///
/// Blob `<RED_LEASE_PREFIX, leases/><RED_REMOTE_KEY>.lease.json`:
/// `{"database_key", "holder_id", "generation", "acquired_at_ms", "expires_at_ms", "nonce"}`.
/// Every acquisition raises `generation` and draws a new `nonce` (ours: it tells two processes
/// with one holder id apart, and a write whose reply was lost from one that lost a race); a
/// refresh keeps both and extends `expires_at_ms`. Releasing writes the lease back expired
/// rather than deleting it, so generations only grow.
public struct WriterLease: Sendable, Equatable {
    public var databaseKey: String
    public var holderID: String
    public var generation: UInt64
    public var acquiredAtMilliseconds: Int64
    public var expiresAtMilliseconds: Int64
    public var nonce: String = UUID().uuidString.lowercased()

    public var json: JSONValue {
        .object([("database_key", .string(databaseKey)), ("holder_id", .string(holderID)), ("generation", .integer(Int64(generation))),
                 ("acquired_at_ms", .integer(acquiredAtMilliseconds)), ("expires_at_ms", .integer(expiresAtMilliseconds)),
                 ("nonce", .string(nonce))])
    }

    /// The same acquisition (holder, generation and nonce), whatever its expiry.
    func isSameAcquisition(as other: WriterLease) -> Bool {
        holderID == other.holderID && generation == other.generation && nonce == other.nonce
    }
}

extension WriterLease {
    init(bytes: [UInt8], key: String) throws {
        let fields = try ManifestFields(ManifestFields.load(bytes, key: key), key)
        databaseKey = try fields.string("database_key")
        holderID = try fields.string("holder_id")
        generation = UInt64(try fields.integer("generation"))
        acquiredAtMilliseconds = try fields.integer("acquired_at_ms")
        expiresAtMilliseconds = try fields.integer("expires_at_ms")
        nonce = (try? fields.string("nonce")) ?? ""
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
    /// The same holder may take its own live lease again (a restart): a new generation and
    /// nonce, which the old process's next refresh finds.
    public func acquire(holder: String, ttlMilliseconds: Int64) async throws -> WriterLease {
        let stored = try await backend.getVersioned(key)
        let existing = try stored.map { try WriterLease(bytes: $0.bytes, key: key) }
        let time = now()
        if let existing, existing.holderID != holder, existing.expiresAtMilliseconds > time {
            throw Self.held(existing)
        }
        let lease = WriterLease(databaseKey: databaseKey, holderID: holder, generation: (existing?.generation ?? 0) + 1,
                                acquiredAtMilliseconds: time, expiresAtMilliseconds: time + ttlMilliseconds)
        if try await backend.put(key, bytes: lease.json.utf8, ifVersion: stored?.version) { return lease }
        // Refused: either another acquirer won, or this write landed and its reply was lost
        // (then a retry found its own lease): the lease read back says which.
        let winner = try await current()
        if winner == lease { return lease }
        if let winner, winner.holderID != holder, winner.expiresAtMilliseconds > now() { throw Self.held(winner) }
        throw RedError(.serializationFailure, "lost a race for the writer lease \(key); try again")
    }

    /// Extends `lease` by `ttlMilliseconds`; fails (readOnlyTransaction) when it is no longer
    /// the stored acquisition.
    public func refresh(_ lease: WriterLease, ttlMilliseconds: Int64) async throws -> WriterLease {
        guard let stored = try await backend.getVersioned(key) else { throw Self.stale(lease, current: nil) }
        let current = try WriterLease(bytes: stored.bytes, key: key)
        guard current.isSameAcquisition(as: lease) else { throw Self.stale(lease, current: current) }
        var renewed = current
        renewed.expiresAtMilliseconds = now() + ttlMilliseconds
        if try await backend.put(key, bytes: renewed.json.utf8, ifVersion: stored.version) { return renewed }
        let after = try await self.current()
        if after == renewed { return renewed }  // this write landed; its reply was lost
        guard let after, after.isSameAcquisition(as: lease) else { throw Self.stale(lease, current: after) }
        throw RedError(.ioError, "the writer lease \(key) changed while it was refreshed; trying again")
    }

    /// Gives the lease up, if it is still `lease`: writes it back already expired, keeping its
    /// generation, so the next holder need not wait and generations never go back.
    public func release(_ lease: WriterLease) async throws {
        guard let stored = try await backend.getVersioned(key), let current = try? WriterLease(bytes: stored.bytes, key: key),
              current.isSameAcquisition(as: lease) else { return }
        var released = current
        released.expiresAtMilliseconds = 0
        _ = try await backend.put(key, bytes: released.json.utf8, ifVersion: stored.version)
    }

    static func held(_ lease: WriterLease) -> RedError {
        RedError(.invalidOperation, "the writer lease is held by \(lease.holderID) (generation \(lease.generation)) until \(lease.expiresAtMilliseconds) ms")
    }

    static func stale(_ lease: WriterLease, current: WriterLease?) -> RedError {
        let now = current.map { "\($0.holderID) holds it now (generation \($0.generation))" } ?? "nobody holds it now"
        return RedError(.readOnlyTransaction, "writer lease not held: generation \(lease.generation) of \(lease.holderID) was replaced; \(now)")
    }
}
