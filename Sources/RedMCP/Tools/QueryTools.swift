import RedCore
import RedDB

/// `reddb_query` and the catalog tools: collections, a page of items, create, drop, health.
enum QueryTools {
    /// Most items one `reddb_scan` page gives.
    static let maxScanRows: Int64 = 1_000

    static let all: [MCPTool] = [
        MCPTool("reddb_query", """
            Run one RQL statement (SQL plus RedDB's KV, VECTOR, GRAPH, SEARCH and ASK commands) and return \
            its result as HTTP's /query does: {ok, statement, record_count, result: {columns, records: \
            [{values: {column: value}}]}, affected_rows?}, at most max_rows records. Bind values with $1, $2 … and pass \
            them in params (number arrays bind as vectors). Each call runs on its own: a transaction begun \
            here is rolled back when the call ends.
            """, required: ["sql"],
            properties: [("sql", ArgumentSchema.string("One RQL statement.")),
                         ("params", ArgumentSchema.array("Values for $1, $2 …: null, booleans, numbers, strings, arrays, objects.")),
                         ("max_rows", ArgumentSchema.integer("Most records returned, 1 to 100000 (default 1000); more are counted in total_rows and truncated is true."))]) { args, session in
            let sql = try args.string("sql")
            var parameters: [Value] = []
            if let given = args["params"] {
                guard case .array(let items) = given else { throw RedError(.invalidParameters, "params must be an array") }
                parameters = try items.map(JSONParameter.value)
            }
            let maxRows = try args.integer("max_rows", default: 1_000, in: 1...100_000)
            defer { session.abortOpenTransaction() }
            let result = try await session.execute(sql, parameters: parameters)
            guard result.rows.count > maxRows, case .object(var members) = QueryResult(
                columns: result.columns, rows: Array(result.rows.prefix(Int(maxRows))), rowsAffected: result.rowsAffected,
                statementType: result.statementType, commandTag: result.commandTag, message: result.message).json(query: sql) else {
                return result.json(query: sql)
            }
            // An agent reads what it is given: a million rows would only fill its context.
            members.append(("total_rows", .integer(Int64(result.rows.count))))
            members.append(("truncated", .bool(true)))
            return .object(members)
        },
        MCPTool("reddb_collections", "List the collections: a JSON array of {name, model}.", readOnly: true) { _, session in
            .array(try await session.collections().map { .object([("name", .string($0.name)), ("model", .string($0.schema.model.rawValue))]) })
        },
        MCPTool("reddb_scan", "A page of a collection's items in rid order: {collection, items, limit, offset, total}.",
                readOnly: true, required: ["collection"],
                properties: [("collection", ArgumentSchema.string("The collection.")),
                             ("limit", ArgumentSchema.integer("Items per page, 1 to \(maxScanRows) (default 10).")),
                             ("offset", ArgumentSchema.integer("Items to skip (default 0)."))]) { args, session in
            let name = try args.name("collection")
            let limit = try args.integer("limit", default: 10, in: 1...maxScanRows)
            let offset = try args.integer("offset", default: 0, in: 0...Int64.max)
            let table = Session.identifier(name)
            let total = try await session.execute("SELECT count(*) FROM \(table)").rows.first?.first ?? .integer(0)
            let page = try await session.execute("SELECT rid, * FROM \(table) ORDER BY rid LIMIT $1 OFFSET $2",
                                                 parameters: [.integer(limit), .integer(offset)])
            return .object([("collection", .string(name)), ("items", .array(page.records)), ("limit", .integer(limit)),
                            ("offset", .integer(offset)), ("total", total.jsonValue)])
        },
        MCPTool("reddb_create_collection", """
            Create a collection. model: document (default), kv, graph, or vector (with dimension and metric). \
            For a table with columns, run CREATE TABLE through reddb_query.
            """, required: ["name"],
            properties: [("name", ArgumentSchema.string("The new collection's name.")),
                         ("model", ArgumentSchema.oneOf(["document", "kv", "graph", "vector"], "What it holds (default document).")),
                         ("dimension", ArgumentSchema.integer("A vector collection's dimension.")),
                         ("metric", ArgumentSchema.oneOf(["cosine", "l2", "inner_product"], "A vector collection's metric (default cosine)."))]) { args, session in
            let name = try args.name("name")
            let model = try args.optionalString("model") ?? "document"
            var sql: String
            switch model {
            case "document": sql = "CREATE DOCUMENT"
            case "kv": sql = "CREATE KV"
            case "graph": sql = "CREATE GRAPH"
            case "vector": sql = "CREATE VECTOR"
            default: throw RedError(.invalidArgument, "model must be document, kv, graph or vector")
            }
            sql += " \(Session.identifier(name))"
            if model == "vector" {
                let dimension = try args.integer("dimension", in: 1...Int64(Limits.maxVectorDimensions))
                let metric = try args.optionalString("metric").map { word -> VectorMetric in
                    guard let m = VectorMetric(word: word) else { throw RedError(.invalidArgument, "metric must be cosine, l2 or inner_product") }
                    return m
                } ?? .cosine
                sql += " DIM \(dimension) METRIC \(metric.rawValue)"
            } else if args["dimension"] != nil || args["metric"] != nil {
                throw RedError(.invalidArgument, "dimension and metric are for vector collections")
            }
            _ = try await session.execute(sql)
            return .object([("ok", .bool(true)), ("collection", .string(name)), ("model", .string(model))])
        },
        MCPTool("reddb_drop_collection", "Drop a collection and everything in it.", required: ["name"],
                properties: [("name", ArgumentSchema.string("The collection to drop."))]) { args, session in
            let name = try args.name("name")
            _ = try await session.execute("DROP COLLECTION \(Session.identifier(name))")
            return .object([("ok", .bool(true)), ("dropped", .string(name))])
        },
        MCPTool("reddb_health", "The database's state: version, collections, commits, pages, WAL position.", readOnly: true) { _, session in
            let stats = session.database.engine.statistics
            let collections = try await session.collections()
            return .object([("ok", .bool(true)), ("version", .string(RedDB.version)), ("collections", .integer(Int64(collections.count))),
                            ("commits", .integer(Int64(stats.commits))), ("conflicts", .integer(Int64(stats.conflicts))),
                            ("pages", .integer(Int64(stats.pageCount))), ("wal_durable_lsn", .integer(Int64(stats.walDurableLSN))),
                            ("checkpoints", .integer(Int64(stats.checkpoints)))])
        },
    ]
}
