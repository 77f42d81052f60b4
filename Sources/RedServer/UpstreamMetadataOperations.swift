import Foundation
import RedCore
import RedDB
import RedEngine
import RedReplication

/// The last six rpcs of upstream's schema, which name parts of upstream's own file layout
/// (its physical-metadata sidecar and its "manifest" of changes per snapshot) and a
/// HEAD-only preset list. Each is built with the meaning that fits this engine, as the
/// other `Native…` rpcs are (docs/server.md, "Upstream's metadata rpcs"):
/// - `Manifest {collection, kind, since_snapshot}` / `GET /manifest`: the changes committed
///   to the data, from the change feed, since a snapshot (`snapshot-<unix ms>` is snapshot
///   `<unix ms>` here), of one collection and one kind (`insert`, `update`, `delete`, or
///   upstream's `remove`);
/// - `NativeManifestSummary` / `GET /physical/manifest`: that feed counted;
/// - `NativeMetadataStateSummary` / `GET /physical/metadata-state`: the header, the collection
///   registry and the snapshots and exports beside the file, counted;
/// - `RebuildPhysicalMetadata` / `POST /physical/rebuild`: both header slots rewritten, the
///   B+tree verified and every index that disagrees with its rows rebuilt;
/// - `DeploymentProfiles {profile}` / `GET /deployment/profiles`: see `DeploymentProfiles`;
/// - `ReplicationSnapshot` / `GET /replication/snapshot`: see `replicationSnapshot`.
extension CollectionOperations {
    static let maxManifestEvents = 1_000

    func manifest(collection: String, kind: String, sinceSnapshot: UInt64?) throws -> JSONValue {
        let operation: ChangeEvent.Operation?
        switch kind.lowercased() {
        case "": operation = nil
        case "insert": operation = .insert
        case "update": operation = .update
        case "delete", "remove": operation = .delete
        default: throw RedError(.invalidArgument, "kind must be insert, update, delete (or remove), got \"\(kind)\"")
        }
        if !collection.isEmpty { try Self.validateName(collection) }
        let since = Int64(clamping: sinceSnapshot ?? 0)
        var events: [JSONValue] = []
        var more = false
        let truncated = walkChangeFeed { event in
            guard event.timestamp > since, collection.isEmpty || event.collection == collection,
                  operation == nil || event.operation == operation else { return true }
            guard events.count < Self.maxManifestEvents else { more = true; return false }
            var members: [(String, JSONValue)] = [("collection", .string(event.collection)), ("kind", .string(event.kind)), ("lsn", .integer(Int64(event.lsn))),
                                                  ("operation", .string(event.operation.rawValue)), ("timestamp", .integer(event.timestamp))]
            if let rid = event.rid { members.append(("rid", .integer(rid))) }
            if let key = event.key { members.append(("key", .string(key))) }
            events.append(.object(members))
            return true
        }
        var reply: [(String, JSONValue)] = [("events", .array(events)), ("more", .bool(more)), ("ok", .bool(true)),
                                            ("truncated", .bool(truncated))]
        if !collection.isEmpty { reply.append(("collection", .string(collection))) }
        if !kind.isEmpty { reply.append(("kind", .string(kind.lowercased()))) }
        if let sinceSnapshot { reply.append(("since_snapshot", .integer(Int64(clamping: sinceSnapshot)))) }
        return .object(reply)
    }

    func manifestSummary() -> JSONValue {
        var count = 0
        var oldest: UInt64?
        var newest: UInt64?
        var byCollection: [String: Int] = [:]
        var byOperation: [String: Int] = [:]
        let truncated = walkChangeFeed { event in
            count += 1
            oldest = oldest ?? event.lsn
            newest = event.lsn
            byCollection[event.collection, default: 0] += 1
            byOperation[event.operation.rawValue, default: 0] += 1
            return true
        }
        func counts(_ d: [String: Int]) -> JSONValue { .object(d.sorted { $0.key < $1.key }.map { ($0.key, .integer(Int64($0.value))) }) }
        var reply: [(String, JSONValue)] = [("by_collection", counts(byCollection)), ("by_operation", counts(byOperation)),
                                            ("events", .integer(Int64(count))), ("ok", .bool(true)), ("truncated", .bool(truncated))]
        if let oldest, let newest { reply += [("oldest_lsn", .integer(Int64(oldest))), ("newest_lsn", .integer(Int64(newest)))] }
        return .object(reply)
    }

    /// Visits every change the in-memory feed holds, oldest first, until `visit` returns false;
    /// true when the feed no longer holds its oldest changes.
    private func walkChangeFeed(_ visit: (ChangeEvent) -> Bool) -> Bool {
        var cursor: UInt64 = 0
        var truncated = false
        while true {
            let page = database.engine.changes(since: cursor, limit: 10_000)
            if cursor == 0 { truncated = page.truncated }
            guard let last = page.events.last else { return truncated }
            for event in page.events where !visit(event) { return truncated }
            cursor = last.lsn
        }
    }

    func metadataStateSummary() async throws -> JSONValue {
        let files = try listExports()
        let snapshots = files.filter { $0.name.hasPrefix(Self.snapshotPrefix) }.count
        return .object([("exports", .integer(Int64(files.count - snapshots))), ("header", nativeHeader()), ("ok", .bool(true)),
                        ("registry", try await registrySummary()), ("snapshots", .integer(Int64(snapshots)))])
    }

    /// `RebuildPhysicalMetadata`: `RepairNativeHeader` then `RepairNativePhysicalState`.
    func rebuildPhysicalMetadata() async throws -> String {
        let header = try await repairHeader()
        let state = try await repairPhysicalState()
        return "\(header); \(state)"
    }
}

extension ServerContext {
    /// Largest packed copy `ReplicationSnapshot` sends (its hex doubles it in one message).
    static let maxUnarySnapshotBytes: Int64 = 64 << 20

    /// `ReplicationSnapshot`: the whole database in one reply, as upstream's unary copy is:
    /// an online export (consistent at `snapshot_lsn`, writers never blocked) packed as the
    /// backups pack it (`RDBSNAP1`: the data file and its WAL, docs/server.md) and hex-encoded in
    /// `snapshot_hex`, with its SHA-256. Upstream's bytes are its own file format, so this
    /// serves our own tools, not an upstream replica. A copy past 64 MiB packed is refused
    /// (54000) in favour of `ReplicationSnapshotStream`. It holds every key, users' password
    /// verifiers included: the surfaces let only admins ask once the server has users
    /// (upstream: any reader).
    func replicationSnapshot() async throws -> JSONValue {
        let files = FileManager.default
        let work = database.engine.path + ".unary-snapshot-\(UUID().uuidString.prefix(8))"
        try files.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? files.removeItem(atPath: work) }
        let export = try await database.export(to: work + "/copy.rdb")
        let (sha, bytes) = try SnapshotArchive.pack(databasePath: export.path, into: work + "/copy.snapshot")
        guard bytes <= Self.maxUnarySnapshotBytes else {
            throw RedError(.limitExceeded, "the database packs to \(bytes) bytes, past the \(Self.maxUnarySnapshotBytes) one reply may carry: use ReplicationSnapshotStream")
        }
        guard let data = files.contents(atPath: work + "/copy.snapshot") else { throw RedError(.ioError, "cannot read the packed copy") }
        let digits = Array("0123456789abcdef".utf8)
        var hexBytes = [UInt8](repeating: 0, count: data.count * 2)
        for (i, byte) in data.enumerated() {
            hexBytes[2 * i] = digits[Int(byte >> 4)]
            hexBytes[2 * i + 1] = digits[Int(byte & 15)]
        }
        let hex = String(decoding: hexBytes, as: UTF8.self)
        return .object([("bytes", .integer(bytes)), ("format", .string("RDBSNAP1")), ("ok", .bool(true)), ("sha256", .string(sha)),
                        ("snapshot_available", .bool(true)), ("snapshot_hex", .string(hex)), ("snapshot_lsn", .integer(Int64(export.lsn)))])
    }
}
