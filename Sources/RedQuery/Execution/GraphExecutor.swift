import RedCore
import RedEngine

/// `GRAPH NEIGHBORHOOD`, `GRAPH TRAVERSE` and `GRAPH SHORTEST_PATH`.
///
/// A command first materialises the graph it runs over, as upstream does: every visible node
/// and edge of the named graph collection (or of every graph collection) in the statement's
/// snapshot, as adjacency lists in memory, bounded by `ExecutionLimits.maxMaterializedRows`.
/// Edges whose endpoint is gone (a deleted node) are left out.
///
/// Results, in visit order:
/// - NEIGHBORHOOD, TRAVERSE: `node_id, label, node_type, depth, graph` — the start node first
///   at depth 0, then breadth-first (or depth-first with `STRATEGY dfs`) up to DEPTH hops
///   (NEIGHBORHOOD 3, TRAVERSE 5), each node once. Depth-first lists a node at the depth it
///   was first reached by, and lists every node within DEPTH hops by some path.
/// - SHORTEST_PATH: one row `source, target, nodes_visited, negative_cycle_detected,
///   hop_count, total_weight, path`; with no path, hop_count, total_weight and path are NULL.
///   `path` (the node ids, in order, as a JSON array) is ours. BFS minimises hops (its
///   total_weight is that path's weight); Dijkstra weights (all ≥ 0); Bellman-Ford any weights,
///   and with a negative cycle reachable from the source reports it instead of a path.
struct GraphExecutor {
    let context: ExecutionContext

    /// Deepest DEPTH a traversal accepts.
    static let maxDepth = 10_000

    static func columns(for command: GraphCommand) -> [ResultColumn] {
        if let columns = analyticsColumns(command.kind) { return columns }
        switch command.kind {
        case .neighborhood, .traverse:
            return [ResultColumn(name: "node_id", type: .integer), ResultColumn(name: "label", type: .text), ResultColumn(name: "node_type", type: .text),
                    ResultColumn(name: "depth", type: .integer), ResultColumn(name: "graph", type: .text)]
        default:
            return [ResultColumn(name: "source", type: .integer), ResultColumn(name: "target", type: .integer),
                    ResultColumn(name: "nodes_visited", type: .integer), ResultColumn(name: "negative_cycle_detected", type: .boolean),
                    ResultColumn(name: "hop_count", type: .integer), ResultColumn(name: "total_weight", type: .float), ResultColumn(name: "path", type: .json)]
        }
    }

    func run(_ command: GraphCommand) throws -> QueryResult {
        let projection = try command.projection.map { try GraphProjectionCatalog.require($0, context.transaction) }
        let graph = try MaterializedGraph.load(command.collection, context, projection: projection)
        let planner = Planner(context: context)
        func constant(_ expr: Expr) throws -> Value { try planner.constant(expr, in: "GRAPH") }
        if Self.analyticsColumns(command.kind) != nil {
            let rows = try analytics(graph, command, constant: constant)
            return QueryResult(columns: Self.columns(for: command), rows: rows, statementType: "select", commandTag: "SELECT \(rows.count)")
        }
        let source = try graph.node(named: try constant(command.source), in: command.collection)
        let rows: [[Value]]
        switch command.kind {
        case .neighborhood, .traverse(false):
            rows = try visit(graph, from: source, command, depth: command.kind == .neighborhood ? 3 : 5, constant: constant, depthFirst: false)
        case .traverse(true):
            rows = try visit(graph, from: source, command, depth: 5, constant: constant, depthFirst: true)
        case .shortestPath(let targetExpr, let algorithm):
            let target = try graph.node(named: try constant(targetExpr), in: command.collection)
            rows = [try shortestPath(graph, from: source, to: target, command, algorithm)]
        default:
            preconditionFailure("analytics commands return above")
        }
        return QueryResult(columns: Self.columns(for: command), rows: rows, statementType: "select", commandTag: "SELECT \(rows.count)")
    }

    private func visit(_ graph: MaterializedGraph, from source: Int, _ command: GraphCommand, depth defaultDepth: Int,
                       constant: (Expr) throws -> Value, depthFirst: Bool) throws -> [[Value]] {
        var maxDepth = defaultDepth
        if let expr = command.depth {
            guard case .integer(let d) = try DataType.integer.coerce(try constant(expr)), d >= 0, d <= Self.maxDepth else {
                throw RedError(.invalidArgument, "DEPTH must be an integer from 0 to \(Self.maxDepth)")
            }
            maxDepth = Int(d)
        }
        var seen = [Bool](repeating: false, count: graph.nodes.count)
        var rows: [[Value]] = []
        func emit(_ n: Int, _ depth: Int) { rows.append(graph.row(n) + [.integer(Int64(depth)), .text(graph.nodes[n].graph)]) }
        if depthFirst {
            // A node is listed when first reached, at that depth, but expanded again whenever it
            // is reached by a shorter path: otherwise a node first met deep down would hide
            // what lies within DEPTH of its shallower copy.
            var shallowest = [Int](repeating: .max, count: graph.nodes.count)
            var stack = [(source, 0)]
            var steps = 0
            while let (n, depth) = stack.popLast() {
                guard depth < shallowest[n] else { continue }
                shallowest[n] = depth
                if !seen[n] {
                    seen[n] = true
                    emit(n, depth)
                }
                steps += 1
                if steps & 4095 == 0 { try context.checkCancelled() }
                guard depth < maxDepth else { continue }
                for edge in graph.neighbors(n, command.direction, command.edgeLabels).reversed() where depth + 1 < shallowest[edge.node] {
                    stack.append((edge.node, depth + 1))
                }
            }
        } else {
            var queue = [(source, 0)], head = 0
            seen[source] = true
            while head < queue.count {
                let (n, depth) = queue[head]
                head += 1
                emit(n, depth)
                if rows.count & 4095 == 0 { try context.checkCancelled() }
                guard depth < maxDepth else { continue }
                for edge in graph.neighbors(n, command.direction, command.edgeLabels) where !seen[edge.node] {
                    seen[edge.node] = true
                    queue.append((edge.node, depth + 1))
                }
            }
        }
        return rows
    }

    private func shortestPath(_ graph: MaterializedGraph, from source: Int, to target: Int, _ command: GraphCommand,
                              _ algorithm: GraphPathAlgorithm) throws -> [Value] {
        let count = graph.nodes.count
        var previous = [Int](repeating: -1, count: count)
        var visited = 0
        var negativeCycle = false
        var reached = source == target
        switch algorithm {
        case .bfs:
            var seen = [Bool](repeating: false, count: count)
            var queue = [source], head = 0
            seen[source] = true
            while head < queue.count, !reached {
                let n = queue[head]
                head += 1
                visited += 1
                for edge in graph.neighbors(n, command.direction, command.edgeLabels) where !seen[edge.node] {
                    seen[edge.node] = true
                    previous[edge.node] = n
                    if edge.node == target { reached = true; break }
                    queue.append(edge.node)
                }
            }
            if source == target { visited = 1 }
        case .dijkstra:
            // Checked up front, not as edges are met: a search that stops at the target before
            // meeting a negative edge would return a path that is not the lightest.
            if let negative = graph.directedEdges(command.direction, command.edgeLabels).first(where: { $0.weight < 0 }) {
                throw RedError(.invalidArgument, "dijkstra needs non-negative weights, and an edge weighs \(negative.weight); use ALGORITHM bellman_ford")
            }
            var distance = [Double](repeating: .infinity, count: count)
            var done = [Bool](repeating: false, count: count)
            var frontier = MinHeap()
            distance[source] = 0
            frontier.push(0, source)
            while let (d, n) = frontier.pop() {
                guard !done[n], d == distance[n] else { continue }
                done[n] = true
                visited += 1
                if n == target { reached = true; break }
                for edge in graph.neighbors(n, command.direction, command.edgeLabels) {
                    let candidate = d + edge.weight
                    if candidate < distance[edge.node] {
                        distance[edge.node] = candidate
                        previous[edge.node] = n
                        frontier.push(candidate, edge.node)
                    }
                }
                if visited & 4095 == 0 { try context.checkCancelled() }
            }
        case .bellmanFord:
            var distance = [Double](repeating: .infinity, count: count)
            distance[source] = 0
            let edges = graph.directedEdges(command.direction, command.edgeLabels)
            for round in 0..<max(1, count) {
                var changed = false
                for edge in edges where distance[edge.from] < .infinity && distance[edge.from] + edge.weight < distance[edge.to] {
                    distance[edge.to] = distance[edge.from] + edge.weight
                    previous[edge.to] = edge.from
                    changed = true
                }
                if !changed { break }
                if round == count - 1 { negativeCycle = true }  // still improving after |V| − 1 rounds
                if round & 63 == 63 { try context.checkCancelled() }
            }
            visited = distance.lazy.filter { $0 < .infinity }.count
            reached = !negativeCycle && distance[target] < .infinity
        }
        let ids: (Int) -> Value = { .integer(graph.nodes[$0].rid) }
        guard reached, !negativeCycle else {
            return [ids(source), ids(target), .integer(Int64(visited)), .boolean(negativeCycle), .null, .null, .null]
        }
        var path = [target]
        while let last = path.last, last != source {
            guard previous[last] >= 0, path.count <= count else { throw RedError(.internalError, "a shortest path could not be traced back") }
            path.append(previous[last])
        }
        path.reverse()
        var weight = 0.0
        for (a, b) in zip(path, path.dropFirst()) {
            weight += graph.neighbors(a, command.direction, command.edgeLabels).filter { $0.node == b }.map(\.weight).min() ?? 0
        }
        return [ids(source), ids(target), .integer(Int64(visited)), .boolean(false), .integer(Int64(path.count - 1)), .float(weight),
                .json(.array(path.map { .integer(graph.nodes[$0].rid) }))]
    }
}

/// A binary min-heap of (distance, node) for Dijkstra.
struct MinHeap {
    private var items: [(Double, Int)] = []

    mutating func push(_ key: Double, _ value: Int) {
        items.append((key, value))
        var child = items.count - 1
        while child > 0, items[child].0 < items[(child - 1) / 2].0 {
            items.swapAt(child, (child - 1) / 2)
            child = (child - 1) / 2
        }
    }

    mutating func pop() -> (Double, Int)? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < items.count, items[left].0 < items[smallest].0 { smallest = left }
                if right < items.count, items[right].0 < items[smallest].0 { smallest = right }
                guard smallest != parent else { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
