import RedCore

/// The whole-graph commands: CENTRALITY, COMMUNITY, COMPONENTS, CYCLES, CLUSTERING,
/// TOPOLOGICAL_SORT and PROPERTIES, over a `MaterializedGraph`.
///
/// Conventions (all deterministic: ties go to the node loaded first, i.e. lower id):
/// - CENTRALITY `node_id, label, score`, best first, top 100 unless LIMIT says otherwise.
///   degree: in + out edges; closeness: (r − 1) / Σ distance over the r nodes reachable by
///   outgoing edges (0 when none); betweenness: Brandes' count of shortest paths through a
///   node, directed, unweighted; eigenvector: power iteration over incoming edges, unit
///   length; pagerank: damping 0.85 to a change below 1e-6 (at most 100 rounds), dangling
///   nodes spreading evenly.
/// - COMMUNITY (label propagation, undirected: each node takes its neighbours' most frequent
///   label, ties to the smallest, until stable or MAX_ITERATIONS) and COMPONENTS (connected
///   or weak: undirected; strong: Tarjan) give `community_id|component_id, size`, numbered
///   from 1 in order of their first node; ORDER BY size sorts them.
/// - CYCLES: directed simple cycles up to MAX_LENGTH nodes (10), at most 100, each found
///   once from its lowest node: `cycle_index, length, nodes` (`nodes` is ours).
/// - CLUSTERING: each node's local coefficient over the undirected simple graph, after a
///   first row `'__global__', 'global_clustering'` with the global one (3 × triangles ÷
///   connected triples); node ids are text in this command only, to hold that row.
/// - TOPOLOGICAL_SORT: `order, node_id, label` (Kahn); a cycle fails with 22023.
/// - PROPERTIES: `node_count, edge_count, is_connected` (weakly), `is_complete` (every pair
///   joined in some direction), `is_cyclic` (a directed cycle), `density` (E ÷ N(N − 1));
///   with a node: `node_id, label, node_type, out_degree, in_degree, properties` (upstream
///   makes a column of each property; fixed columns let PostgreSQL clients describe it).
extension GraphExecutor {
    static let defaultCentralityLimit = 100
    static let maxCycles = 100
    /// Most path steps GRAPH CYCLES takes before it gives up (54000): simple paths can be
    /// exponentially many even in a graph with no cycle at all.
    static let maxCycleSearchSteps = 50_000_000

    static func analyticsColumns(_ kind: GraphCommand.Kind) -> [ResultColumn]? {
        func c(_ name: String, _ type: DataType) -> ResultColumn { ResultColumn(name: name, type: type) }
        switch kind {
        case .centrality, .personalizedPageRank: return [c("node_id", .integer), c("label", .text), c("score", .float)]
        case .hits: return [c("node_id", .integer), c("label", .text), c("authority", .float), c("hub", .float)]
        case .community: return [c("community_id", .integer), c("size", .integer)]
        case .components: return [c("component_id", .integer), c("size", .integer)]
        case .cycles: return [c("cycle_index", .integer), c("length", .integer), c("nodes", .json)]
        case .clustering: return [c("node_id", .text), c("label", .text), c("score", .float)]
        case .topologicalSort: return [c("order", .integer), c("node_id", .integer), c("label", .text)]
        case .properties(nil):
            return [c("node_count", .integer), c("edge_count", .integer), c("is_connected", .boolean), c("is_complete", .boolean),
                    c("is_cyclic", .boolean), c("density", .float)]
        case .properties:
            return [c("node_id", .integer), c("label", .text), c("node_type", .text), c("out_degree", .integer), c("in_degree", .integer),
                    c("properties", .json)]
        case .neighborhood, .traverse, .shortestPath: return nil
        }
    }

    func analytics(_ graph: MaterializedGraph, _ command: GraphCommand, constant: (Expr) throws -> Value) throws -> [[Value]] {
        let n = graph.nodes.count
        let limit = try command.limit.map { e -> Int in
            guard case .integer(let l) = try DataType.integer.coerce(try constant(e)), l >= 0 else { throw RedError(.invalidArgument, "LIMIT must be a non-negative integer") }
            return Int(min(l, Int64(Int.max)))
        }
        switch command.kind {
        case .centrality(let algorithm):
            let scores: [Double]
            switch algorithm {
            case "closeness": scores = try closeness(graph)
            case "betweenness": scores = try betweenness(graph)
            case "eigenvector": scores = try eigenvector(graph)
            case "pagerank": scores = try pagerank(graph)
            default: scores = (0..<n).map { Double(graph.outgoing[$0].count + graph.incoming[$0].count) }
            }
            return ranked(graph, scores, command, limit)
        case .personalizedPageRank(let reference):
            let source = try graph.node(named: try constant(reference), in: command.collection)
            return ranked(graph, try pagerank(graph, restart: source), command, limit)
        case .hits:
            let (authority, hub) = try hits(graph)
            let ascending = command.orderDescending == false
            let key = command.orderMetric == "hub" ? hub : authority
            let order = (0..<n).sorted { a, b in key[a] != key[b] ? (ascending ? key[a] < key[b] : key[a] > key[b]) : a < b }
            return order.prefix(limit ?? Self.defaultCentralityLimit).map {
                [.integer(graph.nodes[$0].rid), .text(graph.nodes[$0].label), .float(authority[$0]), .float(hub[$0])]
            }
        case .community(_, let iterations):
            return groups(try labelPropagation(graph, iterations: iterations), command, limit)
        case .components(let strong):
            return groups(strong ? try strongComponents(graph) : weakComponents(graph), command, limit)
        case .cycles(let maxLength):
            return try cycles(graph, maxLength: maxLength).enumerated().map { i, cycle in
                [.integer(Int64(i + 1)), .integer(Int64(cycle.count)), .json(.array(cycle.map { .integer(graph.nodes[$0].rid) }))]
            }
        case .clustering:
            return try clustering(graph)
        case .topologicalSort:
            return try topologicalOrder(graph).enumerated().map { i, node in [.integer(Int64(i + 1)), .integer(graph.nodes[node].rid), .text(graph.nodes[node].label)] }
        case .properties(nil):
            let edges = graph.outgoing.reduce(0) { $0 + $1.count }
            var joined = Set<Int>()
            for a in 0..<n { for e in graph.outgoing[a] where e.node != a { joined.insert(min(a, e.node) * n + max(a, e.node)) } }
            let pairs = n * (n - 1) / 2
            return [[.integer(Int64(n)), .integer(Int64(edges)), .boolean(n > 0 && Set(weakComponents(graph)).count == 1),
                     .boolean(n > 0 && joined.count == pairs), .boolean(try hasDirectedCycle(graph)),
                     .float(n > 1 ? Double(edges) / Double(n * (n - 1)) : 0)]]
        case .properties(let reference?):
            let node = try graph.node(named: try constant(reference), in: command.collection)
            return [graph.row(node) + [.integer(Int64(graph.outgoing[node].count)), .integer(Int64(graph.incoming[node].count)),
                                       graph.nodes[node].properties]]
        case .neighborhood, .traverse, .shortestPath:
            preconditionFailure("not an analytics command")
        }
    }

    /// Rows `node_id, label, score`, best first (ORDER BY score ASC: worst first), top 100 unless `limit`.
    private func ranked(_ graph: MaterializedGraph, _ scores: [Double], _ command: GraphCommand, _ limit: Int?) -> [[Value]] {
        let ascending = command.orderDescending == false
        let order = scores.indices.sorted { a, b in scores[a] != scores[b] ? (ascending ? scores[a] < scores[b] : scores[a] > scores[b]) : a < b }
        return order.prefix(limit ?? Self.defaultCentralityLimit).map { [.integer(graph.nodes[$0].rid), .text(graph.nodes[$0].label), .float(scores[$0])] }
    }

    /// Authority and hub scores (Kleinberg), each of unit length, to a change below 1e-6 (at most 100 rounds).
    private func hits(_ graph: MaterializedGraph) throws -> (authority: [Double], hub: [Double]) {
        let n = graph.nodes.count
        var authority = [Double](repeating: 1, count: n), hub = [Double](repeating: 1, count: n)
        func unit(_ v: [Double]) -> [Double] {
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? v.map { $0 / norm } : v
        }
        for _ in 0..<100 {
            try context.checkCancelled()  // each round walks every edge twice; a graph may have millions
            let nextAuthority = unit((0..<n).map { v in graph.incoming[v].reduce(0) { $0 + hub[$1.node] } })
            let nextHub = unit((0..<n).map { v in graph.outgoing[v].reduce(0) { $0 + nextAuthority[$1.node] } })
            let change = zip(nextAuthority, authority).reduce(0) { $0 + abs($1.0 - $1.1) } + zip(nextHub, hub).reduce(0) { $0 + abs($1.0 - $1.1) }
            (authority, hub) = (nextAuthority, nextHub)
            if change < 1e-6 { break }
        }
        return (authority, hub)
    }

    /// Rows `id, size` of the groups in `membership` (a group number per node), numbered from 1 by first node.
    private func groups(_ membership: [Int], _ command: GraphCommand, _ limit: Int?) -> [[Value]] {
        var number: [Int: Int] = [:], sizes: [Int] = []
        for group in membership {
            if let i = number[group] { sizes[i] += 1 } else { number[group] = sizes.count; sizes.append(1) }
        }
        var order = Array(sizes.indices)
        if let descending = command.orderDescending {
            order.sort { sizes[$0] != sizes[$1] ? (descending ? sizes[$0] > sizes[$1] : sizes[$0] < sizes[$1]) : $0 < $1 }
        }
        return order.prefix(limit ?? .max).map { [.integer(Int64($0 + 1)), .integer(Int64(sizes[$0]))] }
    }

    /// Each node's undirected neighbours, without itself or repeats.
    private func undirected(_ graph: MaterializedGraph) -> [[Int]] {
        graph.nodes.indices.map { a in
            var seen = Set<Int>()
            return (graph.outgoing[a] + graph.incoming[a]).map(\.node).filter { $0 != a && seen.insert($0).inserted }
        }
    }

    private func weakComponents(_ graph: MaterializedGraph) -> [Int] {
        var parent = Array(graph.nodes.indices)
        func root(_ x: Int) -> Int {
            var x = x
            while parent[x] != x { parent[x] = parent[parent[x]]; x = parent[x] }
            return x
        }
        for a in graph.nodes.indices { for e in graph.outgoing[a] { let (ra, rb) = (root(a), root(e.node)); if ra != rb { parent[max(ra, rb)] = min(ra, rb) } } }
        return graph.nodes.indices.map(root)
    }

    /// Tarjan's strongly connected components, iteratively (no recursion depth to overflow).
    private func strongComponents(_ graph: MaterializedGraph) throws -> [Int] {
        let n = graph.nodes.count
        var index = [Int](repeating: -1, count: n), low = [Int](repeating: 0, count: n), onStack = [Bool](repeating: false, count: n)
        var component = [Int](repeating: -1, count: n)
        var stack: [Int] = [], next = 0, count = 0
        for start in 0..<n where index[start] < 0 {
            var work: [(node: Int, edge: Int)] = [(start, 0)]
            index[start] = next; low[start] = next; next += 1
            stack.append(start); onStack[start] = true
            while let (v, i) = work.last {
                if i < graph.outgoing[v].count {
                    work[work.count - 1].edge += 1
                    let w = graph.outgoing[v][i].node
                    if index[w] < 0 {
                        index[w] = next; low[w] = next; next += 1
                        stack.append(w); onStack[w] = true
                        work.append((w, 0))
                    } else if onStack[w] {
                        low[v] = min(low[v], index[w])
                    }
                    continue
                }
                work.removeLast()
                if let parent = work.last { low[parent.node] = min(low[parent.node], low[v]) }
                if low[v] == index[v] {
                    while let w = stack.popLast() {
                        onStack[w] = false
                        component[w] = count
                        if w == v { break }
                    }
                    count += 1
                }
            }
            if start & 4095 == 0 { try context.checkCancelled() }
        }
        return component
    }

    private func labelPropagation(_ graph: MaterializedGraph, iterations: Int) throws -> [Int] {
        let neighbours = undirected(graph)
        var label = Array(graph.nodes.indices)
        for _ in 0..<iterations {
            var changed = false
            for v in graph.nodes.indices where !neighbours[v].isEmpty {
                if v & 1023 == 0 { try context.checkCancelled() }
                var counts: [Int: Int] = [:]
                for w in neighbours[v] { counts[label[w], default: 0] += 1 }
                let best = counts.max { a, b in a.value != b.value ? a.value < b.value : a.key > b.key }!.key
                if best != label[v] { label[v] = best; changed = true }
            }
            if !changed { break }
        }
        return label
    }

    /// Breadth-first hop distances from `source` along outgoing edges (-1: unreachable).
    private func distances(_ graph: MaterializedGraph, from source: Int) -> [Int] {
        var distance = [Int](repeating: -1, count: graph.nodes.count)
        distance[source] = 0
        var queue = [source], head = 0
        while head < queue.count {
            let v = queue[head]; head += 1
            for e in graph.outgoing[v] where distance[e.node] < 0 { distance[e.node] = distance[v] + 1; queue.append(e.node) }
        }
        return distance
    }

    private func closeness(_ graph: MaterializedGraph) throws -> [Double] {
        try graph.nodes.indices.map { v in
            if v & 255 == 0 { try context.checkCancelled() }
            let reached = distances(graph, from: v).filter { $0 > 0 }
            return reached.isEmpty ? 0 : Double(reached.count) / Double(reached.reduce(0, +))
        }
    }

    private func betweenness(_ graph: MaterializedGraph) throws -> [Double] {
        let n = graph.nodes.count
        var centrality = [Double](repeating: 0, count: n)
        for s in 0..<n {
            if s & 255 == 0 { try context.checkCancelled() }
            var order: [Int] = [], predecessors = [[Int]](repeating: [], count: n)
            var paths = [Double](repeating: 0, count: n), distance = [Int](repeating: -1, count: n)
            paths[s] = 1; distance[s] = 0
            var queue = [s], head = 0
            while head < queue.count {
                let v = queue[head]; head += 1
                order.append(v)
                for e in graph.outgoing[v] {
                    let w = e.node
                    if distance[w] < 0 { distance[w] = distance[v] + 1; queue.append(w) }
                    if distance[w] == distance[v] + 1 { paths[w] += paths[v]; predecessors[w].append(v) }
                }
            }
            var dependency = [Double](repeating: 0, count: n)
            for w in order.reversed() {
                for v in predecessors[w] { dependency[v] += paths[v] / paths[w] * (1 + dependency[w]) }
                if w != s { centrality[w] += dependency[w] }
            }
        }
        return centrality
    }

    private func eigenvector(_ graph: MaterializedGraph) throws -> [Double] {
        let n = graph.nodes.count
        guard n > 0 else { return [] }
        var x = [Double](repeating: 1 / Double(n).squareRoot(), count: n)
        for _ in 0..<100 {
            try context.checkCancelled()
            var next = x  // x + A x: the shift keeps the iteration from oscillating on bipartite graphs
            for v in 0..<n { for e in graph.incoming[v] { next[v] += x[e.node] } }
            let norm = next.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0 else { return x }
            next = next.map { $0 / norm }
            let change = zip(next, x).reduce(0) { $0 + abs($1.0 - $1.1) }
            x = next
            if change < 1e-6 * Double(n) { break }
        }
        return x
    }

    /// PageRank; with `restart`, every random jump (and a dangling node's rank) goes to that
    /// node instead of spreading evenly (personalised PageRank).
    private func pagerank(_ graph: MaterializedGraph, restart: Int? = nil) throws -> [Double] {
        let n = graph.nodes.count
        guard n > 0 else { return [] }
        let damping = 0.85
        var jump = [Double](repeating: 1 / Double(n), count: n)
        if let restart { jump = [Double](repeating: 0, count: n); jump[restart] = 1 }
        var rank = jump
        for _ in 0..<100 {
            try context.checkCancelled()
            var next = jump.map { (1 - damping) * $0 }
            var dangling = 0.0
            for v in 0..<n {
                if graph.outgoing[v].isEmpty { dangling += rank[v]; continue }
                let share = damping * rank[v] / Double(graph.outgoing[v].count)
                for e in graph.outgoing[v] { next[e.node] += share }
            }
            for v in 0..<n { next[v] += damping * dangling * jump[v] }
            let change = zip(next, rank).reduce(0) { $0 + abs($1.0 - $1.1) }
            rank = next
            if change < 1e-6 { break }
        }
        return rank
    }

    private func clustering(_ graph: MaterializedGraph) throws -> [[Value]] {
        let neighbours = undirected(graph).map(Set.init)
        var triangles = 0, triples = 0
        var rows: [[Value]] = []
        for v in graph.nodes.indices {
            let around = Array(neighbours[v])
            let k = around.count
            var links = 0
            for i in 0..<k {
                if i & 255 == 0 { try context.checkCancelled() }  // a hub of k neighbours costs k² lookups
                for j in (i + 1)..<max(i + 1, k) where neighbours[around[i]].contains(around[j]) { links += 1 }
            }
            triangles += links
            triples += k * (k - 1) / 2
            let local = k < 2 ? 0 : Double(links) / Double(k * (k - 1) / 2)
            rows.append([.text(String(graph.nodes[v].rid)), .text(graph.nodes[v].label), .float(local)])
        }
        // Each triangle was counted once at each of its three corners.
        let global = triples == 0 ? 0 : Double(triangles) / Double(triples)
        return [[.text("__global__"), .text("global_clustering"), .float(global)]] + rows
    }

    private func topologicalOrder(_ graph: MaterializedGraph) throws -> [Int] {
        let n = graph.nodes.count
        var indegree = graph.incoming.map(\.count)
        var ready = MinHeap()  // the lowest ready node first
        for v in 0..<n where indegree[v] == 0 { ready.push(Double(v), v) }
        var order: [Int] = []
        while let (_, v) = ready.pop() {
            order.append(v)
            for e in graph.outgoing[v] {
                indegree[e.node] -= 1
                if indegree[e.node] == 0 { ready.push(Double(e.node), e.node) }
            }
        }
        guard order.count == n else { throw RedError(.invalidArgument, "the graph has a cycle, so it has no topological order") }
        return order
    }

    private func hasDirectedCycle(_ graph: MaterializedGraph) throws -> Bool {
        (try? topologicalOrder(graph)) == nil
    }

    /// Simple directed cycles of at most `maxLength` nodes, each reported from its lowest node.
    private func cycles(_ graph: MaterializedGraph, maxLength: Int) throws -> [[Int]] {
        var found: [[Int]] = []
        var steps = 0
        for start in graph.nodes.indices {
            try context.checkCancelled()
            var path = [start], onPath: Set<Int> = [start]
            var work: [(node: Int, edge: Int)] = [(start, 0)]
            while let (v, i) = work.last, found.count < Self.maxCycles {
                guard i < graph.outgoing[v].count else {
                    work.removeLast(); onPath.remove(path.removeLast())
                    continue
                }
                work[work.count - 1].edge += 1
                steps += 1
                if steps & 4095 == 0 {
                    try context.checkCancelled()
                    guard steps < Self.maxCycleSearchSteps else {
                        throw RedError(.limitExceeded, "GRAPH CYCLES gave up after \(Self.maxCycleSearchSteps) steps; lower MAX_LENGTH")
                    }
                }
                let w = graph.outgoing[v][i].node
                if w == start {
                    if !found.contains(path) { found.append(path) }
                } else if w > start, !onPath.contains(w), path.count < maxLength {
                    path.append(w); onPath.insert(w); work.append((w, 0))
                }
            }
            if found.count >= Self.maxCycles { break }
        }
        return found
    }
}
