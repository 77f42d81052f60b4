import RedCore
import RedDB
import RedEngine

/// The catalog's health, shared by the HTTP routes `/catalog/readiness`, `/catalog/attention`
/// and `/catalog/consistency` and their gRPC twins (`CatalogReadiness`, `CollectionReadiness`,
/// `CollectionAttention`, `CatalogAttentionSummary`, `CatalogConsistency`).
///
/// Upstream names these rpcs without documenting their payloads; ours say, from the index marks
/// (`IndexDefinition.status`, `enabled`):
/// - readiness: a collection is ready when every index serves reads (ready and enabled) —
///   queries then take every planned path;
/// - attention: which collections and indexes an operator should look at, and why
///   (building, stale, failed, disabled);
/// - consistency: every index checked against its rows at one snapshot (one entry per row,
///   naming it; none left over), with `?structure=true` on HTTP also the B+tree's own
///   invariants.
extension CollectionOperations {
    /// Why `index` needs attention, or nil when it serves reads.
    static func attentionReason(_ index: IndexDefinition) -> String? {
        if index.enabled == false { return "disabled" }
        switch index.status ?? .ready {
        case .ready: return nil
        case .building: return "building"
        case .stale: return "stale"
        case .failed: return "failed"
        }
    }

    /// Every collection with whether it is ready (gRPC `CollectionReadiness`).
    func collectionReadiness() async throws -> JSONValue {
        let items = try await session().collections().map { info -> JSONValue in
            let ready = info.schema.indexes.filter(\.servesReads).count
            return .object([("collection", .string(info.name)), ("indexes", .integer(Int64(info.schema.indexes.count))),
                            ("indexes_ready", .integer(Int64(ready))), ("model", .string(info.schema.model.rawValue)),
                            ("ready", .bool(ready == info.schema.indexes.count))])
        }
        return .object([("collections", .array(items)), ("ok", .bool(true))])
    }

    /// `GET /catalog/readiness` (gRPC `CatalogReadiness`): whether every collection is ready,
    /// and how many indexes are in each state.
    func catalogReadiness() async throws -> JSONValue {
        let collections = try await session().collections()
        let indexes = collections.flatMap(\.schema.indexes)
        let notReady = collections.filter { !$0.schema.indexes.allSatisfy(\.servesReads) }.map { JSONValue.string($0.name) }
        return .object([("collections", .integer(Int64(collections.count))), ("collections_not_ready", .array(notReady)),
                        ("indexes", Self.indexCounts(indexes)), ("ok", .bool(true)), ("ready", .bool(notReady.isEmpty))])
    }

    /// `{total, ready, building, stale, failed, disabled}` over `indexes`.
    static func indexCounts(_ indexes: [IndexDefinition]) -> JSONValue {
        func count(_ status: IndexDefinition.Status) -> JSONValue { .integer(Int64(indexes.filter { ($0.status ?? .ready) == status }.count)) }
        return .object([("building", count(.building)), ("disabled", .integer(Int64(indexes.filter { $0.enabled == false }.count))),
                        ("failed", count(.failed)), ("ready", count(.ready)), ("stale", count(.stale)),
                        ("total", .integer(Int64(indexes.count)))])
    }

    /// gRPC `CollectionAttention`: each collection needing attention, with its indexes that do
    /// and why.
    func collectionAttention() async throws -> JSONValue {
        let items = try await session().collections().compactMap { info -> JSONValue? in
            let flagged = info.schema.indexes.compactMap { index -> JSONValue? in
                Self.attentionReason(index).map { .object([("name", .string(index.name)), ("reason", .string($0))]) }
            }
            return flagged.isEmpty ? nil : .object([("collection", .string(info.name)), ("indexes", .array(flagged))])
        }
        return .object([("collections", .array(items)), ("ok", .bool(true))])
    }

    /// gRPC `CatalogAttentionSummary`: how many collections and indexes need attention, by reason.
    func catalogAttentionSummary() async throws -> JSONValue {
        let collections = try await session().collections()
        let reasons = collections.flatMap(\.schema.indexes).compactMap(Self.attentionReason)
        let byReason = ["building", "disabled", "failed", "stale"].map { reason in
            (reason, JSONValue.integer(Int64(reasons.filter { $0 == reason }.count)))
        }
        let flagged = collections.filter { $0.schema.indexes.contains { Self.attentionReason($0) != nil } }.count
        return .object([("by_reason", .object(byReason)), ("collections_needing_attention", .integer(Int64(flagged))),
                        ("indexes_needing_attention", .integer(Int64(reasons.count))), ("ok", .bool(true))])
    }

    /// `GET /catalog/attention`: the summary and the collections together.
    func catalogAttention() async throws -> JSONValue {
        guard case .object(var members) = try await catalogAttentionSummary() else { return .null }
        members.insert(("collections", try await collectionAttention()["collections"] ?? .array([])), at: 1)
        return .object(members)
    }

    /// `GET /catalog/consistency` (gRPC `CatalogConsistency`): every index checked against its
    /// rows; with `structure`, the B+tree too (commits wait while it reads every page, so a
    /// `read` user, who cannot hold commits up otherwise, may not ask for it).
    func catalogConsistency(structure: Bool = false) async throws -> JSONValue {
        // A `read` user on a replica is `standby` with its principal: held commits there are the
        // primary's log being applied, which the check would stall just the same.
        let readOnlyPrincipal: String? = switch callerAccess {
        case .readOnly(let principal): principal
        case .standby(_, let principal): principal
        default: nil
        }
        if structure, let principal = readOnlyPrincipal {
            throw RedError(.insufficientPrivilege, "permission denied: \(principal) may only read; structure=true holds every commit while it reads the B+tree, so it needs the write role")
        }
        let database = self.database
        let checks = try await Task.detached { try database.checkIndexes() }.value
        let collections = checks.map { check -> JSONValue in
            let indexes = check.indexes.map { index -> JSONValue in
                .object([("consistent", .bool(index.consistent)), ("dangling", .integer(Int64(index.dangling))),
                         ("entries", .integer(Int64(index.entries))), ("missing", .integer(Int64(index.missing))),
                         ("missing_rids", .array(index.missingExamples.map { .integer($0) })), ("name", .string(index.index))])
            }
            return .object([("collection", .string(check.table)), ("consistent", .bool(check.consistent)), ("indexes", .array(indexes)),
                            ("rows", .integer(Int64(check.rows)))])
        }
        var consistent = checks.allSatisfy(\.consistent)
        var members: [(String, JSONValue)] = [("collections", .array(collections))]
        if structure {
            do {
                let report = try await Task.detached { try database.checkStructure() }.value
                members.append(("btree", .object([("depth", .integer(Int64(report.depth))), ("entries", .integer(Int64(report.entries))),
                                                  ("interior_nodes", .integer(Int64(report.interiorNodes))),
                                                  ("leaf_nodes", .integer(Int64(report.leafNodes))),
                                                  ("ok", .bool(true)), ("overflow_pages", .integer(Int64(report.overflowPages)))])))
            } catch let error as RedError where error.code == .dataCorrupted {
                consistent = false
                members.append(("btree", .object([("error", .string(error.message)), ("ok", .bool(false))])))
            }
        }
        members += [("consistent", .bool(consistent)), ("ok", .bool(true))]
        return .object(members)
    }
}
