import RedCore
import RedDB

/// Key-value reads and writes, and the two searches: by vector and by words.
enum KeyValueAndSearchTools {
    static let all: [MCPTool] = [
        MCPTool("reddb_kv_get", "Read a key. Returns {found: true, key, value, kind} or {found: false, key}.", readOnly: true,
                required: ["collection", "key"],
                properties: [("collection", ArgumentSchema.string("The KV collection.")), ("key", ArgumentSchema.string("The key."))]) { args, session in
            let name = try args.name("collection")
            let key = try args.string("key")
            let result = try await session.execute("KV GET \(Session.identifier(name)).\(Session.literal(key))")
            guard let value = result.rows.first?[1], !value.isNull else { return .object([("found", .bool(false)), ("key", .string(key))]) }
            return .object([("found", .bool(true)), ("key", .string(key)), ("value", value.jsonValue), ("kind", .string("kv"))])
        },
        MCPTool("reddb_kv_set", "Write a key (the collection is created if missing), optionally expiring. Returns {ok, key, created, kind}.",
                required: ["collection", "key", "value"],
                properties: [("collection", ArgumentSchema.string("The KV collection.")), ("key", ArgumentSchema.string("The key.")),
                             ("value", ArgumentSchema.anyValue("Any JSON value.")),
                             ("ttl_ms", ArgumentSchema.integer("Expire after this many milliseconds."))]) { args, session in
            let name = try args.name("collection")
            let key = try args.string("key")
            let value = try args.required("value")
            var sql = "KV PUT \(Session.identifier(name)).\(Session.literal(key)) = $1"
            if args["ttl_ms"] != nil { sql += " EXPIRE \(try args.integer("ttl_ms", in: 1...Int64.max)) ms" }
            let result = try await session.execute(sql, parameters: [Value(json: value)])
            let created = result.rows.first.map { $0.count > 3 && $0[3] == .boolean(true) } ?? false
            return .object([("ok", .bool(true)), ("key", .string(key)), ("created", .bool(created)), ("kind", .string("kv"))])
        },
        MCPTool("reddb_search_vector", """
            The k items of a vector collection most similar to a vector, best first, with score at least \
            min_score. Returns {count, results: [{rid, kind, score, distance, content, metadata}]}.
            """, readOnly: true, required: ["collection", "vector"],
            properties: [("collection", ArgumentSchema.string("The vector collection.")),
                         ("vector", ArgumentSchema.array(of: "number", "The query vector.")),
                         ("k", ArgumentSchema.integer("How many results, 1 to 10000 (default 10).")),
                         ("min_score", ArgumentSchema.number("Lowest score kept (default 0)."))]) { args, session in
            let name = try args.name("collection")
            let vector = try args.vector("vector")
            let k = try args.integer("k", default: 10, in: 1...10_000)
            let minScore = try args.number("min_score", default: 0) ?? 0
            let (sql, parameters) = try VectorSearchRequest.statement(
                collection: name, .object([("vector", .array(vector.map { .float(Double($0)) })), ("k", .integer(k))]))
            let hits = try await session.execute(sql, parameters: parameters).records.compactMap { hit -> JSONValue? in
                guard let score = hit["score"]?.number, score >= minScore else { return nil }
                return .object([("rid", hit["entity_id"] ?? .null), ("kind", .string("vector")), ("score", .float(score)),
                                ("distance", hit["distance"] ?? .null), ("content", hit["content"] ?? .null), ("metadata", hit["metadata"] ?? .null)])
            }
            return .object([("count", .integer(Int64(hits.count))), ("results", .array(hits))])
        },
        MCPTool("reddb_search_text", """
            Items of any model ranked by their words (BM25), best first. Returns \
            {count, results: [{rid, collection, kind, score}]}.
            """, readOnly: true, required: ["query"],
            properties: [("query", ArgumentSchema.string("The words to look for.")),
                         ("collections", ArgumentSchema.array(of: "string", "Only these collections (default: all).")),
                         ("limit", ArgumentSchema.integer("How many results (default 10).")),
                         ("fuzzy", ArgumentSchema.boolean("Also match words one edit away (default false)."))]) { args, session in
            var body: [(String, JSONValue)] = [("query", .string(try args.string("query")))]
            for key in ["collections", "limit", "fuzzy"] { if let v = args[key] { body.append((key, v)) } }
            let (sql, parameters) = try TextSearchRequest.statement(.object(body))
            let hits = try await session.execute(sql, parameters: parameters).records.map { hit -> JSONValue in
                .object([("rid", hit["entity_id"] ?? .null), ("collection", hit["collection"] ?? .null), ("kind", hit["kind"] ?? .null),
                         ("score", hit["score"] ?? .null)])
            }
            return .object([("count", .integer(Int64(hits.count))), ("results", .array(hits))])
        },
    ]
}
