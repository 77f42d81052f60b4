import RedCore

/// The bindings of a MATCH pattern: one row per way the pattern fits the graph, which the
/// query MATCH … RETURN becomes then filters (WHERE), projects (RETURN) and limits.
///
/// The graph is every graph collection's, materialised for the statement
/// (`MaterializedGraph`). Matching is a backtracking search along the pattern: the first node
/// pattern is tried against every node, then each edge pattern extends a partial match by the
/// edges it allows (label, direction, hops). A variable-length edge (`*n..m`) walks paths that
/// repeat no edge and binds its alias to NULLs. Node labels match a node's type and edge labels
/// an edge's label, both case-insensitively; `{prop: v}` compares a node's property (or its
/// `label`, `node_type` or `id`) with `=`.
/// No edge is used twice in one binding (as in Cypher). Bindings are held in memory: at most
/// `maxBindings` of them (`maxBindingValues` values), and at most `maxSteps` edges examined, else 54000.
///
/// Row layout: per node alias `id, label, node_type, properties`, then per edge alias `id,
/// label, from, to, weight, properties`; `properties` is a document body, so `a.age` reads it.
final class MatchNode: PlanNode, @unchecked Sendable {
    let pattern: GraphPattern
    let columns: [ScopeColumn]

    /// Most bindings one MATCH may produce, and most edges it may examine, before it fails
    /// with 54000: the bindings are held in memory before WHERE and LIMIT apply, and edge-simple
    /// paths can be exponentially many.
    static let maxBindings = 1_000_000
    /// And at most this many values across them (512 MiB of `Value`s).
    static let maxBindingValues = 16_000_000
    static let maxSteps = 50_000_000

    init(_ pattern: GraphPattern) {
        self.pattern = pattern
        var columns: [ScopeColumn] = []
        for node in pattern.nodes {
            columns += [ScopeColumn(qualifier: node.alias, name: "id", type: .integer), ScopeColumn(qualifier: node.alias, name: "label", type: .text),
                        ScopeColumn(qualifier: node.alias, name: "node_type", type: .text),
                        ScopeColumn(qualifier: node.alias, name: "properties", type: .json, isDocumentBody: true)]
        }
        for edge in pattern.edges {
            columns += [ScopeColumn(qualifier: edge.alias, name: "id", type: .integer), ScopeColumn(qualifier: edge.alias, name: "label", type: .text),
                        ScopeColumn(qualifier: edge.alias, name: "from", type: .integer), ScopeColumn(qualifier: edge.alias, name: "to", type: .integer),
                        ScopeColumn(qualifier: edge.alias, name: "weight", type: .float),
                        ScopeColumn(qualifier: edge.alias, name: "properties", type: .json, isDocumentBody: true)]
        }
        self.columns = columns
    }

    func open(_ context: ExecutionContext, outerRows: [[Value]]) throws -> RowIterator {
        let graph = try MaterializedGraph.load(nil, context)
        var rows: [[Value]] = []
        var nodes = [Int](repeating: 0, count: pattern.nodes.count)
        var edges = [MaterializedGraph.Edge?](repeating: nil, count: pattern.edges.count)
        var used = Set<Int64>()  // the edges of the binding being built
        var steps = 0

        func fits(_ n: Int, _ p: GraphPattern.Node) -> Bool {
            if let label = p.label, graph.nodes[n].type.lowercased() != label.lowercased() { return false }
            for property in p.properties {
                switch property.name {  // the built-in fields first, then the node's properties
                case "label": guard Value.text(graph.nodes[n].label) == property.value else { return false }
                case "node_type": guard Value.text(graph.nodes[n].type) == property.value else { return false }
                case "id": guard Value.integer(graph.nodes[n].rid) == property.value else { return false }
                default:
                    guard case .json(let object) = graph.nodes[n].properties, let member = object[property.name],
                          Value(json: member) == property.value else { return false }
                }
            }
            return true
        }
        func allows(_ e: MaterializedGraph.Edge, _ p: GraphPattern.Edge) -> Bool {
            p.label.map { e.label.lowercased() == $0.lowercased() } ?? true
        }
        func emit() throws {
            var row: [Value] = []
            for n in nodes { row += graph.row(n) + [graph.nodes[n].properties] }
            for e in edges {
                if let e { row += [.integer(e.rid), .text(e.label), .integer(e.from), .integer(e.to), .float(e.weight), e.properties] }
                else { row += Array(repeating: .null, count: 6) }
            }
            rows.append(row)
            // Bounded in values too: a 32-node pattern's binding is over 300 values (32 bytes each).
            guard rows.count <= Self.maxBindings, rows.count * row.count <= Self.maxBindingValues else {
                throw RedError(.limitExceeded, "MATCH found more than \(min(Self.maxBindings, Self.maxBindingValues / row.count)) bindings of \(row.count) values; narrow the pattern (labels, properties, fewer hops)")
            }
        }
        func step() throws {
            steps += 1
            if steps & 4095 == 0 {
                try context.checkCancelled()
                guard steps < Self.maxSteps else {
                    throw RedError(.limitExceeded, "MATCH gave up after examining \(Self.maxSteps) edges; narrow the pattern")
                }
            }
        }
        /// The edges a pattern edge may follow from `n`, each once (a self-loop is in both lists).
        func candidates(_ n: Int, _ direction: GraphDirection) -> [[MaterializedGraph.Edge]] {
            switch direction {
            case .outgoing: return [graph.outgoing[n]]
            case .incoming: return [graph.incoming[n]]
            case .both: return [graph.outgoing[n], graph.incoming[n].filter { $0.from != $0.to }]
            }
        }
        /// Extends a match whose node `i` is bound.
        func extend(_ i: Int) throws {
            guard i < pattern.edges.count else { return try emit() }
            let p = pattern.edges[i]
            if p.minHops == 1, p.maxHops == 1 {
                for list in candidates(nodes[i], p.direction) {
                    for e in list {
                        try step()
                        guard allows(e, p), !used.contains(e.rid), fits(e.node, pattern.nodes[i + 1]) else { continue }
                        nodes[i + 1] = e.node
                        edges[i] = e
                        used.insert(e.rid)
                        try extend(i + 1)
                        used.remove(e.rid)
                    }
                }
                return
            }
            edges[i] = nil
            // Paths of p.minHops…p.maxHops edges, none used before in the binding; each end that fits extends it.
            func walk(_ at: Int, _ length: Int) throws {
                if length >= p.minHops, fits(at, pattern.nodes[i + 1]) {
                    nodes[i + 1] = at
                    try extend(i + 1)
                }
                guard length < p.maxHops else { return }
                for list in candidates(at, p.direction) {
                    for e in list {
                        try step()
                        guard allows(e, p), !used.contains(e.rid) else { continue }
                        used.insert(e.rid)
                        try walk(e.node, length + 1)
                        used.remove(e.rid)
                    }
                }
            }
            try walk(nodes[i], 0)
        }
        for n in graph.nodes.indices where fits(n, pattern.nodes[0]) {
            try step()
            nodes[0] = n
            try extend(0)
        }
        return ArrayIterator(rows)
    }

    func explain(_ depth: Int) -> [String] {
        [line(depth, "Graph Match (\(pattern.nodes.count) nodes, \(pattern.edges.count) edges)")]
    }
}
