import RedCore

/// Graph commands (RQL's `GRAPH …`):
///
/// ```
/// GRAPH NEIGHBORHOOD [coll FROM] 'n' { DEPTH k | DIRECTION d | EDGES IN ('lbl', …) }        -- depth 3
/// GRAPH TRAVERSE [coll] [FROM] 'n' { STRATEGY (bfs|dfs) | DEPTH k | MAX_DEPTH k | DIRECTION d | EDGES IN (…) }  -- bfs, 5
/// GRAPH SHORTEST_PATH [coll] [FROM] 'a' TO 'b' { ALGORITHM alg | DIRECTION d }
/// ```
/// Directions: `outgoing|out` (default), `incoming|in`, `both|any`. Path algorithms: `bfs`
/// (hops), `dijkstra` and `astar|a*` (weights ≥ 0; A* without a heuristic is Dijkstra),
/// `bellman_ford|bellmanford` (any weights; reports a negative cycle). Node references are
/// text or parameters: a node id, or a label unique in the graph. Upstream parses no
/// collection; its docs show `GRAPH NEIGHBORHOOD social FROM 'a'`, which we accept.
extension Parser {
    mutating func parseGraphCommand() throws -> Statement {
        try expectKeyword("graph")
        guard case .identifier(let word, false) = current.kind else { throw unexpected(expected: "NEIGHBORHOOD, TRAVERSE or SHORTEST_PATH") }
        switch word {
        case "neighborhood", "traverse", "shortest_path":
            advance()
        case "centrality", "community", "components", "cycles", "clustering", "topological_sort", "properties", "hits", "personalized_pagerank":
            advance()
            return .graph(try parseGraphAnalytics(word))
        default:
            throw unexpected(expected: "NEIGHBORHOOD, TRAVERSE, SHORTEST_PATH, CENTRALITY, COMMUNITY, COMPONENTS, CYCLES, CLUSTERING, TOPOLOGICAL_SORT or PROPERTIES")
        }
        // `[coll | PROJECTION p] [FROM] 'n'`: a collection is a name not followed by `(` (no function sources here).
        let projection = try parseGraphProjection()
        var collection: String?
        if projection == nil, case .identifier(let name, let quoted) = current.kind, quoted || !["from"].contains(name) {
            advance()
            collection = name
        }
        if word == "neighborhood", collection != nil || projection != nil { try expectKeyword("from") } else { _ = acceptKeyword("from") }
        let source = try parseGraphNodeReference()
        var command: GraphCommand
        switch word {
        case "shortest_path":
            try expectKeyword("to")
            command = GraphCommand(kind: .shortestPath(target: try parseGraphNodeReference(), algorithm: .bfs), collection: collection, source: source)
        case "traverse": command = GraphCommand(kind: .traverse(depthFirst: false), collection: collection, source: source)
        default: command = GraphCommand(kind: .neighborhood, collection: collection, source: source)
        }
        command.projection = projection
        while true {
            if acceptKeyword("direction") {
                command.direction = try parseGraphDirection()
            } else if acceptKeyword("depth") || acceptKeyword("max_depth") {
                guard !isShortestPath(command) else { throw error("SHORTEST_PATH takes no DEPTH") }
                command.depth = try parseSearchNumber("a depth")
            } else if acceptKeyword("edges") {
                try expectKeyword("in")
                try expectSymbol("(")
                var labels: [String] = []
                repeat {
                    guard case .string(let label) = current.kind else { throw unexpected(expected: "an edge label in quotes") }
                    advance()
                    labels.append(label)
                } while acceptSymbol(",")
                try expectSymbol(")")
                command.edgeLabels = labels
            } else if acceptKeyword("strategy") {
                guard case .traverse = command.kind else { throw error("only GRAPH TRAVERSE takes a STRATEGY") }
                let strategy = try parseAnyName()
                guard ["bfs", "dfs"].contains(strategy) else { throw error("unknown strategy: '\(strategy)', expected bfs|dfs") }
                command.kind = .traverse(depthFirst: strategy == "dfs")
            } else if acceptKeyword("algorithm") {
                guard case .shortestPath(let target, _) = command.kind else { throw error("only GRAPH SHORTEST_PATH takes an ALGORITHM") }
                command.kind = .shortestPath(target: target, algorithm: try parseGraphPathAlgorithm())
            } else {
                return .graph(command)
            }
        }
    }

    /// `PROJECTION name` (a graph projection in place of the collection), or nil. A collection
    /// called `projection` still reads as one: the word counts only when a name follows.
    mutating func parseGraphProjection() throws -> String? {
        let clauses: Set<String> = ["from", "algorithm", "order", "limit", "mode", "max_iterations", "max_length", "direction", "depth",
                                    "max_depth", "edges", "strategy", "to"]
        guard isKeyword("projection"), case .identifier(let next, let quoted) = peekToken(1).kind, quoted || !clauses.contains(next) else { return nil }
        advance()
        return try parseIdentifier()
    }

    private func isShortestPath(_ command: GraphCommand) -> Bool {
        if case .shortestPath = command.kind { return true }
        return false
    }

    mutating func parseGraphNodeReference() throws -> Expr {
        switch current.kind {
        case .string(let s): advance(); return .literal(.text(s))
        case .integer(let i): advance(); return .literal(.text(String(i)))
        case .parameter(let n):
            // Statements whose literals become parameters refuse `$n` (as parsePrimary does): the numbers would collide.
            if autoParameterize { throw error("a prepared statement takes its literals as parameters; write a literal instead of $\(n)") }
            advance()
            parameterCount = max(parameterCount, n)
            return .parameter(n)
        default: throw unexpected(expected: "a node reference in quotes")
        }
    }

    mutating func parseGraphDirection() throws -> GraphDirection {
        let word = try parseAnyName()
        switch word {
        case "outgoing", "out": return .outgoing
        case "incoming", "in": return .incoming
        case "both", "any": return .both
        default: throw error("unknown direction: '\(word)', expected outgoing|incoming|both")
        }
    }

    mutating func parseGraphPathAlgorithm() throws -> GraphPathAlgorithm {
        var word = try parseAnyName()
        if word == "a", acceptSymbol("*") { word = "a*" }
        switch word {
        case "bfs": return .bfs
        case "dijkstra", "astar", "a*": return .dijkstra
        case "bellman_ford", "bellmanford": return .bellmanFord
        default: throw error("unknown algorithm: '\(word)', expected bfs|dijkstra|astar|bellman_ford")
        }
    }

    /// `GRAPH CENTRALITY | COMMUNITY | COMPONENTS | CYCLES | CLUSTERING | TOPOLOGICAL_SORT | PROPERTIES …`,
    /// after the command word: an optional graph collection, then the command's clauses.
    mutating func parseGraphAnalytics(_ word: String) throws -> GraphCommand {
        let clauses: Set<String> = ["algorithm", "order", "limit", "mode", "max_iterations", "max_length", "from"]
        let projection = try parseGraphProjection()
        var collection: String?
        if projection == nil, case .identifier(let name, let quoted) = current.kind, quoted || !clauses.contains(name) {
            advance()
            collection = name
        }
        var kind: GraphCommand.Kind
        var metrics: [String] = []
        switch word {
        case "centrality":
            kind = .centrality(algorithm: "degree")
            metrics = ["score", "centrality_score"]
        case "community":
            kind = .community(algorithm: "label_propagation", maxIterations: 100)
            metrics = ["size", "community_size"]
        case "components":
            kind = .components(strong: false)
            metrics = ["size", "component_size"]
        case "cycles": kind = .cycles(maxLength: 10)
        case "clustering": kind = .clustering
        case "topological_sort": kind = .topologicalSort
        case "hits":
            kind = .hits
            metrics = ["score", "authority", "hub"]
        case "personalized_pagerank":
            if collection != nil || projection != nil { try expectKeyword("from") } else { _ = acceptKeyword("from") }
            kind = .personalizedPageRank(source: try parseGraphNodeReference())
            metrics = ["score", "centrality_score"]
        default:
            var node: Expr?
            if case .string = current.kind { node = try parseGraphNodeReference() } else if case .parameter = current.kind { node = try parseGraphNodeReference() }
            kind = .properties(node: node)
        }
        var command = GraphCommand(kind: kind, collection: collection, source: .literal(.null))
        command.projection = projection
        while true {
            if acceptKeyword("algorithm") {
                let name = try parseAnyName()
                switch kind {
                case .centrality:
                    let known = ["degree": "degree", "closeness": "closeness", "betweenness": "betweenness", "eigenvector": "eigenvector",
                                 "pagerank": "pagerank", "page_rank": "pagerank"]
                    guard let algorithm = known[name] else { throw error("unknown centrality algorithm: '\(name)', expected degree|closeness|betweenness|eigenvector|pagerank") }
                    kind = .centrality(algorithm: algorithm)
                case .community(_, let iterations):
                    guard ["label_propagation", "labelpropagation", "louvain"].contains(name) else {
                        throw error("unknown community algorithm: '\(name)', expected label_propagation|louvain")
                    }
                    guard name != "louvain" else { throw RedError(.featureNotSupported, "GRAPH COMMUNITY ALGORITHM louvain is not available yet; use label_propagation") }
                    kind = .community(algorithm: "label_propagation", maxIterations: iterations)
                default: throw error("GRAPH \(word.uppercased()) takes no ALGORITHM")
                }
            } else if acceptKeyword("mode") {
                guard case .components = kind else { throw error("only GRAPH COMPONENTS takes a MODE") }
                let mode = try parseAnyName()
                switch mode {
                case "connected", "weak", "weakly_connected": kind = .components(strong: false)
                case "strong", "strongly_connected": kind = .components(strong: true)
                default: throw error("unknown mode: '\(mode)', expected connected|weak|strong")
                }
            } else if acceptKeyword("max_iterations") {
                guard case .community(let algorithm, _) = kind else { throw error("only GRAPH COMMUNITY takes MAX_ITERATIONS") }
                let n = try parseIntegerLiteral("a number of iterations")
                guard n > 0, n <= 10_000 else { throw error("MAX_ITERATIONS must be from 1 to 10000") }
                kind = .community(algorithm: algorithm, maxIterations: Int(n))
            } else if acceptKeyword("max_length") {
                guard case .cycles = kind else { throw error("only GRAPH CYCLES takes MAX_LENGTH") }
                let n = try parseIntegerLiteral("a cycle length")
                guard n > 0, n <= 1_000 else { throw error("MAX_LENGTH must be from 1 to 1000") }
                kind = .cycles(maxLength: Int(n))
            } else if isKeyword("order") {
                advance()
                try expectKeyword("by")
                let metric = try parseAnyName()
                guard metrics.contains(metric) else { throw error("unsupported ORDER BY metric '\(metric)' for GRAPH \(word.uppercased())") }
                command.orderMetric = metric
                command.orderDescending = acceptKeyword("asc") ? false : (acceptKeyword("desc") || true)
            } else if acceptKeyword("limit") {
                guard !metrics.isEmpty else { throw error("GRAPH \(word.uppercased()) takes no LIMIT") }
                command.limit = try parseSearchNumber("a limit")
            } else {
                command.kind = kind
                return command
            }
        }
    }
}

/// `MATCH pattern [WHERE filter] RETURN item {, item} [LIMIT n]` (RQL's Cypher-like form):
///
/// ```
/// node := '(' alias [':' label] [ '{' prop ':' value {, …} '}' ] ')'
/// edge := '-' '[' [alias] [':' label] [ '*' [n ['..' m]] ] ']' ( '->' | '-' )  |  '<-' '[' … ']' '-'
/// item := alias | alias '.' prop  [AS name]
/// ```
/// The statement becomes a query over the pattern's bindings (`TableRef.command(.match)`):
/// each node alias brings `alias.id, alias.label, alias.node_type, alias.properties` (whose
/// fields `alias.prop` reaches), each edge alias `alias.id, alias.label, alias.from,
/// alias.to, alias.weight, alias.properties`. `RETURN a` gives a node's id, label, node_type
/// and properties; `RETURN a.prop` a column named `a.prop`.
extension Parser {
    mutating func parseMatch() throws -> Statement {
        try expectKeyword("match")
        var pattern = GraphPattern(nodes: [try parsePatternNode(index: 0)], edges: [])
        while isSymbol("-") || isSymbol("<") {
            // The match recurses once per node of the pattern: its length is bounded.
            guard pattern.nodes.count < GraphPattern.maxNodes else { throw error("a MATCH pattern has at most \(GraphPattern.maxNodes) nodes") }
            pattern.edges.append(try parsePatternEdge(index: pattern.edges.count))
            pattern.nodes.append(try parsePatternNode(index: pattern.nodes.count))
        }
        let aliases = pattern.nodes.map(\.alias) + pattern.edges.map(\.alias)
        guard Set(aliases).count == aliases.count else { throw error("a MATCH pattern names each alias once") }
        var select = Select()
        select.from = .command(.match(pattern), alias: nil)
        if acceptKeyword("where") { select.whereClause = try parseExpression() }
        try expectKeyword("return")
        let nodeAliases = Set(pattern.nodes.map(\.alias)), edgeAliases = Set(pattern.edges.map(\.alias))
        repeat {
            let alias = try parseAnyName()
            if acceptSymbol(".") {
                let field = try parseAnyName()
                let name = acceptKeyword("as") ? try parseAnyName() : "\(alias).\(field)"
                select.items.append(SelectItem(expr: .column([alias, field]), alias: name))
            } else if nodeAliases.contains(alias) || edgeAliases.contains(alias) {
                let fields = nodeAliases.contains(alias) ? ["id", "label", "node_type", "properties"] : ["id", "label", "from", "to", "weight", "properties"]
                for field in fields { select.items.append(SelectItem(expr: .column([alias, field]), alias: "\(alias).\(field)")) }
            } else {
                throw error("RETURN \(alias): not an alias of the pattern")
            }
        } while acceptSymbol(",")
        var query = Query(body: .select(select))
        if acceptKeyword("limit") {
            let limitToken = current
            let n = try parseIntegerLiteral("a limit")
            guard n >= 0 else { throw error("LIMIT must not be negative", at: limitToken) }
            query.limit = .literal(.integer(n))
        }
        return .query(query)
    }

    private mutating func parsePatternNode(index: Int) throws -> GraphPattern.Node {
        try expectSymbol("(")
        var node = GraphPattern.Node(alias: "_n\(index)", label: nil, properties: [])
        if case .identifier = current.kind { node.alias = try parseAnyName() }
        if acceptSymbol(":") { node.label = try parseAnyName() }
        if case .json(let raw) = current.kind {
            if let object = try? JSONValue.parse(raw), case .object(let members) = object {
                node.properties = members.map { GraphPattern.Property(name: $0.0, value: Value(json: $0.1)) }
            } else {
                // `{name: 'x', age: 3}`: bare keys and SQL literals, read by a parser of their own.
                var inner = try Parser(String(raw.dropFirst().dropLast()), limits: limits)
                if !(inner.current.kind == .end) {
                    repeat {
                        let name: String
                        if case .string(let quoted) = inner.current.kind { name = quoted; inner.advance() } else { name = try inner.parseAnyName() }
                        try inner.expectSymbol(":")
                        guard case .literal(let value) = try inner.parsePrimary() else { throw error("a node property takes a literal value") }
                        node.properties.append(GraphPattern.Property(name: name, value: value))
                    } while inner.acceptSymbol(",")
                }
                guard case .end = inner.current.kind else { throw error("node properties are {name: value, …}") }
            }
            advance()
        } else if acceptSymbol("{") {
            repeat {
                let name = try parseAnyName()
                try expectSymbol(":")
                guard case .literal(let value) = try keepingLiterals({ try $0.parsePrimary() }) else { throw error("a node property takes a literal value") }
                node.properties.append(GraphPattern.Property(name: name, value: value))
            } while acceptSymbol(",")
            try expectSymbol("}")
        }
        try expectSymbol(")")
        return node
    }

    private mutating func parsePatternEdge(index: Int) throws -> GraphPattern.Edge {
        var edge = GraphPattern.Edge(alias: "_e\(index)", label: nil, direction: .both, minHops: 1, maxHops: 1)
        let incoming = acceptSymbol("<")
        try expectSymbol("-")
        try expectSymbol("[")
        if case .identifier = current.kind { edge.alias = try parseAnyName() }
        if acceptSymbol(":") { edge.label = try parseAnyName() }
        if isSymbol("*") {
            // `*`, `*n` or `*n..m`, read from the text itself: the lexer takes `1..3` for numbers with points.
            let star = current
            advance()
            while !isSymbol("]"), current.kind != .end { advance() }
            let start = min(star.offset + 1, bytes.count), end = min(max(current.offset, start), bytes.count)
            let spec = String(decoding: bytes[start..<end], as: UTF8.self).trimmingSpaces()
            edge.minHops = 1
            edge.maxHops = GraphPattern.maxHops
            if !spec.isEmpty {
                let parts = spec.components(separatedBy: "..")
                guard parts.count <= 2, let low = Int(parts[0].trimmingSpaces()),
                      let high = parts.count == 2 ? Int(parts[1].trimmingSpaces()) : low else {
                    throw error("write hops as *, *n or *n..m", at: star)
                }
                (edge.minHops, edge.maxHops) = (low, high)
            }
            guard edge.minHops >= 0, edge.minHops <= edge.maxHops, edge.maxHops <= GraphPattern.maxHops else {
                throw error("hop counts must satisfy 0 ≤ n ≤ m ≤ \(GraphPattern.maxHops)", at: star)
            }
        }
        try expectSymbol("]")
        try expectSymbol("-")
        if incoming {
            edge.direction = .incoming
        } else if acceptSymbol(">") {
            edge.direction = .outgoing
        }
        return edge
    }
}
