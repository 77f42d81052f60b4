import RedCore
import RedDB
import RedQuery

/// Writing items: a row, a document, a vector, a graph node or edge; updating and deleting.
/// Each builds one statement with the names quoted and every value a parameter.
enum EntityTools {
    static let all: [MCPTool] = [
        MCPTool("reddb_insert_row", "Insert a row into a table: data is {column: value}. Returns {ok, collection, rid, kind}.",
                required: ["collection", "data"],
                properties: [("collection", ArgumentSchema.string("The table.")),
                             ("data", ArgumentSchema.object("Column values."))]) { args, session in
            let name = try args.name("collection")
            guard let fields = try args.object("data"), !fields.isEmpty else {
                throw RedError(.invalidArgument, "argument 'data' must be an object with at least one column")
            }
            let rid = try await insert(into: name, kind: "", fixed: [], fields: fields, session: session)
            return created(name, rid, "row")
        },
        MCPTool("reddb_insert_document", "Insert a JSON document (created with the collection if missing). Returns {ok, collection, rid, kind}.",
                required: ["collection", "body"],
                properties: [("collection", ArgumentSchema.string("The document collection.")),
                             ("body", ArgumentSchema.object("The document."))]) { args, session in
            let name = try args.name("collection")
            guard let body = try args.object("body") else { throw RedError(.invalidArgument, "missing argument 'body'") }
            let rid = try await session.insertDocument(.object(body), into: name)
            return created(name, rid, "document")
        },
        MCPTool("reddb_insert_vector", "Insert a vector with optional content text and metadata object. Returns {ok, collection, rid, kind}.",
                required: ["collection", "dense"],
                properties: [("collection", ArgumentSchema.string("The vector collection (created with cosine if missing).")),
                             ("dense", ArgumentSchema.array(of: "number", "The vector's components.")),
                             ("content", ArgumentSchema.string("Text the vector stands for.")),
                             ("metadata", ArgumentSchema.object("Fields searches can filter on."))]) { args, session in
            let name = try args.name("collection")
            let dense = try args.vector("dense")
            let content: Value = try args.optionalString("content").map { .text($0) } ?? .null
            let metadata: Value = try args.object("metadata").map { .json(.object($0)) } ?? .null
            let result = try await session.execute("INSERT INTO \(Session.identifier(name)) VECTOR (dense, content, metadata) VALUES ($1, $2, $3) RETURNING rid",
                                                   parameters: [.vector(dense), content, metadata])
            return created(name, try rid(of: result), "vector")
        },
        MCPTool("reddb_insert_node", "Insert a graph node (the graph is created if missing). Returns {ok, collection, rid, kind}.",
                required: ["collection", "label"],
                properties: [("collection", ArgumentSchema.string("The graph collection.")),
                             ("label", ArgumentSchema.string("The node's label (its name in the graph).")),
                             ("node_type", ArgumentSchema.string("The node's type (default: its label).")),
                             ("properties", ArgumentSchema.object("Other fields of the node."))]) { args, session in
            let name = try args.name("collection")
            var fixed: [(String, Value)] = [("label", .text(try args.string("label")))]
            if let type = try args.optionalString("node_type") { fixed.append(("node_type", .text(type))) }
            let rid = try await insert(into: name, kind: "NODE", fixed: fixed, fields: try args.object("properties") ?? [], session: session)
            return created(name, rid, "node")
        },
        MCPTool("reddb_insert_edge", "Insert a graph edge between two node ids. Returns {ok, collection, rid, kind}.",
                required: ["collection", "label", "from", "to"],
                properties: [("collection", ArgumentSchema.string("The graph collection.")),
                             ("label", ArgumentSchema.string("The edge's label.")),
                             ("from", ArgumentSchema.integer("The source node's id.")),
                             ("to", ArgumentSchema.integer("The target node's id.")),
                             ("weight", ArgumentSchema.number("The edge's weight (default 1).")),
                             ("properties", ArgumentSchema.object("Other fields of the edge."))]) { args, session in
            let name = try args.name("collection")
            let fixed: [(String, Value)] = [("label", .text(try args.string("label"))), ("from", .integer(try args.integer("from"))),
                                            ("to", .integer(try args.integer("to"))), ("weight", .float(try args.number("weight", default: 1) ?? 1))]
            let rid = try await insert(into: name, kind: "EDGE", fixed: fixed, fields: try args.object("properties") ?? [], session: session)
            return created(name, rid, "edge")
        },
        MCPTool("reddb_update", """
            Set fields of the items matching where_filter (an RQL condition such as "status = 'open' AND id > 3"; \
            every item when absent). Returns {ok, affected_rows}.
            """, required: ["collection", "set"],
            properties: [("collection", ArgumentSchema.string("The collection.")),
                         ("set", ArgumentSchema.object("{field: new value}.")),
                         ("where_filter", ArgumentSchema.string("Which items: an RQL boolean expression."))]) { args, session in
            let name = try args.name("collection")
            guard let fields = try args.object("set"), !fields.isEmpty else {
                throw RedError(.invalidArgument, "argument 'set' must be an object with at least one field")
            }
            var parameters: [Value] = []
            let assignments = fields.map { field, value -> String in
                parameters.append(Value(json: value))
                return "\(Session.identifier(field)) = $\(parameters.count)"
            }
            var sql = "UPDATE \(Session.identifier(name)) SET \(assignments.joined(separator: ", "))"
            if let filter = try args.optionalString("where_filter") {
                try Parser.checkSearchFilter(filter)
                // Closed on a line of its own, so a trailing `--` comment cannot swallow the parenthesis.
                sql += " WHERE (\(filter)\n)"
            }
            let result = try await session.execute(sql, parameters: parameters)
            return .object([("ok", .bool(true)), ("affected_rows", .integer(Int64(result.rowsAffected)))])
        },
        MCPTool("reddb_delete", "Delete the item with this rid. Returns {deleted, id}.", required: ["collection", "id"],
                properties: [("collection", ArgumentSchema.string("The collection.")),
                             ("id", ArgumentSchema.integer("The item's rid."))]) { args, session in
            let name = try args.name("collection")
            let id = try args.integer("id")
            let result = try await session.execute("DELETE FROM \(Session.identifier(name)) WHERE rid = $1", parameters: [.integer(id)])
            return .object([("deleted", .bool(result.rowsAffected == 1)), ("id", .integer(id))])
        },
    ]

    /// `INSERT INTO name [kind] (fixed…, fields…) VALUES ($1 …) RETURNING rid`.
    private static func insert(into name: String, kind: String, fixed: [(String, Value)], fields: [(String, JSONValue)],
                               session: Session) async throws -> Int64 {
        let reserved = Set(fixed.map(\.0))
        if let clash = fields.first(where: { reserved.contains($0.0) }) {
            throw RedError(.invalidArgument, "'\(clash.0)' is given as an argument of its own, not as a property")
        }
        let columns = fixed.map(\.0) + fields.map { Session.identifier($0.0) }
        let values = fixed.map(\.1) + fields.map { Value(json: $0.1) }
        let placeholders = values.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
        let sql = "INSERT INTO \(Session.identifier(name)) \(kind) (\(columns.joined(separator: ", "))) VALUES (\(placeholders)) RETURNING rid"
        return try rid(of: try await session.execute(sql, parameters: values))
    }

    private static func rid(of result: QueryResult) throws -> Int64 {
        guard case .integer(let rid)? = result.rows.first?.first else { throw RedError(.internalError, "the insert returned no rid") }
        return rid
    }

    private static func created(_ collection: String, _ rid: Int64, _ kind: String) -> JSONValue {
        .object([("ok", .bool(true)), ("collection", .string(collection)), ("rid", .integer(rid)), ("kind", .string(kind))])
    }
}
