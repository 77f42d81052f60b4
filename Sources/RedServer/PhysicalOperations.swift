import RedCore
import RedDB
import RedEngine
import RedStorage

/// The physical state of the database file, as gRPC's `NativeHeader`, `NativeRecoverySummary`,
/// `PhysicalMetadata`, `Roots`, `NativeCollectionRoots`, `NativeRegistrySummary` and
/// `NativeCatalogSummary` and the HTTP routes `/physical/…` and `/roots` return it.
///
/// Upstream's rpcs describe its own format (a page-1 header with shadows, NativeMeta pages,
/// sidecar metadata files); ours describe ours, under the same names: one file of checksummed
/// pages with two alternating header slots, one B+tree whose keys are prefixed by collection id,
/// and a WAL directory (see docs/storage.md). Everything here is read from memory, without I/O.
extension CollectionOperations {
    var physical: PhysicalState { database.engine.physicalState }

    /// `NativeHeader`: the header slot the last checkpoint published.
    func nativeHeader() -> JSONValue {
        let state = physical, h = state.header
        return .object([("checkpoint_lsn", .integer(Int64(h.checkpointLSN))), ("epoch", .integer(Int64(h.epoch))),
                        ("format_version", .integer(Int64(h.version))), ("free_list_head", .integer(Int64(h.freeListHead))),
                        ("free_page_count", .integer(Int64(h.freePageCount))), ("header_slots", .integer(2)),
                        ("last_commit_ts", .integer(Int64(h.lastCommitTS))), ("magic", .string(String(decoding: DatabaseHeader.magic, as: UTF8.self))),
                        ("ok", .bool(true)), ("page_count", .integer(Int64(h.pageCount))), ("page_size", .integer(Int64(state.pageSize))),
                        ("root_page_id", .integer(Int64(h.rootPageID))), ("slot", .integer(Int64(h.slot)))])
    }

    /// `NativeRecoverySummary`: what an open after a crash now would do — replay the WAL from
    /// the last checkpoint to the durable end.
    func nativeRecoverySummary() -> JSONValue {
        let state = physical
        let from = state.header.checkpointLSN
        return .object([("appended_lsn", .integer(Int64(state.walAppendedLSN))), ("checkpoint_lsn", .integer(Int64(from))),
                        ("checkpoints", .integer(Int64(state.checkpoints))), ("durable_lsn", .integer(Int64(state.walDurableLSN))),
                        ("ok", .bool(true)), ("replay_bytes", .integer(Int64(state.walDurableLSN &- min(from, state.walDurableLSN)))),
                        ("replay_from_lsn", .integer(Int64(from))), ("seconds_since_checkpoint", .float(state.secondsSinceCheckpoint)),
                        ("sync_mode", .string(state.syncMode)), ("wal_bytes_since_checkpoint", .integer(Int64(state.walBytesSinceCheckpoint))),
                        ("wal_segments", .integer(Int64(state.walSegmentBases.count)))])
    }

    /// `PhysicalMetadata`: the files and their sizes.
    func physicalMetadata() -> JSONValue {
        let state = physical
        return .object([("file_bytes", .integer(Int64(state.pageCount) * Int64(state.pageSize))), ("format", .string("reddb-swift")),
                        ("format_version", .integer(Int64(DatabaseHeader.formatVersion))), ("free_pages", .integer(Int64(state.freePages))),
                        ("ok", .bool(true)), ("page_count", .integer(Int64(state.pageCount))), ("page_size", .integer(Int64(state.pageSize))),
                        ("path", .string(database.engine.path)), ("wal_directory", .string(state.walDirectory)),
                        ("wal_segment_lsns", .array(state.walSegmentBases.map { .integer(Int64($0)) }))])
    }

    /// `Roots` and `NativeCollectionRoots`: the tree's root page and every collection in it,
    /// with the id that prefixes its keys (`kind`: collection, index or internal).
    func collectionRoots() throws -> JSONValue {
        let tx = try database.engine.begin()
        defer { tx.rollback() }
        let items = try tx.collections().map { c -> JSONValue in
            let kind = c.name.hasPrefix("__index/") ? "index" : c.name.hasPrefix("__") ? "internal" : "collection"
            return .object([("id", .integer(Int64(c.id))), ("kind", .string(kind)), ("name", .string(c.name))])
        }
        return .object([("collections", .array(items)), ("ok", .bool(true)), ("root_page_id", .integer(Int64(physical.header.rootPageID)))])
    }

    /// `NativeRegistrySummary`: how many collections of each model, and their indexes.
    func registrySummary() async throws -> JSONValue {
        let collections = try await session().collections()
        var byModel: [String: Int] = [:]
        for c in collections { byModel[c.schema.model.rawValue, default: 0] += 1 }
        return .object([("by_model", .object(byModel.sorted { $0.key < $1.key }.map { ($0.key, .integer(Int64($0.value))) })),
                        ("collections", .integer(Int64(collections.count))),
                        ("indexes", .integer(Int64(collections.reduce(0) { $0 + $1.schema.indexes.count }))), ("ok", .bool(true))])
    }

    /// `NativeCatalogSummary`: the catalog's entries counted by kind (the key's first part:
    /// `view`, `graph_projection`, `analytics_job`, users and keys …); no values.
    func catalogSummary() throws -> JSONValue {
        let tx = try database.engine.begin()
        defer { tx.rollback() }
        let cursor = try tx.catalogScan()
        var counts: [String: Int] = [:]
        var total = 0
        while let (key, _) = try cursor.next() {
            let kind = key.split(separator: UInt8(ascii: "/"), maxSplits: 1).first.map { String(decoding: $0, as: UTF8.self) } ?? ""
            counts[kind, default: 0] += 1
            total += 1
        }
        return .object([("entries", .integer(Int64(total))), ("ok", .bool(true)),
                        ("by_kind", .object(counts.sorted { $0.key < $1.key }.map { ($0.key, .integer(Int64($0.value))) }))])
    }
}

extension CollectionOperations {
    /// `NativeVectorArtifacts` (a listing), `InspectNativeVectorArtifact(s)` and
    /// `WarmupNativeVectorArtifact(s)` (each reads the vectors through, into the cache):
    /// `{"ok", "artifacts": [{"collection", "kind": "exact_scan", "dimension", "metric", "vectors"?, "bytes"?}]}`.
    func vectorArtifacts(_ name: String? = nil, reading: Bool) async throws -> JSONValue {
        let database = self.database
        let artifacts = try await Task.detached { try database.vectorArtifacts(named: name, reading: reading) }.value
        let items = artifacts.map { a -> JSONValue in
            var members: [(String, JSONValue)] = [("collection", .string(a.collection)), ("dimension", a.dimension.map { .integer(Int64($0)) } ?? .null),
                                                  ("kind", .string(a.kind)), ("metric", .string(a.metric))]
            if let vectors = a.vectors { members.append(("vectors", .integer(Int64(vectors)))) }
            if let bytes = a.bytes { members.append(("bytes", .integer(Int64(bytes)))) }
            return .object(members.sorted { $0.0 < $1.0 })
        }
        return .object([("artifacts", .array(items)), ("ok", .bool(true))])
    }
}

extension CollectionOperations {
    static func slotsJSON(_ slots: [(slot: Int, epoch: UInt64?, problem: String?)]) -> JSONValue {
        .array(slots.map { slot in
            var members: [(String, JSONValue)] = [("epoch", slot.epoch.map { .integer(Int64($0)) } ?? .null), ("slot", .integer(Int64(slot.slot))),
                                                  ("valid", .bool(slot.problem == nil))]
            if let problem = slot.problem { members.append(("problem", .string(problem))) }
            return .object(members)
        })
    }

    /// `NativeHeaderRepairPolicy`: how the two header slots are chosen and repaired, and what
    /// each holds now.
    func headerRepairPolicy() throws -> JSONValue {
        .object([("ok", .bool(true)),
                 ("policy", .string("an open takes the newest header slot whose checksum and layout verify; a torn or damaged slot is passed over; with neither valid the file is refused and nothing is changed")),
                 ("repair", .string("RepairNativeHeader rewrites both slots from the current state (two checkpoints)")),
                 ("slots", Self.slotsJSON(try database.engine.headerSlots()))])
    }

    /// `RepairNativeHeader`: both slots rewritten; refused to readers and on a replica.
    func repairHeader() async throws -> String {
        if let refusal = callerAccess.writeRefusal("REPAIR HEADER") { throw refusal }
        let slots = try await database.engine.rewriteHeaderSlots()
        let epochs = slots.map { $0.epoch.map(String.init) ?? "invalid" }
        return "header slots rewritten: slot 0 at epoch \(epochs[0]), slot 1 at epoch \(epochs[1])"
    }
}

extension CollectionOperations {
    /// `NativePhysicalState`: the header, recovery and file summaries in one reply.
    func physicalStateSummary() -> JSONValue {
        .object([("header", nativeHeader()), ("metadata", physicalMetadata()), ("ok", .bool(true)), ("recovery", nativeRecoverySummary())])
    }

    /// `RepairNativePhysicalState`: checks the B+tree's invariants (a violation cannot be
    /// repaired in place: restore from a backup), then every index against its rows, and
    /// rebuilds (`REINDEX INDEX`) each inconsistent one. Writers only; not on a replica.
    func repairPhysicalState() async throws -> String {
        if let refusal = callerAccess.writeRefusal("REPAIR") { throw refusal }
        let database = self.database
        let report: BTreeReport
        do {
            report = try await Task.detached { try database.checkStructure() }.value
        } catch let error as RedError where error.code == .dataCorrupted {
            throw RedError(.dataCorrupted, "\(error.message); this cannot be repaired in place: restore from a backup (red pitr-restore) or a replica")
        }
        let checks = try await Task.detached { try database.checkIndexes() }.value
        let broken = checks.flatMap { $0.indexes.filter { !$0.consistent }.map(\.index) }
        let session = self.session()
        for index in broken { try await session.execute("REINDEX INDEX \(Session.identifier(index))") }
        let total = checks.reduce(0) { $0 + $1.indexes.count }
        return "B+tree verified (\(report.entries) entries, depth \(report.depth)); \(broken.count) of \(total) indexes rebuilt"
            + (broken.isEmpty ? "" : ": " + broken.joined(separator: ", "))
    }
}
