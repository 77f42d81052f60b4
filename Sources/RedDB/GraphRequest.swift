import RedCore

/// A graph command as a JSON request, as HTTP's `POST /graph/…`, gRPC's `Graph…` rpcs and
/// RedWire's `GraphTraverse` take it, turned into one `GRAPH …` statement.
///
/// ```json
/// {"source": "alice", "collection": "social", "direction": "outgoing", "max_depth": 3,
///  "strategy": "bfs", "edge_labels": ["knows"]}
/// {"source": "alice", "target": "carol", "algorithm": "dijkstra"}
/// {"collection": "social", "algorithm": "pagerank", "order": "desc", "limit": 10}
/// ```
/// `source` and `target` are a node id (number or text) or a label unique in the graph;
/// `collection` names the graph (default: every graph collection); `depth` is accepted for
/// `max_depth`. The whole-graph commands take `algorithm`, `mode`, `max_iterations`,
/// `max_length`, `order`, `limit` and (PROPERTIES) `node`. Node references and the depth
/// travel as parameters, the words are checked against their vocabularies and the labels
/// and names quoted, so a request is always exactly one statement.
public enum GraphRequest {
    public enum Command: String, Sendable, CaseIterable {
        case neighborhood, traverse, shortestPath = "shortest_path"
        case centrality, community, components, cycles, clustering, topologicalSort = "topological_sort", properties
        case personalizedPageRank = "personalized_pagerank", hits
    }

    public static func statement(_ command: Command, _ body: JSONValue) throws -> (sql: String, parameters: [Value]) {
        guard case .object = body else { throw RedError(.invalidArgument, "a graph request must be a JSON object") }
        var b = Builder(body: body, sql: "GRAPH \(command.rawValue.uppercased())")
        if let projection = body["projection"] {
            guard case .string(let name) = projection, !name.isEmpty, name.utf8.count <= 255 else { throw RedError(.invalidArgument, "projection must be a graph projection's name") }
            guard body["collection"] == nil else { throw RedError(.invalidArgument, "a graph request takes a collection or a projection, not both") }
            b.sql += " PROJECTION \(Session.identifier(name))"
        } else if let collection = body["collection"] {
            guard case .string(let name) = collection, !name.isEmpty, name.utf8.count <= 255 else { throw RedError(.invalidArgument, "collection must be a graph's name") }
            b.sql += " \(Session.identifier(name))"
        }
        switch command {
        case .neighborhood, .traverse:
            b.sql += " FROM \(try b.reference("source"))"
            if let depth = body["max_depth"] ?? body["depth"] {
                guard case .integer(let d) = depth else { throw RedError(.invalidArgument, "max_depth must be an integer") }
                b.sql += " DEPTH \(b.parameter(.integer(d)))"
            }
            if let strategy = try b.word("strategy", ["bfs", "dfs"]) {
                guard command == .traverse else { throw RedError(.invalidArgument, "only a traversal takes a strategy") }
                b.sql += " STRATEGY \(strategy)"
            }
        case .shortestPath:
            b.sql += " FROM \(try b.reference("source")) TO \(try b.reference("target"))"
            if let algorithm = try b.word("algorithm", ["bfs", "dijkstra", "astar", "bellman_ford", "bellmanford"]) { b.sql += " ALGORITHM \(algorithm)" }
        case .centrality:
            if let a = try b.word("algorithm", ["degree", "closeness", "betweenness", "eigenvector", "pagerank", "page_rank"]) { b.sql += " ALGORITHM \(a)" }
        case .community:
            if let a = try b.word("algorithm", ["label_propagation", "labelpropagation", "louvain"]) { b.sql += " ALGORITHM \(a)" }
            if let n = try b.count("max_iterations") { b.sql += " MAX_ITERATIONS \(n)" }
        case .components:
            if let m = try b.word("mode", ["connected", "weak", "weakly_connected", "strong", "strongly_connected"]) { b.sql += " MODE \(m)" }
        case .cycles:
            if let n = try b.count("max_length") { b.sql += " MAX_LENGTH \(n)" }
        case .personalizedPageRank:
            b.sql += " FROM \(try b.reference("source"))"
        case .properties:
            if body["node"] != nil { b.sql += " \(try b.reference("node"))" }
        case .clustering, .topologicalSort, .hits:
            break
        }
        if [.neighborhood, .traverse, .shortestPath].contains(command) {
            if let direction = try b.word("direction", ["outgoing", "out", "incoming", "in", "both", "any"]) { b.sql += " DIRECTION \(direction)" }
            if let labels = body["edge_labels"] {
                guard case .array(let items) = labels, !items.isEmpty else { throw RedError(.invalidArgument, "edge_labels must be a non-empty array of labels") }
                let quoted = try items.map { item -> String in
                    guard case .string(let label) = item else { throw RedError(.invalidArgument, "edge_labels must hold strings") }
                    return Session.literal(label)
                }
                b.sql += " EDGES IN (\(quoted.joined(separator: ", ")))"
            }
        }
        if [.centrality, .community, .components, .personalizedPageRank, .hits].contains(command) {
            let metric = [.community, .components].contains(command) ? "size" : "score"
            if let order = try b.word("order", ["asc", "desc"]) { b.sql += " ORDER BY \(metric) \(order.uppercased())" }
            if let n = try b.count("limit") { b.sql += " LIMIT \(n)" }
        }
        return (b.sql, b.parameters)
    }

    /// The statement being built and its parameters, with the checks every field gets.
    private struct Builder {
        let body: JSONValue
        var sql: String
        var parameters: [Value] = []

        init(body: JSONValue, sql: String) {
            self.body = body
            self.sql = sql
        }

        mutating func parameter(_ value: Value) -> String {
            parameters.append(value)
            return "$\(parameters.count)"
        }

        /// A node reference (id or label) as a text parameter.
        mutating func reference(_ field: String) throws -> String {
            switch body[field] {
            case .string(let s)?: return parameter(.text(s))
            case .integer(let i)?: return parameter(.text(String(i)))
            default: throw RedError(.invalidArgument, "a graph request needs \(field): a node id or label")
            }
        }

        /// A word from `allowed` (lower-cased), or nil when the field is absent.
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
    }
}
