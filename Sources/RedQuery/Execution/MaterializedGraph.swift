import RedCore
import RedEngine

/// The nodes and edges of one graph collection, or of all of them, in memory for one graph
/// command: nodes by index, and each node's outgoing and incoming edges.
struct MaterializedGraph {
    struct Node {
        let graph: String
        let rid: Int64
        let label: String
        let type: String
        /// The node's properties (a JSON object, or NULL).
        let properties: Value
    }

    struct Edge {
        /// The node at the other end (an index into `nodes`).
        let node: Int
        let label: String
        let weight: Double
        /// The edge item's own id, its endpoints' ids as stored (from → to), and its properties.
        var rid: Int64 = 0
        var from: Int64 = 0
        var to: Int64 = 0
        var properties: Value = .null
    }

    private(set) var nodes: [Node] = []
    private(set) var outgoing: [[Edge]] = []
    private(set) var incoming: [[Edge]] = []

    /// Every visible node and edge of `collection` (nil: of every graph collection), or of
    /// `projection`'s source as far as it keeps them.
    static func load(_ collection: String?, _ context: ExecutionContext, projection: GraphProjection? = nil) throws -> MaterializedGraph {
        let collection = projection?.source ?? collection
        let store = context.store, tx = context.transaction
        let handles: [TableHandle]
        if let collection {
            guard let handle = try store.open(tx, collection) else { throw RedError(.undefinedCollection, "graph \"\(collection)\" does not exist") }
            guard handle.schema.model == .graph else { throw RedError(.invalidOperation, "\(collection) is a \(handle.schema.model.rawValue), not a graph") }
            handles = [handle]
        } else {
            handles = try store.list(tx).filter { $0.schema.model == .graph }
        }
        var graph = MaterializedGraph()
        for handle in handles {
            var index: [Int64: Int] = [:]
            var edges: [(rid: Int64, from: Int64, to: Int64, label: String, weight: Double, properties: Value)] = []
            let cursor = try store.scan(tx, handle)
            while let (key, item) = try cursor.nextEntry() {
                guard item.isVisible(at: context.now) else { continue }
                let rid = StoredRow.rid(fromKey: key)
                let label = item.values[GraphItem.labelColumn]?.displayText ?? ""
                if item.values[GraphItem.kindColumn] == GraphItem.edgeKind {
                    guard case .integer(let from)? = item.values[GraphItem.fromColumn], case .integer(let to)? = item.values[GraphItem.toColumn] else { continue }
                    if let projection, !projection.keepsEdge(label: label) { continue }
                    edges.append((rid, from, to, label, item.values[GraphItem.weightColumn]?.doubleValue ?? 1, item.values[GraphItem.propertiesColumn] ?? .null))
                } else {
                    let type = item.values[GraphItem.nodeTypeColumn]?.displayText ?? label
                    if let projection, !projection.keepsNode(label: label, type: type) { continue }  // its edges go too
                    index[rid] = graph.nodes.count
                    graph.nodes.append(Node(graph: handle.name, rid: rid, label: label, type: type,
                                            properties: item.values[GraphItem.propertiesColumn] ?? .null))
                }
                try context.checkMaterialized(graph.nodes.count + edges.count, "graph")
                if (graph.nodes.count + edges.count) & 4095 == 0 { try context.checkCancelled() }
            }
            graph.outgoing += Array(repeating: [], count: graph.nodes.count - graph.outgoing.count)
            graph.incoming += Array(repeating: [], count: graph.nodes.count - graph.incoming.count)
            for edge in edges {
                guard let from = index[edge.from], let to = index[edge.to] else { continue }  // an endpoint was deleted
                graph.outgoing[from].append(Edge(node: to, label: edge.label, weight: edge.weight, rid: edge.rid, from: edge.from, to: edge.to, properties: edge.properties))
                graph.incoming[to].append(Edge(node: from, label: edge.label, weight: edge.weight, rid: edge.rid, from: edge.from, to: edge.to, properties: edge.properties))
            }
        }
        return graph
    }

    /// The node a reference names: a node id, else a label only one node has.
    func node(named reference: Value, in collection: String?) throws -> Int {
        guard !reference.isNull else { throw RedError(.invalidArgument, "a graph node reference cannot be null") }
        let text = reference.displayText
        if let rid = Int64(text) {
            let matches = nodes.indices.filter { nodes[$0].rid == rid }
            if matches.count == 1 { return matches[0] }
            if matches.count > 1 {
                let graphs = matches.map { nodes[$0].graph }.joined(separator: ", ")
                throw RedError(.invalidArgument, "node id \(rid) is in several graphs (\(graphs)); name one: GRAPH TRAVERSE \(nodes[matches[0]].graph) FROM '\(rid)'")
            }
        }
        let matches = nodes.indices.filter { nodes[$0].label == text }
        guard let first = matches.first else { throw RedError(.undefinedObject, "graph node '\(text)' not found\(collection.map { " in \($0)" } ?? "")") }
        guard matches.count == 1 else {
            throw RedError(.invalidArgument, "ambiguous graph node reference '\(text)': \(matches.count) nodes have that label; use a node id")
        }
        return first
    }

    /// The edges a traversal may follow from `n`, each with the node at its other end.
    func neighbors(_ n: Int, _ direction: GraphDirection, _ labels: [String]?) -> [Edge] {
        var edges: [Edge]
        switch direction {
        case .outgoing: edges = outgoing[n]
        case .incoming: edges = incoming[n]
        case .both: edges = outgoing[n] + incoming[n]
        }
        if let labels { edges.removeAll { !labels.contains($0.label) } }
        return edges
    }

    /// Every edge as a traversal in `direction` may follow it, for Bellman-Ford.
    func directedEdges(_ direction: GraphDirection, _ labels: [String]?) -> [(from: Int, to: Int, weight: Double)] {
        nodes.indices.flatMap { n in neighbors(n, direction, labels).map { (n, $0.node, $0.weight) } }
    }

    /// `node_id, label, node_type` of node `n`.
    func row(_ n: Int) -> [Value] { [.integer(nodes[n].rid), .text(nodes[n].label), .text(nodes[n].type)] }
}
