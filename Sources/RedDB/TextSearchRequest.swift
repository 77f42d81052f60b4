import RedCore

/// A text search as a JSON request, as HTTP's `POST /text/search` and `/search` and gRPC's
/// `TextSearch` and `Search` take it, turned into one `SEARCH TEXT` statement:
/// `{"query": "words", "collections"?: ["a", "b"] (or "collection": "a"), "limit"?: 10,
/// "fuzzy"?: false}`. The words travel as a parameter and the names are quoted.
public enum TextSearchRequest {
    /// `multimodal`: `SEARCH MULTIMODAL` (HTTP `/multimodal/search`, gRPC `MultimodalSearch`), no `fuzzy`.
    public static func statement(_ body: JSONValue, multimodal: Bool = false) throws -> (sql: String, parameters: [Value]) {
        guard case .object = body else { throw RedError(.invalidArgument, "a search request must be a JSON object") }
        guard case .string(let query)? = body["query"] else { throw RedError(.invalidArgument, "a search needs query: the words to look for") }
        var sql = multimodal ? "SEARCH MULTIMODAL $1" : "SEARCH TEXT $1"
        var names: [JSONValue] = []
        switch (body["collections"], body["collection"]) {
        case (.array(let list)?, nil): names = list
        case (nil, let one?): names = [one]
        case (nil, nil): break
        default: throw RedError(.invalidArgument, "collections must be an array of names (or collection one name)")
        }
        for name in names {
            guard case .string(let n) = name, !n.isEmpty, n.utf8.count <= 255 else { throw RedError(.invalidArgument, "a collection name must be a non-empty string") }
            sql += " COLLECTION \(Session.identifier(n))"
        }
        if let limit = body["limit"] {
            guard case .integer(let n) = limit, n >= 0 else { throw RedError(.invalidArgument, "limit must be a non-negative integer") }
            sql += " LIMIT \(n)"
        }
        switch body["fuzzy"] {
        case nil, .bool(false)?: break
        case .bool(true)?: sql += " FUZZY"
        default: throw RedError(.invalidArgument, "fuzzy must be true or false")
        }
        return (sql, [.text(query)])
    }

    /// `{"collection", "vector"?: [numbers], "query"?: "words", "limit"?: 10}` → `SEARCH HYBRID`
    /// (HTTP `POST /hybrid/search`, gRPC `HybridSearch`); at least one of vector and query.
    public static func hybridStatement(_ body: JSONValue) throws -> (sql: String, parameters: [Value]) {
        guard case .object = body else { throw RedError(.invalidArgument, "a search request must be a JSON object") }
        guard case .string(let collection)? = body["collection"], !collection.isEmpty, collection.utf8.count <= 255 else {
            throw RedError(.invalidArgument, "a hybrid search needs collection: a vector collection's name")
        }
        var sql = "SEARCH HYBRID"
        var parameters: [Value] = []
        if let vector = body["vector"] {
            parameters.append(.json(vector))
            sql += " SIMILAR $\(parameters.count)"
        }
        if let query = body["query"] {
            guard case .string(let text) = query else { throw RedError(.invalidArgument, "query must be a string") }
            parameters.append(.text(text))
            sql += " TEXT $\(parameters.count)"
        }
        guard !parameters.isEmpty else { throw RedError(.invalidArgument, "a hybrid search needs vector, query or both") }
        sql += " COLLECTION \(Session.identifier(collection))"
        if let limit = body["limit"] ?? body["k"] {
            guard case .integer(let n) = limit, n >= 0 else { throw RedError(.invalidArgument, "limit must be a non-negative integer") }
            sql += " LIMIT \(n)"
        }
        return (sql, parameters)
    }

    /// `{"query", "field"?, "collection"?, "limit"?: 25, "depth"?: 1}` → `SEARCH CONTEXT` (HTTP
    /// `POST /context`, gRPC `ContextSearch`).
    public static func contextStatement(_ body: JSONValue) throws -> (sql: String, parameters: [Value]) {
        guard case .object = body else { throw RedError(.invalidArgument, "a context search must be a JSON object") }
        guard case .string(let query)? = body["query"] else { throw RedError(.invalidArgument, "a context search needs query: the value to look for") }
        var sql = "SEARCH CONTEXT $1"
        if let field = body["field"] {
            guard case .string(let f) = field, !f.isEmpty, f.utf8.count <= 255 else { throw RedError(.invalidArgument, "field must be a non-empty string") }
            sql += " FIELD \(Session.identifier(f))"
        }
        if let collection = body["collection"] {
            guard case .string(let c) = collection, !c.isEmpty, c.utf8.count <= 255 else { throw RedError(.invalidArgument, "collection must be a non-empty string") }
            sql += " COLLECTION \(Session.identifier(c))"
        }
        for (name, clause) in [("limit", "LIMIT"), ("depth", "DEPTH")] {
            guard let v = body[name] else { continue }
            guard case .integer(let n) = v, n >= 0 else { throw RedError(.invalidArgument, "\(name) must be a non-negative integer") }
            sql += " \(clause) \(n)"
        }
        return (sql, [.text(query)])
    }
}
