import RedCore

/// A graph command as a JSON request, as HTTP's `POST /graph/{neighborhood,traverse,
/// shortest-path}`, gRPC's `GraphNeighborhood`, `GraphTraverse` and `GraphShortestPath` and
/// RedWire's `GraphTraverse` take it, turned into one `GRAPH …` statement.
///
/// ```json
/// {"source": "alice", "collection": "social", "direction": "outgoing", "max_depth": 3,
///  "strategy": "bfs", "edge_labels": ["knows"]}
/// {"source": "alice", "target": "carol", "algorithm": "dijkstra"}
/// ```
/// `source` and `target` are a node id (number or text) or a label unique in the graph;
/// `collection` names the graph (default: every graph collection); `depth` is accepted for
/// `max_depth`. Node references and the depth travel as parameters; the words are checked
/// against their vocabularies and the labels quoted, so a request is always one statement.
public enum GraphRequest {
    public enum Command: String, Sendable, CaseIterable {
        case neighborhood, traverse, shortestPath = "shortest_path"
        case centrality, community, components, cycles, clustering, topologicalSort = "topological_sort", properties
        case personalizedPageRank = "personalized_pagerank", hits

        /// The whole-graph commands, which start from no node.
        var isAnalytics: Bool { ![.neighborhood, .traverse, .shortestPath].contains(self) }
    }

    public static func statement(_ command: Command, _ body: JSONValue) throws -> (sql: String, parameters: [Value]) {
        guard case .object = body else { throw RedError(.invalidArgument, "a graph request must be a JSON object") }
        if command.isAnalytics { return try analyticsStatement(command, body) }
        var parameters: [Value] = []
        func reference(_ field: String) throws -> String {
            switch body[field] {
            case .string(let s)?: parameters.append(.text(s))
            case .integer(let i)?: parameters.append(.text(String(i)))
            default: throw RedError(.invalidArgument, "a graph request needs \(field): a node id or label")
            }
            return "$\(parameters.count)"
        }
        func word(_ field: String, _ allowed: [String]) throws -> String? {
            guard let value = body[field] else { return nil }
            guard case .string(let w) = value, allowed.contains(w.lowercased()) else {
                throw RedError(.invalidArgument, "\(field) must be one of \(allowed.joined(separator: ", "))")
            }
            return w.lowercased()
        }
        var sql = "GRAPH \(command.rawValue.uppercased())"
        if let collection = body["collection"] {
            guard case .string(let name) = collection, !name.isEmpty, name.utf8.count <= 255 else {
                throw RedError(.invalidArgument, "collection must be a graph's name")
            }
            sql += " \(Session.identifier(name))"
        }
        sql += " FROM \(try reference("source"))"
        if command == .shortestPath {
            sql += " TO \(try reference("target"))"
            if let algorithm = try word("algorithm", ["bfs", "dijkstra", "astar", "bellman_ford", "bellmanford"]) { sql += " ALGORITHM \(algorithm)" }
        } else {
            if let depth = body["max_depth"] ?? body["depth"] {
                guard case .integer(let d) = depth else { throw RedError(.invalidArgument, "max_depth must be an integer") }
                parameters.append(.integer(d))
                sql += " DEPTH $\(parameters.count)"
            }
            if let strategy = try word("strategy", ["bfs", "dfs"]) {
                guard command == .traverse else { throw RedError(.invalidArgument, "only a traversal takes a strategy") }
                sql += " STRATEGY \(strategy)"
            }
        }
        if let direction = try word("direction", ["outgoing", "out", "incoming", "in", "both", "any"]) { sql += " DIRECTION \(direction)" }
        if let labels = body["edge_labels"] {
            guard case .array(let items) = labels, !items.isEmpty else { throw RedError(.invalidArgument, "edge_labels must be a non-empty array of labels") }
            let quoted = try items.map { item -> String in
                guard case .string(let label) = item else { throw RedError(.invalidArgument, "edge_labels must hold strings") }
                return Session.literal(label)
            }
            sql += " EDGES IN (\(quoted.joined(separator: ", ")))"
        }
        return (sql, parameters)
    }

    /// `{"collection"?, "algorithm"?, "mode"?, "max_iterations"?, "max_length"?, "order"?: "asc"|"desc",
    /// "limit"?, "node"?}` → `GRAPH CENTRALITY …` and the other whole-graph commands.
    static func analyticsStatement(_ command: Command, _ body: JSONValue) throws -> (sql: String, parameters: [Value]) {
        var sql = "GRAPH \(command.rawValue.uppercased())"
        var parameters: [Value] = []
        if let collection = body["collection"] {
            guard case .string(let name) = collection, !name.isEmpty, name.utf8.count <= 255 else { throw RedError(.invalidArgument, "collection must be a graph's name") }
            sql += " \(Session.identifier(name))"
        }
        func word(_ field: String, _ allowed: [String]) throws -> String? {
            guard let value = body[field] else { return nil }
            guard case .string(let w) = value, allowed.contains(w.lowercased()) else {
                throw RedError(.invalidArgument, "\(field) must be one of \(allowed.joined(separator: ", "))")
            }
            return w.lowercased()
        }
        func count(_ field: String) throws -> Int64? {
            guard let value = body[field] else { return nil }
            guard case .integer(let n) = value, n >= 0 else { throw RedError(.invalidArgument, "\(field) must be a non-negative integer") }
            return n
        }
        switch command {
        case .centrality:
            if let a = try word("algorithm", ["degree", "closeness", "betweenness", "eigenvector", "pagerank", "page_rank"]) { sql += " ALGORITHM \(a)" }
        case .community:
            if let a = try word("algorithm", ["label_propagation", "labelpropagation", "louvain"]) { sql += " ALGORITHM \(a)" }
            if let n = try count("max_iterations") { sql += " MAX_ITERATIONS \(n)" }
        case .components:
            if let m = try word("mode", ["connected", "weak", "weakly_connected", "strong", "strongly_connected"]) { sql += " MODE \(m)" }
        case .cycles:
            if let n = try count("max_length") { sql += " MAX_LENGTH \(n)" }
        case .personalizedPageRank:
            switch body["source"] {
            case .string(let s)?: parameters.append(.text(s))
            case .integer(let i)?: parameters.append(.text(String(i)))
            default: throw RedError(.invalidArgument, "personalized PageRank needs source: a node id or label")
            }
            sql += " FROM $1"
        case .properties:
            switch body["node"] {
            case nil: break
            case .string(let s)?: parameters.append(.text(s)); sql += " $1"
            case .integer(let i)?: parameters.append(.text(String(i))); sql += " $1"
            default: throw RedError(.invalidArgument, "node must be a node id or label")
            }
        default: break
        }
        if [.centrality, .community, .components, .personalizedPageRank, .hits].contains(command) {
            let metric = [.community, .components].contains(command) ? "size" : "score"
            if let order = try word("order", ["asc", "desc"]) { sql += " ORDER BY \(metric) \(order.uppercased())" }
            if let n = try count("limit") { sql += " LIMIT \(n)" }
        }
        return (sql, parameters)
    }
}
