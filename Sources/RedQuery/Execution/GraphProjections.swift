import RedCore
import RedEngine

/// A graph projection (spec protocols §3.3 `SaveGraphProjection` …, HTTP `/graph/projections`):
/// a named view of one graph collection that keeps only some of it — nodes with one of
/// `nodeLabels` and one of `nodeTypes`, edges with one of `edgeLabels` whose two ends are kept
/// (an empty list keeps every one). Graph commands run over it with `PROJECTION name` in place
/// of the collection (`GRAPH CENTRALITY PROJECTION p`, or `"projection"` in a graph request).
///
/// Upstream names the rpcs and the upsert message but documents no more; ours keep a
/// lifecycle an operator or a scheduler can follow, as index marks do:
/// `declared` (saved; saving again returns it here) → `materializing` → `materialized` (the
/// projection was loaded and counted, `node_count` / `edge_count` / `materialized_lsn`
/// recorded) → `stale` (marked so, e.g. after the graph changed), or `failed`.
///
/// Stored in the catalog under `graph_projection/<name>` as JSON, so they change in
/// transactions, replicate, and are backed up with the data (`CatalogRecords`).
public struct GraphProjection: CatalogRecord, Equatable {
    public static let kindName = "graph projection"
    public static let keyPrefix = "graph_projection/"

    public enum Status: String, Sendable, CaseIterable { case declared, materializing, materialized, stale, failed }

    public var name: String
    /// The graph collection it views.
    public var source: String
    public var nodeLabels: [String] = []
    public var nodeTypes: [String] = []
    public var edgeLabels: [String] = []
    public var status = Status.declared
    public var createdAtMilliseconds: Int64 = 0
    public var updatedAtMilliseconds: Int64 = 0
    /// Set by a materialization: when, at which LSN, and what it held.
    public var materializedAtMilliseconds: Int64?
    public var materializedLSN: UInt64?
    public var nodeCount: Int?
    public var edgeCount: Int?

    public init(name: String, source: String, nodeLabels: [String] = [], nodeTypes: [String] = [], edgeLabels: [String] = []) {
        self.name = name
        self.source = source
        self.nodeLabels = nodeLabels
        self.nodeTypes = nodeTypes
        self.edgeLabels = edgeLabels
    }

    /// Longest name and most labels a projection takes.
    public static let maxNameBytes = 128
    public static let maxLabels = 1_000

    /// Whether a node with `label` and `type` is in the projection.
    func keepsNode(label: String, type: String) -> Bool {
        (nodeLabels.isEmpty || nodeLabels.contains(label)) && (nodeTypes.isEmpty || nodeTypes.contains(type))
    }

    /// Whether an edge with `label` is (given that both its ends are).
    func keepsEdge(label: String) -> Bool { edgeLabels.isEmpty || edgeLabels.contains(label) }

    /// The definition: what `Declared…` lists.
    public var definitionJSON: JSONValue {
        .object([("created_at_ms", .integer(createdAtMilliseconds)), ("edge_labels", .array(edgeLabels.map { .string($0) })),
                 ("name", .string(name)), ("node_labels", .array(nodeLabels.map { .string($0) })),
                 ("node_types", .array(nodeTypes.map { .string($0) })), ("source", .string(source))])
    }

    /// The state: what `Operational…` lists.
    public var stateJSON: JSONValue {
        .object([("edge_count", edgeCount.map { .integer(Int64($0)) } ?? .null),
                 ("materialized_at_ms", materializedAtMilliseconds.map { .integer($0) } ?? .null),
                 ("materialized_lsn", materializedLSN.map { .integer(Int64($0)) } ?? .null), ("name", .string(name)),
                 ("node_count", nodeCount.map { .integer(Int64($0)) } ?? .null), ("status", .string(status.rawValue)),
                 ("updated_at_ms", .integer(updatedAtMilliseconds))])
    }

    /// A stored projection back from its JSON.
    public init(json: JSONValue) throws {
        func strings(_ key: String) -> [String] {
            guard case .array(let items)? = json[key] else { return [] }
            return items.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
        }
        func integer(_ key: String) -> Int64? { if case .integer(let n)? = json[key] { return n } else { return nil } }
        guard case .string(let name)? = json["name"], case .string(let source)? = json["source"],
              case .string(let statusText)? = json["status"], let status = Status(rawValue: statusText) else {
            throw RedError(.dataCorrupted, "a stored graph projection does not decode")
        }
        self.init(name: name, source: source, nodeLabels: strings("node_labels"), nodeTypes: strings("node_types"), edgeLabels: strings("edge_labels"))
        self.status = status
        createdAtMilliseconds = integer("created_at_ms") ?? 0
        updatedAtMilliseconds = integer("updated_at_ms") ?? 0
        materializedAtMilliseconds = integer("materialized_at_ms")
        materializedLSN = integer("materialized_lsn").map { UInt64($0) }
        nodeCount = integer("node_count").map { Int($0) }
        edgeCount = integer("edge_count").map { Int($0) }
    }

    /// Checks a definition before it is saved: a name, labels within limits.
    public func validate() throws {
        guard !name.isEmpty, name.utf8.count <= Self.maxNameBytes else {
            throw RedError(.invalidArgument, "a graph projection needs a name of 1 to \(Self.maxNameBytes) bytes")
        }
        guard !source.isEmpty else { throw RedError(.invalidArgument, "graph projection \(name) needs a source graph") }
        for (what, labels) in [("node_labels", nodeLabels), ("node_types", nodeTypes), ("edge_labels", edgeLabels)] {
            guard labels.count <= Self.maxLabels, labels.allSatisfy({ $0.utf8.count <= 1_024 }) else {
                throw RedError(.limitExceeded, "\(what) of graph projection \(name): at most \(Self.maxLabels) labels of up to 1024 bytes")
            }
        }
    }
}
