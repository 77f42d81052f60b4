import RedCore
import RedQuery

/// A vector search as a JSON request, as HTTP's `POST /collections/{c}/similar`, gRPC's
/// `Similar` and RedWire's `VectorSearch` take it, turned into one `VECTOR SEARCH` statement.
///
/// ```json
/// {"vector": [0.1, 0.2, 0.3], "k": 10, "metric": "cosine", "threshold": 0.5,
///  "filter": "category = 'news' AND tags CONTAINS 'ai'", "include_vectors": false}
/// ```
/// `vector` (or `dense`/`embedding`) may be replaced by `"reference": {"collection": c,
/// "id": n}`, a stored vector. `limit` is accepted for `k`; `metric`, `threshold`,
/// `filter` and `include_vectors` are optional. The filter is RQL (`VECTOR SEARCH`'s
/// WHERE), checked on its own first, so a request can never carry a second statement.
public enum VectorSearchRequest {
    /// Longest collection name a request may give, in UTF-8 bytes.
    static let maxNameBytes = 255

    static func checkName(_ name: String) throws {
        guard !name.isEmpty, name.utf8.count <= maxNameBytes else {
            throw RedError(.invalidArgument, "a collection name must have 1 to \(maxNameBytes) bytes")
        }
    }

    /// The `VECTOR SEARCH` statement of a search request, and its parameters: the vector, the
    /// reference id, the threshold and k travel as parameters; the filter, checked, as text.
    public static func statement(collection name: String, _ body: JSONValue) throws -> (sql: String, parameters: [Value]) {
        guard case .object = body else { throw RedError(.invalidArgument, "a vector search must be a JSON object") }
        try checkName(name)
        var parameters: [Value] = []
        func parameter(_ value: Value) -> String {
            parameters.append(value)
            return "$\(parameters.count)"
        }
        var sql = "VECTOR SEARCH \(Session.identifier(name)) SIMILAR TO "
        if let vector = body["vector"] ?? body["dense"] ?? body["embedding"] {
            sql += parameter(.json(vector))
        } else if case .object? = body["reference"] {
            guard case .string(let collection)? = body["reference"]?["collection"], case .integer(let id)? = body["reference"]?["id"] else {
                throw RedError(.invalidArgument, "reference must be {\"collection\": name, \"id\": n}")
            }
            try checkName(collection)
            sql += "(\(Session.identifier(collection)), \(parameter(.integer(id))))"
        } else {
            throw RedError(.invalidArgument, "a vector search needs vector (an array of numbers) or reference ({\"collection\", \"id\"})")
        }
        if let filter = body["filter"] {
            guard case .string(let text) = filter else { throw RedError(.invalidArgument, "filter must be an RQL expression in a string") }
            try Parser.checkSearchFilter(text)
            // In parentheses, closed on a line of its own: a trailing `--` comment in the filter
            // ends at that newline instead of swallowing the clauses after it.
            sql += " WHERE (\(text)\n)"
        }
        if let metric = body["metric"] {
            guard case .string(let word) = metric, let m = VectorMetric(word: word) else {
                throw RedError(.invalidArgument, "metric must be cosine, l2 or inner_product")
            }
            sql += " METRIC \(m.rawValue)"
        }
        if let threshold = body["threshold"] {
            guard let t = Value(json: threshold).doubleValue else { throw RedError(.invalidArgument, "threshold must be a number") }
            sql += " THRESHOLD \(parameter(.float(t)))"
        }
        if let k = body["k"] ?? body["limit"] {
            guard case .integer(let n) = k else { throw RedError(.invalidArgument, "k must be an integer") }
            sql += " LIMIT \(parameter(.integer(n)))"
        }
        switch body["include_vectors"] {
        case nil, .bool(false)?: break
        case .bool(true)?: sql += " INCLUDE VECTORS"
        default: throw RedError(.invalidArgument, "include_vectors must be true or false")
        }
        return (sql, parameters)
    }

}
