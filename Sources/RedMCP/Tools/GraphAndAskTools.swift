import RedCore
import RedDB

/// The graph commands, and `reddb.ask`: a question answered from the database's own rows.
enum GraphAndAskTools {
    private static let collection = ("collection", ArgumentSchema.string("The graph collection (default: every graph)."))
    private static let direction = ("direction", ArgumentSchema.oneOf(["outgoing", "incoming", "both"], "Which edges to follow (default outgoing)."))

    static let all: [MCPTool] = [
        MCPTool("reddb_graph_traverse", "The nodes reachable from a node, in visit order. Returns {source, visit_count, visits: [{depth, node_id, label, node_type}]}.",
                readOnly: true, required: ["source"],
                properties: [("source", ArgumentSchema.string("The start node: its id or a label unique in the graph.")), collection, direction,
                             ("max_depth", ArgumentSchema.integer("How many hops (default 3).")),
                             ("strategy", ArgumentSchema.oneOf(["bfs", "dfs"], "Breadth- or depth-first (default bfs)."))]) { args, session in
            var body = args.members
            if args["max_depth"] == nil { body.append(("max_depth", .integer(3))) }
            let visits = try await run(.traverse, body, session).records.map { visit -> JSONValue in
                .object(["depth", "node_id", "label", "node_type"].map { ($0, visit[$0] ?? .null) })
            }
            return .object([("source", args["source"] ?? .null), ("visit_count", .integer(Int64(visits.count))), ("visits", .array(visits))])
        },
        MCPTool("reddb_graph_shortest_path", """
            The shortest path between two nodes. Returns {source, target, found, nodes_visited, hop_count, \
            total_weight, path (the node ids)}.
            """, readOnly: true, required: ["source", "target"],
            properties: [("source", ArgumentSchema.string("The start node: id or unique label.")),
                         ("target", ArgumentSchema.string("The end node: id or unique label.")), collection, direction,
                         ("algorithm", ArgumentSchema.oneOf(["bfs", "dijkstra", "astar", "bellman_ford"], "Fewest hops (bfs, default) or lightest path."))]) { args, session in
            guard case .object(var row)? = try await run(.shortestPath, args.members, session).records.first else {
                throw RedError(.internalError, "the shortest path gave no row")
            }
            let found = row.first(where: { $0.0 == "path" }).map { $0.1 != .null } ?? false
            row.insert(("found", .bool(found)), at: min(2, row.count))
            return .object(row)
        },
        analytics("reddb_graph_centrality", .centrality, "How central each node is, best first: [{node_id, label, score}].",
                  [("algorithm", ArgumentSchema.oneOf(["degree", "closeness", "betweenness", "eigenvector", "pagerank"], "The measure (default degree).")),
                   ("limit", ArgumentSchema.integer("How many nodes (default 100)."))]),
        analytics("reddb_graph_community", .community, "Communities by label propagation, largest first: [{community_id, size}].",
                  [("max_iterations", ArgumentSchema.integer("Most rounds of propagation."))]),
        analytics("reddb_graph_components", .components, "Connected components, largest first: [{component_id, size}].",
                  [("mode", ArgumentSchema.oneOf(["weakly_connected", "strongly_connected"], "Weak (default) or strong connectivity."))]),
        analytics("reddb_graph_cycles", .cycles, "Directed simple cycles: [{cycle_index, length, nodes}].",
                  [("max_length", ArgumentSchema.integer("Longest cycle looked for, in nodes (default 10)."))]),
        analytics("reddb_graph_clustering", .clustering, "Clustering coefficients: the global one, then each node's: [{node_id, label, score}].", []),
        MCPTool("reddb.ask", """
            Answer a question from the database's own rows with a language model, citing the rows used. \
            Needs an AI provider configured (see docs/ai.md). Returns {ok, answer, provider, model, sources_flat, citations, validation, …}.
            """, readOnly: true, required: ["question"],
            properties: [("question", ArgumentSchema.string("The question.")),
                         ("options", ArgumentSchema.object("strict (default true), using (provider, or 'a,b' to fail over), model, limit (1-200), min_score (0-1), depth (0-10), temperature (0-2), seed, cache {ttl: '5m'}, nocache."))]) { args, session in
            let (sql, parameters) = try AskJSONRequest.statement(try askBody(args))
            return AskJSONRequest.envelope(try await session.execute(sql, parameters: parameters))
        },
    ]

    private static func run(_ command: GraphRequest.Command, _ body: [(String, JSONValue)], _ session: Session) async throws -> QueryResult {
        let (sql, parameters) = try GraphRequest.statement(command, .object(body))
        return try await session.execute(sql, parameters: parameters)
    }

    /// A whole-graph command's tool: `{count, results}` of its rows.
    private static func analytics(_ name: String, _ command: GraphRequest.Command, _ description: String,
                                  _ properties: [(String, JSONValue)]) -> MCPTool {
        MCPTool(name, description + " Returns {count, results}.", readOnly: true, properties: [collection] + properties) { args, session in
            let rows = try await run(command, args.members, session).records
            return .object([("count", .integer(Int64(rows.count))), ("results", .array(rows))])
        }
    }

    /// `reddb.ask`'s arguments as an ask request (`AskJSONRequest`): `options` checked key by key,
    /// with the ranges upstream's schema gives, and strict on unless turned off.
    static func askBody(_ args: ToolArguments) throws -> JSONValue {
        var body: [(String, JSONValue)] = [("question", .string(try args.string("question")))]
        let allowed = ["strict", "using", "model", "limit", "min_score", "depth", "temperature", "seed", "cache", "nocache"]
        let options = try ToolArguments(args["options"] ?? .null, allowed: allowed, context: "options.")
        body.append(("strict", .bool(try options.bool("strict", default: true))))
        if let using = try options.optionalString("using") { body.append(("provider", .string(using))) }
        if let model = try options.optionalString("model") { body.append(("model", .string(model))) }
        if options["limit"] != nil { body.append(("limit", .integer(try options.integer("limit", in: 1...200)))) }
        if options["depth"] != nil { body.append(("depth", .integer(try options.integer("depth", in: 0...10)))) }
        if options["seed"] != nil { body.append(("seed", .integer(try options.integer("seed", in: 0...Int64.max)))) }
        if let score = try options.number("min_score", in: 0...1) { body.append(("min_score", .float(score))) }
        if let temperature = try options.number("temperature", in: 0...2) { body.append(("temperature", .float(temperature))) }
        if let cache = options["cache"] {
            let ttl = try ToolArguments(cache, allowed: ["ttl"], context: "options.cache.").string("ttl")
            body.append(("cache_ttl", .string(ttl)))
        }
        if try options.bool("nocache", default: false) { body.append(("nocache", .bool(true))) }
        return .object(body)
    }
}
